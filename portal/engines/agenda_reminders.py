"""Agenda reminders in the owner's inbox (and by email when SMTP is configured), sent by the
``agenda_reminders`` tick job.

An agenda with ``remind: {before: 1 day}`` reminds the owner of an undone plan from one day
before it is due until it is overdue; with ``overdue`` (the default) it reminds once more when
an undone plan is overdue. Each reminder is sent once per record, kind and due date: its row
in ``portal_agenda_reminder`` is inserted first (``INSERT ... ON CONFLICT DO NOTHING``), and
only the transaction whose insert lands writes the notification. Two ticks at once on
PostgreSQL therefore send one reminder (the second insert waits for the first transaction and
then does nothing); a plan moved to another date is due again, under its new date.

A plan found more than :data:`CATCH_UP` after its reminder was due (the tick did not run, or
the plan was entered late) gets no reminder: old news in the inbox helps nobody, and the
query stays bounded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from portal.engines.agenda import (
    agendas,
    due_at,
    is_done,
    overdue_at,
    owner_of,
    records,
    title_of,
)
from portal.spec.agenda import AgendaSpec
from portal.spec.model import EntitySpec, Registry
from portal.system_models import NEW_NOTIFICATIONS, AgendaReminder, Notification, utcnow

#: How late a reminder may still be sent.
CATCH_UP = dt.timedelta(days=7)
BEFORE, OVERDUE = "before", "overdue"


@dataclass(frozen=True)
class ReminderReport:
    """What one run sent: reminders before plans are due, and overdue notices."""

    before: int = 0
    overdue: int = 0

    def __str__(self) -> str:
        return f"{self.before} reminder(s), {self.overdue} overdue notice(s)"


def _claim(session: Session, entity: str, record_id: int, kind: str, due: str,
           user_id: int) -> bool:
    """Insert the reminder's row unless it exists; True when this transaction inserted it
    (and so must send it). Never read-then-write: the unique key decides."""
    dialect = session.get_bind().dialect.name
    values = {"entity": entity, "record_id": record_id, "kind": kind, "due": due,
              "user_id": user_id, "sent_at": utcnow()}
    if dialect == "postgresql":
        statement: Any = postgresql.insert(AgendaReminder).values(**values)
    elif dialect == "sqlite":
        statement = sqlite.insert(AgendaReminder).values(**values)
    else:  # pragma: no cover - the portal runs on SQLite and PostgreSQL
        raise NotImplementedError(f"agenda reminders need SQLite or PostgreSQL, not {dialect}")
    statement = statement.on_conflict_do_nothing(
        index_elements=["entity", "record_id", "kind", "due"]).returning(AgendaReminder.id)
    return session.connection().execute(statement).first() is not None


def _window(spec: AgendaSpec, now: dt.datetime) -> tuple[dt.date, dt.date]:
    """The days whose plans may need a reminder now."""
    ahead = spec.remind_before or dt.timedelta(0)
    return (now - CATCH_UP - dt.timedelta(days=1)).date(), (now + ahead).date()


def _kind_due(spec: AgendaSpec, due: Any, now: dt.datetime) -> Optional[str]:
    """Which reminder an undone plan due at ``due`` needs now, if any."""
    late = overdue_at(due)
    if late <= now:
        return OVERDUE if spec.remind_overdue and now - late <= CATCH_UP else None
    if spec.remind_before is not None:
        starts = due_at(due) - spec.remind_before
        if starts <= now and now - starts <= CATCH_UP:
            return BEFORE
    return None


def _message(spec: AgendaSpec, kind: str, title: str, due: Any) -> str:
    when = due.strftime("%Y-%m-%d %H:%M") if isinstance(due, dt.datetime) else due.isoformat()
    what = spec.label.get("en", spec.entity)
    if kind == OVERDUE:
        return f"Overdue: {what} {title} (due {when})"
    return f"Reminder: {what} {title} is due {when}"


def send_reminders(session: Session, registry: Registry, models: Mapping[str, type],
                   now: dt.datetime) -> ReminderReport:
    """Send every reminder due at ``now`` (local time, as plans' dates are entered) that no
    one has sent yet. Writes in ``session``'s transaction; the caller commits."""
    sent = {BEFORE: 0, OVERDUE: 0}
    for spec in agendas(registry):
        if not spec.reminds:
            continue
        model = models[spec.entity]
        entity: EntitySpec = model.__entity__
        first, last = _window(spec, now)
        for record in records(session, spec, model, None, first, last, None):
            due = getattr(record, spec.date)
            kind = _kind_due(spec, due, now)
            owner = owner_of(spec, entity, record)
            if kind is None or owner is None or is_done(spec, entity, record, now.date()):
                continue
            if not _claim(session, entity.name, record.id, kind, due.isoformat(), owner):
                continue
            title = _message(spec, kind, title_of(spec, record), due)
            pk = session.connection().execute(insert(Notification).returning(Notification.id),
                                              {"user_id": owner, "kind": f"agenda_{kind}",
                                               "title": title[:255], "body": "",
                                               "entity": entity.name, "record_id": record.id,
                                               "at": utcnow()}).scalar_one()
            session.info.setdefault(NEW_NOTIFICATIONS, []).append(pk)
            sent[kind] += 1
    return ReminderReport(sent[BEFORE], sent[OVERDUE])
