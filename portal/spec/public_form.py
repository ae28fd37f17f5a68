"""The ``public_form`` entity feature: a page and an anonymous POST endpoint that create
records of the entity (web-to-lead)::

    public_form:
      slug: contact-us                       # /public/contact-us
      title: {en: Contact us, zh_CN: 联系我们}
      intro: {en: Tell us about your project.}
      fields: [name, company, phone, email, message]
      set: {source: web}                     # always written on created records
      owner: {role: sales_rep}               # or {user: lena}: who owns new records
      dedup: [phone, email]                  # a record with the same phone/email is not repeated
      rate_limit: 5 per hour                 # per client address
      thanks: {en: Thank you, we will contact you soon., zh_CN: 感谢，我们会尽快联系您。}

Only plain value fields may be public (no users, links, child tables, files, numbers or the
workflow's state); every required field must be asked, set or defaulted, so a valid
submission can always be saved.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Optional, Union

from portal.spec.features import Feature
from portal.spec.labels import humanize, make_label
from portal.spec.model import (
    LOCALES,
    DynamicDefault,
    EntitySpec,
    Label,
    Registry,
    SourcePos,
    SpecError,
)
from portal.spec.report import Reporter
from portal.spec.suggest import suggest

KEY = "public_form"
KEYS: tuple[str, ...] = ("slug", "title", "intro", "fields", "set", "owner", "dedup",
                         "rate_limit", "thanks")
#: Field types the public may fill in (and ``set`` may write).
PUBLIC_TYPES: frozenset[str] = frozenset({
    "string", "text", "email", "phone", "url", "int", "decimal", "money", "bool", "date",
    "datetime", "enum"})
#: Field types a duplicate is recognised by.
DEDUP_TYPES: frozenset[str] = frozenset({"phone", "email"})
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
UNITS: Mapping[str, int] = MappingProxyType({"second": 1, "minute": 60, "hour": 3600,
                                             "day": 86400})
RATE = re.compile(r"^\s*(\d+)\s*(?:per|/)\s*(\d+\s*)?([a-z]+?)s?\s*$", re.IGNORECASE)
DEFAULT_RATE = "10 per hour"
#: The most submissions a rate limit may allow per window (beyond it, it limits nothing).
MAX_RATE = 100_000
#: Names for the honeypot input, the first one the entity does not use: a name a bot
#: fills in readily, which the page hides from people.
HONEYPOT_NAMES: tuple[str, ...] = ("website", "homepage", "web_address", "url_2")
DEFAULT_THANKS = Label(MappingProxyType({
    "en": "Thank you, we will contact you soon.", "zh_CN": "感谢，我们会尽快联系您。",
    "zh_TW": "感謝，我們會盡快與您聯絡。"}))

SetValue = Union[str, int, bool, Decimal, dt.date, dt.datetime]


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` submissions per ``seconds`` from one client address."""

    count: int
    seconds: int
    text: str


@dataclass(frozen=True)
class FormOwner:
    """Who owns records the form creates: the user ``value`` (``kind`` user), or the member
    of role ``value`` owning the fewest records of the entity (``kind`` role)."""

    kind: str
    value: str


@dataclass(frozen=True)
class PublicFormSpec:
    """One entity's public form, compiled."""

    entity: str
    slug: str
    pos: SourcePos
    title: Label
    fields: tuple[str, ...]
    rate_limit: RateLimit
    thanks: Label = DEFAULT_THANKS
    intro: Label = field(default_factory=Label)
    set: Mapping[str, SetValue] = field(default_factory=lambda: MappingProxyType({}))
    owner: Optional[FormOwner] = None
    dedup: tuple[str, ...] = ()
    honeypot: str = HONEYPOT_NAMES[0]


def parse_rate(text: Any) -> tuple[Optional[RateLimit], Optional[str], Optional[str]]:
    """``5 per hour``, ``100 per day``, ``3 per 10 minutes``, ``20/hour`` -> (RateLimit, None,
    None); else (None, reason, suggested unit)."""
    example = "write it like '5 per hour' (units: second, minute, hour, day)"
    if isinstance(text, bool) or not isinstance(text, str):
        return None, f"expected a text like '5 per hour', got {text!r}", None
    match = RATE.match(text)
    if match is None:
        return None, f"'{text}' is not a rate; {example}", None
    count, many, unit = int(match.group(1)), match.group(2), match.group(3).lower()
    if unit not in UNITS:
        return None, f"unknown unit '{unit}' in '{text}'; {example}", suggest(unit, UNITS)
    if not 1 <= count <= MAX_RATE:
        return None, f"'{text}' must allow between 1 and {MAX_RATE} submissions", None
    span = int(many) if many else 1
    if span < 1:
        return None, f"'{text}' has an empty period", None
    return RateLimit(count, span * UNITS[unit], text.strip()), None, None


