"""The workflow engine: moves records between the states their YAML flow declares.

Everything is driven by the compiled :class:`WorkflowSpec` of the record's class
(``__workflow__``); no entity is named here. One entry point changes state for a person,
:func:`perform`; it runs inside the caller's transaction and the caller commits:

1. the record's row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the first
   write takes the database's write lock) and re-read, so two approvers acting at once are
   serialised and the second one finds the record moved (:class:`TransitionConflict`, 409);
2. the person's right is checked (their own, or as a substitute), self-approval refused
   unless allowed, the condition and the comment checked;
3. for a countersign or quorum the approval is counted (one per slot per pass through the
   state, unique in the database) and the record moves only once enough have approved;
4. entering a state writes the transition's own values (``set``), checks the state's
   required fields and gate, runs its effects (:mod:`portal.engines.workflow_effects`),
   replaces the approvers' queue rows, records a step, notifies, then follows automatic
   transitions.

Timed transitions (``after``) are nobody's action: the ``workflow_timers`` tick job
(:mod:`portal.engines.workflow_timers`) performs them through :func:`perform_timed`, with the
same lock, gates and effects.

:func:`check_edit` keeps ordinary edits out of what only transitions may change: the state
field, locked states, fields not editable in the current state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import false, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.engines.access import AccessDenied, Principal
from portal.engines.audit import workflow_entry, write_entries
from portal.engines.expression_values import holds
from portal.engines.scoping import UNSCOPED
from portal.engines.validation import is_empty
from portal.engines.workflow_actors import (
    Acting,
    Known,
    assignees,
    delegators,
    owner_id,
    slot_refs,
    who_can_act,
)
from portal.engines.workflow_effects import (
    EffectRefused,
    apply_effects,
    notify,
    stored,
    title_of,
    users_of,
    write_values,
)
from portal.spec.model import (
    ActorRef,
    EntitySpec,
    Registry,
    StateSpec,
    TransitionSpec,
    WorkflowSpec,
)
from portal.system_models import (
    WorkflowStep,
    WorkflowTask,
    WorkflowVote,
    utcnow,
)

#: How many automatic transitions may follow each other before the engine stops (a loop).
MAX_AUTOMATIC_CHAIN = 20


class TransitionRefused(Exception):
    """A transition the record or the request does not allow (422): ``errors`` maps a field
    (or ``_``) to reasons, as record validation does."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in self.errors.items()))


class TransitionConflict(Exception):
    """The record is no longer where the action was offered: someone acted first (409)."""


class RecordLocked(AccessDenied):
    """An edit or deletion of a record in a locked state."""


@dataclass
class Outcome:
    """What :func:`perform` did: the state now, whether the record moved, and how many
    approvals a countersign still waits for."""

    state: str
    moved: bool
    waiting: int = 0
    steps: list[str] = field(default_factory=list)
    transitions: list[str] = field(default_factory=list)
    #: The language of messages declared in the YAML (a gate's).
    locale: str = "en"


def workflow_of(item: Any) -> Optional[WorkflowSpec]:
    """The workflow of the record's entity, if it has one."""
    return getattr(type(item), "__workflow__", None)


def state_of(workflow: WorkflowSpec, item: Any) -> str:
    """The record's state (the initial state while none is stored)."""
    return getattr(item, workflow.state_field, None) or workflow.initial


# -- what a person may do -------------------------------------------------------------------

@dataclass(frozen=True)
class Action:
    """A transition a person may perform now, and how (own name or as a substitute)."""

    transition: TransitionSpec
    acting: Acting


