"""Reports (``reports/**.yaml``): rows of an entity grouped, measured, charted and exported.

```yaml
report: weighted_forecast           # the report's name (its URL: /reports/weighted_forecast)
label: {en: Weighted forecast, zh_CN: 加权预测}
module: sales                       # groups the report on the Reports menu
access: [sales_rep, sales_director] # roles that may open it (each sees only what they may read)
entity: opportunity                 # the rows
where: "stage != 'lost'"            # a fixed condition (dotted paths allowed: customer.grade)
filters: [owner, close_date]        # what the viewer may narrow (dates get a from/to range)
group_by: [{close_date: month}]     # fields, linked fields (customer.grade), date buckets
measures:
  pipeline: {sum: amount}
  weighted: {sum: amount, weights: {stage: {prospecting: 0.1, proposal: 0.5, won: 1}}}
chart: {type: bar, measures: [pipeline, weighted]}
```

Measures are ``count``, ``{count: <condition>}``, ``{count_distinct: path}``, ``{sum|avg|min|max:
path or arithmetic}`` with optional ``where`` and ``weights``, and measures derived from the
others: ``{ratio: [a, b]}``, ``{share: a}``, ``{cumulative_share: a}``, ``{rank_share: true}``,
``{from_previous: a}`` and ``{drop_off: a}``. Several ``series`` (each its own entity, condition,
grouping and measures) share the dimensions by position. ``history: true`` makes the rows the
entries of the entity's records into workflow states (``state``, ``entered_at``, ``left_at``,
``days_in_state``). Everything is checked here against the compiled entities.

Charts: ``bar``, ``stacked_bar``, ``line``, ``pie``, ``pareto``, ``funnel`` and ``tiles`` (one
tile per row with its label and one measure as a big number; grouped by one plain field of
the entity, a tile links to the entity's list filtered by its value: dashboard tiles).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Optional

from portal.spec.expressions import ExpressionError, parse
from portal.spec.labels import make_label
from portal.spec.loader import Document, Path
from portal.spec.model import (
    LOCALES,
    Expression,
    FieldSpec,
    Label,
    Registry,
    SourcePos,
    SpecError,
)
from portal.spec.report import Reporter
from portal.spec.suggest import suggest

TOP_KEYS = ("report", "label", "module", "access", "entity", "where", "filters", "group_by",
            "measures", "series", "history", "chart", "order_by", "limit", "description")
SERIES_KEYS = ("entity", "where", "group_by", "measures", "history")
BUCKETS = ("day", "week", "month", "quarter", "year")
AGGREGATES = ("count", "count_distinct", "sum", "avg", "min", "max")
DERIVED = ("ratio", "share", "cumulative_share", "rank_share", "from_previous", "drop_off")
MEASURE_OPTIONS = ("label", "where", "weights")
CHART_TYPES = ("bar", "stacked_bar", "line", "pie", "pareto", "funnel", "tiles")
#: Charts of one measure.
ONE_MEASURE_CHARTS = ("pie", "funnel", "pareto", "tiles")
CHART_KEYS = ("type", "measures", "top")
#: Field types a report may group by (a ``children``/``many`` field is not one value).
GROUPABLE = frozenset({"string", "enum", "bool", "int", "user", "link", "date", "datetime",
                       "email", "phone", "number", "url"})
#: Field types whose list screen filter "equal to" a tile can link to (FAB's list filters
#: cannot say "false" of a bool, nor match a timestamp to the second).
TILE_LINKABLE = frozenset({"string", "enum", "int", "user", "link", "date", "email", "phone",
                           "number", "url"})
NUMERIC = frozenset({"int", "decimal", "money"})
DATED = frozenset({"date", "datetime"})
#: The fields of a ``history: true`` source besides the entity's own.
HISTORY_FIELDS = ("state", "entered_at", "left_at", "days_in_state")
MAX_DEPTH = 3


@dataclass(frozen=True)
class FieldRef:
    """A field reached from the source entity: ``path`` of names (links, then the field)."""

    path: tuple[str, ...]
    field: FieldSpec

    @property
    def name(self) -> str:
        """The dotted path, as written."""
        return ".".join(self.path)


@dataclass(frozen=True)
class Dimension:
    """One ``group_by`` entry: a field (possibly through links), with a date bucket."""

    ref: FieldRef
    bucket: Optional[str] = None


@dataclass(frozen=True)
class Measure:
    """One measure. ``kind`` is an aggregate or a derived kind (see the module doc).

    ``ref`` or ``expression`` is what is aggregated; ``where`` limits the rows counted;
    ``weights`` multiplies each row by the weight of its value of ``weights[0]``;
    ``of`` names the measures a derived measure reads.
    """

    name: str
    kind: str
    label: Label = field(default_factory=Label)
    ref: Optional[FieldRef] = None
    expression: Optional[Expression] = None
    refs: Mapping[str, FieldRef] = field(default_factory=lambda: MappingProxyType({}))
    where: Optional[Expression] = None
    weights: Optional[tuple[FieldRef, Mapping[str, Decimal]]] = None
    of: tuple[str, ...] = ()
    money: bool = False

    @property
    def derived(self) -> bool:
        """True for measures computed from other measures (after the SQL aggregation)."""
        return self.kind in DERIVED

    @property
    def percent(self) -> bool:
        """True for measures that are fractions, shown as percentages."""
        return self.kind in DERIVED


@dataclass(frozen=True)
class Source:
    """The rows of one series: an entity (or its workflow history), grouped and measured."""

    name: str
    entity: str
    group_by: tuple[Dimension, ...]
    measures: tuple[Measure, ...]
    where: Optional[Expression] = None
    where_refs: Mapping[str, FieldRef] = field(default_factory=lambda: MappingProxyType({}))
    history: bool = False


@dataclass(frozen=True)
class ReportFilter:
    """A filter the viewer may set: per series, the field it narrows (dates get a range)."""

    name: str
    refs: Mapping[str, FieldRef]

    @property
    def field(self) -> FieldSpec:
        """The field of the first series (what the form shows)."""
        return next(iter(self.refs.values())).field


@dataclass(frozen=True)
class Chart:
    """What the chart draws: its type and the measures it plots."""

    type: str
    measures: tuple[str, ...]
    top: int = 20


@dataclass(frozen=True)
class ReportSpec:
    """A checked report."""

    name: str
    pos: SourcePos
    sources: tuple[Source, ...]
    derived: tuple[Measure, ...]
    chart: Chart
    label: Label = field(default_factory=Label)
    module: str = ""
    access: tuple[str, ...] = ()
    filters: tuple[ReportFilter, ...] = ()
    order_by: tuple[tuple[str, bool], ...] = ()
    limit: Optional[int] = None
    description: Label = field(default_factory=Label)

    @property
    def measures(self) -> tuple[Measure, ...]:
        """Every measure, series by series, then the derived ones: the table's columns."""
        return tuple(m for s in self.sources for m in s.measures) + self.derived

    def measure(self, name: str) -> Measure:
        """The measure called ``name`` (KeyError if none)."""
        return {m.name: m for m in self.measures}[name]

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        """The dimensions, as the first series names them (the table's first columns)."""
        return self.sources[0].group_by

    @property
    def tile_field(self) -> Optional[FieldRef]:
        """The field a ``tiles`` chart's tiles link by: the one dimension, when it is a plain
        field of the report's entity (no link path, no date bucket, not workflow history) of
        a type the entity's list can filter on; else None (the tiles link nowhere)."""
        if self.chart.type != "tiles" or len(self.sources) != 1:
            return None
        source = self.sources[0]
        if source.history or len(source.group_by) != 1:
            return None
        dimension = source.group_by[0]
        if (len(dimension.ref.path) != 1 or dimension.bucket is not None
                or dimension.ref.field.type not in TILE_LINKABLE):
            return None
        return dimension.ref


