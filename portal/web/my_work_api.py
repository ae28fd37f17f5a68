"""``/api/v1/my/...``: the signed-in user's approvals, submissions, notifications and
delegations over REST (the same data as the "My work" screens)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_appbuilder.api import BaseApi, expose, protect, safe

from portal.engines import inbox
from portal.engines.delegation import DelegationInvalid, add_delegation, cancel_delegation
from portal.runtime import request_principal
from portal.web.json_body import json_object
from portal.web.my_work_data import (
    MY_WORK,
    approval_rows,
    counts,
    delegation_rows,
    notification_rows,
    submission_rows,
)


class MyWorkApi(BaseApi):
    """The caller's own queues, inbox and delegations."""

    resource_name = "my"
    class_permission_name = MY_WORK
    base_permissions = ["can_read", "can_write"]
    method_permission_name = {
        "approvals": "read", "submissions": "read", "notifications": "read",
        "delegations": "read", "read_notifications": "write", "new_delegation": "write",
        "end_delegation": "write",
    }
    allow_browser_login = True
    openapi_spec_tag = "My work"

    def _session(self) -> Any:
        return self.appbuilder.session

    def _user_id(self) -> int:
        principal = request_principal()
        assert principal is not None and principal.user_id is not None  # @protect ran
        return principal.user_id

    @expose("/approvals", methods=["GET"])
    @protect()
    @safe
    def approvals(self) -> Any:
        """Every record, of any entity, waiting for the caller (or for someone the caller
        substitutes for today), with the actions the caller may take
        ---
        get:
          responses:
            200:
              description: >-
                count and result: entity, id, title, url, state, state_label, since and
                actions (name, label, comment_required, on_behalf_of). Take an action with
                POST /api/v1/<entity>/<id>/actions/<name>.
            401:
              $ref: '#/components/responses/401'
        """
        rows = approval_rows()
        return self.response(200, count=len(rows), result=rows)

    @expose("/submissions", methods=["GET"])
    @protect()
    @safe
    def submissions(self) -> Any:
        """The caller's records in a workflow: state and who each waits for now
        ---
        get:
          responses:
            200:
              description: >-
                result: entity, id, title, url, state, state_label, waiting_for (user names,
                and role:<name> for a role) and last_step_at
            401:
              $ref: '#/components/responses/401'
        """
        return self.response(200, result=submission_rows())

    @expose("/notifications", methods=["GET"])
    @protect()
    @safe
    def notifications(self) -> Any:
        """The caller's notifications, newest first, and the unread count
        ---
        get:
          parameters:
          - in: query
            name: unread
            schema:
              type: integer
              enum: [0, 1]
            description: 1 for unread notifications only
          - in: query
            name: before
            schema:
              type: integer
            description: Only notifications older than this id (the next page)
          responses:
            200:
              description: unread (a count) and result (id, at, kind, title, body, entity,
                record_id, url, read_at)
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
        """
        before = request.args.get("before")
        if before is not None and not before.isdigit():
            return self.response_400(message="before must be a notification id")
        rows = notification_rows(request.args.get("unread") == "1",
                                 int(before) if before else None)
        return self.response(200, unread=counts()["unread"], result=rows)

    @expose("/notifications/read", methods=["POST"])
    @protect()
    @safe
    def read_notifications(self) -> Any:
        """Mark notifications read: the listed ``ids``, or all with ``{"all": true}``
        ---
        post:
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  additionalProperties: false
                  properties:
                    ids:
                      type: array
                      items:
                        type: integer
                    all:
                      type: boolean
          responses:
            200:
              description: marked (how many changed) and unread (what is left)
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            422:
              $ref: '#/components/responses/422'
        """
        body, refused = json_object(self, {"ids", "all"})
        if body is None:
            return refused
        ids = body.get("ids")
        if body.get("all") is True:
            ids = None
        elif not isinstance(ids, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in ids):
            return self.response_422(message={"ids": [
                "a list of notification ids is required (or \"all\": true)"]})
        session = self._session()
        marked = inbox.mark_read(session.connection(), self._user_id(), ids)
        session.commit()
        return self.response(200, marked=marked,
                             unread=inbox.unread_count(session.connection(), self._user_id()))

    @expose("/delegations", methods=["GET"])
    @protect()
    @safe
    def delegations(self) -> Any:
        """The caller's delegations: given (to substitutes) and received
        ---
        get:
          responses:
            200:
              description: given and received, each id, user, substitute, starts, ends,
                running, past
            401:
              $ref: '#/components/responses/401'
        """
        return self.response(200, **delegation_rows())

    @expose("/delegations", methods=["POST"])
    @protect()
    @safe
    def new_delegation(self) -> Any:
        """Name a substitute (a user id or name) for a period, dates inclusive
        ---
        post:
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  additionalProperties: false
                  required: [substitute, starts, ends]
                  properties:
                    substitute:
                      oneOf:
                      - type: integer
                      - type: string
                    starts:
                      type: string
                      format: date
                    ends:
                      type: string
                      format: date
          responses:
            201:
              description: The delegation (id, user, substitute, starts, ends)
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            422:
              $ref: '#/components/responses/422'
        """
        body, refused = json_object(self, {"substitute", "starts", "ends"})
        if body is None:
            return refused
        session = self._session()
        try:
            made = add_delegation(session, self._user_id(), body.get("substitute"),
                                  body.get("starts"), body.get("ends"))
            session.commit()
        except DelegationInvalid as exc:
            session.rollback()
            return self.response_422(message=exc.errors)
        return self.response(201, id=made.id, user=made.user.username,
                             substitute=made.substitute.username,
                             starts=made.starts.isoformat(), ends=made.ends.isoformat())

    @expose("/delegations/<int:delegation_id>", methods=["DELETE"])
    @protect()
    @safe
    def end_delegation(self, delegation_id: int) -> Any:
        """Cancel one of the caller's own delegations
        ---
        delete:
          parameters:
          - in: path
            schema:
              type: integer
            name: delegation_id
          responses:
            200:
              description: Cancelled
            401:
              $ref: '#/components/responses/401'
            404:
              $ref: '#/components/responses/404'
        """
        session = self._session()
        if not cancel_delegation(session, self._user_id(), delegation_id):
            session.rollback()
            return self.response_404()
        session.commit()
        return self.response(200, message="cancelled")
