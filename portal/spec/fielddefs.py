"""Turning one validated field mapping into a :class:`FieldSpec` (type-dependent options)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from portal.spec.labels import humanize, make_label
from portal.spec.loader import Path
from portal.spec.model import (
    DYNAMIC_DEFAULTS,
    TEXT_TYPES,
    DefaultValue,
    DynamicDefault,
    FieldSpec,
    Label,
    SourcePos,
)
from portal.spec.numbering import FormatError, parse_number_format
from portal.spec.report import Reporter
from portal.spec.schemas import OPTION_TYPES, REQUIRED_OPTIONS, describe, options_for
from portal.spec.suggest import suggest

STRING_MAX_LENGTH = 255
MONEY_SCALE, MONEY_DIGITS = 2, 18
DECIMAL_SCALE, DECIMAL_DIGITS, DECIMAL_MAX_DIGITS = 2, 18, 38
_DYNAMIC_TYPE = MappingProxyType({"current_user": "user", "today": "date", "now": "datetime"})


class _Bad(Exception):
    """An option value was reported as wrong; leave the option out."""


class FieldBuilder:
    """Builds one field; every problem goes to the document's :class:`Reporter`."""

    #: The key whose value :meth:`default_value` reads (and where its errors are reported).
    default_option = "default"

    def __init__(self, rep: Reporter, path: Path, name: str, pos: SourcePos) -> None:
        self.rep = rep
        self.path = path
        self.name = name
        self.pos = pos

    def error(self, option: str, code: str, message: str, suggestion: str | None = None,
              *, at_key: bool = False) -> None:
        """Report a problem with ``option`` of this field."""
        self.rep.add((*self.path, option), code, message, suggestion, at_key=at_key)

    def build(self, raw: dict[str, Any], valid: dict[str, Any]) -> FieldSpec | None:
        """The field, or ``None`` when its type is unknown (then nothing else is checked)."""
        ftype = valid.get("type")
        if ftype is None:
            return None
        allowed = options_for(ftype)
        for key in raw:
            if key in OPTION_TYPES and key not in allowed:
                self.error(key, "option-not-allowed",
                           f"option '{key}' does not apply to type '{ftype}'", at_key=True)
        for option in REQUIRED_OPTIONS.get(ftype, ()):
            if option not in raw:
                self.rep.add(self.path, "missing-option",
                             f"type '{ftype}' needs option '{option}'")
        opts = {k: v for k, v in valid.items() if k in allowed}
        spec: dict[str, Any] = {
            "name": self.name, "type": ftype, "pos": self.pos,
            "label": make_label(opts.get("label"), humanize(self.name)),
            "help": make_label(opts.get("help")),
            "required": opts.get("required", False), "unique": opts.get("unique", False),
            "index": opts.get("index", False),
            "renamed_from": tuple(opts.get("renamed_from", ())),
        }
        spec.update(self._sizes(ftype, opts))
        if "pattern" in opts:
            spec["pattern"] = self._pattern(opts["pattern"])
        if ftype == "enum" and "values" in opts:
            spec["values"], spec["value_labels"] = self._values(raw.get("values"))
        if "entity" in opts:
            spec["target"] = opts["entity"]
        if "via" in opts:
            spec["via"] = opts["via"]
        if ftype == "number" and "format" in opts:
            try:
                spec["number_format"] = parse_number_format(opts["format"])
            except FormatError as exc:
                self.error("format", "bad-format", str(exc))
        if "default" in opts:
            spec["default"] = self.default_value(ftype, opts["default"], spec)
        return FieldSpec(**{k: v for k, v in spec.items() if v is not None})

    # -- sizes and bounds ----------------------------------------------------------------------

    def _sizes(self, ftype: str, opts: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if ftype == "money":
            out["scale"], out["digits"] = MONEY_SCALE, MONEY_DIGITS
        elif ftype == "decimal":
            out["scale"] = opts.get("scale", DECIMAL_SCALE)
            out["digits"] = opts.get("digits", DECIMAL_DIGITS)
            if out["digits"] > DECIMAL_MAX_DIGITS:
                self.error("digits", "bad-range",
                           f"digits {out['digits']} is more than {DECIMAL_MAX_DIGITS}")
            if out["scale"] > out["digits"]:
                self.error("scale", "bad-range",
                           f"scale {out['scale']} is larger than digits {out['digits']}")
        low = self._bound(ftype, "min", opts, out)
        high = self._bound(ftype, "max", opts, out)
        if low is not None and high is not None and _ordered(ftype, low) > _ordered(ftype, high):
            self.error("min", "bad-range", f"min {describe(low)} is greater than max "
                                           f"{describe(high)}")
        if ftype in TEXT_TYPES:
            out["min_length"], out["max_length"] = low, high
            out["length"] = opts.get("length")
            if ftype == "string" and high is None:
                out["max_length"] = out["length"] or STRING_MAX_LENGTH
        else:
            out["min_value"], out["max_value"] = low, high
        return out

    def _bound(self, ftype: str, option: str, opts: dict[str, Any], sizes: dict[str, Any]) -> Any:
        if option not in opts:
            return None
        try:
            if ftype in TEXT_TYPES:
                value = self._integer(option, opts[option], "a whole number of characters")
                if value < 0:
                    self.error(option, "bad-value",
                               f"expected a whole number of characters, got {describe(value)}")
                    raise _Bad
                return value
            return self._typed(ftype, option, opts[option], sizes)
        except _Bad:
            return None

    def _typed(self, ftype: str, option: str, value: Any, sizes: dict[str, Any]) -> Any:
        """``value`` as the field's own type (int, Decimal, ISO date/datetime string)."""
        if ftype == "int":
            return self._integer(option, value, "an integer")
        if ftype in ("decimal", "money"):
            return self._decimal(option, value, sizes.get("scale", DECIMAL_SCALE))
        if ftype in ("date", "datetime"):
            parse = dt.date.fromisoformat if ftype == "date" else dt.datetime.fromisoformat
            try:
                if isinstance(value, str):
                    parse(value)
                    return value
            except ValueError:
                pass
            kind = "an iso date (yyyy-mm-dd)" if ftype == "date" else "an iso date-time"
            self.error(option, "bad-value", f"expected {kind}, got {describe(value)}")
            raise _Bad
        return value

    def _integer(self, option: str, value: Any, kind: str) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        self.error(option, "bad-value", f"expected {kind}, got {describe(value)}")
        raise _Bad

    def _decimal(self, option: str, value: Any, scale: int) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            self.error(option, "bad-value", f"expected a number, got {describe(value)}")
            raise _Bad
        number = Decimal(value)
        if not number.is_finite():
            text = self.rep.doc.raw_text((*self.path, option)) or str(value)
            self.error(option, "bad-value", f"expected a finite number, got '{text}'")
            raise _Bad
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > scale:
            self.error(option, "bad-value",
                       f"{describe(value)} has more than {scale} decimal places")
            raise _Bad
        return number

    # -- pattern, values, default --------------------------------------------------------------

    def _pattern(self, pattern: str) -> str | None:
        try:
            re.compile(pattern)
        except re.error as exc:
            self.error("pattern", "bad-pattern", f"invalid regular expression '{pattern}': {exc}")
            return None
        return pattern

    def _values(self, raw: Any) -> tuple[tuple[str, ...], Any]:
        values: list[str] = []
        labels: dict[str, Label] = {}
        items = raw.items() if isinstance(raw, dict) else ((i, None) for i in range(len(raw)))
        for key, label in items:
            if isinstance(key, int):  # list form: keep the source text ('yes' stays 'yes')
                text = self.rep.doc.raw_text((*self.path, "values", key))
                value = text if text is not None else str(raw[key])
            else:
                value = key
            if value in values:
                self.rep.add((*self.path, "values", key), "bad-value",
                             f"duplicate value '{value}'")
                continue
            values.append(value)
            labels[value] = make_label(label, value)
        return tuple(values), MappingProxyType(labels)

    def default_value(self, ftype: str, value: Any, spec: dict[str, Any]) -> DefaultValue:
        """``value`` as a default of a field of type ``ftype`` (``spec``: the field's options
        built so far, e.g. its enum values), or None after reporting why it cannot be one."""
        if value is None:
            return None
        if isinstance(value, str) and value in DYNAMIC_DEFAULTS and ftype != "enum":
            if _DYNAMIC_TYPE[value] == ftype:
                return DynamicDefault(value)  # type: ignore[arg-type]
            self.error(self.default_option, "bad-default",
                       f"'{value}' only applies to {_DYNAMIC_TYPE[value]} fields")
            return None
        try:
            return self._static_default(ftype, value, spec)
        except _Bad:
            return None

    def _static_default(self, ftype: str, value: Any, spec: dict[str, Any]) -> DefaultValue:
        if ftype == "enum":
            text = self.rep.doc.raw_text((*self.path, self.default_option))
            text = text if text is not None else str(value)
            values = spec.get("values", ())
            if values and text not in values:
                self.error(self.default_option, "bad-default",
                           f"default '{text}' is not one of the values ({', '.join(values)})",
                           suggest(text, values))
                raise _Bad
            return text
        if ftype == "user":
            self.error(self.default_option, "bad-default",
                       f"a user field's default can only be 'current_user', got {describe(value)}",
                       suggest(value, ["current_user"]))
            raise _Bad
        if ftype == "bool":
            if not isinstance(value, bool):
                self.error(self.default_option, "bad-value",
                           f"expected a boolean, got {describe(value)}")
                raise _Bad
            return value
        if ftype in ("date", "datetime"):
            token = "today" if ftype == "date" else "now"
            if isinstance(value, str) and suggest(value, [token]):
                self.error(self.default_option, "bad-value",
                           f"unknown default {describe(value)}", token)
                raise _Bad
        if ftype == "link":
            return self._integer(self.default_option, value, "a record id")
        if ftype in TEXT_TYPES:
            if not isinstance(value, str):
                self.error(self.default_option, "bad-value",
                           f"expected a string, got {describe(value)}")
                raise _Bad
            return value
        return self._typed(ftype, self.default_option, value, spec)


def _ordered(ftype: str, value: Any) -> Any:
    if ftype == "date":
        return dt.date.fromisoformat(value)
    if ftype == "datetime":
        parsed = dt.datetime.fromisoformat(value)
        return parsed.replace(tzinfo=None)
    return value
