"""Finding duplicate records of any entity: matches for a new record, and candidate groups.

Phones and emails are compared normalized (:mod:`portal.engines.dedup_keys`): a phone value
against every ``phone`` field of the entity, an email against every ``email`` field. Names
(the entity's title field) are grouped when they normalize alike, or when their
``difflib`` ratio is at least :data:`NAME_RATIO` for names that sort next to each other (a
window of :data:`NAME_WINDOW`), so a scan stays O(n log n) for 100k records.

Who sees what: matches are looked for among *all* records of the entity (a duplicate is a
duplicate whoever owns it), but only records the principal may read are named; the others
are only counted. Fields hidden from the principal are not compared.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Optional

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from portal.engines.access import Principal, effective_access
from portal.engines.dedup_keys import normalize_email, normalize_name, normalize_phone
from portal.engines.scoping import UNSCOPED, read_criteria
from portal.spec.model import EntitySpec

#: The field types compared by value, and how each is normalized.
KINDS: Mapping[str, Any] = MappingProxyType({"phone": normalize_phone,
                                             "email": normalize_email})
#: Two names are "similar" from this ``difflib.SequenceMatcher`` ratio on.
NAME_RATIO = 0.9
#: How many following names (in sorted order) each name is compared with.
NAME_WINDOW = 2
#: Reasons a group is formed, in the order groups are listed.
REASONS: tuple[str, ...] = ("phone", "email", "name")


@dataclass(frozen=True)
class FieldMatches:
    """Other records whose phone or email equals a new record's ``field``.

    ``records`` are the (id, title) of those the principal may read; ``unseen`` counts the
    others.
    """

    field: str
    key: str
    records: tuple[tuple[int, str], ...] = ()
    unseen: int = 0


@dataclass(frozen=True)
class DuplicateGroup:
    """Records that may be one: they share a phone, an email, or a (similar) name.

    ``reason`` is ``phone``, ``email`` or ``name``; ``key`` the shared normalized value (for
    similar names, the names joined by `` ~ ``); ``records`` the (id, title) pairs by id.
    """

    reason: str
    key: str
    records: tuple[tuple[int, str], ...] = field(default_factory=tuple)

    @property
    def ids(self) -> tuple[int, ...]:
        """The ids of the group's records."""
        return tuple(i for i, _ in self.records)


def compared_fields(entity: EntitySpec, principal: Optional[Principal] = None
                    ) -> dict[str, tuple[str, ...]]:
    """``{kind: field names}`` of the phone and email fields compared for ``principal``
    (all of them when None; fields hidden from the principal are left out)."""
    hidden = effective_access(entity, principal).hidden if principal is not None else ()
    return {kind: tuple(f.name for f in entity.fields.values()
                        if f.type == kind and f.name not in hidden) for kind in KINDS}


def _title_column(entity: EntitySpec, model: type) -> Any:
    title = entity.title
    if title and title in entity.fields and entity.fields[title].is_column \
            and entity.fields[title].type not in {"link", "user", "file"}:
        return getattr(model, title)
    return None


def _title(record_id: int, value: Any) -> str:
    return str(value) if value not in (None, "") else f"#{record_id}"


def _candidate_clause(model: type, kind: str, names: Iterable[str], key: str) -> Any:
    """A WHERE clause true for every row whose normalized value may equal ``key`` (a
    superset for phones: their digits in order, anything between; checked again in Python)."""
    if kind == "phone":
        pattern = "%" + "%".join(key.lstrip("+")) + "%"
        return or_(*(getattr(model, n).like(pattern) for n in names))
    return or_(*(func.lower(func.trim(getattr(model, n))) == key for n in names))


def readable_ids(session: Session, entity: EntitySpec, model: type, ids: Iterable[int],
                 principal: Optional[Principal]) -> set[int]:
    """Which of ``ids`` the principal may read (all of them for None: the command line)."""
    wanted = set(ids)
    criteria = read_criteria(model, entity, principal)
    if not wanted or criteria is None:
        return wanted
    query = select(model.id).where(model.id.in_(wanted), criteria)
    return set(session.scalars(query, execution_options={UNSCOPED: True}))


