"""Schema changes in one real transaction on every database.

SQLite can create tables and indexes inside a transaction, but Python's sqlite3 driver (as
SQLAlchemy uses it) only opens one before INSERT, UPDATE and DELETE: every CREATE ran in
autocommit mode, as a transaction of its own with its own sync to disk, about 1.5 ms each.
For a hundred entities that was most of a first start, and a failure half-way left half a
schema. :func:`ddl_transaction` opens the transaction explicitly on SQLite; the driver's
commit then commits it (PostgreSQL needs nothing: its DDL is transactional as it is).

On PostgreSQL the statements of :func:`create_tables` are sent as one script: a round trip
per CREATE (about 500 for a hundred entities) was a third of the DDL's time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import MetaData, Table, create_mock_engine, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateColumn


@contextlib.contextmanager
def ddl_transaction(engine: Engine) -> Iterator[Connection]:
    """``engine.begin()`` whose DDL is inside the transaction on SQLite too."""
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")
        yield conn


def missing_tables(conn: Connection, metadata: MetaData) -> list[Table]:
    """``metadata``'s tables that the database lacks, found with one query (``create_all``
    asks once per table: a restart of a large portal spent more time asking than building)."""
    existing = set(inspect(conn).get_table_names())
    return [table for table in metadata.sorted_tables if table.name not in existing]


def add_missing_columns(conn: Connection, tables: list[Table]) -> list[str]:
    """Add the nullable columns that ``tables`` declare but the database lacks (a portal
    upgrade that adds a column to one of its own tables); returns ``table.column`` names.

    Only nullable columns without a server default are added (``ALTER TABLE ... ADD
    COLUMN``, without a foreign key constraint: SQLite cannot add one); anything else is a
    change the portal's own code must not need without a migration."""
    # Only these tables: reflecting every entity table too would cost a restart dearly.
    found = inspect(conn).get_multi_columns(filter_names=[t.name for t in tables])
    existing = {key[1]: {c["name"] for c in columns} for key, columns in found.items()}
    added = []
    for table in tables:
        have = existing.get(table.name)
        if have is None:
            continue
        for column in table.columns:
            if column.name in have:
                continue
            if not column.nullable or column.server_default is not None:
                raise RuntimeError(f"table {table.name} lacks column {column.name}, which "
                                   "cannot be added automatically")
            ddl = CreateColumn(column).compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {ddl}")
            added.append(f"{table.name}.{column.name}")
    return added


def create_tables(engine: Engine, metadata: MetaData,
                  tables: list[Table] | None = None) -> None:
    """Create ``metadata``'s missing tables (or the missing ones among ``tables``) with their
    indexes, in one transaction."""
    with ddl_transaction(engine) as conn:
        if conn.dialect.name != "postgresql":
            metadata.create_all(conn, tables=tables)
            return
        wanted = missing_tables(conn, metadata)
        if tables is not None:
            wanted = [t for t in wanted if t in set(tables)]
        script = ddl_script(conn, metadata, wanted)
        if script:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(script)  # no parameters: '%' in the DDL stays as it is
            finally:
                cursor.close()


def ddl_script(conn: Connection, metadata: MetaData, tables: list[Table]) -> str:
    """The CREATE statements for ``tables`` (with their indexes, and constraints added
    afterwards where tables refer to each other in a cycle), in SQLAlchemy's own order,
    joined into one script for ``conn``'s database."""
    statements: list[str] = []

    def collect(sql: Any, *_args: Any, **_kwargs: Any) -> None:
        statements.append(str(sql.compile(dialect=conn.dialect)).strip())

    recorder = create_mock_engine(conn.engine.url, collect)  # type: ignore[arg-type]
    metadata.create_all(recorder, tables=tables, checkfirst=False)  # type: ignore[arg-type]
    return ";\n".join(statements)
