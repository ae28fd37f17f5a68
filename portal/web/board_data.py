"""A board as the screens and the API show it, and the moves made on it.

``host`` is an entity's generated screen or REST API (``EntityMixin``): its datamodel,
session and checked write path (``check_write``) are the ones an edit goes through, so a
card dropped on a plain enum board is refused exactly as the same edit on the form would be.
Every answer is ``(status, body)``; refusals carry a readable ``message`` (and ``errors``
by field where a field is at fault) and leave nothing written.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Optional

from flask import url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal.engines import workflow
from portal.engines.access import AccessDenied, Principal, effective_access
from portal.engines.board import (
    BoardRefused,
    Column,
    filter_criteria,
    read_columns,
    transition_to,
)
from portal.runtime import acting_principal, runtime
from portal.spec.board import BoardSpec
from portal.spec.model import EntitySpec, FieldSpec
from portal.system_models import PortalUser
from portal.web.access_columns import hidden_fields
from portal.web.i18n import current_locale, enum_label, field_label, humanize
from portal.web.records import RecordInvalid
from portal.web.ui_text import ui_text
from portal.web.workflow_view import state_label

Answer = tuple[int, dict[str, Any]]
#: Filter choices offered for a link field, at most.
MAX_CHOICES = 200


def board_spec(entity: EntitySpec) -> Optional[BoardSpec]:
    """The entity's compiled board, or None."""
    return runtime().registry.feature("board", entity.name)


def board_title(entity: EntitySpec, spec: BoardSpec) -> str:
    """The board's title in the reader's language (default "<Entity> board")."""
    return spec.label.get(current_locale(), "") or ui_text(
        "%(entity)s board", entity=entity.label.get(current_locale(), humanize(entity.name)))


def column_label(host: Any, spec: BoardSpec, value: str) -> str:
    """A column's heading: the state's or the enum value's label."""
    flow = getattr(host.model, "__workflow__", None) if spec.by_workflow else None
    if flow is not None:
        return state_label(flow, value)
    return enum_label(host.entity.fields[spec.field], value)


def money_text(value: Optional[Decimal]) -> str:
    """A total as the lists show money: ``12,500.00``."""
    return "" if value is None else f"{value:,.2f}"


def _text(f: FieldSpec, value: Any) -> str:
    if value is None or value == "":
        return ""
    if f.type == "enum":
        return enum_label(f, value)
    if f.type == "user":
        return value.username
    if f.type == "money":
        return money_text(value)
    if f.type == "bool":
        return ui_text("Yes") if value else ui_text("No")
    if f.type in {"date", "datetime"}:
        return value.isoformat(sep=" ", timespec="minutes") if f.type == "datetime" \
            else value.isoformat()
    return str(value)


