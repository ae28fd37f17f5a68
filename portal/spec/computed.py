"""The ``computed`` entity feature: fields whose stored value is a formula over the record,
its linked records and related rows, kept up to date by the portal.

::

    entity: contract
    fields:
      amount:      {type: money}
      received:    {type: money, label: {zh_CN: 已收金额}}
      outstanding: {type: money}
    computed:
      received: "sum(receipt.contract, amount)"      # receipts linking to this contract
      outstanding: "amount - received"

The fields themselves are ordinary fields under ``fields:`` (real columns: lists, filters and
reports group and sum them like any other); ``computed`` maps some of them to a formula in the
expression language (:mod:`portal.spec.expressions`). They are read-only: no form, API call,
import or workflow effect sets them, and the portal recomputes them whenever what they read
changes (``portal.engines.computed``).

Errors: ``unknown-field`` (no such field), ``bad-ref`` (a field that cannot hold a formula's
value: a link, user, file, number, children or many field, or the workflow's state field),
``computed-conflict`` (also required, unique, defaulted, or set by a workflow effect),
``bad-expression``, the reference errors of any expression, ``bad-type`` (the formula gives a
kind of value the field cannot store: a count into a string field) and ``cycle`` (computed
fields reading each other, in one entity or across entities).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from types import MappingProxyType
from typing import Any, Optional

from portal.spec.computed_reads import (
    Node,
    Read,
    cycle_text,
    dependencies,
    find_cycles,
    reads_of,
)
from portal.spec.expression_refs import check_expression
from portal.spec.expressions import ExpressionError, parse
from portal.spec.features import Feature
from portal.spec.loader import Path
from portal.spec.model import EntitySpec, Expression, Registry, SourcePos, SpecError
from portal.spec.report import Reporter
from portal.spec.schemas import describe
from portal.spec.suggest import suggest
from portal.spec.value_kinds import KIND_TEXT, fits, value_kind

KEY = "computed"
#: Field types a formula cannot fill: relations, files, users and numbers are chosen by a
#: person or generated, not calculated.
NOT_COMPUTABLE: frozenset[str] = frozenset({"children", "many", "file", "number", "user",
                                            "link"})


@dataclass(frozen=True)
class ComputedField:
    """One computed field: its formula and what the formula reads."""

    name: str
    expression: Expression
    pos: SourcePos
    reads: tuple[Read, ...] = ()

    def refusal(self) -> str:
        """What a user who tries to set the field is told."""
        return f"'{self.name}' is computed from {self.expression.source} and cannot be set"


@dataclass(frozen=True)
class ComputedSpec:
    """The computed fields of an entity, each after the ones of the entity it reads (so one
    pass over a record in this order settles them all)."""

    entity: str
    fields: Mapping[str, ComputedField] = field(default_factory=lambda: MappingProxyType({}))


def computed_of(registry: Registry, entity: str) -> Mapping[str, ComputedField]:
    """The computed fields of ``entity`` by name (empty when it has none)."""
    spec: Optional[ComputedSpec] = registry.feature(KEY, entity)
    return spec.fields if spec is not None else MappingProxyType({})


def formulas(registry: Registry) -> Mapping[str, Mapping[str, str]]:
    """Entity -> computed field -> its formula's text, for every entity (what imports and
    other writers must leave alone)."""
    return MappingProxyType({
        name: MappingProxyType({f: c.expression.source for f, c in spec.fields.items()})
        for name, spec in registry.features.get(KEY, {}).items()})


def check(entity: EntitySpec, value: Any, rep: Reporter, registry: Registry
          ) -> Optional[ComputedSpec]:
    """Compile the ``computed`` mapping of ``entity``."""
    if not isinstance(value, dict) or not value:
        rep.add((KEY,), "bad-value", f"expected a mapping of field name to formula, got "
                                     f"{describe(value)}")
        return None
    before = len(rep.errors)
    found: dict[str, ComputedField] = {}
    for name, raw in value.items():
        one = _one(entity, name, raw, (KEY, name), rep, registry)
        if one is not None:
            found[name] = one
    ordered = _in_order(entity, found, rep)
    if len(rep.errors) > before or ordered is None:
        return None
    return ComputedSpec(entity.name, MappingProxyType({n: found[n] for n in ordered}))


def _one(entity: EntitySpec, name: Any, raw: Any, path: Path, rep: Reporter,
         registry: Registry) -> Optional[ComputedField]:
    f = entity.fields.get(name) if isinstance(name, str) else None
    if f is None:
        rep.add(path, "unknown-field", f"unknown field {describe(name)} of '{entity.name}' "
                                       "(declare it under fields, then give its formula here)",
                suggest(str(name), entity.fields), at_key=True)
        return None
    if f.type in NOT_COMPUTABLE:
        rep.add(path, "bad-ref", f"'{name}' is a {f.type} field; a formula can fill an int, "
                                 "decimal, money, text, bool, date or enum field", at_key=True)
        return None
    if not _settable(entity, name, path, rep, registry):
        return None
    if not isinstance(raw, str) or not raw.strip():
        rep.add(path, "bad-value", f"expected a formula such as \"amount - received\", got "
                                   f"{describe(raw)}")
        return None
    try:
        expression = parse(raw)
    except ExpressionError as exc:
        rep.add(path, "bad-expression", str(exc))
        return None
    before = len(rep.errors)
    check_expression(expression, entity, registry.entities,
                     lambda code, message, hint: rep.add(path, code, message, hint))
    if len(rep.errors) > before:
        return None
    kind = value_kind(expression, entity, registry.entities)
    if not fits(kind, f.type):
        rep.add(path, "bad-type", f"'{expression.source}' gives {KIND_TEXT.get(kind, kind)}, "
                                  f"which the {f.type} field '{name}' cannot store")
        return None
    return ComputedField(name, expression, rep.doc.pos(path),
                         reads_of(expression, entity, registry.entities))


def _settable(entity: EntitySpec, name: str, path: Path, rep: Reporter,
              registry: Registry) -> bool:
    """False (after reporting why) when something else gives the field its value."""
    f = entity.fields[name]
    flow = registry.workflow_of(entity.name)
    if flow is not None and flow.state_field == name:
        rep.add(path, "bad-ref", f"'{name}' is the state field of workflow '{flow.name}'; "
                                 "only its transitions move it", at_key=True)
        return False
    for option, present in (("required", f.required), ("unique", f.unique),
                            ("a default", f.default is not None)):
        if present:
            what = option if option == "a default" else f"{option}: true"
            rep.add(path, "computed-conflict", f"'{name}' is computed, so it cannot also have "
                                               f"{what} (the formula gives its value)",
                    at_key=True)
            return False
    for workflow in registry.workflows.values():
        for state in workflow.states.values():
            for effect in state.effects:
                target = entity.name if effect.kind == "set" and workflow.entity == entity.name \
                    else effect.entity if effect.kind == "create" else None
                if target == entity.name and name in effect.values:
                    rep.add(path, "computed-conflict",
                            f"'{name}' is computed, but workflow '{workflow.name}' "
                            f"{effect.kind}s it on entering '{state.name}' ({effect.pos}); "
                            "remove it from the effect", at_key=True)
                    return False
    return True


def _in_order(entity: EntitySpec, found: Mapping[str, ComputedField], rep: Reporter
              ) -> Optional[list[str]]:
    """The computed fields in an order where each comes after those of the entity it reads
    on the record itself; None after reporting a cycle."""
    edges: dict[Node, list[Node]] = {}
    for name, one in found.items():
        own = [r for r in one.reads if r.is_own]
        edges[(entity.name, name)] = [node for node, _ in
                                      dependencies(own, {entity.name: found})]
    cycles = find_cycles(edges)
    for cycle in cycles:
        rep.add((KEY, cycle[0][1]), "cycle", f"computed fields read each other in a cycle "
                                             f"({cycle_text(cycle)}); their values could never "
                                             "settle", at_key=True)
    if cycles:
        return None
    order = TopologicalSorter({node: edges[node] for node in edges}).static_order()
    return [name for _, name in order]


def across(specs: Mapping[str, ComputedSpec]) -> list[SpecError]:
    """Cycles through other entities: a computed field that, through aggregates and link
    paths, ends up reading itself (``contract.received`` from receipts whose ``amount`` is
    computed from the contract's ``received``)."""
    computed = {name: spec.fields for name, spec in specs.items()}
    edges: dict[Node, list[Node]] = {}
    own_step: dict[tuple[Node, Node], bool] = {}  # whether a step is a read of the record
    for name, spec in specs.items():
        for one in spec.fields.values():
            node = (name, one.name)
            for target, read in dependencies(one.reads, computed):
                edges.setdefault(node, []).append(target)
                own_step[(node, target)] = own_step.get((node, target), False) or read.is_own
    errors = []
    for cycle in find_cycles(edges):
        if all(own_step[step] for step in zip(cycle[:-1], cycle[1:], strict=True)):
            continue  # inside one entity: reported where that entity is compiled
        entity, name = cycle[0]
        pos = computed[entity][name].pos
        errors.append(SpecError(pos.file, pos.line, pos.col, f"{KEY}.{name}",
                                f"computed fields read each other in a cycle across entities "
                                f"({cycle_text(cycle)}); their values could never settle",
                                "cycle"))
    return errors


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``computed`` for editors."""
    return {
        "type": "object", "minProperties": 1, "propertyNames": {"$ref": "#/$defs/name"},
        "additionalProperties": {
            "type": "string", "minLength": 1,
            "description": "A formula over the record's fields, linked records "
                           "(customer.grade) and related rows (sum(receipt.contract, "
                           "amount)); the field is read-only and kept up to date.",
        },
    }


FEATURE = Feature(key=KEY, check=check, json_schema=json_schema,
                  description="Fields whose stored value is a formula, recomputed whenever "
                              "what it reads changes (read-only on forms, API and imports).",
                  across=across)
