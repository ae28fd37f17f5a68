"""The jobs ``portal tick`` runs (see :mod:`portal.engines.ticks`): one line per job."""

from __future__ import annotations

from portal.engines.agenda_reminders import send_reminders
from portal.engines.ticks import TickContext, TickJob


def _agenda_reminders(ctx: TickContext) -> str:
    return str(send_reminders(ctx.session, ctx.registry, ctx.models, ctx.now))


#: Every periodic job, in the order they run. Add a job here.
TICK_JOBS: tuple[TickJob, ...] = (
    TickJob("agenda_reminders", "Remind owners of agenda plans due soon or overdue.",
            _agenda_reminders),
)
