"""The ``board`` entity feature: a Kanban board of an entity's records by an enum field.

::

    board:
      field: stage                       # an enum field, or the workflow's state field
      sum: amount                        # optional: an int/decimal/money field totalled per column
      card: [customer, amount, owner]    # optional: fields shown on a card under its title
      columns: [lead, qualified, won]    # optional: the columns, in order (default: every value)
      filters: [owner, customer]         # optional: filter fields (default: the list's filters)
      limit: 50                          # optional: cards shown per column (default 50)
      label: {en: Pipeline, zh_CN: 销售漏斗}

On the workflow's state field, dropping a card on a column performs the transition from the
record's state to the column's (stage gates, actors and conditions apply); on another enum
field it is an ordinary checked edit. Errors are reported at ``board.<key>`` with stable
codes: ``unknown-key``, ``missing-key``, ``bad-value``, ``unknown-field``, ``bad-ref`` (a field
of the wrong type), ``unknown-value`` (a column that is not a value of the field) and
``duplicate-value``.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from types import MappingProxyType
from typing import Any, Optional

from portal.spec.features import Feature
from portal.spec.labels import make_label
from portal.spec.model import EntitySpec, Label, Registry
from portal.spec.report import Reporter
from portal.spec.schemas import DocSchema, LabelText, NameList, Text, Whole, load_shape
from portal.spec.suggest import suggest

KEY = "board"
#: Types a board can total per column.
SUM_TYPES = frozenset({"int", "decimal", "money"})
#: Types a board can filter on (one value chosen from a list).
FILTER_TYPES = frozenset({"enum", "user", "link", "bool"})
#: Types that do not fit on a card.
NOT_ON_CARDS = frozenset({"children", "many", "file", "text"})
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@dataclass(frozen=True)
class BoardSpec:
    """A compiled board: the column field, its columns in order, what a card shows."""

    field: str
    columns: tuple[str, ...]
    #: True when ``field`` is the state field of the entity's workflow (moves are transitions).
    by_workflow: bool
    sum: Optional[str] = None
    card: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()
    limit: int = DEFAULT_LIMIT
    label: Label = dc_field(default_factory=Label)


class BoardSchema(DocSchema):
    """The shape of the ``board`` key."""

    field = Text(required=True)
    sum = Text()
    card = NameList()
    columns = NameList()
    filters = NameList()
    limit = Whole(minimum=1)
    label = LabelText()


def check(entity: EntitySpec, raw: Any, rep: Reporter, registry: Registry) -> Optional[BoardSpec]:
    """The compiled board of ``entity`` (None when ``raw`` has errors, reported to ``rep``)."""
    data, issues = load_shape(BoardSchema(), raw)
    rep.issues([((KEY, *path), issue) for path, issue in issues])
    if issues and "field" not in data:
        return None
    before = len(rep.errors)
    name = data["field"]
    flow = registry.workflow_of(entity.name)
    by_workflow = flow is not None and flow.state_field == name
    values = _column_values(entity, name, rep, flow.states if by_workflow and flow else None)
    total = data.get("sum")
    if total is not None:
        _typed_field(entity, ("sum",), total, SUM_TYPES, rep)
    card = _field_list("card", data.get("card", ()), rep)
    for i, item in card:
        _typed_field(entity, ("card", i), item, None, rep, forbid=NOT_ON_CARDS)
    columns = tuple(data.get("columns") or values or ())
    if "columns" in data and values is not None:
        _check_columns(entity, name, data["columns"], values, rep)
    if "filters" in data:
        filters = _field_list("filters", data["filters"], rep)
        for i, item in filters:
            if item == name:
                rep.add((KEY, "filters", i), "bad-ref",
                        f"'{item}' is the board's own field: its values are the columns")
            else:
                _typed_field(entity, ("filters", i), item, FILTER_TYPES, rep)
        filter_names = tuple(item for _, item in filters)
    else:  # the list's filters that a board can offer
        filter_names = tuple(f for f in entity.list.filters if f != name and f in entity.fields
                        and entity.fields[f].type in FILTER_TYPES)
    limit = data.get("limit", DEFAULT_LIMIT)
    if limit > MAX_LIMIT:
        rep.add((KEY, "limit"), "bad-value",
                f"at most {MAX_LIMIT} cards a column, got '{limit}'")
    if issues or len(rep.errors) > before or values is None:
        return None
    return BoardSpec(field=name, columns=columns, by_workflow=by_workflow, sum=total,
                     card=tuple(item for _, item in card), filters=filter_names, limit=limit,
                     label=make_label(data.get("label"), ""))


def _column_values(entity: EntitySpec, name: str, rep: Reporter,
                   states: Any) -> Optional[tuple[str, ...]]:
    """The values of the board's field in order, or None (reported) when it cannot be one."""
    f = entity.fields.get(name)
    if f is None:
        rep.add((KEY, "field"), "unknown-field", f"unknown field '{name}'",
                suggest(name, [n for n, g in entity.fields.items() if g.type == "enum"]
                        or entity.fields))
        return None
    if states is not None:
        return tuple(states)
    if f.type != "enum":
        rep.add((KEY, "field"), "bad-ref",
                f"a board's columns come from an enum field or the workflow's state field; "
                f"'{name}' is of type '{f.type}'")
        return None
    return f.values