def _label(value: Any, path: tuple[Any, ...], rep: Reporter, default_en: str) -> Label:
    if value is None:
        return make_label(None, default_en)
    if isinstance(value, dict):
        for locale, text in value.items():
            if locale not in LOCALES:
                rep.add((*path, locale), "unknown-key", f"unknown locale '{locale}'",
                        suggest(locale, LOCALES), at_key=True)
            elif not isinstance(text, str) or not text.strip():
                rep.add((*path, locale), "bad-value", f"expected a text, got {text!r}")
    elif not isinstance(value, str) or not value.strip():
        rep.add(path, "bad-value", "expected a text or a mapping of locale to text, got "
                f"{value!r}")
    return make_label(value, default_en)


def _names(value: Any, path: tuple[Any, ...], rep: Reporter, what: str) -> list[str]:
    if not isinstance(value, list) or not value:
        rep.add(path, "bad-value", f"expected a non-empty list of {what}, got {value!r}")
        return []
    seen: list[str] = []
    for i, name in enumerate(value):
        if not isinstance(name, str) or not name:
            rep.add((*path, i), "bad-value", f"expected a field name, got {name!r}")
        elif name in seen:
            rep.add((*path, i), "duplicate-key", f"field '{name}' is listed twice")
        else:
            seen.append(name)
    return seen


