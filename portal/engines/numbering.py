"""Gap-free numbering like ``CUS-{YYYY}-{#####}``.

The counter row is incremented with one conditional UPDATE in the same transaction as the
record's INSERT: concurrent inserts queue on the row lock, and a rolled-back insert rolls the
counter back too, so numbers are unique and leave no gaps on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from portal.spec.model import NumberFormat
from portal.system_models import NumberSeries

_SERIES = NumberSeries.__table__


def next_number(conn: Connection, entity: str, field: str, fmt: NumberFormat,
                today: dt.date) -> str:
    """Take the next number of ``entity.field`` for ``today``'s period, inside ``conn``'s
    transaction."""
    return next_numbers(conn, entity, field, fmt, today, 1)[0]


def next_numbers(conn: Connection, entity: str, field: str, fmt: NumberFormat,
                 today: dt.date, count: int) -> list[str]:
    """Take the next ``count`` numbers at once (one UPDATE: an import of many records)."""
    if count <= 0:
        return []
    period = fmt.period(today.year, today.month, today.day)
    key = (_SERIES.c.entity == entity) & (_SERIES.c.field == field) & (_SERIES.c.period == period)
    bump = update(_SERIES).where(key).values(last=_SERIES.c.last + count) \
        .returning(_SERIES.c.last)
    seq = conn.execute(bump).scalar()
    if seq is None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(
            dialect.insert(_SERIES)
            .values(entity=entity, field=field, period=period, last=0)
            .on_conflict_do_nothing()
        )
        seq = conn.execute(bump).scalar_one()
    return [fmt.render(today.year, today.month, today.day, n)
            for n in range(seq - count + 1, seq + 1)]
