"""Cross-document resolution: what one entity document cannot check alone.

Entity names across files (duplicates, case collisions), relation targets, children back-links,
field references (list, title, owner, hidden fields) and roles named in access blocks; then the
workflows against the entities (:mod:`portal.spec.resolve_workflows`). The result is one
frozen :class:`Registry`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from types import MappingProxyType

from portal.spec.labels import humanize, make_label
from portal.spec.loader import Path
from portal.spec.model import (
    EntitySpec,
    FieldSpec,
    ModuleSpec,
    Registry,
    RoleSpec,
    SpecError,
)
from portal.spec.report import Reporter
from portal.spec.reserved import RESERVED_ROLE_NAMES, SYSTEM_FIELDS
from portal.spec.resolve_workflows import resolve_workflows
from portal.spec.suggest import suggest
from portal.spec.validate import EntityDraft, name_problem
from portal.spec.workflows import WorkflowDraft

#: Field types a list may search in (text the user can type).
SEARCHABLE_TYPES: frozenset[str] = frozenset(
    {"string", "text", "email", "phone", "url", "number", "enum"}
)
#: The system column that ``own``/``department`` scopes use when no owner field is named.
CREATOR_FIELD = "created_by"


def resolve(drafts: list[EntityDraft], roles: dict[str, RoleSpec],
            modules: dict[str, ModuleSpec], workflows: Sequence[WorkflowDraft] = ()
            ) -> tuple[Registry | None, list[SpecError]]:
    """Check references between documents and build the registry (``None`` on any error)."""
    errors: list[SpecError] = []
    unique = _unique_entities(drafts, errors)
    resolved: dict[str, EntitySpec] = {}
    for draft in unique.values():
        rep = Reporter(draft.doc)
        resolved[draft.spec.name] = _EntityResolver(draft, unique, roles, rep).run()
        errors.extend(rep.errors)
    # checked even when entities have errors: a broken entity must not hide workflow errors
    flows, found = resolve_workflows(workflows, unique, roles)
    errors.extend(found)
    if errors:
        return None, errors
    all_modules = dict(modules)
    for entity in resolved.values():
        if entity.module not in all_modules:
            all_modules[entity.module] = ModuleSpec(
                entity.module, make_label(None, humanize(entity.module, title=True))
            )
    ordered_modules = sorted(all_modules.values(), key=lambda m: (m.order, m.name))
    return Registry(
        entities=MappingProxyType({n: resolved[n] for n in sorted(resolved)}),
        roles=MappingProxyType(dict(roles)),
        modules=MappingProxyType({m.name: m for m in ordered_modules}),
        workflows=MappingProxyType({n: flows[n] for n in sorted(flows)}),
    ), errors


def _unique_entities(drafts: list[EntityDraft], errors: list[SpecError]
                     ) -> dict[str, EntityDraft]:
    """The first draft of each name (case-insensitive); later ones are reported."""
    first: dict[str, EntityDraft] = {}
    for draft in sorted(drafts, key=lambda d: (d.spec.pos.file, d.spec.pos.line)):
        name = draft.spec.name
        rep = Reporter(draft.doc)
        seen = first.get(name.lower())
        if seen is not None:
            where = str(seen.spec.pos).rsplit(":", 1)[0]
            if seen.spec.name == name:
                rep.add(("entity",), "duplicate-entity",
                        f"duplicate entity '{name}' (first at {where})")
            else:
                rep.add(("entity",), "name-collision",
                        f"entity '{name}' differs only by case from '{seen.spec.name}' "
                        f"(at {where}); names must be lowercase")
        elif not draft.lowercase:
            rep.add(("entity",), "bad-name", name_problem("entity", name) or "")
            first[name.lower()] = draft
        else:
            first[name.lower()] = draft
        errors.extend(rep.errors)
    return {d.spec.name: d for d in first.values() if d.lowercase}


class _EntityResolver:
    """Resolves one entity against the others; errors go to its document's reporter."""

    def __init__(self, draft: EntityDraft, entities: dict[str, EntityDraft],
                 roles: dict[str, RoleSpec], rep: Reporter) -> None:
        self.draft = draft
        self.spec = draft.spec
        self.entities = entities
        self.roles = roles
        self.rep = rep

    def run(self) -> EntitySpec:
        fields = {name: self._relation(f) for name, f in self.spec.fields.items()}
        owner = self._owner()
        if self.spec.title and "title" in self._keys():
            self._field_ref(("title",), self.spec.title, forbid={"children", "many"},
                            what="title")
        self._list()
        self._access()
        self._old_names()
        return replace(self.spec, fields=MappingProxyType(fields), owner=owner)

    def _old_names(self) -> None:
        """``renamed_from`` names must be free: an old name still in use would be two
        things at once, and one old name cannot become two fields or entities."""
        for old in self.spec.renamed_from:
            if old in self.entities or old == self.spec.name:
                self.rep.add(("renamed_from",), "bad-ref",
                             f"'{old}' is still an entity; an old name must be free")
            for other in self.entities.values():
                if other is not self.draft and old in other.spec.renamed_from:
                    self.rep.add(("renamed_from",), "bad-ref",
                                 f"entity '{other.spec.name}' was also renamed from '{old}'")
        claimed: dict[str, str] = {}
        for f in self.spec.fields.values():
            for old in f.renamed_from:
                path = ("fields", f.name, "renamed_from")
                if old in self.spec.fields or old == f.name:
                    self.rep.add(path, "bad-ref", f"'{old}' is still a field of "
                                                  f"'{self.spec.name}'; an old name must be free")
                elif old in claimed:
                    self.rep.add(path, "bad-ref", f"field '{claimed[old]}' was also renamed "
                                                  f"from '{old}'")
                claimed.setdefault(old, f.name)

    def _keys(self) -> set[str]:
        data = self.draft.doc.data
        return set(data) if isinstance(data, dict) else set()

    # -- relations -----------------------------------------------------------------------------

    def _relation(self, field: FieldSpec) -> FieldSpec:
        if not field.is_relation or field.target is None:
            return field
        path: Path = ("fields", field.name, "entity")
        target = self.entities.get(field.target)
        if target is None:
            self.rep.add(path, "unknown-ref", f"unknown entity '{field.target}'",
                         suggest(field.target, self.entities))
            return field
        if field.type != "children":
            return field
        return replace(field, via=self._backlink(field, target))

    def _backlink(self, field: FieldSpec, child: EntityDraft) -> str | None:
        parent = self.spec.name
        links = [f.name for f in child.spec.fields.values()
                 if f.type == "link" and f.target == parent]
        if field.via is not None:
            path: Path = ("fields", field.name, "via")
            via = child.spec.fields.get(field.via)
            if via is None:
                if not child.is_broken(field.via):
                    self.rep.add(path, "unknown-field",
                                 f"entity '{child.spec.name}' has no field '{field.via}'",
                                 suggest(field.via, links or child.spec.fields))
                return None
            if via.type != "link" or via.target != parent:
                self.rep.add(path, "bad-ref",
                             f"field '{field.via}' of entity '{child.spec.name}' is not a link "
                             f"to '{parent}'", suggest(field.via, links))
                return None
            return field.via
        path = ("fields", field.name, "entity")
        if len(links) == 1:
            return links[0]
        if not links and not child.broken and child.fields_ok:
            self.rep.add(path, "missing-backlink",
                         f"entity '{child.spec.name}' has no link field to '{parent}'; add "
                         f"one (type: link, entity: {parent})")
        elif links:
            self.rep.add(path, "ambiguous-backlink",
                         f"entity '{child.spec.name}' has several link fields to '{parent}' "
                         f"({', '.join(links)}); choose one with 'via'")
        return None

    # -- field references ----------------------------------------------------------------------

    def _field_ref(self, path: Path, name: str, *, forbid: Iterable[str] = (),
                   only: Iterable[str] | None = None, what: str = "this") -> FieldSpec | None:
        """Check that ``name`` is a field (or system column) of this entity."""
        if self.draft.is_broken(name):
            return None
        field = self.spec.fields.get(name)
        if field is None:
            if name not in SYSTEM_FIELDS:
                self.rep.add(path, "unknown-field", f"unknown field '{name}'",
                             suggest(name, [*self.spec.fields, *SYSTEM_FIELDS]))
            elif only is not None:
                message = (f"owner must be a user field, '{name}' is a system column"
                           if what == "owner" else f"{what} cannot use system field '{name}'")
                self.rep.add(path, "bad-ref", message)
            return None
        if field.type in set(forbid) or (only is not None and field.type not in set(only)):
            if what == "owner":
                message = f"owner must be a user field, '{name}' is of type '{field.type}'"
            else:
                message = f"{what} cannot use field '{name}' of type '{field.type}'"
            self.rep.add(path, "bad-ref", message)
        return field

    def _owner(self) -> str | None:
        owner = self.spec.owner
        if owner is None or "owner" not in self._keys():
            return owner
        if owner == CREATOR_FIELD:
            return None
        self._field_ref(("owner",), owner, only={"user"}, what="owner")
        return owner

    def _list(self) -> None:
        listing = self.spec.list
        checks = (("columns", listing.columns, {"children", "many"}, None, "a column"),
                  ("search", listing.search, (), SEARCHABLE_TYPES, "search"),
                  ("filters", listing.filters, {"children"}, None, "a filter"))
        for key, names, forbid, only, what in checks:
            for i, name in enumerate(names):
                self._field_ref(("list", key, i), name, forbid=forbid, only=only, what=what)
        if listing.order_by is not None:
            self._field_ref(("list", "order"), listing.order_by, forbid={"children", "many"},
                            what="order")

    def _access(self) -> None:
        for role, rule in self.spec.access.items():
            path: Path = ("access", role)
            if role.lower() == "admin":
                self.rep.add(path, "reserved-name",
                             f"role '{role}' always has full access; remove it from access",
                             at_key=True)
            elif role.lower() in RESERVED_ROLE_NAMES:
                self.rep.add(path, "reserved-name",
                             f"role '{role}' is built in (anonymous users) and cannot be "
                             "granted access", at_key=True)
            elif role not in self.roles:
                self.rep.add(path, "unknown-ref", f"unknown role '{role}'",
                             suggest(role, self.roles), at_key=True)
            for i, name in enumerate(rule.hide):
                self._field_ref(("access", role, "hide", i), name)
