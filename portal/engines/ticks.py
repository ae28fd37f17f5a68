"""Periodic jobs run by ``portal tick``: each does what is due now, once, and returns.

``portal tick`` is meant for cron or a systemd timer (every minute or every few minutes) and
may run on several machines at once: a job must claim its work atomically in the database
(a conditional insert or update), never read, decide, then write. Each job runs in its own
transaction, committed when it returns and rolled back when it raises; one failing job does
not stop the others.

A job is one :class:`TickJob` in :data:`portal.engines.tick_jobs.TICK_JOBS`: a name, one line
for ``portal tick --list`` and a function ``run(context) -> summary``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Optional

from sqlalchemy.orm import Session

from portal.spec.model import Registry
from portal.spec.suggest import suggest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickContext:
    """What a job works with: a session (its transaction is the job's), the compiled
    definitions, the generated classes by entity, and the moment the tick stands for (local
    time, as people enter dates)."""

    session: Session
    registry: Registry
    models: Mapping[str, type]
    now: dt.datetime


@dataclass(frozen=True)
class TickJob:
    """One periodic job: ``run(context)`` does what is due and returns a one-line summary."""

    name: str
    description: str
    run: Callable[[TickContext], str]


@dataclass(frozen=True)
class JobResult:
    """How one job went: its summary, or the error that rolled it back."""

    name: str
    ok: bool
    summary: str

    def __str__(self) -> str:
        return f"{self.name}: {self.summary}" if self.ok else f"{self.name}: failed: " \
                                                              f"{self.summary}"


class UnknownJob(LookupError):
    """``--job`` named no job; the message lists them (with a did-you-mean)."""


def select_jobs(jobs: Sequence[TickJob], names: Optional[Sequence[str]]) -> list[TickJob]:
    """The jobs called ``names`` (every job when None), in the order of ``jobs``."""
    if not names:
        return list(jobs)
    known = {job.name: job for job in jobs}
    for name in names:
        if name not in known:
            hint = suggest(name, known)
            raise UnknownJob(f"unknown tick job '{name}'" +
                             (f"; did you mean '{hint}'?" if hint else "") +
                             f" (jobs: {', '.join(known) or 'none'})")
    return [job for job in jobs if job.name in names]


def run_jobs(jobs: Sequence[TickJob], context: TickContext) -> list[JobResult]:
    """Run ``jobs`` one after the other, each in a transaction of its own."""
    results = []
    for job in jobs:
        try:
            summary = job.run(context)
            context.session.commit()
        except Exception as exc:  # one job's failure must not stop the others
            context.session.rollback()
            log.exception("tick job %s failed", job.name)
            results.append(JobResult(job.name, False, f"{type(exc).__name__}: {exc}"))
        else:
            results.append(JobResult(job.name, True, summary))
    return results
