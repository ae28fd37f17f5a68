"""Timed transitions: the ``workflow_timers`` tick job moves records that waited long enough.

A transition with ``after: {days: N, since: F}`` fires N full days after the record's
moment ``F``: a date field (due from that date + N days), a datetime field (local time, as
people enter it), ``created_at``/``updated_at`` (stored in UTC), or ``entered``: when the
record entered its current state (its last workflow step, else its creation).

The job finds the due records of every timed transition with one query each, then performs
them one at a time through :func:`portal.engines.workflow.perform_timed`, as the system: the
row is locked and re-read, and the record moves only if it is still in the transition's
state, still due and its ``when`` holds, with the target's required fields, gate and effects
as for any transition. Each record runs in a savepoint: one that is refused (a gate, a
required field, an effect) stays where it is and is counted as refused, without undoing the
others. Two ticks at once on PostgreSQL move a record once: the second waits for the first's
lock, then finds the record moved.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.engines.scoping import UNSCOPED
from portal.engines.workflow import TransitionRefused, perform_timed
from portal.spec.model import SINCE_ENTERED, Registry, TransitionSpec, WorkflowSpec
from portal.system_models import WorkflowStep

log = logging.getLogger(__name__)

#: System columns holding a moment in UTC.
_UTC_COLUMNS = frozenset({"created_at", "updated_at"})
#: How many refusals the one-line summary spells out.
_SHOWN = 3


@dataclass(frozen=True)
class TimerReport:
    """What one run did: records moved, and records due but refused (left where they are),
    each refusal as ``entity id transition: reason``."""

    moved: int = 0
    refusals: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"{self.moved} moved, {len(self.refusals)} refused"
        shown = self.refusals[:_SHOWN]
        more = len(self.refusals) - len(shown)
        return text + (f" ({'; '.join(shown)}{f'; {more} more' if more else ''})"
                       if shown else "")


def run_timers(session: Session, registry: Registry, models: Mapping[str, type],
               now: dt.datetime) -> TimerReport:
    """Perform every timed transition due at ``now`` (local time, without tzinfo). Writes in
    ``session``'s transaction; the caller commits."""
    moved, refusals = 0, []
    for workflow in registry.workflows.values():
        model = models[workflow.entity]
        for transition in workflow.transitions.values():
            if not transition.timed:
                continue
            for record_id in _due_ids(session, model, workflow, transition, now, None):
                done = _perform_one(session, registry, models, model, workflow, transition,
                                    record_id, now)
                if done is True:
                    moved += 1
                elif done is not None:
                    refusals.append(f"{workflow.entity} {record_id} {transition.name}: {done}")
    return TimerReport(moved, tuple(refusals))


def _perform_one(session: Session, registry: Registry, models: Mapping[str, type],
                 model: type, workflow: WorkflowSpec, transition: TransitionSpec,
                 record_id: int, now: dt.datetime) -> bool | str | None:
    """True when the record moved, the reason when refused, None when it was no longer
    due."""
    savepoint = session.begin_nested()
    try:
        item = session.get(model, record_id, execution_options={UNSCOPED: True})
        if item is None:
            savepoint.rollback()
            return None
        outcome = perform_timed(
            session, registry, models, item, transition.name,
            lambda it: bool(_due_ids(session, model, workflow, transition, now, it.id)),
            now.date())
    except TransitionRefused as exc:
        savepoint.rollback()
        log.info("%s %s: timed transition %s refused: %s", workflow.entity, record_id,
                 transition.name, exc)
        return "; ".join(exc.errors.get("_") or [str(exc)])
    savepoint.commit()
    return True if outcome is not None else None


def _due_ids(session: Session, model: type, workflow: WorkflowSpec,
             transition: TransitionSpec, now: dt.datetime, only: int | None) -> list[int]:
    """The ids of ``model``'s records in a state ``transition`` leaves whose wait is over at
    ``now`` (only record ``only`` when given), in id order."""
    assert transition.after is not None
    table = model.__table__
    state = table.c[workflow.state_field]
    in_state = state.in_(transition.sources)
    if workflow.initial in transition.sources:  # a record saved before its flow existed
        in_state = in_state | state.is_(None)
    query = select(table.c.id).where(in_state, _waited(model, workflow, transition, now))
    if only is not None:
        query = query.where(table.c.id == only)
    return list(session.connection().execute(query.order_by(table.c.id)).scalars())


def _waited(model: type, workflow: WorkflowSpec, transition: TransitionSpec,
            now: dt.datetime) -> Any:
    """The condition "the record's moment is at least ``after.days`` before ``now``"."""
    assert transition.after is not None
    table = model.__table__
    days = dt.timedelta(days=transition.after.days)
    since = transition.after.since
    if since == SINCE_ENTERED:
        entered = select(func.max(WorkflowStep.at)).where(
            WorkflowStep.entity == workflow.entity, WorkflowStep.record_id == table.c.id,
            WorkflowStep.kind != "approval").scalar_subquery()
        return func.coalesce(entered, table.c.created_at) <= _utc(now) - days
    if since in _UTC_COLUMNS:
        return table.c[since] <= _utc(now) - days
    field = model.__entity__.fields[since]
    if field.type == "date":
        return table.c[since] <= now.date() - days
    return table.c[since] <= now - days


def _utc(local: dt.datetime) -> dt.datetime:
    """``local`` (naive, the machine's time zone) as naive UTC, as system columns store it."""
    return local.astimezone(dt.UTC).replace(tzinfo=None)
