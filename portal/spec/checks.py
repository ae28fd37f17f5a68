"""The ``checks`` entity feature: rules a record must meet whenever it is saved.

::

    checks:
      lines_add_up:                                  # a name, for messages and paths
        rule: "count(lines) == 0 or sum(lines, quantity * unit_price) == amount"
        field: amount                                # optional: where the message shows
        message: {en: The lines must add up to the amount, zh_CN: 明细合计须等于金额}
      remedy_when_overdue:
        when: "instalment.overdue"                   # optional: the rule applies only then
        require: [reason, remedy, next_date]         # these fields must be filled
        message: {en: An overdue instalment needs a reason, a remedy and a next date}
      key_contact:
        rule: "grade != 'A' or count(contact.customer, level == 'KR') > 0"
        level: warning                               # saved anyway; the user is warned

A check has a ``rule`` (a condition that must hold), a ``require`` list (fields that must not
be empty), or both; ``when`` limits it to the records where a condition holds. ``level`` is
``error`` (the default: the save is refused with the message, nothing written) or ``warning``.
Expressions may read linked records and related rows (see :mod:`portal.spec.expressions`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Optional

from portal.spec.conditions import condition
from portal.spec.feature_shapes import label, mapping
from portal.spec.features import Feature
from portal.spec.loader import Path
from portal.spec.model import EntitySpec, Expression, Label, Registry
from portal.spec.report import Reporter
from portal.spec.reserved import NAME_RE
from portal.spec.schemas import describe
from portal.spec.suggest import suggest

KEY = "checks"
CHECK_KEYS = ("rule", "when", "require", "field", "message", "level")
LEVELS = ("error", "warning")


@dataclass(frozen=True)
class CheckSpec:
    """One compiled check."""

    name: str
    message: Label
    rule: Optional[Expression] = None
    when: Optional[Expression] = None
    require: tuple[str, ...] = ()
    field: Optional[str] = None
    level: str = "error"


@dataclass(frozen=True)
class ChecksSpec:
    """Every check of an entity, in declaration order."""

    checks: Mapping[str, CheckSpec] = field(default_factory=lambda: MappingProxyType({}))

    def at_level(self, level: str) -> tuple[CheckSpec, ...]:
        """The checks of ``level`` (``error`` or ``warning``)."""
        return tuple(c for c in self.checks.values() if c.level == level)


def check(entity: EntitySpec, value: Any, rep: Reporter, registry: Registry
          ) -> Optional[ChecksSpec]:
    """Compile the ``checks`` mapping of ``entity``."""
    if not isinstance(value, dict) or not value:
        rep.add((KEY,), "bad-value", f"expected a mapping of check name to check, got "
                                     f"{describe(value)}")
        return None
    found: dict[str, CheckSpec] = {}
    for name, raw in value.items():
        path: Path = (KEY, name)
        if not isinstance(name, str) or not NAME_RE.match(name):
            rep.add(path, "bad-name", f"check name '{name}' must be lowercase letters, digits "
                                      "and underscores", at_key=True)
            continue
        spec = _one(entity, name, raw, path, rep, registry)
        if spec is not None:
            found[name] = spec
    return ChecksSpec(MappingProxyType(found))


def _one(entity: EntitySpec, name: str, raw: Any, path: Path, rep: Reporter,
         registry: Registry) -> Optional[CheckSpec]:
    if not mapping(rep, path, raw, CHECK_KEYS, "a check"):
        return None
    before = len(rep.errors)
    rule = _expression(entity, raw.get("rule"), (*path, "rule"), rep, registry)
    when = _expression(entity, raw.get("when"), (*path, "when"), rep, registry)
    require = _fields(entity, raw.get("require"), (*path, "require"), rep)
    if rule is None and not require and "rule" not in raw and "require" not in raw:
        rep.add(path, "missing-key", f"check '{name}' needs a rule, a require list or both")
    target = raw.get("field")
    if target is not None and (not isinstance(target, str) or target not in entity.fields):
        rep.add((*path, "field"), "unknown-field", f"unknown field {describe(target)}",
                suggest(str(target), entity.fields))
    level = raw.get("level", "error")
    if level not in LEVELS:
        rep.add((*path, "level"), "bad-value", f"expected error or warning, got "
                                               f"{describe(level)}", suggest(str(level), LEVELS))
    default = f"check '{name}' failed" if rule is not None else \
        f"{', '.join(require)} must be filled in"
    message = label(rep, (*path, "message"), raw.get("message"), default)
    if len(rep.errors) > before:
        return None
    return CheckSpec(name=name, message=message, rule=rule, when=when, require=require,
                     field=target, level=level)


def _expression(entity: EntitySpec, raw: Any, path: Path, rep: Reporter,
                registry: Registry) -> Optional[Expression]:
    return None if raw is None else condition(entity, raw, path, rep, registry)


def _fields(entity: EntitySpec, raw: Any, path: Path, rep: Reporter) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        rep.add(path, "bad-value", f"expected a list of fields, got {describe(raw)}")
        return ()
    names = []
    for i, name in enumerate(raw):
        if not isinstance(name, str) or name not in entity.fields:
            rep.add((*path, i), "unknown-field", f"unknown field {describe(name)}",
                    suggest(str(name), entity.fields))
        else:
            names.append(name)
    return tuple(names)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``checks`` for editors."""
    text = {"type": "string"}
    label_ref = {"$ref": "#/$defs/label"}
    return {
        "type": "object", "minProperties": 1, "propertyNames": {"$ref": "#/$defs/name"},
        "additionalProperties": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "rule": {**text, "description": "A condition every saved record must meet."},
                "when": {**text, "description": "The check applies only when this holds."},
                "require": {"type": "array", "items": text, "minItems": 1,
                            "description": "Fields that must be filled in."},
                "field": {**text, "description": "The field the message is shown at."},
                "message": label_ref,
                "level": {"enum": list(LEVELS),
                          "description": "error refuses the save; warning only warns."},
            },
        },
    }


FEATURE = Feature(key=KEY, check=check, json_schema=json_schema,
                  description="Rules a record must meet whenever it is saved (error) or that "
                              "warn the user (warning).")