def history_fields(registry: Registry, entity: str) -> dict[str, FieldSpec]:
    """The virtual fields of a ``history: true`` source of ``entity`` (empty without a
    workflow)."""
    workflow = registry.workflow_of(entity)
    if workflow is None:
        return {}
    here = workflow.pos
    stored = registry.entity(entity).fields.get(workflow.state_field)
    enum_labels = stored.value_labels if stored is not None else {}
    state = FieldSpec(name="state", type="enum", pos=here, values=tuple(workflow.states),
                      value_labels=MappingProxyType({  # the enum's texts, then the state's
                          n: Label(MappingProxyType({**s.label.texts, **(
                              enum_labels[n].texts if n in enum_labels else {})}))
                          for n, s in workflow.states.items()}),
                      label=Label(MappingProxyType({"en": "State", "zh_CN": "状态",
                                                    "zh_TW": "狀態"})))
    return {"state": state,
            "entered_at": FieldSpec(name="entered_at", type="datetime", pos=here, label=Label(
                MappingProxyType({"en": "Entered", "zh_CN": "进入时间", "zh_TW": "進入時間"}))),
            "left_at": FieldSpec(name="left_at", type="datetime", pos=here, label=Label(
                MappingProxyType({"en": "Left", "zh_CN": "离开时间", "zh_TW": "離開時間"}))),
            "days_in_state": FieldSpec(name="days_in_state", type="decimal", pos=here, label=Label(
                MappingProxyType({"en": "Days in state", "zh_CN": "停留天数",
                                  "zh_TW": "停留天數"})))}


def system_fields(pos: SourcePos) -> dict[str, FieldSpec]:
    """The columns every record has that a report may read: when and by whom it was created."""
    return {"created_at": FieldSpec(name="created_at", type="datetime", pos=pos, label=Label(
                MappingProxyType({"en": "Created at", "zh_CN": "创建时间", "zh_TW": "建立時間"}))),
            "created_by": FieldSpec(name="created_by", type="user", pos=pos, label=Label(
                MappingProxyType({"en": "Created by", "zh_CN": "创建人", "zh_TW": "建立者"})))}