def available_actions(session: Session, item: Any, principal: Principal,
                      today: Optional[dt.date] = None, known: Optional[Known] = None,
                      passes: Optional[Mapping[int, Pass]] = None) -> list[Action]:
    """The transitions ``principal`` may perform on ``item`` now, in definition order.

    A queue asks this for many records at once: ``known`` is what it already read about the
    person, ``passes`` the records' current passes (:func:`current_passes`)."""
    workflow = workflow_of(item)
    if workflow is None or item.id is None:
        return []
    state = state_of(workflow, item)
    on = today or dt.date.today()
    if passes is not None and item.id in passes:
        votes = passes[item.id].votes
    else:
        votes = _round_votes(session, item, _round(session, workflow, item))
    signed = any(v.user_id == principal.user_id for v in votes)
    parts = _signed_parts(workflow, votes)
    known = known or Known(delegators(session, principal, on))
    actions = []
    for transition in workflow.outgoing(state):
        if transition.by is None or not _condition_holds(session, transition, item, on):
            continue
        if signed and not _owner_only(transition):
            continue
        acting = who_can_act(session, workflow, transition, state, item, principal, on,
                             {v.slot for v in votes if v.transition == transition.name},
                             parts, known)
        if acting is not None and _self_approval_ok(transition, item, acting):
            actions.append(Action(transition, acting))
    return actions


def _owner_only(transition: TransitionSpec) -> bool:
    return transition.by is not None and all(r.kind == "owner" for r in transition.by.slots)


def _round_votes(session: Session, item: Any, current_round: int) -> list[Any]:
    """The countersign approvals given in this pass through the record's state. Whoever
    signed has done their part: they neither sign again nor take another approver's action
    (reject) until the record moves; nor does anyone else for the part they signed."""
    return list(session.connection().execute(
        select(WorkflowVote.transition, WorkflowVote.slot, WorkflowVote.user_id).where(
            WorkflowVote.entity == type(item).__entity__.name,
            WorkflowVote.record_id == item.id, WorkflowVote.round == current_round)))


def _signed_parts(workflow: WorkflowSpec, votes: list[Any]) -> frozenset[ActorRef]:
    """The slots (as refs) whose countersign part is signed."""
    parts = set()
    for v in votes:
        rule = workflow.transitions[v.transition].by if v.transition in \
            workflow.transitions else None
        if rule is not None and v.slot < len(rule.slots):
            parts.add(rule.slots[v.slot])
    return frozenset(parts)


def _condition_holds(session: Session, transition: TransitionSpec, item: Any,
                     on: dt.date) -> bool:
    return transition.when is None or holds(session, item, transition.when, on)


def _self_approval_ok(transition: TransitionSpec, item: Any, acting: Acting) -> bool:
    """Owner-only slots (submit, withdraw) are the owner's by nature; any other slot may not
    be filled by the record's owner unless the transition says ``self_approval``."""
    if transition.self_approval or transition.by is None:
        return True
    if transition.by.slots[acting.slot].kind == "owner":
        return True
    owner = owner_id(item)
    return owner is None or owner not in {acting.principal.user_id, acting.for_whom.user_id}


# -- performing a transition ------------------------------------------------------------------

