"""``GET /api/v1/<entity>/defaults``: the conditional defaults (``defaults:``) for the values
typed so far on an add form, so the form can fill the fields the user has not touched.

The query names the fields the rules' conditions read (``?customer=12``); the answer gives,
for every field the rules set, the value of the first rule that holds or the field's plain
default: ``{"values": {"priority": "high"}, "reads": ["customer"]}``. Linked ids are checked
against the caller's read scope like any other input, so the answer tells nothing about a
record the caller cannot see.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Optional

from flask import request

from portal.engines.importing.cells import CellError, parse_cell
from portal.engines.record_defaults import defaults_of, offered_values, transient_record
from portal.engines.validation import check_value
from portal.runtime import acting_principal, runtime
from portal.spec.model import FieldSpec
from portal.web.access_columns import hidden_fields
from portal.web.records import check_relation_ids

#: What a form sends for an empty select.
_BLANK = ("", "__None")


def defaults_response(api: Any) -> Any:
    """The answer of ``api`` (an entity's REST API) to a defaults request."""
    rt = runtime()
    entity = api.entity
    spec = defaults_of(rt.registry, entity.name)
    if spec is None:
        return api.response_404()
    reads = [name for name in spec.triggers(entity) if name not in hidden_fields(entity)]
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, text in request.args.items():
        if name not in reads:
            known = ", ".join(reads) or "none"
            return api.response_400(message=f"'{name}' is not a field the defaults of "
                                            f"{entity.name} read (they read: {known})")
        value, reason = _value(entity.fields[name], text)
        if reason:
            errors[name] = [reason]
        values[name] = value
    session = api.datamodel.session
    errors.update(check_relation_ids(session, entity, rt.models.classes, values))
    if errors:
        return api.response_422(message=errors)
    item = transient_record(rt.models.classes[entity.name], entity, values)
    offered = offered_values(session, spec, item, acting_principal())
    hidden = hidden_fields(entity)
    return api.response(200, values={k: _json(v) for k, v in offered.items() if k not in hidden},
                        reads=reads)


def _value(f: FieldSpec, text: str) -> tuple[Any, Optional[str]]:
    """The value ``text`` stands for in ``f`` (None for blank), or the reason it does not."""
    if text.strip() in _BLANK:
        return None, None
    if f.type in {"link", "user", "file"}:
        if not text.strip().isdigit():
            return None, f"'{text}' is not a record id"
        return int(text), None
    try:
        value = parse_cell(f, text)
    except CellError as exc:
        return None, str(exc)
    return value, check_value(f, value)


def _json(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
