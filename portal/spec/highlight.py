"""The ``highlight`` entity feature: rows coloured by a condition on list screens.

::

    highlight:
      - when: "due_date < today and outstanding > 0"
        style: danger                      # danger | warning | success | info
        label: {en: Overdue, zh_CN: 已逾期}   # optional: a badge on the record's page
      - when: "due_date == today"
        style: warning
        label: Due today

The first rule whose condition holds gives the row its style (a Bootstrap contextual class:
red for ``danger``) and its label; the REST list and item carry it as ``highlight``. A
condition reads the record's own fields, fields of linked records (``customer.grade``) and
``today``. Functions over related records (``count``, ``sum``...) are refused: the condition is
evaluated for every listed row, and each such function would cost queries per row (keep such a
number in a stored field instead). Errors are reported at ``highlight.<n>.<key>`` with the codes
``bad-value``, ``missing-key``, ``unknown-key``, ``bad-expression``, ``unknown-field`` and
``bad-ref``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from portal.spec.conditions import condition
from portal.spec.feature_shapes import label, mapping
from portal.spec.features import Feature
from portal.spec.loader import Path
from portal.spec.model import EntitySpec, Expression, Label, Registry
from portal.spec.report import Reporter
from portal.spec.schemas import describe
from portal.spec.suggest import suggest

KEY = "highlight"
RULE_KEYS = ("when", "style", "label")
#: The styles a rule may give a row, as Bootstrap names its contextual classes.
STYLES = ("danger", "warning", "success", "info")


@dataclass(frozen=True)
class HighlightRule:
    """One rule: when ``when`` holds, the row takes ``style`` and shows ``label`` (if any)."""

    when: Expression
    style: str
    label: Optional[Label] = None


@dataclass(frozen=True)
class HighlightSpec:
    """An entity's highlight rules, in order: the first that holds wins."""

    rules: tuple[HighlightRule, ...]


def check(entity: EntitySpec, value: Any, rep: Reporter, registry: Registry
          ) -> Optional[HighlightSpec]:
    """Compile the ``highlight`` list of ``entity`` (None when it has errors)."""
    if isinstance(value, dict):  # one rule written without the list
        value = [value]
    if not isinstance(value, list) or not value:
        rep.add((KEY,), "bad-value", f"expected a list of rules (when, style, label), got "
                                     f"{describe(value)}")
        return None
    before = len(rep.errors)
    rules = [_rule(entity, raw, (KEY, i), rep, registry) for i, raw in enumerate(value)]
    if len(rep.errors) > before:
        return None
    return HighlightSpec(tuple(r for r in rules if r is not None))


def _rule(entity: EntitySpec, raw: Any, path: Path, rep: Reporter, registry: Registry
          ) -> Optional[HighlightRule]:
    if not mapping(rep, path, raw, RULE_KEYS, "a highlight rule"):
        return None
    for key in ("when", "style"):
        if key not in raw:
            rep.add(path, "missing-key", f"a highlight rule needs '{key}'")
    when = _condition(entity, raw.get("when"), (*path, "when"), rep, registry)
    style = raw.get("style")
    if "style" in raw and style not in STYLES:
        rep.add((*path, "style"), "bad-value", f"unknown style {describe(style)} (use "
                                               f"{', '.join(STYLES)})", suggest(style, STYLES))
    text = label(rep, (*path, "label"), raw.get("label"), "") if "label" in raw else None
    if when is None or style not in STYLES:
        return None
    return HighlightRule(when=when, style=str(style), label=text)


def _condition(entity: EntitySpec, raw: Any, path: Path, rep: Reporter, registry: Registry
               ) -> Optional[Expression]:
    if raw is None:
        return None
    return condition(entity, raw, path, rep, registry, no_aggregates=(
        "functions over related records are not allowed in a highlight, which is evaluated "
        "for every listed row (keep the number in a stored field and compare that)"))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``highlight`` for editors."""
    rule = {
        "type": "object", "additionalProperties": False, "required": ["when", "style"],
        "properties": {
            "when": {"type": "string", "description": "A condition on the record's fields, "
                     "linked records' fields and today (no count/sum over related rows)."},
            "style": {"enum": list(STYLES), "description": "The row's colour: danger is red."},
            "label": {"$ref": "#/$defs/label",
                      "description": "Shown as a badge on the record's page."},
        },
    }
    return {"anyOf": [rule, {"type": "array", "minItems": 1, "items": rule}]}


FEATURE = Feature(key=KEY, check=check, json_schema=json_schema,
                  description="Rows coloured on list screens by the first rule whose condition "
                              "holds (an overdue instalment in red), with a badge on the "
                              "record's page.")
