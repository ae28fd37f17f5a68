"""Running a report (``portal.spec.reports``): one GROUP BY query per series, in the database.

Each series becomes ``SELECT <dimensions>, <aggregates> FROM <entity> [JOIN linked entities]
WHERE <viewer's read scope> AND <where> AND <viewer's filters> GROUP BY <dimensions>``; only
the grouped rows come back to Python, where series are merged on their dimension values,
titles and labels are looked up for the groups, and derived measures (ratios, shares,
conversions) are computed. The viewer's read scope always applies, to the rows and to every
linked record a path goes through; a report that reads a field the viewer does not see is
refused.

Money stays exact: on SQLite exact decimals are stored as integer units, so sums, products
and weights are computed on integers with their number of decimal places tracked here; on
PostgreSQL they are NUMERIC arithmetic. Either way the result is a ``Decimal``.
"""

from __future__ import annotations

import ast
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Optional

from sqlalchemy import (
    BigInteger,
    Integer,
    Numeric,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from portal.engines.access import Principal, effective_access
from portal.engines.scoping import read_criteria
from portal.spec.model import FieldSpec, Registry
from portal.spec.reports import (
    Dimension,
    FieldRef,
    Measure,
    ReportFilter,
    ReportSpec,
    Source,
)
from portal.system_models import PortalUser, WorkflowStep, utcnow

#: Fractions (ratios, shares) are kept to this many places (0.01 %).
FRACTION = Decimal("0.0001")
CENT = Decimal("0.01")
SECONDS_PER_DAY = Decimal(86400)


class ReportRefused(Exception):
    """The viewer may not open this report (a role it is not open to, or a hidden field)."""


class ReportInputError(ValueError):
    """A filter value the report cannot use: ``field`` names the filter."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


@dataclass(frozen=True)
class FilterValue:
    """What the viewer chose for one filter: a value, or a date range (either end open)."""

    value: Any = None
    start: Optional[dt.date] = None
    end: Optional[dt.date] = None


@dataclass
class ReportRow:
    """One group: its dimension values (as stored), their texts, and the measures."""

    keys: tuple[Any, ...]
    labels: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ParetoSummary:
    """The top ``top_percent`` % of rows (``top_rows`` of ``rows``) make ``share`` of the
    measure's total."""

    measure: str
    top_percent: int
    rows: int
    top_rows: int
    share: Optional[Decimal]


@dataclass(frozen=True)
class ReportResult:
    """A run report: its rows in display order, and the Pareto summary where charted."""

    spec: ReportSpec
    rows: list[ReportRow]
    summary: Optional[ParetoSummary] = None


# -- who may open a report ------------------------------------------------------------------------

def may_open(spec: ReportSpec, principal: Principal) -> bool:
    """Whether ``principal`` holds a role the report is open to (admins open every report)."""
    return principal.is_admin or bool(principal.roles & set(spec.access))


def check_access(spec: ReportSpec, registry: Registry, principal: Principal) -> None:
    """Raise :class:`ReportRefused` unless the viewer may open the report and sees every field
    it reads."""
    if not may_open(spec, principal):
        raise ReportRefused(f"the report '{spec.name}' is not open to your roles")
    for source in spec.sources:
        for ref in _refs_of(source, spec.filters):
            holder = source.entity
            for part in ref.path:
                entity = registry.entities[holder]
                if part in effective_access(entity, principal).hidden:
                    raise ReportRefused(f"the report '{spec.name}' reads '{part}' of "
                                        f"'{holder}', which your roles do not see")
                f = entity.fields.get(part)
                if f is None or f.type != "link" or not f.target:
                    break
                holder = f.target


def _refs_of(source: Source, filters: Sequence[ReportFilter]) -> list[FieldRef]:
    refs = [d.ref for d in source.group_by] + list(source.where_refs.values())
    for m in source.measures:
        refs += [r for r in (m.ref, *m.refs.values()) if r is not None]
        if m.weights:
            refs.append(m.weights[0])
    return refs + [f.refs[source.name] for f in filters if source.name in f.refs]


# -- the viewer's filters --------------------------------------------------------------------------

def parse_filters(spec: ReportSpec, args: Mapping[str, str]) -> dict[str, FilterValue]:
    """The filters set in ``args`` (a query string: ``owner=3``, ``close_date_from=2024-01-01``,
    ``close_date_to=...``), converted to the field's type; :class:`ReportInputError` names a
    filter whose value is wrong."""
    chosen: dict[str, FilterValue] = {}
    for flt in spec.filters:
        f = flt.field
        if f.type in ("date", "datetime"):
            start = _date(flt.name, args.get(f"{flt.name}_from", ""))
            end = _date(flt.name, args.get(f"{flt.name}_to", ""))
            if start and end and start > end:
                raise ReportInputError(flt.name, "the range ends before it starts")
            if start or end:
                chosen[flt.name] = FilterValue(start=start, end=end)
            continue
        text = (args.get(flt.name) or "").strip()
        if text:
            chosen[flt.name] = FilterValue(value=_typed(flt.name, f, text))
    return chosen


def _date(name: str, text: str) -> Optional[dt.date]:
    if not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ReportInputError(name, f"'{text}' is not a date (YYYY-MM-DD)") from None


def _typed(name: str, f: FieldSpec, text: str) -> Any:
    if f.type == "enum":
        if text not in f.values:
            raise ReportInputError(name, f"'{text}' is not one of {', '.join(f.values)}")
        return text
    if f.type in ("user", "link", "int"):
        try:
            return int(text)
        except ValueError:
            raise ReportInputError(name, f"'{text}' is not a whole number") from None
    if f.type == "bool":
        if text.lower() not in ("true", "false"):
            raise ReportInputError(name, f"'{text}' is not true or false")
        return text.lower() == "true"
    return text


# -- building the SQL of one series ----------------------------------------------------------------

def stored_column(f: FieldSpec) -> str:
    """The column of a field: foreign keys end in ``_id``."""
    return f"{f.name}_id" if f.type in ("link", "user", "file") else f.name


class _SeriesQuery:
    """The FROM clause, joins and column expressions of one series for one viewer."""

    def __init__(self, conn: Connection, registry: Registry, classes: Mapping[str, type],
                 source: Source, principal: Optional[Principal], now: dt.datetime) -> None:
        self.registry = registry
        self.classes = classes
        self.source = source
        self.principal = principal
        self.sqlite = conn.dialect.name == "sqlite"
        self.model = classes[source.entity]
        self.entity = registry.entity(source.entity)
        self.joins: list[tuple[Any, Any]] = []
        self.aliases: dict[tuple[str, ...], Any] = {}
        self.history = _history(self.model, source, registry, now, self.sqlite) \
            if source.history else None

    # columns ---------------------------------------------------------------------------------
    def column(self, ref: FieldRef) -> Any:
        """The column a field reference reads (joining linked entities as needed)."""
        if self.history is not None and len(ref.path) == 1 and ref.path[0] in self.history.c:
            return self.history.c[ref.path[0]]
        holder: Any = self.model
        for i, part in enumerate(ref.path[:-1]):
            holder = self._join(ref.path[: i + 1], holder, part)
        return getattr(holder, stored_column(ref.field))

    def _join(self, prefix: tuple[str, ...], holder: Any, part: str) -> Any:
        if prefix in self.aliases:
            return self.aliases[prefix]
        entity = holder.__entity__ if hasattr(holder, "__entity__") else self.entity
        target = entity.fields[part].target
        alias = aliased(self.classes[target])
        on = alias.id == getattr(holder, f"{part}_id")
        limit = read_criteria(alias, self.registry.entity(target), self.principal)
        if limit is not None:  # a linked record the viewer may not read shows as empty
            on = and_(on, limit)
        self.aliases[prefix] = alias
        self.joins.append((alias, on))
        return alias

    def numeric(self, ref: FieldRef) -> tuple[Any, int]:
        """A number column as (expression, decimal places of its integer form on SQLite)."""
        col = self.column(ref)
        if ref.field.type in ("decimal", "money") and ref.path[-1] != "days_in_state":
            scale = 2 if ref.field.type == "money" else ref.field.scale
            if self.sqlite:
                return type_coerce(col, BigInteger), scale
            return type_coerce(col, Numeric(asdecimal=True)), 0
        return col, 0

    # statements --------------------------------------------------------------------------------
    def from_clause(self) -> Any:
        base: Any = self.model
        if self.history is not None:
            base = self.history.join(self.model, self.model.id == self.history.c.record_id)
        return base

    def statement(self, columns: list[Any], conditions: list[Any], group: list[Any]) -> Any:
        stmt = select(*columns).select_from(self.from_clause())
        for alias, on in self.joins:
            stmt = stmt.outerjoin(alias, on)
        scope = read_criteria(self.model, self.entity, self.principal)
        if scope is not None:
            stmt = stmt.where(scope)
        for condition in conditions:
            stmt = stmt.where(condition)
        return stmt.group_by(*group) if group else stmt


def _history(model: Any, source: Source, registry: Registry, now: dt.datetime,
             sqlite: bool) -> Any:
    """Each entry of a record into a state, with when it entered and left: the record's
    creation (into the initial state), then every transition out of the workflow log."""
    workflow = registry.workflow_of(source.entity)
    assert workflow is not None  # checked by the compiler
    entries = union_all(
        select(model.id.label("record_id"),
               literal(workflow.initial, String()).label("state"),
               model.created_at.label("entered_at"),
               literal(0, BigInteger()).label("seq")),
        select(WorkflowStep.record_id, WorkflowStep.to_state, WorkflowStep.at,
               WorkflowStep.id)
        .where(WorkflowStep.entity == source.entity, WorkflowStep.workflow == workflow.name,
               WorkflowStep.kind != "approval"),
    ).subquery("entries")
    left = func.lead(entries.c.entered_at).over(partition_by=entries.c.record_id,
                                                order_by=entries.c.seq)
    timed = select(entries.c.record_id, entries.c.state, entries.c.entered_at,
                   left.label("left_at")).subquery("timed")
    until = func.coalesce(timed.c.left_at, literal(now))
    if sqlite:
        seconds = cast(func.round((func.julianday(until) - func.julianday(timed.c.entered_at))
                                  * 86400), BigInteger)
    else:
        seconds = cast(func.extract("epoch", until - timed.c.entered_at), BigInteger)
    return select(timed.c.record_id, timed.c.state, timed.c.entered_at, timed.c.left_at,
                  seconds.label("days_in_state")).subquery("history")


# -- date buckets ----------------------------------------------------------------------------------

def _bucket(col: Any, bucket: str, sqlite: bool) -> Any:
    """A text key per bucket that sorts in time order (a week is its Monday)."""
    if sqlite:
        if bucket == "quarter":
            month = cast(func.strftime("%m", col), Integer)
            return func.strftime("%Y", col) + "-Q" + cast((month + 2) / 3, String)
        formats = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}
        if bucket == "week":
            return func.date(col, "weekday 0", "-6 days")
        return func.strftime(formats[bucket], col)
    if bucket == "week":
        return func.to_char(func.date_trunc("week", col), "YYYY-MM-DD")
    formats = {"day": "YYYY-MM-DD", "month": "YYYY-MM", "year": "YYYY", "quarter": 'YYYY-"Q"Q'}
    return func.to_char(col, formats[bucket])


