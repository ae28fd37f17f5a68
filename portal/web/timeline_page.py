"""A record's activity timeline (the ``timeline`` feature) as the show page and the API give
it: related activity records the reader may read, newest first.

The record's own workflow steps and audit history are not repeated here: the show page has
their panels already (Workflow, History), and the API their endpoints.
"""

from __future__ import annotations

from typing import Any, Optional

from portal.engines import related
from portal.runtime import request_principal, runtime
from portal.spec.model import EntitySpec
from portal.spec.timeline import TimelineSpec
from portal.web.i18n import current_locale, humanize
from portal.web.overview_page import record_url
from portal.web.value_text import json_value, value_text

#: How many activities the page and the API show.
LIMIT = 50


def timeline_of(entity: EntitySpec) -> Optional[TimelineSpec]:
    """The entity's compiled ``timeline``, None when it declares none."""
    return runtime().registry.feature("timeline", entity.name)


def timeline_items(session: Any, entity: EntitySpec, record_id: int,
                   limit: int = LIMIT) -> Optional[list[dict[str, Any]]]:
    """The activities of record ``record_id`` (None when ``entity`` has no timeline): each
    with ``entity``, ``entity_label``, ``id``, ``url``, ``date`` (ISO), ``date_text``,
    ``title`` and ``text`` (texts in the reader's language; hidden fields are None)."""
    spec = timeline_of(entity)
    if spec is None:
        return None
    rt = runtime()
    locale = current_locale()
    found = related.timeline(session.connection(), rt.registry, rt.models.classes,
                             list(spec.sources.values()), record_id, request_principal(),
                             limit)
    out = []
    for item in found:
        source = spec.sources[item.entity]
        target = rt.registry.entity(item.entity)
        out.append({
            "entity": item.entity,
            "entity_label": target.label.get(locale, humanize(item.entity)),
            "id": item.id,
            "url": record_url(item.entity, item.id),
            "date": json_value(item.date),
            "date_text": value_text(rt.registry, target, source.date, item.date),
            "title": value_text(rt.registry, target, source.title or "", item.title)
            if item.title is not None else None,
            "text": value_text(rt.registry, target, source.text or "", item.text)
            if item.text is not None else None,
        })
    return out
