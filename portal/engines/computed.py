"""Computed fields (``computed:`` in an entity's YAML, :mod:`portal.spec.computed`) kept up to
date whatever writes the rows they read: forms, the REST API, workflow effects, board moves,
imports.

One listener per app, on the app's session factory (:func:`install_computed`):

- after each flush, the rows written become the records to recompute: a new record of an
  entity with computed fields; a record whose own formulas read a changed field; and, walking
  each :class:`~portal.spec.computed_reads.Read` backwards, every record whose formulas read
  the changed row (a receipt's contract, before and after the receipt was re-linked);
- before each commit (:func:`recompute_pending`) those records are recomputed, entity by
  entity in dependency order, written and flushed, which may mark more records (a chain
  receipt -> instalment -> contract -> customer), until nothing is left.

Target rows are locked (``SELECT ... FOR NO KEY UPDATE`` on PostgreSQL, which does not wait
for rows merely referring to them) before their values are computed, so two workers adding
receipts to one contract at once both count. Bulk writers
that bypass the ORM call :func:`recompute_rows`; the ``recompute`` tick job calls
:func:`recompute_all` (formulas reading ``today`` change without a write). Values are stored
as their field stores them (:func:`stored_value`: money quantized to cents, text cut to the
column); a formula that cannot be evaluated (a division by zero) stores an empty value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from graphlib import CycleError, TopologicalSorter
from types import MappingProxyType
from typing import Any, Optional

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, selectinload

from portal.engines.expression_values import value_of
from portal.engines.scoping import UNSCOPED
from portal.spec.computed import KEY, ComputedSpec
from portal.spec.computed_reads import Hop, Read
from portal.spec.expression_refs import related_rows
from portal.spec.expressions import ExpressionError
from portal.spec.model import DEFAULT_TEXT_LENGTHS, EntitySpec, FieldSpec, Registry

#: ``session.info`` key of the session's pending work (:class:`_Pending`).
INFO_KEY = "portal_computed"
#: Records loaded, and ids put in one ``IN (...)``, at a time.
CHUNK = 500
#: Recompute passes allowed per entity with computed fields before giving up (cycles are
#: refused when the YAML is compiled, so reaching it is a portal bug).
MAX_PASSES_PER_ENTITY = 50
#: Field types stored as the id of another row (``<name>_id``).
_BY_ID = frozenset({"link", "user", "file"})
_LOAD = {UNSCOPED: True, "populate_existing": True}


class ComputedUnsettled(RuntimeError):
    """Computed fields kept changing each other (a portal bug: cycles are refused)."""


@dataclass(frozen=True)
class Watch:
    """Rows of ``read.entity`` that the computed fields of ``target`` read."""

    target: str
    read: Read


@dataclass(frozen=True)
class ComputedIndex:
    """What an app's computed fields read, arranged for the session hooks."""

    specs: Mapping[str, ComputedSpec]
    entities: Mapping[str, EntitySpec]
    models: Mapping[str, type]
    #: Entity -> what reads its rows.
    watches: Mapping[str, tuple[Watch, ...]]
    #: Entity -> the fields whose change matters (read by a watch, or computed).
    watched: Mapping[str, frozenset[str]]
    #: Entity -> attribute of a watched field (``customer_id`` and ``customer``) -> field.
    watched_keys: Mapping[str, Mapping[str, str]]
    #: Entity -> (aggregate key, entity of its rows, their link field), per computed entity.
    aggregates: Mapping[str, tuple[tuple[str, str, str], ...]]
    #: Entities with computed fields, each after those whose computed fields it reads.
    order: tuple[str, ...]
    #: Entity -> the link paths its formulas follow (``customer.region``), as hops.
    paths: Mapping[str, tuple[tuple[Hop, ...], ...]]


