"""Inserting many rows at once, as fast as each database allows.

On SQLite, SQLAlchemy's executemany builds and processes each row's parameters in Python
(about 10 us a row); for the tens of thousands of rows of an import, and their audit
entries, that was as much as the database's own work. There each column's bind processor
(money as exact units, timestamps as text) is applied directly and the rows go to the
driver as tuples; on PostgreSQL they go through COPY.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection


def insert_many(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (column name -> value; missing columns are NULL or their Python
    default) into ``table`` on ``conn``'s transaction."""
    if not rows:
        return
    names = list(dict.fromkeys(k for row in rows[:1] for k in row))
    for row in rows[1:]:
        if len(row) != len(names):
            names = list(dict.fromkeys(k for r in rows for k in r))
            break
    columns = [table.c[name] for name in names]
    processors = [c.type._cached_bind_processor(conn.dialect) for c in columns]
    defaults = [c.default.arg if c.default is not None and c.default.is_scalar else None
                for c in columns]
    quote = conn.dialect.identifier_preparer.quote
    columns_sql = f"{quote(table.name)} ({', '.join(quote(n) for n in names)})"
    pairs = list(zip(names, defaults, strict=True))
    processed = [(i, p) for i, p in enumerate(processors) if p is not None]
    # A value repeated from the row before (the import's timestamp, its user) is processed
    # once.
    last: list[Any] = [object()] * len(names)
    done: list[Any] = [None] * len(names)
    params = []
    for row in rows:
        values = [row.get(name, default) for name, default in pairs]
        for i, process in processed:
            value = values[i]
            if value is not None:
                if value is not last[i]:
                    last[i], done[i] = value, process(value)
                values[i] = done[i]
        params.append(values)
    if conn.dialect.name == "postgresql":
        # COPY: PostgreSQL's bulk load, several times faster than INSERTs of any batching.
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(f"COPY {columns_sql} FROM STDIN") as copy:
                for values in params:
                    copy.write_row(values)
        finally:
            cursor.close()
        return
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(f"INSERT INTO {columns_sql} VALUES "
                         f"({', '.join([marker] * len(names))})", [tuple(p) for p in params])
