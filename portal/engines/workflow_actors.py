"""Who may act on a record in a workflow: actor rules resolved against people and records.

A transition's ``by`` names slots (the owner, a role, the user in a field, the owner's
manager, the head of a user's department, or "an approver of this state"). This module
answers two questions about them, both through the database so that an admin's change to a
manager or a department head takes effect at once:

* :func:`assignees`: the users and roles a slot stands for on one record (the approvers'
  queue rows);
* :func:`matching_slot`: whether a person, or someone they substitute for, fills a slot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.engines.access import Principal
from portal.spec.model import ActorRef, ActorRule, TransitionSpec, WorkflowSpec
from portal.system_models import Delegation, Department, PortalUser


@dataclass(frozen=True)
class Assignee:
    """Who a slot stands for: one user (``user_id``) or the members of a ``role``."""

    user_id: Optional[int] = None
    role: Optional[str] = None


@dataclass(frozen=True)
class Acting:
    """A person able to fill a slot: ``principal`` acts, for ``on_behalf_of`` if a
    substitute (None when acting in their own name)."""

    principal: Principal
    slot: int
    on_behalf_of: Optional[Principal] = None

    @property
    def for_whom(self) -> Principal:
        """The person whose right is used: the delegator for a substitute."""
        return self.on_behalf_of or self.principal


def owner_id(item: Any) -> Optional[int]:
    """The record's owner (the owner field, else the creator)."""
    return getattr(item, type(item).__owner_column__)


def _user_in(item: Any, field: Optional[str]) -> Optional[int]:
    if field in (None, "owner"):
        return owner_id(item)
    return getattr(item, f"{field}_id", None)


@dataclass
class Known:
    """What many checks for one person can share (a queue of many records): whom they
    substitute for today, and the managers and department heads already looked up."""

    standing_in: list[Principal]
    lookups: dict[tuple[str, int], Optional[int]] = field(default_factory=dict)


def assignees(session: Session, ref: ActorRef, item: Any,
              lookups: Optional[dict[tuple[str, int], Optional[int]]] = None
              ) -> list[Assignee]:
    """The users or roles ``ref`` stands for on ``item`` (empty when nobody: no manager set,
    an empty user field). ``approver`` slots are not assigned: they follow the others.
    ``lookups`` remembers managers and heads across calls."""
    if ref.kind == "role":
        return [Assignee(role=ref.value)]
    if ref.kind in ("owner", "user"):
        user = owner_id(item) if ref.kind == "owner" else _user_in(item, ref.value)
        return [Assignee(user_id=user)] if user is not None else []
    subject = _user_in(item, ref.value)
    if subject is None:
        return []
    if lookups is not None and (ref.kind, subject) in lookups:
        user = lookups[(ref.kind, subject)]
        return [Assignee(user_id=user)] if user is not None else []
    if ref.kind == "manager_of":
        found = session.connection().execute(
            select(PortalUser.manager_id).where(PortalUser.id == subject))
    elif ref.kind == "head_of":
        found = session.connection().execute(
            select(Department.head_id).join(PortalUser, PortalUser.department_id ==
                                            Department.id).where(PortalUser.id == subject))
    else:
        return []
    user = found.scalar()
    if lookups is not None:
        lookups[(ref.kind, subject)] = user
    return [Assignee(user_id=user)] if user is not None else []


def fills(session: Session, ref: ActorRef, item: Any, principal: Principal,
          lookups: Optional[dict[tuple[str, int], Optional[int]]] = None) -> bool:
    """Whether ``principal`` (in their own name) fills slot ``ref`` on ``item``."""
    if principal.user_id is None:
        return False
    return any(a.user_id == principal.user_id or (a.role is not None and a.role in
                                                  principal.roles)
               for a in assignees(session, ref, item, lookups))


def approver_refs(workflow: WorkflowSpec, state: str, exclude: str,
                  signed: Collection[ActorRef] = ()) -> list[ActorRef]:
    """The slots of every transition out of ``state`` other than ``exclude`` that names
    someone besides the owner: who ``by: approver`` means there. Slots whose countersign
    part is already ``signed`` in this pass are done and left out."""
    refs: list[ActorRef] = []
    for other in workflow.outgoing(state):
        if other.name == exclude or other.by is None:
            continue
        refs.extend(r for r in other.by.slots
                    if r.kind not in ("approver", "owner") and r not in signed)
    return refs


def slot_refs(workflow: WorkflowSpec, transition: TransitionSpec, state: str,
              signed: Collection[ActorRef] = ()) -> list[list[ActorRef]]:
    """For each slot of ``transition``: the concrete refs that fill it (``approver`` stands
    for the approvers of the other transitions out of ``state`` not yet ``signed``)."""
    rule: ActorRule = transition.by  # type: ignore[assignment]
    return [approver_refs(workflow, state, transition.name, signed) if ref.kind == "approver"
            else [ref] for ref in rule.slots]


def delegators(session: Session, substitute: Principal, on: dt.date) -> list[Principal]:
    """The people ``substitute`` stands in for on day ``on``, with their roles."""
    if substitute.user_id is None:
        return []
    users = session.scalars(
        select(PortalUser).join(Delegation, Delegation.user_id == PortalUser.id).where(
            Delegation.substitute_id == substitute.user_id, Delegation.starts <= on,
            Delegation.ends >= on, PortalUser.active.is_(True))).unique().all()
    return [Principal(u.id, u.username, u.department_id, frozenset(r.name for r in u.roles))
            for u in users]


def who_can_act(session: Session, workflow: WorkflowSpec, transition: TransitionSpec,
                state: str, item: Any, principal: Principal, on: dt.date,
                taken: Iterable[int] = (), signed: Collection[ActorRef] = (),
                known: Optional[Known] = None) -> Optional[Acting]:
    """How ``principal`` may perform ``transition`` on ``item``: in their own name first,
    else for someone they substitute for; None when they may not. Slots in ``taken``
    (already approved this round) are skipped, and so are ``signed`` countersign parts
    where ``approver`` stands for them. ``known``: what the caller already read about
    ``principal`` (whom they substitute for on ``on``)."""
    if transition.by is None:
        return None
    known = known or Known(delegators(session, principal, on))
    candidates = [(principal, None)] + [(d, d) for d in known.standing_in]
    done = set(taken)
    for person, behalf in candidates:
        for slot, refs in enumerate(slot_refs(workflow, transition, state, signed)):
            if slot not in done and any(fills(session, ref, item, person, known.lookups)
                                        for ref in refs):
                return Acting(principal, slot, behalf)
    return None
