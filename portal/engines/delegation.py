"""Delegation: a person names a substitute for a period, checked before it is saved.

While a delegation runs, the substitute sees the person's approvals in their queue and may
act on them; the workflow records those actions as "on behalf of" the person
(``portal.engines.workflow_actors.delegators``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from portal.system_models import Delegation, PortalUser


class DelegationInvalid(Exception):
    """A delegation that cannot be saved: ``errors`` maps a field to its reasons."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))


def find_substitute(session: Session, ref: Any) -> Optional[PortalUser]:
    """The active user ``ref`` names: an id, or a user name."""
    if isinstance(ref, bool) or ref in (None, ""):
        return None
    column = PortalUser.id if isinstance(ref, int) else PortalUser.username
    return session.scalars(select(PortalUser).where(column == ref,
                                                    PortalUser.active.is_(True))).first()


def _as_date(value: Any, name: str, errors: dict[str, list[str]]) -> Optional[dt.date]:
    if isinstance(value, dt.date):
        return value
    if not value:
        errors.setdefault(name, []).append("required")
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        errors.setdefault(name, []).append(f"'{value}' is not a date (YYYY-MM-DD)")
        return None


def add_delegation(session: Session, user_id: int, substitute: Any, starts: Any, ends: Any,
                   today: Optional[dt.date] = None) -> Delegation:
    """Save a delegation of ``user_id``'s approvals to ``substitute`` (an id or user name)
    from ``starts`` to ``ends`` (inclusive); the caller commits.

    Raises :class:`DelegationInvalid` naming each bad field: an unknown or inactive
    substitute, oneself, dates that are missing, reversed or already past, or a period that
    overlaps one of the person's other delegations.
    """
    errors: dict[str, list[str]] = {}
    on = today or dt.date.today()
    person = find_substitute(session, substitute)
    if person is None:
        errors["substitute"] = [f"no active user '{substitute}'" if substitute not in
                                (None, "") else "required"]
    elif person.id == user_id:
        errors["substitute"] = ["you cannot be your own substitute"]
    start, end = _as_date(starts, "starts", errors), _as_date(ends, "ends", errors)
    if start is not None and end is not None:
        if end < start:
            errors.setdefault("ends", []).append("must not be before the start")
        elif end < on:
            errors.setdefault("ends", []).append("is in the past")
        else:
            clash = session.scalars(select(Delegation).where(
                Delegation.user_id == user_id, Delegation.starts <= end,
                Delegation.ends >= start)).first()
            if clash is not None:
                errors.setdefault("starts", []).append(
                    f"overlaps your delegation to {clash.substitute.username} from "
                    f"{clash.starts} to {clash.ends}")
    if errors:
        raise DelegationInvalid(errors)
    assert person is not None and start is not None and end is not None
    delegation = Delegation(user_id=user_id, substitute_id=person.id, starts=start, ends=end)
    session.add(delegation)
    session.flush()
    return delegation


def cancel_delegation(session: Session, user_id: int, delegation_id: int) -> bool:
    """Remove one of ``user_id``'s own delegations; False when there is no such one. Past
    actions keep their "on behalf of" record (the steps name the people)."""
    result = session.execute(delete(Delegation).where(Delegation.id == delegation_id,
                                                      Delegation.user_id == user_id))
    return bool(result.rowcount)


def delegations_of(session: Session, user_id: int) -> list[Delegation]:
    """The delegations ``user_id`` gave or received, the latest first."""
    return list(session.scalars(select(Delegation).where(
        or_(Delegation.user_id == user_id, Delegation.substitute_id == user_id))
        .order_by(Delegation.starts.desc(), Delegation.id.desc())))
