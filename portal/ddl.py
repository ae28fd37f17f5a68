"""Schema changes in one real transaction on every database.

SQLite can create tables and indexes inside a transaction, but Python's sqlite3 driver (as
SQLAlchemy uses it) only opens one before INSERT, UPDATE and DELETE: every CREATE ran in
autocommit mode, as a transaction of its own with its own sync to disk, about 1.5 ms each.
For a hundred entities that was most of a first start, and a failure half-way left half a
schema. :func:`ddl_transaction` opens the transaction explicitly on SQLite; the driver's
commit then commits it (PostgreSQL needs nothing: its DDL is transactional as it is).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import MetaData
from sqlalchemy.engine import Connection, Engine


@contextlib.contextmanager
def ddl_transaction(engine: Engine) -> Iterator[Connection]:
    """``engine.begin()`` whose DDL is inside the transaction on SQLite too."""
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")
        yield conn


def create_tables(engine: Engine, metadata: MetaData) -> None:
    """Create ``metadata``'s missing tables and indexes in one transaction."""
    with ddl_transaction(engine) as conn:
        metadata.create_all(conn)
