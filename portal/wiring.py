"""The one place that registers generated classes with FAB and syncs permissions."""

from __future__ import annotations

from flask_appbuilder import AppBuilder
from flask_babel import lazy_gettext

from portal.appbuilder import PortalAppBuilder
from portal.generators.permissions import (
    MY_AGENDA_MENU,
    MY_WORK_MENU,
    PermissionPlan,
    board_menu_name,
    entity_menu_name,
    module_menu_name,
    plan_permissions,
)
from portal.generators.report_permissions import report_menu_name
from portal.generators.screens import EntityClasses, view_class_name
from portal.permission_sync import SyncReport, sync_permissions
from portal.spec.model import Registry
from portal.web.agenda_api import AgendaApi
from portal.web.agenda_views import AgendaView
from portal.web.handover_views import HandoverView
from portal.web.i18n import LazyLabel, current_locale, humanize, lazy_label
from portal.web.import_views import ImportView
from portal.web.my_work_api import MyWorkApi
from portal.web.my_work_data import counts
from portal.web.my_work_views import MyWorkView
from portal.web.org_views import DepartmentView
from portal.web.report_views import REPORTS_MENU, ReportApi, ReportView, lazy_report_title
from portal.web.report_views import text as report_text
from portal.web.ui_text import lazy_ui_text, ui_text


def register_entities(appbuilder: PortalAppBuilder, registry: Registry,
                      classes: EntityClasses) -> None:
    """Add every entity's screens (with its menu item) and REST API to FAB.

    The views are added in one batch (related views linked
    once at the end instead of after every view: see ``portal.appbuilder``).
    """
    modules = sorted(registry.modules.values(), key=lambda m: (m.order, m.name))
    with appbuilder.batch():
        for module in modules:
            members = sorted((e for e in registry.entities.values()
                              if e.module == module.name), key=lambda e: e.name)
            for entity in members:
                appbuilder.add_view(
                    classes.views[entity.name], entity_menu_name(entity.name),
                    icon=entity.icon, label=lazy_label(entity.label, humanize(entity.name)),
                    category=module_menu_name(module.name), category_icon=module.icon,
                    category_label=lazy_label(module.label, humanize(module.name)),
                )
                appbuilder.add_api(classes.apis[entity.name])
                if registry.feature("board", entity.name) is not None:
                    appbuilder.add_link(
                        board_menu_name(entity.name),
                        href=f"{view_class_name(entity.name)}.board", icon="fa-columns",
                        label=_board_label(registry, entity.name),
                        category=module_menu_name(module.name))
    register_reports(appbuilder, registry)


def _board_label(registry: Registry, entity: str) -> LazyLabel:
    """The menu label of an entity's board: its YAML label, else "<Entity> board"."""
    spec, label = registry.feature("board", entity), registry.entity(entity).label
    return LazyLabel(lambda: spec.label.get(current_locale(), "") or ui_text(
        "%(entity)s board", entity=label.get(current_locale(), humanize(entity))))


def register_reports(appbuilder: AppBuilder, registry: Registry) -> None:
    """The Reports menu (one item per report, under the report's roles) and the report
    screens and API (each report checks its roles and the viewer's read scope)."""
    if not registry.reports:
        return
    appbuilder.add_view_no_menu(ReportView)
    appbuilder.add_api(ReportApi)
    for spec in registry.reports.values():
        appbuilder.add_link(report_menu_name(spec.name), href=f"/reports/{spec.name}",
                            icon="fa-bar-chart", label=lazy_report_title(spec),
                            category=REPORTS_MENU, category_icon="fa-bar-chart",
                            category_label=LazyLabel(lambda: report_text("Reports")))


def register_system_views(appbuilder: AppBuilder) -> None:
    """Add the portal's own screens: departments under FAB's Security menu (admins), and
    "My work" for everyone (approvals with their count, submissions, inbox, delegation)."""
    appbuilder.add_view(DepartmentView, "Departments", icon="fa-sitemap",
                        label=lazy_gettext("Departments"), category="Security")
    appbuilder.add_view(HandoverView, "Handover", icon="fa-exchange",
                        label=lazy_ui_text("Handover"), category="Security")
    work, approvals, submissions, inbox, delegations = MY_WORK_MENU
    category = {"category": work, "category_icon": "fa-briefcase",
                "category_label": lazy_ui_text("My work")}
    appbuilder.add_view(MyWorkView, approvals, icon="fa-check-square-o",
                        label=LazyLabel(lambda: _counted("My approvals", "approvals")),
                        **category)
    appbuilder.add_link(submissions, href="MyWorkView.submissions", icon="fa-paper-plane",
                        label=lazy_ui_text("My submissions"), **category)
    appbuilder.add_link(inbox, href="MyWorkView.notifications", icon="fa-bell",
                        label=LazyLabel(lambda: _counted("Inbox", "unread")), **category)
    appbuilder.add_link(delegations, href="MyWorkView.delegations", icon="fa-exchange",
                        label=lazy_ui_text("Delegation"), **category)
    appbuilder.add_view(AgendaView, MY_AGENDA_MENU, icon="fa-calendar",
                        label=lazy_ui_text("My agenda"), **category)
    appbuilder.add_api(MyWorkApi)
    appbuilder.add_api(AgendaApi)
    appbuilder.add_view_no_menu(ImportView)


def _counted(text: str, which: str) -> str:
    """A menu label with the user's count, e.g. "My approvals (3)"."""
    n = counts()[which]
    return f"{ui_text(text)} ({n})" if n else ui_text(text)


def framework_permissions(appbuilder: AppBuilder) -> set[tuple[str, str]]:
    """The (permission, view) pairs of every registered view and menu item."""
    pairs: set[tuple[str, str]] = set()
    for view in appbuilder.baseviews:
        for perm in view.base_permissions or ():
            pairs.add((perm, view.class_permission_name))
    for category in appbuilder.menu.get_list():
        pairs.add(("menu_access", category.name))
        for item in category.childs:
            if item.name != "-":
                pairs.add(("menu_access", item.name))
    return pairs


def permission_plan(appbuilder: AppBuilder, registry: Registry) -> PermissionPlan:
    """The plan for everything registered on ``appbuilder``."""
    return plan_permissions(registry, framework_permissions(appbuilder),
                            appbuilder.sm.auth_role_admin)


def apply_permission_plan(appbuilder: AppBuilder, plan: PermissionPlan) -> SyncReport:
    """Sync the security tables to ``plan`` in one transaction."""
    session = appbuilder.session
    try:
        report = sync_permissions(session.connection(), plan)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return report
