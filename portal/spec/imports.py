"""Import mappings (``imports/**.yaml``): how the columns of a file become an entity's fields.

```yaml
import: maven_pipeline          # the mapping's name (portal import ... --mapping NAME)
entity: opportunity
key: name                       # optional: a row whose key exists updates that record
columns:                        # file column -> field, or a list of fields
  opportunity_id: name
  close_value: [amount, lines.unit_price]   # child row field: <children field>.<field>
  product: lines.product
values:                         # per field: value in the file -> value to store
  lines.product: {GTXPro: GTX Pro}
formats:                        # per date field: the file's date format
  close_date: dd-mm-yy
defaults: {stage: prospecting}  # for fields no column fills (or left empty)
```

A mapping is checked against the entities like every other definition: unknown entities,
fields, columns mapped twice to one field, date formats that are not dates, and computed
fields (``computed:`` in the entity's YAML), which no column or default may fill.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Optional

from portal.spec.loader import Document, Path
from portal.spec.model import EntitySpec, FieldSpec, SourcePos, SpecError
from portal.spec.report import Reporter
from portal.spec.suggest import suggest

#: Date format tokens a mapping may use, and their strptime directives.
DATE_TOKENS: Mapping[str, str] = MappingProxyType({
    "yyyy": "%Y", "yy": "%y", "mm": "%m", "dd": "%d", "hh": "%H", "mi": "%M", "ss": "%S"})
#: Field types a file column cannot fill.
NOT_IMPORTED = frozenset({"children", "file"})
TOP_KEYS = ("import", "entity", "key", "columns", "values", "formats", "defaults")


@dataclass(frozen=True)
class ImportMapping:
    """A checked mapping. Targets are ``field`` or ``<children field>.<field>``."""

    name: str
    entity: str
    columns: Mapping[str, tuple[str, ...]]
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    formats: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    key: Optional[str] = None

    def targets(self) -> list[str]:
        """Every field a column fills, in column order."""
        return [t for targets in self.columns.values() for t in targets]


def strptime_format(text: str) -> Optional[str]:
    """``dd-mm-yy`` as ``%d-%m-%y``; None when it names no date part."""
    out, i, found = "", 0, False
    lowered = text.lower()
    while i < len(text):
        token = next((t for t in sorted(DATE_TOKENS, key=len, reverse=True)
                      if lowered.startswith(t, i)), None)
        if token is None:
            out += "%%" if text[i] == "%" else text[i]
            i += 1
        else:
            out += DATE_TOKENS[token]
            found = True
            i += len(token)
    return out if found else None


def target_field(entities: Mapping[str, EntitySpec], entity: EntitySpec, target: str
                 ) -> tuple[Optional[EntitySpec], Optional[FieldSpec], Optional[str]]:
    """(entity holding the field, the field, why not) for a target ``field`` or
    ``children.field``."""
    head, _, rest = target.partition(".")
    f = entity.fields.get(head)
    if f is None:
        return None, None, f"unknown field '{head}' of '{entity.name}'"
    if not rest:
        return entity, f, None
    if f.type != "children" or f.target not in entities:
        return None, None, f"'{head}' is not a children field of '{entity.name}'"
    child = entities[f.target]
    inner = child.fields.get(rest)
    if inner is None:
        return None, None, f"unknown field '{rest}' of '{child.name}'"
    if inner.name == f.via:
        return None, None, f"'{rest}' links the row to its parent; it is filled by itself"
    return child, inner, None


#: Entity -> computed field -> its formula (``portal.spec.computed.formulas``).
Computed = Mapping[str, Mapping[str, str]]


def computed_refusal(entity: EntitySpec, f: FieldSpec, computed: Computed,
                     target: Optional[str] = None) -> Optional[str]:
    """Why a file may not fill ``f`` of ``entity`` (the mapping's ``target``) because it is
    computed; None when it is not."""
    formula = computed.get(entity.name, {}).get(f.name)
    if formula is None:
        return None
    return f"'{target or f.name}' is computed from {formula} and cannot be imported"


#: Imports into ``entity: user`` create or update portal users (matched by user name, or by
#: full name when there is no user name column).
USER_IMPORT_ENTITY = "user"


def _user_fields() -> Mapping[str, FieldSpec]:
    here = SourcePos("<users>", 0, 0)
    text = {"username": 64, "full_name": 128, "first_name": 64, "last_name": 64,
            "roles": 255, "department": 120, "manager": 128}
    fields = {name: FieldSpec(name=name, type="string", pos=here, max_length=size)
              for name, size in text.items()}
    fields["email"] = FieldSpec(name="email", type="email", pos=here, max_length=254)
    return MappingProxyType(fields)


def user_import_entity() -> EntitySpec:
    """The fields an import into users may fill (users are the portal's own, not YAML)."""
    return EntitySpec(name=USER_IMPORT_ENTITY, module="security",
                      pos=SourcePos("<users>", 0, 0), fields=_user_fields())


def validate_import(doc: Document, entities: Mapping[str, EntitySpec],
                    computed: Computed = MappingProxyType({})
                    ) -> tuple[Optional[ImportMapping], list[SpecError]]:
    """Check one mapping document against the compiled entities (``computed``: their
    computed fields, which the mapping may not fill)."""
    entities = {**entities, USER_IMPORT_ENTITY: user_import_entity()}
    rep = Reporter(doc)
    data = doc.data
    if not isinstance(data, dict):
        rep.add((), "bad-value", "an import mapping is a mapping with keys import, entity, "
                                 "columns")
        return None, rep.errors
    for key in data:
        if key not in TOP_KEYS:
            rep.add((key,), "unknown-key", f"unknown key '{key}'", suggest(str(key), TOP_KEYS),
                    at_key=True)
    for key in ("import", "entity", "columns"):
        if key not in data:
            rep.add((), "missing-key", f"missing required key '{key}'")
    name, entity_name = data.get("import"), data.get("entity")
    if "import" in data and (not isinstance(name, str) or not name):
        rep.add(("import",), "bad-value", "expected a name")
    entity = entities.get(entity_name) if isinstance(entity_name, str) else None
    if "entity" in data and entity is None:
        rep.add(("entity",), "unknown-ref", f"unknown entity '{entity_name}'",
                suggest(str(entity_name), entities))
    if entity is None or rep.errors:
        return None, rep.errors
    columns = _columns(rep, data.get("columns"), entities, entity, computed)
    targets = {t for ts in columns.values() for t in ts}
    values = _per_target(rep, "values", data.get("values"), entities, entity,
                         lambda path, v: _value_map(rep, path, v))
    formats = _per_target(rep, "formats", data.get("formats"), entities, entity,
                          lambda path, v: _format(rep, path, v, entities, entity))
    defaults = _per_target(rep, "defaults", data.get("defaults"), entities, entity,
                           lambda path, v: _default(rep, path, v, entities, entity, computed))
    key = data.get("key")
    if key is not None:
        _, f, why = target_field(entities, entity, key) if isinstance(key, str) else \
            (None, None, "expected a field name")
        if why or f is None or "." in key:
            rep.add(("key",), "unknown-field", why or "the key is a field of the entity itself",
                    suggest(str(key), entity.fields))
        elif key not in targets:
            rep.add(("key",), "bad-ref", f"no column fills the key field '{key}'")
    if rep.errors:
        return None, rep.errors
    return ImportMapping(str(name), entity.name, MappingProxyType(columns),
                         MappingProxyType(values), MappingProxyType(formats),
                         MappingProxyType(defaults), key), []


def _columns(rep: Reporter, raw: Any, entities: Mapping[str, EntitySpec],
             entity: EntitySpec, computed: Computed) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict) or not raw:
        if raw is not None:
            rep.add(("columns",), "bad-value", "expected a mapping of file column to field")
        return {}
    out: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    for column, targets in raw.items():
        path: Path = ("columns", column)
        names = [targets] if isinstance(targets, str) else targets
        if not isinstance(names, list) or not names or not all(
                isinstance(n, str) for n in names):
            rep.add(path, "bad-value", "expected a field name or a list of field names")
            continue
        for target in names:
            holder, f, why = target_field(entities, entity, target)
            if why:
                rep.add(path, "unknown-field", why, suggest(target.split(".")[-1],
                                                            (holder or entity).fields))
            elif f is not None and f.type in NOT_IMPORTED:
                rep.add(path, "bad-ref", f"a {f.type} field cannot be filled from a column")
            elif f is not None and holder is not None and (
                    why := computed_refusal(holder, f, computed, target)):
                rep.add(path, "computed-field", why)
            elif target in seen:
                rep.add(path, "duplicate-key", f"field '{target}' is already filled by column "
                                               f"'{seen[target]}'")
            seen.setdefault(target, str(column))
        out[str(column)] = tuple(names)
    return out


def _per_target(rep: Reporter, section: str, raw: Any, entities: Mapping[str, EntitySpec],
                entity: EntitySpec, check: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        rep.add((section,), "bad-value", "expected a mapping of field to its setting")
        return {}
    out = {}
    for target, value in raw.items():
        _, f, why = target_field(entities, entity, str(target))
        if why:
            rep.add((section, target), "unknown-field", why, at_key=True)
            continue
        out[str(target)] = check((section, target), value)
    return out


def _default(rep: Reporter, path: Path, raw: Any, entities: Mapping[str, EntitySpec],
             entity: EntitySpec, computed: Computed) -> Any:
    holder, f, _ = target_field(entities, entity, str(path[-1]))
    if f is not None and holder is not None and (
            why := computed_refusal(holder, f, computed, str(path[-1]))):
        rep.add(path, "computed-field", why, at_key=True)
    return raw


def _value_map(rep: Reporter, path: Path, raw: Any) -> Mapping[str, str]:
    if not isinstance(raw, dict):
        rep.add(path, "bad-value", "expected a mapping of value in the file to value to store")
        return {}
    return MappingProxyType({"" if k is None else str(k): "" if v is None else str(v)
                             for k, v in raw.items()})


def _format(rep: Reporter, path: Path, raw: Any, entities: Mapping[str, EntitySpec],
            entity: EntitySpec) -> str:
    _, f, _ = target_field(entities, entity, str(path[-1]))
    if f is not None and f.type not in {"date", "datetime"}:
        rep.add(path, "bad-ref", f"a format applies to date fields; '{f.name}' is a {f.type}")
    if not isinstance(raw, str) or strptime_format(raw) is None:
        rep.add(path, "bad-value", f"'{raw}' is not a date format (use dd, mm, yy, yyyy, e.g. "
                                   "dd-mm-yy)")
        return ""
    return raw


def _norm(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def guess_mapping(entities: Mapping[str, EntitySpec], entity: EntitySpec,
                  headers: list[str], computed: Computed = MappingProxyType({})
                  ) -> ImportMapping:
    """A mapping of the columns whose header names a field: its name, or its label in any
    language (``Customer name``, ``客户名称``), ignoring case, spaces and punctuation.
    Computed fields are left out (an exported list has them; the import recomputes them)."""
    names: dict[str, str] = {}
    for f in entity.fields.values():
        if f.type in NOT_IMPORTED or computed_refusal(entity, f, computed):
            continue
        for text in (f.name, *f.label.texts.values()):
            names.setdefault(_norm(text), f.name)
    columns: dict[str, tuple[str, ...]] = {}
    taken: set[str] = set()
    for header in headers:
        target = names.get(_norm(header))
        if target is not None and target not in taken:
            columns[header] = (target,)
            taken.add(target)
    return ImportMapping(f"{entity.name} (guessed)", entity.name, MappingProxyType(columns))


def mapping_from_text(text: str, file: str, entities: Mapping[str, EntitySpec],
                      computed: Computed = MappingProxyType({})
                      ) -> tuple[Optional[ImportMapping], list[SpecError]]:
    """A mapping written outside the schema folder (a file given to ``portal import``, or one
    saved from the import screen), checked the same way."""
    from portal.spec.loader import load_text

    docs, errors = load_text(text, file)
    if errors:
        return None, errors
    if len(docs) != 1:
        return None, [SpecError(file, 1, 1, "", "expected one import mapping", "bad-value")]
    return validate_import(docs[0], entities, computed)


def mapping_to_yaml(mapping: ImportMapping) -> str:
    """The mapping as the YAML it is written in (saved from the screen, shown to edit)."""
    import yaml

    doc: dict[str, Any] = {"import": mapping.name, "entity": mapping.entity}
    if mapping.key:
        doc["key"] = mapping.key
    doc["columns"] = {c: t[0] if len(t) == 1 else list(t) for c, t in mapping.columns.items()}
    for section in ("values", "formats", "defaults"):
        found = getattr(mapping, section)
        if found:
            doc[section] = {k: dict(v) if isinstance(v, Mapping) else v
                            for k, v in found.items()}
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def importable_targets(entities: Mapping[str, EntitySpec], entity: EntitySpec,
                       computed: Computed = MappingProxyType({})) -> list[str]:
    """Every target a column may fill: the entity's fields, then its child rows' fields
    (computed fields are not among them)."""
    targets = [f.name for f in entity.fields.values() if f.type not in NOT_IMPORTED
               and not computed_refusal(entity, f, computed)]
    for f in entity.fields.values():
        if f.type == "children" and f.target in entities:
            child = entities[f.target]
            targets.extend(f"{f.name}.{c.name}" for c in child.fields.values()
                           if c.name != f.via and c.type not in NOT_IMPORTED
                           and not computed_refusal(child, c, computed))
    return targets
