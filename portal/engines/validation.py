"""Field checks from the compiled definitions, shared by forms, the REST API and imports.

One function decides whether a value is acceptable for a field; the form and API layers only
adapt its messages, so a value refused on screen is refused by the API with the same words.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

from portal.spec.model import EntitySpec, FieldSpec

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{2,39}$")
#: Types a person types into a box: empty text counts as no value.
_EMPTY = (None, "", (), frozenset())


def is_empty(value: Any) -> bool:
    """True for None, empty text and empty collections."""
    if isinstance(value, (list, tuple, set, frozenset)):
        return not value
    return value in _EMPTY or (isinstance(value, str) and not value.strip())


def check_value(f: FieldSpec, value: Any) -> Optional[str]:
    """The reason ``value`` is not acceptable for ``f``, or None when it is."""
    if is_empty(value):
        if f.required and f.type not in {"number", "bool", "children", "many"}:
            return "this field is required"
        return None
    if f.type in {"string", "text", "email", "phone", "url"}:
        return _check_text(f, str(value))
    if f.type == "enum" and str(value) not in f.values:
        return f"'{value}' is not one of: {', '.join(f.values)}"
    if f.type in {"int", "decimal", "money"}:
        return _check_number(f, value)
    if f.type in {"date", "datetime"}:
        return _check_date(f, value)
    return None


def _check_text(f: FieldSpec, text: str) -> Optional[str]:
    size = len(text)
    limit = f.max_length or (255 if f.type == "string" else None)
    if f.length is not None and size != f.length:
        return f"must be exactly {f.length} characters"
    if limit is not None and size > limit:
        return f"must be at most {limit} characters (got {size})"
    if f.min_length is not None and size < f.min_length:
        return f"must be at least {f.min_length} characters"
    if f.type == "email" and not EMAIL.match(text):
        return f"'{text}' is not a valid email address"
    if f.type == "url" and not URL.match(text):
        return f"'{text}' is not a valid http(s) address"
    if f.type == "phone" and not f.pattern and not PHONE.match(text):
        return f"'{text}' is not a valid phone number"
    if f.pattern and not re.fullmatch(f.pattern, text):
        return f"'{text}' does not match the pattern {f.pattern}"
    return None


def _check_number(f: FieldSpec, value: Any) -> Optional[str]:
    if isinstance(value, bool):
        return f"'{value}' is not a number"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return f"'{value}' is not a number"
    if not number.is_finite():
        return f"'{value}' is not a number"
    if f.type == "int" and number != number.to_integral_value():
        return f"'{value}' is not a whole number"
    if f.type in {"decimal", "money"}:
        scale = 2 if f.type == "money" else f.scale
        digits = 18 if f.type == "money" else f.digits
        if number != number.quantize(Decimal(1).scaleb(-scale)):
            return f"'{value}' has more than {scale} decimal places"
        if abs(number) >= Decimal(10) ** (digits - scale):
            return f"'{value}' is too large"
    if f.type == "int" and abs(number) >= 2 ** 63:
        return f"'{value}' is too large"
    if f.min_value is not None and number < Decimal(str(f.min_value)):
        return f"must be at least {f.min_value}"
    if f.max_value is not None and number > Decimal(str(f.max_value)):
        return f"must be at most {f.max_value}"
    return None


def _check_date(f: FieldSpec, value: Any) -> Optional[str]:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return f"'{value}' is not a valid {'date' if f.type == 'date' else 'date and time'}"
    if f.type == "date" and isinstance(value, dt.datetime):
        value = value.date()
    for bound, word in ((f.min_value, "before"), (f.max_value, "after")):
        if bound is None:
            continue
        limit: Any = dt.date.fromisoformat(str(bound)[:10]) if f.type == "date" else \
            dt.datetime.fromisoformat(str(bound))
        if (word == "before" and value < limit) or (word == "after" and value > limit):
            return f"must not be {word} {bound}"
    return None


def validate_record(entity: EntitySpec, values: Mapping[str, Any]) -> dict[str, str]:
    """``{field: reason}`` for every field of ``values`` that ``entity`` refuses."""
    errors = {}
    for name, value in values.items():
        f = entity.fields.get(name)
        if f is not None:
            reason = check_value(f, value)
            if reason:
                errors[name] = reason
    return errors
