"""Marshmallow schemas for the shape of each kind of YAML document.

The schemas check keys (``unknown=RAISE``), required keys and the primitive type of every
value; errors are collected by path and carried as :class:`Issue` objects so that each has a
stable code. Meaning that depends on other values (which options a field type allows, enum
defaults, ranges) is checked afterwards in :mod:`portal.spec.validate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from marshmallow import RAISE, Schema, ValidationError
from marshmallow import fields as mf

from portal.spec.model import (
    FIELD_TYPES,
    LOCALES,
    ORDERED_TYPES,
    RELATION_TYPES,
    SCOPES,
    TEXT_TYPES,
)
from portal.spec.reserved import NAME_RE
from portal.spec.suggest import suggest

Path = tuple[Any, ...]

# ---------------------------------------------------------------------------------------------
# Which options each field type takes (one source of truth for validation and the JSON Schema).

COMMON_OPTIONS: tuple[str, ...] = ("type", "label", "help", "required", "index",
                                   "renamed_from")
OPTION_TYPES: Mapping[str, frozenset[str]] = MappingProxyType({
    "unique": frozenset(FIELD_TYPES) - {"bool", "text", "file", "children", "many"},
    "default": frozenset(FIELD_TYPES) - {"children", "many", "file", "number"},
    "max": TEXT_TYPES | ORDERED_TYPES,
    "min": TEXT_TYPES | ORDERED_TYPES,
    "length": frozenset({"string"}),
    "pattern": frozenset({"string", "phone"}),
    "values": frozenset({"enum"}),
    "entity": RELATION_TYPES,
    "via": frozenset({"children"}),
    "format": frozenset({"number"}),
    "scale": frozenset({"decimal"}),
    "digits": frozenset({"decimal"}),
})
REQUIRED_OPTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "enum": ("values",), "link": ("entity",), "children": ("entity",), "many": ("entity",),
    "number": ("format",),
})


def options_for(field_type: str) -> tuple[str, ...]:
    """Every option a field of ``field_type`` accepts, common options first."""
    extra = tuple(opt for opt, types in OPTION_TYPES.items() if field_type in types)
    return COMMON_OPTIONS + extra


# ---------------------------------------------------------------------------------------------
# Coded messages carried through marshmallow's error dicts.

@dataclass(frozen=True)
class Issue:
    """A coded error message. ``{got}`` and ``{key}`` are filled in from the document."""

    code: str
    message: str
    suggestion: str | None = None
    at_key: bool = False


def describe(value: Any) -> str:
    """A value as error messages quote it: ``'yes'``, ``'10'``, ``null``, ``a list``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "'true'" if value else "'false'"
    if isinstance(value, (str, int, Decimal)):
        return f"'{value}'"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"'{value}'"


def fail(code: str, message: str, suggestion: str | None = None) -> ValidationError:
    """A marshmallow error carrying one coded :class:`Issue`."""
    return ValidationError([Issue(code, message, suggestion)])


def expected(kind: str) -> Issue:
    """A bad-value issue saying what was expected (``{got}`` is filled in later)."""
    return Issue("bad-value", f"expected {kind}, got {{got}}")


MISSING = Issue("missing-key", "missing required key '{key}'")


class Strict(mf.Field):
    """A field accepting exactly one kind of value (no coercion of 'yes' to true)."""

    kind = "a value"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error_messages["null"] = expected(self.kind)
        self.error_messages["required"] = MISSING

    def check(self, value: Any) -> bool:
        """True when ``value`` has the right kind."""
        raise NotImplementedError

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not self.check(value):
            raise fail("bad-value", f"expected {self.kind}, got {describe(value)}")
        return value


class Flag(Strict):
    """``true`` or ``false``."""

    kind = "a boolean"

    def check(self, value: Any) -> bool:
        return isinstance(value, bool)


class Text(Strict):
    """A non-empty string."""

    kind = "a string"

    def check(self, value: Any) -> bool:
        return isinstance(value, str) and value != ""


