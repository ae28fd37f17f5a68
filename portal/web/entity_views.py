"""The base screen and REST API of every generated entity.

Generators subclass these with an entity's definition; all behaviour lives here, driven by
``self.entity``, so no code names a business entity.
"""

from __future__ import annotations

import copy
import datetime as dt
import inspect
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Optional

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import ModelView, expose, has_access
from flask_appbuilder.api import safe
from flask_appbuilder.api.schemas import get_list_schema
from flask_appbuilder.const import (
    API_FILTERS_RIS_KEY,
    API_RESULT_RES_KEY,
    API_SELECT_COLUMNS_RIS_KEY,
    API_SELECT_SEL_COLUMNS_RIS_KEY,
)
from flask_appbuilder.exceptions import FABException, InvalidOrderByColumnFABException
from flask_appbuilder.security.decorators import permission_name, protect
from flask_appbuilder.utils.base import is_column_dotted
from flask_babel import LazyString
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from portal.engines import audit, workflow
from portal.engines.access import AccessDenied
from portal.engines.attachments import AttachmentTooLarge, store_file
from portal.engines.export_files import UnknownFormat
from portal.engines.filling import LinkRefused, fill_before_save
from portal.engines.lifecycle import fill_value_defaults
from portal.engines.rules import broken_checks
from portal.engines.validation import validate_record
from portal.runtime import acting_principal, request_principal, runtime
from portal.spec.computed import computed_of
from portal.spec.model import EntitySpec
from portal.web import export as list_export
from portal.web import list_presets, quick_search
from portal.web.access_columns import PerUserColumns, PerUserSchema, hidden_fields
from portal.web.child_rows import ChildRows, apply_child_rows, take_child_rows
from portal.web.defaults_api import defaults_response
from portal.web.duplicate_warnings import api_warnings, flash_matches
from portal.web.fast_rison import FastRisonModelRestApi, rison
from portal.web.history import history_rows
from portal.web.i18n import LazyLabel, current_locale
from portal.web.json_body import json_object
from portal.web.list_highlight import (
    HighlightListWidget,
    has_highlight,
    page_marks,
    record_mark,
)
from portal.web.merge_views import duplicates_page, merge_from_form, merge_response
from portal.web.overview_page import overview_page, tab_data
from portal.web.records import (
    RecordInvalid,
    changed_fields,
    check_fields,
    check_references,
    check_relation_ids,
    check_unique,
    column_values,
    guard,
    state_before,
)
from portal.web.row_list import RowListPlan, build_plan
from portal.web.timeline_page import timeline_items
from portal.web.workflow_view import act_from_form, workflow_summary

#: Column attributes FAB reads per request; each hides the user's hidden fields.
_COLUMN_ATTRS = ("list_columns", "show_columns", "add_columns", "edit_columns",
                 "search_columns", "order_columns", "list_select_columns",
                 "show_select_columns", "description_columns")


def _with_per_user_columns(cls: type) -> type:
    for name in _COLUMN_ATTRS:
        descriptor = PerUserColumns()
        descriptor.__set_name__(cls, name)
        setattr(cls, name, descriptor)
    return cls


def _with_quiet_lazy_strings(cls: type) -> type:
    """Replace FAB's class-level lazy messages ("Added Row", ...) by ``LazyLabel``s, which
    render the same but not when FAB probes every view attribute for markers at start-up
    (thousands of translation lookups for a hundred entities)."""
    names = {name for klass in cls.__mro__ for name in vars(klass)}
    for name in names:
        value = inspect.getattr_static(cls, name)
        if type(value) is LazyString:
            setattr(cls, name, LazyLabel(value._func, *value._args, **value._kwargs))
    return cls


