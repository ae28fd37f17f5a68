"""Frozen, typed definitions: the intermediate form between YAML and generated classes.

Everything here is plain data. The compiler (``portal.spec.compiler``) builds these objects
from YAML; generators and engines read them. Nothing in this layer imports Flask, FAB or
SQLAlchemy (a checked layering contract).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Literal, Optional, Union

LOCALES: tuple[str, ...] = ("en", "zh_CN", "zh_TW")

FIELD_TYPES: tuple[str, ...] = (
    "string",
    "text",
    "int",
    "decimal",
    "money",
    "bool",
    "date",
    "datetime",
    "enum",
    "email",
    "phone",
    "url",
    "user",
    "link",
    "children",
    "many",
    "file",
    "number",
)
#: Types whose value is text typed by a person (length options apply).
TEXT_TYPES: frozenset[str] = frozenset({"string", "text", "email", "phone", "url"})
#: Types with an ordered value (min/max options bound the value).
ORDERED_TYPES: frozenset[str] = frozenset({"int", "decimal", "money", "date", "datetime"})
#: Types that point at another entity.
RELATION_TYPES: frozenset[str] = frozenset({"link", "children", "many"})

Scope = Literal["own", "department", "all"]
SCOPES: tuple[str, ...] = ("own", "department", "all")
ACTIONS: tuple[str, ...] = ("read", "create", "update", "delete")

#: Dynamic defaults, written in YAML as these exact strings.
DYNAMIC_DEFAULTS: frozenset[str] = frozenset({"current_user", "today", "now"})


@dataclass(frozen=True)
class SourcePos:
    """Where a definition came from: file (as given to the compiler), 1-based line and column."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Label:
    """A text in several locales; ``get`` falls back to English, then to any locale."""

    texts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def get(self, locale: str, fallback: str = "") -> str:
        """The text for ``locale`` (``zh`` matches ``zh_CN``), else English, else ``fallback``."""
        for key in (locale, locale.replace("-", "_"), "zh_CN" if locale == "zh" else ""):
            if key and key in self.texts:
                return self.texts[key]
        if "en" in self.texts:
            return self.texts["en"]
        return fallback


@dataclass(frozen=True)
class DynamicDefault:
    """A default computed when a record is created: ``current_user``, ``today`` or ``now``."""

    kind: Literal["current_user", "today", "now"]


DefaultValue = Union[None, str, int, bool, Decimal, DynamicDefault]


@dataclass(frozen=True)
class NumberFormat:
    """A numbering pattern like ``CUS-{YYYY}-{#####}``, parsed into parts.

    ``parts`` alternate literal text and tokens; tokens are ``YYYY``, ``YY``, ``MM``, ``DD``
    and ``#`` runs (``digits`` is the length of the ``#`` run; one run is required).
    The counter resets whenever the date tokens' rendered value (the ``period``) changes.
    """

    pattern: str
    parts: tuple[str, ...]
    digits: int

    def period(self, year: int, month: int, day: int) -> str:
        """The counter's period key: the date tokens rendered, '' when the pattern has none."""
        tokens = {"YYYY": f"{year:04d}", "YY": f"{year % 100:02d}", "MM": f"{month:02d}",
                  "DD": f"{day:02d}"}
        return "-".join(tokens[p[1:-1]] for p in self.parts if p[1:-1] in tokens)

    def render(self, year: int, month: int, day: int, seq: int) -> str:
        """The number for sequence ``seq`` on the given date."""
        tokens = {"YYYY": f"{year:04d}", "YY": f"{year % 100:02d}", "MM": f"{month:02d}",
                  "DD": f"{day:02d}"}
        out = []
        for part in self.parts:
            name = part[1:-1] if part.startswith("{") and part.endswith("}") else None
            if name is None:
                out.append(part)
            elif name in tokens:
                out.append(tokens[name])
            else:  # a '#' run
                out.append(f"{seq:0{self.digits}d}")
        return "".join(out)


@dataclass(frozen=True)
class FieldSpec:
    """One field of an entity, validated and resolved.

    Options apply by type: ``max_length``/``min_length``/``length``/``pattern`` to text types,
    ``min_value``/``max_value`` to ordered types, ``values`` to enums, ``target`` to relations
    and ``user``, ``number_format`` to ``number``. ``scale`` is the decimal places of
    ``decimal`` (default 2) and ``money`` (always 2).
    """

    name: str
    type: str
    pos: SourcePos
    label: Label = field(default_factory=Label)
    help: Label = field(default_factory=Label)
    required: bool = False
    unique: bool = False
    index: bool = False
    default: DefaultValue = None
    min_length: Optional[int] = None
    max_length: Optional[int] = None
    length: Optional[int] = None
    min_value: Union[None, int, Decimal, str] = None
    max_value: Union[None, int, Decimal, str] = None
    pattern: Optional[str] = None
    values: tuple[str, ...] = ()
    value_labels: Mapping[str, Label] = field(default_factory=lambda: MappingProxyType({}))
    target: Optional[str] = None
    via: Optional[str] = None
    number_format: Optional[NumberFormat] = None
    scale: int = 2
    digits: int = 18

    @property
    def is_relation(self) -> bool:
        """True for link, children and many fields."""
        return self.type in RELATION_TYPES

    @property
    def is_column(self) -> bool:
        """True when the field is stored as a column of the entity's own table."""
        return self.type not in {"children", "many"}


