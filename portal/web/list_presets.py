"""List presets on screens and in the REST API (``presets:`` in an entity's YAML).

``?preset=<name>`` narrows the list screen, its export and the REST list
(``/api/v1/<entity>/?preset=<name>``) by the preset's conditions, on top of FAB's filters, the
search box and the reader's scope; an unknown name is a 400 naming the known ones. The list
screen shows one button per preset, the active one pressed; a button keeps the list's other
query arguments (filters, search, order) and starts again at the first page. A preset whose
fields include one hidden from the reader is not offered to them (its rows would tell the
hidden values).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from flask import request, url_for
from flask_appbuilder.models.filters import BaseFilter, Filters

from portal.engines.presets import preset_criteria
from portal.runtime import request_principal, runtime
from portal.spec.model import EntitySpec
from portal.spec.presets import KEY, PresetSpec
from portal.web.access_columns import hidden_fields
from portal.web.i18n import current_locale

#: The query-string parameter naming the preset.
PARAM = "preset"


class UnknownPreset(ValueError):
    """A ``?preset=`` the entity does not have (or the reader may not use)."""


def offered(entity: EntitySpec) -> tuple[PresetSpec, ...]:
    """The presets of ``entity`` the reader may use, in declaration order."""
    spec = runtime().registry.feature(KEY, entity.name)
    if spec is None:
        return ()
    hidden = hidden_fields(entity)
    return tuple(p for p in spec.presets.values() if not p.fields & hidden)


def chosen(entity: EntitySpec) -> Optional[PresetSpec]:
    """The preset the request names (None when it names none); raises
    :class:`UnknownPreset` for a name that is not one of :func:`offered`."""
    name = request.args.get(PARAM)
    if name is None or name == "":
        return None
    presets = {p.name: p for p in offered(entity)}
    if name not in presets:
        known = ", ".join(presets) or "none"
        raise UnknownPreset(f"preset: unknown preset '{name}' of '{entity.name}' (known: "
                            f"{known})")
    return presets[name]


def preset_filter(preset: PresetSpec) -> type[BaseFilter]:
    """A FAB filter class adding ``preset``'s clause, for today and the request's reader."""

    class Preset(BaseFilter):
        name = "Preset"
        arg_name = "preset"

        def apply(self, query: Any, value: Any) -> Any:
            principal = request_principal()
            return query.filter(preset_criteria(
                self.datamodel.obj, preset, dt.date.today(),
                principal.user_id if principal is not None else None))

    return Preset


def with_preset(filters: Filters, preset: Optional[PresetSpec]) -> Filters:
    """``filters`` plus ``preset`` (a copy: FAB's filters objects are shared), or
    ``filters`` itself when there is no preset."""
    if preset is None:
        return filters
    joined = filters.copy()
    joined.add_filter("id", preset_filter(preset), None)
    return joined


def buttons(entity: EntitySpec, active: Optional[PresetSpec]) -> list[dict[str, Any]]:
    """The list screen's preset buttons: name, label, url and whether it is the active one
    (its url then turns it off)."""
    out = []
    for preset in offered(entity):
        args = {k: v for k, v in request.args.to_dict(flat=False).items()
                if k != PARAM and not k.startswith("page_")}
        is_active = active is not None and preset.name == active.name
        if not is_active:
            args[PARAM] = [preset.name]
        out.append({"name": preset.name, "label": preset.label.get(current_locale(),
                                                                    preset.name),
                    "url": url_for(request.endpoint or "", **(request.view_args or {}),
                                   **args),
                    "active": is_active})
    return out
