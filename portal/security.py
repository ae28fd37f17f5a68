"""The portal's FAB security manager: users with department and manager, cached permissions.

FAB answers "may this request do that?" with several queries, some of them twice per request:
the Public role and its permissions (once before and once after looking at the JWT), the
user, the user's roles and groups (lazy loads), then one query per role. Here a request
costs three: the Public role's permissions (one query, kept for the request), the user
with roles and groups (one query with joins), and the permissions of all the user's roles
(one query, kept for the request). Nothing is cached across requests, so a change to a role
applies to the next request, in every worker.
"""

from __future__ import annotations

from typing import Any, Optional

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
from sqlalchemy.orm import joinedload

from portal.system_models import PortalUser

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
    """Loads a user's permissions once per request instead of one query per check."""

    user_model = PortalUser
    userdbmodelview = PortalUserView

    def _permissions_of(self, user: Any) -> set[tuple[str, str]]:
        if not has_request_context():
            return self.get_user_permissions(user)
        key = ("_portal_perms", getattr(user, "id", None))
        cache = g.setdefault("_portal_perm_cache", {})
        if key not in cache:
            cache[key] = self.get_user_permissions(user)
        return cache[key]

    def _granted(self, stmt: Any, **params: Any) -> set[tuple[str, str]]:
        """Run one of the prebuilt permission queries on the session's connection (Core:
        no ORM events, nothing to compile after the first time)."""
        return {(p, v) for p, v in self.session.connection().execute(stmt, params)}

    def get_user_by_id(self, pk: Any) -> Any:
        """The user with roles and groups' roles loaded by the same query."""
        return self.session.get(self.user_model, pk, options=[
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
            result |= self._granted(_ROLE_PERMISSIONS, role_ids=sorted(set(db_role_ids)))
        return result

    def _public_permissions(self) -> set[tuple[str, str]]:
        if not has_request_context():
            return self._granted(_NAMED_ROLE_PERMISSIONS, role_name=self.auth_role_public)
        if "_portal_public_perms" not in g:
            g._portal_public_perms = self._granted(_NAMED_ROLE_PERMISSIONS,
                                                   role_name=self.auth_role_public)
        return g._portal_public_perms

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