class _Checker:
    """Checks one report document against the registry, reporting to ``rep``."""

    def __init__(self, rep: Reporter, registry: Registry) -> None:
        self.rep = rep
        self.registry = registry

    # -- fields and paths ---------------------------------------------------------------------

    def fields_of(self, entity: str, history: bool) -> dict[str, FieldSpec]:
        own = {**system_fields(self.registry.entities[entity].pos),
               **self.registry.entities[entity].fields}
        return {**own, **history_fields(self.registry, entity)} if history else own

    def ref(self, where: Path, entity: str, text: Any, history: bool,
            at_key: bool = False) -> Optional[FieldRef]:
        """The field that ``text`` (``field`` or ``link.field``...) names, or None."""
        if not isinstance(text, str) or not text:
            self.rep.add(where, "bad-value", "expected a field name", at_key=at_key)
            return None
        parts = tuple(text.split("."))
        if len(parts) > MAX_DEPTH:
            self.rep.add(where, "bad-ref", f"'{text}' goes through more than "
                                           f"{MAX_DEPTH - 1} links", at_key=at_key)
            return None
        fields = self.fields_of(entity, history)
        holder = entity
        for i, part in enumerate(parts):
            f = fields.get(part)
            if f is None:
                self.rep.add(where, "unknown-field", f"unknown field '{part}' of '{holder}'",
                             suggest(part, fields), at_key=at_key)
                return None
            if i == len(parts) - 1:
                return FieldRef(parts, f)
            if f.type != "link" or f.target not in self.registry.entities:
                self.rep.add(where, "bad-ref", f"'{part}' of '{holder}' is a {f.type} field, "
                                               "not a link: a path goes through link fields",
                             at_key=at_key)
                return None
            holder = f.target
            fields = self.fields_of(holder, False)
        return None

    def condition(self, where: Path, text: Any, entity: str, history: bool
                  ) -> tuple[Optional[Expression], dict[str, FieldRef]]:
        """A condition whose names are fields or paths of the source."""
        if not isinstance(text, str):
            self.rep.add(where, "bad-value", "expected a condition such as \"stage == 'won'\"")
            return None, {}
        try:
            expression = parse(text)
        except ExpressionError as exc:
            self.rep.add(where, "bad-expression", str(exc))
            return None, {}
        if getattr(expression, "aggregates", ()):
            self.rep.add(where, "bad-expression", "a report's condition reads the row and its "
                                                  "linked records, not functions over others")
            return None, {}
        refs = {}
        for name in sorted(names_of(expression) - {"today"}):
            found = self.ref(where, entity, name, history)
            if found is not None:
                refs[name] = found
        return expression, refs

    # -- the document ---------------------------------------------------------------------------

    def report(self, doc: Document) -> Optional[ReportSpec]:
        data = doc.data
        rep = self.rep
        if not isinstance(data, dict):
            rep.add((), "bad-value", "a report is a mapping with keys report, entity, group_by, "
                                     "measures, chart")
            return None
        for key in data:
            if key not in TOP_KEYS:
                rep.add((key,), "unknown-key", f"unknown key '{key}'",
                        suggest(str(key), TOP_KEYS), at_key=True)
        name = data.get("report")
        if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
            rep.add(("report",) if "report" in data else (), "bad-value" if "report" in data
                    else "missing-key", "expected the report's name (lowercase letters, digits, "
                    "_)" if "report" in data else "missing required key 'report'")
        if "series" in data:
            for key in ("entity", "where", "group_by", "history"):
                if key in data:
                    rep.add((key,), "bad-key", f"'{key}' goes inside each series when the "
                                               "report has series", at_key=True)
            sources = self.series(data.get("series"))
        else:
            for key in ("entity", "group_by", "measures"):
                if key not in data:
                    rep.add((), "missing-key", f"missing required key '{key}'")
            source = self.source((), "main", data, derived_allowed=True)
            sources = [source] if source is not None else []
        if not sources or rep.errors:
            return None
        derived = self.derived(data.get("measures"), sources, in_series="series" in data)
        measures = [m.name for s in sources for m in s.measures] + [m.name for m in derived]
        chart = self.chart(data.get("chart"), measures, sources)
        filters = self.filters(data.get("filters"), sources)
        order = self.order(data.get("order_by"), measures, sources)
        limit = data.get("limit")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)
                                  or limit < 1):
            rep.add(("limit",), "bad-value", "expected a whole number of rows, 1 or more")
        access = self.access(data.get("access"))
        module = data.get("module", "")
        if not isinstance(module, str):
            rep.add(("module",), "bad-value", "expected a module name")
        self.hidden_fields(sources, filters, access)
        if rep.errors or chart is None:
            return None
        return ReportSpec(
            name=name, pos=doc.pos(("report",)), sources=tuple(sources), derived=tuple(derived),
            chart=chart, label=self.label(data, "label"), module=module or "",
            access=access, filters=tuple(filters), order_by=order, limit=limit,
            description=self.label(data, "description"))

    def label(self, data: dict, key: str, path: Path = ()) -> Label:
        value = data.get(key)
        if value is None:
            return Label()
        if isinstance(value, dict):
            for loc, text in value.items():
                if loc not in LOCALES:
                    self.rep.add((*path, key, loc), "unknown-key", f"unknown locale '{loc}'",
                                 suggest(str(loc), LOCALES), at_key=True)
                elif not isinstance(text, str):
                    self.rep.add((*path, key, loc), "bad-value", "expected a text")
        elif not isinstance(value, str):
            self.rep.add((*path, key), "bad-value", "a label is a text or a mapping of locale "
                                                    "to text")
        return make_label(value)

    def access(self, raw: Any) -> tuple[str, ...]:
        if raw is None:
            self.rep.add((), "missing-key", "missing required key 'access' (the roles that may "
                                            "open the report)")
            return ()
        names = [raw] if isinstance(raw, str) else raw
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            self.rep.add(("access",), "bad-value", "expected a list of role names")
            return ()
        for i, role in enumerate(names):
            if role not in self.registry.roles:
                self.rep.add(("access", i), "unknown-ref", f"unknown role '{role}'",
                             suggest(role, self.registry.roles))
        return tuple(names)

    def series(self, raw: Any) -> list[Source]:
        if not isinstance(raw, dict) or not raw:
            self.rep.add(("series",), "bad-value", "expected a mapping of series name to its "
                                                   "entity, group_by and measures")
            return []
        sources = []
        for name, body in raw.items():
            path: Path = ("series", name)
            if not isinstance(body, dict):
                self.rep.add(path, "bad-value", "expected a mapping with entity, group_by, "
                                                "measures")
                continue
            for key in body:
                if key not in SERIES_KEYS:
                    self.rep.add((*path, key), "unknown-key", f"unknown key '{key}'",
                                 suggest(str(key), SERIES_KEYS), at_key=True)
            for key in ("entity", "group_by", "measures"):
                if key not in body:
                    self.rep.add(path, "missing-key", f"missing required key '{key}'")
            source = self.source(path, str(name), body, derived_allowed=False)
            if source is not None:
                sources.append(source)
        self.same_dimensions(sources)
        return sources

    def same_dimensions(self, sources: list[Source]) -> None:
        if len(sources) < 2:
            return
        first = sources[0]
        for other in sources[1:]:
            path: Path = ("series", other.name, "group_by")
            if len(other.group_by) != len(first.group_by):
                self.rep.add(path, "dimension-mismatch",
                             f"series '{other.name}' groups by {len(other.group_by)} "
                             f"dimension(s), series '{first.name}' by {len(first.group_by)}: "
                             "series share their dimensions by position")
                continue
            for a, b in zip(first.group_by, other.group_by, strict=True):
                if _dimension_kind(a) != _dimension_kind(b):
                    self.rep.add(path, "dimension-mismatch",
                                 f"'{b.ref.name}' ({_dimension_kind(b)}) does not match "
                                 f"'{a.ref.name}' ({_dimension_kind(a)}) of series "
                                 f"'{first.name}'")

    def source(self, path: Path, name: str, body: dict, derived_allowed: bool
               ) -> Optional[Source]:
        entity_name = body.get("entity")
        if entity_name is None:
            return None
        if entity_name not in self.registry.entities:
            self.rep.add((*path, "entity"), "unknown-ref", f"unknown entity '{entity_name}'",
                         suggest(str(entity_name), self.registry.entities))
            return None
        history = body.get("history", False)
        if not isinstance(history, bool):
            self.rep.add((*path, "history"), "bad-value", "expected true or false")
            history = False
        if history and self.registry.workflow_of(entity_name) is None:
            self.rep.add((*path, "history"), "bad-ref", f"'{entity_name}' has no workflow: "
                                                        "there is no state history to report on")
            return None
        where, where_refs = (None, {})
        if body.get("where") is not None:
            where, where_refs = self.condition((*path, "where"), body["where"], entity_name,
                                               history)
        group_by = self.group_by((*path, "group_by"), body.get("group_by"), entity_name,
                                 history)
        measures = self.measures((*path, "measures"), body.get("measures"), entity_name,
                                 history, derived_allowed)
        if not measures and body.get("measures") is not None and not derived_allowed:
            self.rep.add((*path, "measures"), "bad-value", "a series needs at least one measure")
        return Source(name, entity_name, tuple(group_by), tuple(measures), where,
                      MappingProxyType(where_refs), history)

    def group_by(self, path: Path, raw: Any, entity: str, history: bool) -> list[Dimension]:
        if raw is None:
            return []
        items = raw if isinstance(raw, list) else [raw]
        out = []
        for i, item in enumerate(items):
            here: Path = (*path, i) if isinstance(raw, list) else path
            bucket = None
            text = item
            if isinstance(item, dict):
                if len(item) != 1:
                    self.rep.add(here, "bad-value", "a date bucket is one pair, such as "
                                                    "{close_date: month}")
                    continue
                text, bucket = next(iter(item.items()))
                if bucket not in BUCKETS:
                    self.rep.add((*here, text), "bad-value", f"unknown date bucket '{bucket}' "
                                 f"(use {', '.join(BUCKETS)})", suggest(str(bucket), BUCKETS))
                    continue
            ref = self.ref(here, entity, text, history)
            if ref is None:
                continue
            if ref.field.type not in GROUPABLE:
                self.rep.add(here, "bad-ref", f"cannot group by '{ref.name}': a "
                                              f"{ref.field.type} field holds no single value")
                continue
            if bucket is None and ref.field.type in DATED and ref.field.type == "datetime":
                self.rep.add(here, "bad-ref", f"group a datetime field by a bucket, such as "
                                              f"{{{ref.name}: day}}")
                continue
            if bucket is not None and ref.field.type not in DATED:
                self.rep.add(here, "bad-ref", f"'{ref.name}' is a {ref.field.type} field: "
                                              "only dates have buckets")
                continue
            out.append(Dimension(ref, bucket))
        if not out and not self.rep.errors:
            self.rep.add(path, "bad-value", "expected at least one field to group by")
        return out

    def measures(self, path: Path, raw: Any, entity: str, history: bool,
                 derived_allowed: bool) -> list[Measure]:
        if raw is None:
            return []
        if not isinstance(raw, dict) or not raw:
            self.rep.add(path, "bad-value", "expected a mapping of measure name to measure")
            return []
        out = []
        for name, body in raw.items():
            here: Path = (*path, name)
            if isinstance(body, str) and body == "count":
                out.append(Measure(str(name), "count"))
                continue
            if not isinstance(body, dict):
                self.rep.add(here, "bad-value", "expected 'count' or a mapping such as "
                                                "{sum: amount}", suggest(str(body), AGGREGATES))
                continue
            kinds = [k for k in body if k in AGGREGATES or k in DERIVED]
            for key in body:
                if key not in AGGREGATES and key not in DERIVED and key not in MEASURE_OPTIONS:
                    self.rep.add((*here, key), "unknown-key", f"unknown key '{key}'",
                                 suggest(str(key), (*AGGREGATES, *DERIVED, *MEASURE_OPTIONS)),
                                 at_key=True)
            if len(kinds) != 1:
                if not self.rep.errors or kinds:
                    self.rep.add(here, "bad-value", "a measure has exactly one of "
                                 + ", ".join((*AGGREGATES, *DERIVED)))
                continue
            kind = kinds[0]
            if kind in DERIVED:
                if not derived_allowed:
                    self.rep.add((*here, kind), "bad-key", f"a derived measure ('{kind}') goes "
                                 "in the report's own measures, beside the series")
                continue
            measure = self.aggregate(here, str(name), kind, body, entity, history)
            if measure is not None:
                out.append(measure)
        return out

    def aggregate(self, here: Path, name: str, kind: str, body: dict, entity: str,
                  history: bool) -> Optional[Measure]:
        raw = body[kind]
        label = self.label(body, "label", here)
        where, where_refs = (None, {})
        if body.get("where") is not None:
            where, where_refs = self.condition((*here, "where"), body["where"], entity, history)
        if kind == "count":
            if raw != "all" and raw is not True:
                if "where" in body:
                    self.rep.add((*here, "count"), "bad-value",
                                 "with 'where', write count: all")
                    return None
                where, where_refs = self.condition((*here, "count"), raw, entity, history)
            return Measure(name, kind, label, where=where, refs=MappingProxyType(where_refs))
        if kind == "count_distinct":
            ref = self.ref((*here, kind), entity, raw, history)
            return Measure(name, kind, label, ref=ref, where=where,
                           refs=MappingProxyType(where_refs)) if ref else None
        weights = self.weights((*here, "weights"), body.get("weights"), entity, history)
        if isinstance(raw, str) and _is_path(raw):
            ref = self.ref((*here, kind), entity, raw, history)
            if ref is None:
                return None
            days = ref.field.name == "days_in_state" and history
            dated = kind in ("min", "max") and ref.field.type in DATED
            if ref.field.type not in NUMERIC and not days and not dated:
                self.rep.add((*here, kind), "bad-ref", f"cannot {kind} '{raw}': a "
                             f"{ref.field.type} field is not a number")
                return None
            return Measure(name, kind, label, ref=ref, where=where,
                           refs=MappingProxyType(where_refs), weights=weights,
                           money=ref.field.type == "money")
        if not isinstance(raw, str):
            self.rep.add((*here, kind), "bad-value", "expected a field or arithmetic over "
                                                     "fields, such as quantity * unit_price")
            return None
        try:
            expression = parse(raw)
        except ExpressionError as exc:
            self.rep.add((*here, kind), "bad-expression", str(exc).replace("condition",
                                                                           "expression"))
            return None
        if not _arithmetic(expression.tree):
            self.rep.add((*here, kind), "bad-expression", f"'{raw}' is not arithmetic: use "
                         "fields, numbers and + - * (ratios are derived measures)")
            return None
        refs = dict(where_refs)
        money = False
        for ref_name in sorted(names_of(expression)):
            ref = self.ref((*here, kind), entity, ref_name, history)
            if ref is None:
                return None
            if ref.field.type not in NUMERIC:
                self.rep.add((*here, kind), "bad-ref", f"'{ref_name}' is a {ref.field.type} "
                                                       "field, not a number")
                return None
            money = money or ref.field.type == "money"
            refs[ref_name] = ref
        return Measure(name, kind, label, expression=expression, refs=MappingProxyType(refs),
                       where=where, weights=weights, money=money)

    def weights(self, path: Path, raw: Any, entity: str, history: bool
                ) -> Optional[tuple[FieldRef, Mapping[str, Decimal]]]:
        if raw is None:
            return None
        if not isinstance(raw, dict) or len(raw) != 1:
            self.rep.add(path, "bad-value", "expected one enum field and its weights, such as "
                                            "{stage: {prospecting: 0.1, won: 1}}")
            return None
        text, table = next(iter(raw.items()))
        ref = self.ref((*path, text), entity, text, history, at_key=True)
        if ref is None:
            return None
        if ref.field.type != "enum":
            self.rep.add((*path, text), "bad-ref", f"weights go by the values of an enum field; "
                                                   f"'{text}' is a {ref.field.type}",
                         at_key=True)
            return None
        if not isinstance(table, dict) or not table:
            self.rep.add((*path, text), "bad-value", "expected a mapping of value to weight")
            return None
        out: dict[str, Decimal] = {}
        for value, weight in table.items():
            if str(value) not in ref.field.values:
                self.rep.add((*path, text, value), "unknown-value",
                             f"'{value}' is not a value of '{text}'",
                             suggest(str(value), ref.field.values), at_key=True)
            elif isinstance(weight, bool) or not isinstance(weight, (int, Decimal)):
                self.rep.add((*path, text, value), "bad-value", "expected a number")
            else:
                out[str(value)] = Decimal(weight)
        return ref, MappingProxyType(out)

    def derived(self, raw: Any, sources: list[Source], in_series: bool) -> list[Measure]:
        if not isinstance(raw, dict):
            if raw is not None and in_series:
                self.rep.add(("measures",), "bad-value", "expected a mapping of measure name "
                                                         "to a derived measure")
            return []
        known = [m.name for s in sources for m in s.measures]
        out: list[Measure] = []
        for name, body in raw.items():
            here: Path = ("measures", name)
            if not isinstance(body, dict):
                if in_series:
                    self.rep.add(here, "bad-value", "a report with series has only derived "
                                                    "measures here, such as {ratio: [won, quota]}")
                continue
            kinds = [k for k in body if k in DERIVED]
            if not kinds:
                if in_series and any(k in AGGREGATES for k in body):
                    self.rep.add(here, "bad-key", "aggregates go inside a series; here only "
                                                  "derived measures")
                continue
            kind = kinds[0]
            raw_of = body[kind]
            if kind == "rank_share":
                of: list[Any] = []
            elif kind == "ratio":
                of = raw_of if isinstance(raw_of, list) else []
                if len(of) != 2:
                    self.rep.add((*here, kind), "bad-value", "expected two measures: "
                                                             "[numerator, denominator]")
                    continue
            else:
                of = [raw_of]
            ok = True
            for i, other in enumerate(of):
                if other not in known:
                    self.rep.add((*here, kind, i) if kind == "ratio" else (*here, kind),
                                 "unknown-ref", f"unknown measure '{other}'",
                                 suggest(str(other), known))
                    ok = False
            label = self.label(body, "label", here)
            if ok:
                out.append(Measure(str(name), kind, label, of=tuple(str(o) for o in of)))
                known.append(str(name))
        names = [m.name for s in sources for m in s.measures]
        for m in out:
            if m.name in names:
                self.rep.add(("measures", m.name), "duplicate-key",
                             f"measure '{m.name}' is already defined by a series", at_key=True)
        if in_series:
            seen: dict[str, str] = {}
            for s in sources:
                for m in s.measures:
                    if m.name in seen:
                        self.rep.add(("series", s.name, "measures", m.name), "duplicate-key",
                                     f"measure '{m.name}' is already defined by series "
                                     f"'{seen[m.name]}'", at_key=True)
                    seen[m.name] = s.name
        return out

    def chart(self, raw: Any, measures: list[str], sources: list[Source]) -> Optional[Chart]:
        if raw is None:
            self.rep.add((), "missing-key", "missing required key 'chart' (its type and the "
                                            "measures it plots)")
            return None
        if isinstance(raw, str):
            raw = {"type": raw}
        if not isinstance(raw, dict):
            self.rep.add(("chart",), "bad-value", "expected {type: bar, measures: [...]}")
            return None
        for key in raw:
            if key not in CHART_KEYS:
                self.rep.add(("chart", key), "unknown-key", f"unknown key '{key}'",
                             suggest(str(key), CHART_KEYS), at_key=True)
        kind = raw.get("type")
        if kind not in CHART_TYPES:
            self.rep.add(("chart", "type"), "bad-value", f"unknown chart type '{kind}' (use "
                         f"{', '.join(CHART_TYPES)})", suggest(str(kind), CHART_TYPES))
            return None
        plotted = raw.get("measures", measures[:1])
        plotted = [plotted] if isinstance(plotted, str) else plotted
        if not isinstance(plotted, list) or not plotted:
            self.rep.add(("chart", "measures"), "bad-value", "expected a list of measures")
            return None
        for i, name in enumerate(plotted):
            if name not in measures:
                self.rep.add(("chart", "measures", i), "unknown-ref",
                             f"unknown measure '{name}'", suggest(str(name), measures))
        if kind in ONE_MEASURE_CHARTS and len(plotted) != 1:
            self.rep.add(("chart", "measures"), "bad-value", f"a {kind} chart plots one measure")
        if kind in ("pie", "funnel", "pareto") and len(sources[0].group_by) != 1:
            self.rep.add(("chart", "type"), "bad-value", f"a {kind} chart needs exactly one "
                                                         "group_by dimension")
        top = raw.get("top", 20)
        if isinstance(top, bool) or not isinstance(top, int) or not 0 < top < 100:
            self.rep.add(("chart", "top"), "bad-value", "expected a percentage between 1 and 99")
            top = 20
        return Chart(kind, tuple(str(p) for p in plotted), top)

    def filters(self, raw: Any, sources: list[Source]) -> list[ReportFilter]:
        if raw is None:
            return []
        names = [raw] if isinstance(raw, str) else raw
        if not isinstance(names, list):
            self.rep.add(("filters",), "bad-value", "expected a list of fields")
            return []
        out = []
        first = sources[0]
        for i, text in enumerate(names):
            here: Path = ("filters", i)
            if len(sources) > 1:  # a filter narrows a shared dimension in every series
                position = next((j for j, d in enumerate(first.group_by) if d.ref.name == text),
                                None)
                if position is None:
                    self.rep.add(here, "bad-ref", f"'{text}' is not a dimension of series "
                                 f"'{first.name}': with series, filters narrow dimensions",
                                 suggest(str(text), [d.ref.name for d in first.group_by]))
                    continue
                refs = {s.name: s.group_by[position].ref for s in sources}
            else:
                ref = self.ref(here, first.entity, text, first.history)
                if ref is None:
                    continue
                if ref.field.type not in GROUPABLE:
                    self.rep.add(here, "bad-ref", f"cannot filter on a {ref.field.type} field")
                    continue
                refs = {first.name: ref}
            out.append(ReportFilter(str(text), MappingProxyType(refs)))
        return out

    def order(self, raw: Any, measures: list[str], sources: list[Source]
              ) -> tuple[tuple[str, bool], ...]:
        if raw is None:
            return ()
        items = [raw] if isinstance(raw, str) else raw
        columns = measures + [d.ref.name for d in sources[0].group_by]
        out = []
        for i, item in enumerate(items if isinstance(items, list) else [None]):
            if not isinstance(item, str):
                self.rep.add(("order_by",), "bad-value", "expected a measure or dimension, "
                                                         "-name for descending")
                continue
            name = item.lstrip("-")
            if name not in columns:
                self.rep.add(("order_by", i) if isinstance(raw, list) else ("order_by",),
                             "unknown-ref", f"unknown measure or dimension '{name}'",
                             suggest(name, columns))
                continue
            out.append((name, item.startswith("-")))
        return tuple(out)

    def hidden_fields(self, sources: list[Source], filters: list[ReportFilter],
                      roles: tuple[str, ...]) -> None:
        """A role the report is open to must see every field the report reads."""
        for role in roles:
            for source in sources:
                for ref, where in _used(source, filters):
                    holder = source.entity
                    for part in ref.path:
                        entity = self.registry.entities[holder]
                        rule = entity.access.get(role)
                        if rule is not None and part in rule.hide:
                            self.rep.add(where, "hidden-field", f"role '{role}' does not see "
                                         f"'{part}' of '{holder}', so it cannot open a report "
                                         "on it")
                            return
                        f = entity.fields.get(part)
                        if f is None or f.type != "link" or not f.target:
                            break
                        holder = f.target