# -- conditions ------------------------------------------------------------------------------------

class _Condition:
    """A parsed condition translated into SQL over a series' columns."""

    def __init__(self, query: _SeriesQuery, refs: Mapping[str, FieldRef], today: dt.date,
                 source: str) -> None:
        self.query = query
        self.refs = refs
        self.today = today
        self.source = source

    def truth(self, node: Any) -> Any:
        if isinstance(node, ast.BoolOp):
            parts = [self.truth(v) for v in node.values]
            return and_(*parts) if isinstance(node.op, ast.And) else or_(*parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not_(self.truth(node.operand))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        value = self.value(node)
        if isinstance(value, bool):
            return true() if value else false()
        return func.coalesce(value, false()) == true()

    def compare(self, node: ast.Compare) -> Any:
        parts = []
        left = self.value(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.value(right_node)
            if isinstance(op, (ast.In, ast.NotIn)):
                items = right if isinstance(right, list) else [right]
                clause = left.in_(items) if isinstance(op, ast.In) else or_(
                    left.not_in(items), left.is_(None))
            elif right is None or left is None:
                other = left if right is None else right
                clause = other.is_(None) if isinstance(op, ast.Eq) else other.is_not(None) \
                    if isinstance(op, ast.NotEq) else false()
            else:
                clause = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
                          ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b,
                          ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
                          }[type(op)](left, right)
            parts.append(clause)
            left = right
        return and_(*parts)

    def value(self, node: Any) -> Any:
        if isinstance(node, (ast.Name, ast.Attribute)):
            name = ast.unparse(node)
            if name in ("true", "True"):
                return True
            if name in ("false", "False"):
                return False
            if name in ("null", "None"):
                return None
            if name == "today":
                return self.today
            return self.query.column(self.refs[name])
        if isinstance(node, ast.Constant):
            if isinstance(node.value, float):
                return Decimal(ast.get_source_segment(self.source, node) or repr(node.value))
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.value(item) for item in node.elts]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -self.value(node.operand)
        if isinstance(node, ast.BinOp):
            left, right = self.value(node.left), self.value(node.right)
            return {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
                    ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b,
                    ast.Mod: lambda a, b: a % b}[type(node.op)](left, right)
        if isinstance(node, (ast.Compare, ast.BoolOp)):
            return self.truth(node)
        raise ValueError(f"unexpected {type(node).__name__} in a report condition")


