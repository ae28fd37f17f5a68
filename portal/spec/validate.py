"""Validating single documents (entity, roles, modules) into spec objects.

Each function checks one document alone: its shape (:mod:`portal.spec.schemas`), names and
type-dependent options. What needs other documents (targets, roles, field references) is
checked by :mod:`portal.spec.resolve`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from portal.spec.features import feature_keys
from portal.spec.fielddefs import FieldBuilder
from portal.spec.labels import humanize, make_label
from portal.spec.loader import Document, Path
from portal.spec.model import (
    AccessRule,
    EntitySpec,
    FieldSpec,
    ListSpec,
    ModuleSpec,
    RoleSpec,
    SpecError,
)
from portal.spec.report import Reporter
from portal.spec.reserved import (
    NAME_MAX,
    NAME_RE,
    SYSTEM_FIELDS,
    entity_name_reason,
    field_name_reason,
    role_name_reason,
)
from portal.spec.schemas import (
    EntitySchema,
    ModulesSchema,
    RolesSchema,
    load_shape,
)

DEFAULT_MODULE = "general"
DEFAULT_ICON = "fa-table"


@dataclass(frozen=True)
class EntityDraft:
    """An entity checked alone, with the document it came from (for positions in later errors).

    ``broken`` names fields that were declared but could not be built, and ``fields_ok`` is False
    when the ``fields`` mapping itself is missing or wrong: references to such fields are not
    reported again. ``lowercase`` is False when the name is only wrong by case (the
    resolver reports it as a collision or as a bad name).
    """

    spec: EntitySpec
    doc: Document
    broken: frozenset[str]
    lowercase: bool = True
    fields_ok: bool = True

    def is_broken(self, field: str) -> bool:
        """True when ``field`` may exist but could not be checked (do not report it unknown)."""
        return field in self.broken or not self.fields_ok


def name_problem(kind: str, name: str) -> str | None:
    """Why ``name`` does not fit the name rule, or ``None``."""
    if len(name) > NAME_MAX:
        return f"{kind} name '{name}' is longer than {NAME_MAX} characters"
    if not NAME_RE.match(name):
        return (f"{kind} name '{name}' must start with a lowercase letter and contain only "
                "lowercase letters, digits and '_'")
    return None


def _expand_shorthand(doc: Document) -> tuple[Document, Any]:
    """``note: text`` -> ``note: {type: text}``, keeping positions."""
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("fields"), dict):
        return doc, data
    fields = dict(data["fields"])
    value_pos = dict(doc.value_pos)
    for name, value in fields.items():
        if isinstance(value, str):
            fields[name] = {"type": value}
            value_pos[("fields", name, "type")] = doc.value_pos[("fields", name)]
    return replace(doc, value_pos=value_pos), {**data, "fields": fields}


def validate_entity(doc: Document, folder_module: str | None, *,
                    shape: EntitySchema | None = None
                    ) -> tuple[EntityDraft | None, list[SpecError]]:
    """Check one entity document. ``folder_module`` is the first folder under ``entities/``
    (the entity's module unless the document names one; lowercased). ``shape`` is an
    ``EntitySchema`` to reuse (building one per document is a fifth of a compile)."""
    doc, data = _expand_shorthand(doc)
    rep = Reporter(doc, data)
    own = data
    if isinstance(data, dict):  # feature keys are compiled later, by their own modules
        keys = feature_keys()
        own = {k: v for k, v in data.items() if k not in keys}
    valid, issues = load_shape(shape or EntitySchema(), own)
    rep.issues(issues)
    name = valid.get("entity")
    usable, lowercase = _entity_name(rep, name)
    module = _module(rep, valid.get("module"), folder_module)
    fields, broken = _fields(rep, data.get("fields") if isinstance(data, dict) else None,
                             valid.get("fields") or {})
    if not usable or name is None:
        return None, rep.errors
    title = valid.get("title") or next((f.name for f in fields.values() if f.type == "string"),
                                       None)
    owner = valid.get("owner")
    if owner is None and "owner" in fields and fields["owner"].type == "user":
        owner = "owner"
    spec = EntitySpec(
        name=name, module=module or DEFAULT_MODULE, pos=doc.pos(("entity",)),
        label=make_label(valid.get("label"), humanize(name, title=True)), title=title,
        fields=MappingProxyType(fields), list=_list(valid.get("list") or {}),
        access=MappingProxyType(_access(rep, valid.get("access") or {})), owner=owner,
        icon=valid.get("icon") or DEFAULT_ICON,
        renamed_from=tuple(valid.get("renamed_from") or ()),
    )
    fields_ok = isinstance(data, dict) and isinstance(data.get("fields"), dict)
    return EntityDraft(spec, doc, frozenset(broken), lowercase, fields_ok), rep.errors


def _entity_name(rep: Reporter, name: str | None) -> tuple[bool, bool]:
    """(usable, lowercase) for the entity name, reporting what is wrong with it."""
    if name is None:
        return False, True
    reason = entity_name_reason(name)
    if reason:
        rep.add(("entity",), "reserved-name", f"entity name '{name}' {reason}")
        return False, True
    problem = name_problem("entity", name)
    if problem is None:
        return True, True
    if name_problem("entity", name.lower()) is None:
        return True, False  # only the case is wrong: the resolver decides how to report it
    rep.add(("entity",), "bad-name", problem)
    return False, True


def _module(rep: Reporter, module: str | None, folder_module: str | None) -> str | None:
    if module is not None:
        problem = name_problem("module", module)
        if problem:
            rep.add(("module",), "bad-name", problem)
            return None
        return module
    if folder_module is None:
        return DEFAULT_MODULE
    if name_problem("module", folder_module.lower()):
        rep.add(("entity",), "bad-name",
                f"folder '{folder_module}' is not a valid module name; set 'module:'")
        return None
    return folder_module.lower()


def _fields(rep: Reporter, raw: Any, valid: dict[str, Any]
            ) -> tuple[dict[str, FieldSpec], set[str]]:
    fields: dict[str, FieldSpec] = {}
    broken: set[str] = set()
    if not isinstance(raw, dict):
        return fields, broken
    if not raw:
        rep.add(("fields",), "missing-key", "an entity needs at least one field")
    for name, field_raw in raw.items():
        path: Path = ("fields", name)
        reason = field_name_reason(name)
        problem = None if reason else name_problem("field", name)
        if reason:
            rep.add(path, "reserved-name", f"field name '{name}' {reason}", at_key=True)
        elif problem:
            rep.add(path, "bad-name", problem, at_key=True)
        builder = FieldBuilder(rep, path, name, rep.doc.pos(path, key=True))
        spec = None
        if isinstance(field_raw, dict) and name in valid:
            spec = builder.build(field_raw, valid[name])
        if reason and name in SYSTEM_FIELDS:
            continue  # a system column: references to it stay valid
        if spec is None or reason or problem:
            broken.add(name)
        else:
            fields[name] = spec
    return fields, broken


def _list(raw: dict[str, Any]) -> ListSpec:
    order = raw.get("order")
    desc = bool(order and order.startswith("-"))
    return ListSpec(
        columns=tuple(raw.get("columns", ())), search=tuple(raw.get("search", ())),
        filters=tuple(raw.get("filters", ())), order_by=order[1:] if desc else order,
        order_desc=desc,
    )


def _access(rep: Reporter, raw: dict[str, Any]) -> dict[str, AccessRule]:
    rules: dict[str, AccessRule] = {}
    for role, rule in raw.items():
        for action in ("update", "delete", "merge"):
            if rule.get(action) and not rule.get("read") and "read" not in _raw_keys(rep, role):
                rep.add(("access", role, action), "bad-value", f"{action} needs read")
        rules[role] = AccessRule(
            role=role, pos=rep.doc.pos(("access", role), key=True), read=rule.get("read"),
            create=rule.get("create", False), update=rule.get("update"),
            delete=rule.get("delete"), hide=tuple(rule.get("hide", ())),
            merge=rule.get("merge", False),
        )
    return rules


def _raw_keys(rep: Reporter, role: str) -> set[str]:
    access = rep.data.get("access") if isinstance(rep.data, dict) else None
    rule = access.get(role) if isinstance(access, dict) else None
    return set(rule) if isinstance(rule, dict) else set()


def _named_entries(data: Any, key: str) -> Any:
    """``name: null`` -> ``name: {}`` and ``name: Text`` -> ``name: {label: Text}``."""
    if not isinstance(data, dict) or key not in data:
        return data
    if data[key] is None:  # an empty file section: nothing declared
        return {**data, key: {}}
    if not isinstance(data[key], dict):
        return data
    entries = {name: {} if value is None else {"label": value} if isinstance(value, str)
               else value for name, value in data[key].items()}
    return {**data, key: entries}


def validate_roles(doc: Document) -> tuple[dict[str, RoleSpec], list[SpecError]]:
    """Check ``roles.yaml``: every declared role by name."""
    data = _named_entries(doc.data, "roles")
    rep = Reporter(doc, data)
    valid, issues = load_shape(RolesSchema(), data)
    rep.issues(issues)
    roles: dict[str, RoleSpec] = {}
    for name, role in (valid.get("roles") or {}).items():
        path: Path = ("roles", name)
        reason = role_name_reason(name)
        problem = name_problem("role", name)
        if reason:
            rep.add(path, "reserved-name", f"role name '{name}' {reason}", at_key=True)
        elif problem:
            rep.add(path, "bad-name", problem, at_key=True)
        else:
            roles[name] = RoleSpec(
                name=name, pos=doc.pos(path, key=True),
                label=make_label(role.get("label"), humanize(name, title=True)),
                description=role.get("description", ""),
            )
    return roles, rep.errors


def validate_modules(doc: Document) -> tuple[dict[str, ModuleSpec], list[SpecError]]:
    """Check ``modules.yaml``: every declared module by name."""
    data = _named_entries(doc.data, "modules")
    rep = Reporter(doc, data)
    valid, issues = load_shape(ModulesSchema(), data)
    rep.issues(issues)
    modules: dict[str, ModuleSpec] = {}
    for name, module in (valid.get("modules") or {}).items():
        problem = name_problem("module", name)
        if problem:
            rep.add(("modules", name), "bad-name", problem, at_key=True)
            continue
        extra = {k: module[k] for k in ("icon", "order") if k in module}
        modules[name] = ModuleSpec(
            name=name, label=make_label(module.get("label"), humanize(name, title=True)),
            **extra,
        )
    return modules, rep.errors