def names_of(expression: Expression) -> frozenset[str]:
    """Every field an expression reads: plain names and dotted paths (``customer.grade``)."""
    paths = getattr(expression, "paths", frozenset())
    return frozenset(expression.names) | frozenset(".".join(p) for p in paths)


def _used(source: Source, filters: list[ReportFilter]) -> list[tuple[FieldRef, Path]]:
    """Every field a source reads, with where the report names it."""
    base: Path = () if source.name == "main" else ("series", source.name)
    used = [(d.ref, (*base, "group_by")) for d in source.group_by]
    used += [(r, (*base, "where")) for r in source.where_refs.values()]
    for m in source.measures:
        at = (*base, "measures", m.name)
        used += [(r, at) for r in (m.ref, *(m.refs.values())) if r is not None]
        if m.weights:
            used.append((m.weights[0], at))
    used += [(f.refs[source.name], ("filters",)) for f in filters if source.name in f.refs]
    return used


def _dimension_kind(d: Dimension) -> str:
    f = d.ref.field
    if d.bucket:
        return f"date by {d.bucket}"
    if f.type in ("link", "user"):
        return f"{f.type} to {f.target or 'user'}"
    return f.type


def _is_path(text: str) -> bool:
    return all(part.isidentifier() for part in text.split("."))


