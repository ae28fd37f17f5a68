"""The handover screen (admins): choose whose records go to whom, see how many of each
entity would move, then move them in one audited action."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from sqlalchemy import select

from portal.engines.handover import HandoverRefused, hand_over, plan_handover
from portal.runtime import acting_principal, runtime
from portal.system_models import PortalUser
from portal.web.csrf import require_csrf
from portal.web.i18n import current_locale, humanize
from portal.web.ui_text import ui_text


class HandoverView(BaseView):
    """``/handover/``: an admin's screen (no role but the admin holds its permission)."""

    route_base = "/handover"
    default_view = "form"
    class_permission_name = "Handover"
    base_permissions = ["can_read", "can_write"]
    method_permission_name = {"form": "read", "preview": "read", "apply": "write"}

    def _users(self) -> list[Any]:
        return self.appbuilder.session.execute(
            select(PortalUser.id, PortalUser.username, PortalUser.active)
            .order_by(PortalUser.username)).all()

    def _labels(self) -> dict[str, str]:
        return {name: e.label.get(current_locale(), humanize(name))
                for name, e in runtime().registry.entities.items()}

    @expose("/")
    @has_access
    def form(self) -> Any:
        """Choose the two users."""
        return self.render_template("portal/handover.html", users=self._users(), plan=None,
                                    labels=self._labels(), title=ui_text("Handover"))

    @expose("/", methods=["POST"])
    @has_access
    def preview(self) -> Any:
        """How many records of each entity would move."""
        require_csrf()
        rt = runtime()
        try:
            plan = plan_handover(self.appbuilder.session, rt.registry, rt.models.classes,
                                 request.form.get("from_user", ""),
                                 request.form.get("to_user", ""))
        except HandoverRefused as exc:
            flash(str(exc), "danger")
            return redirect(url_for(f"{self.endpoint}.form"))
        return self.render_template("portal/handover.html", users=self._users(), plan=plan,
                                    labels=self._labels(), title=ui_text("Handover"))

    @expose("/apply", methods=["POST"])
    @has_access
    def apply(self) -> Any:
        """Move the records of the entities ticked on the preview."""
        require_csrf()
        rt = runtime()
        session = self.appbuilder.session
        entities = request.form.getlist("entity")
        if not entities:
            flash(ui_text("Tick at least one kind of record."), "danger")
            return redirect(url_for(f"{self.endpoint}.form"))
        try:
            plan = hand_over(session, rt.registry, rt.models.classes,
                             request.form.get("from_user", ""), request.form.get("to_user", ""),
                             acting_principal(), entities)
            session.commit()
        except HandoverRefused as exc:
            session.rollback()
            flash(str(exc), "danger")
            return redirect(url_for(f"{self.endpoint}.form"))
        flash(ui_text("%(n)s record(s) moved from %(a)s to %(b)s.", n=plan.total,
                      a=plan.from_user, b=plan.to_user), "success")
        return redirect(url_for(f"{self.endpoint}.form"))
