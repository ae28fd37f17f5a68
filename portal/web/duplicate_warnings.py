"""Warnings on create when a new record's phone or email is already used by another record.

The record is saved all the same: the REST API's 201 answer gets ``warnings`` by field, the
add screen flashes a warning linking to the matches the user may read. Which records count
and what is said about those the user cannot see is :mod:`portal.engines.duplicates`'.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash
from markupsafe import Markup, escape
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from portal.engines.duplicates import FieldMatches, compared_fields, find_matches, match_warnings
from portal.runtime import request_principal
from portal.spec.model import EntitySpec
from portal.web.i18n import current_locale, field_label
from portal.web.ui_text import ui_text


def new_record_matches(session: Session, entity: EntitySpec, item: Any
                       ) -> dict[str, FieldMatches]:
    """Matches of a just-saved record's phones and emails among the entity's other records
    (none when it was not saved)."""
    state = inspect(item)
    if not state.persistent or item.id is None:
        return {}
    names = [n for kind in compared_fields(entity).values() for n in kind]
    if not names:
        return {}
    values = {n: getattr(item, n) for n in names}
    return find_matches(session, entity, type(item), values, request_principal(),
                        exclude_id=item.id)


def api_warnings(session: Session, entity: EntitySpec, item: Any) -> dict[str, list[str]]:
    """``{field: ["also used by customer #12 Acme", ...]}`` for a REST create answer."""
    return match_warnings(entity, new_record_matches(session, entity, item))


def flash_matches(session: Session, entity: EntitySpec, item: Any,
                  link: Callable[[int], str]) -> None:
    """Flash one warning per matching field, linking each readable match (``link(id)``)."""
    label = entity.label.get(current_locale(), entity.name)
    for name, match in new_record_matches(session, entity, item).items():
        parts = [Markup('<a href="{}" class="portal-duplicate-link">{} #{} {}</a>').format(
            link(record_id), label, record_id, title if title != f"#{record_id}" else "")
            for record_id, title in match.records]
        if match.unseen:
            parts.append(escape(ui_text("%(n)s other record(s) you cannot see",
                                        n=match.unseen)))
        text = ui_text("Possible duplicate: %(field)s is also used by %(records)s.",
                       field=escape(str(field_label(entity.fields[name]))),
                       records=Markup(", ").join(parts))
        flash(Markup(text), "warning")
