"""Names the YAML language may not use: FAB's own objects, the portal's system tables, Python."""

from __future__ import annotations

import keyword
import re

#: Entity, field, module and role names: lowercase snake case.
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
NAME_MAX = 40

#: Entity names taken by Flask-AppBuilder (classes, tables, blueprints, routes); any ``ab_`` name
#: is FAB's too. Compared case-insensitively.
FAB_ENTITY_NAMES: frozenset[str] = frozenset({
    "user", "role", "permission", "view_menu", "viewmenu", "permission_view", "permissionview",
    "register_user", "registeruser", "group", "api_key", "apikey", "menu", "security", "openapi",
    "swagger", "static", "login", "logout", "api", "appbuilder", "index", "util", "locale",
    "auth", "users", "roles", "permissions", "resetpassword", "reset_password",
})
#: The portal's own system entities.
SYSTEM_ENTITY_NAMES: frozenset[str] = frozenset({
    "department", "audit_log", "attachment", "number_series", "portal",
})

#: Columns every entity gets; they may not be declared but may be referenced by lists.
SYSTEM_FIELDS: tuple[str, ...] = ("id", "created_at", "updated_at", "created_by", "updated_by")
#: Field names a definition may not declare.
RESERVED_FIELD_NAMES: frozenset[str] = frozenset({
    "id", "created_at", "created_by", "created_by_id", "updated_at", "updated_by",
    "updated_by_id", "metadata", "query", "registry",
})

#: FAB's built-in roles (compared case-insensitively): Admin may do everything, Public is anonymous.
RESERVED_ROLE_NAMES: frozenset[str] = frozenset({"admin", "public"})


def entity_name_reason(name: str) -> str | None:
    """Why ``name`` cannot be an entity name, or ``None`` when it is free."""
    low = name.lower()
    if low in FAB_ENTITY_NAMES or low.startswith("ab_"):
        return "is reserved by flask-appbuilder"
    if low in SYSTEM_ENTITY_NAMES:
        return "is a portal system entity"
    if keyword.iskeyword(low):
        return "is a python keyword"
    return None


def field_name_reason(name: str) -> str | None:
    """Why ``name`` cannot be a field name, or ``None`` when it is free."""
    if name in RESERVED_FIELD_NAMES:
        return "is a system column"
    if keyword.iskeyword(name):
        return "is a python keyword"
    if name.startswith("_"):
        return "starts with '_'"
    if name.endswith("_id"):
        return "ends with '_id' (generated foreign keys are named <field>_id)"
    return None


def role_name_reason(name: str) -> str | None:
    """Why ``name`` cannot be a declared role, or ``None`` when it is free."""
    if name.lower() in RESERVED_ROLE_NAMES:
        return "is a built-in flask-appbuilder role"
    return None
