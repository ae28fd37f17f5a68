"""Conditions over record fields, parsed once and evaluated without ``eval``.

A condition is a Python-like expression limited to what a business rule needs::

    amount > 5000
    amount <= 5000 and grade in ['A', 'B']
    not urgent or (priority == 'high' and amount - paid > 0)

Allowed: field names (and ``today``), fields of linked records through link fields
(``customer.grade``), literals (numbers are exact ``Decimal`` values, text,
``true``/``false``/``null`` as well as Python's spellings), lists of literals, comparisons
(``== != < <= > >= in not in``), ``and``/``or``/``not``, ``+ - * / %`` and functions over
related records::

    count(lines)                                  # rows of the children field `lines`
    count(contact.customer, level == 'KR')        # contacts whose `customer` is this record
    sum(lines, quantity * unit_price)             # sum, min, max, avg of a value per row
    sum(receipt.contract, amount, confirmed)      # ... of the rows where a condition holds

Nothing else is accepted: no other calls, subscripts or lambdas, so an expression can only
read the record it is given and what its YAML declares as related. :func:`parse` reports what
is wrong at compile time (which fields exist is checked by the resolver); :func:`evaluate`
runs a parsed expression on values the caller looked up, paths and functions under their
canonical text (``Aggregate.key``). Comparisons with an empty value are false (as in SQL),
and arithmetic with one gives an empty value; ``sum`` of no rows is 0, ``min``/``max``/``avg``
of no rows are empty.
"""

from __future__ import annotations

import ast
import datetime as dt
import operator
from collections.abc import Callable, Mapping
from decimal import Decimal, DivisionByZero, InvalidOperation
from types import MappingProxyType
from typing import Any

from portal.spec.model import Aggregate, Expression

#: Names every condition may use besides the record's fields.
BUILTIN_NAMES: frozenset[str] = frozenset({"today"})
#: Functions over related records, and how many arguments each takes (min, max).
AGGREGATE_ARITY: Mapping[str, tuple[int, int]] = MappingProxyType({
    "count": (1, 2), "sum": (2, 3), "min": (2, 3), "max": (2, 3), "avg": (2, 3)})
_CONSTANTS: Mapping[str, Any] = MappingProxyType({"true": True, "false": False, "null": None})

_COMPARE: Mapping[type, Callable[[Any, Any], bool]] = MappingProxyType({
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
})
_ARITH: Mapping[type, Callable[[Any, Any], Any]] = MappingProxyType({
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Mod: operator.mod,
})


class ExpressionError(ValueError):
    """A condition that cannot be parsed, or that failed while being evaluated."""


def parse(source: str) -> Expression:
    """Parse ``source`` into an :class:`Expression`, or raise :class:`ExpressionError` with a
    message saying what is not allowed."""
    text = source.strip()
    if not text:
        raise ExpressionError("the condition is empty")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise ExpressionError(f"invalid condition{where}: {exc.msg}") from None
    return _expression(tree.body, text, nested=False)


class _Found:
    """What one expression (or one function argument) reads."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.paths: set[tuple[str, ...]] = set()
        self.aggregates: list[Aggregate] = []


def _expression(node: ast.AST, text: str, *, nested: bool) -> Expression:
    found = _Found()
    _check(node, text, found, nested)
    return Expression(source=ast.get_source_segment(text, node) or text,
                      names=frozenset(found.names), tree=node,
                      paths=frozenset(found.paths), aggregates=tuple(found.aggregates))


def dotted(node: ast.AST) -> tuple[str, ...] | None:
    """``customer.grade`` as ``("customer", "grade")``; None when ``node`` is not a chain of
    plain names."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return tuple(reversed(parts))


def _aggregate(node: ast.Call, text: str) -> Aggregate:
    name = node.func.id  # type: ignore[attr-defined]
    low, high = AGGREGATE_ARITY[name]
    if node.keywords or not low <= len(node.args) <= high:
        shape = ("count(source) or count(source, condition)" if name == "count" else
                 f"{name}(source, value) or {name}(source, value, condition)")
        raise ExpressionError(f"'{ast.get_source_segment(text, node)}': write {shape}")
    source = dotted(node.args[0])
    if source is None or len(source) > 2:
        raise ExpressionError(
            f"the source of {name}() must be a children field (lines) or an entity and its "
            f"link field (contract.opportunity), got "
            f"'{ast.get_source_segment(text, node.args[0])}'")
    rest = [_expression(arg, text, nested=True) for arg in node.args[1:]]
    value = rest[0] if name != "count" else None
    where = rest[-1] if (name == "count" and rest) or len(rest) == 2 else None
    return Aggregate(function=name, source=source, key=ast.unparse(node), value=value,
                     where=where)