#: Why a field of the wrong type is refused, by the kinds of field a key accepts.
_WHY = MappingProxyType({SUM_TYPES: "a board totals an int, decimal or money field",
                        FILTER_TYPES: "a board filters on enum, user, link or bool fields"})


def _typed_field(entity: EntitySpec, path: tuple[Any, ...], name: str,
                 only: Optional[frozenset[str]], rep: Reporter,
                 forbid: frozenset[str] = frozenset()) -> None:
    """Report ``name`` unless it is a field of ``entity`` of a type in ``only`` (any type
    when None) and not in ``forbid``."""
    f = entity.fields.get(name)
    if f is None:
        pool = [n for n, g in entity.fields.items()
                if (only is None or g.type in only) and g.type not in forbid]
        rep.add((KEY, *path), "unknown-field", f"unknown field '{name}'",
                suggest(name, pool or entity.fields))
    elif only is not None and f.type not in only:
        rep.add((KEY, *path), "bad-ref", f"{_WHY[only]}; '{name}' is of type '{f.type}'")
    elif f.type in forbid:
        rep.add((KEY, *path), "bad-ref", f"a card cannot show '{name}', a field of type "
                                          f"'{f.type}'")


def _field_list(key: str, names: Any, rep: Reporter) -> list[tuple[int, str]]:
    """``(position, name)`` of ``names`` without repeats; each repeat is reported."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            rep.add((KEY, key, i), "duplicate-value", f"'{name}' is listed twice")
        else:
            seen[name] = i
    return [(i, name) for name, i in seen.items()]


def _check_columns(entity: EntitySpec, name: str, columns: list[str],
                   values: tuple[str, ...], rep: Reporter) -> None:
    seen: set[str] = set()
    for i, value in enumerate(columns):
        if value not in values:
            rep.add((KEY, "columns", i), "unknown-value",
                    f"'{value}' is not a value of '{name}' ({', '.join(values)})",
                    suggest(value, values))
        elif value in seen:
            rep.add((KEY, "columns", i), "duplicate-value", f"'{value}' is listed twice")
        seen.add(value)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the ``board`` key."""
    names = {"type": "array", "items": {"type": "string"}}
    return {
        "type": "object", "additionalProperties": False, "required": ["field"],
        "properties": {
            "field": {"type": "string", "description": "The enum field (or the workflow's "
                      "state field) whose values are the columns."},
            "sum": {"type": "string",
                    "description": "An int, decimal or money field totalled per column."},
            "card": {**names, "description": "Fields shown on a card under its title."},
            "columns": {**names, "description": "The columns in order (default: every value "
                        "or state)."},
            "filters": {**names, "description": "Enum, user, link or bool fields to filter "
                        "by (default: the list's filters)."},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                      "description": f"Cards shown per column (default {DEFAULT_LIMIT})."},
            "label": {"$ref": "#/$defs/label", "description": "The board's title."},
        },
    }


FEATURE = Feature(key=KEY, check=check, json_schema=json_schema,
                  description="A Kanban board of the records by an enum or workflow state field: "
                              "drag a card to another column to move it.")
