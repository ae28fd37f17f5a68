"""Compiled definitions + models -> one screen class and one REST API class per entity.

Pure: builds classes, registers nothing. ``portal.wiring`` hands them to FAB.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from markupsafe import Markup, escape

from portal.datamodel import PortalInterface
from portal.generators.models import EntityModels
from portal.spec.computed import computed_of
from portal.spec.model import EntitySpec, FieldSpec, Registry
from portal.web.board_views import (
    BOARD_API_ROUTES,
    BOARD_PERMISSIONS,
    BOARD_VIEW_ROUTES,
    BoardApi,
    BoardScreen,
)
from portal.web.entity_views import EntityModelView, EntityRestApi
from portal.web.fast_dump import FastDumpConverter
from portal.web.forms import entity_form_fields
from portal.web.i18n import enum_label, field_label, humanize, lazy_label
from portal.web.ui_text import lazy_ui_text
from portal.web.workflow_view import state_label

#: Screen methods -> the four YAML actions (FAB permission ``can_<action>``).
VIEW_METHOD_PERMISSIONS = {
    "list": "read", "show": "read", "download": "read", "api": "read", "api_read": "read",
    "api_get": "read", "api_column_add": "create", "api_column_edit": "update",
    "api_create": "create", "api_update": "update", "api_delete": "delete",
    "add": "create", "edit": "update", "delete": "delete", "action": "update",
    "action_post": "update", "transition": "read",
    "export": "read",  # CSV/XLSX of the list as filtered (portal.web.export)
    "duplicates": "merge", "merge": "merge",  # whoever may merge (``can_merge``)
    **BOARD_PERMISSIONS,  # the Kanban board (portal.web.board_views)
}
#: API methods -> the same four actions, so a screen and its API share permissions.
API_METHOD_PERMISSIONS = {
    "get": "read", "get_list": "read", "info": "read", "history": "read",
    "post": "create", "put": "update", "delete": "delete",
    # Workflow actions need read; who may take which action is the workflow's rule.
    "workflow_state": "read", "perform_action": "read",
    "export": "read",
    "merge": "merge",
    "overview": "read", "timeline": "read",  # 360 page and activity timeline (features)
    "defaults": "create",  # conditional defaults for the add form (feature ``defaults``)
    **BOARD_PERMISSIONS,
}
#: The routes each generated class exposes (FAB's legacy ``api_*`` routes are left out: the
#: REST API serves them, and every route costs start-up time).
VIEW_ROUTES = frozenset({"list", "show", "add", "edit", "delete", "export"})
API_ROUTES = frozenset({"get", "get_list", "post", "put", "delete", "info", "history",
                        "export"})
#: Extra routes of an entity with a workflow.
WORKFLOW_VIEW_ROUTES = frozenset({"transition"})
WORKFLOW_API_ROUTES = frozenset({"workflow_state", "perform_action"})
#: Extra routes of an entity some role may merge (duplicates page, merge form and API).
MERGE_VIEW_ROUTES = frozenset({"duplicates", "merge"})
MERGE_API_ROUTES = frozenset({"merge"})
#: Extra API routes of an entity declaring these entity features (``overview``, ``timeline``,
#: ``defaults``).
FEATURE_API_ROUTES = ("overview", "timeline", "defaults")
SYSTEM_COLUMNS = ("created_at", "updated_at", "created_by", "updated_by")


@dataclass(frozen=True)
class EntityClasses:
    """Generated screen and API classes, by entity name."""

    views: Mapping[str, type]
    apis: Mapping[str, type]


def view_class_name(entity: str) -> str:
    """Blueprint-safe class name of an entity's screens (FAB names blueprints by class)."""
    return f"View_{entity}"


def api_class_name(entity: str) -> str:
    """Blueprint-safe class name of an entity's REST API."""
    return f"Api_{entity}"


def default_list_columns(entity: EntitySpec) -> list[str]:
    """The list columns when the YAML names none: the first six simple fields."""
    simple = [f.name for f in entity.fields.values()
              if f.type not in {"children", "many", "text", "file"}]
    return simple[:6]


def _formatter(f: FieldSpec, registry: Registry) -> Callable[[Any], Any] | None:
    if f.type == "enum":
        return lambda v, f=f: enum_label(f, v) if v else ""
    if f.type == "money":
        return lambda v: f"{v:,.2f}" if v is not None else ""
    if f.type == "email":
        return lambda v: Markup(f'<a href="mailto:{escape(v)}">{escape(v)}</a>') if v else ""
    if f.type == "phone":
        return lambda v: Markup(f'<a href="tel:{escape(v)}">{escape(v)}</a>') if v else ""
    if f.type == "url":
        return lambda v: Markup(f'<a href="{escape(v)}" rel="noopener noreferrer" '
                                f'target="_blank">{escape(v)}</a>') if v else ""
    if f.type == "file":
        return lambda v: Markup(
            f'<a href="/portal/attachment/{v.id}"><i class="fa fa-paperclip"></i> '
            f'{escape(v.filename)}</a>') if v else ""
    if f.type == "children":
        child = registry.entity(f.target)
        cols = [c for c in child.fields.values()
                if c.name != f.via and c.type not in {"children", "many"}]
        return lambda rows, cols=cols: _child_table(rows, cols)
    return None