def _check(node: ast.AST, text: str, found: _Found, nested: bool) -> None:
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value, text, found, nested)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub, ast.UAdd)):
        _check(node.operand, text, found, nested)
    elif isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
        _check(node.left, text, found, nested)
        _check(node.right, text, found, nested)
    elif isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        for part in (node.left, *node.comparators):
            _check(part, text, found, nested)
    elif isinstance(node, ast.Name):
        if node.id not in _CONSTANTS:
            found.names.add(node.id)
    elif isinstance(node, ast.Attribute) and (path := dotted(node)) is not None:
        found.paths.add(path)
        node._lookup_key = ".".join(path)  # type: ignore[attr-defined]  # see _eval
    elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
          and node.func.id in AGGREGATE_ARITY):
        if nested:
            raise ExpressionError(f"'{ast.get_source_segment(text, node)}': a function over "
                                  "related records cannot be nested in another")
        aggregate = _aggregate(node, text)
        node._lookup_key = aggregate.key  # type: ignore[attr-defined]  # see _eval
        found.aggregates.append(aggregate)
    elif isinstance(node, ast.Constant) and (node.value is None or
                                             isinstance(node.value, (bool, int, float, str))):
        pass
    elif isinstance(node, (ast.List, ast.Tuple)):
        for item in node.elts:
            if not isinstance(item, ast.Constant):
                raise ExpressionError("a list in a condition may hold only literal values")
    else:
        segment = ast.get_source_segment(text, node) or type(node).__name__
        raise ExpressionError(f"'{segment}' is not allowed in a condition (only fields, "
                              "literals, comparisons, and/or/not, + - * / % and "
                              "count/sum/min/max/avg over related records)")


def evaluate(expression: Expression, values: Mapping[str, Any],
             today: dt.date | None = None) -> bool:
    """Whether ``expression`` holds for a record whose field values are ``values`` (paths and
    functions under their canonical text, see :class:`~portal.spec.model.Aggregate`).

    Raises :class:`ExpressionError` when a value has the wrong kind for an operation (text
    compared with a number) or on division by zero.
    """
    return bool(compute(expression, values, today))


def compute(expression: Expression, values: Mapping[str, Any],
            today: dt.date | None = None) -> Any:
    """The value of ``expression`` (a formula such as ``amount - received``) for ``values``;
    raises :class:`ExpressionError` like :func:`evaluate`."""
    scope = dict(values)
    scope.setdefault("today", today or dt.date.today())
    try:
        return _eval(expression.tree, scope, expression.source)
    except (TypeError, ArithmeticError, InvalidOperation, DivisionByZero) as exc:
        raise ExpressionError(f"'{expression.source}' could not be evaluated: "
                              f"{exc}") from None


def _eval(node: Any, scope: Mapping[str, Any], text: str) -> Any:
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_eval(v, scope, text) for v in node.values)
        return any(_eval(v, scope, text) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, scope, text)
        if isinstance(node.op, ast.Not):
            return not value
        if value is None:
            return None
        return -value if isinstance(node.op, ast.USub) else +value
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, scope, text), _eval(node.right, scope, text)
        if left is None or right is None:
            return None
        return _ARITH[type(node.op)](left, right)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, scope, text)
        for op, part in zip(node.ops, node.comparators, strict=True):
            right = _eval(part, scope, text)
            if type(op) not in (ast.Eq, ast.NotEq, ast.In, ast.NotIn) and (
                    left is None or right is None):
                return False
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        return _number(scope.get(node.id))
    if isinstance(node, (ast.Attribute, ast.Call)):  # looked up by the caller
        # under the canonical text, worked out once when the expression was parsed
        key = getattr(node, "_lookup_key", None)
        return _number(scope.get(key if key is not None else ast.unparse(node)))
    if isinstance(node, ast.Constant):
        if isinstance(node.value, float):  # exact, from the source text
            return Decimal(ast.get_source_segment(text, node) or repr(node.value))
        return _number(node.value)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(item, scope, text) for item in node.elts]
    raise ExpressionError(f"unexpected {type(node).__name__} in a parsed condition")


def _number(value: Any) -> Any:
    """Floats become exact decimals so that ``0.1 + 0.2 == 0.3`` holds, as people expect."""
    if isinstance(value, float):
        return Decimal(repr(value))
    return value
