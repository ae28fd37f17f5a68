"""Counting requests per key in the database, so that every worker shares the count.

One statement both counts and decides: an ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``
that opens a window at the first request of a key, adds one inside the window and starts a
new window once it has passed. PostgreSQL and SQLite run it atomically (concurrent requests
on one key queue on its row), so parallel requests never get past the limit together; no
value is read in Python and written back.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from portal.system_models import RateCounter

_TABLE = RateCounter.__table__


@dataclass(frozen=True)
class RateDecision:
    """The outcome of one counted request: whether it is ``allowed``, the ``count`` in the
    current window (this request included) and the seconds until the window ends."""

    allowed: bool
    count: int
    retry_after: int


def hit(engine: Engine, key: str, limit: int, seconds: int,
        now_ms: Optional[int] = None) -> RateDecision:
    """Count one request on ``key`` (at most ``limit`` per ``seconds``) in its own
    transaction: the count stands whatever the request does next. Windows that have ended
    (of any key) are cleared on the way."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    span = seconds * 1000
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(_TABLE).values(key=key, started_ms=now, expires_ms=now + span,
                                         count=1)
    open_window = _TABLE.c.expires_ms > now
    stmt = stmt.on_conflict_do_update(
        index_elements=[_TABLE.c.key],
        set_={
            "count": case((open_window, _TABLE.c.count + 1), else_=1),
            "started_ms": case((open_window, _TABLE.c.started_ms), else_=now),
            "expires_ms": case((open_window, _TABLE.c.expires_ms), else_=now + span),
        },
    ).returning(_TABLE.c.count, _TABLE.c.expires_ms)
    with engine.begin() as conn:
        count, expires = conn.execute(stmt).one()
    _clear_ended(engine, now)
    retry = max(1, math.ceil((expires - now) / 1000))
    return RateDecision(allowed=count <= limit, count=count, retry_after=retry)


#: The most ended windows one request clears (the rest go with the next requests).
CLEAR_BATCH = 100


def _clear_ended(engine: Engine, now: int) -> None:
    """Delete some ended windows, in a transaction of their own. Rows another request holds
    are skipped (``SKIP LOCKED``), so two clearing requests never wait on each other."""
    ended = select(_TABLE.c.key).where(_TABLE.c.expires_ms <= now).limit(CLEAR_BATCH)
    if engine.dialect.name == "postgresql":
        ended = ended.with_for_update(skip_locked=True)
    with engine.begin() as conn:
        conn.execute(delete(_TABLE).where(_TABLE.c.key.in_(ended)))