def perform(session: Session, registry: Registry, models: Mapping[str, type], item: Any,
            name: str, principal: Principal, comment: Optional[str] = None,
            today: Optional[dt.date] = None, locale: str = "en") -> Outcome:
    """Perform transition ``name`` on ``item`` as ``principal``; the caller commits.
    ``locale`` is the language of the messages a gate declares in its YAML.

    Raises :class:`TransitionConflict` when the record is not (or no longer) in a state the
    transition leaves, :class:`AccessDenied` when the person may not perform it, and
    :class:`TransitionRefused` for a failed condition, a missing comment or stage gate.
    """
    workflow = workflow_of(item)
    if workflow is None or name not in workflow.transitions:
        raise TransitionRefused({"_": [f"'{name}' is not an action of this record"]})
    transition = workflow.transitions[name]
    _lock(session, item)
    state = state_of(workflow, item)
    on = today or dt.date.today()
    if state not in transition.sources:
        raise TransitionConflict(
            f"the record is '{state}' now; '{name}' is only possible from "
            f"{', '.join(repr(s) for s in transition.sources)} (someone may have acted first)")
    if transition.by is None:
        raise TransitionRefused({"_": [f"'{name}' happens by itself; nobody performs it"]})
    current_round = _round(session, workflow, item)
    votes = _round_votes(session, item, current_round)
    taken = [v for v in votes if v.transition == name]
    if not _owner_only(transition) and any(v.user_id == principal.user_id for v in votes):
        raise TransitionConflict("you have already signed this record at this step")
    acting = who_can_act(session, workflow, transition, state, item, principal, on,
                         {v.slot for v in taken}, _signed_parts(workflow, votes))
    if acting is None:
        raise AccessDenied(f"you may not perform '{name}' on this record")
    if not _self_approval_ok(transition, item, acting):
        raise AccessDenied(f"you may not perform '{name}' on your own record")
    if not _condition_holds(session, transition, item, on):
        raise TransitionRefused({"_": [f"'{name}' needs {transition.when.source}"]})  # type: ignore[union-attr]
    text = (comment or "").strip() or None
    if transition.comment_required and text is None:
        raise TransitionRefused({"comment": [f"a comment is required to {name}"]})
    outcome = Outcome(state=state, moved=False, locale=locale)
    rule = transition.by
    if rule is not None and rule.is_countersign:
        _vote(session, item, workflow, transition, current_round, acting)
        approvals = len(taken) + 1
        if approvals < rule.quorum:
            _step(session, item, workflow, transition, "approval", state, state, acting, text)
            _close_tasks(session, item, workflow, state, transition.name, acting.slot)
            outcome.waiting = rule.quorum - approvals
            outcome.steps.append(f"{name}: approved, {outcome.waiting} more needed")
            return outcome
    _move(session, registry, models, item, workflow, transition, state, acting, text, on,
          "transition", outcome)
    _follow_automatic(session, registry, models, item, workflow, on, outcome)
    _notify_move(session, item, outcome, acting, text)
    return outcome


def _lock(session: Session, item: Any) -> None:
    """Serialise actions on one record, then re-read it (the caller may hold an old copy)."""
    table = type(item).__table__
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(table.c.id).where(table.c.id == item.id).with_for_update(),
                        execution_options={UNSCOPED: True})
    else:  # SQLite locks the whole database for the first write of a transaction
        session.connection().exec_driver_sql(
            f'UPDATE "{table.name}" SET id = id WHERE id = ?', (item.id,))
    session.refresh(item)


def perform_timed(session: Session, registry: Registry, models: Mapping[str, type],
                  item: Any, name: str, still_due: Callable[[Any], bool],
                  today: dt.date) -> Optional[Outcome]:
    """Perform the timed transition ``name`` on ``item`` as the system (the
    ``workflow_timers`` tick job); the caller commits.

    The record is locked and re-read first, like :func:`perform`: None when it has left the
    transition's states meanwhile, is no longer due (``still_due`` checks the locked record)
    or its condition does not hold. Raises :class:`TransitionRefused` when the target
    state's required fields, gate or effects refuse it.
    """
    workflow = workflow_of(item)
    if workflow is None or name not in workflow.transitions:
        raise TransitionRefused({"_": [f"'{name}' is not an action of this record"]})
    transition = workflow.transitions[name]
    _lock(session, item)
    state = state_of(workflow, item)
    if state not in transition.sources or not still_due(item) or \
            not _condition_holds(session, transition, item, today):
        return None
    owner = owner_id(item)
    outcome = Outcome(state=state, moved=False)
    _move(session, registry, models, item, workflow, transition, state, None, None, today,
          "timed", outcome)
    _follow_automatic(session, registry, models, item, workflow, today, outcome)
    if owner is not None:
        notify(session, [owner], name, f"{title_of(item)}: {', '.join(outcome.transitions)} "
                                       f"by the system (now '{outcome.state}')", item)
    return outcome