class EntityMixin:
    """What screens and API share: the entity, its session and its write rules."""

    entity: EntitySpec
    datamodel: Any
    #: Column lists the generator chose; read by the per-user descriptors until FAB sets them.
    portal_defaults: dict[str, Any] = {}

    @property
    def model(self) -> type:
        return self.datamodel.obj

    def _session(self) -> Any:
        return self.datamodel.session

    def check_write(self, action: str, item: Any) -> None:
        """Access, field and uniqueness rules for a create or update (raises on breach)."""
        session = self._session()
        principal = acting_principal()
        guard(session, self.entity, principal, action, item)
        if action == "create":
            fill_value_defaults(self.entity, item)
        if action == "update":
            workflow.check_edit(item, changed_fields(self.entity, item),
                                state_before(item), "update")
        self.fill(action, item)
        values = column_values(self.entity, item)
        hidden = hidden_fields(self.entity)
        check_fields(self.entity, {k: v for k, v in values.items() if k not in hidden})
        check_unique(session, self.entity, self.model, values,
                     own_id=item.id if action == "update" else None)
        broken = broken_checks(session, runtime().registry, item, "error", current_locale())
        if broken:
            raise RecordInvalid(broken)

    def fill(self, action: str, item: Any) -> None:
        """Links named by text and, on a create, conditional defaults (raises RecordInvalid
        for a text naming no record that may not be created)."""
        rt = runtime()
        try:
            fill_before_save(self._session(), rt.registry, rt.models.classes, item,
                             acting_principal(), created=action == "create")
        except LinkRefused as exc:
            raise RecordInvalid(exc.errors) from exc

    def check_delete(self, item: Any) -> None:
        """Access and reference rules for a delete (raises on breach)."""
        session = self._session()
        guard(session, self.entity, acting_principal(), "delete", item)
        workflow.check_edit(item, set(), state_before(item), "delete")
        rt = runtime()
        check_references(session, rt.registry, rt.models.classes, self.entity, item)

    def _gen_labels_columns(self, list_columns: list[str]) -> None:
        """FAB's, without rendering each label to test it for emptiness (the generated
        labels never are empty; rendering them all was a cost at start-up)."""
        for col in list_columns:
            if col not in self.label_columns:
                self.label_columns[col] = self._prettify_column(col)

    def refuse(self, exc: Exception) -> None:
        """Undo unsaved changes, then re-raise ``exc`` for FAB to report."""
        self._session().rollback()
        raise exc


