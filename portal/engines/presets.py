"""List presets (``presets:`` in an entity's YAML, :mod:`portal.spec.presets`) as SQL: the
WHERE clause of one named quick filter, for the day the list is read and its reader.

The clause is added to the list's own statement (FAB's filters, the search box and the read
scope stay as they are), so a preset narrows exactly what the reader could list anyway.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import and_, false, or_

from portal.spec.model import TEXT_TYPES
from portal.spec.presets import (
    CurrentUser,
    FieldCondition,
    PresetSpec,
    PresetValue,
    RelativeDate,
)

#: Field types stored as the id of another row (the column is ``<field>_id``).
_BY_ID = frozenset({"link", "user", "file"})


def preset_criteria(model: type, preset: PresetSpec, today: dt.date,
                    user_id: Optional[int]) -> Any:
    """The clause every record of ``preset`` meets, read on ``today`` by user ``user_id``."""
    return and_(*(_condition(model, c, today, user_id) for c in preset.where))


def _column(model: type, condition: FieldCondition) -> Any:
    name = f"{condition.field}_id" if condition.type in _BY_ID else condition.field
    return getattr(model, name)


def _value(value: PresetValue, today: dt.date, user_id: Optional[int]) -> Any:
    if isinstance(value, RelativeDate):
        return value.on(today)
    if isinstance(value, CurrentUser):
        return user_id
    return value


def _condition(model: type, c: FieldCondition, today: dt.date, user_id: Optional[int]) -> Any:
    col = _column(model, c)
    if c.op == "empty":
        blank = col.is_(None)
        if c.type in TEXT_TYPES or c.type in ("enum", "number"):
            blank = or_(blank, col == "")
        return blank if c.empty else ~blank
    values = [_value(v, today, user_id) for v in c.values]
    if c.type == "user" and any(v is None for v in values):
        return false()  # no reader (the command line): nobody's records
    if c.type == "datetime":
        return _datetime(col, c, values, today, user_id)
    if c.op == "is":
        return col == values[0]
    if c.op == "in":
        return col.in_(values)
    parts = []
    if c.start is not None:
        parts.append(col >= _value(c.start, today, user_id))
    if c.end is not None:
        parts.append(col <= _value(c.end, today, user_id))
    return and_(*parts)


def _datetime(col: Any, c: FieldCondition, values: list[Any], today: dt.date,
              user_id: Optional[int]) -> Any:
    """A date condition on a timestamp column: whole days (``to`` takes the whole day)."""
    def start_of(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.min)

    def after(day: dt.date) -> dt.datetime:
        return start_of(day + dt.timedelta(days=1))

    if c.op in ("is", "in"):
        return or_(*(and_(col >= start_of(d), col < after(d)) for d in values))
    parts = []
    if c.start is not None:
        parts.append(col >= start_of(_value(c.start, today, user_id)))
    if c.end is not None:
        parts.append(col < after(_value(c.end, today, user_id)))
    return and_(*parts)
