"""Running a migration: one transaction, the plan, the steps, the record of what was done.

Everything happens in one transaction, so a failed apply leaves the database as it was
(PostgreSQL and SQLite both roll DDL back; on SQLite the transaction is opened explicitly, as
its driver would run DDL outside one). On SQLite, foreign keys are off while tables are
rebuilt and checked with ``PRAGMA foreign_key_check`` before the commit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from portal.migrate import steps
from portal.migrate.planner import Plan, make_plan
from portal.migrate.snapshot import snapshot, yaml_hash
from portal.migrate.steps import BLOCKED, DROP, KEEP, SAFE, Step
from portal.migrate.versions import record, snapshots
from portal.spec.model import Registry
from portal.system_models import SchemaRename, utcnow

#: System tables that name entities (and fields) in their rows: renames follow into them.
#: The audit trail is not among them: it can never be rewritten, and is read through the
#: recorded renames instead.
NAMED_ROWS: tuple[tuple[str, bool], ...] = (  # (table, has a field column)
    ("portal_attachment", True), ("portal_number_series", True),
    ("portal_workflow_step", False), ("portal_workflow_task", False),
    ("portal_workflow_vote", False), ("portal_notification", False),
)


class MigrationRefused(Exception):
    """The plan cannot be applied as asked; ``plan`` says why (blocked steps, or changes
    beyond what was allowed)."""

    def __init__(self, message: str, plan: Plan) -> None:
        self.plan = plan
        super().__init__(message)


@dataclass
class Outcome:
    """What a migration did: its plan, the backups written, whether it was applied."""

    plan: Plan
    applied: bool = False
    backups: list[Path] = field(default_factory=list)


@contextlib.contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection whose transaction the caller commits or rolls back; on SQLite with
    foreign keys off (tables are rebuilt) and the transaction opened explicitly."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # only outside a transaction
            conn.commit()
        try:
            conn.begin()
            if sqlite:
                conn.exec_driver_sql("BEGIN")
            yield conn
        finally:
            if conn.in_transaction():
                conn.rollback()
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


def plan_only(engine: Engine, registry: Registry, metadata: sa.MetaData,
              drop: bool = False) -> Plan:
    """The plan, computed on the live database and rolled back: nothing changes."""
    with migration_connection(engine) as conn:
        return make_plan(conn, registry, metadata, snapshot(registry),
                         snapshots(conn), drop)


def apply(engine: Engine, registry: Registry, metadata: sa.MetaData, schema_dir: Path,
          who: str, backup_dir: Path, drop: bool = False, only_safe: bool = False) -> Outcome:
    """Plan and apply in one transaction; record the migration. Raises
    :class:`MigrationRefused` (nothing applied) when a step is blocked, or when
    ``only_safe`` and a change is not safe."""
    with migration_connection(engine) as conn:
        shape = snapshot(registry)
        plan = make_plan(conn, registry, metadata, shape, snapshots(conn), drop)
        if plan.blocked:
            raise MigrationRefused(f"{len(plan.blocked)} step(s) cannot be applied", plan)
        if only_safe and not plan.only(SAFE):
            raise MigrationRefused("some changes are not safe to apply by themselves", plan)
        outcome = Outcome(plan)
        folder = backup_dir / dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        for step in plan.steps:
            backup = _carry_out(conn, step, folder)
            if backup is not None:
                outcome.backups.append(backup)
        _follow_renames(conn, plan)
        record(conn, shape, yaml_hash(schema_dir), who, [s.text for s in plan.changes])
        if conn.dialect.name == "sqlite":
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise RuntimeError(f"the migration would break references: {broken[:5]}")
        conn.commit()
        outcome.applied = True
        return outcome


def _carry_out(conn: Connection, step: Step, backups: Path) -> Optional[Path]:
    """Apply one step (renames were done while planning); the backup file it wrote."""
    data, table, column = step.data, step.table, step.column or ""
    if step.level in (BLOCKED, KEEP) or step.action in ("rename_table", "rename_column",
                                                         "enum_values"):
        return None
    if step.action == "create_table":
        steps.create_table(conn, data["table"])
    elif step.action == "add_column":
        column_obj = data["column"]
        steps.add_column(conn, table, column_obj, data.get("fill"), column_obj.type)
    elif step.action == "retype":
        steps.retype(conn, table, column, data["old_type"], data["new_type"], data["values"],
                     data["nullable"])
    elif step.action == "widen":
        steps.widen(conn, table, column, data["old_type"], data["new_type"])
    elif step.action in ("drop_not_null", "keep_column"):
        steps.set_nullable(conn, table, column, True, data["type"])
    elif step.action == "set_not_null":
        steps.set_nullable(conn, table, column, False, data["type"])
    elif step.action == "drop_index":
        steps.drop_index(conn, table, data["name"])
    elif step.action == "drop_unique":
        steps.drop_unique(conn, table, data["name"])
    elif step.action == "add_index":
        steps.add_index(conn, data["obj"])
    elif step.action == "add_unique":
        steps.add_unique(conn, table, data["obj"].name, data["columns"])
    elif step.action == "drop_column" and step.level == DROP:
        path = steps.backup_rows(conn, table, [column], backups)
        steps.drop_column(conn, table, column)
        return path
    elif step.action == "drop_table" and step.level == DROP:
        path = steps.backup_rows(conn, table, None, backups)
        steps.drop_table(conn, table)
        return path
    return None


def _follow_renames(conn: Connection, plan: Plan) -> None:
    """Record the renames, and carry them into the system rows that name entities."""
    tables = set(sa.inspect(conn).get_table_names())
    for kind, entity, old, new in plan.renames:
        conn.execute(sa.insert(SchemaRename).values(kind=kind, entity=entity, old_name=old,
                                                    new_name=new, at=utcnow()))
        for name, has_field in NAMED_ROWS:
            if name not in tables:
                continue
            target = sa.table(name, sa.column("entity"), sa.column("field"))
            if kind == "entity":
                conn.execute(target.update().where(target.c.entity == old)
                             .values(entity=new))
            elif has_field:
                conn.execute(target.update().where(target.c.entity == entity,
                                                   target.c.field == old).values(field=new))