def _arithmetic(node: Any) -> bool:
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)) and _arithmetic(
            node.left) and _arithmetic(node.right)
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, (ast.USub, ast.UAdd)) and _arithmetic(node.operand)
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
    return isinstance(node, (ast.Name, ast.Attribute))


def validate_report(doc: Document, registry: Registry
                    ) -> tuple[Optional[ReportSpec], list[SpecError]]:
    """Check one report document against the compiled registry."""
    rep = Reporter(doc)
    spec = _Checker(rep, registry).report(doc)
    return (spec if not rep.errors else None), rep.errors


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a report document (for editors)."""
    name = {"$ref": "#/$defs/name"}
    path = {"type": "string", "pattern": r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$",
            "description": "A field, or a path through link fields (customer.grade)."}
    condition = {"type": "string", "minLength": 1,
                 "description": "A condition over fields, such as stage == 'won'."}
    dimension = {"anyOf": [path, {"type": "object", "minProperties": 1, "maxProperties": 1,
                                  "additionalProperties": {"enum": list(BUCKETS)},
                                  "description": "A date field and its bucket."}]}
    aggregate_options = {
        "label": {"$ref": "#/$defs/label", "description": "The measure's column title."},
        "where": {**condition, "description": "Only rows where this holds are aggregated."},
        "weights": {"type": "object", "maxProperties": 1, "description":
                    "Multiply each row by the weight of its enum value: {stage: {won: 1}}.",
                    "additionalProperties": {"type": "object",
                                             "additionalProperties": {"type": "number"}}},
    }
    one_of = []
    for kind, schema, text in (
            ("count", {"anyOf": [condition, {"const": "all"}]},
             "Count rows (all, or those where a condition holds)."),
            ("count_distinct", path, "Count distinct values of a field."),
            *((k, {"type": "string"}, f"The {k} of a field or of arithmetic over fields.")
              for k in ("sum", "avg", "min", "max")),
            ("ratio", {"type": "array", "items": {"type": "string"}, "minItems": 2,
                       "maxItems": 2}, "Measure a / measure b."),
            ("share", {"type": "string"}, "This row's share of the measure's total."),
            ("cumulative_share", {"type": "string"},
             "Running share of the total, in row order (Pareto)."),
            ("rank_share", {"const": True}, "Share of the rows up to this one (Pareto)."),
            ("from_previous", {"type": "string"}, "This row / the previous row (conversion)."),
            ("drop_off", {"type": "string"}, "1 - this row / the previous row (funnel leak)."),
    ):
        one_of.append({"type": "object", "required": [kind], "additionalProperties": False,
                       "description": text,
                       "properties": {kind: schema, **aggregate_options}})
    measure = {"anyOf": [{"const": "count"}, *one_of]}
    measures = {"type": "object", "minProperties": 1, "propertyNames": name,
                "additionalProperties": measure, "description": "The measures, by name."}
    group_by = {"description": "Fields to group by (a list, or one).",
                "anyOf": [dimension, {"type": "array", "minItems": 1, "items": dimension}]}
    series = {"type": "object", "additionalProperties": False,
              "required": ["entity", "group_by", "measures"], "properties": {
                  "entity": {**name, "description": "The rows of this series."},
                  "where": condition, "group_by": group_by, "measures": measures,
                  "history": {"type": "boolean", "description": "Rows are entries into "
                              "workflow states."}}}
    return {
        "type": "object", "additionalProperties": False,
        "required": ["report", "access", "measures", "chart"],
        "description": "A report: rows grouped and measured, with a chart and a CSV export.",
        "properties": {
            "report": {**name, "description": "The report's name (its URL)."},
            "label": {"$ref": "#/$defs/label", "description": "The report's title."},
            "description": {"$ref": "#/$defs/label", "description": "A line under the title."},
            "module": {**name, "description": "Groups the report on the Reports menu."},
            "access": {"description": "Roles that may open the report.",
                       "anyOf": [name, {"type": "array", "items": name}]},
            "entity": {**name, "description": "The entity whose records are the rows."},
            "where": {**condition, "description": "A fixed condition on the rows."},
            "history": {"type": "boolean", "description": "Rows are the entries of records "
                        "into workflow states: state, entered_at, left_at, days_in_state."},
            "filters": {"description": "Fields the viewer may narrow (dates: a range).",
                        "anyOf": [path, {"type": "array", "items": path}]},
            "group_by": group_by,
            "measures": measures,
            "series": {"type": "object", "minProperties": 1, "propertyNames": name,
                       "additionalProperties": series,
                       "description": "Several sources on the same dimensions (by position)."},
            "chart": {"description": "The chart: its type and the measures it plots.",
                      "anyOf": [{"enum": list(CHART_TYPES)}, {
                          "type": "object", "additionalProperties": False, "required": ["type"],
                          "properties": {
                              "type": {"enum": list(CHART_TYPES)},
                              "measures": {"anyOf": [{"type": "string"}, {
                                  "type": "array", "items": {"type": "string"}}]},
                              "top": {"type": "integer", "minimum": 1, "maximum": 99,
                                      "description": "Pareto: the top share of rows, in %."}}}]},
            "order_by": {"description": "Measures or dimensions; -name for descending.",
                         "anyOf": [{"type": "string"},
                                   {"type": "array", "items": {"type": "string"}}]},
            "limit": {"type": "integer", "minimum": 1, "description": "At most this many rows."},
        },
    }
