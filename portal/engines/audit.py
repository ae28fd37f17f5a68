"""The audit trail: every create, update and delete of a record, with before/after values.

Entries are written by a flush hook in the same transaction as the change, so a change and
its audit entry land together or not at all, whichever screen, API or job made it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import insert, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import attributes

from portal.engines.access import Principal
from portal.spec.model import EntitySpec
from portal.system_models import AuditLog, utcnow

_LOG = AuditLog.__table__


def plain(value: Any) -> Any:
    """A JSON-friendly form of a stored value."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _field_values(entity: EntitySpec, obj: Any, which: str) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` for the changed fields of ``obj``.

    ``which`` is ``create`` (before is null), ``delete`` (after is null) or ``update``.
    Links, users and files are recorded by id; ``many`` fields as sorted id lists.
    """
    state = inspect(obj)
    changes: dict[str, list[Any]] = {}
    # A workflow's state field changes only through transitions, whose own entries
    # (:func:`workflow_entry`) record it with the transition, comment and substitute.
    workflow = getattr(type(obj), "__workflow__", None)
    moved_by_workflow = workflow.state_field if workflow is not None and which == "update" \
        else None
    for f in entity.fields.values():
        if f.type == "children" or f.name == moved_by_workflow:
            continue
        if f.type == "many":
            hist = attributes.get_history(obj, f.name)
            if which == "update" and not hist.has_changes():
                continue
            after = sorted(o.id for o in (hist.unchanged or ()) + (hist.added or ()))
            before = sorted(o.id for o in (hist.unchanged or ()) + (hist.deleted or ()))
        else:
            key = f"{f.name}_id" if f.type in {"link", "user", "file"} else f.name
            hist = state.attrs[key].history
            if which == "update" and not hist.has_changes():
                continue
            current = state.attrs[key].value if which != "update" else None
            before = plain(hist.deleted[0]) if hist.deleted else None
            after = plain(hist.added[0]) if hist.added else None
            if which == "create":
                before, after = None, plain(current)
            elif which == "delete":
                before, after = plain(current), None
        if which == "create" and after in (None, [], ""):
            continue
        if which == "delete" and before in (None, [], ""):
            continue
        changes[f.name] = [before, after]
    return changes


def audit_entries(principal: Principal, created: Iterable[Any], updated: Iterable[Any],
                  deleted: Iterable[Any]) -> list[dict[str, Any]]:
    """Audit rows for the given model instances (generated entities only)."""
    at = utcnow()
    rows = []
    for action, objs in (("create", created), ("update", updated), ("delete", deleted)):
        for obj in objs:
            entity: Optional[EntitySpec] = getattr(type(obj), "__entity__", None)
            if entity is None:
                continue
            changes = _field_values(entity, obj, action)
            if action == "update" and not changes:
                continue
            parent_entity, parent_id = _parent_of(obj)
            rows.append({
                "entity": entity.name, "record_id": obj.id, "action": action, "at": at,
                "user_id": principal.user_id, "username": principal.username,
                "changes": json.dumps(changes, ensure_ascii=False, sort_keys=True),
                "parent_entity": parent_entity, "parent_id": parent_id,
            })
    return rows


#: The ``changes`` key of a workflow entry holding the transition, comment and substitute.
WORKFLOW_KEY = "_workflow"


def workflow_entry(principal: Optional[Principal], entity: str, record_id: int, kind: str,
                   transition: str, state_field: str, source: str, target: str,
                   comment: Optional[str], on_behalf_of: Optional[str]) -> dict[str, Any]:
    """The audit row of one workflow step: ``kind`` is ``transition``, ``automatic`` or
    ``approval`` (a countersign vote that did not move the record yet). A step without a
    principal (automatic) is recorded as the system's."""
    changes: dict[str, Any] = {WORKFLOW_KEY: {
        "transition": transition, "comment": comment, "on_behalf_of": on_behalf_of}}
    if source != target:
        changes[state_field] = [source, target]
    return {
        "entity": entity, "record_id": record_id, "action": kind, "at": utcnow(),
        "user_id": principal.user_id if principal else None,
        "username": principal.username if principal else "system",
        "changes": json.dumps(changes, ensure_ascii=False, sort_keys=True),
        "parent_entity": None, "parent_id": None,
    }


def _parent_of(obj: Any) -> tuple[Optional[str], Optional[int]]:
    """The parent record of an inline child row, read from its link back (before deletion
    too: the committed value is used when the link was cleared)."""
    state = inspect(obj)
    for parent_entity, via in getattr(type(obj), "__parents__", ()):
        hist = state.attrs[f"{via}_id"].history
        value = state.attrs[f"{via}_id"].value
        if value is None and hist.deleted:
            value = hist.deleted[0]
        if value is not None:
            return parent_entity, value
    return None, None


def write_entries(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert audit rows on ``conn`` (the flushing session's connection)."""
    if rows:
        conn.execute(insert(_LOG), rows)


def history(conn: Connection, entity: str, record_id: int) -> list[dict[str, Any]]:
    """A record's audit entries and those of its inline child rows, newest first, with
    ``changes`` decoded."""
    own = (_LOG.c.entity == entity) & (_LOG.c.record_id == record_id)
    rows_of = (_LOG.c.parent_entity == entity) & (_LOG.c.parent_id == record_id)
    result = conn.execute(select(_LOG).where(own | rows_of).order_by(_LOG.c.id.desc()))
    return [dict(row._mapping, changes=json.loads(row.changes)) for row in result]


_SQLITE_GUARDS = tuple(
    f"CREATE TRIGGER IF NOT EXISTS portal_audit_log_no_{op} BEFORE {op.upper()} ON "
    f"portal_audit_log BEGIN SELECT RAISE(ABORT, 'audit entries cannot be changed or "
    f"deleted'); END"
    for op in ("update", "delete")
)
_POSTGRES_GUARDS = (
    "CREATE OR REPLACE FUNCTION portal_audit_log_immutable() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit entries cannot be changed or "
    "deleted'; END $$",
    "CREATE OR REPLACE TRIGGER portal_audit_log_immutable BEFORE UPDATE OR DELETE ON "
    "portal_audit_log FOR EACH ROW EXECUTE FUNCTION portal_audit_log_immutable()",
)


def protect_audit_table(conn: Connection) -> None:
    """Make the database itself refuse UPDATE and DELETE on audit entries (raw SQL too)."""
    from sqlalchemy import text

    statements = _POSTGRES_GUARDS if conn.dialect.name == "postgresql" else _SQLITE_GUARDS
    for statement in statements:
        conn.execute(text(statement))
