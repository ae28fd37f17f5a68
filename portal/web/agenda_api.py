"""``/api/v1/my/agenda``: the caller's agenda, and their team's planned vs done, over REST
(the same data as the "My agenda" screens)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_appbuilder.api import BaseApi, expose, protect, safe

from portal.generators.permissions import MY_WORK
from portal.web import agenda_data
from portal.web.agenda_data import BadRequest


class AgendaApi(BaseApi):
    """The caller's dated plans (every entity with an ``agenda:``)."""

    route_base = "/api/v1/my/agenda"
    resource_name = "agenda"
    class_permission_name = MY_WORK
    base_permissions = ["can_read"]
    method_permission_name = {"agenda": "read", "team": "read"}
    allow_browser_login = True
    openapi_spec_tag = "My work"

    @expose("/", methods=["GET"])
    @protect()
    @safe
    def agenda(self) -> Any:
        """The caller's plans for a day, week or month, and every overdue plan of theirs
        ---
        get:
          parameters:
          - in: query
            name: view
            schema:
              type: string
              enum: [day, week, month]
              default: week
          - in: query
            name: date
            schema:
              type: string
              format: date
            description: A day of the period (default today)
          responses:
            200:
              description: >-
                view, start, end, previous, next, today, days, counts (planned, done and
                overdue in the period; overdue_all), items and overdue: entity,
                entity_label, id, title, due, day, time, owner_id, done, overdue, url and
                actions (name, label, comment_required; take one with
                POST /api/v1/<entity>/<id>/actions/<name>)
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
        """
        try:
            data = agenda_data.my_agenda(request.args.get("view"), request.args.get("date"))
        except BadRequest as exc:
            return self.response_400(message={exc.field: [str(exc)]})
        return self.response(200, **data)

    @expose("/team", methods=["GET"])
    @protect()
    @safe
    def team(self) -> Any:
        """Planned vs done per person per day of a week, for a manager (their team) or a role
        reading everyone's plans
        ---
        get:
          parameters:
          - in: query
            name: week
            schema:
              type: string
              format: date
            description: A day of the week (default this week); weeks start on Monday
          responses:
            200:
              description: >-
                start, previous, next, days and reps: user_id, name, planned, done,
                overdue_now and days (date, planned, done, overdue)
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
        """
        if not agenda_data.has_team():
            return self.response_403()
        try:
            data = agenda_data.team_week(request.args.get("week"))
        except BadRequest as exc:
            return self.response_400(message={exc.field: [str(exc)]})
        return self.response(200, **data)
