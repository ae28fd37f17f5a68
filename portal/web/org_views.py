"""Screens for the organisation data record scopes rely on: departments."""

from __future__ import annotations

from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext

from portal.system_models import Department


class DepartmentView(ModelView):
    """Departments, edited by an admin; users are placed in them on the Users screen. The
    head receives approvals that name ``head_of``."""

    datamodel = SQLAInterface(Department)
    route_base = "/departments"
    class_permission_name = "Departments"
    list_columns = ["name", "parent", "head"]
    add_columns = edit_columns = show_columns = ["name", "parent", "head"]
    search_columns = ["name"]
    label_columns = {"name": lazy_gettext("Name"), "parent": lazy_gettext("Parent"),
                     "head": lazy_gettext("Head")}
    include_route_methods = frozenset({"list", "show", "add", "edit", "delete"})
    base_order = ("name", "asc")
