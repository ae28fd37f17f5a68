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
from typing import Any, Literal, Optional, Union

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
#: Column length of text fields whose YAML gives no ``max`` or ``length``.
DEFAULT_TEXT_LENGTHS: Mapping[str, int] = MappingProxyType({
    "string": 255, "email": 254, "phone": 40, "url": 2048, "enum": 64, "number": 64})
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
    #: Earlier names of the field: ``portal migrate`` renames the column and keeps the data.
    renamed_from: tuple[str, ...] = ()

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
    #: The role may merge duplicate records (``portal.engines.merge``); needs ``read``.
    merge: bool = False


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
    #: Earlier names of the entity: ``portal migrate`` renames the table and keeps the data.
    renamed_from: tuple[str, ...] = ()

    def field(self, name: str) -> FieldSpec:
        """The field called ``name`` (KeyError if there is none)."""
        return self.fields[name]

    @property
    def mergeable(self) -> bool:
        """True when some role may merge this entity's duplicate records."""
        return any(rule.merge for rule in self.access.values())


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


# -- workflows (schemas/workflows/*.yaml) ------------------------------------------------------

#: Who may act, as written in a transition's ``by`` (see :class:`ActorRef`).
ACTOR_KINDS: tuple[str, ...] = ("owner", "role", "user", "manager_of", "head_of", "approver")
#: What an effect of entering a state does (one per effect).
EFFECT_KINDS: tuple[str, ...] = ("set", "notify", "create", "assign")
#: ``since: entered`` in a timed transition: when the record entered its current state.
SINCE_ENTERED = "entered"


@dataclass(frozen=True)
class ActorRef:
    """One way of naming who may act on a record.

    ``owner``: the record's owner; ``role``: any member of role ``value``; ``user``: the user
    in the record's user field ``value``; ``manager_of``: the manager of the user in field
    ``value`` (``owner`` means the record's owner); ``head_of``: the head of the department of
    the user in field ``value``; ``approver``: whoever may perform another transition out of
    the record's current state (used by reject).
    """

    kind: str
    value: Optional[str] = None

    def __str__(self) -> str:
        return self.kind if self.value is None else f"{self.kind}: {self.value}"


@dataclass(frozen=True)
class ActorRule:
    """Who may perform a transition: ``slots`` of which ``quorum`` distinct ones must approve.

    One slot (or ``any``) has quorum 1: the first of them to act fires the transition.
    ``all`` is a countersign (quorum = number of slots); ``{quorum: 2, of: [...]}`` is 2 of 3.
    """

    slots: tuple[ActorRef, ...]
    quorum: int = 1

    @property
    def is_countersign(self) -> bool:
        """True when more than one approval is needed before the transition fires."""
        return self.quorum > 1


@dataclass(frozen=True)
class Aggregate:
    """``sum(lines, quantity * unit_price)`` or ``count(contract.opportunity, signed)`` inside
    an expression: a function over related records.

    ``source`` is a ``children`` field of the record (``("lines",)``) or an entity and its link
    field pointing at the record (``("contract", "opportunity")``). ``value`` is evaluated on
    each related record (None for ``count``) and ``where`` filters them. ``key`` is the
    canonical text under which the evaluator looks up the computed value.
    """

    function: str
    source: tuple[str, ...]
    key: str
    value: Optional[Expression] = None
    where: Optional[Expression] = None


@dataclass(frozen=True)
class Expression:
    """A condition or formula over record fields (``amount > 5000 and grade in ['A', 'B']``,
    ``amount - sum(receipt.contract, amount)``), checked at compile time and evaluated by
    :mod:`portal.spec.expressions` (never ``eval``).

    ``names`` are the record's own fields; ``paths`` are fields reached through link fields
    (``("customer", "grade")`` for ``customer.grade``); ``aggregates`` are the functions over
    related records. Paths and aggregates are looked up by their canonical text.
    """

    source: str
    names: frozenset[str]
    tree: object = field(compare=False, repr=False, default=None)
    paths: frozenset[tuple[str, ...]] = frozenset()
    aggregates: tuple[Aggregate, ...] = ()


@dataclass(frozen=True)
class ValueRef:
    """A value an effect writes: a literal, a ``$field`` of the record (``$id`` too), or a
    dynamic value (``today``, ``now``, ``current_user``)."""

    literal: DefaultValue = None
    field: Optional[str] = None
    dynamic: Optional[str] = None


