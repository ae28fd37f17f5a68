"""The permission plan: which permission rows must exist and which role holds which.

Pure data computed from the definitions; ``portal.permission_sync`` applies it as one diff.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from portal.generators.report_permissions import report_permissions
from portal.spec.model import Registry

PermissionView = tuple[str, str]  # (permission name, view-menu name)

#: The "My work" screens and API (class permission) and their menu items.
MY_WORK = "MyWork"
MY_WORK_MENU = ("MyWork", "MyApprovals", "MySubmissions", "MyInbox", "MyDelegations")
#: The "My agenda" menu item (under My work; its screens use the MY_WORK permissions).
MY_AGENDA_MENU = "MyAgenda"
#: The import screens: open to every role; each entity's own create permission decides.
DATA_IMPORT = "DataImport"

#: What every signed-in user needs: their own profile and password (FAB's screens), their
#: approvals, submissions, inbox and delegations ("My work").
SELF_SERVICE: tuple[PermissionView, ...] = (
    ("can_read", MY_WORK),
    ("can_write", MY_WORK),
    ("can_read", DATA_IMPORT),
    ("can_write", DATA_IMPORT),
    *(("menu_access", name) for name in MY_WORK_MENU),
    ("menu_access", MY_AGENDA_MENU),
    ("can_userinfo", "UserDBModelView"),
    ("can_this_form_get", "ResetMyPasswordView"),
    ("can_this_form_post", "ResetMyPasswordView"),
    ("can_this_form_get", "UserInfoEditView"),
    ("can_this_form_post", "UserInfoEditView"),
    ("menu_access", "Security"),
)


@dataclass(frozen=True)
class PermissionPlan:
    """Every (permission, view) that must exist, and the exact grants of managed roles.

    The roles declared in YAML (the keys of ``grants``): their grants are set to exactly
    ``grants[role]``. The admin role gets every permission and keeps any others.
    """

    permissions: frozenset[PermissionView]
    grants: Mapping[str, frozenset[PermissionView]]
    admin_role: str



def entity_menu_name(entity: str) -> str:
    """The FAB menu name (and view-menu row) of an entity's list screen."""
    return entity


def board_menu_name(entity: str) -> str:
    """The FAB menu name of an entity's board (``board:`` in its YAML)."""
    return f"board:{entity}"


def module_menu_name(module: str) -> str:
    """The FAB menu category name of a module."""
    return f"module:{module}"


def plan_permissions(registry: Registry, framework: Iterable[PermissionView],
                     admin_role: str) -> PermissionPlan:
    """The plan for ``registry``, given the (permission, view) pairs of FAB's own views."""
    wanted: set[PermissionView] = set(framework)
    grants: dict[str, set[PermissionView]] = {r: set(SELF_SERVICE) for r in registry.roles}
    for entity in registry.entities.values():
        for action in ("read", "create", "update", "delete"):
            wanted.add((f"can_{action}", entity.name))
        if entity.mergeable:
            wanted.add(("can_merge", entity.name))
        wanted.add(("menu_access", entity_menu_name(entity.name)))
        board = (("menu_access", board_menu_name(entity.name)),) \
            if registry.feature("board", entity.name) is not None else ()
        wanted.update(board)
        wanted.add(("menu_access", module_menu_name(entity.module)))
        for role, rule in entity.access.items():
            held = grants.setdefault(role, set(SELF_SERVICE))
            if rule.read:
                held.update({("can_read", entity.name),
                             ("menu_access", entity_menu_name(entity.name)),
                             ("menu_access", module_menu_name(entity.module)), *board})
            if rule.create:
                held.add(("can_create", entity.name))
            if rule.update:
                held.add(("can_update", entity.name))
            if rule.delete:
                held.add(("can_delete", entity.name))
            if rule.merge and rule.read:
                held.add(("can_merge", entity.name))
    reports, report_grants = report_permissions(registry)
    wanted.update(reports)
    for role, held in report_grants.items():
        grants.setdefault(role, set(SELF_SERVICE)).update(held)
    wanted.update(SELF_SERVICE)
    return PermissionPlan(
        permissions=frozenset(wanted),
        grants={r: frozenset(g & wanted) for r, g in grants.items()},
        admin_role=admin_role,
    )