def build_index(registry: Registry, models: Mapping[str, type]) -> Optional[ComputedIndex]:
    """The index of ``registry``'s computed fields (None when there are none)."""
    specs: Mapping[str, ComputedSpec] = registry.features.get(KEY, {})
    if not specs:
        return None
    watches: dict[str, list[Watch]] = {}
    aggregates: dict[str, dict[str, tuple[str, str, str]]] = {}
    paths: dict[str, set[tuple[Hop, ...]]] = {}
    after: dict[str, set[str]] = {name: set() for name in specs}
    for name, spec in specs.items():
        entity = registry.entity(name)
        for read in _merged(r for one in spec.fields.values() for r in one.reads):
            fields = read.fields - set(spec.fields) if read.is_own else read.fields
            if fields:  # own computed fields settle in one pass, in the spec's order
                watches.setdefault(read.entity, []).append(Watch(name, Read(
                    read.entity, fields, read.back, read.hops)))
            if read.back is None and read.hops:
                paths.setdefault(name, set()).add(read.hops)
            if read.entity != name and read.entity in specs and \
                    read.fields & set(specs[read.entity].fields):
                after[name].add(read.entity)
        for one in spec.fields.values():
            for aggregate in one.expression.aggregates:
                rows = related_rows(entity, aggregate, registry.entities)
                if rows is not None:
                    aggregates.setdefault(name, {})[aggregate.key] = (
                        aggregate.key, rows.entity, rows.link)
    watched = {name: frozenset().union(*(w.read.fields for w in found))
               for name, found in watches.items()}
    for name, spec in specs.items():
        watched[name] = watched.get(name, frozenset()) | frozenset(spec.fields)
    try:
        order = tuple(TopologicalSorter(after).static_order())
    except CycleError:  # entity-level only (fields do not cycle): passes settle it
        order = tuple(sorted(specs))
    return ComputedIndex(
        specs=specs, entities=registry.entities, models=models,
        watches=MappingProxyType({k: tuple(v) for k, v in watches.items()}),
        watched=MappingProxyType(watched),
        watched_keys=MappingProxyType({
            name: MappingProxyType({key: field for field in fields
                                    for key in _attr_keys(registry.entity(name), field)})
            for name, fields in watched.items()}),
        aggregates=MappingProxyType({k: tuple(v.values()) for k, v in aggregates.items()}),
        order=order,
        paths=MappingProxyType({k: tuple(sorted(v)) for k, v in paths.items()}))


def _merged(reads: Iterable[Read]) -> list[Read]:
    found: dict[tuple[Any, ...], set[str]] = {}
    for read in reads:
        found.setdefault((read.entity, read.back, read.hops), set()).update(read.fields)
    return [Read(entity, frozenset(fields), back, hops)
            for (entity, back, hops), fields in found.items()]


class _Pending:
    """One session's records waiting to be recomputed (kept in ``session.info``)."""

    def __init__(self, index: ComputedIndex) -> None:
        self.index = index
        self.targets: dict[str, set[int]] = {}
        #: Rows whose readers are found by queries (link paths), after the flush wrote them.
        self.deferred: list[tuple[Watch, set[int]]] = []
        #: True while recomputing: writing a computed field is then not a manual change.
        self.computing = False

    def add(self, entity: str, ids: Iterable[Any]) -> None:
        found = {i for i in ids if i is not None}
        if found:
            self.targets.setdefault(entity, set()).update(found)


def _pending(session: Session, index: ComputedIndex) -> _Pending:
    pending = session.info.get(INFO_KEY)
    if pending is None:
        pending = session.info[INFO_KEY] = _Pending(index)
    return pending


# -- the session hooks --------------------------------------------------------------------------

