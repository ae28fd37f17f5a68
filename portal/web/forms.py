"""WTForms fields for an entity's add/edit forms, built from its compiled definition.

Every form field is built here (FAB's own model converter is not used), so forms follow the
YAML exactly: enums are plain selects with a blank choice when optional (FAB's enum fields
crash on blank input), links list only records the user may read, and each field carries the
shared checks from ``portal.engines.validation``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from flask import g
from flask_appbuilder.fields import QuerySelectField, QuerySelectMultipleField
from flask_appbuilder.fieldwidgets import (
    BS3TextAreaFieldWidget,
    BS3TextFieldWidget,
    DatePickerWidget,
    DateTimePickerWidget,
    Select2ManyWidget,
    Select2Widget,
)
from flask_wtf.file import FileField
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    DateTimeField,
    DecimalField,
    Field,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import Optional as OptionalValidator

from portal.engines.validation import check_value
from portal.spec.computed import computed_of
from portal.spec.model import DynamicDefault, EntitySpec, FieldSpec, Registry
from portal.system_models import PortalUser, utcnow
from portal.web.i18n import enum_label, field_label, lazy_label
from portal.web.records import taken_reason
from portal.web.widgets import ChildTableWidget, FileInputWidget


class SpecCheck:
    """A WTForms validator running the shared field check."""

    def __init__(self, f: FieldSpec) -> None:
        self.field_spec = f
        self.field_flags = {"required": True} if f.required and f.type != "bool" else {}

    def __call__(self, form: Any, field: Field) -> None:
        reason = check_value(self.field_spec, field.data)
        if reason:
            raise ValidationError(reason)


class UniqueCheck:
    """Refuses a value another record already has (``portal.web.records.taken_reason``)."""

    def __init__(self, model: type, f: FieldSpec, session: Callable[[], Any]) -> None:
        self.model, self.field_spec, self.session = model, f, session

    def __call__(self, form: Any, field: Field) -> None:
        reason = taken_reason(self.session(), self.model, self.field_spec.name, field.data,
                              getattr(form, "_id", None))
        if reason:
            raise ValidationError(reason)


def _query(session: Callable[[], Any], model: type, order: Any) -> Callable[[], list[Any]]:
    # Runs at render time through the ORM, so the user's read scope applies.
    return lambda: session().scalars(select(model).order_by(order)).all()


def _choices(f: FieldSpec) -> list[tuple[str, str]]:
    blank = [] if f.required else [("", "")]
    return blank + [(v, enum_label(f, v)) for v in f.values]


def form_field(f: FieldSpec, entity: EntitySpec, models: Mapping[str, type],
               session: Callable[[], Any]) -> Field:
    """The WTForms field for one entity field."""
    label = field_label(f)
    checks: list[Any] = [SpecCheck(f)]
    if f.unique and f.type not in {"link", "user"}:
        checks.append(UniqueCheck(models[entity.name], f, session))
    desc = lazy_label(f.help, "") if f.help.texts else ""
    common = {"label": label, "description": desc, "default": _form_default(f)}
    if f.type in {"string", "email", "phone", "url"}:
        return StringField(validators=checks, widget=BS3TextFieldWidget(),
                           filters=[_strip, _none_if_blank], **common)
    if f.type == "text":
        return TextAreaField(validators=checks, widget=BS3TextAreaFieldWidget(),
                             filters=[_none_if_blank], **common)
    if f.type == "int":
        return IntegerField(validators=[OptionalValidator(), *checks],
                            widget=BS3TextFieldWidget(), **common)
    if f.type in {"decimal", "money"}:
        return DecimalField(validators=[OptionalValidator(), *checks],
                            places=None, widget=BS3TextFieldWidget(), **common)
    if f.type == "bool":
        return BooleanField(**common)
    if f.type == "date":
        return DateField(validators=[OptionalValidator(), *checks], widget=DatePickerWidget(),
                         **common)
    if f.type == "datetime":
        return DateTimeField(validators=[OptionalValidator(), *checks], format="%Y-%m-%d %H:%M:%S",
                             widget=DateTimePickerWidget(), **common)
    if f.type == "enum":
        # The shared check validates the value; WTForms' own choice check would refuse a
        # missing optional value before it.
        return SelectField(choices=_choices(f), validators=checks, widget=Select2Widget(),
                           validate_choice=False, filters=[_none_if_blank], **common)
    if f.type in {"link", "user"}:
        model = PortalUser if f.type == "user" else models[f.target]
        order = PortalUser.username if f.type == "user" else model.id
        return QuerySelectField(
            query_func=_query(session, model, order), get_pk_func=lambda o: o.id,
            allow_blank=not f.required, validators=checks, widget=Select2Widget(), **common)
    if f.type == "many":
        model = models[f.target]
        return QuerySelectMultipleField(
            query_func=_query(session, model, model.id), get_pk_func=lambda o: o.id,
            widget=Select2ManyWidget(), **common)
    if f.type == "file":
        return FileField(widget=FileInputWidget(), **common)
    raise AssertionError(f"no form field for {f.type!r}")  # number/children: not typed in


def child_form(child: EntitySpec, via: str, models: Mapping[str, type],
               session: Callable[[], Any], skip: Collection[str] = ()) -> type[Form]:
    """A form for one row of a ``children`` table: the child's fields but the link back
    (and ``skip``: fields no one types in, such as computed ones)."""
    attrs: dict[str, Any] = {"id": HiddenField()}
    for f in child.fields.values():
        if f.name != via and f.name not in skip and \
                f.type not in {"children", "many", "number", "file"}:
            attrs[f.name] = form_field(f, child, models, session)
    return type(f"{child.name}_row_form", (Form,), attrs)


class ChildRows(FieldList):
    """The rows of a ``children`` table.

    WTForms gives a FieldList one error dict per row, which FAB's form template cannot
    print (it crashed with a 500); here they become lines like ``row 2: Quantity: ...``,
    while each message also stays on its own cell.
    """

    def validate(self, form: Any, extra_validators: Any = ()) -> bool:
        # A row left completely blank (e.g. "Add row" clicked, nothing typed) is no row.
        self.entries = [e for e in self.entries if not _blank_row(e.form)]
        super().validate(form, extra_validators)
        lines: list[str] = []
        for index, entry in enumerate(self.entries, start=1):
            for name, messages in entry.form.errors.items():
                label = entry.form[name].label.text if name in entry.form else name
                lines.extend(f"row {index}: {label}: {m}" for m in messages)
        self.errors = lines + [e for e in self.errors if isinstance(e, str)]
        return not self.errors


def children_field(f: FieldSpec, registry: Registry, models: Mapping[str, type],
                   session: Callable[[], Any]) -> Field:
    """An inline, editable table of child rows for a ``children`` field."""
    row = child_form(registry.entity(f.target), f.via or "", models, session,
                     skip=computed_of(registry, f.target or ""))
    return ChildRows(FormField(row), label=field_label(f), min_entries=0,
                     widget=ChildTableWidget())


def entity_form_fields(entity: EntitySpec, registry: Registry, models: Mapping[str, type],
                       session: Callable[[], Any]) -> dict[str, Field]:
    """Every editable field of ``entity`` as an unbound WTForms field, by name."""
    fields: dict[str, Field] = {}
    for f in entity.fields.values():
        if f.type == "number":
            continue
        if f.type == "children":
            fields[f.name] = children_field(f, registry, models, session)
        else:
            fields[f.name] = form_field(f, entity, models, session)
    return fields


def _form_default(f: FieldSpec) -> Any:
    """What a new record's form shows before the user types: the YAML default."""
    if isinstance(f.default, DynamicDefault):
        if f.default.kind == "current_user":
            return lambda: g.get("user") if getattr(g.get("user"), "id", None) else None
        # The same clock as the save-time default (portal.engines.lifecycle): UTC.
        if f.default.kind == "today":
            return lambda: utcnow().date()
        return lambda: utcnow().replace(microsecond=0)
    return f.default


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _none_if_blank(value: Any) -> Any:
    # Blank text is stored as NULL: "no value", and never a clash on a unique column.
    return None if value == "" else value


def _blank_row(row: Any) -> bool:
    """True when no field of a child row form holds anything but its empty value."""
    for name, field in row._fields.items():
        if name == "id" or field.type == "BooleanField":
            continue
        raw = field.raw_data[0] if getattr(field, "raw_data", None) else None
        if raw not in (None, "", "__None"):
            return False
    return True
