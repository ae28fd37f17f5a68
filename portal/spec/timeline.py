"""The ``timeline`` feature: related activity records on a record's page, newest first.

```yaml
entity: customer
timeline:
  follow_up: {date: happened_at, title: method, text: detail,
              path: [customer, opportunity.customer]}
  ticket:    {date: created_at, title: subject}   # path left out: ticket's one link here
```

Each key is an entity whose records are activities of this one, related through ``path``
(:mod:`portal.spec.link_paths`). ``date`` orders them (a date or datetime field, or
``created_at``/``updated_at``; default ``created_at``), ``title`` (default: the entity's
title field) and ``text`` are shown for each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Optional

from portal.spec import feature_shapes as shapes
from portal.spec.features import Feature
from portal.spec.link_paths import LinkPath, check_paths
from portal.spec.model import EntitySpec, Registry
from portal.spec.report import Reporter
from portal.spec.suggest import suggest

KEYS = ("path", "date", "title", "text")
DATE_TYPES = frozenset({"date", "datetime"})
#: Types shown as a title or text (a related record's own values, not other records).
TEXT_TYPES = frozenset({"string", "text", "int", "decimal", "money", "bool", "date",
                        "datetime", "enum", "email", "phone", "url", "number"})


@dataclass(frozen=True)
class TimelineSource:
    """Records of ``entity`` related through ``paths``, dated by ``date``."""

    entity: str
    paths: tuple[LinkPath, ...]
    date: str
    title: Optional[str] = None
    text: Optional[str] = None


@dataclass(frozen=True)
class TimelineSpec:
    """The activity sources of an entity's timeline, by entity name."""

    sources: Mapping[str, TimelineSource]


def check(entity: EntitySpec, value: Any, rep: Reporter, registry: Registry
          ) -> Optional[TimelineSpec]:
    """Compile an entity's ``timeline:`` (see the module docstring)."""
    at = ("timeline",)
    if not isinstance(value, dict) or not value:
        rep.add(at, "bad-value", "timeline is a mapping of entity name to {path, date, title, "
                                 "text}")
        return None
    found = {}
    for name, raw in value.items():
        source = registry.entities.get(name) if isinstance(name, str) else None
        if source is None:
            rep.add((*at, name), "unknown-ref", f"unknown entity '{name}'",
                    suggest(name, registry.entities), at_key=True)
            continue
        one = _source(entity, source, {} if raw is None else raw, rep, registry,
                      (*at, name))
        if one is not None:
            found[name] = one
    return TimelineSpec(MappingProxyType(found))


def _source(entity: EntitySpec, source: EntitySpec, raw: Any, rep: Reporter,
            registry: Registry, at: tuple[Any, ...]) -> Optional[TimelineSource]:
    if not shapes.mapping(rep, at, raw, KEYS, "a timeline source"):
        return None
    paths = check_paths(source, raw.get("path"), entity, registry, rep, (*at, "path"))
    date = shapes.field_name(rep, (*at, "date"), raw.get("date", "created_at"), source,
                             DATE_TYPES, shapes.SYSTEM_DATES)
    title = source.title if source.title in source.fields and \
        source.fields[source.title].type in TEXT_TYPES else None
    if "title" in raw:
        title = shapes.field_name(rep, (*at, "title"), raw["title"], source, TEXT_TYPES)
    text = None
    if "text" in raw:
        text = shapes.field_name(rep, (*at, "text"), raw["text"], source, TEXT_TYPES)
    if paths is None or date is None:
        return None
    return TimelineSource(source.name, paths, date, title, text)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``timeline:`` for editors."""
    return {
        "type": "object",
        "minProperties": 1,
        "description": "Entity name -> how its records show on this record's timeline",
        "additionalProperties": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "properties": {
                "path": {"description": "Link fields walked from that entity to this one, "
                                        "dotted; a list relates through any of them",
                         "oneOf": [{"type": "string"},
                                   {"type": "array", "items": {"type": "string"},
                                    "minItems": 1}]},
                "date": {"type": "string",
                         "description": "A date or datetime field, or created_at (default)"},
                "title": {"type": "string", "description": "Default: the entity's title"},
                "text": {"type": "string"},
            },
        },
    }


FEATURE = Feature(key="timeline", check=check, json_schema=json_schema,
                  description="Related activity records on the record's page, newest first")
