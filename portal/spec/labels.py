"""Building :class:`Label` objects from YAML texts, with an English fallback."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from portal.spec.model import Label


def humanize(name: str, *, title: bool = False) -> str:
    """``credit_limit`` -> ``Credit limit`` (or ``Credit Limit`` with ``title``)."""
    words = name.replace("_", " ").strip()
    return words.title() if title else words.capitalize()


def make_label(value: Any, default_en: str = "") -> Label:
    """A label from a plain string (English) or a locale mapping; English defaults to
    ``default_en`` when the YAML does not give it."""
    texts: dict[str, str] = {}
    if isinstance(value, str):
        texts["en"] = value
    elif isinstance(value, dict):
        texts.update({k: v for k, v in value.items() if isinstance(v, str)})
    if "en" not in texts and default_en:
        texts = {"en": default_en, **texts}
    return Label(MappingProxyType(texts))
