"""What entering a state does: the effects a workflow's YAML declares, run on any entity.

:func:`apply_effects` runs a state's effects in order, each only when its ``when`` holds:

* ``set`` writes values into the record (as a transition's own ``set`` does, see
  :func:`write_values`);
* ``notify`` sends in-app notifications (emailed after commit when SMTP is configured);
* ``create`` adds a record of another entity, checked like a form create (required fields,
  value rules) before anything is written; it gets numbering, defaults and its creator from
  the session hooks (:mod:`portal.engines.lifecycle`), which also audit it. With ``into`` the
  new record's id goes into a link field of the record, so later effects' ``$field`` see it;
* ``assign`` gives a user field of the record to the least loaded active user the rule names
  (fewest records of the entity in that field, ties by username) and notifies them; when
  the field already holds one of them it stays (the rule hands records over, it does not
  reshuffle them), and when nobody matches, the field stays and a note says why.

Effects run inside the transition's transaction: a refused ``create`` raises
:class:`EffectRefused`, and the caller rolls everything back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Optional

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from portal.engines.expression_values import holds
from portal.engines.validation import check_value, is_empty
from portal.engines.workflow_actors import approver_refs, assignees
from portal.spec.model import (
    ActorRef,
    ActorRule,
    DynamicDefault,
    EffectSpec,
    EntitySpec,
    StateSpec,
    ValueRef,
)
from portal.system_models import (
    NEW_NOTIFICATIONS,
    Notification,
    PortalUser,
    role_member_ids,
    utcnow,
)

#: Field types that are never "missing": numbering fills them, a bool is false, rows are
#: optional.
_NEVER_MISSING = frozenset({"number", "bool", "children", "many"})


class EffectRefused(Exception):
    """An effect cannot be carried out (a created record would be incomplete): ``errors``
    maps a field (or ``_``) to reasons, as record validation does."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in self.errors.items()))


def stored(entity: EntitySpec, name: str) -> str:
    """The attribute holding field ``name``'s value: the id column for links, users, files
    and the creator/editor system columns."""
    f = entity.fields.get(name)
    if (f is not None and f.type in {"link", "user", "file"}) or name in ("created_by",
                                                                          "updated_by"):
        return f"{name}_id"
    return name


def value_of(ref: ValueRef, item: Any, user_id: Optional[int], on: dt.date) -> Any:
    """The value ``ref`` stands for on ``item``; ``current_user`` is ``user_id`` (None when
    the system acts)."""
    if ref.field is not None:
        return getattr(item, stored(type(item).__entity__, ref.field))
    if ref.dynamic == "today":
        return on
    if ref.dynamic == "now":
        return utcnow()
    if ref.dynamic == "current_user":
        return user_id
    return ref.literal


def write_values(item: Any, values: Mapping[str, ValueRef], user_id: Optional[int],
                 on: dt.date) -> None:
    """Write ``values`` (a ``set``) into ``item``; every value is read before any is
    written, so ``{a: $b, b: $a}`` swaps."""
    entity: EntitySpec = type(item).__entity__
    resolved = {k: value_of(v, item, user_id, on) for k, v in values.items()}
    for name, value in resolved.items():
        setattr(item, stored(entity, name), value)


def apply_effects(session: Session, models: Mapping[str, type], item: Any, state: StateSpec,
                  user_id: Optional[int], on: dt.date) -> list[str]:
    """Run the effects of entering ``state`` on ``item``, in order, as ``user_id`` (None:
    the system). Returns notes for the step's history (an assignment that found nobody).
    Raises :class:`EffectRefused` when a record to create would be incomplete."""
    notes: list[str] = []
    for number, effect in enumerate(state.effects, start=1):
        if effect.when is not None and not holds(session, item, effect.when, on):
            continue
        if effect.kind == "set":
            write_values(item, effect.values, user_id, on)
        elif effect.kind == "create" and effect.entity is not None:
            _create(session, models, item, effect, f"effect {number} of '{state.name}' "
                                                   f"(create {effect.entity})", user_id, on)
        elif effect.kind == "assign" and effect.assign_to is not None:
            note = _assign(session, item, effect.assign_field or "", effect.assign_to)
            if note:
                notes.append(note)
        elif effect.kind == "notify" and effect.notify is not None:
            refs = [r for ref in effect.notify.slots for r in
                    (approver_refs(type(item).__workflow__, state.name, "")
                     if ref.kind == "approver" else [ref])]
            title = effect.message.get("en") or f"{title_of(item)} is now '{state.name}'"
            notify(session, users_of(session, refs, item), "workflow", title, item)
    return notes


# -- create -----------------------------------------------------------------------------------

