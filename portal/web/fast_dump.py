"""Model schemas whose ``dump(many=True)`` reads plain attributes without marshmallow's
per-value indirection.

For every value marshmallow calls ``Field.serialize`` -> ``Field.get_value`` -> the schema's
``get_attribute`` -> ``utils.get_value`` -> ``_get_value_for_key`` (which probes
``__getitem__`` first) before the field's own ``_serialize``: for a 100-row list that is
most of the serialisation time. For fields that use all of those defaults, on objects
without ``__getitem__`` (model instances), the chain amounts to ``getattr(obj, name,
missing)``; :class:`FastDumpMixin` does exactly that and then calls the field's
``_serialize``, as ``Field.serialize`` would. Every other field (dotted or renamed
attributes, ``Method``/``Function`` fields, custom accessors) takes marshmallow's path.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from typing import Any, Optional

from flask_appbuilder.api.convert import Model2SchemaConverter
from marshmallow import Schema, fields, missing
from marshmallow.fields import Field


def plain_field(name: str, field: Field) -> bool:
    """Whether ``field`` reads ``obj.<name>`` with marshmallow's defaults (no renamed or
    dotted attribute, no custom ``serialize``/``get_value``)."""
    cls = type(field)
    return (field.attribute is None and "." not in name and cls._CHECK_ATTRIBUTE
            and cls.serialize is Field.serialize and cls.get_value is Field.get_value)


def value_writer(field: Field, key: str) -> Callable[[Any], Any]:
    """``value -> field._serialize(value, key, None)``, without the call for the values the
    common marshmallow fields return unchanged (a ``str`` for ``String``, a ``bool`` for
    ``Boolean``, an ``int`` for ``Integer``, a ``Decimal`` for ``Decimal`` without places)
    and with the date format looked up once. Other values and fields take ``_serialize``."""
    serialize = field._serialize

    def generic(value: Any) -> Any:
        return serialize(value, key, None)

    kind = type(field)
    passthrough: Optional[type] = {fields.String: str, fields.Boolean: bool}.get(kind)
    if kind is fields.Integer and not field.as_string:
        passthrough = int
    elif kind is fields.Decimal and not field.as_string and not field.allow_nan:
        if field.places is None:
            passthrough = decimal.Decimal
        else:  # quantizing a Decimal that already has the field's places changes nothing
            places = field.places.as_tuple().exponent
            return lambda value: value if (type(value) is decimal.Decimal and
                                           value.as_tuple().exponent == places) \
                else generic(value)
    if passthrough is not None:
        exact = passthrough
        return lambda value: value if type(value) is exact else generic(value)
    if kind in (fields.Date, fields.DateTime, fields.Time):
        format_func = kind.SERIALIZATION_FUNCS.get(field.format or kind.DEFAULT_FORMAT)
        if format_func is not None:
            return lambda value: None if value is None else format_func(value)
    return generic


class FastDumpMixin:
    """Mixed into generated model schemas (see the module docstring)."""

    dump_fields: dict[str, Field]
    dict_class: type

    def _portal_plan(self) -> list[tuple[str, str, Field, bool]]:
        plan = self.__dict__.get("_portal_dump_plan")
        if plan is None:
            plan = [(f.data_key if f.data_key is not None else name, name, f, plain_field(name, f))
                    for name, f in self.dump_fields.items()]
            self.__dict__["_portal_dump_plan"] = plan
        return plan

    def _serialize(self, obj: Any, *, many: bool = False) -> Any:
        if (not many or obj is None or type(self).get_attribute is not Schema.get_attribute):
            return super()._serialize(obj, many=many)  # type: ignore[misc]
        plan = self._portal_plan()
        out = []
        for item in obj:
            if hasattr(item, "__getitem__"):
                out.append(super()._serialize(item, many=False))  # type: ignore[misc]
                continue
            ret = self.dict_class()
            for key, name, field, plain in plan:
                if plain:
                    value = getattr(item, name, missing)
                    if value is missing:
                        default = field.dump_default
                        value = default() if callable(default) else default
                        if value is missing:
                            continue
                    value = field._serialize(value, name, item)
                else:
                    value = field.serialize(name, item, accessor=self.get_attribute)
                if value is missing:
                    continue
                ret[key] = value
            out.append(ret)
        return out


class FastDumpConverter(Model2SchemaConverter):
    """FAB's model-to-schema converter, building schemas with :class:`FastDumpMixin`."""

    def _meta_schema_factory(self, columns: list[str], model: Optional[type],
                             class_mixin: type, parent_schema_name: Optional[str] = None
                             ) -> type:
        schema = super()._meta_schema_factory(columns, model, class_mixin,
                                              parent_schema_name=parent_schema_name)
        return type(schema.__name__, (FastDumpMixin, schema),
                    {"__module__": schema.__module__, "__qualname__": schema.__qualname__})
