"""Agendas: the dated plans of every entity with an ``agenda:`` (``portal.spec.agenda``),
merged per person, with what is done and what is overdue.

Who sees whose plans is the agenda's own rule, on the agenda's owner field: everyone sees
their own plans, a manager those of their team (direct reports and the members of the
departments they head), and a role reading ``all`` of an entity everyone's plans of that
entity. An entity is left out for a person whose role cannot read it at all, or to whom its
date or owner field is hidden; a hidden title field shows as the entity label and number.
Whether the person may open a record is the read scope's business (:func:`readable_ids`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Optional, Union

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal.engines.access import Principal, effective_access
from portal.engines.scoping import UNSCOPED
from portal.spec.agenda import AgendaSpec
from portal.spec.expressions import ExpressionError, evaluate
from portal.spec.model import EntitySpec, Registry
from portal.system_models import Department, PortalUser

Due = Union[dt.date, dt.datetime]
#: The most records one agenda query returns per entity (a month of a large team).
LIMIT = 5000


@dataclass(frozen=True)
class AgendaItem:
    """One plan as agendas show it. ``due`` is a date or a datetime (``has_time``)."""

    entity: str
    record_id: int
    title: str
    due: Due
    owner_id: Optional[int]
    done: bool
    overdue: bool

    @property
    def day(self) -> dt.date:
        """The day the plan is due."""
        return self.due.date() if isinstance(self.due, dt.datetime) else self.due

    @property
    def has_time(self) -> bool:
        """True when the plan is due at a time of day (a datetime field)."""
        return isinstance(self.due, dt.datetime)


def agendas(registry: Registry) -> list[AgendaSpec]:
    """Every entity's agenda, by entity name."""
    return [spec for _, spec in sorted(registry.features.get("agenda", {}).items())]


def due_at(value: Due) -> dt.datetime:
    """When a plan is due: its datetime, or the start of its day."""
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time.min)


def overdue_at(value: Due) -> dt.datetime:
    """From when an undone plan is overdue: its datetime, or the end of its day."""
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value + dt.timedelta(days=1), dt.time.min)


def _stored(entity: EntitySpec, name: str) -> str:
    """The attribute holding field ``name``: the id column for users, links and files."""
    found = entity.fields.get(name)
    if (found is not None and found.type in {"link", "user", "file"}) or \
            name in ("created_by", "updated_by"):
        return f"{name}_id"
    return name


def is_done(spec: AgendaSpec, entity: EntitySpec, record: Any, today: dt.date) -> bool:
    """Whether the agenda's ``done`` condition holds for ``record`` (a condition that cannot
    be evaluated on it, e.g. text compared with a number, counts as not done)."""
    values = {n: getattr(record, _stored(entity, n), None) for n in spec.done.names}
    try:
        return evaluate(spec.done, values, today)
    except ExpressionError:
        return False


def owner_of(spec: AgendaSpec, entity: EntitySpec, record: Any) -> Optional[int]:
    """The user whose agenda ``record`` is in."""
    return getattr(record, _stored(entity, spec.owner), None)


def title_of(spec: AgendaSpec, record: Any, hidden: Collection[str] = ()) -> str:
    """What the agenda calls ``record``: its title field, or the agenda's ``title``; the
    label and number when that field is hidden from the reader."""
    entity: EntitySpec = type(record).__entity__
    field = spec.title or entity.title
    if field is not None and field in hidden:
        return f"{spec.label.get('en', entity.name)} #{record.id}"
    if spec.title is not None:
        value = getattr(record, spec.title, None)
        return str(value) if value not in (None, "") else f"#{record.id}"
    return str(record)


def item_of(spec: AgendaSpec, record: Any, now: dt.datetime,
            hidden: Collection[str] = ()) -> Optional[AgendaItem]:
    """``record`` as an agenda item (None when it has no due date)."""
    entity: EntitySpec = type(record).__entity__
    due = getattr(record, spec.date, None)
    if due is None:
        return None
    done = is_done(spec, entity, record, now.date())
    return AgendaItem(entity=entity.name, record_id=record.id,
                      title=title_of(spec, record, hidden), due=due,
                      owner_id=owner_of(spec, entity, record), done=done,
                      overdue=not done and overdue_at(due) <= now)


