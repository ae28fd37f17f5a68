"""Turning one cell's text into a field's value, or saying exactly why it cannot be.

Numbers may carry thousands separators and a currency sign (``¥1,234.50``); dates follow the
mapping's format (``dd-mm-yy``) or ISO; enums accept their value or any of their labels;
yes/no accepts the usual words in English and Chinese. References (links, users) are looked
up later (:mod:`portal.engines.importing.references`): here they stay text.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

from portal.spec.imports import strptime_format
from portal.spec.model import FieldSpec

TRUE_WORDS = frozenset({"true", "yes", "y", "1", "t", "是", "真", "对"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "f", "否", "假", "错"})
MONEY_NOISE = re.compile(r"[\s,¥￥$€£]|^(CNY|RMB|USD|EUR)\s*", re.IGNORECASE)
INTEGER = re.compile(r"^[+-]?\d+$")
REFERENCE_TYPES = frozenset({"link", "user", "many"})


class CellError(ValueError):
    """The cell's text is not a value of the field; the message says why."""


class UnknownValue(CellError):
    """A well-formed text that is not one of the field's values: mapping it to one (the
    mapping's ``values``) fixes it."""


def parse_cell(f: FieldSpec, text: str, date_format: Optional[str] = None) -> Any:
    """The value of ``f`` written as ``text`` (None when empty)."""
    text = text.strip()
    if text == "":
        return None
    kind = f.type
    if kind in REFERENCE_TYPES:
        return text
    if kind == "enum":
        return _enum(f, text)
    if kind == "int":
        cleaned = text.replace(",", "").replace(" ", "")
        if not INTEGER.match(cleaned):
            raise CellError(f"'{text}' is not a whole number")
        return int(cleaned)
    if kind in {"decimal", "money"}:
        return _decimal(f, text)
    if kind == "bool":
        word = text.lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise CellError(f"'{text}' is not yes or no")
    if kind == "date":
        return _when(text, date_format, "%Y-%m-%d").date()
    if kind == "datetime":
        return _when(text, date_format, None)
    return text


def _enum(f: FieldSpec, text: str) -> str:
    if text in f.values:
        return text
    lowered = text.lower()
    for value in f.values:
        if value.lower() == lowered:
            return value
        label = f.value_labels.get(value)
        if label is not None and any(t.lower() == lowered for t in label.texts.values()):
            return value
    raise UnknownValue(f"'{text}' is not one of {', '.join(f.values)}")


def _decimal(f: FieldSpec, text: str) -> Decimal:
    cleaned = MONEY_NOISE.sub("", text)
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise CellError(f"'{text}' is not a number") from None
    if not number.is_finite():
        raise CellError(f"'{text}' is not a number")
    quantum = Decimal(1).scaleb(-f.scale)
    if number != number.quantize(quantum):
        raise CellError(f"'{text}' has more than {f.scale} decimal places")
    return number.quantize(quantum)


@functools.lru_cache(maxsize=64)
def _directive(date_format: str) -> str:
    return strptime_format(date_format) or ""


def _when(text: str, date_format: Optional[str], fallback: Optional[str]) -> dt.datetime:
    if date_format:
        directive = _directive(date_format)
        if directive == "%Y-%m-%d":
            try:
                return dt.datetime.fromisoformat(text)
            except ValueError:
                pass
        try:
            return dt.datetime.strptime(text, directive)
        except ValueError:
            raise CellError(f"'{text}' is not a date in the form {date_format}") from None
    try:
        return dt.datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        expected = "YYYY-MM-DD" if fallback else "YYYY-MM-DD HH:MM"
        raise CellError(f"'{text}' is not a date ({expected}); give the column's format in "
                        "the mapping's formats") from None
