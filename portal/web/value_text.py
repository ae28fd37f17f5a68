"""A field's value as a reader sees it (text) and as JSON carries it, for the portal's own
panels (360 page, activity timeline) that show values of several entities."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from portal.engines.related import Linked
from portal.spec.model import EntitySpec, Registry
from portal.web.i18n import enum_label, humanize
from portal.web.ui_text import ui_text
from portal.web.workflow_view import state_label


def value_text(registry: Registry, entity: EntitySpec, name: str, value: Any) -> str:
    """``value`` of field ``name`` as text in the reader's language ('' when empty)."""
    if value is None or value == "":
        return ""
    if isinstance(value, Linked):
        return value.title or ""
    f = entity.fields.get(name)
    flow = registry.workflow_of(entity.name)
    if flow is not None and name == flow.state_field:
        return state_label(flow, value)
    if f is not None and f.type == "enum":
        return enum_label(f, value)
    if f is not None and f.type == "money":
        return f"{value:,.2f}"
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def json_value(value: Any) -> Any:
    """``value`` as JSON: exact decimals as strings, dates in ISO form, links as
    ``{id, title}`` (title null when the reader may not read the linked record)."""
    if isinstance(value, Linked):
        return {"id": value.id, "title": value.title}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def field_title(entity: EntitySpec, name: str, locale: str) -> str:
    """The label of a field or system column of ``entity``."""
    f = entity.fields.get(name)
    return f.label.get(locale, humanize(name)) if f is not None else ui_text(humanize(name))
