"""Records related to one record through link paths: counted, totalled, listed and dated,
as the viewer may read them.

Serves the 360 page (``overview`` feature) and the activity timeline (``timeline`` feature)
of any entity; what is related comes from the compiled definitions
(``portal.spec.link_paths``), never from names in code.

Every statement is Core run on the session's connection, so the read scope is added here
with ``scoping.read_criteria``: to the related entity whose records are counted or listed,
and to each linked record a listed column shows (an unreadable one reads as empty). A path
becomes nested ``IN`` subqueries along its link columns (indexed foreign keys), one
statement per tab or source, whatever the depth; rows are one statement more, with one outer
join per link or user column, never a query per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from portal.engines.access import Principal, effective_access
from portal.engines.scoping import read_criteria
from portal.spec.link_paths import LinkPath
from portal.spec.model import EntitySpec, Registry
from portal.system_models import PortalUser


@dataclass(frozen=True)
class Linked:
    """A linked record as a column shows it: its id and title (None: not readable)."""

    id: int
    title: Optional[str]


@dataclass(frozen=True)
class RelatedRow:
    """One related record: its id and the values of the requested columns (links as
    :class:`Linked`, users as their display name)."""

    id: int
    values: Mapping[str, Any]


def readable_paths(registry: Registry, entity: str, paths: Sequence[LinkPath],
                   principal: Optional[Principal]) -> tuple[LinkPath, ...]:
    """The ``paths`` through which ``principal`` may see related records of ``entity``:
    none when they may not read the entity; else those whose link fields are all visible to
    them (membership through a hidden link would tell its value)."""
    if principal is None:
        return tuple(paths)
    if effective_access(registry.entity(entity), principal).read is None:
        return ()
    return tuple(path for path in paths if not any(
        hop.field in effective_access(registry.entity(hop.entity), principal).hidden
        for hop in path.hops))


def visible_fields(registry: Registry, entity: str, names: Sequence[str],
                   principal: Optional[Principal]) -> tuple[str, ...]:
    """``names`` without the fields of ``entity`` hidden from ``principal``."""
    if principal is None:
        return tuple(names)
    hidden = effective_access(registry.entity(entity), principal).hidden
    return tuple(n for n in names if n not in hidden)


def related_clause(classes: Mapping[str, type], root: Any, paths: Sequence[LinkPath],
                   record_id: int) -> Any:
    """The WHERE clause keeping the records of ``root`` (a class or alias of the paths'
    first entity) related to record ``record_id`` through any of ``paths``."""
    clauses = []
    for path in paths:
        inner: Any = None
        # From the end: the last link holds the record's id; each earlier link points into
        # the records the next hop keeps.
        for hop in reversed(path.hops[1:]):
            step = aliased(classes[hop.entity])
            link = getattr(step, f"{hop.field}_id")
            inner = select(step.id).where(link == record_id if inner is None
                                          else link.in_(inner))
        first = getattr(root, f"{path.hops[0].field}_id")
        clauses.append(first == record_id if inner is None else first.in_(inner))
    return clauses[0] if len(clauses) == 1 else or_(*clauses)


def _scoped(stmt: Any, cls: Any, entity: EntitySpec, principal: Optional[Principal]) -> Any:
    criteria = read_criteria(cls, entity, principal)
    return stmt if criteria is None else stmt.where(criteria)


def count_related(conn: Connection, registry: Registry, classes: Mapping[str, type],
                  entity: str, paths: Sequence[LinkPath], record_id: int,
                  principal: Optional[Principal], total: Optional[str] = None
                  ) -> tuple[int, Optional[Decimal]]:
    """(how many, the sum of ``total``) of the related records ``principal`` may read, in
    one statement. The sum is exact (Decimal) and 0 when nothing is related."""
    cls = aliased(classes[entity])
    columns = [func.count(cls.id)]
    if total is not None:
        columns.append(func.sum(getattr(cls, total)))
    stmt = select(*columns).where(related_clause(classes, cls, paths, record_id))
    row = conn.execute(_scoped(stmt, cls, registry.entity(entity), principal)).one()
    summed = None
    if total is not None:
        summed = Decimal(row[1]) if row[1] is not None else Decimal(0)
    return int(row[0]), summed


def list_related(conn: Connection, registry: Registry, classes: Mapping[str, type],
                 entity: str, paths: Sequence[LinkPath], record_id: int,
                 principal: Optional[Principal], columns: Sequence[str], limit: int,
                 offset: int = 0, order: Optional[tuple[str, bool]] = None
                 ) -> list[RelatedRow]:
    """A page of the related records ``principal`` may read with the values of ``columns``
    (fields or system columns), ordered by ``order`` (column, descending) or the newest
    first."""
    spec = registry.entity(entity)
    cls = aliased(classes[entity])
    selected: list[Any] = [cls.id]
    readers: list[tuple[str, Any]] = []  # (column, how to read its value from a row)
    stmt_joins: list[tuple[Any, Any]] = []
    for name in columns:
        f = spec.fields.get(name)
        start = len(selected)
        if f is not None and f.type == "link":
            target = registry.entity(f.target)
            other = aliased(classes[f.target])
            on = getattr(cls, f"{name}_id") == other.id
            limit_other = read_criteria(other, target, principal)
            stmt_joins.append((other, on if limit_other is None else on & limit_other))
            title = getattr(other, target.title) if target.title in target.fields and \
                target.fields[target.title].is_column and \
                target.fields[target.title].type not in {"link", "user", "file"} else None
            selected += [getattr(cls, f"{name}_id"), other.id,
                         title if title is not None else other.id]
            readers.append((name, _linked(start, title is not None)))
        elif f is not None and f.type == "user":
            user = aliased(PortalUser)
            stmt_joins.append((user, getattr(cls, f"{name}_id") == user.id))
            selected += [user.username, user.first_name, user.last_name]
            readers.append((name, _user(start)))
        else:
            selected.append(getattr(cls, name))
            readers.append((name, _plain(start)))
    stmt = select(*selected).select_from(cls)
    for other, on in stmt_joins:
        stmt = stmt.outerjoin(other, on)
    stmt = _scoped(stmt.where(related_clause(classes, cls, paths, record_id)), cls, spec,
                   principal)
    column, descending = order or ("id", True)
    key = getattr(cls, column)
    stmt = stmt.order_by(key.desc() if descending else key.asc(), cls.id.desc())
    rows = conn.execute(stmt.limit(limit).offset(offset)).all()
    return [RelatedRow(row[0], {name: read(row) for name, read in readers}) for row in rows]


def _plain(i: int) -> Any:
    return lambda row: row[i]


def _linked(i: int, titled: bool) -> Any:
    def read(row: Sequence[Any]) -> Optional[Linked]:
        if row[i] is None:
            return None
        visible = row[i + 1] is not None
        title = (str(row[i + 2]) if titled and row[i + 2] not in (None, "")
                 else f"#{row[i]}") if visible else None
        return Linked(row[i], title)
    return read


def _user(i: int) -> Any:
    def read(row: Sequence[Any]) -> Optional[str]:
        if row[i] is None:
            return None
        full = f"{row[i + 1] or ''} {row[i + 2] or ''}".strip()
        return full or row[i]
    return read


@dataclass(frozen=True)
class Activity:
    """One dated related record on a timeline."""

    entity: str
    id: int
    date: Any
    title: Any
    text: Any

    @property
    def sort_key(self) -> dt.datetime:
        """Dates and datetimes on one scale (a date counts as its midnight)."""
        value = self.date
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=None)
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day)
        return dt.datetime.min


def timeline(conn: Connection, registry: Registry, classes: Mapping[str, type],
             sources: Sequence[Any], record_id: int, principal: Optional[Principal],
             limit: int) -> list[Activity]:
    """The ``limit`` newest activities of the record over ``sources`` (timeline sources:
    entity, paths, date, title, text) that ``principal`` may read: one statement per source,
    then merged by date (records without a date last)."""
    found: list[Activity] = []
    for source in sources:
        paths = readable_paths(registry, source.entity, source.paths, principal)
        if not paths:
            continue
        shown = visible_fields(registry, source.entity,
                               [n for n in (source.date, source.title, source.text) if n],
                               principal)
        if source.date not in shown:
            continue  # undated for this reader: nothing to place on the line
        spec = registry.entity(source.entity)
        cls = aliased(classes[source.entity])
        date = getattr(cls, source.date)
        picked = [getattr(cls, n) if n and n in shown else None
                  for n in (source.title, source.text)]
        stmt = select(cls.id, date, *[c for c in picked if c is not None]) \
            .where(related_clause(classes, cls, paths, record_id))
        stmt = _scoped(stmt, cls, spec, principal).order_by(date.desc().nulls_last(),
                                                           cls.id.desc()).limit(limit)
        for row in conn.execute(stmt).all():
            values = iter(row[2:])
            title, text = (next(values) if c is not None else None for c in picked)
            found.append(Activity(source.entity, row[0], row[1], title, text))
    found.sort(key=lambda a: (a.sort_key, a.id), reverse=True)
    return found[:limit]
