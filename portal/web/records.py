"""Rules every write to a record obeys, shared by the screens and the REST API.

``guard`` checks the user's update/delete scope on the record as it was before the change;
``check_fields`` runs the shared field checks; ``check_references`` refuses deleting a record
others still point at, naming them; ``check_relation_ids`` refuses ids of records that do not
exist or that the user cannot see.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Optional

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from portal.engines.access import AccessDenied, Principal, effective_access, in_scope
from portal.engines.scoping import UNSCOPED
from portal.engines.validation import validate_record
from portal.spec.model import EntitySpec, Registry
from portal.system_models import PortalUser
from portal.web.i18n import current_locale


class RecordInvalid(Exception):
    """Field values a record may not have: ``errors`` maps field name to reasons."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in self.errors.items()))


def original_value(item: Any, attr: str) -> Any:
    """The value ``attr`` had when ``item`` was loaded, before unsaved changes."""
    state = inspect(item)
    if state.transient or state.pending:
        return getattr(item, attr)
    history = state.attrs[attr].history
    if history.deleted:
        return history.deleted[0]
    return getattr(item, attr)


def changed_fields(entity: EntitySpec, item: Any) -> set[str]:
    """The fields an unsaved edit of ``item`` changes (links by their id column)."""
    state = inspect(item)
    changed = set()
    for f in entity.fields.values():
        key = f"{f.name}_id" if f.type in {"link", "user", "file"} else f.name
        if key in state.attrs and state.attrs[key].history.has_changes():
            changed.add(f.name)
    return changed


def state_before(item: Any) -> Optional[str]:
    """The workflow state ``item`` had when loaded (None without a workflow)."""
    workflow = getattr(type(item), "__workflow__", None)
    return original_value(item, workflow.state_field) if workflow is not None else None


def guard(session: Session, entity: EntitySpec, principal: Principal, action: str,
          item: Any) -> None:
    """Raise AccessDenied unless ``principal`` may ``action`` (update/delete) ``item``."""
    access = effective_access(entity, principal)
    if action == "create":
        if not access.create:
            raise AccessDenied(f"you may not create {entity.name} records")
        return
    scope = access.scope(action)
    if scope == "all":
        return
    owner_attr = type(item).__owner_column__
    owner_id = original_value(item, owner_attr)
    department = None
    if scope == "department" and owner_id is not None:
        department = session.execute(
            select(PortalUser.department_id).where(PortalUser.id == owner_id)
        ).scalar()
    if not in_scope(scope, owner_id, department, principal):
        raise AccessDenied(f"you may not {action} this {entity.name} record")


def check_fields(entity: EntitySpec, values: Mapping[str, Any]) -> None:
    """Raise RecordInvalid if any of ``values`` breaks its field's rules."""
    errors = validate_record(entity, values)
    if errors:
        raise RecordInvalid({k: [v] for k, v in errors.items()})


def column_values(entity: EntitySpec, item: Any) -> dict[str, Any]:
    """The plain column values of ``item`` that field checks look at."""
    return {f.name: getattr(item, f.name) for f in entity.fields.values()
            if f.type not in {"children", "many", "file", "number", "link", "user"}}


def taken_reason(session: Session, model: type, field: str, value: Any,
                 own_id: Any = None) -> Optional[str]:
    """Why ``value`` cannot go in the unique ``field``: another record has it. Looks past the
    user's read scope (so the database never answers with an integrity error) without saying
    which record. None when the value is free."""
    if value in (None, ""):
        return None
    query = select(func.count()).select_from(model).where(getattr(model, field) == value)
    if own_id is not None:
        query = query.where(model.id != own_id)
    if session.execute(query, execution_options={UNSCOPED: True}).scalar():
        return f"'{value}' is already used by another record"
    return None


def check_unique(session: Session, entity: EntitySpec, model: type, values: Mapping[str, Any],
                 own_id: Any = None) -> None:
    """Raise RecordInvalid if a unique field's value is taken by another record (any scope)."""
    errors = {
        f.name: [reason] for f in entity.fields.values()
        if f.unique and f.type not in {"link", "user", "number"}
        and (reason := taken_reason(session, model, f.name, values.get(f.name), own_id))
    }
    if errors:
        raise RecordInvalid(errors)


def check_references(session: Session, registry: Registry, models: Mapping[str, type],
                     entity: EntitySpec, item: Any) -> None:
    """Raise RecordInvalid if other records still link to ``item`` (children excepted)."""
    children = {(f.target, f.via) for f in entity.fields.values() if f.type == "children"}
    blockers = []
    for other, f in registry.links_to(entity.name):
        if (other.name, f.name) in children:
            continue
        model = models[other.name]
        link = getattr(model, f"{f.name}_id")
        count = session.execute(select(func.count()).select_from(model).where(link == item.id),
                                execution_options={UNSCOPED: True}).scalar()
        if count:
            blockers.append(f"{count} {other.label.get(current_locale(), other.name)} "
                            f"record(s) ({f.name})")
    if blockers:
        raise RecordInvalid({"_": [f"cannot delete: still referenced by {', '.join(blockers)}"]})


def check_relation_ids(session: Session, entity: EntitySpec, models: Mapping[str, type],
                       payload: Mapping[str, Any]) -> dict[str, list[str]]:
    """Reasons keyed by field for link/user/many ids in ``payload`` that are not usable."""
    errors: dict[str, list[str]] = {}
    for name, value in payload.items():
        f = entity.fields.get(name)
        if f is None or f.type not in {"link", "user", "many"} or value is None:
            continue
        ids: Iterable[Any] = value if f.type == "many" else [value]
        if f.type == "many" and not isinstance(value, list):
            errors[name] = ["expected a list of ids"]
            continue
        bad = [i for i in ids if not isinstance(i, int) or isinstance(i, bool)]
        if bad:
            errors[name] = [f"'{bad[0]}' is not a record id"]
            continue
        model = PortalUser if f.type == "user" else models[f.target]
        wanted = set(ids)
        if not wanted:
            continue
        # Through the ORM: ids outside the user's read scope count as unknown.
        found = set(session.scalars(select(model.id).where(model.id.in_(wanted))).all())
        missing = sorted(wanted - found)
        if missing:
            target = "user" if f.type == "user" else f.target
            errors[name] = [f"unknown {target} id {missing[0]}"]
    return errors
