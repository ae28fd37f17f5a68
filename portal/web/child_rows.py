"""Child rows written over REST together with their parent.

A ``children`` field (a contract's product lines, its payment plan) is part of its parent: the
parent's checks (lines adding up to the amount) hold only for the whole set of rows. So the
REST API takes the rows in the parent's own body, the same way the edit form does::

    POST /api/v1/contract/
    {"name": "...", "amount": "100000.00",
     "plan": [{"name": "30%", "amount": "30000.00", "due_date": "2026-12-01"}, ...]}

The list given is the new set of rows: a row with an ``id`` updates that child of this record,
a row without one is new, and children left out are deleted (PUT without the field leaves the
rows alone). Every row is checked like a record of the child entity before anything is
written; problems are reported under ``field.index.column``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

from sqlalchemy.orm import Session

from portal.engines.validation import validate_record
from portal.spec.computed import computed_of
from portal.spec.model import EntitySpec, FieldSpec, Registry
from portal.web.records import check_relation_ids

#: Child fields a row cannot write: its link back to the parent (set by the parent), tables
#: and files of its own, numbers the portal draws.
_NOT_WRITTEN = frozenset({"children", "many", "number", "file"})
_BY_ID = frozenset({"link", "user"})

#: ``{children field: [row, ...]}`` with each row's values converted for the model.
ChildRows = dict[str, list[dict[str, Any]]]


def writable_columns(child: EntitySpec, via: Optional[str], computed: Mapping[str, Any]
                     ) -> dict[str, FieldSpec]:
    """The fields of ``child`` a row may give."""
    return {name: f for name, f in child.fields.items()
            if name != via and f.type not in _NOT_WRITTEN and name not in computed}


def take_child_rows(session: Session, registry: Registry, models: Mapping[str, type],
                    entity: EntitySpec, data: dict[str, Any]
                    ) -> tuple[ChildRows, dict[str, Any]]:
    """Remove the ``children`` fields from ``data`` and return them converted, with the
    problems found (``{field: {index: {column: [reason]}}}`` or ``{field: [reason]}``)."""
    rows_by_field: ChildRows = {}
    errors: dict[str, Any] = {}
    for f in entity.fields.values():
        if f.type != "children" or f.name not in data:
            continue
        raw = data.pop(f.name)
        if raw is None:
            raw = []
        if not isinstance(raw, list):
            errors[f.name] = ["expected a list of rows (objects)"]
            continue
        assert f.target is not None
        child = registry.entity(f.target)
        columns = writable_columns(child, f.via, computed_of(registry, child.name))
        rows, problems = [], {}
        for index, row in enumerate(raw):
            converted, row_errors = _row(session, models, child, columns, row)
            if row_errors:
                problems[str(index)] = row_errors
            rows.append(converted)
        if problems:
            errors[f.name] = problems
        else:
            rows_by_field[f.name] = rows
    return rows_by_field, errors


def _row(session: Session, models: Mapping[str, type], child: EntitySpec,
         columns: Mapping[str, FieldSpec], row: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    if not isinstance(row, dict):
        return {}, {"_": ["expected an object"]}
    unknown = [k for k in row if k != "id" and k not in columns]
    if unknown:
        return {}, {k: ["Unknown field."] for k in unknown}
    pk = row.get("id")
    if pk is not None and (not isinstance(pk, int) or isinstance(pk, bool)):
        return {}, {"id": [f"'{pk}' is not a record id"]}
    values = {k: (str(Decimal(repr(v))) if isinstance(v, float) and
                  columns[k].type in {"decimal", "money"} else v)
              for k, v in row.items() if k != "id"}
    errors: dict[str, Any] = {k: [v] for k, v in validate_record(
        child, {k: v for k, v in values.items() if columns[k].type not in _BY_ID}).items()}
    errors.update(check_relation_ids(session, child, models, values))
    if pk is None:  # a new row: its required fields must be there (or have a default)
        for name, f in columns.items():
            if f.required and f.default is None and values.get(name) in (None, "") and \
                    f.type not in {"bool"}:
                errors.setdefault(name, ["this field is required"])
    if errors:
        return {}, errors
    converted = {"id": pk}
    for name, value in values.items():
        converted[name] = _typed(columns[name], value)
    return converted, {}


def _typed(f: FieldSpec, value: Any) -> Any:
    """``value`` as the model stores it (validated already)."""
    if value is None or value == "":
        return None
    try:
        if f.type in {"decimal", "money"}:
            return Decimal(str(value))
        if f.type == "int":
            return int(value)
        if f.type == "date":
            return value if isinstance(value, dt.date) else \
                dt.datetime.fromisoformat(str(value)).date()
        if f.type == "datetime":
            return value if isinstance(value, dt.datetime) else \
                dt.datetime.fromisoformat(str(value))
    except (ValueError, InvalidOperation):  # validate_record let it through: keep as given
        return value
    return value


def apply_child_rows(item: Any, models: Mapping[str, type], entity: EntitySpec,
                     rows_by_field: ChildRows) -> dict[str, Any]:
    """Make ``item``'s children exactly the given rows; problems (an ``id`` that is not a
    child of this record) are returned like :func:`take_child_rows`'s."""
    errors: dict[str, Any] = {}
    for name, rows in rows_by_field.items():
        f = entity.fields[name]
        assert f.target is not None
        model = models[f.target]
        existing = {c.id: c for c in getattr(item, name) or ()}
        kept = []
        for index, row in enumerate(rows):
            pk = row.get("id")
            child = existing.get(pk) if pk is not None else model()
            if child is None:
                errors.setdefault(name, {})[str(index)] = {
                    "id": [f"no row {pk} in this record's {name}"]}
                continue
            for key, value in row.items():
                if key == "id":
                    continue
                column = f"{key}_id" if _child_field(models, f.target, key) in _BY_ID else key
                setattr(child, column, value)
            kept.append(child)
        if name not in errors:
            setattr(item, name, kept)
    return errors


def _child_field(models: Mapping[str, type], target: str, key: str) -> str:
    return models[target].__entity__.fields[key].type
