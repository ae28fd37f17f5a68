"""The current user's agenda and their team's week as the "My agenda" screens and the
``/api/v1/my/agenda`` API show them (plain dicts, ready for JSON and templates)."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

from flask import current_app

from portal.engines import agenda, workflow
from portal.engines.access import Principal
from portal.runtime import request_principal, runtime
from portal.web.i18n import current_locale, humanize
from portal.web.my_work_data import record_url
from portal.web.workflow_view import action_labels

VIEWS: tuple[str, ...] = ("day", "week", "month")


class BadRequest(ValueError):
    """A query parameter is wrong: ``field`` names it, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Period:
    """The days an agenda page shows: ``view`` around ``anchor``, from ``start`` to ``end``."""

    view: str
    anchor: dt.date
    start: dt.date
    end: dt.date

    @property
    def previous(self) -> dt.date:
        """The anchor of the period before."""
        if self.view == "month":
            return (self.start - dt.timedelta(days=1)).replace(day=1)
        return self.start - dt.timedelta(days=1 if self.view == "day" else 7)

    @property
    def next(self) -> dt.date:
        """The anchor of the period after."""
        return self.end + dt.timedelta(days=1)

    @property
    def days(self) -> list[dt.date]:
        """Every day of the period."""
        return [self.start + dt.timedelta(days=n) for n in range((self.end - self.start).days
                                                                 + 1)]


def parse_day(text: Optional[str], field: str, default: dt.date) -> dt.date:
    """A ``YYYY-MM-DD`` query parameter (``default`` when absent)."""
    if not text:
        return default
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadRequest(field, f"{field} must be a date like 2026-05-01, not '{text}'") \
            from None


def period(view: Optional[str], day: Optional[str], today: dt.date) -> Period:
    """The period a request asks for: ``view`` (day, week or month; default week) around the
    date ``day`` (default today)."""
    view = view or "week"
    if view not in VIEWS:
        raise BadRequest("view", f"view must be one of {', '.join(VIEWS)}, not '{view}'")
    anchor = parse_day(day, "date", today)
    if view == "day":
        return Period(view, anchor, anchor, anchor)
    if view == "week":
        start = agenda.monday_of(anchor)
        return Period(view, anchor, start, start + dt.timedelta(days=6))
    last = calendar.monthrange(anchor.year, anchor.month)[1]
    return Period(view, anchor, anchor.replace(day=1), anchor.replace(day=last))


def _session() -> Any:
    return current_app.appbuilder.session


def _principal() -> Principal:
    principal = request_principal()
    assert principal is not None  # a view or API method behind @has_access / @protect
    return principal


def _labels() -> dict[str, str]:
    locale = current_locale()
    return {spec.entity: spec.label.get(locale, humanize(spec.entity))
            for spec in agenda.agendas(runtime().registry)}


def _rows(items: list[agenda.AgendaItem], with_actions: bool) -> list[dict[str, Any]]:
    """Items as dicts, with a link when the reader may open the record, and (``with_actions``)
    the workflow actions the reader may take on undone ones."""
    session, models, labels = _session(), runtime().models.classes, _labels()
    principal = _principal()
    readable: dict[str, set[int]] = {}
    for entity in {i.entity for i in items}:
        readable[entity] = agenda.readable_ids(session, models[entity],
                                               {i.record_id for i in items if i.entity == entity})
    rows = []
    for item in items:
        may_open = item.record_id in readable[item.entity]
        actions: list[dict[str, Any]] = []
        if with_actions and may_open and not item.done:
            record = session.get(models[item.entity], item.record_id)
            if record is not None:
                actions = action_labels(workflow.available_actions(session, record, principal))
        rows.append({
            "entity": item.entity, "entity_label": labels.get(item.entity, item.entity),
            "id": item.record_id, "title": item.title, "due": item.due.isoformat(),
            "day": item.day.isoformat(),
            "time": item.due.strftime("%H:%M") if isinstance(item.due, dt.datetime) else None,
            "owner_id": item.owner_id, "done": item.done, "overdue": item.overdue,
            "url": record_url(item.entity, item.record_id) if may_open else None,
            "actions": actions,
        })
    return rows


def _counts(items: Iterable[agenda.AgendaItem]) -> dict[str, int]:
    listed = list(items)
    return {"planned": len(listed), "done": sum(i.done for i in listed),
            "overdue": sum(i.overdue for i in listed)}


def my_agenda(view: Optional[str], day: Optional[str], now: Optional[dt.datetime] = None
              ) -> dict[str, Any]:
    """The current user's agenda for a period: its items, every overdue plan of theirs, and
    counts. Raises :class:`BadRequest` for a bad ``view`` or ``date``."""
    now = now or dt.datetime.now()
    wanted = period(view, day, now.date())
    rt = runtime()
    items, overdue = agenda.my_items(_session(), rt.registry, rt.models.classes, _principal(),
                                     wanted.start, wanted.end, now)
    return {
        "view": wanted.view, "date": wanted.anchor.isoformat(),
        "start": wanted.start.isoformat(), "end": wanted.end.isoformat(),
        "previous": wanted.previous.isoformat(), "next": wanted.next.isoformat(),
        "today": now.date().isoformat(),
        "counts": {**_counts(items), "overdue_all": len(overdue)},
        "items": _rows(items, with_actions=wanted.view != "month"),
        "overdue": _rows(overdue, with_actions=True),
        "days": [d.isoformat() for d in wanted.days],
    }


def has_team() -> bool:
    """Whether the current user has a team view (see ``portal.engines.agenda.sees_team``)."""
    return agenda.sees_team(_session(), runtime().registry, _principal())


def team_week(week: Optional[str], now: Optional[dt.datetime] = None) -> dict[str, Any]:
    """Planned vs done per person per day for the week of ``week`` (a date; default this
    week), and each person's overdue plans now."""
    now = now or dt.datetime.now()
    start = parse_day(week, "week", now.date())
    rt = runtime()
    found = agenda.team_week(_session(), rt.registry, rt.models.classes, _principal(), start,
                             now)
    return {
        "start": found.start.isoformat(),
        "previous": (found.start - dt.timedelta(days=7)).isoformat(),
        "next": (found.start + dt.timedelta(days=7)).isoformat(),
        "days": [d.isoformat() for d in found.days],
        "reps": [{
            "user_id": rep.user_id, "name": rep.name, "planned": rep.planned,
            "done": rep.done, "overdue_now": rep.overdue_now,
            "days": [{"date": day.isoformat(), "planned": c.planned, "done": c.done,
                      "overdue": c.overdue} for day, c in zip(found.days, rep.days,
                                                              strict=True)],
        } for rep in found.reps],
    }
