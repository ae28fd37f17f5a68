"""The portal's FAB security manager: users with department and manager, cached permissions."""

from __future__ import annotations

from typing import Any, Optional

from flask import g, has_request_context
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.views import UserDBModelView
from flask_babel import lazy_gettext

from portal.system_models import PortalUser

_USER_EXTRA = ["department", "manager", "locale"]


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

    def _has_view_access(self, user: object, permission_name: str, view_name: str) -> bool:
        return (permission_name, view_name) in self._permissions_of(user)

    def _get_user_permission_view_menus(self, user: Optional[object], permission_name: str,
                                        view_menus_name: list[str]) -> set[str]:
        if user is None:
            return super()._get_user_permission_view_menus(user, permission_name,
                                                           view_menus_name)
        held = self._permissions_of(user)
        return {v for v in view_menus_name if (permission_name, v) in held}
