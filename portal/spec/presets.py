"""The ``presets`` entity feature: named quick filters, shown as buttons above the list.

::

    presets:
      delivery_30d:
        label: {en: Delivery within 30 days, zh_CN: 30天内交付}
        where: {delivery_date: {from: today, to: today+30}, status: {in: [signed]}}
      mine:
        label: My open deals
        where: {owner: {is: current_user}, closed_on: {empty: true}}

``where`` maps fields to a condition; every condition must hold. A condition is one of
``{is: value}`` (equal), ``{in: [values]}``, ``{from: a, to: b}`` (inclusive; either end may be
left out) and ``{empty: true|false}``; ``field: value`` is short for ``is`` and ``field:
[values]`` for ``in``. ``from``/``to`` fit ordered fields (numbers, money, dates); dates are
written ``2024-06-30``, ``today``, ``today+30`` or ``today-7`` (counted from the day the list
is read); a user field takes ``current_user`` (the reader); a link or file field takes only
``empty``. The list screen applies a preset with ``?preset=<name>``, and so does the REST list.
Errors are reported at ``presets.<name>.where.<field>`` with the codes ``unknown-field``,
``unknown-key``, ``missing-key``, ``bad-value``, ``unknown-value`` (not a value of the enum)
and ``bad-operator`` (an operator the field's type does not take).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Optional, Union

from portal.spec.feature_shapes import label, mapping
from portal.spec.features import Feature
from portal.spec.labels import humanize
from portal.spec.loader import Path
from portal.spec.model import ORDERED_TYPES, TEXT_TYPES, EntitySpec, Label, Registry
from portal.spec.report import Reporter
from portal.spec.reserved import NAME_RE
from portal.spec.schemas import describe
from portal.spec.suggest import suggest

KEY = "presets"
PRESET_KEYS = ("label", "where")
OPERATORS = ("is", "in", "from", "to", "empty")
#: The system columns a preset may name, typed as the fields they behave like.
SYSTEM_TYPES: Mapping[str, str] = MappingProxyType({
    "created_at": "datetime", "updated_at": "datetime", "created_by": "user",
    "updated_by": "user"})
#: Types whose condition is only ``empty`` (a stored id means nothing in YAML).
ONLY_EMPTY = frozenset({"link", "file"})
#: Types a preset cannot filter on (not one value of the row).
NOT_FILTERABLE = frozenset({"children", "many"})
#: The value that stands for the reader in a user field.
CURRENT_USER = "current_user"
_RELATIVE = re.compile(r"^today\s*(?:([+-])\s*(\d{1,5}))?$")


@dataclass(frozen=True)
class RelativeDate:
    """``today``, ``today+30``, ``today-7``: a date counted from the day the list is read."""

    days: int = 0

    def on(self, today: dt.date) -> dt.date:
        """The date this stands for when the list is read on ``today``."""
        return today + dt.timedelta(days=self.days)


@dataclass(frozen=True)
class CurrentUser:
    """``current_user``: the user reading the list."""


#: A compiled value: text, number, bool, a fixed or relative date, or the reader.
PresetValue = Union[str, int, bool, Decimal, dt.date, RelativeDate, CurrentUser]


@dataclass(frozen=True)
class FieldCondition:
    """What one field must meet. ``op`` is ``is``, ``in``, ``range`` (``start``/``end``,
    inclusive, either may be None) or ``empty`` (``empty`` says whether it must be)."""

    field: str
    type: str
    op: str
    values: tuple[PresetValue, ...] = ()
    start: Optional[PresetValue] = None
    end: Optional[PresetValue] = None
    empty: bool = True


@dataclass(frozen=True)
class PresetSpec:
    """One named quick filter: every condition of ``where`` must hold."""

    name: str
    label: Label
    where: tuple[FieldCondition, ...]

    @property
    def fields(self) -> frozenset[str]:
        """The fields the preset reads."""
        return frozenset(c.field for c in self.where)


@dataclass(frozen=True)
class PresetsSpec:
    """An entity's presets, in declaration order (the order of the buttons)."""

    presets: Mapping[str, PresetSpec]


def check(entity: EntitySpec, value: Any, rep: Reporter, registry: Registry
          ) -> Optional[PresetsSpec]:
    """Compile the ``presets`` mapping of ``entity`` (None when it has errors)."""
    if not isinstance(value, dict) or not value:
        rep.add((KEY,), "bad-value", f"expected a mapping of preset name to preset (label, "
                                     f"where), got {describe(value)}")
        return None
    before = len(rep.errors)
    found: dict[str, PresetSpec] = {}
    for name, raw in value.items():
        path: Path = (KEY, name)
        if not isinstance(name, str) or not NAME_RE.match(name):
            rep.add(path, "bad-name", f"preset name '{name}' must be lowercase letters, "
                                      "digits and underscores", at_key=True)
            continue
        spec = _preset(entity, name, raw, path, rep)
        if spec is not None:
            found[name] = spec
    if len(rep.errors) > before:
        return None
    return PresetsSpec(MappingProxyType(found))


