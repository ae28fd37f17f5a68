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

from typing import Any, Optional

from flask_appbuilder.api.convert import Model2SchemaConverter
from marshmallow import Schema, missing
from marshmallow.fields import Field


def _plain(name: str, field: Field) -> bool:
    cls = type(field)
    return (field.attribute is None and "." not in name and cls._CHECK_ATTRIBUTE
            and cls.serialize is Field.serialize and cls.get_value is Field.get_value)


class FastDumpMixin:
    """Mixed into generated model schemas (see the module docstring)."""

    dump_fields: dict[str, Field]
    dict_class: type

    def _portal_plan(self) -> list[tuple[str, str, Field, bool]]:
        plan = self.__dict__.get("_portal_dump_plan")
        if plan is None:
            plan = [(f.data_key if f.data_key is not None else name, name, f, _plain(name, f))
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