class _Checker:
    """Checks one entity's ``public_form`` block, reporting to ``rep``."""

    def __init__(self, entity: EntitySpec, rep: Reporter, registry: Registry) -> None:
        self.entity = entity
        self.rep = rep
        self.registry = registry
        workflow = registry.workflow_of(entity.name)
        self.state_field = workflow.state_field if workflow is not None else None

    def field_problem(self, name: str, path: tuple[Any, ...], use: str) -> bool:
        """Report ``name`` when it is not a field the form may ``use``; True if reported."""
        f = self.entity.fields.get(name)
        if f is None:
            self.rep.add(path, "unknown-field", f"unknown field '{name}' of entity "
                         f"'{self.entity.name}'", suggest(name, self.entity.fields))
            return True
        if name == self.state_field:
            self.rep.add(path, "not-public", f"field '{name}' is the workflow's state; new "
                         "records start in the initial state")
            return True
        if f.type not in PUBLIC_TYPES:
            self.rep.add(path, "not-public", f"field '{name}' is of type '{f.type}', which a "
                         f"public form cannot {use} (allowed: "
                         f"{', '.join(sorted(PUBLIC_TYPES))})")
            return True
        return False

    def fields(self, value: Any) -> tuple[str, ...]:
        path = (KEY, "fields")
        good = []
        for i, name in enumerate(_names(value, path, self.rep, "field names")):
            index = value.index(name) if isinstance(value, list) else i
            if not self.field_problem(name, (*path, index), "ask for"):
                good.append(name)
        return tuple(good)

    def set_values(self, value: Any, asked: tuple[str, ...]) -> dict[str, SetValue]:
        path = (KEY, "set")
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.rep.add(path, "bad-value", f"expected a mapping of field to value, got "
                         f"{value!r}")
            return {}
        out: dict[str, SetValue] = {}
        for name, literal in value.items():
            where = (*path, name)
            if self.field_problem(name, where, "set"):
                continue
            if name in asked:
                self.rep.add(where, "bad-value", f"field '{name}' is both asked for in "
                             "fields and set; keep one", at_key=True)
                continue
            converted, reason, hint = _literal(self.entity.fields[name].type,
                                               self.entity.fields[name].values, literal)
            if reason is not None:
                self.rep.add(where, "bad-value", reason, hint)
            else:
                out[name] = converted
        return out

    def owner(self, value: Any) -> Optional[FormOwner]:
        path = (KEY, "owner")
        if value is None:
            return None
        if not isinstance(value, dict) or len(value) != 1:
            self.rep.add(path, "bad-value", "expected {user: <username>} or {role: <role>}, "
                         f"got {value!r}")
            return None
        (kind, name), = value.items()
        if kind not in ("user", "role"):
            self.rep.add((*path, kind), "unknown-key", f"unknown owner kind '{kind}' (use "
                         "user or role)", suggest(kind, ("user", "role")), at_key=True)
            return None
        if not isinstance(name, str) or not name.strip():
            self.rep.add((*path, kind), "bad-value", f"expected a {kind} name, got {name!r}")
            return None
        if kind == "role" and name not in self.registry.roles:
            self.rep.add((*path, kind), "unknown-ref", f"unknown role '{name}'",
                         suggest(name, self.registry.roles))
            return None
        return FormOwner(kind, name)

    def dedup(self, value: Any, asked: tuple[str, ...]) -> tuple[str, ...]:
        path = (KEY, "dedup")
        if value is None:
            return ()
        good = []
        for i, name in enumerate(_names(value, path, self.rep, "phone or email fields")):
            where = (*path, value.index(name) if isinstance(value, list) else i)
            f = self.entity.fields.get(name)
            if f is None:
                self.rep.add(where, "unknown-field", f"unknown field '{name}' of entity "
                             f"'{self.entity.name}'", suggest(name, self.entity.fields))
            elif f.type not in DEDUP_TYPES:
                self.rep.add(where, "bad-value", f"field '{name}' is of type '{f.type}'; "
                             "duplicates are recognised by phone and email fields")
            elif name not in asked:
                self.rep.add(where, "bad-value", f"field '{name}' is not among the form's "
                             "fields, so it has no value to compare",
                             suggest(name, asked))
            else:
                good.append(name)
        return tuple(good)

    def required_covered(self, asked: tuple[str, ...], written: Mapping[str, Any],
                         owner: Optional[FormOwner]) -> None:
        """Every required field must get a value, or no submission could ever be saved."""
        for f in self.entity.fields.values():
            if not f.required or f.type in {"number", "bool", "children", "many"}:
                continue
            if f.name in asked or f.name in written or f.name == self.state_field:
                continue
            if f.default is not None and not (isinstance(f.default, DynamicDefault)
                                               and f.default.kind == "current_user"):
                continue
            if owner is not None and f.name == self.entity.owner:
                continue
            self.rep.add((KEY, "fields"), "missing-value", f"required field '{f.name}' is "
                         "neither asked for nor set, so no submission could be saved; add "
                         "it to fields or set")


def _literal(ftype: str, values: tuple[str, ...], literal: Any
             ) -> tuple[Any, Optional[str], Optional[str]]:
    """A ``set`` value checked against its field's type: (value, reason, suggestion)."""
    if literal is None:
        return None, "expected a value, got null", None
    if ftype == "enum":
        if literal in values:
            return literal, None, None
        return None, f"'{literal}' is not one of: {', '.join(values)}", suggest(literal, values)
    if ftype == "bool":
        return (literal, None, None) if isinstance(literal, bool) else \
            (None, f"expected true or false, got {literal!r}", None)
    if ftype == "int":
        ok = isinstance(literal, int) and not isinstance(literal, bool) or \
            isinstance(literal, Decimal) and literal == literal.to_integral_value()
        return (int(literal), None, None) if ok else \
            (None, f"expected a whole number, got {literal!r}", None)
    if ftype in {"decimal", "money"}:
        ok = isinstance(literal, (int, Decimal)) and not isinstance(literal, bool)
        return (Decimal(literal), None, None) if ok else \
            (None, f"expected a number, got {literal!r}", None)
    if ftype in {"date", "datetime"}:
        try:
            parsed = dt.datetime.fromisoformat(str(literal))
        except ValueError:
            return None, f"expected an ISO date, got {literal!r}", None
        return (parsed.date() if ftype == "date" else parsed), None, None
    if not isinstance(literal, str):
        return None, f"expected a text, got {literal!r}", None
    return literal, None, None


