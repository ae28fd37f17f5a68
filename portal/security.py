"""The portal's FAB security manager: users with department and manager, cached permissions.

FAB answers "may this request do that?" with several queries, some of them twice per request:
the Public role and its permissions (once before and once after looking at the JWT), the
user, the user's roles and groups (lazy loads), then one query per role. Here the user (with
roles and groups), the permissions of each set of roles and the Public role's permissions
are kept per process for one *security generation* (``portal.security_generation``): a
request costs one query, the generation, while nothing changed, and the old three when
something did. A change to a user, role or permission applies to the next request, in every
worker. Each request gets its own copy of the cached user, attached to its session
(``Session.merge(load=False)``: no SQL), so nothing ORM-managed is shared between requests.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Optional, TypeVar

from flask import g, has_request_context
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.sqla.models import (
    Group,
    Permission,
    PermissionView,
    Role,
    ViewMenu,
    assoc_permissionview_role,
)
from flask_appbuilder.security.views import UserDBModelView
from flask_babel import lazy_gettext
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload

from portal.security_generation import GenerationCache, read_generation
from portal.system_models import PortalUser
from portal.token_cache import VerifiedTokenManager

T = TypeVar("T")

_USER_EXTRA = ["department", "manager", "locale"]

_PVR = assoc_permissionview_role
_PV, _PERM, _VIEW, _ROLE = (PermissionView.__table__, Permission.__table__,
                            ViewMenu.__table__, Role.__table__)
_GRANTS = (_PVR.join(_PV, _PV.c.id == _PVR.c.permission_view_id)
           .join(_PERM, _PERM.c.id == _PV.c.permission_id)
           .join(_VIEW, _VIEW.c.id == _PV.c.view_menu_id))
#: (permission, view) pairs of the roles with the ids ``role_ids``.
_ROLE_PERMISSIONS = (select(_PERM.c.name, _VIEW.c.name).select_from(_GRANTS)
                     .where(_PVR.c.role_id.in_(bindparam("role_ids", expanding=True))))
#: (permission, view) pairs of the role named ``role_name``.
_NAMED_ROLE_PERMISSIONS = (select(_PERM.c.name, _VIEW.c.name)
                           .select_from(_GRANTS.join(_ROLE, _ROLE.c.id == _PVR.c.role_id))
                           .where(_ROLE.c.name == bindparam("role_name")))


class PortalUserView(UserDBModelView):
    """FAB's user screens plus department, manager and language, edited by an admin."""

    list_columns = ["first_name", "last_name", "username", "email", "department", "active",
                    "roles"]
    add_columns = UserDBModelView.add_columns + ["department", "manager"]
    edit_columns = UserDBModelView.edit_columns + ["department", "manager"]
    show_fieldsets = UserDBModelView.show_fieldsets + [
        (lazy_gettext("Organisation"), {"fields": _USER_EXTRA, "expanded": True}),
    ]
    label_columns = {**UserDBModelView.label_columns, "department": lazy_gettext("Department"),
                     "manager": lazy_gettext("Manager"), "locale": lazy_gettext("Language")}


class PortalSecurityManager(SecurityManager):
    """Loads users and permissions once per security generation instead of per check."""

    user_model = PortalUser
    userdbmodelview = PortalUserView

    def __init__(self, appbuilder: Any) -> None:
        super().__init__(appbuilder)
        self._portal_cache = GenerationCache()

    def create_jwt_manager(self, app: Any) -> VerifiedTokenManager:
        """FAB's JWT set-up, with verified tokens remembered (``portal.token_cache``)."""
        manager = VerifiedTokenManager()
        manager.init_app(app)
        manager.user_lookup_loader(self.load_user_jwt)
        return manager

    def _cached(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, kept for the request's security generation (outside a request,
        or without a generation row, computed every time)."""
        if not has_request_context():
            return compute()
        if "_portal_generation" not in g:
            g._portal_generation = read_generation(self.session.connection())
        if g._portal_generation is None:
            return compute()
        return self._portal_cache.get(g._portal_generation, key, compute)

    def _permissions_of(self, user: Any) -> set[tuple[str, str]]:
        if not has_request_context():
            return self.get_user_permissions(user)
        key = ("_portal_perms", getattr(user, "id", None))
        cache = g.setdefault("_portal_perm_cache", {})
        if key not in cache:
            cache[key] = self.get_user_permissions(user)
        return cache[key]

    def _granted(self, stmt: Any, **params: Any) -> frozenset[tuple[str, str]]:
        """Run one of the prebuilt permission queries on the session's connection (Core:
        no ORM events, nothing to compile after the first time)."""
        return frozenset((p, v) for p, v in self.session.connection().execute(stmt, params))

    def get_user_by_id(self, pk: Any) -> Any:
        """The user with roles and groups' roles, as a copy of the cached user attached to
        this session (None if there is no such user)."""
        detached = self._cached(("user", int(pk)), lambda: self._detached_user(int(pk)))
        return self.session.merge(detached, load=False) if detached is not None else None

    def _detached_user(self, pk: int) -> Any:
        """The user, roles and groups loaded by one query in a session of its own, then
        detached: the object the cache keeps and never attaches anywhere."""
        with Session(bind=self.session.connection()) as session:
            return session.get(self.user_model, pk, options=[
                joinedload(self.user_model.roles),
                joinedload(self.user_model.groups).joinedload(Group.roles)])

    def get_user_permissions(self, user: Any) -> set[tuple[str, str]]:
        """FAB's answer (built-in roles' and database roles' permissions), in one query."""
        result: set[tuple[str, str]] = set()
        db_role_ids = []
        for role in self.get_user_roles(user):
            if role.name in self.builtin_roles:
                result.update((p, v) for v, p in self.builtin_roles[role.name])
            else:
                db_role_ids.append(role.id)
        if db_role_ids:
            role_ids = sorted(set(db_role_ids))
            result |= self._cached(("roles", tuple(role_ids)), lambda: self._granted(
                _ROLE_PERMISSIONS, role_ids=role_ids))
        return result

    def _public_permissions(self) -> frozenset[tuple[str, str]]:
        return self._cached(("public",), lambda: self._granted(
            _NAMED_ROLE_PERMISSIONS, role_name=self.auth_role_public))

    def is_item_public(self, permission_name: str, view_name: str) -> bool:
        return (permission_name, view_name) in self._public_permissions()

    def _has_view_access(self, user: object, permission_name: str, view_name: str) -> bool:
        return (permission_name, view_name) in self._permissions_of(user)

    def _get_user_permission_view_menus(self, user: Optional[object], permission_name: str,
                                        view_menus_name: list[str]) -> set[str]:
        if user is None:
            return super()._get_user_permission_view_menus(user, permission_name,
                                                           view_menus_name)
        held = self._permissions_of(user)
        return {v for v in view_menus_name if (permission_name, v) in held}
