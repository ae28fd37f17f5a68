"""Links to an entity's list screen filtered by a field's value (FAB's ``_flt_<n>_<field>``
query arguments, ``n`` the place of "equal to" among the field's filters)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Optional

from flask import current_app, url_for

from portal.datamodel import PortalInterface
from portal.runtime import runtime

#: FAB's "equal to" filters: of a plain column, and of a many-to-one relation (by id).
EQUAL_FILTERS = frozenset({"FilterEqual", "FilterRelationOneToManyEqual"})


def equal_filter_links(entity: str, field: str) -> Optional[Callable[[Any], Optional[str]]]:
    """``link(value)``: the list of ``entity`` filtered to ``field`` equal to ``value`` (None
    for an empty value). None when the reader may not read the entity or its list cannot
    filter ``field`` by equality."""
    if not current_app.appbuilder.sm.has_access("can_read", entity):
        return None
    datamodel = PortalInterface(runtime().models.classes[entity])
    kinds = [type(flt).__name__
             for flt in datamodel.filter_converter_class(datamodel).convert(field) or ()]
    index = next((n for n, kind in enumerate(kinds) if kind in EQUAL_FILTERS), None)
    if index is None:
        return None
    # Imported here: the generators import the entity views, which import the web modules.
    from portal.generators.screens import view_class_name

    endpoint = f"{view_class_name(entity)}.list"

    def link(value: Any) -> Optional[str]:
        if value is None or value == "":
            return None
        text = value.isoformat() if isinstance(value, dt.date) else str(value)
        return url_for(endpoint, **{f"_flt_{index}_{field}": text})

    return link
