"""Kanban boards: an entity's records in columns by one enum field (``board:`` in its YAML).

Reading a board counts and totals every column in one grouped query and loads the first
cards of each column; all of it goes through the ORM session, so the reader's read scope
applies (``portal.engines.scoping``) like on every list. Moving a card on a board of the
workflow's state field is a transition: :func:`transition_to` finds the one that leads from
the record's state to the column, which :func:`portal.engines.workflow.perform` then runs
with its gates, actors and conditions. Moves on other enum fields are ordinary edits and are
made by the screens through their checked write path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.engines.access import Principal
from portal.engines.workflow import available_actions, state_of, workflow_of
from portal.spec.model import EntitySpec, WorkflowSpec


class BoardRefused(Exception):
    """A board request that cannot be answered as asked (a bad filter, an unknown column,
    a move with no transition); the message says why (4xx)."""


@dataclass
class Column:
    """One column: its value, how many records the reader sees in it, their total (None
    when the board has no total for the reader) and the first cards."""

    value: str
    count: int = 0
    total: Optional[Decimal] = None
    cards: list[Any] = field(default_factory=list)


def stored(entity: EntitySpec, name: str) -> str:
    """The attribute holding field ``name``: the id column for links and users."""
    f = entity.fields[name]
    return f"{name}_id" if f.type in {"link", "user", "file"} else name


def filter_criteria(entity: EntitySpec, model: type, allowed: tuple[str, ...],
                    chosen: Mapping[str, str]) -> list[Any]:
    """WHERE clauses for the filters ``chosen`` (field -> text as sent), each one of the
    board's ``allowed`` filters; empty texts mean no filter. Raises :class:`BoardRefused`
    for a value the field cannot hold."""
    criteria = []
    for name, text in chosen.items():
        if text in ("", None):
            continue
        if name not in allowed:
            raise BoardRefused(f"cannot filter the board on '{name}'"
                               + (f" (filters: {', '.join(allowed)})" if allowed else ""))
        f = entity.fields[name]
        column = getattr(model, stored(entity, name))
        if f.type == "enum":
            if text not in f.values:
                raise BoardRefused(f"{name}: '{text}' is not one of: {', '.join(f.values)}")
            criteria.append(column == text)
        elif f.type == "bool":
            if text not in ("true", "false"):
                raise BoardRefused(f"{name}: expected true or false, got '{text}'")
            criteria.append(column.is_(text == "true"))
        else:  # user or link: a record id
            if not str(text).isdigit():
                raise BoardRefused(f"{name}: '{text}' is not a record id")
            criteria.append(column == int(text))
    return criteria


def read_columns(session: Session, entity: EntitySpec, model: type, board_field: str,
                 columns: tuple[str, ...], criteria: list[Any], total_field: Optional[str],
                 limit: int, order: tuple[str, bool],
                 options: Sequence[Any] = ()) -> list[Column]:
    """Each of ``columns`` with its count, total of ``total_field`` (when given) and its
    first ``limit`` records in ``order`` (attribute, descending) loaded with ``options``, as
    the session's reader sees them."""
    column = getattr(model, board_field)
    measures = [func.count(model.id)]
    if total_field is not None:
        measures.append(func.sum(getattr(model, total_field)))
    found = {row[0]: row for row in session.execute(
        select(column, *measures).where(column.in_(columns), *criteria).group_by(column))}
    attr, desc = order
    ordering = getattr(model, attr).desc() if desc else getattr(model, attr).asc()
    result = []
    for value in columns:
        row = found.get(value)
        col = Column(value, count=row[1] if row else 0)
        if total_field is not None:
            col.total = (row[2] if row and row[2] is not None else Decimal(0))
        if col.count and limit:
            col.cards = list(session.scalars(
                select(model).where(column == value, *criteria).options(*options)
                .order_by(ordering, model.id.desc()).limit(limit)))
        result.append(col)
    return result


def state_name(workflow: WorkflowSpec, state: str) -> str:
    """A state as messages quote it: its English label, else its name."""
    spec = workflow.states.get(state)
    return spec.label.get("en", state) if spec is not None else state


def transition_to(session: Session, item: Any, target: str, principal: Principal) -> str:
    """The transition that moves ``item`` from its state to ``target`` for ``principal``:
    the first one they may perform now, else the first one declared (performing it then
    says why it is refused: who may act, its condition). Raises :class:`BoardRefused` when
    the record is already there or no transition leads from its state to ``target``."""
    workflow = workflow_of(item)
    if workflow is None:
        raise BoardRefused("this record has no workflow")
    state = state_of(workflow, item)
    if target not in workflow.states:
        raise BoardRefused(f"'{target}' is not a state of this record")
    if state == target:
        raise BoardRefused(f"the record is already '{state_name(workflow, state)}'")
    candidates = [t for t in workflow.outgoing(state) if t.target == target
                  and t.by is not None]  # automatic and timed moves are nobody's to make
    if not candidates:
        raise BoardRefused(f"no transition from '{state_name(workflow, state)}' to "
                           f"'{state_name(workflow, target)}'")
    offered = {a.transition.name for a in available_actions(session, item, principal)}
    return next((t.name for t in candidates if t.name in offered), candidates[0].name)
