"""What a formula reads, as data: which fields of which entity, reached how from the record.

A computed field must be recomputed when something it reads changes. For
``sum(receipt.contract, amount)`` on a contract that is the ``contract`` and ``amount`` of
receipts whose ``contract`` points at it; for ``customer.region.name`` it is the contract's
``customer``, that customer's ``region`` and that region's ``name``. Each is a :class:`Read`:
the rows of ``entity`` reached from the record by ``back`` (the rows of an aggregate) and
then ``hops`` (link fields followed forward). Walking a read backwards from a changed row
finds the records to recompute (``portal.engines.computed``); following reads from computed
field to computed field finds cycles (:func:`find_cycles`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Optional

from portal.spec.expression_refs import related_rows
from portal.spec.expressions import BUILTIN_NAMES
from portal.spec.model import EntitySpec, Expression

#: One step forward along a link: (entity holding the link field, the link field).
Hop = tuple[str, str]
#: A computed field: (entity, field).
Node = tuple[str, str]


@dataclass(frozen=True)
class Read:
    """``fields`` of the rows of ``entity`` that a formula reads.

    From the record, take the rows of ``back`` (an entity and its link field pointing at the
    record: the rows of an aggregate), or the record itself when ``back`` is None; then
    follow ``hops`` forward. ``Read("contract", {"amount"})`` is the record's own field."""

    entity: str
    fields: frozenset[str]
    back: Optional[Hop] = None
    hops: tuple[Hop, ...] = ()

    @property
    def is_own(self) -> bool:
        """True when the read is of the record's own fields."""
        return self.back is None and not self.hops


def reads_of(expression: Expression, owner: EntitySpec,
             entities: Mapping[str, EntitySpec]) -> tuple[Read, ...]:
    """Everything ``expression`` reads on a record of ``owner``, merged by route. The
    expression's references must have been checked (``check_expression``)."""
    found: dict[tuple[str, Optional[Hop], tuple[Hop, ...]], set[str]] = {}
    _collect(expression, owner, entities, None, found)
    for aggregate in expression.aggregates:
        rows = related_rows(owner, aggregate, entities)
        if rows is None:
            continue
        back = (rows.entity, rows.link)
        found.setdefault((rows.entity, back, ()), set()).add(rows.link)
        for part in (aggregate.value, aggregate.where):
            if part is not None:
                _collect(part, entities[rows.entity], entities, back, found)
    return tuple(Read(entity, frozenset(fields), back, hops)
                 for (entity, back, hops), fields in found.items() if fields)


def _collect(expression: Expression, start: EntitySpec, entities: Mapping[str, EntitySpec],
             back: Optional[Hop],
             found: dict[tuple[str, Optional[Hop], tuple[Hop, ...]], set[str]]) -> None:
    """The own names and link paths of ``expression`` evaluated on rows of ``start``."""
    own = found.setdefault((start.name, back, ()), set())
    own.update(n for n in expression.names if n not in BUILTIN_NAMES)
    for path in expression.paths:
        entity, hops = start, []
        for hop in path[:-1]:
            found.setdefault((entity.name, back, tuple(hops)), set()).add(hop)
            hops.append((entity.name, hop))
            entity = entities[entity.fields[hop].target or ""]
        found.setdefault((entity.name, back, tuple(hops)), set()).add(path[-1])


def dependencies(reads: Iterable[Read], computed: Mapping[str, Iterable[str]]
                 ) -> list[tuple[Node, Read]]:
    """The computed fields among ``reads`` (``computed``: entity -> its computed fields),
    each with the read that reaches it."""
    found = []
    for read in reads:
        names = set(computed.get(read.entity, ()))
        found.extend(((read.entity, name), read) for name in sorted(read.fields & names))
    return found


def find_cycles(edges: Mapping[Node, Sequence[Node]]) -> list[list[Node]]:
    """Every cycle of the graph ``edges`` (node -> the nodes it reads), once each, as the
    nodes along it from its smallest node, the first node repeated at the end."""
    cycles: list[list[Node]] = []
    seen: set[frozenset[Node]] = set()
    done: set[Node] = set()

    def visit(node: Node, trail: list[Node]) -> None:
        if node in trail:
            cycle = trail[trail.index(node):]
            key = frozenset(cycle)
            if key not in seen:
                seen.add(key)
                start = cycle.index(min(cycle))
                ordered = cycle[start:] + cycle[:start]
                cycles.append(ordered + [ordered[0]])
            return
        if node in done:
            return
        trail.append(node)
        for nxt in edges.get(node, ()):
            visit(nxt, trail)
        trail.pop()
        done.add(node)

    for node in sorted(edges):
        visit(node, [])
    return cycles


def cycle_text(cycle: Sequence[Node]) -> str:
    """``contract.a -> contract.b -> contract.a``."""
    return " -> ".join(f"{entity}.{name}" for entity, name in cycle)