@dataclass(frozen=True)
class EffectSpec:
    """What happens on entering a state: ``set`` fields of the record, ``notify`` people,
    ``create`` a record of ``entity`` with ``values`` (its id written ``into`` a link field of
    the record), or ``assign`` the user field ``assign_field`` to the least loaded person
    ``assign_to`` names. ``when``: the effect runs only when this condition holds."""

    kind: str
    pos: SourcePos
    values: Mapping[str, ValueRef] = field(default_factory=lambda: MappingProxyType({}))
    notify: Optional[ActorRule] = None
    entity: Optional[str] = None
    message: Label = field(default_factory=Label)
    when: Optional[Expression] = None
    into: Optional[str] = None
    assign_field: Optional[str] = None
    assign_to: Optional[ActorRule] = None


@dataclass(frozen=True)
class TimerSpec:
    """``after: {days: 30, since: updated_at}`` of a timed transition: it fires ``days`` full
    days after the record's date or datetime field ``since`` (``created_at`` and
    ``updated_at`` too), or after it entered its current state (``since: entered``)."""

    days: int
    since: str = SINCE_ENTERED


@dataclass(frozen=True)
class StateSpec:
    """One state: its label, the fields that must be filled to enter it (a stage gate), the
    fields editable while in it (``None``: all that the role may edit), whether the record is
    locked in it (no edits, no deletion), and the effects of entering it."""

    name: str
    pos: SourcePos
    label: Label = field(default_factory=Label)
    required: tuple[str, ...] = ()
    editable: Optional[tuple[str, ...]] = None
    locked: bool = False
    effects: tuple[EffectSpec, ...] = ()
    #: A condition the record must meet to enter the state (a stage gate over related
    #: records, e.g. ``count(contract.opportunity) > 0``), and what to tell the user when not.
    gate: Optional[Expression] = None
    gate_message: Label = field(default_factory=Label)


@dataclass(frozen=True)
class TransitionSpec:
    """A named move between states. ``by`` None makes it automatic: it fires by itself when
    the record enters one of ``sources`` and ``when`` holds; with ``after`` it is timed: the
    ``workflow_timers`` tick job fires it once the record has waited long enough. ``values``
    are written to the record before the target state's required fields are checked."""

    name: str
    pos: SourcePos
    sources: tuple[str, ...]
    target: str
    label: Label = field(default_factory=Label)
    by: Optional[ActorRule] = None
    when: Optional[Expression] = None
    comment_required: bool = False
    self_approval: bool = False
    after: Optional[TimerSpec] = None
    values: Mapping[str, ValueRef] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def automatic(self) -> bool:
        """True when nobody performs it and it fires as soon as its condition holds."""
        return self.by is None and self.after is None

    @property
    def timed(self) -> bool:
        """True when the ``workflow_timers`` tick job performs it once it is due."""
        return self.after is not None


@dataclass(frozen=True)
class WorkflowSpec:
    """An approval flow over one entity, whose ``state_field`` (an enum of exactly the
    states) holds the current state."""

    name: str
    entity: str
    pos: SourcePos
    state_field: str
    states: Mapping[str, StateSpec]
    transitions: Mapping[str, TransitionSpec]
    initial: str
    label: Label = field(default_factory=Label)

    def outgoing(self, state: str) -> tuple[TransitionSpec, ...]:
        """The transitions that may leave ``state``, in definition order."""
        return tuple(t for t in self.transitions.values() if state in t.sources)


@dataclass(frozen=True)
class Registry:
    """Every compiled definition of one schema folder, frozen. Built once per compile."""

    entities: Mapping[str, EntitySpec]
    roles: Mapping[str, RoleSpec]
    modules: Mapping[str, ModuleSpec] = field(default_factory=lambda: MappingProxyType({}))
    workflows: Mapping[str, WorkflowSpec] = field(default_factory=lambda: MappingProxyType({}))
    #: Import mappings by name (``portal.spec.imports.ImportMapping``).
    imports: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: Reports by name (``portal.spec.reports.ReportSpec``).
    reports: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: Entity features (``portal.spec.features``): feature key -> entity name -> its spec.
    features: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: MappingProxyType({}))

    def entity(self, name: str) -> EntitySpec:
        """The entity called ``name`` (KeyError if there is none)."""
        return self.entities[name]

    def feature(self, key: str, entity: str) -> Any:
        """The compiled ``key`` feature of ``entity`` (a board, an overview...), or None."""
        return self.features.get(key, {}).get(entity)

    def workflow_of(self, entity: str) -> Optional[WorkflowSpec]:
        """The workflow of ``entity``, if one is declared (at most one per entity)."""
        for workflow in self.workflows.values():
            if workflow.entity == entity:
                return workflow
        return None

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
