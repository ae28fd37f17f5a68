"""The ``agenda`` entity feature: an entity's records as dated plans in their owner's agenda.

::

    entity: follow_up
    fields: {...}
    agenda:
      date: planned_at            # a date or datetime field: when the plan is due
      owner: owner                # the user field whose agenda it is (default: the owner)
      done: "status == 'done'"    # a condition: the plan is done
      title: subject              # optional: what the agenda shows (default: the title)
      label: {en: Follow-ups, zh_CN: 跟进计划}   # optional: the kind of item
      remind: {before: 1 day, overdue: true}     # optional reminders through the inbox

Several entities may have an agenda; "My agenda" merges them. Reminders (``remind``) are sent
by ``portal tick``: ``before`` this long before the plan is due (``30 minutes``, ``2 hours``,
``1 day``, ``1 week``), and, unless ``overdue: false``, once when an undone plan is overdue.
A plan on a date field is due at the start of that day and overdue once the day is over.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Optional

from portal.spec.expressions import BUILTIN_NAMES, ExpressionError, parse
from portal.spec.features import Feature
from portal.spec.labels import make_label
from portal.spec.model import LOCALES, EntitySpec, Expression, Label, Registry
from portal.spec.report import Reporter
from portal.spec.reserved import SYSTEM_FIELDS
from portal.spec.schemas import describe
from portal.spec.suggest import suggest

KEY = "agenda"
KEYS: tuple[str, ...] = ("date", "owner", "done", "title", "label", "remind")
REMIND_KEYS: tuple[str, ...] = ("before", "overdue")
#: Duration units of ``remind.before`` and their length.
UNITS = MappingProxyType({
    "minute": dt.timedelta(minutes=1), "hour": dt.timedelta(hours=1),
    "day": dt.timedelta(days=1), "week": dt.timedelta(weeks=1)})
_DURATION = re.compile(r"^\s*(\d+)\s*([a-z]+?)s?\s*$")
#: Field types a condition cannot read (a list of rows is not a value).
_NOT_A_VALUE = frozenset({"children", "many"})
#: The longest ``remind.before`` accepted: longer reminders are a calendar's job.
MAX_BEFORE = dt.timedelta(days=90)


@dataclass(frozen=True)
class AgendaSpec:
    """An entity's agenda: which field dates a record, whose agenda it is in, when it is
    done, what it is called there and when its owner is reminded.

    ``owner`` is a ``user`` field, or ``created_by`` for entities without an owner field.
    ``remind_before`` is None when no advance reminder is wanted.
    """

    entity: str
    date: str
    date_type: str
    owner: str
    done: Expression
    title: Optional[str] = None
    label: Label = field(default_factory=Label)
    remind_before: Optional[dt.timedelta] = None
    remind_overdue: bool = False

    @property
    def reminds(self) -> bool:
        """True when ``portal tick`` sends reminders for this agenda."""
        return self.remind_before is not None or self.remind_overdue


def parse_duration(text: Any) -> dt.timedelta:
    """``"1 day"``, ``"2 hours"``, ``"30 minutes"``, ``"1 week"`` as a timedelta; raises
    ValueError with the reason otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"a duration is text like '1 day' or '2 hours', not {describe(text)}")
    match = _DURATION.match(text.lower())
    if match is None:
        raise ValueError(f"'{text}' is not a duration: write a number and a unit, like "
                         "'30 minutes', '2 hours', '1 day' or '1 week'")
    count, unit = int(match.group(1)), match.group(2)
    if unit not in UNITS:
        hint = suggest(unit, UNITS)
        raise ValueError(f"unknown unit '{unit}' in '{text}' (minutes, hours, days or weeks)"
                         + (f"; did you mean '{hint}'?" if hint else ""))
    if count <= 0:
        raise ValueError(f"'{text}' must be longer than zero")
    return count * UNITS[unit]


