"""Session hooks every generated record goes through, whatever path saves it.

Before a flush: stamp creator/updater, fill dynamic defaults (``current_user``, ``today``,
``now``) left empty, take numbers for ``number`` fields, and put a record with a workflow in
its initial state. After a flush: write the audit entries in the same transaction, and the
approvers' queue rows of new records. Audit entries themselves can never be changed or deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from portal.engines.access import Principal
from portal.engines.audit import audit_entries, write_entries
from portal.engines.numbering import next_number
from portal.engines.workflow import after_create, on_create
from portal.spec.model import DynamicDefault, EntitySpec
from portal.system_models import AuditLog, PortalUser, utcnow


class ImmutableAuditError(Exception):
    """Raised when anything tries to change or delete an audit entry."""


def fill_value_defaults(entity: EntitySpec, obj: Any) -> None:
    """Give a new record's empty value fields their declared default (a constant, ``today``
    or ``now``), as saving it would: checks made before the save then see what will be
    stored, so a required field with a default is never refused for being left out."""
    now = utcnow()
    for f in entity.fields.values():
        if f.default is None or f.type in {"user", "link", "children", "many", "file"} or \
                getattr(obj, f.name, None) is not None:
            continue
        if isinstance(f.default, DynamicDefault):
            if f.default.kind in ("today", "now"):
                setattr(obj, f.name, now.date() if f.default.kind == "today" else now)
        elif f.type not in {"date", "datetime"}:  # a fixed date: the column default
            setattr(obj, f.name, f.default)


def _fill_new(entity: EntitySpec, obj: Any, principal: Principal, session: Session) -> None:
    today = utcnow().date()
    obj.created_by_id = obj.created_by_id or principal.user_id
    obj.updated_by_id = principal.user_id
    fill_value_defaults(entity, obj)
    for f in entity.fields.values():
        # Set the relationship, not the key: a relationship explicitly set to None would
        # win over the key at flush time.
        if isinstance(f.default, DynamicDefault) and f.type == "user" and \
                getattr(obj, f.name, None) is None and \
                getattr(obj, f"{f.name}_id", None) is None and principal.user_id is not None:
            setattr(obj, f.name, session.get(PortalUser, principal.user_id))
        if f.type == "number" and f.number_format and not getattr(obj, f.name, None):
            setattr(obj, f.name, next_number(session.connection(), entity.name, f.name,
                                             f.number_format, today))


def _only_computed(obj: Any) -> bool:
    """Whether every changed attribute of ``obj`` is a computed field (a recomputed total
    does not make whoever saved a receipt the contract's last editor)."""
    derived = getattr(type(obj), "__computed__", frozenset())
    if not derived:
        return False
    changed = {a.key for a in inspect(obj).attrs if a.history.has_changes()}
    return bool(changed) and changed <= derived


def install_lifecycle(session_factory: Any, current_actor: Callable[[], Principal]) -> None:
    """Attach the before/after flush hooks to ``session_factory``."""

    def before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
        for obj in list(session.dirty) + list(session.deleted):
            if isinstance(obj, AuditLog):
                raise ImmutableAuditError("audit entries cannot be changed or deleted")
        actor = current_actor()
        for obj in session.new:
            entity = getattr(type(obj), "__entity__", None)
            if entity is not None:
                _fill_new(entity, obj, actor, session)
                on_create(obj)
        for obj in session.dirty:
            if getattr(type(obj), "__entity__", None) is not None and session.is_modified(obj) \
                    and not _only_computed(obj):
                obj.updated_by_id = actor.user_id

    def after_flush(session: Session, _ctx: Any) -> None:
        dirty = [o for o in session.dirty if session.is_modified(o)]
        rows = audit_entries(current_actor(), session.new, dirty, session.deleted)
        write_entries(session.connection(), rows)
        for obj in session.new:
            after_create(session, obj)

    event.listen(session_factory, "before_flush", before_flush)
    event.listen(session_factory, "after_flush", after_flush)
