"""Shape checks shared by the entity features' hand-written checkers: mappings with known
keys, labels, field lists. Each reports through a :class:`Reporter` and answers whether the
value is usable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

from portal.spec.labels import make_label
from portal.spec.loader import Path
from portal.spec.model import LOCALES, EntitySpec, Label
from portal.spec.report import Reporter
from portal.spec.suggest import suggest

#: System columns every record has, usable as dates and columns.
SYSTEM_DATES = ("created_at", "updated_at")


def mapping(rep: Reporter, path: Path, value: Any, keys: Sequence[str], what: str) -> bool:
    """True when ``value`` is a mapping; unknown keys are reported (and ignored)."""
    if not isinstance(value, dict):
        rep.add(path, "bad-value", f"{what} is a mapping with keys {', '.join(keys)}")
        return False
    for key in value:
        if key not in keys:
            rep.add((*path, key), "unknown-key", f"unknown key '{key}'",
                    suggest(str(key), keys), at_key=True)
    return True


def label(rep: Reporter, path: Path, value: Any, default_en: str) -> Label:
    """A label from a text or a ``{locale: text}`` mapping (bad ones reported)."""
    if value is None or isinstance(value, str):
        return make_label(value, default_en)
    if not isinstance(value, dict):
        rep.add(path, "bad-value", "a label is a text or a mapping of locale to text")
        return make_label(None, default_en)
    for key, text in value.items():
        if key not in LOCALES:
            rep.add((*path, key), "unknown-key", f"unknown locale '{key}'",
                    suggest(str(key), LOCALES), at_key=True)
        elif not isinstance(text, str):
            rep.add((*path, key), "bad-value", "expected a text")
    return make_label(value, default_en)


def field_name(rep: Reporter, path: Path, value: Any, entity: EntitySpec,
               allowed: Optional[set[str]] = None, extra: Sequence[str] = ()) -> Optional[str]:
    """``value`` when it names a field of ``entity`` (or one of ``extra``) whose type is in
    ``allowed`` (None: any type); else None after reporting why."""
    if not isinstance(value, str):
        rep.add(path, "bad-value", "expected a field name")
        return None
    if value in extra:
        return value
    f = entity.fields.get(value)
    if f is None:
        choices = [n for n, g in entity.fields.items() if allowed is None or g.type in allowed]
        rep.add(path, "unknown-field", f"unknown field '{value}' of '{entity.name}'",
                suggest(value, [*choices, *extra]))
        return None
    if allowed is not None and f.type not in allowed:
        rep.add(path, "bad-field", f"'{entity.name}.{value}' is a {f.type} field; expected "
                                   f"one of type {', '.join(sorted(allowed))}")
        return None
    return value


def field_list(rep: Reporter, path: Path, value: Any, entity: EntitySpec,
               allowed: set[str], extra: Sequence[str] = ()) -> Optional[tuple[str, ...]]:
    """A non-empty list of distinct field names of ``entity`` (see :func:`field_name`)."""
    if not isinstance(value, list) or not value:
        rep.add(path, "bad-value", "expected a list of field names")
        return None
    names: list[str] = []
    for i, item in enumerate(value):
        name = field_name(rep, (*path, i), item, entity, allowed, extra)
        if name is None:
            return None
        if name in names:
            rep.add((*path, i), "duplicate-key", f"field '{name}' is listed twice")
            return None
        names.append(name)
    return tuple(names)
