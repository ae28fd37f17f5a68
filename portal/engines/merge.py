"""Merging duplicate records of any entity into one master record.

The rule, in the caller's transaction (nothing is committed here):

1. The master and the others are locked, and must be records of the entity that the
   principal may read, none of them in a locked workflow state; the master is not among the
   others. A principal merges only with ``merge: true`` in one of its roles' access rules
   (admins always).
2. Every reference to an other record is re-pointed at the master: ``link`` fields of every
   entity (inline ``children`` rows included, since they hang on a link back), and ``many``
   fields of every entity (association rows; a pair the master already has is not doubled).
   A link of the master to one of the others would point at itself: it is cleared (kept on
   the master when the field is required).
3. The master's empty fields (None or '') take the value of the first other (in the order
   given) that has one: **the master wins where it has a value**. Its ``many`` fields get
   the union of everyone's. Its workflow state is never taken. ``file`` fields follow the
   same rule (an empty file field takes the other's attachment); the attachments of fields
   the master already fills stay with the deleted records.
4. In-app notifications about the others now point at the master; open approval-queue rows
   of the others are closed (the records are gone). Workflow steps and votes are history
   and stay as they were, like the audit trail.
5. The others are deleted; then the master is updated.

Audit: the lifecycle hook writes ``update`` entries for every re-pointed record (children
show in the master's history), ``delete`` entries for the others and an ``update`` for the
master's taken fields; this module adds one ``merge`` entry on the master listing the merged
ids, the fields taken (and from which record) and the references re-pointed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Optional

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.engines.access import AccessDenied, Principal
from portal.engines.audit import write_entries
from portal.engines.scoping import UNSCOPED, read_criteria
from portal.spec.model import EntitySpec, FieldSpec, Registry
from portal.system_models import Notification, WorkflowTask, utcnow

#: The ``changes`` key of a merge audit entry: merged ids, fields taken, references moved.
MERGE_KEY = "_merge"


class MergeRefused(Exception):
    """A merge the input or the records do not allow (422): ``errors`` maps ``master``,
    ``others`` (or ``_``) to reasons."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in self.errors.items()))


@dataclass(frozen=True)
class MergeOutcome:
    """What a merge did: the master, the merged ids, the fields taken (field -> the id of
    the record it came from; ``many`` fields -> the ids that added to it), and how many
    references were re-pointed per ``entity.field``."""

    master_id: int
    merged: tuple[int, ...]
    taken: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    relinked: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


def may_merge(entity: EntitySpec, principal: Principal) -> bool:
    """True when one of the principal's roles may merge ``entity``'s records (admins may)."""
    if principal.is_admin:
        return True
    return any(entity.access[r].merge and entity.access[r].read
               for r in principal.roles if r in entity.access)


def _record_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_ids(master_id: Any, other_ids: Any) -> tuple[int, tuple[int, ...]]:
    """The master id and the others' ids (duplicates dropped, order kept), or MergeRefused
    naming what is wrong with each."""
    errors: dict[str, list[str]] = {}
    if not _record_id(master_id):
        errors["master"] = ["expected a record id"]
    if not isinstance(other_ids, list) or not other_ids:
        errors["others"] = ["expected a non-empty list of record ids"]
    elif bad := [i for i in other_ids if not _record_id(i)]:
        errors["others"] = [f"'{bad[0]}' is not a record id"]
    elif master_id in other_ids:
        errors["others"] = [f"cannot merge record #{master_id} into itself"]
    if errors:
        raise MergeRefused(errors)
    return master_id, tuple(dict.fromkeys(other_ids))


def _lock(session: Session, model: type, ids: Sequence[int]) -> None:
    """Serialise merges and edits of these rows (in id order, so two merges cannot
    deadlock)."""
    table = model.__table__
    ordered = sorted(ids)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(table.c.id).where(table.c.id.in_(ordered))
                        .order_by(table.c.id).with_for_update(),
                        execution_options={UNSCOPED: True})
    else:  # SQLite locks the whole database for the first write of a transaction
        marks = ", ".join("?" for _ in ordered)
        session.connection().exec_driver_sql(
            f'UPDATE "{table.name}" SET id = id WHERE id IN ({marks})', tuple(ordered))


