"""The "My work" screens every signed-in user has: approvals waiting for them (approve or
reject in place), their submissions, their inbox, and their delegations."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from sqlalchemy import select

from portal.engines import inbox
from portal.engines.delegation import DelegationInvalid, add_delegation, cancel_delegation
from portal.runtime import request_principal, runtime
from portal.system_models import Notification, PortalUser
from portal.web.csrf import require_csrf
from portal.web.my_work_data import (
    MY_WORK,
    approval_rows,
    delegation_rows,
    notification_rows,
    record_url,
    submission_rows,
)
from portal.web.ui_text import ui_text
from portal.web.workflow_view import act_from_form


def _user_id() -> int:
    principal = request_principal()
    if principal is None or principal.user_id is None:
        abort(401)
    return principal.user_id  # type: ignore[return-value]


class MyWorkView(BaseView):
    """``/my/...``: the signed-in user's own queues, inbox and delegations."""

    route_base = "/my"
    default_view = "approvals"
    class_permission_name = MY_WORK
    base_permissions = ["can_read", "can_write"]
    method_permission_name = {
        "approvals": "read", "submissions": "read", "notifications": "read",
        "open_notification": "read", "delegations": "read",
        "act": "write", "read_notifications": "write", "new_delegation": "write",
        "end_delegation": "write",
    }

    def _session(self) -> Any:
        return self.appbuilder.session

    @expose("/approvals/")
    @has_access
    def approvals(self) -> Any:
        """Every record waiting for the user, with its actions and a comment box."""
        return self.render_template("portal/my_approvals.html", rows=approval_rows(),
                                    title=ui_text("My approvals"))

    @expose("/approvals/<entity>/<int:pk>", methods=["POST"])
    @has_access
    def act(self, entity: str, pk: int) -> Any:
        """Approve, reject (or any other action) from the queue, then back to it."""
        model = runtime().models.classes.get(entity)
        if model is None:
            abort(404)
        # Through the ORM: a record waiting for the user is readable to them.
        item = self._session().scalars(select(model).where(model.id == pk)).first()
        if item is None:
            abort(404)
        act_from_form(self._session(), item, request.form.get("action", ""))
        return redirect(url_for(f"{self.endpoint}.approvals"))

    @expose("/submissions/")
    @has_access
    def submissions(self) -> Any:
        """The user's records in a workflow: state and who they wait for."""
        return self.render_template("portal/my_submissions.html", rows=submission_rows(),
                                    title=ui_text("My submissions"))

    @expose("/inbox/")
    @has_access
    def notifications(self) -> Any:
        """The user's notifications, newest first (``?unread=1``: unread ones only)."""
        unread_only = request.args.get("unread") == "1"
        before = request.args.get("before", type=int)
        rows = notification_rows(unread_only, before)
        return self.render_template("portal/my_inbox.html", rows=rows,
                                    unread_only=unread_only, title=ui_text("Inbox"),
                                    older=rows[-1]["id"] if len(rows) >= inbox.PAGE_SIZE
                                    else None)

    @expose("/inbox/<int:notification_id>")
    @has_access
    def open_notification(self, notification_id: int) -> Any:
        """Mark one notification read and open its record (or go back to the inbox)."""
        user_id = _user_id()
        session = self._session()
        found = session.get(Notification, notification_id)
        if found is None or found.user_id != user_id:
            abort(404)
        inbox.mark_read(session.connection(), user_id, [notification_id])
        session.commit()
        url = record_url(found.entity, found.record_id) \
            if found.entity and found.record_id is not None else None
        return redirect(url or url_for(f"{self.endpoint}.notifications"))

    @expose("/inbox/read", methods=["POST"])
    @has_access
    def read_notifications(self) -> Any:
        """Mark every unread notification of the user read."""
        require_csrf()
        session = self._session()
        count = inbox.mark_read(session.connection(), _user_id())
        session.commit()
        flash(ui_text("%(n)s notification(s) marked read.", n=count), "success")
        return redirect(url_for(f"{self.endpoint}.notifications"))

    @expose("/delegations/")
    @has_access
    def delegations(self) -> Any:
        """The user's delegations, given and received, and a form to add one."""
        user_id = _user_id()
        users = self._session().execute(
            select(PortalUser.id, PortalUser.username).where(
                PortalUser.active.is_(True), PortalUser.id != user_id)
            .order_by(PortalUser.username)).all()
        return self.render_template("portal/my_delegations.html", users=users,
                                    delegations=delegation_rows(),
                                    form=request.args, title=ui_text("Delegation"))

    @expose("/delegations/", methods=["POST"])
    @has_access
    def new_delegation(self) -> Any:
        """Name a substitute for a period; every problem is shown by field."""
        require_csrf()
        session = self._session()
        substitute = request.form.get("substitute", "")
        try:
            add_delegation(session, _user_id(),
                           int(substitute) if substitute.isdigit() else substitute,
                           request.form.get("starts"), request.form.get("ends"))
            session.commit()
        except DelegationInvalid as exc:
            session.rollback()
            for name, reasons in exc.errors.items():
                for reason in reasons:
                    flash(f"{ui_text(name.capitalize())}: {reason}", "danger")
            return redirect(url_for(f"{self.endpoint}.delegations", **{
                k: request.form.get(k, "") for k in ("substitute", "starts", "ends")}))
        flash(ui_text("Delegation saved."), "success")
        return redirect(url_for(f"{self.endpoint}.delegations"))

    @expose("/delegations/<int:delegation_id>/end", methods=["POST"])
    @has_access
    def end_delegation(self, delegation_id: int) -> Any:
        """Cancel one of the user's own delegations."""
        require_csrf()
        session = self._session()
        if not cancel_delegation(session, _user_id(), delegation_id):
            session.rollback()
            abort(404)
        session.commit()
        flash(ui_text("Delegation cancelled."), "success")
        return redirect(url_for(f"{self.endpoint}.delegations"))
