"""Checking what an expression reads against the entities: fields, link paths and the
sources of functions over related records (``sum(receipt.contract, amount)``).

The parser (:mod:`portal.spec.expressions`) only knows the grammar; this module knows the
entities. It is used wherever a definition holds an expression: workflow conditions and
gates, entity checks and computed fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Optional

from portal.spec.expressions import BUILTIN_NAMES
from portal.spec.model import Aggregate, EntitySpec, Expression, FieldSpec
from portal.spec.reserved import SYSTEM_FIELDS
from portal.spec.suggest import suggest

#: Field types that hold no single value an expression could read.
NOT_A_VALUE: frozenset[str] = frozenset({"children", "many"})
#: Field types an aggregate may add up.
NUMERIC_TYPES: frozenset[str] = frozenset({"int", "decimal", "money"})

#: ``report(code, message, suggestion)``: where the caller files an error.
Report = Callable[[str, str, Optional[str]], None]


@dataclass(frozen=True)
class RelatedRows:
    """The rows an aggregate runs over: those of ``entity`` whose ``link`` points at the
    record."""

    entity: str
    link: str


def related_rows(owner: EntitySpec, aggregate: Aggregate,
                 entities: Mapping[str, EntitySpec]) -> Optional[RelatedRows]:
    """The rows ``aggregate`` (in an expression of ``owner``) runs over, or None when its
    source names nothing valid (:func:`check_expression` reports why)."""
    if len(aggregate.source) == 1:
        f = owner.fields.get(aggregate.source[0])
        if f is None or f.type != "children" or f.target not in entities:
            return None
        child = entities[f.target]
        link = f.via or next((c.name for c in child.fields.values()
                              if c.type == "link" and c.target == owner.name), None)
        return RelatedRows(child.name, link) if link else None
    name, link = aggregate.source
    target = entities.get(name)
    if target is None:
        return None
    f = target.fields.get(link)
    if f is None or f.type != "link" or f.target != owner.name:
        return None
    return RelatedRows(name, link)


def check_expression(expression: Expression, owner: EntitySpec,
                     entities: Mapping[str, EntitySpec], report: Report, *,
                     skip: Iterable[str] = ()) -> None:
    """Report every field, path or aggregate source of ``expression`` that ``owner`` (and the
    entities it reaches) does not have. ``skip`` names fields already reported as broken."""
    skipped = frozenset(skip)
    for name in sorted(expression.names):
        if name in BUILTIN_NAMES or name in SYSTEM_FIELDS or name in skipped:
            continue
        _value_field(owner, name, report)
    for path in sorted(expression.paths):
        _path(owner, path, entities, report)
    for aggregate in expression.aggregates:
        _aggregate(owner, aggregate, entities, report)


def _value_field(entity: EntitySpec, name: str, report: Report) -> Optional[FieldSpec]:
    f = entity.fields.get(name)
    if f is None:
        report("unknown-field", f"entity '{entity.name}' has no field '{name}'",
               suggest(name, [*entity.fields, *SYSTEM_FIELDS, *BUILTIN_NAMES]))
        return None
    if f.type in NOT_A_VALUE:
        report("bad-ref", f"'{name}' is a {f.type} field: use count({name}) or "
                          f"sum({name}, field) to read it", None)
        return None
    return f


def _path(owner: EntitySpec, path: tuple[str, ...], entities: Mapping[str, EntitySpec],
          report: Report) -> None:
    entity = owner
    for i, hop in enumerate(path[:-1]):
        f = entity.fields.get(hop)
        if f is None:
            report("unknown-field", f"entity '{entity.name}' has no field '{hop}' (in "
                                    f"'{'.'.join(path)}')", suggest(hop, list(entity.fields)))
            return
        if f.type != "link" or f.target not in entities:
            where = ".".join(path[:i + 1])
            report("bad-ref", f"'{where}' is not a link field, so '{'.'.join(path)}' cannot "
                              "follow it", None)
            return
        entity = entities[f.target]
    last = path[-1]
    if last in SYSTEM_FIELDS:
        return
    _value_field(entity, last, report)


def _aggregate(owner: EntitySpec, aggregate: Aggregate, entities: Mapping[str, EntitySpec],
               report: Report) -> None:
    rows = related_rows(owner, aggregate, entities)
    if rows is None:
        _bad_source(owner, aggregate, entities, report)
        return
    source = entities[rows.entity]
    for part in (aggregate.value, aggregate.where):
        if part is not None:
            check_expression(part, source, entities, report)
    value = aggregate.value
    if (aggregate.function in ("sum", "avg") and value is not None and not value.paths
            and len(value.names) == 1 and value.source in value.names):
        f = source.fields.get(value.source)
        if f is not None and f.type not in NUMERIC_TYPES:
            report("bad-ref", f"{aggregate.function}() needs a number, but "
                              f"'{rows.entity}.{value.source}' is a {f.type} field", None)


def _bad_source(owner: EntitySpec, aggregate: Aggregate, entities: Mapping[str, EntitySpec],
                report: Report) -> None:
    text = ".".join(aggregate.source)
    if len(aggregate.source) == 1:
        children = [f.name for f in owner.fields.values() if f.type == "children"]
        report("bad-ref", f"'{text}' is not a children field of '{owner.name}' (write "
                          "entity.link_field for records linking here)", suggest(text, children))
        return
    name, link = aggregate.source
    target = entities.get(name)
    if target is None:
        report("unknown-ref", f"unknown entity '{name}' in '{text}'", suggest(name, entities))
        return
    links = [f.name for f in target.fields.values()
             if f.type == "link" and f.target == owner.name]
    if link not in target.fields:
        report("unknown-field", f"entity '{name}' has no field '{link}'", suggest(link, links))
    else:
        report("bad-ref", f"'{text}' does not link to '{owner.name}'"
               + (f" (its links here: {', '.join(links)})" if links else ""), None)