@_with_quiet_lazy_strings
@_with_per_user_columns
class EntityModelView(EntityMixin, ModelView):
    """List, show, add, edit and delete screens of one entity."""

    show_template = "portal/show.html"
    list_template = "portal/list.html"
    list_widget = HighlightListWidget
    page_size = 25

    # -- the search box: one text over the YAML's search fields --------------------------
    def _get_list_widget(self, filters: Any, **kwargs: Any) -> Any:
        term = request.args.get(quick_search.PARAM, "").strip()
        searchable = tuple(c for c in self.entity.list.search
                           if c not in hidden_fields(self.entity))
        if term and searchable:
            filters = filters.copy()  # FAB's filters object is shared by every request
            filters.add_filter(searchable[0], quick_search.quick_search_filter(searchable),
                               term)
        # Presets apply to this list's own page, not to related lists drawn on a record page.
        own_list = request.endpoint == f"{self.endpoint}.list"
        try:
            preset = list_presets.chosen(self.entity) if own_list else None
        except list_presets.UnknownPreset as exc:
            abort(400, description=str(exc))
        filters = list_presets.with_preset(filters, preset)
        widgets = super()._get_list_widget(filters=filters, **kwargs)
        widgets["quick_search"] = {"term": term, "enabled": bool(searchable)}
        if own_list:
            widgets["presets"] = {"buttons": list_presets.buttons(self.entity, preset),
                                  "active": preset.name if preset is not None else None}
        listed = widgets["list"]
        listed.template_args["row_highlights"] = page_marks(
            self._session(), self.model, self.entity, listed.template_args["pks"])
        if self.entity.mergeable and self.appbuilder.sm.has_access("can_merge",
                                                                  self.class_permission_name):
            widgets["duplicates_url"] = url_for(f"{self.endpoint}.duplicates")
        return widgets

    # -- forms: children tables and files are applied by hand, the rest by FAB --------
    def process_form(self, form: Any, is_created: bool) -> None:
        pending: dict[str, Any] = {}
        for f in self.entity.fields.values():
            if f.type in {"children", "file"} and f.name in form:
                pending[f.name] = form[f.name].data
                del form[f.name]
        g._portal_pending = pending

    def _apply_pending(self, item: Any) -> None:
        pending = g.pop("_portal_pending", {})
        rt = runtime()
        for f in self.entity.fields.values():
            if f.name not in pending:
                continue
            if f.type == "children":
                self._apply_children(item, f.name, f.target, pending[f.name])
            elif isinstance(pending[f.name], FileStorage) and pending[f.name].filename:
                upload: FileStorage = pending[f.name]
                try:
                    attachment = store_file(
                        rt.attachment_dir, upload.stream, upload.filename, upload.mimetype,
                        self.entity.name, f.name, acting_principal().user_id,
                        int(current_app.config["MAX_UPLOAD_BYTES"]))
                except AttachmentTooLarge as exc:
                    raise RecordInvalid({f.name: [str(exc)]}) from exc
                setattr(item, f.name, attachment)

    def _apply_children(self, item: Any, name: str, target: str,
                        rows: list[dict[str, Any]]) -> None:
        """Make ``item``'s children exactly ``rows``: rows with an id update that child in
        place, others are new, children left out are deleted. The rows were validated by
        the form (``ChildRows``), blank ones dropped there."""
        child_model = runtime().models.classes[target]
        existing = {str(c.id): c for c in getattr(item, name)}
        kept = []
        for row in rows:
            child = existing.get(str(row.get("id") or "")) or child_model()
            for key, value in row.items():
                if key != "id":
                    setattr(child, key, value)
            kept.append(child)
        setattr(item, name, kept)

    def pre_add(self, item: Any) -> None:
        try:
            self._apply_pending(item)
            self.check_write("create", item)
        except (AccessDenied, RecordInvalid, workflow.TransitionRefused) as exc:
            self.refuse(exc)

    def post_add(self, item: Any) -> None:
        """Warn (the record is saved) when its phone or email is another record's too, or
        when it breaks a check of level warning."""
        flash_matches(self._session(), self.entity, item,
                      lambda pk: url_for(f"{self.endpoint}.show", pk=pk))
        self._flash_warnings(item)

    def post_update(self, item: Any) -> None:
        """Warn (the record is saved) when it breaks a check of level warning."""
        self._flash_warnings(item)

    def _flash_warnings(self, item: Any) -> None:
        for messages in broken_checks(self._session(), runtime().registry, item, "warning",
                                      current_locale()).values():
            for message in messages:
                flash(message, "warning")

    def pre_update(self, item: Any) -> None:
        try:
            self.check_write("update", item)
            self._apply_pending(item)
            self.fill("update", item)  # the child rows just applied
        except (AccessDenied, RecordInvalid, workflow.TransitionRefused) as exc:
            self.refuse(exc)

    def pre_delete(self, item: Any) -> None:
        try:
            self.check_delete(item)
        except (AccessDenied, RecordInvalid, workflow.TransitionRefused) as exc:
            self.refuse(exc)

    def prefill_form(self, form: Any, pk: Any) -> None:
        item = self.datamodel.get(pk)
        for f in self.entity.fields.values():
            if f.type == "children" and f.name in form:
                field = form[f.name]
                while field.entries:
                    field.pop_entry()
                for child in getattr(item, f.name):
                    field.append_entry(child)

    # -- show page with the record's history --------------------------------------------
    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk: Any) -> Any:
        widgets = self._show(pk)
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            abort(404)
        return self.render_template(
            self.show_template, pk=pk, title=self.show_title, widgets=widgets,
            related_views=self._related_views, history=self.history_rows(item),
            workflow=workflow_summary(self._session(), item)
            if workflow.workflow_of(item) is not None else None,
            overview=overview_page(self._session(), self.entity, item),
            activity=timeline_items(self._session(), self.entity, item.id),
            highlight=record_mark(self._session(), self.entity, item),
        )

    @expose("/action/<pk>/<name>", methods=["POST"])
    @has_access
    def transition(self, pk: Any, name: str) -> Any:
        """Take a workflow action from the record's page (a form with a comment box)."""
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            abort(404)
        act_from_form(self._session(), item, name)
        return redirect(url_for(f"{self.endpoint}.show", pk=pk))

    # -- duplicates and merge (only routed for entities a role may merge) -----------------
    @expose("/duplicates", methods=["GET"])
    @has_access
    def duplicates(self) -> Any:
        """Candidate duplicate groups (same phone, email or similar name), each with a
        merge form."""
        return duplicates_page(self)

    @expose("/merge", methods=["POST"])
    @has_access
    def merge(self) -> Any:
        """Merge the records chosen on the duplicates page into the one to keep."""
        return merge_from_form(self)

    def history_rows(self, item: Any) -> list[dict[str, Any]]:
        """The record's audit entries (its child rows' too), labelled for the reader."""
        rt = runtime()
        return history_rows(self._session(), rt.registry, rt.models.classes, self.entity,
                            item.id, hidden_fields)

    @expose("/export/<fmt>", methods=["GET"])
    @has_access
    def export(self, fmt: str) -> Any:
        """Every record of the list as filtered, searched and ordered on screen (the list
        page's query string), as a CSV or XLSX download (``portal.web.export``)."""
        try:
            preset = list_presets.chosen(self.entity)
        except list_presets.UnknownPreset as exc:
            abort(400, description=str(exc))
        on_screen = list_export.screen_query(self)

        def query(hidden: frozenset[str]) -> tuple[Any, tuple[str, str]]:
            filters, order = on_screen(hidden)
            return list_presets.with_preset(filters, preset), order

        try:
            return list_export.export_list(self, fmt, query)
        except UnknownFormat as exc:
            abort(404, description=str(exc))
        except list_export.ExportRefused as exc:
            abort(400, description=str(exc))