def _create(session: Session, models: Mapping[str, type], item: Any, effect: EffectSpec,
            where: str, user_id: Optional[int], on: dt.date) -> None:
    model = models[effect.entity or ""]
    target: EntitySpec = model.__entity__
    values = {k: value_of(v, item, user_id, on) for k, v in effect.values.items()}
    problems = _problems(target, values, user_id)
    if problems:
        raise EffectRefused({"_": [f"{where}: {_label(target, name)} ({name}) {reason}"
                                   for name, reason in problems.items()]})
    created = model()
    for name, value in values.items():
        setattr(created, stored(target, name), value)
    session.add(created)
    if effect.into is not None:
        session.flush()  # numbering, defaults, its audit entry, and its id
        setattr(item, stored(type(item).__entity__, effect.into), created.id)


def _problems(entity: EntitySpec, values: Mapping[str, Any],
              user_id: Optional[int]) -> dict[str, str]:
    """``{field: reason}`` for what a new record of ``entity`` with ``values`` lacks or
    gets wrong; defaults count as values (``current_user`` only when someone acts)."""
    problems: dict[str, str] = {}
    for f in entity.fields.values():
        if f.name in values:
            value = values[f.name]
            if is_empty(value):
                if f.required and f.type not in _NEVER_MISSING:
                    problems[f.name] = "is required but the value is empty"
                continue
            reason = check_value(f, value)
            if reason:
                problems[f.name] = reason
        elif f.required and f.type not in _NEVER_MISSING and (
                f.default is None or (isinstance(f.default, DynamicDefault) and
                                      f.default.kind == "current_user" and user_id is None)):
            problems[f.name] = "is required but has no value"
    return problems


def _label(entity: EntitySpec, name: str) -> str:
    f = entity.fields.get(name)
    return f.label.get("en", name) if f is not None else name


# -- assign -----------------------------------------------------------------------------------

def _assign(session: Session, item: Any, field: str, rule: ActorRule) -> Optional[str]:
    """Give ``item``'s user field ``field`` to the least loaded active user ``rule`` names,
    unless it holds one of them already; a note for the history when nobody matches (the
    field then stays as it is)."""
    conn = session.connection()
    candidates: dict[int, None] = {}
    for ref in rule.slots:
        for a in assignees(session, ref, item):
            if a.user_id is not None:
                candidates[a.user_id] = None
            elif a.role is not None:
                candidates.update(dict.fromkeys(role_member_ids(conn, a.role)))
    people: dict[int, str] = dict(conn.execute(
        select(PortalUser.id, PortalUser.username).where(
            PortalUser.id.in_(list(candidates)), PortalUser.active.is_(True))
    ).tuples().all()) if candidates else {}
    column = f"{field}_id"
    current = getattr(item, column, None)
    if not people:
        whom = " or ".join(str(ref) for ref in rule.slots)
        keeps = f"stays with {_username(session, current)}" if current is not None \
            else "stays empty"
        return f"assign {field}: no active user is {whom}; {field} {keeps}"
    if current in people:  # already one of them: a hand-off, not a reshuffle
        return None
    table = type(item).__table__
    loads: dict[int, int] = dict(conn.execute(
        select(table.c[column], func.count()).where(
            table.c[column].in_(list(people)), table.c.id != item.id)
        .group_by(table.c[column])).tuples().all())
    chosen = min(people, key=lambda uid: (loads.get(uid, 0), people[uid]))
    if chosen != current:
        setattr(item, column, chosen)
        notify(session, [chosen], "assign", f"{title_of(item)} was assigned to you", item)
    return None


def _username(session: Session, user_id: int) -> str:
    name = session.connection().execute(
        select(PortalUser.username).where(PortalUser.id == user_id)).scalar()
    return name or f"user {user_id}"


# -- notifications ----------------------------------------------------------------------------

def users_of(session: Session, refs: list[ActorRef], item: Any) -> list[int]:
    """Every user the refs stand for (members of roles too), without repeats."""
    users: dict[int, None] = {}
    for ref in refs:
        for a in assignees(session, ref, item):
            if a.user_id is not None:
                users[a.user_id] = None
            elif a.role is not None:
                users.update(dict.fromkeys(role_member_ids(session.connection(), a.role)))
    return list(users)


def notify(session: Session, users: list[int], kind: str, title: str, item: Any,
           body: str = "") -> None:
    """In-app notifications for ``users``; their ids are listed in ``session.info`` so that
    email can be sent once (and only if) the transaction commits."""
    if users:
        ids = session.connection().execute(insert(Notification).returning(Notification.id), [
            {"user_id": u, "kind": kind[:32], "title": title[:255], "body": body,
             "entity": type(item).__entity__.name, "record_id": item.id, "at": utcnow()}
            for u in users]).scalars().all()
        session.info.setdefault(NEW_NOTIFICATIONS, []).extend(ids)


def title_of(item: Any) -> str:
    """How notifications name the record: its entity's label and title."""
    entity: EntitySpec = type(item).__entity__
    return f"{entity.label.get('en', entity.name)} {item!r}"