@dataclass(frozen=True)
class Pass:
    """A record's current pass through its state: which one (the number of state changes
    so far) and the countersign approvals given in it."""

    round: int
    votes: tuple[Any, ...]


def current_passes(session: Session, entity: str, ids: list[int]) -> dict[int, Pass]:
    """:class:`Pass` of each of ``entity``'s records ``ids``, in two queries."""
    conn = session.connection()
    rounds = dict(conn.execute(
        select(WorkflowStep.record_id, func.count()).where(
            WorkflowStep.entity == entity, WorkflowStep.record_id.in_(ids),
            WorkflowStep.kind != "approval").group_by(WorkflowStep.record_id)).all())
    votes: dict[int, list[Any]] = {}
    for v in conn.execute(select(WorkflowVote.record_id, WorkflowVote.round,
                                 WorkflowVote.transition, WorkflowVote.slot,
                                 WorkflowVote.user_id).where(
            WorkflowVote.entity == entity, WorkflowVote.record_id.in_(ids))):
        if v.round == rounds.get(v.record_id, 0):
            votes.setdefault(v.record_id, []).append(v)
    return {i: Pass(rounds.get(i, 0), tuple(votes.get(i, ()))) for i in ids}


def _round(session: Session, workflow: WorkflowSpec, item: Any) -> int:
    """How many times the record has changed state: votes count only within one pass."""
    return session.connection().execute(
        select(func.count()).select_from(WorkflowStep).where(
            WorkflowStep.entity == type(item).__entity__.name,
            WorkflowStep.record_id == item.id, WorkflowStep.kind != "approval")).scalar() or 0


def _vote(session: Session, item: Any, workflow: WorkflowSpec, transition: TransitionSpec,
          current_round: int, acting: Acting) -> None:
    try:
        with session.begin_nested():
            session.connection().execute(insert(WorkflowVote).values(
                entity=type(item).__entity__.name, record_id=item.id, round=current_round,
                transition=transition.name, slot=acting.slot, user_id=acting.principal.user_id,
                at=utcnow()))
    except IntegrityError:
        raise TransitionConflict("someone else approved this part at the same moment") \
            from None


def _move(session: Session, registry: Registry, models: Mapping[str, type], item: Any,
          workflow: WorkflowSpec, transition: TransitionSpec, state: str,
          acting: Optional[Acting], text: Optional[str], on: dt.date, kind: str,
          outcome: Outcome) -> None:
    target = workflow.states[transition.target]
    user_id = acting.principal.user_id if acting is not None else None
    if transition.values:
        write_values(item, transition.values, user_id, on)
    missing = _missing_required(item, target)
    if missing:
        entity: EntitySpec = type(item).__entity__
        raise TransitionRefused({
            name: [f"required to enter '{target.name}'"] for name in missing
        } | {"_": [f"fill in {', '.join(_label(entity, n) for n in missing)} before "
                   f"'{transition.name}'"]})
    if target.gate is not None and not holds(session, item, target.gate, on):
        raise TransitionRefused({"_": [target.gate_message.get(
            outcome.locale, f"'{target.name}' needs {target.gate.source}")]})
    setattr(item, workflow.state_field, target.name)
    try:
        notes = apply_effects(session, models, item, target, user_id, on)
    except EffectRefused as exc:
        raise TransitionRefused(exc.errors) from None
    session.flush()
    text = "; ".join(t for t in (text, *notes) if t) or None
    _step(session, item, workflow, transition, kind, state, target.name, acting, text)
    _replace_tasks(session, item, workflow, target.name)
    outcome.state, outcome.moved = target.name, True
    outcome.steps.append(f"{transition.name}: {state} -> {target.name}")
    outcome.transitions.append(transition.name)


