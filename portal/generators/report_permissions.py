"""Permissions of the reports: the Reports screens and API for every role some report is open
to, and the menu item of each report for its roles (each report checks its roles again when
opened, and the viewer's read scope limits its rows)."""

from __future__ import annotations

from collections.abc import Mapping

from portal.spec.model import Registry

#: The class permission of the report screens and API, and the menu category.
REPORTS = "Reports"

PermissionView = tuple[str, str]


def report_menu_name(report: str) -> str:
    """The FAB menu name of a report's menu item."""
    return f"report:{report}"


def report_permissions(registry: Registry
                       ) -> tuple[set[PermissionView], Mapping[str, set[PermissionView]]]:
    """(every report permission, the ones each role holds)."""
    wanted: set[PermissionView] = set()
    held: dict[str, set[PermissionView]] = {}
    for spec in registry.reports.values():
        item = ("menu_access", report_menu_name(spec.name))
        wanted.add(item)
        for role in spec.access:
            held.setdefault(role, set()).update(
                {("can_read", REPORTS), ("menu_access", REPORTS), item})
    if registry.reports:
        wanted.update({("can_read", REPORTS), ("menu_access", REPORTS)})
    return wanted, held
