"""The ``defaults`` entity feature: values a new record gets when a condition holds.

::

    entity: ticket
    defaults:
      - field: priority
        value: high
        when: "customer.grade == 'A'"
      - field: priority
        value: low
        when: "customer.grade == 'C'"

When a record is created (form, REST, import, a workflow's create effect) and ``field`` was
not given or holds its plain default (the field's own ``default``, or nothing), the first rule
of that field whose ``when`` holds sets ``value``. Values are written as a field's ``default``
is (an enum value, a number, ``today``, ``current_user``, ...) and checked against the field;
conditions may read linked records (``customer.grade``) and related rows (``count(...)``).
The add form asks for the values again whenever a field a condition reads changes.

Errors are reported at ``defaults.<n>`` with the codes ``unknown-key``, ``missing-key``,
``bad-value``, ``unknown-field``, ``bad-field`` (a field no value can be written to),
``bad-default`` and the expression codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from portal.spec.conditions import condition
from portal.spec.expressions import BUILTIN_NAMES
from portal.spec.feature_shapes import field_name, mapping
from portal.spec.features import Feature
from portal.spec.fielddefs import FieldBuilder
from portal.spec.loader import Path
from portal.spec.model import TEXT_TYPES, DefaultValue, EntitySpec, Expression, Registry
from portal.spec.report import Reporter
from portal.spec.schemas import describe

KEY = "defaults"
RULE_KEYS = ("field", "value", "when")
#: Field types a rule can set (a value written in YAML means something for them).
SETTABLE = frozenset({"string", "text", "int", "decimal", "money", "bool", "date",
                      "datetime", "enum", "email", "phone", "url", "user", "link"})


@dataclass(frozen=True)
class DefaultRule:
    """``field`` gets ``value`` on a new record when ``when`` holds."""

    field: str
    value: DefaultValue
    when: Expression


@dataclass(frozen=True)
class DefaultsSpec:
    """An entity's conditional defaults, in declaration order (the first that holds wins)."""

    rules: tuple[DefaultRule, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields the rules set, in order of their first rule."""
        return tuple(dict.fromkeys(rule.field for rule in self.rules))

    def triggers(self, entity: EntitySpec) -> tuple[str, ...]:
        """The record's own fields the conditions read (a link for ``customer.grade``): when
        one changes on the add form, the values are asked for again."""
        names: dict[str, None] = {}
        for rule in self.rules:
            heads = [*sorted(rule.when.names - BUILTIN_NAMES),
                     *sorted(path[0] for path in rule.when.paths)]
            for name in heads:
                f = entity.fields.get(name)
                if f is not None and f.is_column and name not in self.fields:
                    names[name] = None
        return tuple(names)


class _ValueBuilder(FieldBuilder):
    """Reads a rule's ``value`` as the field's ``default`` would be read."""

    default_option = "value"


def check(entity: EntitySpec, value: Any, rep: Reporter, registry: Registry
          ) -> Optional[DefaultsSpec]:
    """Compile the ``defaults`` list of ``entity``."""
    if not isinstance(value, list) or not value:
        rep.add((KEY,), "bad-value", "expected a list of rules {field, value, when}, got "
                                     f"{describe(value)}")
        return None
    rules = [_rule(entity, i, raw, rep, registry) for i, raw in enumerate(value)]
    if any(rule is None for rule in rules):
        return None
    return DefaultsSpec(tuple(r for r in rules if r is not None))


def _rule(entity: EntitySpec, index: int, raw: Any, rep: Reporter, registry: Registry
          ) -> Optional[DefaultRule]:
    path: Path = (KEY, index)
    if not mapping(rep, path, raw, RULE_KEYS, "a default rule"):
        return None
    before = len(rep.errors)
    for key in RULE_KEYS:
        if key not in raw:
            rep.add(path, "missing-key", f"a default rule needs '{key}'")
    name = field_name(rep, (*path, "field"), raw["field"], entity, set(SETTABLE)) \
        if "field" in raw else None
    default: DefaultValue = None
    if name is not None and "value" in raw:
        default = _value(entity, name, raw["value"], path, rep)
    when = _condition(entity, raw.get("when"), (*path, "when"), rep, registry) \
        if "when" in raw else None
    if len(rep.errors) > before or name is None or when is None:
        return None
    return DefaultRule(field=name, value=default, when=when)


def _value(entity: EntitySpec, name: str, raw: Any, path: Path, rep: Reporter
           ) -> DefaultValue:
    f = entity.fields[name]
    if raw is None:
        rep.add((*path, "value"), "bad-value", "expected a value (a rule that sets nothing "
                                               "does nothing)")
        return None
    options = {"values": f.values, "scale": f.scale, "digits": f.digits}
    value = _ValueBuilder(rep, path, name, f.pos).default_value(f.type, raw, options)
    if f.type in TEXT_TYPES and isinstance(value, str) and f.max_length is not None \
            and len(value) > f.max_length:
        rep.add((*path, "value"), "bad-default",
                f"'{value}' is longer than '{name}' allows ({f.max_length} characters)")
    return value


def _condition(entity: EntitySpec, raw: Any, path: Path, rep: Reporter,
               registry: Registry) -> Optional[Expression]:
    return condition(entity, raw, path, rep, registry)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``defaults`` for editors."""
    return {
        "type": "array", "minItems": 1,
        "items": {
            "type": "object", "additionalProperties": False,
            "required": list(RULE_KEYS),
            "properties": {
                "field": {"type": "string", "description": "The field the rule sets."},
                "value": {"type": ["string", "number", "boolean"],
                          "description": "Written as the field's default (an enum value, a "
                                         "number, today, current_user, ...)."},
                "when": {"type": "string", "description": "The condition (it may read linked "
                         "records, e.g. customer.grade == 'A')."},
            },
        },
    }


FEATURE = Feature(key=KEY, check=check, json_schema=json_schema,
                  description="Values a new record gets when a condition holds and the field "
                              "was left at its plain default (e.g. an A-class customer's "
                              "tickets default to high priority).")
