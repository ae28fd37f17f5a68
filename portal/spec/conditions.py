"""A condition written in a feature's YAML (``when:``, ``rule:``), parsed and checked once."""

from __future__ import annotations

from typing import Any, Optional

from portal.spec.expression_refs import check_expression
from portal.spec.expressions import ExpressionError, parse
from portal.spec.loader import Path
from portal.spec.model import EntitySpec, Expression, Registry
from portal.spec.report import Reporter
from portal.spec.schemas import describe


def condition(entity: EntitySpec, raw: Any, path: Path, rep: Reporter, registry: Registry,
              no_aggregates: Optional[str] = None) -> Optional[Expression]:
    """The parsed condition ``raw`` over ``entity``'s records, or None after reporting at
    ``path`` why it is not one (not text, bad syntax, an unknown field or link; a function
    over related records where ``no_aggregates`` says why there may be none)."""
    if not isinstance(raw, str):
        rep.add(path, "bad-value", f"expected a condition, got {describe(raw)}")
        return None
    try:
        expression = parse(raw)
    except ExpressionError as exc:
        rep.add(path, "bad-expression", str(exc))
        return None
    if no_aggregates is not None and expression.aggregates:
        for aggregate in expression.aggregates:
            rep.add(path, "bad-expression", f"'{aggregate.key}': {no_aggregates}")
        return None
    before = len(rep.errors)
    check_expression(expression, entity, registry.entities,
                     lambda code, message, hint: rep.add(path, code, message, hint))
    return expression if len(rep.errors) == before else None
