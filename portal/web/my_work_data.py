"""The current user's work as the "My work" screens and API show it: the approvals waiting
for them, their submissions, their inbox and delegations, and the counts in the navigation.

Counts are computed once per request (``flask.g``): the menu and the navbar both show them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from flask import current_app, g, url_for

from portal.engines import inbox, queues
from portal.engines.delegation import delegations_of
from portal.engines.workflow import workflow_of
from portal.generators.permissions import MY_WORK
from portal.generators.screens import view_class_name
from portal.runtime import request_principal, runtime
from portal.web.i18n import current_locale, humanize
from portal.web.workflow_view import action_labels, state_label

__all__ = ["MY_WORK", "approval_rows", "counts", "delegation_rows", "notification_rows",
           "record_url", "submission_rows"]


def _iso(value: Optional[dt.datetime]) -> Optional[str]:
    return value.isoformat() if isinstance(value, dt.datetime) else None


def _session() -> Any:
    return current_app.appbuilder.session


def entity_label(entity: str) -> str:
    """The entity's label in the reader's language."""
    spec = runtime().registry.entities.get(entity)
    return spec.label.get(current_locale(), humanize(entity)) if spec else entity


def record_url(entity: str, record_id: int) -> Optional[str]:
    """The record's page, when the reader may open it (None otherwise)."""
    if entity not in runtime().registry.entities or \
            not current_app.appbuilder.sm.has_access("can_read", entity):
        return None
    return url_for(f"{view_class_name(entity)}.show", pk=record_id)


def approval_rows() -> list[dict[str, Any]]:
    """Every record waiting for the current user, the longest-waiting first."""
    principal = request_principal()
    if principal is None:
        return []
    items = queues.waiting_for(_session(), runtime().models.classes, principal)
    return [{
        "entity": w.entity, "entity_label": entity_label(w.entity), "id": w.record.id,
        "title": str(w.record), "url": record_url(w.entity, w.record.id),
        "state": (state := _state(w.record)),
        "state_label": state_label(workflow_of(w.record), state),  # type: ignore[arg-type]
        "since": _iso(w.since), "actions": action_labels(w.actions),
    } for w in items]


def _state(record: Any) -> str:
    spec = workflow_of(record)
    return getattr(record, spec.state_field, None) or spec.initial if spec else ""


def submission_rows() -> list[dict[str, Any]]:
    """The current user's records in a workflow, the most recently moved first."""
    principal = request_principal()
    if principal is None:
        return []
    items = queues.submissions(_session(), runtime().models.classes, principal)
    return [{
        "entity": s.entity, "entity_label": entity_label(s.entity), "id": s.record.id,
        "title": str(s.record), "url": record_url(s.entity, s.record.id), "state": s.state,
        "state_label": state_label(workflow_of(s.record), s.state),  # type: ignore[arg-type]
        "waiting_for": s.waiting_for, "last_step_at": _iso(s.last_step_at),
    } for s in items]


def notification_rows(unread_only: bool = False, before_id: Optional[int] = None
                      ) -> list[dict[str, Any]]:
    """The current user's notifications, newest first."""
    principal = request_principal()
    if principal is None or principal.user_id is None:
        return []
    rows = inbox.notifications(_session().connection(), principal.user_id, unread_only,
                               before_id)
    for row in rows:
        row["at"], row["read_at"] = _iso(row["at"]), _iso(row["read_at"])
        row["url"] = record_url(row["entity"], row["record_id"]) \
            if row["entity"] and row["record_id"] is not None else None
    return rows


def delegation_rows() -> dict[str, list[dict[str, Any]]]:
    """The current user's delegations: ``given`` (to substitutes) and ``received``."""
    principal = request_principal()
    out: dict[str, list[dict[str, Any]]] = {"given": [], "received": []}
    if principal is None or principal.user_id is None:
        return out
    today = dt.date.today()
    for d in delegations_of(_session(), principal.user_id):
        row = {"id": d.id, "user": d.user.username, "substitute": d.substitute.username,
               "starts": d.starts.isoformat(), "ends": d.ends.isoformat(),
               "running": d.starts <= today <= d.ends, "past": d.ends < today}
        out["given" if d.user_id == principal.user_id else "received"].append(row)
    return out


def counts() -> dict[str, int]:
    """``{"approvals": n, "unread": m}`` for the current user, once per request."""
    cached = g.get("_portal_my_counts")
    if cached is not None:
        return cached
    principal = request_principal()
    found = {"approvals": 0, "unread": 0}
    if principal is not None and principal.user_id is not None:
        session = _session()
        found = {"approvals": len(queues.waiting_for(session, runtime().models.classes,
                                                     principal)),
                 "unread": inbox.unread_count(session.connection(), principal.user_id)}
    g._portal_my_counts = found
    return found
