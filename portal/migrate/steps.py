"""The steps of a migration plan and how each one changes the database.

Every step is carried out with Alembic's operations on the migration's one connection, in
batch mode (``batch_alter_table``), which on SQLite rebuilds a table where ALTER TABLE cannot
do the change and on PostgreSQL is plain ALTER TABLE. Values that change form (a retype, a
backfill) are written row by row through SQLAlchemy with the column's new type, so money
stays exact on both databases.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection

#: How a step may be applied.
SAFE = "safe"        # by itself, with PORTAL_AUTO_MIGRATE=safe, or by portal migrate --apply
REVIEW = "review"    # by portal migrate --apply only
BLOCKED = "blocked"  # not until the YAML or the data is fixed: ``problems`` says how
DROP = "drop"        # with portal migrate --apply --drop only, after a CSV backup
KEEP = "keep"        # nothing to do: a removed field or entity keeps its data, hidden

#: The most offending rows a blocked step lists.
MAX_LISTED_ROWS = 20


@dataclass
class Step:
    """One change: ``action`` on ``table`` (and ``column``), what a person reads, how it
    may be applied, and what stops it (``problems``: reasons and offending rows)."""

    action: str
    table: str
    text: str
    level: str
    column: Optional[str] = None
    problems: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        """The step as the plan prints it."""
        head = f"  [{self.level}] {self.text}"
        return "\n".join([head, *(f"      {p}" for p in self.problems)])


def operations(conn: Connection) -> Any:
    """Alembic's ``Operations`` on ``conn`` (inside the migration's transaction); Alembic is
    imported here, so that a start-up with nothing to migrate does not load it."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    return Operations(MigrationContext.configure(conn))


def rename_table(conn: Connection, old: str, new: str) -> None:
    """Rename a table; on PostgreSQL also the names that would clash if a table called
    ``old`` came back (its id sequence and primary key)."""
    operations(conn).rename_table(old, new)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f'ALTER SEQUENCE IF EXISTS "{old}_id_seq" RENAME TO "{new}_id_seq"')
        found = conn.exec_driver_sql(
            "SELECT conname FROM pg_constraint WHERE conrelid = %(t)s::regclass AND "
            "contype = 'p'", {"t": new}).scalars().all()
        for name in found:
            if name == f"pk_{old}":
                conn.exec_driver_sql(f'ALTER TABLE "{new}" RENAME CONSTRAINT "{name}" TO '
                                     f'"pk_{new}"')


def rename_column(conn: Connection, table: str, old: str, new: str) -> None:
    """Rename a column, keeping its values."""
    with operations(conn).batch_alter_table(table) as batch:
        batch.alter_column(old, new_column_name=new)


def create_table(conn: Connection, table: sa.Table) -> None:
    """Create a model table with its indexes."""
    table.create(conn)


def add_column(conn: Connection, table: str, column: sa.Column, fill: Any = None,
               fill_type: Any = None) -> None:
    """Add ``column``; a NOT NULL column on a table with rows is added empty, filled with
    ``fill`` (bound through ``fill_type``), then made NOT NULL."""
    copy = column._copy()  # the model's column belongs to the model's table
    copy.index = False  # indexes are steps of their own
    copy.unique = False
    required = not copy.nullable
    copy.nullable = True
    with operations(conn).batch_alter_table(table) as batch:
        batch.add_column(copy)
    if required:
        if fill is not None:
            target = sa.table(table, sa.column(copy.name, fill_type or copy.type))
            conn.execute(target.update().values({copy.name: fill}))
        set_nullable(conn, table, copy.name, False, copy.type)


def set_nullable(conn: Connection, table: str, column: str, nullable: bool,
                 existing_type: Any) -> None:
    """Make a column optional or required."""
    with operations(conn).batch_alter_table(table) as batch:
        batch.alter_column(column, nullable=nullable, existing_type=existing_type)


def widen(conn: Connection, table: str, column: str, old_type: Any, new_type: Any) -> None:
    """Give a column a larger type that holds every old value as it is (a longer string)."""
    with operations(conn).batch_alter_table(table) as batch:
        batch.alter_column(column, type_=new_type, existing_type=old_type)


def retype(conn: Connection, table: str, column: str, old_type: Any, new_type: Any,
           values: Mapping[int, Any], nullable: bool) -> None:
    """Give a column a new type and write every row's converted value (checked before)."""
    with operations(conn).batch_alter_table(table) as batch:
        batch.alter_column(column, nullable=True, existing_type=old_type)
    using = {"postgresql_using": "NULL"} if conn.dialect.name == "postgresql" else {}
    with operations(conn).batch_alter_table(table) as batch:
        batch.alter_column(column, type_=new_type, existing_type=old_type, **using)
    target = sa.table(table, sa.column("id"), sa.column(column, new_type))
    rows = [{"row_id": k, "value": v} for k, v in values.items()]
    if rows:
        conn.execute(target.update().where(target.c.id == sa.bindparam("row_id"))
                     .values({column: sa.bindparam("value", type_=new_type)}), rows)
    if not nullable:
        set_nullable(conn, table, column, False, new_type)


def add_index(conn: Connection, index: sa.Index) -> None:
    """Create a model index (unique ones were checked for duplicates first)."""
    operations(conn).create_index(index.name, index.table.name,
                                  [c.name for c in index.columns], unique=index.unique)


def drop_index(conn: Connection, table: str, name: str) -> None:
    """Drop an index the model no longer has (no data is lost)."""
    operations(conn).drop_index(name, table_name=table)


def add_unique(conn: Connection, table: str, name: str, columns: list[str]) -> None:
    """Add a unique constraint (duplicates were checked first)."""
    with operations(conn).batch_alter_table(table) as batch:
        batch.create_unique_constraint(name, columns)


def drop_unique(conn: Connection, table: str, name: str) -> None:
    """Drop a unique constraint the model no longer has."""
    with operations(conn).batch_alter_table(table) as batch:
        batch.drop_constraint(name, type_="unique")


def backup_rows(conn: Connection, table: str, columns: Optional[list[str]], folder: Path
                ) -> Path:
    """Write ``table``'s rows (``columns`` with the id, or all) to a CSV file in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    reflected = sa.Table(table, sa.MetaData(), autoload_with=conn)
    wanted = [reflected.c.id, *(reflected.c[c] for c in columns)] if columns \
        else list(reflected.c)
    path = folder / (f"{table}.{'.'.join(columns)}.csv" if columns else f"{table}.csv")
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow([c.name for c in wanted])
        for row in conn.execute(sa.select(*wanted).order_by(reflected.c.id)
                                if "id" in reflected.c else sa.select(*wanted)):
            writer.writerow(["" if v is None else v for v in row])
    return path


def drop_column(conn: Connection, table: str, column: str) -> None:
    """Drop a column (after its backup)."""
    with operations(conn).batch_alter_table(table) as batch:
        batch.drop_column(column)


def drop_table(conn: Connection, table: str) -> None:
    """Drop a table (after its backup)."""
    operations(conn).drop_table(table)
