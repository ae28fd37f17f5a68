"""Handover: every record one user owns becomes another's, in one audited action (a sales
rep leaves, their customers, contacts and deals go to a colleague).

A record's owner is its entity's owner field (``owner:`` in the YAML, else a user field
called ``owner``, else the creator). Each moved record gets an audit entry (action
``handover``) with the owner before and after, in the same transaction as the move. Approvals
already on their way keep their approvers: the handover changes who owns, not who was asked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.engines.access import Principal
from portal.engines.audit import write_entries
from portal.spec.model import Registry
from portal.system_models import PortalUser, utcnow


class HandoverRefused(ValueError):
    """The handover cannot be made as asked; the message says why."""


@dataclass
class HandoverPlan:
    """How many records of each entity would move (or moved) from one user to another."""

    from_user: str
    to_user: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Records in all."""
        return sum(self.counts.values())


def _user(session: Session, ref: Any, what: str, active: bool) -> PortalUser:
    column = PortalUser.id if isinstance(ref, int) else PortalUser.username
    user = session.scalars(select(PortalUser).where(column == ref)).first()
    if user is None:
        raise HandoverRefused(f"no user '{ref}' ({what})")
    if active and not user.active:
        raise HandoverRefused(f"user '{user.username}' is not active: records cannot go to "
                              "them")
    return user


def owner_columns(registry: Registry, models: Mapping[str, type],
                  entities: Optional[Iterable[str]] = None) -> dict[str, Any]:
    """``{entity: its owner column}`` of the entities asked for (all by default)."""
    wanted = list(entities) if entities is not None else sorted(registry.entities)
    unknown = [e for e in wanted if e not in registry.entities]
    if unknown:
        raise HandoverRefused(f"unknown entit{'ies' if len(unknown) > 1 else 'y'} "
                              f"{', '.join(unknown)}")
    return {e: getattr(models[e], models[e].__owner_column__) for e in wanted}


def plan_handover(session: Session, registry: Registry, models: Mapping[str, type],
                  from_user: Any, to_user: Any,
                  entities: Optional[Iterable[str]] = None) -> HandoverPlan:
    """What a handover would move (nothing is changed)."""
    source, target = _check_people(session, from_user, to_user)
    plan = HandoverPlan(source.username, target.username)
    for entity, column in owner_columns(registry, models, entities).items():
        model = models[entity]
        ids = session.execute(select(model.id).where(column == source.id)).scalars().all()
        if ids:
            plan.counts[entity] = len(ids)
    return plan


def _check_people(session: Session, from_user: Any, to_user: Any
                  ) -> tuple[PortalUser, PortalUser]:
    source = _user(session, from_user, "whose records move", active=False)
    target = _user(session, to_user, "who receives them", active=True)
    if source.id == target.id:
        raise HandoverRefused("the records already belong to that user")
    return source, target


def hand_over(session: Session, registry: Registry, models: Mapping[str, type],
              from_user: Any, to_user: Any, principal: Principal,
              entities: Optional[Iterable[str]] = None) -> HandoverPlan:
    """Move every record ``from_user`` owns (of ``entities``, all by default) to
    ``to_user``, with an audit entry each, on ``session``'s transaction (the caller
    commits)."""
    source, target = _check_people(session, from_user, to_user)
    plan = HandoverPlan(source.username, target.username)
    conn = session.connection()
    now = utcnow()
    for entity, column in owner_columns(registry, models, entities).items():
        table = models[entity].__table__
        spec = registry.entity(entity)
        field_name = spec.owner or "created_by"
        moved = conn.execute(update(table).where(table.c[column.key] == source.id)
                             .values({column.key: target.id, "updated_at": now,
                                      "updated_by_id": principal.user_id})
                             .returning(table.c.id)).scalars().all()
        if not moved:
            continue
        plan.counts[entity] = len(moved)
        changes = json.dumps({field_name: [source.id, target.id]})
        write_entries(conn, [{
            "entity": entity, "record_id": record_id, "action": "handover", "at": now,
            "user_id": principal.user_id, "username": principal.username,
            "changes": changes, "parent_entity": None, "parent_id": None}
            for record_id in moved])
    session.expire_all()  # loaded records still name the old owner
    return plan
