"""Marshmallow schemas for the shape of a workflow document (``workflows/**/*.yaml``).

Like :mod:`portal.spec.schemas`, these check keys, required keys and the kind of every value,
reporting coded :class:`Issue` objects. Values with a small grammar of their own are parsed
here into spec objects, so that the valid data already holds them: ``by``/``notify`` become
:class:`ActorRule`, ``when`` an :class:`Expression`, effect values :class:`ValueRef`. What
depends on other parts of the document (state names) or other documents (fields, roles) is
checked by :mod:`portal.spec.workflows` and :mod:`portal.spec.resolve_workflows`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import ValidationError
from marshmallow import fields as mf

from portal.spec.expressions import ExpressionError, parse
from portal.spec.loader import Path
from portal.spec.model import DYNAMIC_DEFAULTS, ActorRef, ActorRule, ValueRef
from portal.spec.reserved import NAME_RE
from portal.spec.schemas import (
    MISSING,
    DocSchema,
    Flag,
    Issue,
    LabelText,
    NameList,
    Strict,
    Text,
    Whole,
    describe,
    expected,
    fail,
    mapping_of,
)
from portal.spec.suggest import suggest

#: Actors written as a bare string.
NAMED_ACTORS: tuple[str, ...] = ("owner", "approver")
#: One-key mappings naming a single actor: ``{role: finance}``.
SINGLE_ACTOR_KEYS: tuple[str, ...] = ("role", "user", "manager_of", "head_of")
#: Mappings naming several actors: ``{any: [...]}``, ``{all: [...]}``, ``{quorum: N, of: [...]}``.
GROUP_ACTOR_KEYS: tuple[str, ...] = ("any", "all", "quorum", "of")
ACTOR_KEYS: tuple[str, ...] = SINGLE_ACTOR_KEYS + GROUP_ACTOR_KEYS
COMMENT_CHOICES: tuple[str, ...] = ("required", "optional")
#: The value prefix of a field reference in effects: ``$amount``.
FIELD_PREFIX = "$"

class _Invalid(Exception):
    """An actor or value was reported as wrong; carries the marshmallow-style messages."""

    def __init__(self, messages: Any) -> None:
        super().__init__("invalid")
        self.messages = messages


def _unknown_keys(value: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = {k: [Issue("unknown-key", f"unknown key '{k}'", suggest(k, allowed), at_key=True)]
               for k in value if k not in allowed}
    if unknown:
        raise _Invalid(unknown)


def _too_many(value: dict[str, Any]) -> _Invalid:
    keys = ", ".join(f"'{k}'" for k in value)
    return _Invalid([Issue("bad-value", f"name one actor per mapping, got keys {keys} (use any, "
                                        "all or quorum with of for several)")])


def _single_actor(item: Any, group: str | None) -> ActorRef:
    """``owner``, ``approver`` or a one-key mapping such as ``{role: finance}``; ``group`` is
    the list the item is in (``any``/``all``/``of``), if any."""
    if isinstance(item, str):
        if item in NAMED_ACTORS:
            return ActorRef(item)
        raise _Invalid([Issue("bad-value", f"unknown actor '{item}' (expected owner, approver "
                                           "or a mapping such as role: ...)",
                              suggest(item, NAMED_ACTORS))])
    if not isinstance(item, dict):
        raise _Invalid([Issue("bad-value", f"expected an actor, got {describe(item)}")])
    nested = [k for k in item if k in GROUP_ACTOR_KEYS]
    if group is not None and nested:
        raise _Invalid([Issue("bad-value", f"an actor in '{group}' is a single actor; "
                                           f"'{nested[0]}' cannot be nested")])
    _unknown_keys(item, SINGLE_ACTOR_KEYS if group else ACTOR_KEYS)
    if not item:
        raise _Invalid([Issue("bad-value", "expected an actor, got an empty mapping")])
    if len(item) > 1:
        raise _too_many(item)
    kind, name = next(iter(item.items()))
    if not isinstance(name, str) or not name:
        raise _Invalid({kind: [Issue("bad-value", f"expected a name, got {describe(name)}")]})
    return ActorRef(kind, name)


def actor_rule(value: Any) -> ActorRule:
    """The :class:`ActorRule` written as ``value`` (a ``by`` or ``notify``), or raise
    :class:`ValidationError` with coded issues keyed by the path inside ``value``."""
    try:
        return _actor_rule(value)
    except _Invalid as exc:
        raise ValidationError(exc.messages) from None


#: The key sets a group of actors may have.
_GROUP_FORMS: tuple[frozenset[str], ...] = (
    frozenset({"any"}), frozenset({"all"}), frozenset({"quorum", "of"}),
)


def _actor_rule(value: Any) -> ActorRule:
    if not isinstance(value, dict) or not any(k in GROUP_ACTOR_KEYS for k in value):
        return ActorRule((_single_actor(value, None),))
    _unknown_keys(value, ACTOR_KEYS)
    keys = frozenset(value)
    if keys in (frozenset({"quorum"}), frozenset({"of"})):
        raise _Invalid({"of" if "quorum" in keys else "quorum": [MISSING]})
    if keys not in _GROUP_FORMS:
        raise _too_many(value)
    group = "of" if "of" in keys else next(iter(keys))
    slots = _slots(value[group], group)
    if group == "any":
        return ActorRule(slots, 1)
    if group == "all":
        return ActorRule(slots, len(slots))
    return ActorRule(slots, _quorum(value["quorum"], len(slots)))


def _slots(items: Any, group: str) -> tuple[ActorRef, ...]:
    if not isinstance(items, list):
        raise _Invalid({group: [Issue("bad-value", f"expected a list of actors, got "
                                                   f"{describe(items)}")]})
    if not items:
        raise _Invalid({group: [Issue("bad-value", "expected at least one actor")]})
    slots: list[ActorRef] = []
    errors: dict[int, Any] = {}
    for i, item in enumerate(items):
        try:
            slots.append(_single_actor(item, group))
        except _Invalid as exc:
            errors[i] = exc.messages
    if errors:
        raise _Invalid({group: errors})
    return tuple(slots)


def _quorum(value: Any, count: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        problem = f"expected an integer, got {describe(value)}"
    elif value < 1:
        problem = f"quorum must be at least 1, got {describe(value)}"
    elif value > count:
        problem = f"quorum {value} is more than the {count} actors in 'of'"
    else:
        return value
    raise _Invalid({"quorum": [Issue("bad-value", problem)]})


def actor_slot_paths(value: Any, path: Path) -> tuple[Path, ...]:
    """The path of each slot of the (valid) actor ``value`` at ``path``, in slot order: where
    to report a problem with that slot's role or field (``by.any.role`` rather than ``by``)."""
    if not isinstance(value, dict):
        return (path,)
    group = next((k for k in ("any", "all", "of") if k in value), None)
    if group is None:
        return tuple((*path, key) for key in value)
    return tuple((*path, group, i, *_single_key(item)) for i, item in enumerate(value[group]))