def check(entity: EntitySpec, value: Any, rep: Reporter, registry: Registry
          ) -> Optional[AgendaSpec]:
    """Compile ``entity``'s ``agenda:`` value; errors go to ``rep`` (paths start ``agenda``)."""
    if not isinstance(value, dict):
        rep.add((KEY,), "bad-value", f"agenda must be a mapping with date, done (and owner, "
                                     f"title, remind), not {describe(value)}")
        return None
    before = len(rep.errors)
    for key in value:
        if key not in KEYS:
            rep.add((KEY, key), "unknown-key", f"unknown key '{key}' in agenda",
                    suggest(key, KEYS), at_key=True)
    date = _date_field(entity, value, rep)
    owner = _owner_field(entity, value, rep)
    done = _done(entity, value, rep)
    title = _field(entity, value, "title", rep, types=None) if "title" in value else None
    label = _label(entity, value, rep)
    remind_before, remind_overdue = _remind(value.get("remind"), rep) \
        if "remind" in value else (None, False)
    if len(rep.errors) > before or date is None or owner is None or done is None:
        return None
    return AgendaSpec(entity=entity.name, date=date, date_type=entity.fields[date].type,
                      owner=owner, done=done, title=title, label=label,
                      remind_before=remind_before, remind_overdue=remind_overdue)


def _field(entity: EntitySpec, value: dict[str, Any], key: str, rep: Reporter,
           types: Optional[tuple[str, ...]]) -> Optional[str]:
    """The field named at ``agenda.<key>``, checked to be one of ``types`` (any column when
    None)."""
    name = value.get(key)
    if not isinstance(name, str) or not name:
        rep.add((KEY, key), "bad-value", f"agenda.{key} must name a field of "
                                         f"'{entity.name}', not {describe(name)}")
        return None
    found = entity.fields.get(name)
    if found is None:
        candidates = [f for f, spec in entity.fields.items()
                      if types is None or spec.type in types]
        rep.add((KEY, key), "unknown-field", f"unknown field '{name}' of '{entity.name}'",
                suggest(name, candidates or entity.fields))
        return None
    if types is not None and found.type not in types:
        rep.add((KEY, key), "bad-field-type",
                f"field '{name}' is of type '{found.type}'; agenda.{key} needs "
                + " or ".join(f"a {t}" for t in types) + " field")
        return None
    if not found.is_column:
        rep.add((KEY, key), "bad-field-type",
                f"field '{name}' is a list of '{found.target}' records, not a value")
        return None
    return name


def _date_field(entity: EntitySpec, value: dict[str, Any], rep: Reporter) -> Optional[str]:
    if "date" not in value:
        rep.add((KEY,), "missing-key", "agenda needs 'date': the date or datetime field that "
                                       "says when a plan is due")
        return None
    return _field(entity, value, "date", rep, types=("date", "datetime"))


def _owner_field(entity: EntitySpec, value: dict[str, Any], rep: Reporter) -> Optional[str]:
    """The user field whose agenda it is: ``owner:``, else the entity's owner field, else the
    creator (``created_by``)."""
    if "owner" not in value:
        return entity.owner or "created_by"
    if value["owner"] == "created_by":
        return "created_by"
    return _field(entity, value, "owner", rep, types=("user",))


def _done(entity: EntitySpec, value: dict[str, Any], rep: Reporter) -> Optional[Expression]:
    if "done" not in value:
        rep.add((KEY,), "missing-key", "agenda needs 'done': a condition saying a plan is "
                                       "done, e.g. \"status == 'done'\"")
        return None
    source = value["done"]
    if isinstance(source, bool) or not isinstance(source, str):
        rep.add((KEY, "done"), "bad-expression", f"agenda.done must be a condition (text), "
                                                 f"not {describe(source)}")
        return None
    try:
        expression = parse(source)
    except ExpressionError as exc:
        rep.add((KEY, "done"), "bad-expression", str(exc))
        return None
    # Agendas read plans many at a time: the condition reads the plan's own fields only.
    if getattr(expression, "paths", None) or getattr(expression, "aggregates", None):
        rep.add((KEY, "done"), "bad-expression", "agenda.done may only use the plan's own "
                                                 "fields (no related records or functions)")
        return None
    for name in sorted(expression.names):
        if name in BUILTIN_NAMES or name in SYSTEM_FIELDS:
            continue
        found = entity.fields.get(name)
        if found is None:
            rep.add((KEY, "done"), "unknown-field", f"unknown field '{name}' in condition",
                    suggest(name, [*entity.fields, *SYSTEM_FIELDS]))
        elif found.type in _NOT_A_VALUE:
            rep.add((KEY, "done"), "bad-ref", f"a condition cannot use field '{name}' of "
                                              f"type '{found.type}'")
    return expression


