"""Conditional defaults of new records (``defaults:``, :mod:`portal.spec.record_defaults`).

A rule's value is written only where the record holds its plain default: nothing, the
field's own ``default``, or what its dynamic default gives (today, the acting user). The
first rule of a field whose condition holds wins; conditions read the record as it is about
to be saved, linked records and related rows included (:mod:`portal.engines.expression_values`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from portal.engines.access import Principal
from portal.engines.expression_values import holds, model_for
from portal.engines.validation import is_empty
from portal.spec.model import DefaultValue, DynamicDefault, EntitySpec, FieldSpec, Registry
from portal.spec.record_defaults import KEY, DefaultsSpec
from portal.system_models import PortalUser, utcnow

#: Field types stored as the id of another row.
_BY_ID = frozenset({"link", "user"})


def defaults_of(registry: Registry, entity: str) -> Optional[DefaultsSpec]:
    """The conditional defaults of ``entity`` (None without any)."""
    return registry.feature(KEY, entity)


def runtime_value(f: FieldSpec, value: DefaultValue, principal: Principal) -> Any:
    """A rule's (or a field's) default as the value stored: dynamic ones worked out, ISO
    dates parsed, numbers exact."""
    if isinstance(value, DynamicDefault):
        if value.kind == "current_user":
            return principal.user_id
        now = utcnow()
        return now.date() if value.kind == "today" else now
    if value is None:
        return None
    if f.type == "date" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if f.type == "datetime" and isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    if f.type in {"decimal", "money"}:
        return Decimal(str(value))
    return value


def chosen_values(session: Session, spec: DefaultsSpec, item: Any, principal: Principal
                  ) -> dict[str, Any]:
    """``{field: value}`` from the first rule of each field whose condition holds for
    ``item`` (fields no rule holds for are left out)."""
    entity: EntitySpec = type(item).__entity__
    found: dict[str, Any] = {}
    with session.no_autoflush:
        for rule in spec.rules:
            if rule.field not in found and holds(session, item, rule.when):
                found[rule.field] = runtime_value(entity.fields[rule.field], rule.value,
                                                  principal)
    return found


def is_plain(f: FieldSpec, value: Any, principal: Principal) -> bool:
    """True when ``value`` is what a new record of ``f`` holds unless someone chose it."""
    if is_empty(value):
        return True
    if f.type == "bool" and f.default is None:
        return value is False
    if isinstance(f.default, DynamicDefault):
        return f.default.kind != "now" and value == runtime_value(f, f.default, principal)
    return value == runtime_value(f, f.default, principal)


def current_value(item: Any, f: FieldSpec) -> Any:
    """The value ``item`` will be saved with (a link as the linked record's id, whether a
    form set the relationship or only the key was set)."""
    if f.type not in _BY_ID:
        return getattr(item, f.name, None)
    attr = inspect(item).attrs[f.name]
    if attr.history.has_changes():
        return getattr(attr.value, "id", None)
    return getattr(item, f"{f.name}_id", None)


def apply_defaults(session: Session, registry: Registry, item: Any, principal: Principal
                   ) -> dict[str, Any]:
    """Give a new ``item`` the values of its conditional defaults where it holds the plain
    default; the values set, by field."""
    entity: EntitySpec = type(item).__entity__
    spec = defaults_of(registry, entity.name)
    if spec is None:
        return {}
    plain = {name for name in spec.fields
             if is_plain(entity.fields[name], current_value(item, entity.fields[name]),
                         principal)}
    if not plain:
        return {}
    values = {name: value for name, value in chosen_values(session, spec, item, principal)
              .items() if name in plain}
    for name, value in values.items():
        _assign(session, item, entity.fields[name], value)
    return values


def _assign(session: Session, item: Any, f: FieldSpec, value: Any) -> None:
    if f.type not in _BY_ID:
        setattr(item, f.name, value)
        return
    # The relationship, not only the key: one a form set to nothing would win at flush.
    model = PortalUser if f.type == "user" else model_for(type(item), f.target or "")
    setattr(item, f.name, session.get(model, value) if value is not None else None)
    setattr(item, f"{f.name}_id", value)


def offered_values(session: Session, spec: DefaultsSpec, item: Any, principal: Principal
                   ) -> dict[str, Any]:
    """What the add form should show for each field the rules set, given the values typed
    so far (on ``item``, not saved): a rule's value where one holds, else the plain default."""
    entity: EntitySpec = type(item).__entity__
    found = chosen_values(session, spec, item, principal)
    return {name: found[name] if name in found else
            runtime_value(entity.fields[name], entity.fields[name].default, principal)
            for name in spec.fields}


def transient_record(model: type, entity: EntitySpec, values: Mapping[str, Any]) -> Any:
    """An unsaved ``model`` instance holding ``values`` (links as ids), for conditions to be
    evaluated on values that are not a record yet (an import row, a half-filled form)."""
    item = model()
    for name, value in values.items():
        f = entity.fields.get(name)
        if f is None or not f.is_column:
            continue
        setattr(item, f"{name}_id" if f.type in {"link", "user", "file"} else name, value)
    return item