# -- measures --------------------------------------------------------------------------------------

class _Numbers:
    """Arithmetic over number columns as (SQL expression, decimal places on SQLite)."""

    def __init__(self, query: _SeriesQuery, refs: Mapping[str, FieldRef], source: str) -> None:
        self.query = query
        self.refs = refs
        self.source = source

    def literal(self, number: Decimal) -> tuple[Any, int]:
        if not self.query.sqlite:
            return literal(number, Numeric(asdecimal=True)), 0
        places = max(0, -number.as_tuple().exponent)  # type: ignore[operator]
        return literal(int(number.scaleb(places)), BigInteger()), places

    def of(self, node: Any) -> tuple[Any, int]:
        if isinstance(node, (ast.Name, ast.Attribute)):
            return self.query.numeric(self.refs[ast.unparse(node)])
        if isinstance(node, ast.Constant):
            text = ast.get_source_segment(self.source, node) or repr(node.value)
            return self.literal(Decimal(text))
        if isinstance(node, ast.UnaryOp):
            expr, places = self.of(node.operand)
            return (-expr if isinstance(node.op, ast.USub) else expr), places
        assert isinstance(node, ast.BinOp)  # the compiler allows only + - * here
        (a, pa), (b, pb) = self.of(node.left), self.of(node.right)
        if isinstance(node.op, ast.Mult):
            return a * b, pa + pb
        a, b, places = self.align(a, pa, b, pb)
        return (a + b if isinstance(node.op, ast.Add) else a - b), places

    def align(self, a: Any, pa: int, b: Any, pb: int) -> tuple[Any, Any, int]:
        if pa < pb:
            a = a * 10 ** (pb - pa)
        elif pb < pa:
            b = b * 10 ** (pa - pb)
        return a, b, max(pa, pb)

    def weighted(self, expr: Any, places: int, weights: tuple[FieldRef, Mapping[str, Decimal]]
                 ) -> tuple[Any, int]:
        ref, table = weights
        col = self.query.column(ref)
        if not self.query.sqlite:
            factor = case(*((col == value, literal(w, Numeric(asdecimal=True)))
                            for value, w in table.items()),
                          else_=literal(Decimal(0), Numeric(asdecimal=True)))
            return expr * factor, places
        extra = max((max(0, -w.as_tuple().exponent) for w in table.values()),  # type: ignore
                    default=0)
        factor = case(*((col == value, literal(int(w.scaleb(extra)), BigInteger()))
                        for value, w in table.items()), else_=literal(0, BigInteger()))
        return expr * factor, places + extra