def _follow_automatic(session: Session, registry: Registry, models: Mapping[str, type],
                      item: Any, workflow: WorkflowSpec, on: dt.date, outcome: Outcome) -> None:
    for _ in range(MAX_AUTOMATIC_CHAIN):
        state = state_of(workflow, item)
        automatic = next((t for t in workflow.outgoing(state)
                          if t.automatic and _condition_holds(session, t, item, on)), None)
        if automatic is None:
            return
        _move(session, registry, models, item, workflow, automatic, state, None, None, on,
              "automatic", outcome)
    raise TransitionRefused({"_": [f"more than {MAX_AUTOMATIC_CHAIN} automatic transitions "
                                   "in a row: the flow loops"]})


def _missing_required(item: Any, state: StateSpec) -> list[str]:
    entity: EntitySpec = type(item).__entity__
    missing = []
    for name in state.required:
        if is_empty(getattr(item, stored(entity, name), None)):
            missing.append(name)
    return missing


def _label(entity: EntitySpec, name: str) -> str:
    f = entity.fields.get(name)
    return f.label.get("en", name) if f is not None else name


# -- queues, steps and notifications ------------------------------------------------------------

def _step(session: Session, item: Any, workflow: WorkflowSpec, transition: TransitionSpec,
          kind: str, source: str, target: str, acting: Optional[Acting],
          text: Optional[str]) -> None:
    behalf = acting.on_behalf_of if acting is not None else None
    write_entries(session.connection(), [workflow_entry(
        acting.principal if acting else None, type(item).__entity__.name, item.id, kind,
        transition.name, workflow.state_field, source, target, text,
        behalf.username if behalf else None)])
    session.connection().execute(insert(WorkflowStep).values(
        entity=type(item).__entity__.name, record_id=item.id, workflow=workflow.name,
        transition=transition.name, kind=kind, from_state=source, to_state=target, at=utcnow(),
        actor_id=acting.principal.user_id if acting else None,
        actor_name=acting.principal.username if acting else "system",
        on_behalf_of_id=behalf.user_id if behalf else None,
        on_behalf_of_name=behalf.username if behalf else None, comment=text))


def _close_tasks(session: Session, item: Any, workflow: WorkflowSpec, state: str,
                 transition: str, slot: int) -> None:
    """A countersign part is signed: its queue rows go, and so do the same people's rows for
    the actions that ``approver`` gives them (reject): their part is done."""
    conn = session.connection()
    of_record = (WorkflowTask.entity == type(item).__entity__.name) & \
        (WorkflowTask.record_id == item.id) & WorkflowTask.closed_at.is_(None)
    signed = (WorkflowTask.transition == transition) & (WorkflowTask.slot == slot)
    holders = conn.execute(select(WorkflowTask.user_id, WorkflowTask.role)
                           .where(of_record & signed)).all()
    by_approver = [t.name for t in workflow.outgoing(state)
                   if t.by is not None and any(r.kind == "approver" for r in t.by.slots)]
    same_people = [(WorkflowTask.user_id == u) if u is not None else (WorkflowTask.role == r)
                   for u, r in holders]
    also = WorkflowTask.transition.in_(by_approver) & or_(*same_people) \
        if by_approver and same_people else false()
    conn.execute(update(WorkflowTask).where(of_record & or_(signed, also))
                 .values(closed_at=utcnow()))


def _replace_tasks(session: Session, item: Any, workflow: WorkflowSpec, state: str) -> None:
    """The queue rows of the record for ``state``: one per person or role that may perform
    a transition out of it (owner-only actions and ``approver`` slots excepted)."""
    name = type(item).__entity__.name
    rows, now, notified = [], utcnow(), []
    session.connection().execute(update(WorkflowTask).where(
        WorkflowTask.entity == name, WorkflowTask.record_id == item.id,
        WorkflowTask.closed_at.is_(None)).values(closed_at=now))
    for transition in workflow.outgoing(state):
        if transition.by is None:
            continue
        for slot, refs in enumerate(slot_refs(workflow, transition, state)):
            for ref in refs:
                if ref.kind in ("owner", "approver"):
                    continue
                for a in assignees(session, ref, item):
                    rows.append({"entity": name, "record_id": item.id,
                                 "transition": transition.name, "slot": slot,
                                 "user_id": a.user_id, "role": a.role, "since": now})
                    notified.append(ref)
    if rows:
        session.connection().execute(insert(WorkflowTask), rows)
        users = users_of(session, notified, item)
        notify(session, users, "approval", f"{title_of(item)} waits for your approval", item)


