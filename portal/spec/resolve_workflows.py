"""Cross-document checks of workflows: their entity, its fields, roles, and duplicates.

Runs after the entities are resolved, against every entity draft that has a usable name, so
that a broken entity never hides a workflow's errors (and the reverse). References to a field
that is broken in its own entity (:meth:`EntityDraft.is_broken`) are not reported again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from types import MappingProxyType

from portal.spec.expression_refs import check_expression
from portal.spec.expressions import BUILTIN_NAMES
from portal.spec.loader import Path
from portal.spec.model import (
    SINCE_ENTERED,
    ActorRule,
    EffectSpec,
    Expression,
    FieldSpec,
    RoleSpec,
    SpecError,
    TransitionSpec,
    ValueRef,
    WorkflowSpec,
)
from portal.spec.report import Reporter, lookup
from portal.spec.reserved import RESERVED_ROLE_NAMES, SYSTEM_FIELDS
from portal.spec.suggest import suggest
from portal.spec.validate import EntityDraft
from portal.spec.workflow_shapes import actor_slot_paths
from portal.spec.workflows import WorkflowDraft

#: System columns that hold a user (usable by ``user``, ``manager_of`` and ``head_of``).
USER_SYSTEM_FIELDS: frozenset[str] = frozenset({"created_by", "updated_by"})
#: Field types a record's own values cannot be (the values live in other tables).
NOT_A_VALUE: frozenset[str] = frozenset({"children", "many"})
#: Field types a timed transition may count its days from.
DATE_TYPES: frozenset[str] = frozenset({"date", "datetime"})
#: System columns a timed transition may count its days from.
TIMESTAMP_SYSTEM_FIELDS: tuple[str, ...] = ("created_at", "updated_at")
#: The field types a dynamic value may be written into.
DYNAMIC_TYPES: Mapping[str, frozenset[str]] = MappingProxyType({
    "current_user": frozenset({"user"}), "today": frozenset({"date", "datetime"}),
    "now": frozenset({"date", "datetime"}),
})


def resolve_workflows(drafts: Iterable[WorkflowDraft], entities: Mapping[str, EntityDraft],
                      roles: Mapping[str, RoleSpec]
                      ) -> tuple[dict[str, WorkflowSpec], list[SpecError]]:
    """Check every workflow against the entities and roles: the workflows by name, and the
    errors found (duplicates are reported at the later document)."""
    errors: list[SpecError] = []
    by_name: dict[str, WorkflowDraft] = {}
    by_entity: dict[str, WorkflowDraft] = {}
    for draft in sorted(drafts, key=lambda d: (d.spec.pos.file, d.spec.pos.line)):
        spec = draft.spec
        rep = Reporter(draft.doc, draft.data)
        first = by_name.get(spec.name)
        other = by_entity.get(spec.entity)
        if first is not None:
            rep.add(("workflow",), "duplicate-workflow",
                    f"duplicate workflow '{spec.name}' (first at {_where(first)})")
        elif other is not None:
            rep.add(("entity",), "duplicate-workflow",
                    f"entity '{spec.entity}' already has workflow '{other.spec.name}' "
                    f"(at {_where(other)})")
        elif spec.name and spec.entity:
            by_name[spec.name] = by_entity[spec.entity] = draft
        _WorkflowResolver(draft, entities, roles, rep).run()
        errors.extend(rep.errors)
    return {name: d.spec for name, d in by_name.items()}, errors


def _where(draft: WorkflowDraft) -> str:
    """``file:line`` of a workflow's name."""
    return str(draft.spec.pos).rsplit(":", 1)[0]


