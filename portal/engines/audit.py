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

from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import attributes

from portal.engines.access import Principal
from portal.engines.bulk import insert_many
from portal.spec.model import EntitySpec
from portal.system_models import AuditLog, SchemaRename, utcnow

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
    # Computed fields follow from the changes that are recorded (a receipt's amount, not the
    # contract's outstanding total it moves).
    derived = getattr(type(obj), "__computed__", frozenset())
    for f in entity.fields.values():
        if f.type == "children" or f.name == moved_by_workflow or f.name in derived:
            continue
        if f.type == "many":
            hist = attributes.get_history(obj, f.name)
            if which == "update" and not hist.has_changes():
                continue
            # History parts may be lists or tuples (SQLAlchemy 2.1): never add them up.
            after = sorted(o.id for part in (hist.unchanged, hist.added) for o in part or ())
            before = sorted(o.id for part in (hist.unchanged, hist.deleted) for o in part or ())
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
    insert_many(conn, _LOG, rows)


class Renames:
    """The renames ``portal migrate`` carried out, read from ``portal_schema_rename``: the
    audit trail keeps the names a change was made under, and is read through these."""

    def __init__(self, rows: Iterable[Any]) -> None:
        self.entities: dict[str, str] = {}
        self.fields: dict[tuple[str, str], str] = {}
        for kind, entity, old, new in rows:
            if kind == "entity":
                self.entities[old] = new
            else:
                self.fields[(entity, old)] = new

    def entity_now(self, name: str) -> str:
        """The current name of an entity once called ``name``."""
        seen = {name}
        while name in self.entities and self.entities[name] not in seen:
            name = self.entities[name]
            seen.add(name)
        return name

    def names_of(self, entity: str) -> list[str]:
        """Every name ``entity`` has had, itself first."""
        return [entity, *(old for old in self.entities if old != entity and
                          self.entity_now(old) == entity)]

    def field_now(self, entity: str, name: str) -> str:
        """The current name of a field of ``entity`` once called ``name``."""
        seen = {name}
        while True:
            renamed = next((new for (e, old), new in self.fields.items()
                            if old == name and self.entity_now(e) == entity), None)
            if renamed is None or renamed in seen:
                return name
            name = renamed
            seen.add(name)


def renames(conn: Connection) -> Renames:
    """The recorded renames (none on a database that was never migrated)."""
    return Renames(conn.execute(select(SchemaRename.kind, SchemaRename.entity,
                                       SchemaRename.old_name, SchemaRename.new_name)
                                .order_by(SchemaRename.id)))


def history(conn: Connection, entity: str, record_id: int) -> list[dict[str, Any]]:
    """A record's audit entries and those of its inline child rows, newest first, with
    ``changes`` decoded; entries made under earlier names of the entity or its fields are
    given the current ones."""
    names = renames(conn)
    called = names.names_of(entity)
    own = _LOG.c.entity.in_(called) & (_LOG.c.record_id == record_id)
    rows_of = _LOG.c.parent_entity.in_(called) & (_LOG.c.parent_id == record_id)
    result = conn.execute(select(_LOG).where(own | rows_of).order_by(_LOG.c.id.desc()))
    entries = []
    for row in result:
        now = names.entity_now(row.entity)
        changes = {names.field_now(now, k): v for k, v in json.loads(row.changes).items()}
        entries.append(dict(row._mapping, entity=now, changes=changes,
                            parent_entity=names.entity_now(row.parent_entity)
                            if row.parent_entity else None))
    return entries


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
