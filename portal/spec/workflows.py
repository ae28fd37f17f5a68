"""Validating one workflow document into a :class:`WorkflowSpec` draft.

Checked here, from the document alone: its shape (:mod:`portal.spec.workflow_shapes`), the
names of the workflow, its states and transitions, references to states (``initial``,
``from``, ``to``, ``locked_in``), that every state can be reached, that automatic transitions
have a condition, that timed ones (``after``) are nobody's to perform, that ``approver``
names someone and that ``assign`` picks one person. What needs the entity or the roles is
checked by :mod:`portal.spec.resolve_workflows`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from marshmallow import ValidationError

from portal.spec.labels import humanize, make_label
from portal.spec.loader import Document, Path
from portal.spec.model import (
    EFFECT_KINDS,
    SINCE_ENTERED,
    ActorRule,
    EffectSpec,
    SpecError,
    StateSpec,
    TimerSpec,
    TransitionSpec,
    WorkflowSpec,
)
from portal.spec.report import Reporter
from portal.spec.schemas import Issue, describe, load_shape
from portal.spec.suggest import suggest
from portal.spec.validate import name_problem
from portal.spec.workflow_shapes import EffectSchema, WorkflowSchema

#: Actors that name nobody by themselves: ``approver`` needs another transition's actor.
_UNNAMED = frozenset({"owner", "approver"})
#: Options of a transition that only make sense when a person performs it.
_PERSONAL_OPTIONS: tuple[str, ...] = ("by", "comment", "self_approval")
#: Groups of actors ``assign`` cannot pick one person from.
_NOT_ONE_OF = ("all", "quorum")


@dataclass(frozen=True)
class WorkflowDraft:
    """A workflow checked alone, with its document for positions in later errors.

    ``data`` is the document's data with ``states`` expanded to a mapping; ``effect_paths``
    gives the path of each effect of each state (effects whose shape is wrong are left out of
    the spec, so their indexes would not match).
    """

    spec: WorkflowSpec
    doc: Document
    data: Any
    effect_paths: MappingProxyType[str, tuple[Path, ...]]


def validate_workflow(doc: Document, *, shape: WorkflowSchema | None = None
                      ) -> tuple[WorkflowDraft | None, list[SpecError]]:
    """Check one workflow document. ``shape`` is a ``WorkflowSchema`` to reuse across
    documents. The draft is ``None`` only when the document is not a mapping."""
    doc, data, problems = _expand_states(doc)
    rep = Reporter(doc, data)
    for path, code, message in problems:
        rep.add(path, code, message)
    valid, issues = load_shape(shape or WorkflowSchema(), data)
    rep.issues(issues)
    if not isinstance(data, dict):
        return None, rep.errors
    return _Builder(rep, data, valid, issues).build(), rep.errors


def _expand_states(doc: Document) -> tuple[Document, Any, list[tuple[Path, str, str]]]:
    """``states: [a, b]`` -> ``states: {a: {}, b: {}}`` and ``a: null`` -> ``a: {}``, keeping
    positions (a listed name's key position is the item's)."""
    data = doc.data
    if not isinstance(data, dict):
        return doc, data, []
    states = data.get("states")
    problems: list[tuple[Path, str, str]] = []
    if isinstance(states, dict):
        expanded = {k: {} if v is None else v for k, v in states.items()}
        return doc, {**data, "states": expanded}, problems
    if not isinstance(states, list):
        return doc, data, problems
    key_pos, value_pos = dict(doc.key_pos), dict(doc.value_pos)
    mapping: dict[str, Any] = {}
    for i, item in enumerate(states):
        path: Path = ("states", i)
        if not isinstance(item, str) or not item:
            problems.append((path, "bad-value", f"expected a state name, got {describe(item)}"))
        elif item in mapping:
            first = key_pos[("states", item)].line
            problems.append((path, "duplicate-key",
                             f"duplicate state '{item}' (first at line {first})"))
        else:
            mapping[item] = {}
            key_pos[("states", item)] = value_pos[("states", item)] = doc.value_pos[path]
    return (replace(doc, key_pos=key_pos, value_pos=value_pos), {**data, "states": mapping},
            problems)


class _Builder:
    """Builds one workflow's spec from its valid data; every problem goes to ``rep``."""

    def __init__(self, rep: Reporter, data: dict[str, Any], valid: dict[str, Any],
                 issues: list[tuple[Path, Issue]]) -> None:
        self.rep = rep
        self.data = data
        self.valid = valid
        #: ``(section,)`` or ``(section, name)`` of each state or transition with a shape issue
        self.broken = {p[:2] for p, _ in issues}
        self.issue_paths = [p for p, _ in issues]
        #: Transitions left out of the spec: their ``from`` or ``to`` is missing or unknown.
        self.unrouted: set[str] = set()
        states = valid.get("states")
        self.states: dict[str, Any] = states if isinstance(states, dict) else {}
        self.effect_paths: dict[str, tuple[Path, ...]] = {}
        self.effect_shape: EffectSchema | None = None

    def build(self) -> WorkflowDraft:
        name = self.valid.get("workflow") or ""
        if name and (problem := name_problem("workflow", name)):
            self.rep.add(("workflow",), "bad-name", problem)
        for state in self.states:
            self._name(("states", state), "state", state)
        raw_states = self.data.get("states")
        if isinstance(raw_states, (dict, list)) and not raw_states:
            self.rep.add(("states",), "bad-value", "a workflow needs at least one state")
        initial = self._initial()
        transitions = self._transitions()
        locked_in = self._locked_in()
        states = {s: self._state(s, opts, s in locked_in) for s, opts in self.states.items()}
        self._reachable(initial, transitions)
        self._approvers(states, transitions)
        doc = self.rep.doc
        spec = WorkflowSpec(
            name=name, entity=self.valid.get("entity") or "", pos=doc.pos(("workflow",)),
            state_field=self.valid.get("state_field") or "",
            states=MappingProxyType(states), transitions=MappingProxyType(transitions),
            initial=initial or "", label=make_label(self.valid.get("label"), humanize(name)),
        )
        return WorkflowDraft(spec, doc, self.data, MappingProxyType(self.effect_paths))

    def _name(self, path: Path, kind: str, name: str) -> None:
        problem = name_problem(kind, name)
        if problem:
            self.rep.add(path, "bad-name", problem, at_key=True)

    def _state_ref(self, path: Path, name: str) -> bool:
        """True when ``name`` is a state; else report it (unless the states are broken)."""
        if name in self.states:
            return True
        if ("states",) not in self.broken:
            self.rep.add(path, "unknown-ref", f"unknown state '{name}'",
                         suggest(name, self.states))
        return False

    def _initial(self) -> str | None:
        initial = self.valid.get("initial")
        if initial is None:
            return next(iter(self.states), None)
        return initial if self._state_ref(("initial",), initial) else None

    def _locked_in(self) -> set[str]:
        names = self.valid.get("locked_in") or []
        return {n for i, n in enumerate(names) if self._state_ref(("locked_in", i), n)}

    # -- transitions ---------------------------------------------------------------------------

    def _transitions(self) -> dict[str, TransitionSpec]:
        """Every transition whose ``from`` and ``to`` name known states (the others are
        recorded in ``unrouted``)."""
        found = self.valid.get("transitions")
        out: dict[str, TransitionSpec] = {}
        for name, opts in (found if isinstance(found, dict) else {}).items():
            path: Path = ("transitions", name)
            self._name(path, "transition", name)
            raw = self.data["transitions"].get(name)
            if not isinstance(raw, dict):
                self.unrouted.add(name)
                continue
            if "after" in raw:
                self._timed(path, raw)
            elif "by" not in raw and "when" not in raw:
                self.rep.add(path, "missing-key", "an automatic transition needs 'when'")
            sources = opts.get("from", ())
            source_paths = ([(*path, "from")] if isinstance(raw.get("from"), str)
                            else [(*path, "from", i) for i in range(len(sources))])
            known = [self._state_ref(p, s) for p, s in zip(source_paths, sources, strict=True)]
            target = opts.get("to")
            if target is not None and not self._state_ref((*path, "to"), target):
                target = None
            if not sources or not all(known) or target is None:
                self.unrouted.add(name)
                continue
            out[name] = TransitionSpec(
                name=name, pos=self.rep.doc.pos(path, key=True), sources=tuple(sources),
                target=target, label=make_label(opts.get("label"), humanize(name)),
                by=opts.get("by"), when=opts.get("when"),
                comment_required=opts.get("comment", False),
                self_approval=opts.get("self_approval", False),
                after=self._timer(opts.get("after")),
                values=MappingProxyType(opts.get("set", {})),
            )
        return out

    def _timed(self, path: Path, raw: dict[str, Any]) -> None:
        """A timed transition is performed by the system: no one acts, comments or is the
        current user."""
        for key in _PERSONAL_OPTIONS:
            if key in raw:
                self.rep.add((*path, key), "option-not-allowed",
                             f"a timed transition ('after') is performed by the system when "
                             f"it is due; it takes no '{key}'", at_key=True)
        values = raw.get("set")
        for name, value in (values.items() if isinstance(values, dict) else ()):
            if value == "current_user":
                self.rep.add((*path, "set", name), "bad-value",
                             "a timed transition is performed by the system: there is no "
                             "current_user to write")

    @staticmethod
    def _timer(after: Any) -> TimerSpec | None:
        if not isinstance(after, dict) or "days" not in after:
            return None
        return TimerSpec(days=after["days"], since=after.get("since", SINCE_ENTERED))

    def _reachable(self, initial: str | None, transitions: dict[str, TransitionSpec]) -> None:
        """Report states that no chain of transitions leads to from ``initial``. Skipped when
        a transition's ``from`` or ``to`` is wrong: a typo in one ``to`` would otherwise make
        its intended target look unreachable too."""
        if initial is None or self.unrouted or ("transitions",) in self.broken:
            return
        seen, todo = {initial}, [initial]
        while todo:
            state = todo.pop()
            for t in transitions.values():
                if state in t.sources and t.target not in seen:
                    seen.add(t.target)
                    todo.append(t.target)
        for state in self.states:
            if state not in seen:
                self.rep.add(("states", state), "unreachable-state",
                             f"state '{state}' cannot be reached from '{initial}'", at_key=True)

    def _approvers(self, states: dict[str, StateSpec],
                   transitions: dict[str, TransitionSpec]) -> None:
        """``approver`` means whoever may perform another transition out of the same state:
        report it where no such transition names someone (a role, a user, a manager...).
        Skipped when any transition is broken (its ``by`` might be the one that names)."""
        if self.unrouted or any(p[:1] == ("transitions",) for p in self.broken):
            return
        for t in transitions.values():
            if t.by is None or not _has_approver(t.by):
                continue
            lacking = [s for s in t.sources if not _named_elsewhere(transitions, s, t.name)]
            if lacking:
                where = " or ".join(f"'{s}'" for s in lacking)
                self.rep.add(("transitions", t.name, "by"), "no-actor",
                             f"no one can perform '{t.name}': no other transition out of "
                             f"{where} names an approver")
        for state in states.values():
            for effect, path in zip(state.effects, self.effect_paths[state.name], strict=True):
                if (effect.notify is not None and _has_approver(effect.notify)
                        and not _named_elsewhere(transitions, state.name, None)):
                    self.rep.add((*path, "notify"), "no-actor",
                                 f"no one to notify: no transition out of '{state.name}' "
                                 "names an approver")

    # -- states --------------------------------------------------------------------------------

    def _state(self, name: str, opts: dict[str, Any], locked_in: bool) -> StateSpec:
        path: Path = ("states", name)
        locked = opts.get("locked", False) or locked_in
        editable = opts.get("editable")
        if locked and editable is not None:
            self.rep.add((*path, "editable"), "bad-value",
                         f"state '{name}' is locked: nothing is editable in it")
        return StateSpec(
            name=name, pos=self.rep.doc.pos(path, key=True),
            label=make_label(opts.get("label"), humanize(name)),
            required=tuple(opts.get("required", ())),
            editable=None if editable is None else tuple(editable), locked=locked,
            effects=self._effects(name),
            gate=(opts.get("gate") or {}).get("when"),
            gate_message=make_label((opts.get("gate") or {}).get("message"), ""),
        )

    def _effects(self, state: str) -> tuple[EffectSpec, ...]:
        options = self.data["states"][state]
        raw = options.get("effects") if isinstance(options, dict) else None
        effects: list[EffectSpec] = []
        paths: list[Path] = []
        for i, item in enumerate(raw if isinstance(raw, list) else []):
            path: Path = ("states", state, "effects", i)
            if any(p[:len(path)] == path for p in self.issue_paths) or not isinstance(item, dict):
                continue
            effect = self._effect(path, item)
            if effect is not None:
                effects.append(effect)
                paths.append(path)
        self.effect_paths[state] = tuple(paths)
        return tuple(effects)

    def _effect(self, path: Path, item: dict[str, Any]) -> EffectSpec | None:
        kinds = [k for k in EFFECT_KINDS if k in item]
        if len(kinds) != 1:
            if kinds:
                self.rep.add(path, "bad-value", f"an effect does one thing, got "
                             f"{' and '.join(kinds)}; write one item for each")
            else:
                self.rep.add(path, "missing-key", "an effect needs one of set, notify, create "
                                                  "or assign")
            return None
        if "message" in item and kinds != ["notify"]:
            self.rep.add((*path, "message"), "option-not-allowed",
                         "option 'message' applies only to notify", at_key=True)
        if self.effect_shape is None:
            self.effect_shape = EffectSchema()
        try:  # its shape was checked with the document's; loaded again for the spec objects
            loaded = self.effect_shape.load(item)
        except ValidationError:  # pragma: no cover - cannot happen after the shape check
            return None
        kind = kinds[0]
        pos = self.rep.doc.pos(path)
        when = loaded.get("when")
        if kind == "set":
            return EffectSpec(kind, pos, values=MappingProxyType(loaded["set"]), when=when)
        if kind == "notify":
            return EffectSpec(kind, pos, notify=loaded["notify"],
                              message=make_label(loaded.get("message")), when=when)
        if kind == "assign":
            assign = loaded["assign"]
            self._one_person((*path, "assign", "to"), item["assign"]["to"], assign["to"])
            return EffectSpec(kind, pos, assign_field=assign["field"], assign_to=assign["to"],
                              when=when)
        create = loaded["create"]
        return EffectSpec(kind, pos, entity=create["entity"],
                          values=MappingProxyType(create.get("values", {})),
                          into=create.get("into"), when=when)

    def _one_person(self, path: Path, raw: Any, rule: ActorRule) -> None:
        """``assign.to`` picks one person: a role, a user field, a manager, a head, or any of
        them; not the record's owner or approver, nor a countersign group."""
        group = next((k for k in _NOT_ONE_OF if isinstance(raw, dict) and k in raw), None)
        if group is not None:
            self.rep.add((*path, group), "bad-value",
                         f"assign gives the record to one person; '{group}' needs several "
                         "(use a role, user, manager_of, head_of or any: [...])", at_key=True)
            return
        for slot in rule.slots:
            if slot.kind in _UNNAMED:
                self.rep.add(path, "bad-value",
                             f"assign cannot give the record to '{slot.kind}' (use a role, "
                             "user, manager_of, head_of or any: [...])")


def _has_approver(rule: ActorRule) -> bool:
    return any(slot.kind == "approver" for slot in rule.slots)


def _named_elsewhere(transitions: dict[str, TransitionSpec], state: str,
                     besides: str | None) -> bool:
    """True when a transition out of ``state`` (other than ``besides``) names an actor that
    is not just ``owner`` or ``approver``."""
    return any(t.by is not None and any(s.kind not in _UNNAMED for s in t.by.slots)
               for t in transitions.values() if state in t.sources and t.name != besides)