def _bound(spec: AgendaSpec, day: dt.date) -> Due:
    """The start of ``day`` as the date column compares it."""
    return dt.datetime.combine(day, dt.time.min) if spec.date_type == "datetime" else day


def records(session: Session, spec: AgendaSpec, model: type,
            owners: Optional[Collection[int]], start: Optional[dt.date],
            end: Optional[dt.date], limit: Optional[int] = LIMIT) -> list[Any]:
    """The records of ``spec``'s entity due from day ``start`` to day ``end`` (inclusive; None:
    unbounded) in the agendas of ``owners`` (None: everyone's), earliest first, at most
    ``limit`` of them.

    Read without the request's read scope: the agenda's rule on its owner field decides whose
    plans are listed (see the module docstring); callers pass the owners a person may see.
    """
    entity: EntitySpec = model.__entity__
    column = getattr(model, spec.date)
    query = select(model).where(column.is_not(None))
    if owners is not None:
        owner_column = getattr(model, _stored(entity, spec.owner))
        query = query.where(owner_column.in_(sorted(owners)))
    if start is not None:
        query = query.where(column >= _bound(spec, start))
    if end is not None:
        query = query.where(column < _bound(spec, end + dt.timedelta(days=1)))
    query = query.order_by(column, model.id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query.execution_options(**{UNSCOPED: True})))


# -- who sees what ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Visible:
    """One agenda as one reader may see it: the fields hidden from them, and whether they
    see everyone's plans in it (their role reads ``all`` of the entity)."""

    spec: AgendaSpec
    hidden: frozenset[str]
    everyone: bool


def visible_agendas(registry: Registry, principal: Principal) -> list[Visible]:
    """The agendas ``principal`` may see plans of: their role reads the entity, and neither
    its date nor its owner field is hidden from them."""
    found = []
    for spec in agendas(registry):
        access = effective_access(registry.entity(spec.entity), principal)
        if access.read is None or spec.date in access.hidden or spec.owner in access.hidden:
            continue
        found.append(Visible(spec, access.hidden, access.read == "all"))
    return found


def team_of(session: Session, user_id: int) -> list[int]:
    """The active users whose plans a manager sees: their direct reports and the members of
    the departments they head (not themselves)."""
    headed = select(Department.id).where(Department.head_id == user_id)
    query = select(PortalUser.id).where(
        PortalUser.active.is_(True), PortalUser.id != user_id,
        or_(PortalUser.manager_id == user_id, PortalUser.department_id.in_(headed)))
    return list(session.scalars(query.order_by(PortalUser.id)))


def user_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """``{user id: display name}`` (first and last name, else the user name)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(select(PortalUser.id, PortalUser.first_name, PortalUser.last_name,
                                  PortalUser.username).where(PortalUser.id.in_(wanted)))
    return {pk: (f"{first or ''} {last or ''}".strip() or username)
            for pk, first, last, username in rows}


def collect(session: Session, models: Mapping[str, type], visible: Iterable[Visible],
            owners: Optional[Collection[int]], start: Optional[dt.date],
            end: Optional[dt.date], now: dt.datetime, limit: Optional[int] = LIMIT
            ) -> list[AgendaItem]:
    """The items of the ``visible`` agendas due from ``start`` to ``end`` in the agendas of
    ``owners``; None means everyone's, and then only agendas the reader sees ``everyone``
    in are read. Sorted by due moment, then entity and id; at most ``limit`` per entity
    (None: all, as the overdue lists need: their plans may be years old)."""
    items: list[AgendaItem] = []
    for v in visible:
        if owners is None and not v.everyone:
            continue
        for record in records(session, v.spec, models[v.spec.entity], owners, start, end,
                              limit):
            item = item_of(v.spec, record, now, v.hidden)
            if item is not None:
                items.append(item)
    items.sort(key=lambda i: (due_at(i.due), i.entity, i.record_id))
    return items


def my_items(session: Session, registry: Registry, models: Mapping[str, type],
             principal: Principal, start: dt.date, end: dt.date, now: dt.datetime
             ) -> tuple[list[AgendaItem], list[AgendaItem]]:
    """``principal``'s own plans due from ``start`` to ``end``, and every plan of theirs that
    is overdue now (whatever its date)."""
    if principal.user_id is None:
        return [], []
    visible = visible_agendas(registry, principal)
    mine = {principal.user_id}
    period = collect(session, models, visible, mine, start, end, now)
    overdue = [i for i in collect(session, models, visible, mine, None, now.date(), now, None)
               if i.overdue]
    return period, overdue


# -- the team's planned vs done ---------------------------------------------------------------

@dataclass(frozen=True)
class DayCount:
    """One person's plans due on one day: how many, how many done, how many overdue."""

    planned: int = 0
    done: int = 0
    overdue: int = 0