def install_computed(session_factory: Any, registry: Registry, models: Mapping[str, type]
                     ) -> None:
    """Keep ``registry``'s computed fields up to date on ``session_factory``'s sessions (the
    app's own session; nothing is installed when no entity has computed fields)."""
    index = build_index(registry, models)
    if index is None:
        return

    def after_flush(session: Session, flush: Any) -> None:
        pending = _pending(session, index)
        for obj in session.new:
            _written(pending, obj, "new", frozenset())
        for obj in session.dirty:
            changed = _changed_fields(index, obj)
            if changed:
                _written(pending, obj, "dirty", changed)
        deleted = set(session.deleted)
        # Children removed from their parent's list are deleted by the flush itself.
        deleted.update(state.obj() for state, (is_delete, list_only)
                       in getattr(flush, "states", {}).items()
                       if is_delete and not list_only and state.obj() is not None)
        for obj in deleted:
            _written(pending, obj, "deleted", frozenset())

    def before_commit(session: Session) -> None:
        recompute_pending(session)

    def after_transaction_end(session: Session, transaction: Any) -> None:
        if transaction.parent is None:
            session.info.pop(INFO_KEY, None)

    event.listen(session_factory, "after_flush", after_flush)
    event.listen(session_factory, "before_commit", before_commit)
    event.listen(session_factory, "after_transaction_end", after_transaction_end)


def _written(pending: _Pending, obj: Any, kind: str, changed: frozenset[str]) -> None:
    """Mark what must be recomputed because ``obj`` was inserted, changed or deleted."""
    entity: Optional[EntitySpec] = getattr(type(obj), "__entity__", None)
    if entity is None:
        return
    index = pending.index
    spec = index.specs.get(entity.name)
    if spec is not None and (kind == "new" or (
            kind == "dirty" and not pending.computing and changed & set(spec.fields))):
        pending.add(entity.name, [obj.id])  # new, or a computed value set by hand
    for watch in index.watches.get(entity.name, ()):
        read = watch.read
        if kind == "dirty" and not changed & read.fields:
            continue
        if read.is_own:
            if kind != "deleted":
                pending.add(watch.target, [obj.id])
        elif not read.hops:
            assert read.back is not None
            pending.add(watch.target, _link_values(obj, read.back[1]))
        elif kind != "deleted":
            pending.deferred.append((watch, {obj.id}))


def _attr_keys(entity: EntitySpec, name: str) -> tuple[str, ...]:
    f = entity.fields.get(name)
    if f is not None and f.type in _BY_ID:
        return (f"{name}_id", name)
    if name in ("created_by", "updated_by"):
        return (f"{name}_id",)
    return (name,)


def _changed_fields(index: ComputedIndex, obj: Any) -> frozenset[str]:
    """The fields of ``obj`` that matter to computed fields and changed in this flush."""
    entity: Optional[EntitySpec] = getattr(type(obj), "__entity__", None)
    keys = index.watched_keys.get(entity.name) if entity is not None else None
    if not keys:
        return frozenset()
    # The attributes set since the last flush (recomputing sets only values that differ; a
    # value set back to itself by hand costs a needless recompute, nothing more).
    return frozenset(keys[key] for key in inspect(obj).committed_state if key in keys)


def _link_values(obj: Any, link: str) -> set[Any]:
    """The ids the link field ``link`` of ``obj`` held in this flush: before and after."""
    state = inspect(obj)
    key = f"{link}_id"
    found = {state.dict.get(key)}
    if key in state.attrs:
        found.update(state.attrs[key].history.sum())
    if link in state.attrs:
        found.update(inspect(o).dict.get("id") for o in state.attrs[link].history.sum()
                     if o is not None)
    return found


# -- recomputing --------------------------------------------------------------------------------

def recompute_pending(session: Session, today: Optional[dt.date] = None) -> int:
    """Flush ``session`` and recompute every record its changes affect, until nothing is
    left; how many records changed. Runs by itself before each commit; call it where fresh
    values are needed earlier."""
    pending = session.info.get(INFO_KEY)
    if pending is None:
        session.flush()  # a commit flushes after its before_commit hooks: flush first
        pending = session.info.get(INFO_KEY)
    if pending is None or pending.computing:
        return 0
    with _computing(pending):
        return _settle(session, pending, today)


@contextmanager
def _computing(pending: _Pending) -> Iterator[None]:
    pending.computing = True
    try:
        yield
    finally:
        pending.computing = False


