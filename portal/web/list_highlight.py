"""Highlighted rows on screens and in the REST API (``highlight:`` in an entity's YAML).

The list screen colours each row of the page by the first rule that holds (a Bootstrap
contextual class on the ``<tr>``: ``danger`` is red) and shows the rule's label under the
row's buttons; the record's page shows the label as a badge; REST list rows and items carry
``highlight: {style, label}`` (null when no rule holds). Only the rows of the page are
evaluated (:mod:`portal.engines.highlight`), and only rules reading fields the reader sees.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Optional

from flask_appbuilder.widgets import ListWidget
from sqlalchemy.orm import Session

from portal.engines.highlight import first_match, page_highlights, readable_rules
from portal.runtime import request_principal, runtime
from portal.spec.highlight import KEY, HighlightRule
from portal.spec.model import EntitySpec
from portal.web.i18n import current_locale


class HighlightListWidget(ListWidget):
    """FAB's list widget whose rows take the style of their highlight (``row_highlights``:
    primary key -> ``{style, label}``, set by the screen)."""

    template = "portal/list_widget.html"


def has_highlight(entity: EntitySpec) -> bool:
    """Whether ``entity`` declares highlight rules."""
    return runtime().registry.feature(KEY, entity.name) is not None


def _rules(entity: EntitySpec) -> tuple[HighlightRule, ...]:
    registry = runtime().registry
    spec = registry.feature(KEY, entity.name)
    if spec is None:
        return ()
    return readable_rules(spec, entity, registry.entities, request_principal())


def as_json(rule: Optional[HighlightRule]) -> Optional[dict[str, Any]]:
    """A matched rule as the API and the templates show it: style and label (or null)."""
    if rule is None:
        return None
    return {"style": rule.style,
            "label": rule.label.get(current_locale()) or None if rule.label else None}


def page_marks(session: Session, model: type, entity: EntitySpec, ids: Iterable[Any]
               ) -> dict[Any, dict[str, Any]]:
    """Record id -> ``{style, label}`` for the highlighted records among ``ids`` (a page)."""
    rules = _rules(entity)
    if not rules:
        return {}
    found = page_highlights(session, model, rules, ids, dt.date.today())
    return {pk: mark for pk, rule in found.items() if (mark := as_json(rule)) is not None}


def record_mark(session: Session, entity: EntitySpec, item: Any) -> Optional[dict[str, Any]]:
    """``{style, label}`` of one record, or None when no rule (the reader may use) holds."""
    rules = _rules(entity)
    return as_json(first_match(session, rules, item, dt.date.today())) if rules else None