class _WorkflowResolver:
    """Checks one workflow's references; errors go to its document's reporter."""

    def __init__(self, draft: WorkflowDraft, entities: Mapping[str, EntityDraft],
                 roles: Mapping[str, RoleSpec], rep: Reporter) -> None:
        self.draft = draft
        self.spec = draft.spec
        self.entities = entities
        self.roles = roles
        self.rep = rep
        self.entity: EntityDraft | None = None

    def run(self) -> None:
        name = self.spec.entity
        if not name:
            return
        self.entity = self.entities.get(name)
        if self.entity is None:
            self.rep.add(("entity",), "unknown-ref", f"unknown entity '{name}'",
                         suggest(name, self.entities))
            return
        self._state_field()
        for state in self.spec.states.values():
            path: Path = ("states", state.name)
            for key, names in (("required", state.required), ("editable", state.editable)):
                for i, field in enumerate(names or ()):
                    self._field((*path, key, i), field, what=key)
            for effect, epath in zip(state.effects, self.draft.effect_paths[state.name],
                                     strict=True):
                self._effect(epath, effect)
            if state.gate is not None:
                self._condition((*path, "gate", "when"), state.gate)
        for t in self.spec.transitions.values():
            path = ("transitions", t.name)
            if t.by is not None:
                self._actors((*path, "by"), t.by)
            if t.when is not None:
                self._condition((*path, "when"), t.when)
            for name, value in t.values.items():
                self._assign((*path, "set", name), name, value, None)
            if t.after is not None:
                self._since(t)

    # -- fields --------------------------------------------------------------------------------

    def _field(self, path: Path, name: str, *, what: str, entity: EntityDraft | None = None,
               at_key: bool = False, forbid: Iterable[str] = (),
               system: bool = False) -> FieldSpec | None:
        """The field ``name`` of ``entity`` (default: the workflow's), reporting it when
        unknown, of a ``forbid`` type, or a system column where ``system`` is False."""
        draft = entity or self.entity
        assert draft is not None
        if draft.is_broken(name):
            return None
        field = draft.spec.fields.get(name)
        if field is None:
            if name not in SYSTEM_FIELDS:
                message = (f"unknown field '{name}'" if entity is None
                           else f"entity '{draft.spec.name}' has no field '{name}'")
                self.rep.add(path, "unknown-field", message,
                             suggest(name, [*draft.spec.fields, *SYSTEM_FIELDS]), at_key=at_key)
            elif not system:
                self.rep.add(path, "bad-ref", f"{what} cannot use system field '{name}'",
                             at_key=at_key)
            return None
        if field.type in set(forbid):
            self.rep.add(path, "bad-ref",
                         f"{what} cannot use field '{name}' of type '{field.type}'",
                         at_key=at_key)
        return field

    def _state_field(self) -> None:
        name = self.spec.state_field
        if not name:
            return
        field = self._field(("state_field",), name, what="state_field")
        if field is None:
            return
        if field.type != "enum":
            self.rep.add(("state_field",), "bad-ref",
                         f"state_field must be an enum field, '{name}' is of type "
                         f"'{field.type}'")
            return
        if not self.spec.states:  # reported as a workflow without states
            return
        values = list(field.values)
        missing = [s for s in self.spec.states if s not in values]
        extra = [v for v in values if v not in self.spec.states]
        if missing or extra:
            parts = []
            if missing:
                parts.append("states not in the enum: " + ", ".join(f"'{s}'" for s in missing))
            if extra:
                parts.append("enum values that are not states: "
                             + ", ".join(f"'{v}'" for v in extra))
            self.rep.add(("state_field",), "state-mismatch",
                         f"the values of enum '{name}' must be exactly the states; "
                         + "; ".join(parts))

    def _condition(self, path: Path, condition: Expression) -> None:
        """Check the fields, link paths and related-record functions ``condition`` reads."""
        assert self.entity is not None
        entities = {n: d.spec for n, d in self.entities.items()}
        check_expression(replace(condition, names=frozenset()), self.entity.spec, entities,
                         lambda code, message, hint: self.rep.add(path, code, message, hint))
        for name in sorted(condition.names):
            if name in BUILTIN_NAMES or self.entity.is_broken(name) or name in SYSTEM_FIELDS:
                continue
            field = self.entity.spec.fields.get(name)
            if field is None:
                choices = [*self.entity.spec.fields, *SYSTEM_FIELDS, *BUILTIN_NAMES]
                self.rep.add(path, "unknown-field", f"unknown field '{name}' in condition",
                             suggest(name, choices))
            elif field.type in NOT_A_VALUE:
                self.rep.add(path, "bad-ref", f"a condition cannot use field '{name}' of type "
                                              f"'{field.type}' (count({name}) or "
                                              f"sum({name}, field) read it)")

    def _since(self, transition: TransitionSpec) -> None:
        """``after.since`` is a date or datetime field, created_at, updated_at or entered."""
        assert self.entity is not None and transition.after is not None
        name = transition.after.since
        path: Path = ("transitions", transition.name, "after", "since")
        if name == SINCE_ENTERED or name in TIMESTAMP_SYSTEM_FIELDS or self.entity.is_broken(
                name):
            return
        field = self.entity.spec.fields.get(name)
        choices = [*(n for n, f in self.entity.spec.fields.items() if f.type in DATE_TYPES),
                   *TIMESTAMP_SYSTEM_FIELDS, SINCE_ENTERED]
        if field is None:
            self.rep.add(path, "unknown-field",
                         f"unknown field '{name}' (since is a date or datetime field, "
                         f"{', '.join(TIMESTAMP_SYSTEM_FIELDS)} or {SINCE_ENTERED})",
                         suggest(name, choices))
        elif field.type not in DATE_TYPES:
            self.rep.add(path, "bad-ref", f"since needs a date or datetime field, '{name}' is "
                                          f"of type '{field.type}'")

    # -- actors --------------------------------------------------------------------------------

    def _actors(self, path: Path, rule: ActorRule) -> None:
        raw = lookup(self.draft.data, path)
        for slot, slot_path in zip(rule.slots, actor_slot_paths(raw, path), strict=True):
            if slot.value is None:
                continue
            if slot.kind == "role":
                self._role(slot_path, slot.value)
            elif not (slot.kind in ("manager_of", "head_of") and slot.value == "owner"):
                self._user_field(slot_path, slot.kind, slot.value)

    def _role(self, path: Path, role: str) -> None:
        if role.lower() in RESERVED_ROLE_NAMES:
            self.rep.add(path, "reserved-name", f"role '{role}' is built in; name a role "
                                                "declared in roles.yaml")
        elif role not in self.roles:
            self.rep.add(path, "unknown-ref", f"unknown role '{role}'", suggest(role, self.roles))

    def _user_field(self, path: Path, kind: str, name: str) -> None:
        assert self.entity is not None
        if name in USER_SYSTEM_FIELDS:
            return
        field = self._field(path, name, what=kind)
        if field is not None and field.type != "user":
            self.rep.add(path, "bad-ref", f"{kind} needs a user field, '{name}' is of type "
                                          f"'{field.type}'")

    # -- effects -------------------------------------------------------------------------------

    def _effect(self, path: Path, effect: EffectSpec) -> None:
        if effect.when is not None:
            self._condition((*path, "when"), effect.when)
        if effect.kind == "notify" and effect.notify is not None:
            self._actors((*path, "notify"), effect.notify)
            return
        if effect.kind == "set":
            for name, value in effect.values.items():
                self._assign((*path, "set", name), name, value, None)
            return
        if effect.kind == "assign":
            self._assign_effect((*path, "assign"), effect)
            return
        target_name = effect.entity or ""
        if effect.into is not None:
            self._into((*path, "create", "into"), effect.into, target_name)
        target = self.entities.get(target_name)
        if target is None:
            self.rep.add((*path, "create", "entity"), "unknown-ref",
                         f"unknown entity '{target_name}'", suggest(target_name, self.entities))
            for name, value in effect.values.items():  # the values still read this record
                self._value((*path, "create", "values", name), value)
            return
        for name, value in effect.values.items():
            self._assign((*path, "create", "values", name), name, value, target)
        # A created record must be complete: the engine would fail at run time instead.
        missing = [f.name for f in target.spec.fields.values()
                   if f.required and f.default is None and f.name not in effect.values
                   and f.type not in {"number", "children", "many"}
                   and not target.is_broken(f.name)]
        if missing:
            self.rep.add((*path, "create", "entity"), "missing-value",
                         f"creating '{target_name}' needs a value for its required "
                         f"field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")

    def _into(self, path: Path, name: str, target: str) -> None:
        """``create.into`` is a link field of this record to the created entity."""
        field = self._field(path, name, what="into")
        if field is None:
            return
        if field.type != "link":
            self.rep.add(path, "bad-ref", f"into needs a link field, '{name}' is of type "
                                          f"'{field.type}'")
        elif target and target in self.entities and field.target != target:
            self.rep.add(path, "bad-ref", f"into needs a link to '{target}', '{name}' links "
                                          f"to '{field.target}'")

    def _assign_effect(self, path: Path, effect: EffectSpec) -> None:
        """``assign.field`` is a user field of this record; ``assign.to`` names people."""
        name = effect.assign_field or ""
        field = self._field((*path, "field"), name, what="assign")
        if field is not None and field.type != "user":
            self.rep.add((*path, "field"), "bad-ref", f"assign needs a user field, '{name}' "
                                                      f"is of type '{field.type}'")
        if effect.assign_to is not None:
            self._actors((*path, "to"), effect.assign_to)

    def _assign(self, path: Path, name: str, value: ValueRef,
                target: EntityDraft | None) -> None:
        """``name: value`` in ``set`` (``target`` None: this record) or ``create``."""
        what = "set" if target is None else "create"
        field = self._field(path, name, what=what, entity=target, at_key=True,
                            forbid=NOT_A_VALUE)
        if target is None and name == self.spec.state_field:
            self.rep.add(path, "bad-ref", f"the state field '{name}' is changed by "
                                          "transitions, not by set", at_key=True)
        self._value(path, value)
        if field is None or field.type in NOT_A_VALUE:
            return
        if value.dynamic is not None and field.type not in DYNAMIC_TYPES[value.dynamic]:
            self.rep.add(path, "bad-value", f"'{value.dynamic}' cannot be written to field "
                                            f"'{name}' of type '{field.type}'")
        if field.type == "enum" and value.literal is not None:
            text = self.draft.doc.raw_text(path) or str(value.literal)  # yes stays 'yes'
            if text not in field.values:
                self.rep.add(path, "bad-value", f"'{text}' is not a value of enum '{name}'",
                             suggest(text, field.values))

    def _value(self, path: Path, value: ValueRef) -> None:
        """A ``$field`` value reads a field of this workflow's record."""
        if value.field is not None:
            self._field(path, value.field, what="a value", forbid=NOT_A_VALUE, system=True)