def find_matches(session: Session, entity: EntitySpec, model: type,
                 values: Mapping[str, Any], principal: Optional[Principal],
                 exclude_id: Optional[int] = None) -> dict[str, FieldMatches]:
    """Other records of ``entity`` sharing a phone or an email with ``values`` (a record's
    field values by name), keyed by the field of ``values`` that matched.

    For warnings on create (screens, API, imports, public forms): the record may be saved all
    the same. ``exclude_id`` leaves the record itself out once it is saved.
    """
    fields = compared_fields(entity, principal)
    title = _title_column(entity, model)
    found: dict[str, FieldMatches] = {}
    for kind, names in fields.items():
        if not names:
            continue
        normalize = KINDS[kind]
        for name in names:
            key = normalize(values.get(name))
            if not key:
                continue
            columns = [model.id, *(getattr(model, n) for n in names)]
            query = select(*columns, *([title] if title is not None else [])).where(
                _candidate_clause(model, kind, names, key))
            if exclude_id is not None:
                query = query.where(model.id != exclude_id)
            hits: dict[int, str] = {}
            for row in session.execute(query.order_by(model.id),
                                       execution_options={UNSCOPED: True}):
                stored = row[1:1 + len(names)]
                if any(normalize(v) == key for v in stored):
                    hits[row[0]] = _title(row[0], row[-1] if title is not None else None)
            if not hits:
                continue
            visible = readable_ids(session, entity, model, hits, principal)
            found[name] = FieldMatches(
                field=name, key=key,
                records=tuple((i, t) for i, t in hits.items() if i in visible),
                unseen=len(hits) - len(visible & set(hits)))
    return found


def match_warnings(entity: EntitySpec, matches: Mapping[str, FieldMatches]
                   ) -> dict[str, list[str]]:
    """``{field: [text]}`` in English: "also used by customer #12 Acme", and "also used by
    2 other record(s) you cannot see"."""
    out: dict[str, list[str]] = {}
    for name, match in matches.items():
        texts = [f"also used by {entity.name} #{i} {t}" if t != f"#{i}" else
                 f"also used by {entity.name} #{i}" for i, t in match.records]
        if match.unseen:
            texts.append(f"also used by {match.unseen} other record(s) you cannot see")
        out[name] = texts
    return out


# -- candidate groups ------------------------------------------------------------------------

class _Union:
    """Union-find over indexes (names that are similar end in one group)."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def name_groups(names: Mapping[int, str], window: int = NAME_WINDOW,
                ratio: float = NAME_RATIO) -> list[tuple[str, tuple[int, ...]]]:
    """Groups of record ids whose names (``{id: raw name}``) normalize alike or are similar
    neighbours in sorted order: ``(key, ids)`` pairs, the key being the normalized names
    joined by `` ~ ``."""
    by_name: dict[str, list[int]] = {}
    for record_id, raw in names.items():
        key = normalize_name(raw)
        if key:
            by_name.setdefault(key, []).append(record_id)
    ordered = sorted(by_name)
    union = _Union(len(ordered))
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    for j, name in enumerate(ordered):
        matcher.set_seq2(name)  # indexed once, compared with the names before it
        for i in range(max(0, j - window), j):
            other = ordered[i]
            if 2 * min(len(other), len(name)) < ratio * (len(other) + len(name)):
                continue  # the lengths alone keep the ratio below the bar
            matcher.set_seq1(other)
            if matcher.quick_ratio() >= ratio and matcher.ratio() >= ratio:
                union.join(i, j)
    members: dict[int, list[int]] = {}
    for i in range(len(ordered)):
        members.setdefault(union.find(i), []).append(i)
    groups = []
    for indexes in members.values():
        ids = tuple(sorted(x for i in indexes for x in by_name[ordered[i]]))
        if len(ids) > 1:
            groups.append((" ~ ".join(ordered[i] for i in indexes), ids))
    return sorted(groups)


def duplicate_groups(session: Session, entity: EntitySpec, model: type,
                     principal: Optional[Principal] = None,
                     reasons: Iterable[str] = REASONS) -> list[DuplicateGroup]:
    """Candidate duplicate groups among the records ``principal`` may read (all records for
    None): records sharing a normalized phone (any phone field), a normalized email (any
    email field), or a normalized or similar title. Listed by reason, then key."""
    fields = compared_fields(entity, principal)
    title = _title_column(entity, model)
    wanted = [r for r in REASONS if r in set(reasons)]
    columns = [model.id, *(getattr(model, n) for kind in KINDS for n in fields[kind])]
    query = select(*columns, *([title] if title is not None else []))
    criteria = read_criteria(model, entity, principal)
    if criteria is not None:
        query = query.where(criteria)
    titles: dict[int, str] = {}
    raw_names: dict[int, str] = {}
    keyed: dict[tuple[str, str], set[int]] = {}
    for row in session.execute(query, execution_options={UNSCOPED: True}):
        record_id = row[0]
        position = 1
        for kind in KINDS:
            for _ in fields[kind]:
                key = KINDS[kind](row[position])
                position += 1
                if key and kind in wanted:
                    keyed.setdefault((kind, key), set()).add(record_id)
        name = row[-1] if title is not None else None
        titles[record_id] = _title(record_id, name)
        if isinstance(name, str):
            raw_names[record_id] = name
    groups = [DuplicateGroup(kind, key, tuple((i, titles[i]) for i in sorted(ids)))
              for (kind, key), ids in keyed.items() if len(ids) > 1]
    if "name" in wanted:
        groups += [DuplicateGroup("name", key, tuple((i, titles[i]) for i in ids))
                   for key, ids in name_groups(raw_names)]
    return sorted(groups, key=lambda g: (REASONS.index(g.reason), g.key))
