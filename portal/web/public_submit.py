"""One submission of a public form: reading it, checking it with the entity's own rules, and
saving it (or recording it on the record it repeats).

Texts (form posts) are read like imported cells (``¥1,234.50``, ``yes``, enum labels); JSON
values may also be numbers and booleans. Every field of the form is checked with the shared
field rules (required, lengths, email/phone formats, ranges), then uniqueness; nothing is
written unless all of them pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Optional

from sqlalchemy.orm import Session

from portal.engines.access import Principal
from portal.engines.importing.cells import CellError, parse_cell
from portal.engines.intake import (
    REPEAT_ACTION,
    choose_owner,
    describe_values,
    find_repeat,
    lock_dedup_keys,
    notify,
    owner_of,
    record_repeat,
)
from portal.engines.validation import validate_record
from portal.spec.model import EntitySpec, FieldSpec
from portal.spec.public_form import PublicFormSpec
from portal.web.records import check_unique

#: The request keys that are not fields: the form token (the honeypot's name is per form).
TOKEN_KEY = "_token"


@dataclass
class Submission:
    """What was sent: ``values`` converted per field, ``texts`` as typed (to show the form
    again), ``errors`` by field, and whether the hidden honeypot was filled in."""

    values: dict[str, Any] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    honeypot: bool = False
    token: Any = None


def form_actor(form: PublicFormSpec) -> Principal:
    """Who the audit trail names for what the form does: the form itself, with no user."""
    return Principal(user_id=None, username=f"web form {form.slug}", department_id=None,
                     roles=frozenset())


def _convert(f: FieldSpec, raw: Any) -> Any:
    """The value of ``f`` sent as ``raw`` (raises CellError saying why it cannot be)."""
    if raw is None:
        return None
    if isinstance(raw, str):
        return parse_cell(f, raw)
    if f.type == "bool":
        if isinstance(raw, bool):
            return raw
        raise CellError(f"'{raw}' is not yes or no")
    if f.type in {"int", "decimal", "money"} and isinstance(raw, (int, float)) \
            and not isinstance(raw, bool):
        if f.type == "int":
            if isinstance(raw, float) and not raw.is_integer():
                raise CellError(f"'{raw}' is not a whole number")
            return int(raw)
        return Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
    raise CellError(f"expected a text, got {type(raw).__name__}")


def read(form: PublicFormSpec, entity: EntitySpec, body: Mapping[str, Any],
         strict: bool) -> Submission:
    """Read and check a submission. ``strict`` (JSON) refuses keys that are not the form's;
    a page post may carry others (browser extensions add some) and they are ignored."""
    sub = Submission(token=body.get(TOKEN_KEY))
    trap = body.get(form.honeypot)
    sub.honeypot = trap not in (None, "", False)
    if strict:
        known = {*form.fields, TOKEN_KEY, form.honeypot}
        for key in sorted(k for k in body if k not in known):
            sub.errors[key] = ["unknown field: this form does not take it"]
    for name in form.fields:
        f = entity.fields[name]
        raw = body.get(name)
        if isinstance(raw, str):
            sub.texts[name] = raw
        elif raw is not None:
            sub.texts[name] = str(raw)
        try:
            sub.values[name] = _convert(f, raw)
        except CellError as exc:
            sub.errors[name] = [str(exc)]
            sub.values[name] = None
    checked = {k: v for k, v in sub.values.items() if k not in sub.errors}
    for name, reason in validate_record(entity, checked).items():
        sub.errors.setdefault(name, []).append(reason)
    return sub


@dataclass(frozen=True)
class Saved:
    """What a saved submission did: ``created`` a record, or was a ``repeat`` of one."""

    outcome: Literal["created", "repeat"]
    record_id: int
    matched_field: Optional[str] = None


def _title(entity: EntitySpec, item: Any) -> str:
    title = entity.title
    value = getattr(item, title, None) if title and title in entity.fields and \
        entity.fields[title].is_column and entity.fields[title].type not in \
        {"link", "user", "file"} else None
    return str(value) if value not in (None, "") else f"#{item.id}"


def save(session: Session, form: PublicFormSpec, entity: EntitySpec, model: type,
         values: Mapping[str, Any]) -> Saved:
    """Save a checked submission on ``session`` (the caller commits): a repeat of an existing
    record (same phone or email on a ``dedup`` field) is recorded on that record and its owner
    told; anything else becomes a new record with the form's ``set`` values and owner, whose
    owner is told. Raises ``RecordInvalid`` when a unique value is taken."""
    label = entity.label.get("en", entity.name)
    sent = {k: v for k, v in values.items() if v is not None}
    actor = form_actor(form).username
    if form.dedup:
        lock_dedup_keys(session, entity, sent, form.dedup)
        repeat = find_repeat(session, entity, model, sent, form.dedup)
        if repeat is not None:
            name, record_id = repeat
            record_repeat(session, entity, record_id, form.slug, actor, sent)
            owner = owner_of(session, model, record_id)
            if owner is None and form.owner is not None:
                owner = choose_owner(session, model, form.owner.kind, form.owner.value)
            notify(session, [owner], REPEAT_ACTION,
                   f"{label} #{record_id}: sent again through the web form {form.slug} "
                   f"(same {name})", entity.name, record_id, describe_values(entity, sent))
            return Saved("repeat", record_id, name)
    record = {**sent, **form.set}
    check_unique(session, entity, model, record)
    item = model()
    for name, value in record.items():
        setattr(item, name, value)
    owner = choose_owner(session, model, form.owner.kind, form.owner.value) \
        if form.owner is not None else None
    if owner is not None:
        setattr(item, model.__owner_column__, owner)
    session.add(item)
    session.flush()
    # Read before the commit: afterwards the record reloads through the anonymous request's
    # read scope, which sees nothing.
    record_id = item.id
    notify(session, [owner], "web_form", f"New {label} from the web form {form.slug}: "
           f"{_title(entity, item)}", entity.name, record_id, describe_values(entity, sent))
    return Saved("created", record_id)