def _label(entity: EntitySpec, value: dict[str, Any], rep: Reporter) -> Label:
    raw = value.get("label")
    if raw is None:
        return entity.label
    if isinstance(raw, dict):
        for locale, text in raw.items():
            if locale not in LOCALES:
                rep.add((KEY, "label", locale), "unknown-key", f"unknown locale '{locale}'",
                        suggest(locale, LOCALES), at_key=True)
            elif not isinstance(text, str):
                rep.add((KEY, "label", locale), "bad-value",
                        f"a label is text, not {describe(text)}")
    elif not isinstance(raw, str):
        rep.add((KEY, "label"), "bad-value", f"agenda.label must be text or a mapping of "
                                             f"locales to text, not {describe(raw)}")
    return make_label(raw, entity.label.get("en", entity.name))


def _remind(raw: Any, rep: Reporter) -> tuple[Optional[dt.timedelta], bool]:
    """``remind:`` as (before, overdue). ``remind: {before: 1 day}`` also reminds when overdue
    unless ``overdue: false``."""
    if not isinstance(raw, dict) or not raw:
        rep.add((KEY, "remind"), "bad-value", "agenda.remind must be a mapping like "
                                              f"{{before: 1 day, overdue: true}}, not "
                                              f"{describe(raw)}")
        return None, False
    for key in raw:
        if key not in REMIND_KEYS:
            rep.add((KEY, "remind", key), "unknown-key", f"unknown key '{key}' in agenda.remind",
                    suggest(key, REMIND_KEYS), at_key=True)
    before: Optional[dt.timedelta] = None
    if "before" in raw:
        try:
            before = parse_duration(raw["before"])
        except ValueError as exc:
            rep.add((KEY, "remind", "before"), "bad-duration", str(exc))
        else:
            if before > MAX_BEFORE:
                rep.add((KEY, "remind", "before"), "bad-duration",
                        f"'{raw['before']}' is longer than the 90 days a reminder may come early")
    overdue = raw.get("overdue", True)
    if not isinstance(overdue, bool):
        rep.add((KEY, "remind", "overdue"), "bad-value",
                f"agenda.remind.overdue must be true or false, not {describe(overdue)}")
        overdue = False
    return before, overdue


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``agenda:`` for editors."""
    text_or_locales = {"oneOf": [{"type": "string"}, {
        "type": "object", "additionalProperties": False,
        "properties": {loc: {"type": "string"} for loc in LOCALES}}]}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["date", "done"],
        "properties": {
            "date": {"type": "string", "description": "A date or datetime field: when a plan "
                                                      "is due."},
            "owner": {"type": "string", "description": "The user field whose agenda it is "
                                                       "(default: the entity's owner)."},
            "done": {"type": "string", "description": "A condition: the plan is done, e.g. "
                                                      "\"status == 'done'\"."},
            "title": {"type": "string", "description": "The field the agenda shows (default: "
                                                       "the entity's title)."},
            "label": {**text_or_locales, "description": "What the items are called."},
            "remind": {
                "type": "object", "additionalProperties": False,
                "description": "Reminders in the owner's inbox, sent by `portal tick`.",
                "properties": {
                    "before": {"type": "string",
                               "pattern": r"^\s*\d+\s*(minute|hour|day|week)s?\s*$",
                               "description": "How long before the plan is due: '30 "
                                              "minutes', '2 hours', '1 day', '1 week'."},
                    "overdue": {"type": "boolean", "default": True,
                                "description": "Also remind once an undone plan is overdue."},
                },
            },
        },
    }


FEATURE = Feature(key=KEY, check=check, json_schema=json_schema,
                  description="Dated plans in their owner's agenda (My work > My agenda), "
                              "overdue ones highlighted, with reminders.")