def _timestamp(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC" if value else ""


def _blank_for_none(value: Any) -> Any:
    # FAB prints a missing value as "None"; a reader expects an empty cell.
    return "" if value is None else value


def _child_table(rows: Any, cols: list[FieldSpec]) -> Markup:
    head = "".join(f"<th>{escape(str(field_label(c)))}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_cell_text(c, getattr(r, c.name)))}</td>" for c in cols)
        + "</tr>" for r in rows or ())
    return Markup(f'<table class="table table-condensed table-bordered portal-child-table">'
                  f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _cell_text(f: FieldSpec, value: Any) -> str:
    if value is None:
        return ""
    if f.type == "enum":
        return enum_label(f, value)
    if f.type == "money":
        return f"{value:,.2f}"
    return str(value)


def _labels(entity: EntitySpec) -> dict[str, Any]:
    labels: dict[str, Any] = {f.name: field_label(f) for f in entity.fields.values()}
    for name in SYSTEM_COLUMNS + ("id",):
        labels[name] = lazy_ui_text(humanize(name))
    return labels


def build_screens(registry: Registry, models: EntityModels,
                  session: Callable[[], Any]) -> EntityClasses:
    """One EntityModelView and one EntityRestApi subclass per entity."""
    views: dict[str, type] = {}
    apis: dict[str, type] = {}
    for entity in registry.entities.values():
        model = models.classes[entity.name]
        datamodel = PortalInterface(model)  # one per entity: the screens and API share it
        views[entity.name] = _view_class(entity, registry, datamodel, models, session)
        apis[entity.name] = _api_class(entity, registry, datamodel)
    # Related lists: every entity that links here (its own children are inline instead).
    for entity in registry.entities.values():
        inline = {(f.target, f.via) for f in entity.fields.values() if f.type == "children"}
        views[entity.name].related_views = [
            views[other.name] for other, f in registry.links_to(entity.name)
            if (other.name, f.name) not in inline and other.name != entity.name
        ]
    return EntityClasses(MappingProxyType(views), MappingProxyType(apis))


def tile_fields(registry: Registry, entity: str) -> tuple[str, ...]:
    """Fields of ``entity`` that report tiles link by (``ReportSpec.tile_field``): the list
    screen must filter on them for a tile's link to open the list filtered."""
    found = []
    for report in registry.reports.values():
        ref = report.tile_field
        if ref is not None and report.sources[0].entity == entity:
            found.append(ref.name)
    return tuple(dict.fromkeys(found))


def _view_class(entity: EntitySpec, registry: Registry, datamodel: PortalInterface,
                models: EntityModels, session: Callable[[], Any]) -> type:
    fields = entity.fields.values()
    flow = registry.workflow_of(entity.name)
    # The state field changes only through the workflow's actions; computed fields only by
    # their formulas.
    computed = computed_of(registry, entity.name)
    editable = [f.name for f in fields if f.type != "number" and f.name not in computed
                and (flow is None or f.name != flow.state_field)]
    form_fields = entity_form_fields(entity, registry, models.classes, session)
    board = registry.feature("board", entity.name)
    # A board's "n more" link opens the list filtered by the board's field and filters.
    search = list(dict.fromkeys(entity.list.search + entity.list.filters + (
        (board.field, *board.filters) if board is not None else ()) + tile_fields(registry,
                                                                                entity.name)))
    order = (entity.list.order_by or "id", "desc" if entity.list.order_desc or
             not entity.list.order_by else "asc")
    formatters = {f.name: _formatter(f, registry) or _blank_for_none for f in fields}
    if flow is not None:  # the state reads as the flow labels it
        formatters[flow.state_field] = lambda v, flow=flow: state_label(flow, v) if v else ""
    formatters.update(created_at=_timestamp, updated_at=_timestamp)
    label = lazy_label(entity.label, humanize(entity.name))
    attrs = {
        "entity": entity,
        "datamodel": datamodel,
        "route_base": f"/{entity.name}",
        "class_permission_name": entity.name,
        "method_permission_name": VIEW_METHOD_PERMISSIONS,
        "include_route_methods": VIEW_ROUTES | (WORKFLOW_VIEW_ROUTES if flow else frozenset())
        | (MERGE_VIEW_ROUTES if entity.mergeable else frozenset())
        | (BOARD_VIEW_ROUTES if board is not None else frozenset()),
        "board_view_endpoint": view_class_name(entity.name),
        "portal_defaults": {
            "list_columns": list(entity.list.columns) or default_list_columns(entity),
            "show_columns": [f.name for f in fields] + list(SYSTEM_COLUMNS),
            "add_columns": editable,
            "edit_columns": editable,
            "search_columns": search,
        },
        "label_columns": _labels(entity),
        "description_columns": {f.name: lazy_label(f.help, "") for f in fields if f.help.texts},
        "add_form_extra_fields": form_fields,
        "edit_form_extra_fields": form_fields,
        "formatters_columns": formatters,
        "base_order": order,
        "list_title": label,
        "show_title": label,
        "add_title": label,
        "edit_title": label,
    }
    defaults = registry.feature("defaults", entity.name)
    if defaults is not None:  # the add form asks for them as the user types
        attrs["add_template"] = "portal/add.html"
        attrs["extra_args"] = {"record_defaults": {
            "endpoint": f"{api_class_name(entity.name)}.defaults",
            "reads": list(defaults.triggers(entity)), "fields": list(defaults.fields)}}
    bases = (BoardScreen, EntityModelView) if board is not None else (EntityModelView,)
    return type(view_class_name(entity.name), bases, attrs)


def api_read_columns(f: FieldSpec, registry: Registry) -> list[str]:
    """How the API shows a field: a related record as its id and title, never whole."""
    if f.type == "user":
        return [f"{f.name}.id", f"{f.name}.username"]
    if f.type == "link":
        title = registry.entity(f.target).title
        return [f"{f.name}.id"] + ([f"{f.name}.{title}"] if title else [])
    if f.type == "many":
        title = registry.entity(f.target).title
        return [f"{f.name}.id"] + ([f"{f.name}.{title}"] if title else [])
    if f.type == "file":
        return [f"{f.name}.id", f"{f.name}.filename", f"{f.name}.size"]
    if f.type == "children":
        return []
    return [f.name]


def _list_parameters(presets: Any) -> dict[str, Any]:
    """The REST list's documented query parameters: FAB's ``q``, and ``preset`` for an
    entity with presets (``portal.web.list_presets``)."""
    if presets is None:
        return {}
    return {"get_list": {"get": {"parameters": [
        {"in": "query", "name": "q", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/get_list_schema"}}}},
        {"in": "query", "name": "preset", "required": False,
         "schema": {"type": "string", "enum": list(presets.presets)},
         "description": "A named quick filter declared in the entity's presets; an unknown "
                        "name (or one reading a field hidden from the caller) is a 400."},
    ]}}}


def _api_class(entity: EntitySpec, registry: Registry, datamodel: PortalInterface) -> type:
    fields = entity.fields.values()
    flow = registry.workflow_of(entity.name)
    computed = computed_of(registry, entity.name)
    writable = [f.name for f in fields if f.type not in {"number", "children", "file"}
                and f.name not in computed and (flow is None or f.name != flow.state_field)]
    readable = ["id"] + [c for f in fields for c in api_read_columns(f, registry)] + \
        ["created_at", "updated_at"]
    listed = list(entity.list.columns) or default_list_columns(entity)
    board = registry.feature("board", entity.name)
    attrs = {
        "entity": entity,
        "datamodel": datamodel,
        "resource_name": entity.name,
        "class_permission_name": entity.name,
        "method_permission_name": API_METHOD_PERMISSIONS,
        "include_route_methods": API_ROUTES | (WORKFLOW_API_ROUTES if flow else frozenset())
        | (MERGE_API_ROUTES if entity.mergeable else frozenset())
        | {key for key in FEATURE_API_ROUTES if registry.feature(key, entity.name)}
        | (BOARD_API_ROUTES if board is not None else frozenset()),
        "board_view_endpoint": view_class_name(entity.name),
        "portal_defaults": {
            "list_columns": ["id"] + [c for name in listed
                                      for c in api_read_columns(entity.fields[name], registry)]
            if all(n in entity.fields for n in listed) else ["id"] + listed,
            "show_columns": readable,
            "add_columns": writable,
            "edit_columns": writable,
            "search_columns": [f.name for f in fields if f.type not in {"children", "file"}],
            "order_columns": [f.name for f in fields if f.type not in
                              {"children", "many", "file"}] + ["id", "created_at", "updated_at"],
        },
        "label_columns": _labels(entity),
        "base_order": (entity.list.order_by or "id",
                       "desc" if entity.list.order_desc or not entity.list.order_by else "asc"),
        "openapi_spec_tag": entity.name,
        "openapi_spec_methods": _list_parameters(registry.feature("presets", entity.name)),
        "model2schemaconverter": FastDumpConverter,
    }
    bases = (BoardApi, EntityRestApi) if board is not None else (EntityRestApi,)
    return type(api_class_name(entity.name), bases, attrs)
