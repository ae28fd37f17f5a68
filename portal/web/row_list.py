"""REST lists served from selected columns instead of model instances.

FAB answers ``GET /api/v1/<entity>/`` by loading a page of model instances (with
``contains_eager`` for each related record shown) and dumping them through marshmallow.
For a page of 100 rows that is most of the request: the ORM builds and tracks an instance
per row and per related record, then marshmallow reads them back attribute by attribute.

A :class:`RowListPlan` selects just the list's columns as plain rows, with one outer join
per many-to-one relation shown (``customer.name``), and writes each value with the very
marshmallow field of the list schema that FAB would use (``fast_dump.value_writer``), so the
JSON is the same. Filters, order and pagination are FAB's own functions applied to the
statement. The count and the page are Core statements run on the session's connection,
skipping the ORM's per-execution work, so the read scope is added here with
``scoping.read_criteria``: to the listed entity, and to the ON clause of each joined related
entity, as the ORM hook does for FAB's joined loads (an unreadable related record reads as
null).

A plan exists only for lists it can serve exactly: plain columns and ``relation.column``
of many-to-one relations whose schema fields use marshmallow's default attribute access.
Anything else (many-to-many columns, properties, custom fields) returns no plan and the
API takes FAB's path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from flask_appbuilder.models.filters import Filters
from marshmallow import Schema
from marshmallow.fields import Nested
from sqlalchemy import func, select
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import QueryableAttribute
from sqlalchemy.orm.properties import ColumnProperty

from portal.engines.access import Principal
from portal.engines.scoping import read_criteria
from portal.spec.model import EntitySpec
from portal.web.fast_dump import plain_field, value_writer

#: How one list column is written: (key, index of its value in the row, value writer).
_Leaf = tuple[str, int, Callable[[Any], Any]]


@dataclass(frozen=True)
class _Related:
    """A ``relation.column`` group: written as ``{column: value}`` under ``key``, or null
    when the row has no (visible) related record (its primary key is null)."""

    key: str
    pk_index: int
    leaves: tuple[_Leaf, ...]


@dataclass(frozen=True)
class RowListPlan:
    """How to select and write one list-column tuple of one model."""

    model: type
    entity: EntitySpec
    columns: tuple[Any, ...]
    #: (alias, relationship attribute, the related EntitySpec or None if not an entity)
    joins: tuple[tuple[Any, Any, Optional[EntitySpec]], ...]
    id_index: int
    #: Plain columns, then ``relation.column`` groups (JSON keys are sorted when sent).
    leaves: tuple[_Leaf, ...]
    related: tuple[_Related, ...]

    def fetch(self, datamodel: Any, principal: Optional[Principal],
              filters: Optional[Filters], order_column: str, order_direction: str,
              page: Optional[int], page_size: Optional[int]
              ) -> tuple[int, list[Any], list[dict[str, Any]]]:
        """(count, ids, rows as the list schema would dump them) of one page of the records
        ``principal`` may read."""
        pk = datamodel.get_pk()
        count_stmt = select(func.count(pk)).select_from(self.model)
        scope = read_criteria(self.model, self.entity, principal)
        if scope is not None:
            count_stmt = count_stmt.where(scope)
        count_stmt = datamodel.apply_filters(count_stmt, filters)
        # The count rides along as an uncorrelated scalar subquery: one round trip, and the
        # database still plans it on its own (an InitPlan on PostgreSQL, evaluated once).
        total = count_stmt.scalar_subquery().label("portal_total")
        page_stmt = select(*self.columns, total).select_from(self.model)
        for alias, relation, related in self.joins:
            on = relation.of_type(alias)
            limit = read_criteria(alias, related, principal) if related is not None else None
            page_stmt = page_stmt.outerjoin(alias, on if limit is None else on.and_(limit))
        if scope is not None:
            page_stmt = page_stmt.where(scope)
        page_stmt = datamodel.apply_filters(page_stmt, filters)
        page_stmt = datamodel.apply_order_by(page_stmt, order_column, order_direction,
                                             aliases_mapping={}, bypass_many_to_many=True,
                                             add_pk=True)
        page_stmt = datamodel.apply_pagination(page_stmt, page, page_size)
        conn = datamodel.session.connection()
        rows = conn.execute(page_stmt).all()
        count = rows[0][-1] if rows else conn.execute(count_stmt).scalar()
        return count, [row[self.id_index] for row in rows], [self._write(r) for r in rows]

    def _write(self, row: Sequence[Any]) -> dict[str, Any]:
        out = {key: write(row[i]) for key, i, write in self.leaves}
        for group in self.related:
            out[group.key] = None if row[group.pk_index] is None else \
                {key: write(row[i]) for key, i, write in group.leaves}
        return out


def _column_attribute(cls: Any, name: str) -> Optional[Any]:
    """``cls.name`` if it is a plain mapped column, else None."""
    attr = getattr(cls, name, None)
    if isinstance(attr, QueryableAttribute) and isinstance(attr.property, ColumnProperty):
        return attr
    return None


def _add_leaf(leaves: list[_Leaf], columns: list[Any], target: Any, schema: Schema,
              name: str) -> bool:
    """Select ``target.name`` and write it with ``schema``'s field; False if either is not
    plain (then the list takes FAB's path)."""
    field = schema.fields.get(name)
    attr = _column_attribute(target, name)
    if field is None or attr is None or not plain_field(name, field):
        return False
    key = field.data_key or name
    leaves.append((key, len(columns), value_writer(field, key)))
    columns.append(attr)
    return True


def build_plan(datamodel: Any, entity: EntitySpec, entity_of: Mapping[type, EntitySpec],
               schema: Schema, list_columns: Sequence[str]) -> Optional[RowListPlan]:
    """The plan for ``list_columns`` of ``entity`` dumped with ``schema``, or None when the
    list needs FAB's path (see the module docstring). ``entity_of`` maps generated classes
    to their definitions (a related class not in it, such as users, has no read scope)."""
    model = datamodel.obj
    pk_name = datamodel.get_pk_name()
    if not isinstance(pk_name, str):
        return None
    columns: list[Any] = []
    leaves: list[_Leaf] = []
    groups: dict[str, list[str]] = {}
    for name in list_columns:
        root, _, leaf = name.partition(".")
        if leaf:
            if "." in leaf or not datamodel.is_relation_many_to_one(root):
                return None
            groups.setdefault(root, []).append(leaf)
            continue
        if not _add_leaf(leaves, columns, model, schema, name):
            return None
    joins = []
    related_groups = []
    for root, names in groups.items():
        nested = schema.fields.get(root)
        if (not isinstance(nested, Nested) or nested.many or not plain_field(root, nested)
                or set(nested.schema.dump_fields) != set(names)):
            return None
        related = datamodel.get_related_model(root)
        related_pk = datamodel.get_pk(related)
        if related_pk is None:
            return None
        alias = aliased(related)
        pk_index = len(columns)
        columns.append(getattr(alias, related_pk.key))
        group_leaves: list[_Leaf] = []
        if not all(_add_leaf(group_leaves, columns, alias, nested.schema, leaf)
                   for leaf in names):
            return None
        joins.append((alias, getattr(model, root), entity_of.get(related)))
        related_groups.append(_Related(nested.data_key or root, pk_index, tuple(group_leaves)))
    id_index = len(columns)
    columns.append(getattr(model, pk_name))
    return RowListPlan(model, entity, tuple(columns), tuple(joins), id_index, tuple(leaves),
                       tuple(related_groups))