@dataclass(frozen=True)
class _Column:
    """How to read one aggregate back: its label(s) in the SELECT and its decimal places."""

    measure: Measure
    labels: tuple[str, ...]
    places: int = 0
    seconds: bool = False


def _aggregates(query: _SeriesQuery, source: Source, today: dt.date
                ) -> tuple[list[Any], list[_Column]]:
    columns: list[Any] = []
    reads: list[_Column] = []
    record = query.history.c.record_id if query.history is not None else query.model.id
    for i, m in enumerate(source.measures):
        cond = _Condition(query, m.refs, today, m.where.source).truth(m.where.tree) \
            if m.where is not None else None
        label = f"m{i}"
        if m.kind == "count":
            if query.history is not None:  # records that entered the state, not entries
                target = case((cond, record)) if cond is not None else record
                columns.append(func.count(target.distinct()).label(label))
            else:
                columns.append((func.count(case((cond, 1))) if cond is not None
                                else func.count()).label(label))
            reads.append(_Column(m, (label,)))
            continue
        if m.kind == "count_distinct":
            col = query.column(m.ref)  # type: ignore[arg-type]
            target = case((cond, col)) if cond is not None else col
            columns.append(func.count(target.distinct()).label(label))
            reads.append(_Column(m, (label,)))
            continue
        numbers = _Numbers(query, m.refs, m.expression.source if m.expression else "")
        seconds = m.ref is not None and m.ref.path == ("days_in_state",) and source.history
        if m.ref is not None and m.ref.field.type in ("date", "datetime"):
            expr, places = query.column(m.ref), 0
        elif m.ref is not None:
            expr, places = query.numeric(m.ref)
        else:
            expr, places = numbers.of(m.expression.tree)  # type: ignore[union-attr]
        if m.weights is not None:
            expr, places = numbers.weighted(expr, places, m.weights)
        if cond is not None:
            expr = case((cond, expr))
        if m.kind == "avg":
            columns += [func.sum(expr).label(label), func.count(expr).label(label + "n")]
            reads.append(_Column(m, (label, label + "n"), places, seconds))
        else:
            agg = {"sum": func.sum, "min": func.min, "max": func.max}[m.kind](expr)
            columns.append(agg.label(label))
            reads.append(_Column(m, (label,), places, seconds))
    return columns, reads