def _load(session: Session, entity: EntitySpec, model: type, master_id: int,
          other_ids: tuple[int, ...], principal: Principal) -> tuple[Any, list[Any]]:
    """The master and the others as the principal may read them, or MergeRefused."""
    query = select(model).where(model.id.in_((master_id, *other_ids)))
    criteria = read_criteria(model, entity, principal)
    if criteria is not None:
        query = query.where(criteria)
    found = {r.id: r for r in session.scalars(
        query, execution_options={UNSCOPED: True, "populate_existing": True})}
    errors: dict[str, list[str]] = {}
    if master_id not in found:
        errors["master"] = [f"unknown {entity.name} id {master_id}"]
    missing = [i for i in other_ids if i not in found]
    if missing:
        errors["others"] = [f"unknown {entity.name} id {i}" for i in missing]
    if errors:
        raise MergeRefused(errors)
    return found[master_id], [found[i] for i in other_ids]


def _check_unlocked(model: type, master: Any, others: list[Any]) -> None:
    workflow = getattr(model, "__workflow__", None)
    if workflow is None:
        return
    errors: dict[str, list[str]] = {}
    for key, records in (("master", [master]), ("others", others)):
        for record in records:
            state = getattr(record, workflow.state_field, None) or workflow.initial
            spec = workflow.states.get(state)
            if spec is not None and spec.locked:
                errors.setdefault(key, []).append(
                    f"record #{record.id} is locked while it is '{state}' and cannot be merged")
    if errors:
        raise MergeRefused(errors)


def _stored(f: FieldSpec) -> str:
    return f"{f.name}_id" if f.type in {"link", "user", "file"} else f.name


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _check_unique_links(session: Session, registry: Registry, models: Mapping[str, type],
                        entity: EntitySpec, ids: tuple[int, ...]) -> None:
    """Refuse when a unique link (one record per target) is held by two of the records."""
    errors = []
    for other, f in registry.links_to(entity.name):
        if not f.unique:
            continue
        column = getattr(models[other.name], f"{f.name}_id")
        held = session.scalars(select(column).where(column.in_(ids)),
                               execution_options={UNSCOPED: True}).all()
        if len(held) > 1:
            errors.append(f"{other.name}.{f.name} is unique and records "
                          f"{', '.join(f'#{i}' for i in sorted(held))} both have one")
    if errors:
        raise MergeRefused({"others": [f"cannot merge: {e}" for e in errors]})


def _fills(entity: EntitySpec, master: Any, others: list[Any], ids: set[int],
           state_field: Optional[str]) -> dict[str, tuple[Any, int]]:
    """``{field: (value, from id)}`` for the master's empty column fields."""
    fills: dict[str, tuple[Any, int]] = {}
    for f in entity.fields.values():
        if not f.is_column or f.name == state_field or not _empty(getattr(master, _stored(f))):
            continue
        for other in others:
            value = getattr(other, _stored(f))
            if _empty(value) or (f.type == "link" and f.target == entity.name and value in ids):
                continue
            fills[f.name] = (value, other.id)
            break
    return fills


def _relink_links(session: Session, registry: Registry, models: Mapping[str, type],
                  entity: EntitySpec, master: Any, other_ids: set[int],
                  touched: list[tuple[Any, str]]) -> dict[str, int]:
    """Point every link at an other record to the master; counts by ``entity.field``.
    The re-pointed (record, relationship) pairs are added to ``touched``."""
    moved: dict[str, int] = {}
    for holder, f in registry.links_to(entity.name):
        model = models[holder.name]
        column = getattr(model, f"{f.name}_id")
        rows = session.scalars(select(model).where(column.in_(other_ids)).order_by(model.id),
                               execution_options={UNSCOPED: True}).all()
        count = 0
        for row in rows:
            same = holder.name == entity.name
            loop = same and row.id == master.id and not f.required
            setattr(row, f"{f.name}_id", None if loop else master.id)
            touched.append((row, f.name))
            # An other pointing at an other is re-pointed too (it is deleted after, and
            # the rows cannot be deleted while they point at each other), but not counted.
            count += not (same and row.id in other_ids)
        if count:
            moved[f"{holder.name}.{f.name}"] = count
    return moved


def _many_fields_at(registry: Registry, target: str) -> list[tuple[EntitySpec, FieldSpec]]:
    return [(e, f) for e in registry.entities.values() for f in e.fields.values()
            if f.type == "many" and f.target == target]


