"""Records that arrive from outside (a public web form): who owns them, whether they repeat an
existing record, and what staff are told.

A repeat is not saved again: the record it matches gets an audit entry (action
``web_form_repeat``, with what was sent) and its owner a notification, so nothing the public
wrote is lost and nothing about existing records is revealed to the sender.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from typing import Any, Optional

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from portal.engines.audit import plain, write_entries
from portal.engines.dedup_keys import normalize_email, normalize_phone
from portal.engines.duplicates import find_matches
from portal.engines.scoping import UNSCOPED
from portal.spec.model import EntitySpec
from portal.system_models import (
    NEW_NOTIFICATIONS,
    Notification,
    PortalUser,
    role_member_ids,
    utcnow,
)

#: The audit action of a submission that matched an existing record.
REPEAT_ACTION = "web_form_repeat"
#: The key of a repeat's audit ``changes`` holding the form and the values sent.
REPEAT_KEY = "_web_form"
_NORMALIZE = {"phone": normalize_phone, "email": normalize_email}


def lock_dedup_keys(session: Session, entity: EntitySpec, values: Mapping[str, Any],
                    fields: Iterable[str]) -> None:
    """On PostgreSQL, take a transaction lock per normalised phone/email of ``values``, so two
    identical submissions at once are checked one after the other (the second then sees the
    first's record). SQLite (one process, small installs) takes no such lock: two identical
    posts in the same instant may both be saved there."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return
    keys = sorted({f"{entity.name}:{_NORMALIZE[entity.fields[n].type](values.get(n))}"
                   for n in fields if _NORMALIZE[entity.fields[n].type](values.get(n))})
    for key in keys:  # in sorted order: two submissions never wait on each other crosswise
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                     {"k": zlib.crc32(key.encode("utf-8"))})


def find_repeat(session: Session, entity: EntitySpec, model: type, values: Mapping[str, Any],
                fields: Iterable[str]) -> Optional[tuple[str, int]]:
    """(field, record id) of the oldest record sharing a normalised phone or email with
    ``values`` on one of ``fields``; None when the submission is new. Every record counts,
    whoever owns it."""
    wanted = set(fields)
    matches = find_matches(session, entity, model, values, None)
    hits = [(record_id, name) for name, match in matches.items() if name in wanted
            for record_id, _title in match.records]
    if not hits:
        return None
    record_id, name = min(hits)
    return name, record_id


def owner_of(session: Session, model: type, record_id: int) -> Optional[int]:
    """The owner (the ``own`` scope's user) of one record, whatever the reader's scope."""
    column = getattr(model, model.__owner_column__)
    return session.execute(select(column).where(model.id == record_id),
                           execution_options={UNSCOPED: True}).scalar()


def choose_owner(session: Session, model: type, kind: str, name: str) -> Optional[int]:
    """The owner of a new record: the active user called ``name`` (``kind`` user), or the
    active member of role ``name`` owning the fewest records of ``model`` (ties: the longest
    known user). None when there is no such user."""
    active = select(PortalUser.id).where(PortalUser.active.is_(True))
    if kind == "user":
        return session.execute(active.where(PortalUser.username == name)).scalar()
    members = set(role_member_ids(session.connection(), name))
    candidates = sorted(set(session.execute(active.where(PortalUser.id.in_(members)))
                            .scalars())) if members else []
    if not candidates:
        return None
    column = getattr(model, model.__owner_column__)
    owned = dict(session.execute(
        select(column, func.count()).where(column.in_(candidates)).group_by(column),
        execution_options={UNSCOPED: True}).all())
    return min(candidates, key=lambda user_id: (owned.get(user_id, 0), user_id))


def notify(session: Session, users: Iterable[Optional[int]], kind: str, title: str,
           entity: str, record_id: int, body: str = "") -> None:
    """In-app notifications for ``users`` about one record (email follows after commit when
    configured, see ``portal.web.notification_mail``)."""
    wanted = sorted({u for u in users if u is not None})
    if not wanted:
        return
    ids = session.connection().execute(insert(Notification).returning(Notification.id), [
        {"user_id": u, "kind": kind[:32], "title": title[:255], "body": body,
         "entity": entity, "record_id": record_id, "at": utcnow()} for u in wanted]
    ).scalars().all()
    session.info.setdefault(NEW_NOTIFICATIONS, []).extend(ids)


def record_repeat(session: Session, entity: EntitySpec, record_id: int, form: str,
                  actor: str, values: Mapping[str, Any]) -> None:
    """The audit entry of a submission that repeated record ``record_id`` (nothing else of
    the record changes)."""
    sent = {k: plain(v) for k, v in values.items() if v not in (None, "")}
    write_entries(session.connection(), [{
        "entity": entity.name, "record_id": record_id, "action": REPEAT_ACTION,
        "at": utcnow(), "user_id": None, "username": actor,
        "changes": json.dumps({REPEAT_KEY: {"form": form, "sent": sent}},
                              ensure_ascii=False, sort_keys=True),
        "parent_entity": None, "parent_id": None}])


def describe_values(entity: EntitySpec, values: Mapping[str, Any]) -> str:
    """``Name: value`` lines of what was sent, in the entity's field order (English labels:
    notifications are written in English, like the workflow's)."""
    lines = []
    for f in entity.fields.values():
        value = values.get(f.name)
        if f.name in values and value not in (None, ""):
            lines.append(f"{f.label.get('en', f.name.replace('_', ' ').capitalize())}: "
                         f"{plain(value)}")
    return "\n".join(lines)