def check(entity: EntitySpec, value: Any, rep: Reporter, registry: Registry
          ) -> Optional[PublicFormSpec]:
    """Compile ``value`` (the entity's ``public_form`` block), or report why it is wrong."""
    if not isinstance(value, dict):
        rep.add((KEY,), "bad-value", f"expected a mapping (slug, fields, ...), got {value!r}")
        return None
    for key in value:
        if key not in KEYS:
            rep.add((KEY, key), "unknown-key", f"unknown key '{key}' in public_form",
                    suggest(key, KEYS), at_key=True)
    checker = _Checker(entity, rep, registry)
    slug = value.get("slug", entity.name.replace("_", "-"))
    if not isinstance(slug, str) or not SLUG.match(slug):
        rep.add((KEY, "slug"), "bad-value", f"slug {slug!r} must be lowercase letters, digits "
                "and '-' (at most 64), starting and ending with a letter or digit")
    if "fields" not in value:
        rep.add((KEY,), "missing-key", "public_form needs fields: the fields the public fills in")
    asked = checker.fields(value.get("fields"))
    written = checker.set_values(value.get("set"), asked)
    owner = checker.owner(value.get("owner"))
    dedup = checker.dedup(value.get("dedup"), asked)
    rate, reason, hint = parse_rate(value.get("rate_limit", DEFAULT_RATE))
    if reason is not None:
        rep.add((KEY, "rate_limit"), "bad-value", reason, hint)
    checker.required_covered(asked, written, owner)
    title = _label(value.get("title"), (KEY, "title"), rep, "")
    if not title.texts:
        title = entity.label if entity.label.texts else make_label(None, humanize(entity.name))
    intro = _label(value.get("intro"), (KEY, "intro"), rep, "")
    thanks = _label(value.get("thanks"), (KEY, "thanks"), rep, "") \
        if "thanks" in value else DEFAULT_THANKS
    if rep.errors or rate is None:
        return None
    honeypot = next(n for n in HONEYPOT_NAMES if n not in entity.fields)
    return PublicFormSpec(
        entity=entity.name, slug=slug, pos=rep.doc.pos((KEY, "slug")), title=title,
        fields=asked, rate_limit=rate, thanks=thanks, intro=intro,
        set=MappingProxyType(written), owner=owner, dedup=dedup, honeypot=honeypot)


def across(specs: Mapping[str, PublicFormSpec]) -> list[SpecError]:
    """Two forms may not share an address."""
    errors = []
    first: dict[str, PublicFormSpec] = {}
    for spec in sorted(specs.values(), key=lambda s: (s.pos.file, s.pos.line, s.pos.col)):
        if spec.slug in first:
            other = first[spec.slug]
            errors.append(SpecError(
                spec.pos.file, spec.pos.line, spec.pos.col, f"{KEY}.slug",
                f"slug '{spec.slug}' is already the public form of entity '{other.entity}' "
                f"({other.pos}); give this one another slug", "duplicate-key"))
        else:
            first[spec.slug] = spec
    return errors


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the ``public_form`` key, for editors."""
    names = {"type": "array", "items": {"type": "string"}, "minItems": 1}
    return {
        "type": "object", "additionalProperties": False, "required": ["fields"],
        "properties": {
            "slug": {"type": "string", "pattern": SLUG.pattern,
                     "description": "The address: /public/<slug> (default: the entity's name)."},
            "title": {"$ref": "#/$defs/label", "description": "The page's title."},
            "intro": {"$ref": "#/$defs/label", "description": "A text above the form."},
            "fields": {**names, "description": "The fields the public fills in."},
            "set": {"type": "object", "description": "Values written on every created record.",
                    "additionalProperties": {"type": ["string", "number", "boolean"]}},
            "owner": {"type": "object", "minProperties": 1, "maxProperties": 1,
                      "additionalProperties": False,
                      "description": "Who owns new records: {user: name} or {role: name} (the "
                                     "member owning the fewest records).",
                      "properties": {"user": {"type": "string"}, "role": {"type": "string"}}},
            "dedup": {**names, "description": "Phone/email fields: a record with the same "
                                              "value is not created again."},
            "rate_limit": {"type": "string", "description": "Submissions allowed per client "
                                                            "address, e.g. '5 per hour'."},
            "thanks": {"$ref": "#/$defs/label", "description": "The answer after sending."},
        },
    }


FEATURE = Feature(key=KEY, check=check, json_schema=json_schema,
                  description="A public page and anonymous endpoint creating records "
                              "(web-to-lead): /public/<slug>.",
                  across=across)