def _relink_many(session: Session, registry: Registry, models: Mapping[str, type],
                 entity: EntitySpec, master: Any, other_ids: set[int]) -> dict[str, int]:
    """Replace the others by the master in every ``many`` field pointing at the entity
    (no pair doubled); counts of records changed by ``entity.field``."""
    moved: dict[str, int] = {}
    for holder, f in _many_fields_at(registry, entity.name):
        model = models[holder.name]
        assoc = model.__mapper__.relationships[f.name].secondary
        holders = select(assoc.c.left_id).where(assoc.c.right_id.in_(other_ids))
        rows = session.scalars(select(model).where(model.id.in_(holders)).order_by(model.id),
                               execution_options={UNSCOPED: True}).all()
        count = 0
        for row in rows:
            same = holder.name == entity.name
            if same and row.id in other_ids:
                continue
            collection = getattr(row, f.name)
            for item in [x for x in collection if x.id in other_ids]:
                collection.remove(item)
            if not (same and row.id == master.id) and all(x.id != master.id
                                                          for x in collection):
                collection.append(master)
            count += 1
        if count:
            moved[f"{holder.name}.{f.name}"] = count
    return moved


def _unite_many(entity: EntitySpec, master: Any, others: list[Any], ids: set[int]
                ) -> dict[str, list[int]]:
    """Give the master's ``many`` fields everything the others' hold; the contributing ids
    by field."""
    taken: dict[str, list[int]] = {}
    for f in entity.fields.values():
        if f.type != "many":
            continue
        collection = getattr(master, f.name)
        present = {x.id for x in collection}
        for other in others:
            for item in getattr(other, f.name):
                if item.id in present or (f.target == entity.name and item.id in ids):
                    continue
                collection.append(item)
                present.add(item.id)
                if other.id not in taken.setdefault(f.name, []):
                    taken[f.name].append(other.id)
    return taken


def _repoint_system_rows(session: Session, entity: EntitySpec, master_id: int,
                         other_ids: set[int]) -> None:
    """Notifications follow the master; the others' open queue rows are closed."""
    session.execute(update(Notification).where(
        Notification.entity == entity.name, Notification.record_id.in_(other_ids)
    ).values(record_id=master_id).execution_options(synchronize_session=False))
    session.execute(update(WorkflowTask).where(
        WorkflowTask.entity == entity.name, WorkflowTask.record_id.in_(other_ids),
        WorkflowTask.closed_at.is_(None),
    ).values(closed_at=utcnow()).execution_options(synchronize_session=False))


def merge(session: Session, registry: Registry, models: Mapping[str, type], entity: str,
          master_id: Any, other_ids: Any, principal: Principal) -> MergeOutcome:
    """Merge the ``entity`` records ``other_ids`` into ``master_id`` (see the module's rule),
    in the caller's transaction. Raises AccessDenied when the principal may not merge this
    entity, MergeRefused (by ``master``/``others``) for bad ids, unreadable or locked
    records."""
    spec = registry.entities.get(entity)
    if spec is None:
        raise MergeRefused({"_": [f"unknown entity '{entity}'"]})
    if not may_merge(spec, principal):
        raise AccessDenied(f"you may not merge {entity} records")
    master_id, others_order = check_ids(master_id, other_ids)
    model = models[entity]
    _lock(session, model, (master_id, *others_order))
    master, others = _load(session, spec, model, master_id, others_order, principal)
    _check_unlocked(model, master, others)
    ids = {master_id, *others_order}
    other_set = set(others_order)
    _check_unique_links(session, registry, models, spec, tuple(ids))
    workflow = getattr(model, "__workflow__", None)
    fills = _fills(spec, master, others, ids, workflow.state_field if workflow else None)
    touched: list[tuple[Any, str]] = []
    relinked = _relink_links(session, registry, models, spec, master, other_set, touched)
    relinked.update(_relink_many(session, registry, models, spec, master, other_set))
    taken: dict[str, Any] = _unite_many(spec, master, others, ids)
    _repoint_system_rows(session, spec, master_id, other_set)
    session.flush()
    for row, name in touched:
        session.expire(row, [name])  # the relationship still holds the other: reload it
    inline = [f.name for f in spec.fields.values() if f.type == "children"]
    for other in others:
        if inline:
            session.expire(other, inline)  # its rows are the master's now: not deleted
        session.delete(other)
    session.flush()
    for name, (value, source) in fills.items():
        setattr(master, _stored(spec.fields[name]), value)
        taken[name] = source
    session.flush()
    session.expire(master)
    write_entries(session.connection(), [{
        "entity": spec.name, "record_id": master_id, "action": "merge", "at": utcnow(),
        "user_id": principal.user_id, "username": principal.username,
        "changes": json.dumps({MERGE_KEY: {"merged": list(others_order),
                                           "taken": dict(sorted(taken.items())),
                                           "relinked": dict(sorted(relinked.items()))}},
                              ensure_ascii=False, sort_keys=True),
        "parent_entity": None, "parent_id": None,
    }])
    return MergeOutcome(master_id=master_id, merged=others_order,
                        taken=MappingProxyType(dict(taken)),
                        relinked=MappingProxyType(dict(relinked)))