def _settle(session: Session, pending: _Pending, today: Optional[dt.date]) -> int:
    index = pending.index
    changed = 0
    budget = MAX_PASSES_PER_ENTITY * max(1, len(index.order))
    while True:
        session.flush()
        for watch, ids in pending.deferred:
            pending.add(watch.target, _readers(session, index, watch.read, ids))
        pending.deferred.clear()
        entity = next((name for name in index.order if pending.targets.get(name)), None)
        if entity is None:
            return changed
        budget -= 1
        if budget < 0:
            raise ComputedUnsettled(f"computed fields of '{entity}' keep changing; they "
                                    "should have settled (a cycle the compiler missed)")
        changed += _recompute(session, index, entity, pending.targets.pop(entity), today)


def _readers(session: Session, index: ComputedIndex, read: Read, ids: Collection[Any]
             ) -> set[Any]:
    """The records whose ``read`` reaches the rows ``ids`` of ``read.entity`` (now)."""
    found = set(ids)
    for entity, link in reversed(read.hops):
        model = index.models[entity]
        found = _column_where(session, model.id, getattr(model, f"{link}_id"), found)
    if read.back is not None:
        model = index.models[read.back[0]]
        found = _column_where(session, getattr(model, f"{read.back[1]}_id"), model.id, found)
    return found


def _column_where(session: Session, column: Any, key: Any, values: Collection[Any]
                  ) -> set[Any]:
    found: set[Any] = set()
    for chunk in _chunks(sorted(values)):
        found.update(session.scalars(select(column).where(key.in_(chunk))
                                     .execution_options(**{UNSCOPED: True})))
    found.discard(None)
    return found