def _notify_move(session: Session, item: Any, outcome: Outcome, acting: Acting,
                 comment: Optional[str]) -> None:
    """The owner hears once of what someone else's action did, automatic moves it set off
    included (e.g. "lead_approve by lena, then small_approve (now 'approved')"), with the
    comment."""
    owner = owner_id(item)
    if owner is None or acting.principal.user_id == owner or not outcome.transitions:
        return
    first, *then = outcome.transitions
    did = f"{first} by {acting.principal.username}" + \
        (f", then {', '.join(then)}" if then else "")
    notify(session, [owner], first, f"{title_of(item)}: {did} (now '{outcome.state}')", item,
            f"{acting.principal.username}: {comment}" if comment else "")


# -- what an ordinary edit may change ---------------------------------------------------------

def on_create(item: Any) -> None:
    """A new record starts in the initial state, whatever was sent."""
    workflow = workflow_of(item)
    if workflow is not None:
        setattr(item, workflow.state_field, workflow.initial)


def place_in_state(session: Session, item: Any, state: str) -> None:
    """Put a stored record straight into ``state`` with its queue rows, without a transition:
    for loading records that reached that state elsewhere (demo data), not for users."""
    workflow = workflow_of(item)
    if workflow is None or state not in workflow.states:
        raise ValueError(f"'{state}' is not a state of {type(item).__entity__.name}")
    setattr(item, workflow.state_field, state)
    session.flush()
    _replace_tasks(session, item, workflow, state)


def after_create(session: Session, item: Any) -> None:
    """Queue rows for a new record's initial state (it has an id now)."""
    workflow = workflow_of(item)
    if workflow is not None:
        _replace_tasks(session, item, workflow, state_of(workflow, item))


def check_edit(item: Any, changed: set[str], state: Optional[str], action: str) -> None:
    """Refuse an ordinary ``update`` or ``delete`` that only transitions may make.

    ``changed`` names the fields the edit changes, ``state`` is the record's state before
    it. Raises :class:`RecordLocked` in a locked state and :class:`TransitionRefused` for a
    change of the state field or of a field not editable in the state.
    """
    workflow = workflow_of(item)
    if workflow is None:
        return
    current = state or workflow.initial
    spec = workflow.states.get(current)
    if spec is not None and spec.locked:
        verb = "changed" if action == "update" else "deleted"
        raise RecordLocked(f"this record is locked while it is '{current}' and cannot be "
                           f"{verb}")
    if action != "update":
        return
    errors: dict[str, list[str]] = {}
    if workflow.state_field in changed:
        actions = ", ".join(t.name for t in workflow.outgoing(current) if t.by is not None)
        errors[workflow.state_field] = [
            "the state changes only through the record's actions" +
            (f" ({actions})" if actions else "")]
    if spec is not None and spec.editable is not None:
        for name in sorted(changed - set(spec.editable) - {workflow.state_field}):
            errors[name] = [f"cannot be changed while the record is '{current}'"]
    if errors:
        raise TransitionRefused(errors)


def timeline(session: Session, entity: str, record_id: int) -> list[dict[str, Any]]:
    """The record's workflow steps, oldest first."""
    rows = session.execute(select(WorkflowStep).where(
        WorkflowStep.entity == entity, WorkflowStep.record_id == record_id
    ).order_by(WorkflowStep.id)).scalars()
    return [{"at": s.at, "transition": s.transition, "kind": s.kind, "from": s.from_state,
             "to": s.to_state, "actor": s.actor_name, "on_behalf_of": s.on_behalf_of_name,
             "comment": s.comment} for s in rows]