class Whole(Strict):
    """An integer, at least ``minimum`` when given."""

    kind = "an integer"

    def __init__(self, minimum: int | None = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minimum = minimum

    def check(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        value = super()._deserialize(value, attr, data, **kwargs)
        if self.minimum is not None and value < self.minimum:
            raise fail("bad-value", f"expected an integer of at least {self.minimum}, "
                                     f"got {describe(value)}")
        return value


class Scalar(Strict):
    """A single value (string, number or boolean); its meaning depends on the field type."""

    kind = "a single value"

    def check(self, value: Any) -> bool:
        return isinstance(value, (str, int, Decimal))


class FieldType(Strict):
    """One of :data:`portal.spec.model.FIELD_TYPES`."""

    kind = "a field type"

    def check(self, value: Any) -> bool:
        return isinstance(value, str)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        value = super()._deserialize(value, attr, data, **kwargs)
        if value not in FIELD_TYPES:
            raise fail("unknown-type", f"unknown type '{value}'", suggest(value, FIELD_TYPES))
        return value


class ScopeName(Strict):
    """A scope: ``own``, ``department`` or ``all``."""

    kind = "a scope (" + ", ".join(SCOPES) + ")"

    def check(self, value: Any) -> bool:
        return isinstance(value, str)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        value = super()._deserialize(value, attr, data, **kwargs)
        if value not in SCOPES:
            raise fail("bad-value", f"unknown scope '{value}' (expected own, department or all)",
                        suggest(value, SCOPES))
        return value


class OldNames(Strict):
    """``renamed_from``: one earlier name, or a list of them (oldest last)."""

    kind = "a name or a list of names"

    def check(self, value: Any) -> bool:
        return isinstance(value, (str, list)) and value not in ("", [])

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        value = super()._deserialize(value, attr, data, **kwargs)
        names = [value] if isinstance(value, str) else value
        if not all(isinstance(n, str) and NAME_RE.match(n) for n in names):
            raise fail("bad-value", f"expected lowercase names, got {describe(value)}")
        return tuple(names)


class NameList(Strict):
    """A list of names."""

    kind = "a list of names"

    def check(self, value: Any) -> bool:
        return isinstance(value, list)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        value = super()._deserialize(value, attr, data, **kwargs)
        errors = {i: [Issue("bad-value", f"expected a name, got {describe(item)}")]
                  for i, item in enumerate(value) if not isinstance(item, str) or not item}
        if errors:
            raise ValidationError(errors)
        return value


def _check_label(value: Any) -> dict[Any, list[Issue]]:
    if isinstance(value, str):
        return {}
    errors: dict[Any, list[Issue]] = {}
    for locale, text in value.items():
        if locale not in LOCALES:
            errors[locale] = [Issue("unknown-key", f"unknown locale '{locale}'",
                                    suggest(locale, LOCALES), at_key=True)]
        elif not isinstance(text, str):
            errors[locale] = [Issue("bad-value", f"expected a string, got {describe(text)}")]
    return errors


class LabelText(Strict):
    """A text: a plain string (English) or a mapping of locale to string."""

    kind = "a string or a mapping of locale to string"

    def check(self, value: Any) -> bool:
        return isinstance(value, (str, dict))

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        value = super()._deserialize(value, attr, data, **kwargs)
        errors = _check_label(value)
        if errors:
            raise ValidationError(errors)
        return value


class EnumValues(Strict):
    """Enum values: a list of values, or a mapping of value to label (or null)."""

    kind = "a list of values or a mapping of value to label"

    def check(self, value: Any) -> bool:
        return isinstance(value, (list, dict))

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        value = super()._deserialize(value, attr, data, **kwargs)
        if not value:
            raise fail("bad-value", "an enum needs at least one value")
        errors: dict[Any, Any] = {}
        if isinstance(value, list):
            for i, item in enumerate(value):
                if item is None or isinstance(item, (list, dict)):
                    errors[i] = [Issue("bad-value", f"expected a value, got {describe(item)}")]
        else:
            for name, label in value.items():
                if label is None:
                    continue
                if not isinstance(label, (str, dict)):
                    errors[name] = [Issue("bad-value", f"expected a label, got {describe(label)}")]
                elif sub := _check_label(label):
                    errors[name] = sub
        if errors:
            raise ValidationError(errors)
        return value


def mapping_of(schema: type[Schema], key: str, *, required: bool = False,
               entry: str = "a mapping", whole: str = "a mapping") -> mf.Dict:
    """A mapping of names to nested documents of ``schema`` (errors keyed by name);
    ``entry`` and ``whole`` describe an entry and the mapping in bad-value messages."""
    nested = mf.Nested(schema, error_messages={"null": expected(entry)})
    return mf.Dict(
        keys=mf.Str(), values=nested, data_key=key, attribute=key, required=required,
        error_messages={"invalid": expected(whole), "null": expected(whole),
                        "required": MISSING},
    )


class DocSchema(Schema):
    """Base of every document schema: unknown keys are errors, messages are Issues."""

    class Meta:
        unknown = RAISE

    error_messages = {  # noqa: RUF012 - marshmallow's class-level configuration
        "type": expected("a mapping"),
        "unknown": Issue("unknown-key", "unknown key '{key}'", at_key=True),
    }


FIELD_ENTRY = "a field type or a mapping of field options"


class FieldSchema(DocSchema):
    """One field of an entity (after the ``name: type`` shorthand is expanded)."""

    error_messages = {**DocSchema.error_messages, "type": expected(FIELD_ENTRY)}  # noqa: RUF012

    type = FieldType(required=True)
    label = LabelText()
    help = LabelText()
    required = Flag()
    unique = Flag()
    index = Flag()
    default = Scalar(allow_none=True)
    max = Scalar()
    min = Scalar()
    length = Whole(minimum=1)
    pattern = Text()
    values = EnumValues()
    entity = Text()
    via = Text()
    format = Text()
    scale = Whole(minimum=0)
    digits = Whole(minimum=1)
    renamed_from = OldNames()


class ListSchema(DocSchema):
    """The list screen: columns, search fields, filters and default order."""

    columns = NameList()
    search = NameList()
    filters = NameList()
    order = Text()


class AccessSchema(DocSchema):
    """What one role may do with an entity."""

    read = ScopeName()
    create = Flag()
    update = ScopeName()
    delete = ScopeName()
    hide = NameList()
    merge = Flag()


class EntitySchema(DocSchema):
    """An entity document (``entities/<module>/<name>.yaml``)."""

    entity = Text(required=True)
    module = Text()
    label = LabelText()
    title = Text()
    icon = Text()
    owner = Text()
    fields_ = mapping_of(FieldSchema, "fields", required=True, entry=FIELD_ENTRY)
    list = mf.Nested(ListSchema, error_messages={"null": expected("a mapping")})
    access = mapping_of(AccessSchema, "access")
    renamed_from = OldNames()


class RoleSchema(DocSchema):
    """One role in ``roles.yaml``."""

    label = LabelText()
    description = Text()


class RolesSchema(DocSchema):
    """``roles.yaml``."""

    roles = mapping_of(RoleSchema, "roles", required=True)


class ModuleSchema(DocSchema):
    """One module (menu category) in ``modules.yaml``."""

    label = LabelText()
    icon = Text()
    order = Whole(minimum=None)


class ModulesSchema(DocSchema):
    """``modules.yaml``."""

    modules = mapping_of(ModuleSchema, "modules", required=True)


# ---------------------------------------------------------------------------------------------
# Turning marshmallow's nested error dicts into (path, Issue) pairs.

def _keys_of(schema: Schema) -> list[str]:
    return [f.data_key or name for name, f in schema.load_fields.items()]


def _field_named(schema: Schema, key: str) -> mf.Field | None:
    for name, f in schema.load_fields.items():
        if (f.data_key or name) == key:
            return f
    return None


def _leaves(messages: Any, path: Path) -> list[tuple[Path, Issue]]:
    items = messages if isinstance(messages, list) else [messages]
    out: list[tuple[Path, Issue]] = []
    for item in items:
        if isinstance(item, Issue):
            out.append((path, item))
        elif isinstance(item, dict):  # a custom field's per-item errors
            for key, sub in item.items():
                out.extend(_leaves(sub, (*path, key)))
        else:  # a marshmallow built-in message we did not replace
            out.append((path, Issue("bad-value", str(item).rstrip(".").lower())))
    return out


def _walk(messages: Any, node: Schema | mf.Field, path: Path) -> list[tuple[Path, Issue]]:
    if isinstance(node, mf.Nested):
        node = node.schema
    if isinstance(node, Schema) and isinstance(messages, dict):
        out: list[tuple[Path, Issue]] = []
        for key, sub in messages.items():
            if key == "_schema":
                out.extend(_leaves(sub, path))
                continue
            child = _field_named(node, key)
            if child is None:  # an unknown key
                for p, issue in _leaves(sub, (*path, key)):
                    if issue.code == "unknown-key":
                        issue = Issue(issue.code, issue.message.format(key=key),
                                      suggest(key, _keys_of(node)), at_key=True)
                    out.append((p, issue))
            else:
                out.extend(_walk(sub, child, (*path, key)))
        return out
    if isinstance(node, mf.List) and isinstance(messages, dict):
        out = []
        for index, sub in messages.items():  # per-item errors, keyed by index
            out.extend(_walk(sub, node.inner, (*path, index)))
        return out
    if isinstance(node, mf.Dict) and isinstance(messages, dict):
        out = []
        for key, sub in messages.items():
            if isinstance(sub, dict) and set(sub) <= {"key", "value"}:
                if "key" in sub:
                    out.extend(_leaves(sub["key"], (*path, key)))
                if "value" in sub:
                    out.extend(_walk(sub["value"], node.value_field, (*path, key)))
            else:
                out.extend(_leaves(sub, (*path, key)))
        return out
    out = []
    for p, issue in _leaves(messages, path):
        if issue.code == "missing-key":
            issue = Issue(issue.code, issue.message.format(key=p[-1]))
        out.append((p, issue))
    return out


def load_shape(schema: Schema, data: Any) -> tuple[dict[str, Any], list[tuple[Path, Issue]]]:
    """Check ``data`` against ``schema``: the valid part of the data and every issue found."""
    try:
        return schema.load(data), []
    except ValidationError as exc:
        valid = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        return valid, _walk(exc.messages, schema, ())
