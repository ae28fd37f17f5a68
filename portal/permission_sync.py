"""Apply a permission plan to FAB's security tables as one diff in one transaction.

FAB writes permission rows one commit at a time; with a hundred entities that is most of the
start-up time. Here the current rows are read in a handful of queries, the difference to the
plan is computed in memory, and only the missing or stale rows are written, together.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_appbuilder.security.sqla.models import (
    Permission,
    PermissionView,
    Role,
    ViewMenu,
    assoc_permissionview_role,
)
from sqlalchemy import and_, delete, insert, select
from sqlalchemy.engine import Connection

from portal.generators.permissions import PermissionPlan

_P, _V, _PV, _R = (Permission.__table__, ViewMenu.__table__, PermissionView.__table__,
                   Role.__table__)
_PVR = assoc_permissionview_role


@dataclass(frozen=True)
class SyncReport:
    """What one sync changed (all zero on a restart with unchanged definitions)."""

    permissions: int
    view_menus: int
    permission_views: int
    roles: int
    grants_added: int
    grants_removed: int


def _ensure_names(conn: Connection, table: object, names: set[str]) -> tuple[dict[str, int], int]:
    existing = {n: i for i, n in conn.execute(select(table.c.id, table.c.name))}
    missing = sorted(names - existing.keys())
    if missing:
        conn.execute(insert(table), [{"name": n} for n in missing])
        existing = {n: i for i, n in conn.execute(select(table.c.id, table.c.name))}
    return existing, len(missing)


def sync_permissions(conn: Connection, plan: PermissionPlan) -> SyncReport:
    """Make the security tables match ``plan``; call inside one transaction."""
    perm_ids, new_perms = _ensure_names(conn, _P, {p for p, _ in plan.permissions})
    view_ids, new_views = _ensure_names(conn, _V, {v for _, v in plan.permissions})
    role_ids, new_roles = _ensure_names(conn, _R, set(plan.grants) | {plan.admin_role})

    pv_rows = conn.execute(select(_PV.c.id, _PV.c.permission_id, _PV.c.view_menu_id)).all()
    pv_ids = {(p, v): i for i, p, v in pv_rows}
    wanted_keys = {(perm_ids[p], view_ids[v]) for p, v in plan.permissions}
    missing_pv = sorted(wanted_keys - pv_ids.keys())
    if missing_pv:
        conn.execute(insert(_PV), [{"permission_id": p, "view_menu_id": v} for p, v in missing_pv])
        pv_rows = conn.execute(select(_PV.c.id, _PV.c.permission_id, _PV.c.view_menu_id)).all()
        pv_ids = {(p, v): i for i, p, v in pv_rows}

    held: dict[int, set[int]] = {}
    for role_id, pv_id in conn.execute(select(_PVR.c.role_id, _PVR.c.permission_view_id)):
        held.setdefault(role_id, set()).add(pv_id)

    def ids_of(pairs: frozenset[tuple[str, str]]) -> set[int]:
        return {pv_ids[(perm_ids[p], view_ids[v])] for p, v in pairs}

    to_add: list[dict[str, int]] = []
    to_remove: list[tuple[int, int]] = []
    admin = role_ids[plan.admin_role]
    for pv in ids_of(plan.permissions) - held.get(admin, set()):
        to_add.append({"role_id": admin, "permission_view_id": pv})
    for role, pairs in plan.grants.items():
        rid, want = role_ids[role], ids_of(pairs)
        have = held.get(rid, set())
        to_add.extend({"role_id": rid, "permission_view_id": pv} for pv in sorted(want - have))
        to_remove.extend((rid, pv) for pv in sorted(have - want))
    if to_add:
        conn.execute(insert(_PVR), to_add)
    for rid, pv in to_remove:
        conn.execute(delete(_PVR).where(and_(_PVR.c.role_id == rid,
                                             _PVR.c.permission_view_id == pv)))
    return SyncReport(new_perms, new_views, len(missing_pv), new_roles, len(to_add),
                      len(to_remove))
