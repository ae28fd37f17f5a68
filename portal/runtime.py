"""What the running portal knows about its compiled definitions, per app (no globals)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from flask import current_app, g, has_request_context

from portal.engines.access import SYSTEM, Principal
from portal.generators.models import EntityModels
from portal.spec.model import EntitySpec, Registry


@dataclass(frozen=True)
class PortalRuntime:
    """The compiled registry and generated classes of one app, frozen after start-up."""

    registry: Registry
    models: EntityModels
    entity_of: Mapping[type, EntitySpec]
    attachment_dir: Path


def runtime() -> PortalRuntime:
    """The runtime of the current app."""
    return current_app.extensions["portal"]


def request_principal() -> Optional[Principal]:
    """The user acting in this request, None outside a request (no scope then).

    In a request without a logged-in user nothing is readable: the principal has no roles.
    """
    if not has_request_context():
        return None
    cached = g.get("_portal_principal")
    if cached is not None:
        return cached
    user = g.get("user")
    if user is None or not getattr(user, "is_authenticated", False):
        principal = Principal(None, "anonymous", None, frozenset())
    else:
        roles = frozenset(r.name for r in user.roles)
        principal = Principal(user.id, user.username, getattr(user, "department_id", None), roles)
        if principal.user_id is not None:
            g._portal_principal = principal
    return principal


#: ``flask.g`` key of a stand-in actor for this request (see :func:`act_as`).
_STAND_IN = "_portal_stand_in"


def act_as(principal: Principal) -> None:
    """Record this request's changes against ``principal`` (e.g. a public form, which has
    no user) instead of the logged-in user or the system."""
    setattr(g, _STAND_IN, principal)


def acting_principal() -> Principal:
    """Whoever a change is recorded against: the request's stand-in (:func:`act_as`), else
    the request's user, else the system."""
    if has_request_context() and (stand_in := g.get(_STAND_IN)) is not None:
        return stand_in
    principal = request_principal()
    return principal if principal is not None and principal.user_id is not None else SYSTEM

