"""Parsing numbering patterns such as ``CUS-{YYYY}-{#####}``."""

from __future__ import annotations

import re

from portal.spec.model import NumberFormat

DATE_TOKENS: tuple[str, ...] = ("YYYY", "YY", "MM", "DD")
MAX_DIGITS = 12
_TOKEN = re.compile(r"\{([^{}]*)\}")


class FormatError(ValueError):
    """A numbering pattern that cannot be used; the message says why."""


def parse_number_format(pattern: str) -> NumberFormat:
    """Split ``pattern`` into literal text and tokens; raise :class:`FormatError` if invalid."""
    parts: list[str] = []
    digits = 0
    runs = 0
    at = 0
    for match in _TOKEN.finditer(pattern):
        literal = pattern[at:match.start()]
        _check_literal(pattern, literal)
        if literal:
            parts.append(literal)
        token = match.group(1)
        if token in DATE_TOKENS:
            pass
        elif token and set(token) == {"#"}:
            runs += 1
            digits = len(token)
            if digits > MAX_DIGITS:
                raise FormatError(f"counter '{{{token}}}' in number format '{pattern}' has more "
                                  f"than {MAX_DIGITS} digits")
        else:
            raise FormatError(f"unknown token '{{{token}}}' in number format '{pattern}' "
                              "(expected {YYYY}, {YY}, {MM}, {DD} or {#...})")
        parts.append("{" + token + "}")
        at = match.end()
    literal = pattern[at:]
    _check_literal(pattern, literal)
    if literal:
        parts.append(literal)
    if runs != 1:
        how = "no" if runs == 0 else "more than one"
        raise FormatError(f"number format '{pattern}' has {how} counter; it needs exactly one "
                          "{#...} run such as {#####}")
    return NumberFormat(pattern=pattern, parts=tuple(parts), digits=digits)


def _check_literal(pattern: str, literal: str) -> None:
    if "{" in literal or "}" in literal:
        raise FormatError(f"unbalanced brace in number format '{pattern}'")