def _preset(entity: EntitySpec, name: str, raw: Any, path: Path, rep: Reporter
            ) -> Optional[PresetSpec]:
    if not mapping(rep, path, raw, PRESET_KEYS, "a preset"):
        return None
    text = label(rep, (*path, "label"), raw.get("label"), humanize(name))
    where = raw.get("where")
    if "where" not in raw:
        rep.add(path, "missing-key", f"preset '{name}' needs 'where' (the fields it filters)")
        return None
    if not isinstance(where, dict) or not where:
        rep.add((*path, "where"), "bad-value", f"expected a mapping of field to condition, got "
                                               f"{describe(where)}")
        return None
    conditions = [_condition(entity, str(f), cond, (*path, "where", f), rep)
                  for f, cond in where.items()]
    if any(c is None for c in conditions):
        return None
    return PresetSpec(name=name, label=text, where=tuple(c for c in conditions if c))


def _field_type(entity: EntitySpec, name: str, path: Path, rep: Reporter) -> Optional[str]:
    f = entity.fields.get(name)
    if f is None and name not in SYSTEM_TYPES:
        rep.add(path, "unknown-field", f"unknown field '{name}' of '{entity.name}'",
                suggest(name, [*entity.fields, *SYSTEM_TYPES]), at_key=True)
        return None
    kind = f.type if f is not None else SYSTEM_TYPES[name]
    if kind in NOT_FILTERABLE:
        rep.add(path, "bad-ref", f"'{name}' is a {kind} field: a preset filters on the "
                                 "record's own values", at_key=True)
        return None
    return kind


def _condition(entity: EntitySpec, name: str, raw: Any, path: Path, rep: Reporter
               ) -> Optional[FieldCondition]:
    kind = _field_type(entity, name, path, rep)
    if kind is None:
        return None
    if not isinstance(raw, dict):  # the short forms: a value (is) or a list (in)
        raw = {"in": raw} if isinstance(raw, list) else {"is": raw}
        short = True
    else:
        short = False
    here = (lambda op: path) if short else (lambda op: (*path, op))
    before = len(rep.errors)
    for op in raw:
        if op not in OPERATORS:
            rep.add((*path, op), "unknown-key", f"unknown condition '{op}' (use "
                    f"{', '.join(OPERATORS)})", suggest(str(op), OPERATORS), at_key=True)
    ops = [op for op in OPERATORS if op in raw]
    if not ops:
        if len(rep.errors) == before:
            rep.add(path, "missing-key", f"a condition of '{name}' needs one of "
                                         f"{', '.join(OPERATORS)}")
        return None
    if len(ops) > 1 and set(ops) != {"from", "to"}:
        rep.add(path, "bad-value", f"'{name}' has {' and '.join(ops)}: use one of is, in, "
                                   "empty, or from/to")
        return None
    op = ops[0]
    if op != "empty" and not _operator_fits(entity, name, kind, op, here(op), rep):
        return None
    field = entity.fields.get(name)
    values = field.values if field is not None and kind == "enum" else ()
    scale = field.scale if field is not None else 0
    if op == "empty":
        if not isinstance(raw["empty"], bool):
            rep.add(here(op), "bad-value", f"expected true or false, got "
                                           f"{describe(raw['empty'])}")
            return None
        return FieldCondition(name, kind, "empty", empty=raw["empty"])
    if op == "is":
        value = _value(raw["is"], kind, values, scale, here(op), rep)
        return None if value is None else FieldCondition(name, kind, "is", (value,))
    if op == "in":
        items = raw["in"]
        if not isinstance(items, list) or not items:
            rep.add(here(op), "bad-value", f"expected a list of values, got {describe(items)}")
            return None
        found = [_value(v, kind, values, scale, (*here(op), i), rep)
                 for i, v in enumerate(items)]
        if any(v is None for v in found):
            return None
        return FieldCondition(name, kind, "in", tuple(v for v in found if v is not None))
    start = _value(raw["from"], kind, values, scale, (*path, "from"), rep) \
        if "from" in raw else None
    end = _value(raw["to"], kind, values, scale, (*path, "to"), rep) if "to" in raw else None
    if len(rep.errors) > before:
        return None
    if _after(start, end):
        rep.add((*path, "from"), "bad-value", f"'from' ({describe(raw['from'])}) is after "
                                              f"'to' ({describe(raw['to'])})")
        return None
    return FieldCondition(name, kind, "range", start=start, end=end)


