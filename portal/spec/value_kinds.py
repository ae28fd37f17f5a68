"""The kind of value an expression gives (a number, a text, a date...), worked out from the
fields it reads, so that a formula can be matched with the field that stores it.

``count(lines)`` is a number, ``customer.grade`` is a text, ``due < today`` is a yes/no. Where
the kind cannot be known from the text alone (``null``, a division of a date), it is None and
nothing is claimed.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Optional

from portal.spec.expression_refs import related_rows
from portal.spec.expressions import dotted
from portal.spec.model import Aggregate, EntitySpec, Expression

NUMBER, TEXT, BOOL, DATE, DATETIME, LIST = "number", "text", "bool", "date", "datetime", "list"

#: The kind each field type holds (a linked record is read as its id, a number).
FIELD_KINDS: Mapping[str, str] = MappingProxyType({
    "int": NUMBER, "decimal": NUMBER, "money": NUMBER,
    "string": TEXT, "text": TEXT, "email": TEXT, "phone": TEXT, "url": TEXT, "enum": TEXT,
    "number": TEXT, "bool": BOOL, "date": DATE, "datetime": DATETIME,
    "link": NUMBER, "user": NUMBER, "file": NUMBER})
#: The kinds of the system fields every record has.
SYSTEM_KINDS: Mapping[str, str] = MappingProxyType({
    "id": NUMBER, "created_at": DATETIME, "updated_at": DATETIME, "created_by": NUMBER,
    "updated_by": NUMBER, "today": DATE})
#: The kinds a field of each kind of type can store (a date is stored at midnight, a date
#: and time keeps its date).
STORABLE: Mapping[str, frozenset[str]] = MappingProxyType({
    NUMBER: frozenset({NUMBER}), TEXT: frozenset({TEXT}), BOOL: frozenset({BOOL}),
    DATE: frozenset({DATE, DATETIME}), DATETIME: frozenset({DATE, DATETIME})})
#: How messages name a kind.
KIND_TEXT: Mapping[str, str] = MappingProxyType({
    NUMBER: "a number", TEXT: "a text", BOOL: "true or false", DATE: "a date",
    DATETIME: "a date and time", LIST: "a list"})


def fits(kind: Optional[str], field_type: str) -> bool:
    """Whether a value of ``kind`` (None: unknown) can be stored in a field of ``field_type``."""
    if kind is None:
        return True
    stored = FIELD_KINDS.get(field_type)
    return stored is not None and kind in STORABLE.get(stored, frozenset())


def value_kind(expression: Expression, owner: EntitySpec,
               entities: Mapping[str, EntitySpec]) -> Optional[str]:
    """The kind of value ``expression`` gives on a record of ``owner`` (None when unknown).
    The expression's references must have been checked (``check_expression``)."""
    aggregates = {a.key: a for a in expression.aggregates}
    return _kind(expression.tree, owner, entities, aggregates)


def _kind(node: Any, owner: EntitySpec, entities: Mapping[str, EntitySpec],
          aggregates: Mapping[str, Aggregate]) -> Optional[str]:
    if isinstance(node, (ast.BoolOp, ast.Compare)) or (
            isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)):
        return BOOL
    if isinstance(node, ast.UnaryOp):
        return _kind(node.operand, owner, entities, aggregates)
    if isinstance(node, ast.BinOp):
        left = _kind(node.left, owner, entities, aggregates)
        right = _kind(node.right, owner, entities, aggregates)
        if left is None or right is None:
            return left or right if (left or right) in (NUMBER, TEXT) else None
        if left == right == NUMBER:
            return NUMBER
        if left == right == TEXT and isinstance(node.op, ast.Add):
            return TEXT
        return None
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool):
            return BOOL
        if isinstance(value, (int, float)):
            return NUMBER
        return TEXT if isinstance(value, str) else None
    if isinstance(node, ast.Name):
        if node.id in ("true", "false"):
            return BOOL
        return _field_kind(owner, node.id)
    if isinstance(node, ast.Attribute):
        return _path_kind(owner, dotted(node) or (), entities)
    if isinstance(node, ast.Call):
        aggregate = aggregates.get(ast.unparse(node))
        if aggregate is None:
            return None
        if aggregate.function in ("count", "sum", "avg"):
            return NUMBER
        rows = related_rows(owner, aggregate, entities)
        if rows is None or aggregate.value is None:
            return None
        return value_kind(aggregate.value, entities[rows.entity], entities)
    if isinstance(node, (ast.List, ast.Tuple)):
        return LIST
    return None


def _field_kind(entity: EntitySpec, name: str) -> Optional[str]:
    f = entity.fields.get(name)
    if f is None:
        return SYSTEM_KINDS.get(name)
    return FIELD_KINDS.get(f.type)


def _path_kind(owner: EntitySpec, path: tuple[str, ...],
               entities: Mapping[str, EntitySpec]) -> Optional[str]:
    entity: Optional[EntitySpec] = owner
    for hop in path[:-1]:
        f = entity.fields.get(hop) if entity is not None else None
        entity = entities.get(f.target or "") if f is not None else None
    return _field_kind(entity, path[-1]) if entity is not None and path else None