def _single_key(item: Any) -> tuple[str, ...]:
    """``('role',)`` for ``{role: finance}``, ``()`` for ``owner``."""
    return tuple(item) if isinstance(item, dict) else ()


def value_ref(value: Any) -> ValueRef:
    """What an effect writes: ``$field``, ``today``/``now``/``current_user`` or a literal."""
    if isinstance(value, str) and value.startswith(FIELD_PREFIX):
        name = value[len(FIELD_PREFIX):]
        if not NAME_RE.match(name):
            raise fail("bad-value", f"expected '$' followed by a field name, got '{value}'")
        return ValueRef(field=name)
    if isinstance(value, str) and value in DYNAMIC_DEFAULTS:
        return ValueRef(dynamic=value)
    if value is None or isinstance(value, (str, int, Decimal)):  # bool is an int
        return ValueRef(literal=value)
    raise fail("bad-value", f"expected a single value, got {describe(value)}")


# ---------------------------------------------------------------------------------------------
# Fields with a grammar of their own.

class Actor(Strict):
    """Who may act: ``owner``, ``approver``, ``{role: r}``, ``{user: f}``, ``{manager_of: f}``,
    ``{head_of: f}``, ``{any: [...]}``, ``{all: [...]}`` or ``{quorum: n, of: [...]}``."""

    kind = "an actor (owner, approver or a mapping such as role: ...)"

    def check(self, value: Any) -> bool:
        return isinstance(value, (str, dict))

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        return actor_rule(super()._deserialize(value, attr, data, **kwargs))


class StateNames(Strict):
    """One state name or a list of them; loaded as a tuple."""

    kind = "a state name or a list of state names"

    def check(self, value: Any) -> bool:
        return (isinstance(value, str) and value != "") or isinstance(value, list)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        value = super()._deserialize(value, attr, data, **kwargs)
        if isinstance(value, str):
            return (value,)
        if not value:
            raise fail("bad-value", "expected at least one state")
        errors = {i: [Issue("bad-value", f"expected a state name, got {describe(item)}")]
                  for i, item in enumerate(value) if not isinstance(item, str) or not item}
        if errors:
            raise ValidationError(errors)
        return tuple(value)