def _chunks(ids: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _recompute(session: Session, index: ComputedIndex, entity: str, ids: Collection[int],
               today: Optional[dt.date]) -> int:
    """Recompute the computed fields of the records ``ids`` of ``entity`` (locked first);
    how many changed."""
    spec = index.specs[entity]
    model = index.models[entity]
    fields = index.entities[entity].fields
    changed = 0
    for chunk in _chunks(sorted(ids)):
        items = [item for item in session.scalars(
            select(model).where(model.id.in_(chunk)).order_by(model.id)
            .options(*_path_loads(index, entity)).with_for_update(key_share=True)
            .execution_options(**_LOAD)) if item not in session.deleted]
        related = _related(session, index, entity, chunk)
        # The chunk reads what is stored (flushed) and its own rows: no flush per lazy load.
        with session.no_autoflush:
            for item in items:
                rows = {key: by_id.get(item.id, ()) for key, by_id in related.items()}
                if _apply(session, spec, fields, item, rows, today):
                    changed += 1
        session.flush()  # before the next chunk's rows are read back from the database
    return changed


def _path_loads(index: ComputedIndex, entity: str) -> list[Any]:
    """Loader options fetching the records the formulas' link paths reach, for a whole
    chunk at once (not one lazy load per record)."""
    options = []
    for hops in index.paths.get(entity, ()):
        option: Any = None
        for holder, link in hops:
            attr = getattr(index.models[holder], link)
            option = selectinload(attr) if option is None else option.selectinload(attr)
        options.append(option)
    return options


def _related(session: Session, index: ComputedIndex, entity: str, chunk: list[int]
             ) -> dict[str, dict[int, list[Any]]]:
    """The rows of every aggregate of ``entity``'s formulas for the records ``chunk``:
    aggregate key -> record id -> rows (one query per kind of related row)."""
    by_source: dict[tuple[str, str], list[str]] = {}
    for key, source, link in index.aggregates.get(entity, ()):
        by_source.setdefault((source, link), []).append(key)
    found: dict[str, dict[int, list[Any]]] = {}
    for (source, link), keys in by_source.items():
        model = index.models[source]
        column = f"{link}_id"
        grouped: dict[int, list[Any]] = {}
        for row in session.scalars(select(model).where(getattr(model, column).in_(chunk))
                                   .order_by(model.id).execution_options(**_LOAD)):
            if row not in session.deleted:
                grouped.setdefault(getattr(row, column), []).append(row)
        for key in keys:
            found[key] = grouped
    return found


def _apply(session: Session, spec: ComputedSpec, fields: Mapping[str, FieldSpec], item: Any,
           related: Mapping[str, Any], today: Optional[dt.date]) -> bool:
    """Set ``item``'s computed fields, in the spec's order; whether any changed."""
    changed = False
    for one in spec.fields.values():
        try:
            value = value_of(session, item, one.expression, today, related)
        except ExpressionError:
            value = None
        value = stored_value(fields[one.name], value)
        if getattr(item, one.name) != value:
            setattr(item, one.name, value)
            changed = True
    return changed


def stored_value(f: FieldSpec, value: Any) -> Any:
    """``value`` as field ``f`` stores it: an exact decimal rounded half up to the field's
    places, an int, a text cut to the column's length, an enum value (else empty), a date;
    None when it does not fit at all."""
    if value is None:
        return None
    try:
        if f.type in ("int", "decimal", "money"):
            return _number(f, value)
        if f.type == "bool":
            return bool(value)
        if f.type in ("date", "datetime"):
            return _moment(f, value)
        text = value if isinstance(value, str) else str(value)
        if f.type == "enum":
            return text if text in f.values else None
        limit = None if f.type == "text" else \
            f.max_length or f.length or DEFAULT_TEXT_LENGTHS.get(f.type)
        return text[:limit] if limit else text
    except (ArithmeticError, ValueError, TypeError):
        return None


def _number(f: FieldSpec, value: Any) -> Any:
    if isinstance(value, (bool, str, dt.date)):
        return None
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    scale = 0 if f.type == "int" else 2 if f.type == "money" else f.scale
    digits = 18 if f.type in ("int", "money") else f.digits
    try:
        number = number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return None
    if abs(number) >= Decimal(10) ** (digits - scale):
        return None  # does not fit the column
    return int(number) if f.type == "int" else number


def _moment(f: FieldSpec, value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date() if f.type == "date" else value
    if isinstance(value, dt.date):
        return value if f.type == "date" else dt.datetime.combine(value, dt.time())
    return None


# -- writers that bypass the ORM, and the tick job ----------------------------------------------

def recompute_rows(session: Session, registry: Registry, models: Mapping[str, type],
                   written: Mapping[str, Collection[int]],
                   old_links: Mapping[str, Mapping[str, Collection[int]]] = MappingProxyType({}),
                   ) -> int:
    """After rows were written without the ORM (a bulk import): recompute, now, every record
    they can affect. ``written``: entity -> ids inserted or updated; ``old_links``: entity ->
    link field -> the ids its updated rows pointed at before. How many records changed."""
    index = _index(session, registry, models)
    if index is None:
        return 0
    pending = _pending(session, index)
    for entity, ids in written.items():
        found = set(ids)
        if not found:
            continue
        if entity in index.specs:
            pending.add(entity, found)
        for watch in index.watches.get(entity, ()):
            if watch.read.is_own:
                pending.add(watch.target, found)
                continue
            pending.deferred.append((watch, found))
            if watch.read.back is not None and not watch.read.hops:
                pending.add(watch.target, old_links.get(entity, {}).get(watch.read.back[1], ()))
    return recompute_pending(session)


def recompute_all(session: Session, registry: Registry, models: Mapping[str, type],
                  today: Optional[dt.date] = None) -> int:
    """Recompute every computed field of every record (on ``today``); how many records
    changed."""
    index = _index(session, registry, models)
    if index is None:
        return 0
    pending = _pending(session, index)
    changed = 0
    with _computing(pending):
        session.flush()
        for entity in index.order:
            model = index.models[entity]
            pending.targets.pop(entity, None)  # all of them, now
            ids = list(session.scalars(select(model.id).execution_options(**{UNSCOPED: True})))
            changed += _recompute(session, index, entity, ids, today)
            session.flush()
        changed += _settle(session, pending, today)
    return changed


def _index(session: Session, registry: Registry, models: Mapping[str, type]
           ) -> Optional[ComputedIndex]:
    pending = session.info.get(INFO_KEY)
    return pending.index if pending is not None else build_index(registry, models)