@dataclass(frozen=True)
class AccessRule:
    """What one role may do on one entity. ``None`` means the action is not allowed."""

    role: str
    pos: SourcePos
    read: Optional[Scope] = None
    create: bool = False
    update: Optional[Scope] = None
    delete: Optional[Scope] = None
    hide: tuple[str, ...] = ()


@dataclass(frozen=True)
class ListSpec:
    """How the entity's list screen looks: columns, search fields, filters, default order."""

    columns: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()
    order_by: Optional[str] = None
    order_desc: bool = False


@dataclass(frozen=True)
class EntitySpec:
    """One entity: a table, its screens, its API and its permissions.

    ``owner`` names the ``user`` field that ``own`` and ``department`` scopes look at; when the
    YAML does not say, it is the field called ``owner`` if that is a user field, else the
    record's creator (the system column ``created_by``).
    """

    name: str
    module: str
    pos: SourcePos
    label: Label = field(default_factory=Label)
    title: Optional[str] = None
    fields: Mapping[str, FieldSpec] = field(default_factory=lambda: MappingProxyType({}))
    list: ListSpec = field(default_factory=ListSpec)
    access: Mapping[str, AccessRule] = field(default_factory=lambda: MappingProxyType({}))
    owner: Optional[str] = None
    icon: str = "fa-table"

    def field(self, name: str) -> FieldSpec:
        """The field called ``name`` (KeyError if there is none)."""
        return self.fields[name]


@dataclass(frozen=True)
class ModuleSpec:
    """A module (menu category) declared in ``modules.yaml``, or implied by an entity."""

    name: str
    label: Label = field(default_factory=Label)
    icon: str = "fa-folder"
    order: int = 100


@dataclass(frozen=True)
class RoleSpec:
    """A role declared in ``roles.yaml``."""

    name: str
    pos: SourcePos
    label: Label = field(default_factory=Label)
    description: str = ""


@dataclass(frozen=True)
class Registry:
    """Every compiled definition of one schema folder, frozen. Built once per compile."""

    entities: Mapping[str, EntitySpec]
    roles: Mapping[str, RoleSpec]
    modules: Mapping[str, ModuleSpec] = field(default_factory=lambda: MappingProxyType({}))

    def entity(self, name: str) -> EntitySpec:
        """The entity called ``name`` (KeyError if there is none)."""
        return self.entities[name]

    def children_of(self, parent: str) -> tuple[tuple[str, FieldSpec], ...]:
        """(child entity, field) pairs for every ``children`` field of ``parent``."""
        return tuple(
            (f.target, f) for f in self.entities[parent].fields.values()
            if f.type == "children" and f.target
        )

    def links_to(self, target: str) -> tuple[tuple[EntitySpec, FieldSpec], ...]:
        """(entity, field) pairs for every ``link`` field anywhere that points at ``target``."""
        return self._pointing_at("link").get(target, ())

    def parents_of(self, child: str) -> tuple[tuple[EntitySpec, FieldSpec], ...]:
        """(entity, field) pairs for every ``children`` field anywhere listing ``child``."""
        return self._pointing_at("children").get(child, ())

    def _pointing_at(self, field_type: str) -> Mapping[str, tuple[tuple[EntitySpec,
                                                                        FieldSpec], ...]]:
        """Target entity -> (entity, field) pairs of fields of ``field_type``, in definition
        order; computed once per registry (asking per entity would be quadratic)."""
        cache = self.__dict__.setdefault("_pointing_at_cache", {})
        if field_type not in cache:
            found: dict[str, list[tuple[EntitySpec, FieldSpec]]] = {}
            for e in self.entities.values():
                for f in e.fields.values():
                    if f.type == field_type and f.target:
                        found.setdefault(f.target, []).append((e, f))
            cache[field_type] = MappingProxyType({k: tuple(v) for k, v in found.items()})
        return cache[field_type]


@dataclass(frozen=True)
class SpecError:
    """One definition error.

    Printed as ``file:line:col: path: message; did you mean 'x'? [code]``.
    """

    file: str
    line: int
    col: int
    path: str
    message: str
    code: str
    suggestion: Optional[str] = None

    def __str__(self) -> str:
        hint = f"; did you mean '{self.suggestion}'?" if self.suggestion else ""
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.col}: {where}{self.message}{hint} [{self.code}]"

    def sort_key(self) -> tuple[str, int, int, str]:
        """Order by file, then position, then path."""
        return (self.file, self.line, self.col, self.path)


class SpecErrors(Exception):
    """Raised when a schema folder has errors; carries all of them, sorted."""

    def __init__(self, errors: list[SpecError]) -> None:
        self.errors = sorted(errors, key=SpecError.sort_key)
        super().__init__("\n".join(str(e) for e in self.errors))