def _number(raw: Any, column: _Column, sqlite: bool) -> Any:
    """A value read back from the database as an exact ``Decimal`` (or a date)."""
    if raw is None or isinstance(raw, (dt.date, dt.datetime, str)):
        return raw
    if column.seconds:
        return Decimal(int(raw)) / SECONDS_PER_DAY
    if isinstance(raw, float):  # a NUMERIC sum read by a driver as float: never for money
        raw = Decimal(repr(raw))
    value = Decimal(int(raw)).scaleb(-column.places) if sqlite and column.places and \
        not isinstance(raw, Decimal) else Decimal(raw)
    return value


def _tidy(value: Any, money: bool, days: bool = False) -> Any:
    """Money to its cents when exact (more places only when a weight needs them)."""
    if not isinstance(value, Decimal):
        return value
    if days:
        return value.quantize(CENT, rounding=ROUND_HALF_UP)
    if value == value.to_integral_value() and not money:
        return value.quantize(Decimal(1))
    if value == value.quantize(CENT):
        return value.quantize(CENT)
    return value.normalize()


# -- running ---------------------------------------------------------------------------------------

def run_report(conn: Connection, registry: Registry, classes: Mapping[str, type],
               spec: ReportSpec, principal: Optional[Principal],
               filters: Optional[Mapping[str, FilterValue]] = None, *, locale: str = "en",
               today: Optional[dt.date] = None, now: Optional[dt.datetime] = None
               ) -> ReportResult:
    """Run ``spec`` for ``principal`` (None: the command line, no scope) with the viewer's
    ``filters`` (see :func:`parse_filters`)."""
    if principal is not None:
        check_access(spec, registry, principal)
    today = today or dt.date.today()
    now = now or utcnow()
    chosen = filters or {}
    merged: dict[tuple[Any, ...], ReportRow] = {}
    for source in spec.sources:
        query = _SeriesQuery(conn, registry, classes, source, principal, now)
        dims = [_dimension(query, d) for d in source.group_by]
        aggregates, reads = _aggregates(query, source, today)
        conditions = []
        if source.where is not None:
            conditions.append(_Condition(query, source.where_refs, today,
                                         source.where.source).truth(source.where.tree))
        for flt in spec.filters:
            if flt.name in chosen and source.name in flt.refs:
                conditions.append(_filter(query, flt.refs[source.name], chosen[flt.name]))
        labelled = [d.label(f"d{i}") for i, d in enumerate(dims)]
        stmt = query.statement([*labelled, *aggregates], conditions, dims)
        for row in conn.execute(stmt).mappings():
            keys = tuple(row[f"d{i}"] for i in range(len(dims)))
            target = merged.setdefault(keys, ReportRow(keys))
            for read in reads:
                target.values[read.measure.name] = _value(read, row, query.sqlite)
    rows = list(merged.values())
    for row in rows:  # a group one series has and another lacks: its sums and counts are 0
        for m in (m for s in spec.sources for m in s.measures):
            if m.name not in row.values and m.kind in ("count", "count_distinct", "sum"):
                row.values[m.name] = (CENT * 0 if m.money else Decimal(0)) \
                    if m.kind == "sum" else 0
    _label_rows(conn, registry, classes, spec, rows, principal, locale)
    rows = _ordered(spec, rows)
    _derive(spec, rows)
    summary = _pareto(spec, rows)
    if spec.limit is not None:
        rows = rows[: spec.limit]
    return ReportResult(spec, rows, summary)