def _operator_fits(entity: EntitySpec, name: str, kind: str, op: str, path: Path,
                   rep: Reporter) -> bool:
    if kind in ONLY_EMPTY:
        rep.add(path, "bad-operator", f"'{name}' is a {kind} field: a preset can only ask "
                                      "whether it is empty (empty: true or false)")
        return False
    if op in ("from", "to") and kind not in ORDERED_TYPES:
        rep.add(path, "bad-operator", f"'{op}' needs a number, money or date field; '{name}' "
                                      f"is a {kind} field (use is or in)")
        return False
    if op == "in" and kind in ("bool", "user"):
        rep.add(path, "bad-operator", f"'{name}' is a {kind} field: use is")
        return False
    return True


def _value(raw: Any, kind: str, values: tuple[str, ...], scale: int, path: Path,
           rep: Reporter) -> Optional[PresetValue]:
    """``raw`` as a value of a field of type ``kind`` (None after reporting why not)."""
    if kind in ("date", "datetime"):
        return _date(raw, path, rep)
    if kind == "user":
        if raw != CURRENT_USER:
            rep.add(path, "bad-value", f"a user field takes current_user (the reader), got "
                                       f"{describe(raw)}")
            return None
        return CurrentUser()
    if kind == "bool":
        if not isinstance(raw, bool):
            rep.add(path, "bad-value", f"expected true or false, got {describe(raw)}")
            return None
        return raw
    if kind == "int":
        if isinstance(raw, bool) or not isinstance(raw, int):
            rep.add(path, "bad-value", f"expected a whole number, got {describe(raw)}")
            return None
        return raw
    if kind in ("decimal", "money"):
        return _decimal(raw, scale, path, rep)
    if kind == "enum":
        if raw not in values:
            rep.add(path, "unknown-value", f"{describe(raw)} is not a value of the field "
                                           f"({', '.join(values)})", suggest(raw, values))
            return None
        return str(raw)
    if kind in TEXT_TYPES or kind == "number":
        if isinstance(raw, bool) or not isinstance(raw, (str, int)):
            rep.add(path, "bad-value", f"expected a text, got {describe(raw)}")
            return None
        return str(raw)
    rep.add(path, "bad-operator", f"a {kind} field cannot be compared with a value")
    return None


def _decimal(raw: Any, scale: int, path: Path, rep: Reporter) -> Optional[Decimal]:
    try:
        if isinstance(raw, bool) or not isinstance(raw, (int, Decimal, str)):
            raise InvalidOperation
        number = Decimal(str(raw))
        if not number.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        rep.add(path, "bad-value", f"expected a number, got {describe(raw)}")
        return None
    if number != number.quantize(Decimal(1).scaleb(-scale)):
        rep.add(path, "bad-value", f"'{raw}' has more than {scale} decimal places")
        return None
    return number


def _date(raw: Any, path: Path, rep: Reporter) -> Optional[Union[dt.date, RelativeDate]]:
    text = raw.strip() if isinstance(raw, str) else None
    match = _RELATIVE.match(text) if text is not None else None
    if match is not None:
        sign, days = match.groups()
        return RelativeDate(int(days or 0) * (-1 if sign == "-" else 1))
    try:
        if text is None or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        rep.add(path, "bad-value", f"{describe(raw)} is not a date (write 2024-06-30, today, "
                                   "today+30 or today-7)")
        return None


def _after(start: Optional[PresetValue], end: Optional[PresetValue]) -> bool:
    """True when both ends are known alike and ``start`` comes after ``end``."""
    if isinstance(start, RelativeDate) and isinstance(end, RelativeDate):
        return start.days > end.days
    if isinstance(start, (RelativeDate, CurrentUser)) or isinstance(end, (RelativeDate,
                                                                           CurrentUser)):
        return False
    if start is None or end is None or type(start) is not type(end):
        return False
    return bool(start > end)  # type: ignore[operator]


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``presets`` for editors."""
    value = {"type": ["string", "number", "boolean"],
             "description": "A value; dates as 2024-06-30, today, today+30 or today-7; "
                            "current_user for a user field."}
    condition = {"anyOf": [
        value,
        {"type": "array", "minItems": 1, "items": value, "description": "One of these."},
        {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": {
            "is": {**value, "description": "Equal to this value."},
            "in": {"type": "array", "minItems": 1, "items": value,
                   "description": "One of these values."},
            "from": {**value, "description": "At least this (inclusive)."},
            "to": {**value, "description": "At most this (inclusive)."},
            "empty": {"type": "boolean", "description": "Whether the field is empty."},
        }},
    ]}
    preset = {
        "type": "object", "additionalProperties": False, "required": ["where"],
        "properties": {
            "label": {"$ref": "#/$defs/label", "description": "The button's text."},
            "where": {"type": "object", "minProperties": 1, "additionalProperties": condition,
                      "description": "Field -> condition; every one must hold."},
        },
    }
    return {"type": "object", "minProperties": 1, "propertyNames": {"$ref": "#/$defs/name"},
            "additionalProperties": preset}


FEATURE = Feature(key=KEY, check=check, json_schema=json_schema,
                  description="Named quick filters shown as buttons above the list (and "
                              "?preset=<name> on the list screen and the REST list).")
