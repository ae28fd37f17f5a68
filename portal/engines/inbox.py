"""A person's in-app inbox: their notifications, the unread count, marking them read."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Optional

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from portal.system_models import Notification, utcnow

#: The most notifications one page of the inbox shows.
PAGE_SIZE = 50


def unread_count(conn: Connection, user_id: int) -> int:
    """How many of the user's notifications are unread."""
    return conn.execute(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None))).scalar() or 0


def notifications(conn: Connection, user_id: int, unread_only: bool = False,
                  before_id: Optional[int] = None, limit: int = PAGE_SIZE
                  ) -> list[dict[str, Any]]:
    """The user's notifications, newest first (``before_id`` pages back)."""
    query = select(Notification.id, Notification.at, Notification.kind, Notification.title,
                   Notification.body, Notification.entity, Notification.record_id,
                   Notification.read_at).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if before_id is not None:
        query = query.where(Notification.id < before_id)
    rows = conn.execute(query.order_by(Notification.id.desc()).limit(limit))
    return [dict(row._mapping) for row in rows]


def mark_read(conn: Connection, user_id: int, ids: Optional[Iterable[int]] = None) -> int:
    """Mark the user's notifications ``ids`` (all unread ones when None) read; returns how
    many changed. Other users' notifications are never touched."""
    statement = update(Notification).where(Notification.user_id == user_id,
                                           Notification.read_at.is_(None))
    if ids is not None:
        wanted = sorted(set(ids))
        if not wanted:
            return 0
        statement = statement.where(Notification.id.in_(wanted))
    return conn.execute(statement.values(read_at=utcnow())).rowcount or 0
