"""The 360 page of a record (the ``overview`` feature) as the show page and the API give it:
the record's key fields, then one tab per related entity the viewer may read, with the
count, the total and the first rows of what they may read."""

from __future__ import annotations

from typing import Any, Optional

from flask import current_app, url_for

from portal.engines import related
from portal.runtime import request_principal, runtime
from portal.spec.link_paths import LinkPath
from portal.spec.model import EntitySpec
from portal.spec.overview import OverviewSpec, OverviewTab
from portal.web.i18n import current_locale, humanize
from portal.web.value_text import field_title, json_value, value_text


def overview_of(entity: EntitySpec) -> Optional[OverviewSpec]:
    """The entity's compiled ``overview``, None when it declares none."""
    return runtime().registry.feature("overview", entity.name)


def record_url(entity: str, record_id: int) -> Optional[str]:
    """The record's page, None when the reader may not open the entity's screens."""
    # Imported here: the generators import the entity views, which import this module.
    from portal.web.my_work_data import record_url as url

    return url(entity, record_id)


def overview_page(session: Any, entity: EntitySpec, item: Any) -> Optional[dict[str, Any]]:
    """Everything the 360 view shows for ``item`` (None when ``entity`` has no overview):
    ``label``, ``header`` (label/text/json of each key field the reader may see) and
    ``tabs`` (see :func:`tab_data`)."""
    spec = overview_of(entity)
    if spec is None:
        return None
    rt = runtime()
    principal = request_principal()
    locale = current_locale()
    header = []
    for name in related.visible_fields(rt.registry, entity.name, spec.header, principal):
        value = getattr(item, name)
        f = entity.fields[name]
        if f.type in {"link", "user"}:
            value = str(value) if value is not None else None
        header.append({"name": name, "label": field_title(entity, name, locale),
                       "text": value_text(rt.registry, entity, name, value),
                       "value": json_value(value)})
    tabs = [tab_data(session, entity, tab, item.id, spec.rows) for tab in spec.tabs.values()]
    return {"label": spec.label.get(locale, f"{humanize(entity.name)} 360"),
            "header": header, "tabs": [t for t in tabs if t is not None]}


def tab_data(session: Any, entity: EntitySpec, tab: OverviewTab, record_id: int,
             limit: int, offset: int = 0) -> Optional[dict[str, Any]]:
    """One tab as the reader may see it, None when they may not read its entity:
    ``name``, ``label``, ``entity``, ``count``, ``total`` (exact text, None without ``sum``
    or when the summed field is hidden), ``columns`` (name, label), ``rows`` (id, url,
    ``cells`` for the page and ``values`` for JSON) and ``more_url`` (the target's list
    filtered to this record, when the rows shown are not all of them)."""
    rt = runtime()
    principal = request_principal()
    paths = related.readable_paths(rt.registry, tab.entity, tab.paths, principal)
    if not paths:
        return None
    target = rt.registry.entity(tab.entity)
    locale = current_locale()
    conn = session.connection()
    total_field = tab.sum if tab.sum and related.visible_fields(
        rt.registry, tab.entity, [tab.sum], principal) else None
    count, total = related.count_related(conn, rt.registry, rt.models.classes, tab.entity,
                                         paths, record_id, principal, total_field)
    columns = related.visible_fields(rt.registry, tab.entity, tab.columns, principal)
    rows = related.list_related(conn, rt.registry, rt.models.classes, tab.entity, paths,
                                record_id, principal, columns, limit, offset,
                                _order(target)) if count else []
    out_rows = []
    for row in rows:
        cells = []
        for name in columns:
            value = row.values[name]
            link = value.id if isinstance(value, related.Linked) and value.title else None
            f = target.fields.get(name)
            cells.append({"text": value_text(rt.registry, target, name, value),
                          "url": record_url(f.target, link) if f is not None and link
                          else None})
        out_rows.append({"id": row.id, "url": record_url(tab.entity, row.id), "cells": cells,
                         "values": {n: json_value(row.values[n]) for n in columns}})
    return {
        "name": tab.name, "entity": tab.entity,
        "label": tab.label.get(locale, humanize(tab.name)),
        "count": count,
        "total": None if total is None else str(total),
        "total_text": None if total is None else value_text(rt.registry, target, tab.sum or "",
                                                            total),
        "total_label": field_title(target, tab.sum, locale) if total is not None and tab.sum
        else None,
        "columns": [{"name": n, "label": field_title(target, n, locale)} for n in columns],
        "rows": out_rows,
        "more_url": _list_url(target, paths, record_id) if count > offset + len(rows) else None,
    }


def _order(target: EntitySpec) -> Optional[tuple[str, bool]]:
    """The target list's order when it is a plain column, else the newest first."""
    name = target.list.order_by
    f = target.fields.get(name or "")
    if f is None or not f.is_column or f.type in {"link", "user", "file"}:
        return None
    return name, target.list.order_desc  # type: ignore[return-value]


def _list_url(target: EntitySpec, paths: tuple[LinkPath, ...], record_id: int
              ) -> Optional[str]:
    """The target's list filtered to this record: only for a one-link path whose field the
    list can filter on (a deeper path has no list filter), and when the reader has the
    list."""
    if len(paths) != 1 or len(paths[0].hops) != 1:
        return None
    field = paths[0].hops[0].field
    if field not in (*target.list.search, *target.list.filters) or \
            not current_app.appbuilder.sm.has_access("can_read", target.name):
        return None
    from portal.generators.screens import view_class_name  # see record_url

    # FAB's list filters: _flt_<filter index>_<column>; index 0 of a link is "equal to".
    return url_for(f"{view_class_name(target.name)}.list", **{f"_flt_0_{field}": record_id})