class BoardView:
    """What one reader may see of one board: columns, card fields, total, filters."""

    def __init__(self, host: Any) -> None:
        self.host = host
        self.entity: EntitySpec = host.entity
        spec = board_spec(self.entity)
        if spec is None:
            raise BoardRefused(f"{self.entity.name} has no board")
        self.spec = spec
        hidden = hidden_fields(self.entity)
        if spec.field in hidden:
            raise AccessDenied(f"the board is by '{spec.field}', a field hidden from you")
        self.total = spec.sum if spec.sum is not None and spec.sum not in hidden else None
        self.card = tuple(f for f in spec.card if f not in hidden)
        self.filters = tuple(f for f in spec.filters if f not in hidden)
        self.hidden = hidden

    def criteria(self, chosen: Mapping[str, Any]) -> list[Any]:
        """WHERE clauses of the chosen filters (only the board's, none hidden)."""
        asked = {k: str(v) for k, v in chosen.items() if v not in (None, "")}
        for name in asked:
            if name in self.hidden:
                raise BoardRefused(f"cannot filter on '{name}': the field is hidden from you")
        return filter_criteria(self.entity, self.host.model, self.filters, asked)

    def columns(self, chosen: Mapping[str, Any], cards: bool = True) -> list[Column]:
        """The columns with counts, totals and (with ``cards``) their first cards."""
        model = self.host.model
        relations = [n for n in self.card if self.entity.fields[n].type in {"link", "user"}]
        order = (self.entity.list.order_by or "id",
                 self.entity.list.order_desc or not self.entity.list.order_by)
        return read_columns(self.host._session(), self.entity, model, self.spec.field,
                            self.spec.columns, self.criteria(chosen), self.total,
                            self.spec.limit if cards else 0, order,
                            [selectinload(getattr(model, n)) for n in relations])

    def can_assign(self, principal: Principal) -> bool:
        """Assign by stage: users who may update every record, on an entity with an owner
        field they see."""
        owner = self.entity.owner
        return (owner is not None and owner not in self.hidden
                and effective_access(self.entity, principal).update == "all")

    def payload(self, chosen: Mapping[str, Any], cards: bool = True) -> dict[str, Any]:
        """The board as JSON: columns (value, label, count, total, cards, more) in order."""
        columns = self.columns(chosen, cards)
        total_label = str(field_label(self.entity.fields[self.total])) if self.total else None
        return {
            "entity": self.entity.name,
            "title": board_title(self.entity, self.spec),
            "field": self.spec.field,
            "by_workflow": self.spec.by_workflow,
            "sum": {"field": self.total, "label": total_label} if self.total else None,
            "filters": {k: str(v) for k, v in chosen.items()
                        if k in self.filters and v not in (None, "")},
            "can_assign": self.can_assign(acting_principal()),
            "owner": self.entity.owner,
            "columns": [self._column(c, chosen, cards) for c in columns],
        }

    def _exact(self, value: Any) -> Any:
        """A column total as the sum field stores it (``0.00`` for money, ``0`` for int)."""
        if value is None or self.total is None:
            return None
        f = self.entity.fields[self.total]
        if f.type == "int":
            return int(value)
        return Decimal(value).quantize(Decimal(1).scaleb(-(2 if f.type == "money" else f.scale)))

    def total_text(self, value: Any) -> Optional[str]:
        """A column total for reading: ``12,500.00``, ``1,200``."""
        if value is None:
            return None
        return f"{value:,}"  # a Decimal keeps its places: 12,500.50

    def _column(self, col: Column, chosen: Mapping[str, Any], cards: bool) -> dict[str, Any]:
        total = self._exact(col.total)
        out: dict[str, Any] = {
            "value": col.value, "label": column_label(self.host, self.spec, col.value),
            "count": col.count,
            "total": str(total) if total is not None else None,
            "total_text": self.total_text(total),
        }
        if cards:
            out["cards"] = [self.card_json(item) for item in col.cards]
            out["more"] = col.count - len(col.cards)
            out["more_url"] = self.list_url(col.value, chosen)
        return out

    def card_json(self, item: Any) -> dict[str, Any]:
        """One card: id, title, link to the record and the card fields' texts."""
        fields = []
        for name in self.card:
            f = self.entity.fields[name]
            fields.append({"name": name, "label": str(field_label(f)),
                           "text": _text(f, getattr(item, name))})
        return {"id": item.id, "title": repr(item), "value": getattr(item, self.spec.field),
                "url": url_for(f"{self.host.board_view_endpoint}.show", pk=item.id),
                "fields": fields}

    def list_url(self, value: str, chosen: Mapping[str, Any]) -> str:
        """The entity's list filtered to one column and the board's filters."""
        args = {}
        converter = self.host.datamodel.filter_converter_class(self.host.datamodel)
        wanted = {self.spec.field: value, **{k: v for k, v in chosen.items()
                                              if k in self.filters and v not in ("", None)}}
        for name, text in wanted.items():
            # FAB's list reads ``_flt_<n>_<column>``, n the place of "equal" among the
            # column's filters.
            kinds = [type(flt).__name__ for flt in converter.convert(name) or ()]
            index = next((n for n, kind in enumerate(kinds)
                          if kind in {"FilterEqual", "FilterRelationOneToManyEqual"}), 0)
            args[f"_flt_{index}_{name}"] = text
        return url_for(f"{self.host.board_view_endpoint}.list", **args)

    def filter_choices(self, chosen: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The filters for the page: name, label, chosen value and the choices."""
        out = []
        session = self.host._session()
        for name in self.filters:
            f = self.entity.fields[name]
            if f.type == "enum":
                options = [(v, enum_label(f, v)) for v in f.values]
            elif f.type == "bool":
                options = [("true", ui_text("Yes")), ("false", ui_text("No"))]
            elif f.type == "user":
                options = [(str(u.id), u.username) for u in session.execute(
                    select(PortalUser.id, PortalUser.username).where(PortalUser.active)
                    .order_by(PortalUser.username)).all()]
            else:  # a link: the records the reader may read (scoped like every query)
                target = runtime().models.classes[f.target]
                options = [(str(r.id), repr(r)) for r in session.scalars(
                    select(target).order_by(target.id).limit(MAX_CHOICES))]
            out.append({"name": name, "label": str(field_label(f)),
                        "value": str(chosen.get(name) or ""), "options": options})
        return out


# -- moves ---------------------------------------------------------------------------------

def _refusal(exc: Exception) -> Answer:
    """A refused change as ``(status, body)``: 403 for rights, 409 for conflicts, 422 else."""
    if isinstance(exc, AccessDenied):
        return 403, {"message": str(exc)}
    if isinstance(exc, workflow.TransitionConflict):
        return 409, {"message": str(exc)}
    if isinstance(exc, (RecordInvalid, workflow.TransitionRefused)):
        errors = exc.errors
        general = errors.get("_") or [f"{k}: {', '.join(v)}" for k, v in errors.items()]
        body: dict[str, Any] = {"message": "; ".join(general), "errors": errors}
        if "comment" in errors:
            body["comment_required"] = True
        return 422, body
    if isinstance(exc, IntegrityError):
        return 409, {"message": "the change conflicts with another record"}
    return 422, {"message": str(exc)}


def _record_id(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def move_card(host: Any, body: Mapping[str, Any]) -> Answer:
    """Move record ``body["id"]`` to column ``body["to"]`` (with ``comment`` for a
    transition that needs one); ``filters`` are the board's, for the counts sent back."""
    board = BoardView(host)
    record_id, target = _record_id(body.get("id")), body.get("to")
    comment = body.get("comment")
    if record_id is None:
        return 422, {"message": "id: expected a record id", "errors": {"id": ["expected a "
                                                                             "record id"]}}
    if not isinstance(target, str) or target not in board.spec.columns:
        reason = f"'{target}' is not a column of this board"
        return 422, {"message": f"to: {reason}", "errors": {"to": [reason]}}
    if comment is not None and not isinstance(comment, str):
        return 422, {"message": "comment: not a valid string",
                     "errors": {"comment": ["Not a valid string."]}}
    filters = body.get("filters") or {}
    if not isinstance(filters, dict):
        return 422, {"message": "filters: expected an object"}
    board.criteria(filters)  # a bad filter is refused before anything changes
    item = host.datamodel.get(record_id, host._base_filters)
    if item is None:
        return 404, {"message": f"no record {record_id} that you may see"}
    session = host._session()
    before = getattr(item, board.spec.field)
    principal = acting_principal()
    message = ""
    try:
        if board.spec.by_workflow:
            name = transition_to(session, item, target, principal)
            outcome = workflow.perform(session, runtime().registry, runtime().models.classes,
                                       item, name, principal, comment,
                                       locale=current_locale())
            message = (ui_text("Done: %(steps)s", steps="; ".join(outcome.steps))
                       if outcome.moved else
                       ui_text("Approved; waiting for %(n)s more approval(s).",
                               n=outcome.waiting))
        else:
            if before == target:
                raise BoardRefused(f"the record is already in '{target}'")
            setattr(item, board.spec.field, target)
            host.check_write("update", item)
        session.commit()
    except (AccessDenied, RecordInvalid, workflow.TransitionRefused,
            workflow.TransitionConflict, BoardRefused, IntegrityError) as exc:
        session.rollback()
        status, answer = _refusal(exc)
        answer["message"] = ui_text("%(title)s cannot move to %(column)s: %(reason)s",
                                    title=repr(item), reason=answer["message"],
                                    column=column_label(host, board.spec, target))
        return status, answer
    now = getattr(item, board.spec.field)
    return 200, {"id": item.id, "value": now, "moved": now != before,
                 "message": message or ui_text("%(title)s moved to %(column)s.",
                                               title=repr(item),
                                               column=column_label(host, board.spec, now)),
                 "card": board.card_json(item),
                 "columns": board.payload(filters, cards=False)["columns"]}


def assign_column(host: Any, body: Mapping[str, Any]) -> Answer:
    """Assign by stage: give every record of column ``body["column"]`` (as the board's
    ``filters`` show it), or only ``body["ids"]`` of it, to user ``body["to_user"]``
    (username or id). Each record is changed through the edit's checked write path and
    audited; one refusal and nothing is changed."""
    board = BoardView(host)
    principal = acting_principal()
    entity, owner = board.entity, board.entity.owner
    if not board.can_assign(principal):
        return 403, {"message": ui_text("Only users who may change every %(entity)s record "
                                        "may assign a column.", entity=entity.name)}
    column, ids = body.get("column"), body.get("ids")
    if not isinstance(column, str) or column not in board.spec.columns:
        reason = f"'{column}' is not a column of this board"
        return 422, {"message": f"column: {reason}", "errors": {"column": [reason]}}
    if ids is not None and (not isinstance(ids, list) or not ids or
                            any(_record_id(i) is None for i in ids)):
        return 422, {"message": "ids: expected a list of record ids",
                     "errors": {"ids": ["expected a list of record ids"]}}
    filters = body.get("filters") or {}
    if not isinstance(filters, dict):
        return 422, {"message": "filters: expected an object"}
    session = host._session()
    user, reason = _assignee(session, entity, body.get("to_user"))
    if user is None:
        return 422, {"message": f"to_user: {reason}", "errors": {"to_user": [reason]}}
    model = host.model
    column_attr = getattr(model, board.spec.field)
    query = select(model).where(column_attr == column, *board.criteria(filters))
    if ids is not None:
        query = query.where(model.id.in_(ids))
    records = list(session.scalars(query.order_by(model.id)))
    if ids is not None and len(records) != len(set(ids)):
        missing = sorted(set(ids) - {r.id for r in records})
        reason = f"record {missing[0]} is not in column '{column}' (or not yours to see)"
        return 422, {"message": f"ids: {reason}", "errors": {"ids": [reason]}}
    owner_attr = f"{owner}_id"
    changed = [r for r in records if getattr(r, owner_attr) != user.id]
    record = None
    try:
        for record in changed:
            setattr(record, owner_attr, user.id)
            host.check_write("update", record)
        session.commit()
    except (AccessDenied, RecordInvalid, workflow.TransitionRefused, IntegrityError) as exc:
        session.rollback()
        status, answer = _refusal(exc)
        answer["message"] = ui_text("Nothing was assigned: %(title)s: %(reason)s",
                                    title=repr(record) if record is not None else column,
                                    reason=answer["message"])
        return status, answer
    return 200, {"assigned": [r.id for r in changed], "to_user": user.username,
                 "owner_text": user.username,
                 "message": ui_text("%(n)s record(s) of %(column)s assigned to %(user)s.",
                                    n=len(changed), user=user.username,
                                    column=column_label(host, board.spec, column)),
                 "columns": board.payload(filters, cards=False)["columns"]}


def _assignee(session: Any, entity: EntitySpec, ref: Any) -> tuple[Any, str]:
    """The active user ``ref`` (username or id) who may read ``entity``, or None and why."""
    if isinstance(ref, bool) or not isinstance(ref, (str, int)) or ref == "":
        return None, "expected a username or user id"
    column = PortalUser.id if isinstance(ref, int) or str(ref).isdigit() else \
        PortalUser.username
    value = int(ref) if column is PortalUser.id else ref
    user = session.scalars(select(PortalUser).where(column == value)).first()
    if user is None:
        return None, f"no user '{ref}'"
    if not user.active:
        return None, f"user '{user.username}' is not active"
    them = Principal(user.id, user.username, user.department_id,
                     frozenset(r.name for r in user.roles))
    if effective_access(entity, them).read is None:
        return None, f"user '{user.username}' may not read {entity.name} records"
    return user, ""