def _value(read: _Column, row: Mapping[str, Any], sqlite: bool) -> Any:
    m = read.measure
    if m.kind in ("count", "count_distinct"):
        return int(row[read.labels[0]] or 0)
    if m.kind == "avg":
        total, count = row[read.labels[0]], row[read.labels[1]]
        if not count:
            return None
        mean = _number(total, read, sqlite) / Decimal(int(count))
        return mean.quantize(CENT, rounding=ROUND_HALF_UP)
    value = _number(row[read.labels[0]], read, sqlite)
    if m.kind == "sum" and value is None:
        value = CENT * 0 if m.money else Decimal(0)
    return _tidy(value, m.money, read.seconds)


def _dimension(query: _SeriesQuery, d: Dimension) -> Any:
    col = query.column(d.ref)
    return _bucket(col, d.bucket, query.sqlite) if d.bucket else col


def _filter(query: _SeriesQuery, ref: FieldRef, chosen: FilterValue) -> Any:
    col = query.column(ref)
    if chosen.start is None and chosen.end is None:
        return col == chosen.value
    parts = []
    datetime = ref.field.type == "datetime"
    if chosen.start is not None:
        start = dt.datetime.combine(chosen.start, dt.time()) if datetime else chosen.start
        parts.append(col >= start)
    if chosen.end is not None:
        if datetime:
            parts.append(col < dt.datetime.combine(chosen.end + dt.timedelta(days=1),
                                                   dt.time()))
        else:
            parts.append(col <= chosen.end)
    return and_(*parts)


# -- labels and order ------------------------------------------------------------------------------

NONE_TEXT = {"en": "(none)", "zh_CN": "（空）", "zh_TW": "（空）"}


def _label_rows(conn: Connection, registry: Registry, classes: Mapping[str, type],
                spec: ReportSpec, rows: list[ReportRow], principal: Optional[Principal],
                locale: str) -> None:
    empty = NONE_TEXT.get(locale, NONE_TEXT["en"])
    for i, d in enumerate(spec.dimensions):
        values = [r.keys[i] for r in rows if r.keys[i] is not None]
        texts = _texts(conn, registry, classes, d, values, principal, locale)
        for r in rows:
            r.labels.append(empty if r.keys[i] is None else texts.get(r.keys[i],
                                                                       str(r.keys[i])))


def _texts(conn: Connection, registry: Registry, classes: Mapping[str, type], d: Dimension,
           values: list[Any], principal: Optional[Principal], locale: str) -> dict[Any, str]:
    f = d.ref.field
    if d.bucket == "week":
        return {v: _week(v) for v in values}
    if d.bucket is not None or not values:
        return {v: str(v) for v in values}
    if f.type == "user":
        found = conn.execute(select(PortalUser.id, PortalUser.username)
                             .where(PortalUser.id.in_(sorted(set(values))))).all()
        return dict(found)
    if f.type == "link" and f.target:
        return _titles(conn, registry, classes, f.target, sorted(set(values)), principal)
    if f.type == "enum":
        return {v: f.value_labels[v].get(locale, v) if v in f.value_labels else str(v)
                for v in values}
    if f.type == "bool":
        yes, no = ("是", "否") if locale.startswith("zh") else ("Yes", "No")
        return {v: yes if v else no for v in values}
    return {v: str(v) for v in values}


def _week(key: Any) -> str:
    try:
        year, week, _ = dt.date.fromisoformat(str(key)[:10]).isocalendar()
    except ValueError:
        return str(key)
    return f"{year}-W{week:02d}"


