"""The keys duplicate records are compared by: a phone, an email and a name, normalized.

* phone: the digits only, keeping a leading ``+`` (``+86 138-0013 8000`` -> ``+8613800138000``);
* email: trimmed and lowercased;
* name: case, spaces, punctuation and full-width forms ignored, and common company suffixes
  dropped (``ACME Co., Ltd.`` and ``Acme`` give ``acme``; ``北京某某科技有限公司`` gives
  ``北京某某科技``).

Pure functions: no database, no Flask.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

#: Trailing words of Latin-script company names that do not tell two companies apart.
COMPANY_WORDS: frozenset[str] = frozenset({
    "ltd", "limited", "inc", "incorporated", "co", "corp", "corporation", "company", "llc",
    "llp", "lp", "plc", "gmbh", "ag", "sa", "sarl", "bv", "nv", "pte", "pty", "kk",
})
#: Endings of Chinese company names, longest first.
COMPANY_ENDINGS: tuple[str, ...] = (
    "股份有限公司", "有限责任公司", "有限責任公司", "有限公司", "股份公司", "公司",
)

_NOT_DIGIT = re.compile(r"[^0-9]")
_WORD = re.compile(r"\w+")


def normalize_phone(value: Any) -> str:
    """The digits of a phone number, with ``+`` in front when it starts with one; '' when it
    holds no digit."""
    if not isinstance(value, str):
        return ""
    text = unicodedata.normalize("NFKC", value).strip()
    digits = _NOT_DIGIT.sub("", text)
    if not digits:
        return ""
    return f"+{digits}" if text.startswith("+") else digits


def normalize_email(value: Any) -> str:
    """An email address trimmed and lowercased ('' for no address)."""
    if not isinstance(value, str):
        return ""
    return value.strip().lower()


def normalize_name(value: Any) -> str:
    """A name as duplicates are grouped by: case-folded, full-width forms made plain,
    punctuation and spaces dropped, company suffixes (Ltd, Inc, Co., 有限公司, ...) removed.
    A name made only of such words keeps them ('' only for a name without letters)."""
    if not isinstance(value, str):
        return ""
    words = _WORD.findall(unicodedata.normalize("NFKC", value).casefold().replace("_", " "))
    whole = "".join(words)
    while len(words) > 1 and words[-1] in COMPANY_WORDS:
        words.pop()
    name = "".join(words)
    stripped = True
    while stripped:
        stripped = False
        for ending in COMPANY_ENDINGS:
            if name.endswith(ending) and len(name) > len(ending):
                name = name[: -len(ending)]
                stripped = True
                break
    return name or whole