@_with_quiet_lazy_strings
@_with_per_user_columns
class EntityRestApi(EntityMixin, FastRisonModelRestApi):
    """The REST API of one entity under ``/api/v1/<entity>/``."""

    allow_browser_login = True
    list_model_schema = PerUserSchema("list_columns")
    show_model_schema = PerUserSchema("show_columns")
    add_model_schema = PerUserSchema("add_columns")
    edit_model_schema = PerUserSchema("edit_columns")

    def _init_model_schemas(self) -> None:
        """Not at start-up (a third of it): see ``create_blueprint``."""

    def create_blueprint(self, appbuilder: Any, *args: Any, **kwargs: Any) -> Any:
        blueprint = super().create_blueprint(appbuilder, *args, **kwargs)
        PerUserSchema.build_on_first_use(self)  # FAB's model schemas, built when first used
        return blueprint

    # -- the list: rows instead of instances where the plan allows (portal.web.row_list) --
    def _row_list_plan(self) -> Optional[RowListPlan]:
        """The plan for this user's list columns (one per set of hidden fields), or None."""
        columns = tuple(self.list_columns)
        plans = self.__dict__.setdefault("_portal_row_plans", {})
        if columns not in plans:
            plans[columns] = build_plan(self.datamodel, self.entity, runtime().entity_of,
                                        self.list_model_schema, columns)
        return plans[columns]

    def get_list_headless(self, **kwargs: Any) -> Any:
        args = kwargs.get("rison", {})
        try:
            list_presets.chosen(self.entity)  # applied by _handle_filters_args
        except list_presets.UnknownPreset as exc:
            return self.response_400(message=str(exc))
        hidden = hidden_fields(self.entity)
        for flt in args.get(API_FILTERS_RIS_KEY, []) or []:
            column = str(flt.get("col", "")) if isinstance(flt, dict) else ""
            if column.split(".")[0] in hidden:  # the answer would tell the hidden values
                return self.response_400(message=f"cannot filter on '{column}': the field "
                                                 "is hidden from you")
        plan = self._row_list_plan()
        if (plan is None or args.get(API_SELECT_COLUMNS_RIS_KEY)
                or args.get(API_SELECT_SEL_COLUMNS_RIS_KEY)):
            return super().get_list_headless(**kwargs)
        try:
            filters = self._handle_filters_args(args)
            order_column, order_direction = self._handle_order_args(args)
        except (FABException, InvalidOrderByColumnFABException) as exc:
            return self.response_400(message=str(exc))
        if is_column_dotted(order_column) or any(
                is_column_dotted(f.column_name) for f in filters.filters):
            return super().get_list_headless(**kwargs)
        response: dict[str, Any] = {}
        self.set_response_key_mappings(response, self.get_list, args,
                                       **{API_SELECT_COLUMNS_RIS_KEY: []})
        page, page_size = self._handle_page_args(args)
        count, ids, rows = plan.fetch(self.datamodel, request_principal(), filters,
                                      order_column, order_direction, page, page_size)
        response[API_RESULT_RES_KEY] = rows
        response["ids"] = ids
        response["count"] = count
        self.pre_get_list(response)
        return self.response(200, **response)

    def _handle_filters_args(self, rison_args: dict[str, Any]) -> Any:
        """FAB's, on a copy: FAB rewrites the one ``Filters`` object every request shares.
        (A shallow copy keeps the allowed columns, which ``Filters.copy`` drops; the copy
        gets lists of its own from ``clear_filters``.)"""
        filters = copy.copy(self._filters)
        filters.clear_filters()
        filters.rest_add_filters(rison_args.get(API_FILTERS_RIS_KEY, []))
        joined = filters.get_joined_filters(self._base_filters)
        return list_presets.with_preset(joined, list_presets.chosen(self.entity))

    def pre_get_list(self, data: dict[str, Any]) -> None:
        """Each row of an entity with highlight rules gets its ``highlight`` (or null)."""
        if has_highlight(self.entity):
            marks = page_marks(self._session(), self.model, self.entity, data.get("ids", ()))
            for pk, row in zip(data.get("ids", ()), data.get(API_RESULT_RES_KEY, ()),
                               strict=False):
                row["highlight"] = marks.get(pk)

    def pre_get(self, data: dict[str, Any]) -> None:
        """The item of an entity with highlight rules gets its ``highlight`` (or null)."""
        if has_highlight(self.entity):
            item = self._session().get(self.model, data["id"])  # just read by FAB
            data[API_RESULT_RES_KEY]["highlight"] = record_mark(
                self._session(), self.entity, item) if item is not None else None

    def _label_columns_json(self, cols: Optional[list[str]] = None) -> dict[str, Any]:
        """FAB's labels, translated once per language and column list."""
        return self._per_locale("labels", cols, super()._label_columns_json)

    def _description_columns_json(self, cols: Optional[list[str]] = None) -> dict[str, Any]:
        """FAB's descriptions, translated once per language and column list."""
        return self._per_locale("descriptions", cols, super()._description_columns_json)

    def _per_locale(self, kind: str, cols: Optional[list[str]],
                    translate: Callable[[Optional[list[str]]], dict[str, Any]]
                    ) -> dict[str, Any]:
        cache = self.__dict__.setdefault("_portal_translated", {})
        key = (kind, current_locale(), tuple(cols) if cols is not None else None)
        if key not in cache:
            cache[key] = translate(cols)
        return dict(cache[key])

    def _normalise(self, payload: Any) -> tuple[Optional[dict[str, Any]], Any]:
        if not isinstance(payload, dict):
            return None, self.response_400(message="the body must be a JSON object")
        hidden = hidden_fields(self.entity)
        unknown = [k for k in payload if k in hidden]
        if unknown:
            return None, self.response_422(message={k: ["Unknown field."] for k in unknown})
        computed = computed_of(runtime().registry, self.entity.name)
        if any(k in computed for k in payload):  # only their formulas set them
            return None, self.response_422(message={k: [computed[k].refusal()]
                                                    for k in payload if k in computed})
        data = dict(payload)
        for f in self.entity.fields.values():
            value = data.get(f.name)
            if f.type in {"decimal", "money"} and isinstance(value, float):
                data[f.name] = str(Decimal(repr(value)))
        errors = {k: [v] for k, v in validate_record(
                self.entity, {k: v for k, v in data.items()
                              if k in self.entity.fields and self.entity.fields[k].type
                              not in {"link", "user", "many", "children", "file"}}).items()}
        errors.update(check_relation_ids(self._session(), self.entity,
                                         runtime().models.classes, data))
        if errors:
            return None, self.response_422(message=errors)
        return data, None

    def _write(self, change: Callable[[], None], conflict: str) -> Optional[Any]:
        """Run ``change`` and commit. On a refusal, undo everything and return the answer
        (403, 422, or 409 for a database conflict); None when the change is saved."""
        session = self._session()
        try:
            change()
            session.commit()
        except AccessDenied as exc:
            session.rollback()
            return self.response(403, message=str(exc))
        except (RecordInvalid, workflow.TransitionRefused, LinkRefused) as exc:
            session.rollback()
            return self.response_422(message=exc.errors)
        except workflow.TransitionConflict as exc:
            session.rollback()
            return self.response(409, message=str(exc))
        except IntegrityError:
            session.rollback()
            return self.response(409, message=conflict)
        return None

    def _save(self, item: Any, action: str, status: int, schema: Any) -> Any:
        def change() -> None:
            self.check_write(action, item)
            if action == "create":
                self._session().add(item)

        refused = self._write(change, "the change conflicts with another record "
                                      "(a unique value is already taken)")
        if refused is not None:
            return refused
        result = {API_RESULT_RES_KEY: schema.dump(item, many=False)}
        warnings = broken_checks(self._session(), runtime().registry, item, "warning",
                                 current_locale())
        if action == "create":
            result["id"] = item.id
            for name, found in api_warnings(self._session(), self.entity, item).items():
                warnings.setdefault(name, []).extend(found)
        if warnings:
            result["warnings"] = warnings
        return self.response(status, **result)

    def post_headless(self) -> Any:
        if not request.is_json:
            return self.response_400(message="Request is not JSON")
        data, error = self._normalise(request.get_json(silent=True))
        if error is not None:
            return error
        rows, error = self._child_rows(data)
        if error is not None:
            return error
        try:
            item = self.add_model_schema.load(data)
        except ValidationError as err:
            return self.response_422(message=err.messages)
        problems = apply_child_rows(item, runtime().models.classes, self.entity, rows)
        if problems:
            return self.response_422(message=problems)
        return self._save(item, "create", 201, self.add_model_schema)

    def _child_rows(self, data: dict[str, Any]) -> tuple[ChildRows, Any]:
        """Take the rows of ``children`` fields out of ``data`` (see child_rows)."""
        rt = runtime()
        rows, errors = take_child_rows(self._session(), rt.registry, rt.models.classes,
                                       self.entity, data)
        return rows, (self.response_422(message=errors) if errors else None)

    def put_headless(self, pk: Any) -> Any:
        item = self.datamodel.get(pk, self._base_filters)
        if not request.is_json:
            return self.response_400(message="Request is not JSON")
        if not item:
            return self.response_404()
        data, error = self._normalise(request.get_json(silent=True))
        if error is not None:
            return error
        rows, error = self._child_rows(data)
        if error is not None:
            return error
        try:
            merged = self._merge_update_item(item, data)
            item = self.edit_model_schema.load(merged, instance=item)
        except ValidationError as err:
            self._session().rollback()
            return self.response_422(message=err.messages)
        problems = apply_child_rows(item, runtime().models.classes, self.entity, rows)
        if problems:
            self._session().rollback()
            return self.response_422(message=problems)
        return self._save(item, "update", 200, self.edit_model_schema)

    def delete_headless(self, pk: Any) -> Any:
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            return self.response_404()

        def change() -> None:
            self.check_delete(item)
            self._session().delete(item)

        refused = self._write(change, "the record could not be deleted: other data refers "
                                      "to it")
        return refused if refused is not None else self.response(200, message="OK")

    @expose("/merge", methods=["POST"])
    @protect()
    @safe
    @permission_name("merge")
    def merge(self) -> Any:
        """Merge duplicate records into one (routed for entities a role may merge)
        ---
        post:
          description: >-
            Keeps `master` and merges `others` into it: the master's empty fields take the
            first value among the others (the master wins where it has a value), `many`
            fields are united, every link and `many` pair pointing at an other record is
            re-pointed at the master, then the others are deleted. Audited as a `merge`
            entry in the master's history. Needs the `merge` right (`can_merge`).
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  additionalProperties: false
                  required: [master, others]
                  properties:
                    master:
                      type: integer
                      description: The id of the record to keep
                    others:
                      type: array
                      minItems: 1
                      items:
                        type: integer
                      description: The ids of the records merged into it (then deleted)
          responses:
            200:
              description: >-
                Merged: the master as it is now (`result`), the merged ids, the fields
                taken (field -> the id it came from) and the references re-pointed
                (`entity.field` -> count)
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      id:
                        type: integer
                      result:
                        type: object
                      merged:
                        type: array
                        items:
                          type: integer
                      taken:
                        type: object
                      relinked:
                        type: object
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            403:
              description: The caller may not merge records of this entity
            409:
              description: The merge conflicts with another change
            422:
              $ref: '#/components/responses/422'
        """
        return merge_response(self)

    @expose("/<int:pk>/history", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    def history(self, pk: int) -> Any:
        """Audit entries of one record
        ---
        get:
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          responses:
            200:
              description: The record's history, newest first
            401:
              $ref: '#/components/responses/401'
            404:
              $ref: '#/components/responses/404'
        """
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            return self.response_404()
        hidden = hidden_fields(self.entity)
        rows = audit.history(self._session().connection(), self.entity.name, item.id)
        for row in rows:
            row["at"] = row["at"].isoformat() if isinstance(row["at"], dt.datetime) else row["at"]
            row["changes"] = {k: v for k, v in row["changes"].items() if k not in hidden}
        return self.response(200, result=rows)

    @expose("/<int:pk>/overview", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    def overview(self, pk: int) -> Any:
        """The record's 360 view: one tab per related entity the caller may read
        ---
        get:
          description: >-
            The record's key fields (`header`) and its tabs, each with the number of related
            records the caller may read (`count`), the total of the tab's `sum` field
            (`total`, an exact decimal as text), the columns and the first rows. Tabs of
            entities the caller may not read are left out; so are hidden fields. With
            `tab`, only that tab, at page `page` (0-based, `rows` per page).
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          - in: query
            name: tab
            schema:
              type: string
          - in: query
            name: page
            schema:
              type: integer
              minimum: 0
          responses:
            200:
              description: label, header and tabs (or the one tab asked for)
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            404:
              $ref: '#/components/responses/404'
        """
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            return self.response_404()
        page = overview_page(self._session(), self.entity, item)
        if page is None:
            return self.response_404()
        name = request.args.get("tab")
        if name is None:
            return self.response(200, **page)
        spec = runtime().registry.feature("overview", self.entity.name)
        number = request.args.get("page", "0")
        if not number.isdigit():
            return self.response_400(message=f"page: '{number}' is not a page number")
        tab = spec.tabs.get(name)
        found = tab_data(self._session(), self.entity, tab, item.id, spec.rows,
                         int(number) * spec.rows) if tab is not None else None
        if found is None:
            return self.response_400(message=f"tab: no tab '{name}' you may read")
        return self.response(200, **found)

    @expose("/<int:pk>/timeline", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    def timeline(self, pk: int) -> Any:
        """The record's related activities, newest first
        ---
        get:
          description: >-
            Records related to this one (as the entity's `timeline` declares) that the
            caller may read, newest first: entity, entity_label, id, url, date, date_text,
            title and text.
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          responses:
            200:
              description: count and result
            401:
              $ref: '#/components/responses/401'
            404:
              $ref: '#/components/responses/404'
        """
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            return self.response_404()
        items = timeline_items(self._session(), self.entity, item.id)
        if items is None:
            return self.response_404()
        return self.response(200, count=len(items), result=items)

    @expose("/defaults", methods=["GET"])
    @protect()
    @safe
    @permission_name("post")
    def defaults(self) -> Any:
        """The conditional defaults of a new record, given the values typed so far
        ---
        get:
          description: >-
            For an entity with `defaults` rules: the query gives the fields the rules'
            conditions read (`reads`, e.g. `?customer=12`; blank for none); the answer gives,
            for every field the rules set, the value of the first rule that holds, else the
            field's plain default. The add form asks this whenever one of those fields
            changes and fills the fields the user has not touched. Needs the create right.
          responses:
            200:
              description: values (field -> value) and reads (the fields the query may give)
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      values:
                        type: object
                      reads:
                        type: array
                        items:
                          type: string
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            404:
              $ref: '#/components/responses/404'
            422:
              $ref: '#/components/responses/422'
        """
        return defaults_response(self)

    @expose("/export/<fmt>", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    @rison(get_list_schema)
    def export(self, fmt: str, **kwargs: Any) -> Any:
        """Every record of the list (not one page) as a CSV or XLSX file
        ---
        get:
          description: >-
            Every record the caller may read that the list's `filters` let through, in the
            list's order, with an `id` column and every field the caller may see, headed by
            the field labels in the caller's language. CSV is UTF-8 with a byte-order mark.
            Values read back on import: enums as their value, decimals exact (`1234.50`),
            dates in ISO form, booleans `true`/`false`, links as the linked record's title,
            users as their username, `many` fields as titles joined by `;`.
          parameters:
          - in: path
            name: fmt
            required: true
            schema:
              type: string
              enum: [csv, xlsx]
          - in: query
            name: q
            content:
              application/json:
                schema:
                  $ref: '#/components/schemas/get_list_schema'
          responses:
            200:
              description: The file, as an attachment named `<entity>-<YYYY-MM-DD>.<fmt>`
              content:
                text/csv:
                  schema:
                    type: string
                application/vnd.openxmlformats-officedocument.spreadsheetml.sheet:
                  schema:
                    type: string
                    format: binary
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            403:
              description: The caller may not read this entity
        """
        args = kwargs.get("rison", {})

        def query(hidden: frozenset[str]) -> tuple[Any, tuple[str, str]]:
            return self._handle_filters_args(args), self._handle_order_args(args)

        try:
            list_presets.chosen(self.entity)  # applied by _handle_filters_args
            return list_export.export_list(self, fmt, query)
        except (UnknownFormat, list_export.ExportRefused, list_presets.UnknownPreset) as exc:
            return self.response_400(message=str(exc))

    # -- workflow: the record's actions (only routed for entities with a workflow) ----------
    @expose("/<int:pk>/workflow", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    def workflow_state(self, pk: int) -> Any:
        """The record's workflow state, the actions the caller may take, and its timeline
        ---
        get:
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          responses:
            200:
              description: The state, the caller's actions and the timeline
            401:
              $ref: '#/components/responses/401'
            404:
              $ref: '#/components/responses/404'
        """
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            return self.response_404()
        return self.response(200, **workflow_summary(self._session(), item))

    @expose("/<int:pk>/actions/<name>", methods=["POST"])
    @protect()
    @safe
    @permission_name("get")
    def perform_action(self, pk: int, name: str) -> Any:
        """Perform a workflow action (submit, approve, reject...) on one record
        ---
        post:
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          - in: path
            schema:
              type: string
            name: name
            description: The action (a transition of the entity's workflow)
          requestBody:
            required: false
            content:
              application/json:
                schema:
                  type: object
                  additionalProperties: false
                  properties:
                    comment:
                      type: string
                      description: Required by some actions (reject)
          responses:
            200:
              description: >-
                Taken: the state now, whether the record moved (false while a
                countersign waits for more approvals) and the caller's next actions
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            403:
              description: The caller may not take this action on this record
            404:
              $ref: '#/components/responses/404'
            409:
              description: The record is no longer where the action applies (someone acted first)
            422:
              $ref: '#/components/responses/422'
        """
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            return self.response_404()
        body, refused = json_object(self, {"comment"}, optional=True)
        if body is None:
            return refused
        comment = body.get("comment")
        if comment is not None and not isinstance(comment, str):
            return self.response_422(message={"comment": ["Not a valid string."]})
        rt = runtime()
        outcome: list[workflow.Outcome] = []

        def change() -> None:
            outcome.append(workflow.perform(self._session(), rt.registry, rt.models.classes,
                                            item, name, acting_principal(), comment,
                                            locale=current_locale()))

        refused = self._write(change, "the action conflicts with another change")
        if refused is not None:
            return refused
        done = outcome[0]
        return self.response(200, state=done.state, moved=done.moved, waiting=done.waiting,
                             steps=done.steps,
                             actions=workflow_summary(self._session(), item)["actions"])
