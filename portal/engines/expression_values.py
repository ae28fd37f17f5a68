"""The values an expression reads from a stored record: its own fields, fields of linked
records (``customer.grade``) and functions over related records (``sum(lines, amount)``).

:mod:`portal.spec.expressions` evaluates a parsed expression on a mapping of values; this
module fills that mapping from the database, for any entity, from the compiled definitions.
Functions over related records see every related row (not only those the current user may
read): a stage gate or a total must not depend on who looks at it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.engines.scoping import UNSCOPED
from portal.spec.expression_refs import related_rows
from portal.spec.expressions import BUILTIN_NAMES, ExpressionError, compute
from portal.spec.model import Aggregate, EntitySpec, Expression

#: Field types whose stored value is the id of another row.
_BY_ID = frozenset({"link", "user", "file"})


#: The rows of an expression's aggregates for one record, fetched beforehand for many records
#: at once (``portal.engines.computed``): aggregate key -> rows.
Related = Mapping[str, Sequence[Any]]


def expression_values(session: Session, item: Any, expression: Expression,
                      related: Optional[Related] = None) -> dict[str, Any]:
    """Everything ``expression`` reads from ``item``, keyed as the evaluator looks it up
    (the rows of an aggregate from ``related`` when it has them)."""
    entity: EntitySpec = type(item).__entity__
    values: dict[str, Any] = {name: own_value(entity, item, name) for name in expression.names
                              if name not in BUILTIN_NAMES}
    for path in expression.paths:
        values[".".join(path)] = _follow(session, item, path)
    for aggregate in expression.aggregates:
        rows = related.get(aggregate.key) if related is not None else None
        if rows is None:
            rows = related_items(session, item, entity, aggregate)
        values[aggregate.key] = _aggregate(session, aggregate, rows)
    return values


def holds(session: Session, item: Any, expression: Expression,
          on: Optional[dt.date] = None) -> bool:
    """Whether the condition ``expression`` holds for ``item`` (False when it cannot be
    evaluated, e.g. text compared with a number)."""
    try:
        return bool(compute(expression, expression_values(session, item, expression), on))
    except ExpressionError:
        return False


def value_of(session: Session, item: Any, expression: Expression,
             on: Optional[dt.date] = None, related: Optional[Related] = None) -> Any:
    """The value of the formula ``expression`` for ``item`` (aggregate rows from ``related``
    when given); raises ExpressionError."""
    return compute(expression, expression_values(session, item, expression, related), on)


def own_value(entity: EntitySpec, item: Any, name: str) -> Any:
    """The value of field ``name`` as expressions see it (a linked record as its id)."""
    f = entity.fields.get(name)
    if (f is not None and f.type in _BY_ID) or name in ("created_by", "updated_by"):
        key = getattr(item, f"{name}_id", None)
        if key is None:  # a record being saved may hold the linked object, not its id yet
            linked = getattr(item, name, None)
            key = getattr(linked, "id", None)
        return key
    return getattr(item, name, None)


def _follow(session: Session, item: Any, path: tuple[str, ...]) -> Any:
    current = item
    for hop in path[:-1]:
        linked = getattr(current, hop, None)
        key = getattr(current, f"{hop}_id", None)
        if linked is None and key is not None:  # only the id is set so far (a new record)
            entity = type(current).__entity__
            linked = session.get(model_for(type(current), entity.fields[hop].target), key)
        if linked is None:
            return None
        current = linked
    return own_value(type(current).__entity__, current, path[-1])


def model_for(item_class: type, entity: str) -> type:
    """The generated model class of ``entity``, found through ``item_class``'s mapper
    registry (every generated model shares one)."""
    for mapper in item_class.registry.mappers:  # type: ignore[attr-defined]
        spec = getattr(mapper.class_, "__entity__", None)
        if spec is not None and spec.name == entity:
            return mapper.class_
    raise LookupError(f"no model for entity '{entity}'")  # a portal bug: compiled together


def related_items(session: Session, item: Any, entity: EntitySpec,
                  aggregate: Aggregate) -> list[Any]:
    """The rows ``aggregate`` runs over for ``item``: the in-memory children for a children
    field (so unsaved edits count), else the stored rows linking to ``item``."""
    if len(aggregate.source) == 1:
        return [row for row in getattr(item, aggregate.source[0]) or ()
                if row not in session.deleted]
    owner_class = type(item)
    entities = {m.class_.__entity__.name: m.class_.__entity__
                for m in owner_class.registry.mappers  # type: ignore[attr-defined]
                if getattr(m.class_, "__entity__", None) is not None}
    rows = related_rows(entity, aggregate, entities)
    if rows is None or item.id is None:
        return []
    model = model_for(owner_class, rows.entity)
    query = select(model).where(getattr(model, f"{rows.link}_id") == item.id) \
        .execution_options(**{UNSCOPED: True})
    return [row for row in session.scalars(query) if row not in session.deleted]


def _aggregate(session: Session, aggregate: Aggregate, rows: Sequence[Any]) -> Any:
    if aggregate.where is not None:
        rows = [r for r in rows if holds(session, r, aggregate.where)]
    if aggregate.function == "count":
        return len(rows)
    assert aggregate.value is not None  # the parser requires one for every other function
    numbers = [v for v in (value_of(session, r, aggregate.value) for r in rows) if v is not None]
    if aggregate.function == "sum":
        return sum((_decimal(v) for v in numbers), Decimal(0))
    if not numbers:
        return None
    if aggregate.function == "avg":
        return sum((_decimal(v) for v in numbers), Decimal(0)) / len(numbers)
    return min(numbers) if aggregate.function == "min" else max(numbers)


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))
