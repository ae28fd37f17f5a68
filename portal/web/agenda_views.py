""""My agenda" (``/my/agenda/``): the signed-in user's dated plans by day, week or month,
overdue ones in red, with the workflow actions they may take; and, for managers and roles
reading everyone's plans, the team's planned vs done per person per day."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from sqlalchemy import select

from portal.generators.permissions import MY_WORK
from portal.runtime import runtime
from portal.web import agenda_data
from portal.web.agenda_data import BadRequest
from portal.web.ui_text import ui_text
from portal.web.workflow_view import act_from_form


def month_grid(days: list[str], rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The month as weeks of seven cells (Monday first), each with its day's items; days of
    the neighbouring months are there, empty, to fill the first and last weeks."""
    first, last = dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1])
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_day[row["day"]].append(row)
    day = first - dt.timedelta(days=first.weekday())
    weeks = []
    while day <= last:
        weeks.append([{"date": (d := day + dt.timedelta(days=n)).isoformat(), "day": d.day,
                       "in_month": first <= d <= last, "items": by_day.get(d.isoformat(), [])}
                      for n in range(7)])
        day += dt.timedelta(days=7)
    return weeks


class AgendaView(BaseView):
    """``/my/agenda/``: the user's agenda, and ``/my/agenda/team`` for their team."""

    route_base = "/my/agenda"
    default_view = "agenda"
    class_permission_name = MY_WORK
    base_permissions = ["can_read", "can_write"]
    method_permission_name = {"agenda": "read", "team": "read", "act": "write"}

    @expose("/")
    @has_access
    def agenda(self) -> Any:
        """``?view=day|week|month&date=YYYY-MM-DD`` (default: this week)."""
        try:
            data = agenda_data.my_agenda(request.args.get("view"), request.args.get("date"))
        except BadRequest as exc:
            flash(str(exc), "danger")
            return redirect(url_for(f"{self.endpoint}.agenda"))
        by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in data["items"]:
            by_day[row["day"]].append(row)
        grid = month_grid(data["days"], data["items"]) if data["view"] == "month" else []
        return self.render_template("portal/agenda.html", data=data, by_day=by_day,
                                    grid=grid, has_team=agenda_data.has_team(),
                                    weekday={d: dt.date.fromisoformat(d).weekday()
                                             for d in data["days"]},
                                    here=request.full_path, title=ui_text("My agenda"))

    @expose("/team")
    @has_access
    def team(self) -> Any:
        """``?week=YYYY-MM-DD``: planned vs done per person per day of that week."""
        if not agenda_data.has_team():
            abort(403)
        try:
            data = agenda_data.team_week(request.args.get("week"))
        except BadRequest as exc:
            flash(str(exc), "danger")
            return redirect(url_for(f"{self.endpoint}.team"))
        return self.render_template("portal/agenda_team.html", data=data,
                                    today=dt.date.today().isoformat(),
                                    title=ui_text("Team agenda"))

    @expose("/act/<entity>/<int:pk>", methods=["POST"])
    @has_access
    def act(self, entity: str, pk: int) -> Any:
        """Take a workflow action on a plan (e.g. mark it done), then back to the agenda."""
        model = runtime().models.classes.get(entity)
        if model is None:
            abort(404)
        # Through the ORM: the reader's read scope applies, as on the record's own page.
        item = self.appbuilder.session.scalars(select(model).where(model.id == pk)).first()
        if item is None:
            abort(404)
        act_from_form(self.appbuilder.session, item, request.form.get("action", ""))
        back = request.form.get("next", "")
        # Only back into the agenda: never an address taken from the form elsewhere.
        if not back.startswith(f"{self.route_base}/"):
            back = url_for(f"{self.endpoint}.agenda")
        return redirect(back)
