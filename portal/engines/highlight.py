"""Highlight rules (``highlight:`` in an entity's YAML, :mod:`portal.spec.highlight`) applied
to the rows of one list page, or to one record.

Rules are evaluated in Python on the rows shown (a page, never the table): the conditions
read own fields, linked records' fields and ``today``, which one query per page loads (the
linked records with ``selectinload``). A rule reading a field hidden from the reader is left
out for that reader: a coloured row would tell something about the hidden value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.engines.access import Principal, effective_access
from portal.engines.expression_values import holds, model_for
from portal.spec.expressions import BUILTIN_NAMES
from portal.spec.highlight import HighlightRule, HighlightSpec
from portal.spec.model import EntitySpec


def readable_rules(spec: HighlightSpec, entity: EntitySpec,
                   entities: Mapping[str, EntitySpec], principal: Optional[Principal]
                   ) -> tuple[HighlightRule, ...]:
    """The rules of ``spec`` whose fields ``principal`` may all see (all rules for nobody in
    particular: the command line)."""
    if principal is None:
        return spec.rules

    def hidden(e: EntitySpec) -> frozenset[str]:
        return effective_access(e, principal).hidden

    return tuple(r for r in spec.rules if not _reads_hidden(r, entity, entities, hidden))


def _reads_hidden(rule: HighlightRule, entity: EntitySpec, entities: Mapping[str, EntitySpec],
                  hidden: Callable[[EntitySpec], frozenset[str]]) -> bool:
    if (rule.when.names - BUILTIN_NAMES) & hidden(entity):
        return True
    for path in rule.when.paths:
        current = entity
        for hop in path:
            if hop in hidden(current):
                return True
            f = current.fields.get(hop)
            if f is None or f.target not in entities:
                break
            current = entities[f.target]
    return False


def first_match(session: Session, rules: Sequence[HighlightRule], item: Any,
                today: dt.date) -> Optional[HighlightRule]:
    """The first of ``rules`` whose condition holds for ``item`` (None: no highlight)."""
    for rule in rules:
        if holds(session, item, rule.when, today):
            return rule
    return None


def page_highlights(session: Session, model: type, rules: Sequence[HighlightRule],
                    ids: Iterable[Any], today: dt.date) -> dict[Any, HighlightRule]:
    """Record id -> the rule that colours it, for the records ``ids`` (one page): those no
    rule matches are left out. Loads the page's records (and the records their conditions
    follow) in one query plus one per linked entity."""
    wanted = [i for i in ids if i is not None]
    if not rules or not wanted:
        return {}
    paths = {p for rule in rules for p in rule.when.paths}
    query = select(model).where(model.id.in_(wanted))  # type: ignore[attr-defined]
    options = _loader_options(model, paths)
    if options:
        query = query.options(*options)
    found: dict[Any, HighlightRule] = {}
    for item in session.scalars(query):
        rule = first_match(session, rules, item, today)
        if rule is not None:
            found[item.id] = rule
    return found


def _loader_options(model: type, paths: Iterable[tuple[str, ...]]) -> list[Any]:
    """``selectinload`` of every link a path follows, so a page costs one query per hop."""
    options = []
    for path in sorted(paths):
        owner, loader = model, None
        for hop in path[:-1]:
            attr = getattr(owner, hop, None)
            if attr is None or not hasattr(attr, "property"):
                break
            loader = selectinload(attr) if loader is None else loader.selectinload(attr)
            owner = model_for(model, owner.__entity__.fields[hop].target)  # type: ignore
        if loader is not None:
            options.append(loader)
    return options