class Comment(Strict):
    """``required`` or ``optional``; loaded as whether a comment is required."""

    kind = "required or optional"

    def check(self, value: Any) -> bool:
        return isinstance(value, str)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        value = super()._deserialize(value, attr, data, **kwargs)
        if value not in COMMENT_CHOICES:
            raise fail("bad-value", f"expected required or optional, got '{value}'",
                       suggest(value, COMMENT_CHOICES))
        return value == "required"


class Condition(Strict):
    """A condition over the record's fields; loaded as an :class:`Expression`."""

    kind = "a condition (a string such as amount > 5000)"

    def check(self, value: Any) -> bool:
        return isinstance(value, str)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parse(value)
        except ExpressionError as exc:
            raise fail("bad-expression", str(exc)) from None


class Values(Strict):
    """A mapping of field name to value; loaded as a mapping of name to :class:`ValueRef`."""

    kind = "a mapping of field to value"

    def check(self, value: Any) -> bool:
        return isinstance(value, dict)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        value = super()._deserialize(value, attr, data, **kwargs)
        if not value:
            raise fail("bad-value", "expected at least one field")
        out: dict[str, ValueRef] = {}
        errors: dict[str, Any] = {}
        for name, item in value.items():
            try:
                out[name] = value_ref(item)
            except ValidationError as exc:
                errors[name] = exc.messages
        if errors:
            raise ValidationError(errors)
        return out


# ---------------------------------------------------------------------------------------------
# Document schemas.

EFFECT_ENTRY = "an effect (a mapping with set, notify, create or assign)"
STATES_WHOLE = "a list of state names or a mapping of state to options"


class CreateSchema(DocSchema):
    """``create: {entity: payment, values: {...}, into: payment}``: ``into`` names the link
    field of the record that receives the new record's id."""

    entity = Text(required=True)
    values = Values()
    into = Text()


class AssignSchema(DocSchema):
    """``assign: {field: owner, to: {role: field_sales}}``."""

    field = Text(required=True)
    to = Actor(required=True)


class EffectSchema(DocSchema):
    """One effect of entering a state: ``set``, ``notify`` (with an optional ``message``),
    ``create`` or ``assign``, run only when its optional ``when`` holds; that exactly one
    kind is given is checked by :mod:`portal.spec.workflows`."""

    error_messages = {**DocSchema.error_messages, "type": expected(EFFECT_ENTRY)}  # noqa: RUF012

    set = Values()
    notify = Actor()
    message = LabelText()
    create = mf.Nested(CreateSchema, error_messages={"null": expected("a mapping")})
    assign = mf.Nested(AssignSchema, error_messages={"null": expected("a mapping")})
    when = Condition()


class AfterSchema(DocSchema):
    """``after: {days: 30, since: updated_at}`` of a timed transition (``since`` defaults to
    ``entered``: the day the record entered its current state)."""

    days = Whole(minimum=1, required=True)
    since = Text()


class GateSchema(DocSchema):
    """``gate: {when: "count(contract.opportunity) > 0", message: {...}}``."""

    when = Condition(required=True)
    message = LabelText()


class StateSchema(DocSchema):
    """One state's options (after ``name: null`` is expanded to ``name: {}``)."""

    error_messages = {  # noqa: RUF012
        **DocSchema.error_messages, "type": expected("a mapping of state options"),
    }

    label = LabelText()
    required = NameList()
    editable = NameList()
    locked = Flag()
    gate = mf.Nested(GateSchema, error_messages={"null": expected("a mapping with when")})
    effects = mf.List(mf.Nested(EffectSchema, error_messages={"null": expected(EFFECT_ENTRY)}),
                      error_messages={"invalid": expected("a list of effects"),
                                      "null": expected("a list of effects")})


class TransitionSchema(DocSchema):
    """One transition."""

    error_messages = {  # noqa: RUF012
        **DocSchema.error_messages, "type": expected("a mapping of transition options"),
    }

    from_ = StateNames(data_key="from", attribute="from", required=True)
    to = Text(required=True)
    by = Actor()
    when = Condition()
    label = LabelText()
    comment = Comment()
    self_approval = Flag()
    after = mf.Nested(AfterSchema, error_messages={"null": expected("a mapping with days")})
    set = Values()


class WorkflowSchema(DocSchema):
    """A workflow document (``workflows/**/<name>.yaml``), with ``states`` as a mapping (a
    list of names is expanded first)."""

    workflow = Text(required=True)
    entity = Text(required=True)
    label = LabelText()
    state_field = Text(required=True)
    initial = Text()
    states = mapping_of(StateSchema, "states", required=True,
                        entry="a mapping of state options", whole=STATES_WHOLE)
    transitions = mapping_of(TransitionSchema, "transitions", required=True,
                             entry="a mapping of transition options")
    locked_in = NameList()