def _titles(conn: Connection, registry: Registry, classes: Mapping[str, type], target: str,
            ids: list[int], principal: Optional[Principal]) -> dict[Any, str]:
    """The titles of linked records the viewer may read (others show as their number)."""
    entity = registry.entity(target)
    model = classes[target]
    title = entity.fields.get(entity.title) if entity.title else None
    if title is None or not title.is_column or title.type in ("link", "user", "file"):
        return {i: f"#{i}" for i in ids}
    stmt = select(model.id, getattr(model, title.name)).where(model.id.in_(ids))
    scope = read_criteria(model, entity, principal)
    if scope is not None:
        stmt = stmt.where(scope)
    return {i: str(v) if v is not None else f"#{i}" for i, v in conn.execute(stmt).all()}


def _ordered(spec: ReportSpec, rows: list[ReportRow]) -> list[ReportRow]:
    """Rows in the report's order: ``order_by``, else the dimensions' natural order (enum
    values as declared, dates in time, others by their text); empty values last."""
    dims = spec.dimensions

    def natural(row: ReportRow) -> tuple[Any, ...]:
        out: list[Any] = []
        for i, d in enumerate(dims):
            key = row.keys[i]
            if key is None:
                out.append((1, 0, ""))
            elif d.ref.field.type == "enum" and key in d.ref.field.values:
                out.append((0, d.ref.field.values.index(key), ""))
            elif d.bucket or isinstance(key, (int, dt.date)) and d.ref.field.type not in (
                    "user", "link"):
                out.append((0, 0, str(key) if d.bucket else key))
            else:
                out.append((0, 0, row.labels[i]))
        return tuple(out)

    ordered = sorted(rows, key=natural)
    names = [d.ref.name for d in dims]
    for name, descending in reversed(spec.order_by):
        if name in names:
            i = names.index(name)
            ordered.sort(key=lambda r, i=i: natural(r)[i], reverse=descending)
            continue
        present = [r for r in ordered if r.values.get(name) is not None]
        missing = [r for r in ordered if r.values.get(name) is None]
        present.sort(key=lambda r: r.values[name], reverse=descending)
        ordered = present + missing
    return ordered


# -- derived measures ------------------------------------------------------------------------------

def _fraction(a: Any, b: Any) -> Optional[Decimal]:
    try:
        if a is None or b is None or Decimal(b) == 0:
            return None
        return (Decimal(a) / Decimal(b)).quantize(FRACTION, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return None


def _derive(spec: ReportSpec, rows: list[ReportRow]) -> None:
    for m in spec.derived:
        if m.kind == "ratio":
            for r in rows:
                r.values[m.name] = _fraction(r.values.get(m.of[0]), r.values.get(m.of[1]))
        elif m.kind == "rank_share":
            for i, r in enumerate(rows):
                r.values[m.name] = _fraction(i + 1, len(rows))
        elif m.kind in ("share", "cumulative_share"):
            total = sum((Decimal(r.values.get(m.of[0]) or 0) for r in rows), Decimal(0))
            running = Decimal(0)
            for r in rows:
                value = Decimal(r.values.get(m.of[0]) or 0)
                running += value
                r.values[m.name] = _fraction(value if m.kind == "share" else running, total)
        else:  # from_previous, drop_off: along the rows (funnel order)
            previous = None
            for r in rows:
                value = r.values.get(m.of[0])
                ratio = _fraction(value, previous)
                if m.kind == "drop_off" and ratio is not None:
                    ratio = Decimal(1) - ratio
                r.values[m.name] = ratio
                previous = value


def _pareto(spec: ReportSpec, rows: list[ReportRow]) -> Optional[ParetoSummary]:
    if spec.chart.type != "pareto" or not rows:
        return None
    name = spec.chart.measures[0]
    total = sum((Decimal(r.values.get(name) or 0) for r in rows), Decimal(0))
    ranked = sorted((Decimal(r.values.get(name) or 0) for r in rows), reverse=True)
    top = max(1, math.ceil(len(rows) * spec.chart.top / 100))
    return ParetoSummary(name, spec.chart.top, len(rows), top,
                         _fraction(sum(ranked[:top], Decimal(0)), total))

