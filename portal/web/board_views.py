"""The board routes of an entity that declares ``board:``: the page (``/<entity>/board/``)
with its JSON move and assign calls, and the REST API (``/api/v1/<entity>/board``).

The generator mixes these into the entity's screen and API classes (see
``portal.generators.screens``), so they share the entity's permissions: reading the board
needs ``read``; a move is then decided by the workflow or the update scope, an assignment
needs ``update`` (and an ``all`` update scope, checked in ``portal.web.board_data``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import abort, jsonify, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.api import protect, safe
from sqlalchemy import select

from portal.engines.access import AccessDenied, Principal, effective_access
from portal.engines.board import BoardRefused
from portal.system_models import PortalUser
from portal.web.board_data import Answer, BoardView, assign_column, move_card
from portal.web.csrf import EXPIRED, csrf_ok

#: Routes of an entity with a board, on its screen and on its API.
BOARD_VIEW_ROUTES = frozenset({"board", "board_move", "board_assign"})
BOARD_API_ROUTES = frozenset({"board", "board_move", "board_assign"})
#: Their permissions (the entity's ``can_<action>``).
BOARD_PERMISSIONS = {"board": "read", "board_move": "read", "board_assign": "update"}


def _answer(work: Callable[[], Answer]) -> Answer:
    """``work()``, with a refusal raised before anything changed as its answer."""
    try:
        return work()
    except AccessDenied as exc:
        return 403, {"message": str(exc)}
    except BoardRefused as exc:
        return 422, {"message": str(exc)}


def chosen_filters(args: Mapping[str, Any], host: Any) -> dict[str, str]:
    """The query arguments that name fields of the entity (the board checks them)."""
    return {k: v for k, v in args.items() if k in host.entity.fields}


def _json_body() -> Any:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _assignees(host: Any) -> list[Any]:
    """Active users who may read the entity: whom a column can be assigned to."""
    users = host._session().scalars(select(PortalUser).where(PortalUser.active)
                                    .order_by(PortalUser.username)).all()
    return [u for u in users if effective_access(host.entity, Principal(
        u.id, u.username, u.department_id, frozenset(r.name for r in u.roles))).read]


class BoardScreen:
    """The board page and the JSON calls its script makes (CSRF-checked)."""

    @expose("/board/", methods=["GET"])
    @has_access
    def board(self) -> Any:
        """Columns of cards with counts and totals; drag a card to move it."""
        try:
            board = BoardView(self)
            chosen = chosen_filters(request.args, self)
            data = board.payload(chosen)
            choices = board.filter_choices(chosen)
        except AccessDenied as exc:
            abort(403, description=str(exc))
        except BoardRefused as exc:
            abort(400, description=str(exc))
        endpoint = self.endpoint  # type: ignore[attr-defined]
        return self.render_template(  # type: ignore[attr-defined]
            "portal/board.html", title=data["title"], board=data, filters=choices,
            board_url=url_for(f"{endpoint}.board"), move_url=url_for(f"{endpoint}.board_move"),
            assign_url=url_for(f"{endpoint}.board_assign"),
            list_url=url_for(f"{endpoint}.list"),
            assignees=_assignees(self) if data["can_assign"] else [])

    @expose("/board/move", methods=["POST"])
    @has_access
    def board_move(self) -> Any:
        """Move a card (JSON ``{id, to, comment?, filters?}``)."""
        return self._board_call(move_card)

    @expose("/board/assign", methods=["POST"])
    @has_access
    def board_assign(self) -> Any:
        """Assign a column's cards (JSON ``{column, to_user, ids?, filters?}``)."""
        return self._board_call(assign_column)

    def _board_call(self, call: Callable[[Any, Mapping[str, Any]], Answer]) -> Any:
        if not csrf_ok():
            return jsonify(message=EXPIRED), 400
        body = _json_body()
        if body is None:
            return jsonify(message="the body must be a JSON object"), 400
        status, answer = _answer(lambda: call(self, body))
        return jsonify(answer), status


class BoardApi:
    """``/api/v1/<entity>/board``: read the board, move a card, assign a column."""

    @expose("/board", methods=["GET"])
    @protect()
    @safe
    def board(self) -> Any:
        """The entity's board: columns with counts, totals and their first cards
        ---
        get:
          description: >-
            Columns in order, each with `value`, `label`, `count` and `total` (of the
            board's sum field; null when the board has none or it is hidden from the caller)
            as the caller's read scope sees them, the first cards (`id`, `title`, `url`,
            `fields`) and how many `more` there are. Query arguments named after the board's
            filter fields filter it (`?owner=3`).
          responses:
            200:
              description: The board
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            403:
              description: The board's field is hidden from the caller
        """
        status, answer = _answer(
            lambda: (200, BoardView(self).payload(chosen_filters(request.args, self))))
        return self._board_response(status, answer)

    @expose("/board/move", methods=["POST"])
    @protect()
    @safe
    def board_move(self) -> Any:
        """Move a card to another column
        ---
        post:
          description: >-
            On a board of the workflow's state field the move performs the transition
            from the record's state to the column (stage gates, who may act, conditions and
            comments apply); on another enum field it is an edit of that field (update
            scope, validation, locked states). Refusals change nothing.
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [id, to]
                  properties:
                    id:
                      type: integer
                    to:
                      type: string
                      description: The column (a value of the board's field)
                    comment:
                      type: string
                    filters:
                      type: object
                      description: The board's filters, for the counts sent back
          responses:
            200:
              description: Moved; the card, its value now and every column's count and total
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            403:
              description: The caller may not move this record there
            404:
              $ref: '#/components/responses/404'
            409:
              description: Someone changed the record first
            422:
              description: >-
                Refused: no transition between the columns, a stage gate (fields to fill
                in), a comment required (`comment_required`), a bad value
        """
        body = _json_body()
        if body is None:
            return self.response_400(message="the body must be a JSON object")  # type: ignore[attr-defined]
        status, answer = _answer(lambda: move_card(self, body))
        return self._board_response(status, answer)

    @expose("/board/assign", methods=["POST"])
    @protect()
    @safe
    def board_assign(self) -> Any:
        """Assign by stage: a column's records (or some of them) to another user
        ---
        post:
          description: >-
            For callers who may update every record. Every record of `column` that the
            board's `filters` let through (or only `ids`) gets `to_user` as its owner,
            each through the edit's checks and with its own audit entry; one refusal and
            nothing changes.
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [column, to_user]
                  properties:
                    column:
                      type: string
                    to_user:
                      description: A username or user id
                    ids:
                      type: array
                      items:
                        type: integer
                    filters:
                      type: object
          responses:
            200:
              description: The ids assigned and every column's count and total
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            403:
              description: The caller may not assign records of this entity
            422:
              description: A bad column, user or id; or a record refused the change
        """
        body = _json_body()
        if body is None:
            return self.response_400(message="the body must be a JSON object")  # type: ignore[attr-defined]
        status, answer = _answer(lambda: assign_column(self, body))
        return self._board_response(status, answer)

    def _board_response(self, status: int, answer: dict[str, Any]) -> Any:
        return self.response(status, **answer)  # type: ignore[attr-defined]