@dataclass(frozen=True)
class RepWeek:
    """One person's week: counts per day, and every plan of theirs overdue now."""

    user_id: int
    name: str
    days: tuple[DayCount, ...]
    overdue_now: int

    @property
    def planned(self) -> int:
        """Plans due in the week."""
        return sum(d.planned for d in self.days)

    @property
    def done(self) -> int:
        """Plans due in the week that are done."""
        return sum(d.done for d in self.days)


@dataclass(frozen=True)
class TeamWeek:
    """Planned vs done per person per day for the week starting ``start`` (a Monday)."""

    start: dt.date
    days: tuple[dt.date, ...]
    reps: tuple[RepWeek, ...]


def monday_of(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week."""
    return day - dt.timedelta(days=day.weekday())


def sees_team(session: Session, registry: Registry, principal: Principal) -> bool:
    """Whether ``principal`` has a team view: they manage someone, or read everyone's plans
    of some agenda."""
    if principal.user_id is None:
        return False
    visible = visible_agendas(registry, principal)
    return bool(visible) and (any(v.everyone for v in visible) or
                              bool(team_of(session, principal.user_id)))


def team_week(session: Session, registry: Registry, models: Mapping[str, type],
              principal: Principal, start: dt.date, now: dt.datetime) -> TeamWeek:
    """The week from ``start`` (moved back to its Monday) for everyone whose plans
    ``principal`` sees besides their own: their team in every agenda they read, and anyone
    with plans in the agendas they read ``all`` of."""
    start = monday_of(start)
    days = tuple(start + dt.timedelta(days=n) for n in range(7))
    if principal.user_id is None:
        return TeamWeek(start, days, ())
    visible = visible_agendas(registry, principal)
    team = set(team_of(session, principal.user_id))
    limited = [v for v in visible if not v.everyone]
    wide = [v for v in visible if v.everyone]
    week = collect(session, models, limited, team, days[0], days[-1], now) + \
        collect(session, models, wide, None, days[0], days[-1], now)
    late = [i for i in collect(session, models, limited, team, None, now.date(), now, None) +
            collect(session, models, wide, None, None, now.date(), now, None) if i.overdue]
    people = (team | {i.owner_id for i in week + late if i.owner_id is not None}) - \
        {principal.user_id}
    names = user_names(session, people)
    reps = []
    for user_id in sorted(people, key=lambda u: (names.get(u, "").lower(), u)):
        counts = []
        for day in days:
            due = [i for i in week if i.owner_id == user_id and i.day == day]
            counts.append(DayCount(len(due), sum(i.done for i in due),
                                   sum(i.overdue for i in due)))
        reps.append(RepWeek(user_id, names.get(user_id, f"#{user_id}"), tuple(counts),
                            sum(1 for i in late if i.owner_id == user_id)))
    return TeamWeek(start, days, tuple(reps))


def readable_ids(session: Session, model: type, ids: Collection[int]) -> set[int]:
    """Which of ``ids`` the current reader may open: loaded through the ORM, so the read scope
    of the request applies (``portal.engines.scoping``)."""
    if not ids:
        return set()
    return set(session.scalars(select(model.id).where(model.id.in_(sorted(ids)))))
