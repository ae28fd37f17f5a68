"""Approvers' queues across entities: what waits for a person, and what they submitted.

The queue rows (``portal_workflow_task``) say who may act on which record: a user, or the
members of a role. :func:`waiting_for` reads the rows of a person, of their roles and of
everyone they substitute for today, then asks the workflow engine which actions each record
really offers them now (a countersign they already signed, their own record, a condition that
no longer holds: those drop out), so the queue, its count and the record's buttons agree.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from portal.engines.access import Principal
from portal.engines.workflow import Action, available_actions, current_passes, state_of
from portal.engines.workflow_actors import Known, delegators
from portal.spec.model import WorkflowSpec
from portal.system_models import PortalUser, WorkflowStep, WorkflowTask

#: The most records one submissions list shows per entity (newest first).
SUBMISSIONS_PER_ENTITY = 200


@dataclass
class Waiting:
    """A record waiting for the person: the actions they may take on it, since when."""

    entity: str
    record: Any
    actions: list[Action]
    since: dt.datetime


@dataclass
class Submission:
    """A record the person owns that has entered its workflow: its state and who it waits
    for now (user names, and role names as ``role:<name>``)."""

    entity: str
    record: Any
    state: str
    waiting_for: list[str] = field(default_factory=list)
    last_step_at: Optional[dt.datetime] = None


def _task_filter(principal: Principal, standing_in: Iterable[Principal]) -> Any:
    people = [principal, *standing_in]
    users = sorted({p.user_id for p in people if p.user_id is not None})
    roles = sorted({r for p in people for r in p.roles})
    return WorkflowTask.closed_at.is_(None) & or_(WorkflowTask.user_id.in_(users),
                                                  WorkflowTask.role.in_(roles))


def waiting_for(session: Session, models: Mapping[str, type], principal: Principal,
                on: Optional[dt.date] = None) -> list[Waiting]:
    """Every record, of any entity, on which ``principal`` may act now (in their own name
    or as a substitute), the longest-waiting first."""
    if principal.user_id is None:
        return []
    today = on or dt.date.today()
    known = Known(delegators(session, principal, today))
    rows = session.connection().execute(
        select(WorkflowTask.entity, WorkflowTask.record_id, func.min(WorkflowTask.since))
        .where(_task_filter(principal, known.standing_in))
        .group_by(WorkflowTask.entity, WorkflowTask.record_id)).all()
    since: dict[str, dict[int, dt.datetime]] = defaultdict(dict)
    for entity, record_id, first in rows:
        if entity in models:  # an entity removed from the YAML leaves its rows behind
            since[entity][record_id] = first
    found = []
    for entity, ids in since.items():
        model = models[entity]
        passes = current_passes(session, entity, list(ids))
        # Through the ORM: records waiting for the person are readable to them.
        for record in session.scalars(select(model).where(model.id.in_(list(ids)))):
            actions = available_actions(session, record, principal, today, known, passes)
            if actions:
                found.append(Waiting(entity, record, actions, ids[record.id]))
    found.sort(key=lambda w: (w.since, w.entity, w.record.id))
    return found


def submissions(session: Session, models: Mapping[str, type], principal: Principal,
                limit: int = SUBMISSIONS_PER_ENTITY) -> list[Submission]:
    """The records ``principal`` owns that have been through at least one workflow step,
    the most recently moved first, with who each one waits for now."""
    if principal.user_id is None:
        return []
    found: list[Submission] = []
    for entity, model in models.items():
        spec: Optional[WorkflowSpec] = getattr(model, "__workflow__", None)
        if spec is None:
            continue
        last = (select(WorkflowStep.record_id, func.max(WorkflowStep.at).label("at"))
                .where(WorkflowStep.entity == entity).group_by(WorkflowStep.record_id)
                .subquery())
        owner = getattr(model, model.__owner_column__)
        rows = session.execute(
            select(model, last.c.at).join(last, last.c.record_id == model.id)
            .where(owner == principal.user_id).order_by(last.c.at.desc(), model.id.desc())
            .limit(limit)).all()
        if not rows:
            continue
        approvers = _approvers(session, entity, [record.id for record, _ in rows])
        found.extend(Submission(entity, record, state_of(spec, record),
                                approvers.get(record.id, []), at) for record, at in rows)
    found.sort(key=lambda s: (s.last_step_at or dt.datetime.min), reverse=True)
    return found


def _approvers(session: Session, entity: str, ids: list[int]) -> dict[int, list[str]]:
    """Who each record waits for: user names, then ``role:<name>`` for role rows."""
    tasks = session.connection().execute(
        select(WorkflowTask.record_id, WorkflowTask.user_id, WorkflowTask.role)
        .where(WorkflowTask.entity == entity, WorkflowTask.record_id.in_(ids),
               WorkflowTask.closed_at.is_(None))
        .order_by(WorkflowTask.id)).all()
    user_ids = {t.user_id for t in tasks if t.user_id is not None}
    names = dict(session.connection().execute(
        select(PortalUser.id, PortalUser.username).where(PortalUser.id.in_(user_ids)))
        .all()) if user_ids else {}
    out: dict[int, list[str]] = defaultdict(list)
    for t in tasks:
        who = names.get(t.user_id, f"#{t.user_id}") if t.user_id is not None \
            else f"role:{t.role}"
        if who not in out[t.record_id]:
            out[t.record_id].append(who)
    return out
