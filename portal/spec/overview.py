"""The ``overview`` feature: a 360 page of a record, one tab per related entity.

```yaml
entity: customer
overview:
  label: {en: Customer 360, zh_CN: 客户全景}
  header: [code, name, grade, owner]   # optional: the record's key fields (default: title
                                       # and list columns)
  rows: 10                             # optional: rows shown per tab (1-100, default 10)
  tabs:
    contacts:      {entity: contact}   # the one link field of contact to customer
    opportunities: {entity: opportunity, columns: [name, stage, amount], sum: amount}
    receipts:      {entity: receipt, path: contract.customer}   # two links deep
    follow_ups:    {entity: follow_up, path: [customer, opportunity.customer]}
```

A tab's ``path`` walks link fields from the tab's entity to this one
(:mod:`portal.spec.link_paths`); ``columns`` default to the tab entity's list columns;
``sum`` totals a number field over every related record the viewer may read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Optional

from portal.spec import feature_shapes as shapes
from portal.spec.features import Feature
from portal.spec.link_paths import LinkPath, check_paths
from portal.spec.model import EntitySpec, Label, Registry
from portal.spec.report import Reporter
from portal.spec.suggest import suggest

KEYS = ("label", "header", "rows", "tabs")
TAB_KEYS = ("entity", "label", "path", "columns", "sum")
#: Field types a tab or the header can show as a column (not lists of records, not files).
COLUMN_TYPES = frozenset({"string", "text", "int", "decimal", "money", "bool", "date",
                          "datetime", "enum", "email", "phone", "url", "user", "link", "number"})
NUMBER_TYPES = frozenset({"int", "decimal", "money"})
DEFAULT_ROWS = 10
MAX_ROWS = 100


@dataclass(frozen=True)
class OverviewTab:
    """One tab: records of ``entity`` related to the page's record through ``paths``."""

    name: str
    entity: str
    label: Label
    paths: tuple[LinkPath, ...]
    columns: tuple[str, ...]
    sum: Optional[str] = None


@dataclass(frozen=True)
class OverviewSpec:
    """The 360 page of an entity's records."""

    label: Label
    header: tuple[str, ...]
    rows: int
    tabs: Mapping[str, OverviewTab]


def default_columns(entity: EntitySpec) -> tuple[str, ...]:
    """The list screen's columns (the first six simple fields when the YAML names none),
    keeping those a tab can show."""
    named = [c for c in entity.list.columns if c in entity.fields]
    if not named:
        named = [f.name for f in entity.fields.values()
                 if f.type not in {"children", "many", "text", "file"}][:6]
    return tuple(c for c in named if entity.fields[c].type in COLUMN_TYPES)


def _header(entity: EntitySpec) -> tuple[str, ...]:
    first = (entity.title,) if entity.title in entity.fields else ()
    return tuple(dict.fromkeys((*first, *default_columns(entity))))


def check(entity: EntitySpec, value: Any, rep: Reporter, registry: Registry
          ) -> Optional[OverviewSpec]:
    """Compile an entity's ``overview:`` (see the module docstring)."""
    at = ("overview",)
    if not shapes.mapping(rep, at, value, KEYS, "overview"):
        return None
    if "tabs" not in value:
        rep.add(at, "missing-key", "missing required key 'tabs'")
        return None
    title = shapes.label(rep, (*at, "label"), value.get("label"),
                         f"{entity.label.get('en', entity.name)} 360")
    header = _header(entity)
    if "header" in value:
        header = shapes.field_list(rep, (*at, "header"), value["header"], entity,
                                   COLUMN_TYPES) or header
    rows = value.get("rows", DEFAULT_ROWS)
    if not isinstance(rows, int) or isinstance(rows, bool) or not 1 <= rows <= MAX_ROWS:
        rep.add((*at, "rows"), "bad-value", f"rows is a whole number from 1 to {MAX_ROWS}")
        rows = DEFAULT_ROWS
    tabs = value["tabs"]
    if not isinstance(tabs, dict) or not tabs:
        rep.add((*at, "tabs"), "bad-value", "tabs is a mapping of tab name to "
                                            "{entity, path, columns, sum}")
        return None
    found = {}
    for name, raw in tabs.items():
        tab = _tab(entity, str(name), raw, rep, registry, (*at, "tabs", name))
        if tab is not None:
            found[tab.name] = tab
    return OverviewSpec(title, header, rows, MappingProxyType(found))


def _tab(entity: EntitySpec, name: str, raw: Any, rep: Reporter, registry: Registry,
         at: tuple[Any, ...]) -> Optional[OverviewTab]:
    if raw is None:
        raw = {}
    if not shapes.mapping(rep, at, raw, TAB_KEYS, "a tab"):
        return None
    target_name = raw.get("entity", name)
    target = registry.entities.get(target_name) if isinstance(target_name, str) else None
    if target is None:
        if "entity" in raw:
            rep.add((*at, "entity"), "unknown-ref", f"unknown entity '{target_name}'",
                    suggest(target_name, registry.entities))
        else:
            rep.add(at, "missing-key", f"missing required key 'entity' (tab '{name}' is not "
                                       f"an entity name)", suggest(name, registry.entities))
        return None
    paths = check_paths(target, raw.get("path"), entity, registry, rep, (*at, "path"))
    columns = default_columns(target)
    if "columns" in raw:
        columns = shapes.field_list(rep, (*at, "columns"), raw["columns"], target,
                                    COLUMN_TYPES, shapes.SYSTEM_DATES) or columns
    total = None
    if "sum" in raw:
        total = shapes.field_name(rep, (*at, "sum"), raw["sum"], target, NUMBER_TYPES)
    label = shapes.label(rep, (*at, "label"), raw.get("label"), "")
    if not label.texts:
        label = target.label
    if paths is None:
        return None
    return OverviewTab(name, target.name, label, paths, columns, total)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``overview:`` for editors."""
    path = {"description": "Link fields walked from the tab's entity to this one, dotted "
                           "(contract.customer); a list relates through any of them",
            "oneOf": [{"type": "string"},
                      {"type": "array", "items": {"type": "string"}, "minItems": 1}]}
    fields = {"type": "array", "items": {"type": "string"}, "minItems": 1}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["tabs"],
        "properties": {
            "label": {"$ref": "#/$defs/label"},
            "header": {**fields, "description": "The record's key fields shown above the tabs"},
            "rows": {"type": "integer", "minimum": 1, "maximum": MAX_ROWS,
                     "description": "Rows shown per tab (the rest: see all)"},
            "tabs": {
                "type": "object", "minProperties": 1,
                "additionalProperties": {
                    "type": ["object", "null"],
                    "additionalProperties": False,
                    "properties": {
                        "entity": {"type": "string", "description": "Default: the tab name"},
                        "label": {"$ref": "#/$defs/label"},
                        "path": path,
                        "columns": {**fields, "description": "Default: the list columns"},
                        "sum": {"type": "string",
                                "description": "A number field totalled over the tab"},
                    },
                },
            },
        },
    }


FEATURE = Feature(key="overview", check=check, json_schema=json_schema,
                  description="A 360 page: one tab per related entity, with counts and totals")
