"""The jobs ``portal tick`` runs (see :mod:`portal.engines.ticks`): one line per job."""

from __future__ import annotations

from portal.engines.agenda_reminders import send_reminders
from portal.engines.computed import recompute_all
from portal.engines.ticks import TickContext, TickJob
from portal.engines.workflow_timers import run_timers


def _agenda_reminders(ctx: TickContext) -> str:
    return str(send_reminders(ctx.session, ctx.registry, ctx.models, ctx.now))


def _workflow_timers(ctx: TickContext) -> str:
    return str(run_timers(ctx.session, ctx.registry, ctx.models, ctx.now))


def _recompute(ctx: TickContext) -> str:
    changed = recompute_all(ctx.session, ctx.registry, ctx.models, ctx.now.date())
    return f"{changed} row(s) changed"


#: Every periodic job, in the order they run. Add a job here.
TICK_JOBS: tuple[TickJob, ...] = (
    TickJob("agenda_reminders", "Remind owners of agenda plans due soon or overdue.",
            _agenda_reminders),
    TickJob("recompute", "Recompute every computed field (formulas reading today change "
            "without a write).", _recompute),
    TickJob("workflow_timers", "Perform the timed workflow transitions that are due "
            "(after: {days: ...}).", _workflow_timers),
)
