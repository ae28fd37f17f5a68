"""Conditions over record fields, parsed once and evaluated without ``eval``.

A condition is a Python-like expression limited to what a business rule needs::

    amount > 5000
    amount <= 5000 and grade in ['A', 'B']
    not urgent or (priority == 'high' and amount - paid > 0)

Allowed: field names (and ``today``), literals (numbers are exact ``Decimal`` values, text,
``true``/``false``/``null`` as well as Python's spellings), lists of literals, comparisons
(``== != < <= > >= in not in``), ``and``/``or``/``not`` and ``+ - * / %``. Nothing else is
accepted: no calls, attributes, subscripts or lambdas, so a condition can only read the
record it is given. :func:`parse` reports what is wrong at compile time; :func:`evaluate`
runs a parsed condition. Comparisons with an empty value are false (as in SQL), and
arithmetic with one gives an empty value.
"""

from __future__ import annotations

import ast
import datetime as dt
import operator
from collections.abc import Callable, Mapping
from decimal import Decimal, DivisionByZero, InvalidOperation
from types import MappingProxyType
from typing import Any

from portal.spec.model import Expression

#: Names every condition may use besides the record's fields.
BUILTIN_NAMES: frozenset[str] = frozenset({"today"})
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
    names: set[str] = set()
    _check(tree.body, text, names)
    return Expression(source=text, names=frozenset(names), tree=tree.body)


def _check(node: ast.AST, text: str, names: set[str]) -> None:
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value, text, names)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub, ast.UAdd)):
        _check(node.operand, text, names)
    elif isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
        _check(node.left, text, names)
        _check(node.right, text, names)
    elif isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        for part in (node.left, *node.comparators):
            _check(part, text, names)
    elif isinstance(node, ast.Name):
        if node.id not in _CONSTANTS:
            names.add(node.id)
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
                              "literals, comparisons, and/or/not and + - * / %)")


def evaluate(expression: Expression, values: Mapping[str, Any],
             today: dt.date | None = None) -> bool:
    """Whether ``expression`` holds for a record whose field values are ``values``.

    Raises :class:`ExpressionError` when a value has the wrong kind for an operation (text
    compared with a number) or on division by zero.
    """
    scope = dict(values)
    scope.setdefault("today", today or dt.date.today())
    try:
        return bool(_eval(expression.tree, scope, expression.source))
    except (TypeError, ArithmeticError, InvalidOperation, DivisionByZero) as exc:
        raise ExpressionError(f"condition '{expression.source}' could not be evaluated: "
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
