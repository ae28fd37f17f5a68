"""Lossless conversions of stored values when a field's type or size changes.

A conversion is a function from the old value to the new one that raises :class:`Lossy`
with the reason when the value cannot be kept exactly (a string too long for the new size,
"12.5" into an integer, a removed enum value). A migration runs it over every row before
changing anything, and lists the rows that fail.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

from portal.spec.model import DEFAULT_TEXT_LENGTHS

#: Field types stored as text.
TEXT_TYPES = frozenset({"string", "email", "phone", "url", "enum", "text", "number"})
#: Field types stored as a reference to another row: never converted.
REFERENCE_TYPES = frozenset({"link", "user", "file", "children", "many"})
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})
INTEGER = re.compile(r"^[+-]?\d+$")

Conversion = Callable[[Any], Any]


class Lossy(ValueError):
    """The value cannot be converted exactly; the message says why."""


class Unsupported(Exception):
    """No lossless conversion exists between the two types."""


def text_limit(field: Mapping[str, Any]) -> Optional[int]:
    """The most characters a text field's column holds (None: unlimited)."""
    if field["type"] == "text":
        return None
    return field.get("length") or DEFAULT_TEXT_LENGTHS.get(field["type"])


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def _decimal(value: Any, scale: int, digits: int) -> Decimal:
    if isinstance(value, bool):
        raise Lossy("a yes/no value is not a number")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise Lossy("not a number") from None
    if not number.is_finite():
        raise Lossy("not a number")
    quantum = Decimal(1).scaleb(-scale)
    if number != number.quantize(quantum):
        raise Lossy(f"has more than {scale} decimal places")
    if number != 0 and number.adjusted() + 1 > digits - scale:
        raise Lossy(f"has more than {digits - scale} digits before the decimal point")
    return number.quantize(quantum)


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise Lossy("has decimal places")
        return int(value)
    text = str(value).strip()
    if not INTEGER.match(text):
        raise Lossy("not a whole number")
    return int(text)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal)) and value in (0, 1):
        return bool(value)
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise Lossy("not a yes/no value")


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        if value.time() != dt.time():
            raise Lossy("has a time of day")
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise Lossy("not a date (YYYY-MM-DD)") from None


def _datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    try:
        return dt.datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise Lossy("not a date and time (YYYY-MM-DD HH:MM)") from None


def conversion(old: Mapping[str, Any], new: Mapping[str, Any]) -> Optional[Conversion]:
    """The conversion of stored values from field shape ``old`` to ``new`` (snapshots),
    None when the values stay as they are. Raises :class:`Unsupported` when there is no
    lossless way (references, or types with nothing in common)."""
    before, after = old["type"], new["type"]
    if before in REFERENCE_TYPES or after in REFERENCE_TYPES:
        if before == after and old.get("target") == new.get("target"):
            return None
        raise Unsupported(f"a {before} field cannot become a {after} field; add a new field "
                          "and move the values instead")
    if after in TEXT_TYPES:
        if before in TEXT_TYPES and (text_limit(new) is None or (
                text_limit(old) is not None and text_limit(old) <= text_limit(new))) \
                and (after != "enum" or (before == "enum" and
                                         set(old["values"]) <= set(new["values"]))):
            return None  # it fits as it is
        limit, values = text_limit(new), tuple(new["values"]) if after == "enum" else ()

        def to_text(value: Any) -> str:
            text = _as_text(value)
            if limit is not None and len(text) > limit:
                raise Lossy(f"{len(text)} characters, more than {limit}")
            if values and text not in values:
                raise Lossy(f"not one of the values {', '.join(values)}")
            return text
        return to_text
    if after in {"decimal", "money"}:
        scale, digits = new.get("scale") or 2, new.get("digits") or 18
        if before == after and (old.get("scale") or 2, old.get("digits") or 18) == \
                (scale, digits):
            return None
        if before in TEXT_TYPES | {"int", "decimal", "money"}:
            return lambda value: _decimal(value, scale, digits)
    if after == "int":
        if before == "int":
            return None
        if before in TEXT_TYPES | {"decimal", "money", "bool"}:
            return _integer
    if after == "bool":
        if before == "bool":
            return None
        if before in TEXT_TYPES | {"int"}:
            return _boolean
    if after == "date":
        if before == "date":
            return None
        if before in TEXT_TYPES | {"datetime"}:
            return _date
    if after == "datetime":
        if before == "datetime":
            return None
        if before in TEXT_TYPES | {"date"}:
            return _datetime
    raise Unsupported(f"a {before} field cannot become a {after} field without losing "
                      "values; add a new field instead")
