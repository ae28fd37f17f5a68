"""Column lists and API schemas that leave out the fields hidden from the current user.

FAB reads ``list_columns``, ``show_columns``, ... and the API's model schemas from the view
on every request. These descriptors keep the full value FAB sets at start-up and hand each
request the value with the user's hidden fields removed, so one view serves every role.
"""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context

from portal.engines.access import effective_access
from portal.runtime import request_principal
from portal.spec.model import EntitySpec


def hidden_fields(entity: EntitySpec) -> frozenset[str]:
    """Fields of ``entity`` the current request's user may not see (cached per request)."""
    if not has_request_context():
        return frozenset()
    cache = g.setdefault("_portal_hidden", {})
    if entity.name not in cache:
        principal = request_principal()
        cache[entity.name] = (effective_access(entity, principal).hidden
                              if principal is not None else frozenset())
    return cache[entity.name]


def _visible(value: Any, hidden: frozenset[str]) -> Any:
    if not hidden or value is None:
        return value
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k.split(".")[0] not in hidden}
    return [c for c in value if (c[0] if isinstance(c, tuple) else c).split(".")[0] not in hidden]


class PerUserColumns:
    """A column list (or mapping) filtered by the current user's hidden fields."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.store = f"_all_{name}"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        return _visible(self.full(obj), hidden_fields(obj.entity))

    def full(self, obj: Any) -> Any:
        """The value for a user who sees every field."""
        return obj.__dict__.get(self.store, getattr(type(obj), "portal_defaults", {})
                                .get(self.name))

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.store] = value


class PerUserSchema:
    """An API model schema rebuilt (once per hidden set) without the hidden fields.

    When the view asks for it (:meth:`build_on_first_use`, instead of FAB's conversion of all
    four schemas of every API at start-up: a third of the start-up time) the full schema is
    built the first time it is used.
    """

    @staticmethod
    def build_on_first_use(obj: Any) -> None:
        """Build ``obj``'s unset schemas when first read (call once FAB has set it up)."""
        obj.__dict__["_portal_lazy_schemas"] = True

    def __init__(self, columns_attr: str) -> None:
        self.columns_attr = columns_attr

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.store = f"_all_{name}"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return None
        full = obj.__dict__.get(self.store)
        if full is None and obj.__dict__.get("_portal_lazy_schemas"):
            full = obj.__dict__[self.store] = obj.model2schemaconverter.convert(
                getattr(type(obj), self.columns_attr).full(obj), nested=self._nested(),
                parent_schema_name=getattr(obj, f"{self.name}_name"))
        hidden = hidden_fields(obj.entity)
        if full is None or not hidden:
            return full
        cache = obj.__dict__.setdefault("_portal_schema_cache", {})
        key = (self.name, hidden)
        if key not in cache:
            columns = getattr(obj, self.columns_attr)  # already filtered
            cache[key] = obj.model2schemaconverter.convert(columns, nested=self._nested())
        return cache[key]

    def _nested(self) -> bool:
        return self.name in {"list_model_schema", "show_model_schema"}

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.store] = value
