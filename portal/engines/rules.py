"""Entity checks (``checks:`` in an entity's YAML, :mod:`portal.spec.checks`) applied to a
record about to be saved: the broken errors refuse the save, the broken warnings are told."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from portal.engines.expression_values import holds, own_value
from portal.engines.validation import is_empty
from portal.spec.checks import KEY, CheckSpec, ChecksSpec
from portal.spec.model import EntitySpec, Registry


def broken_checks(session: Session, registry: Registry, item: Any, level: str,
                  locale: str = "en") -> dict[str, list[str]]:
    """``{field or "_": [messages]}`` for every check of ``level`` that ``item`` breaks."""
    entity: EntitySpec = type(item).__entity__
    spec: ChecksSpec | None = registry.feature(KEY, entity.name)
    if spec is None:
        return {}
    broken: dict[str, list[str]] = {}
    with session.no_autoflush:  # the record is checked as it is, before it is written
        for check in spec.at_level(level):
            for where in _breaches(session, entity, item, check):
                broken.setdefault(where, []).append(check.message.get(locale))
    return broken


def _breaches(session: Session, entity: EntitySpec, item: Any, check: CheckSpec) -> list[str]:
    """Where ``check`` is broken: the fields it names, or ``_`` for the whole record."""
    if check.when is not None and not holds(session, item, check.when):
        return []
    places = [name for name in check.require if is_empty(own_value(entity, item, name))]
    if check.rule is not None and not holds(session, item, check.rule):
        places.append(check.field or "_")
    return places
