"""FAB's SQLAlchemy interface, minus work it repeats on every request and at start-up.

* Filters: FAB builds a ``Filters`` object for every view at start-up (twice) and again on
  every REST list request (``get_joined_filters``), and each one converts every column of
  the model into its filter classes by probing the column's type through a dozen ``is_*``
  checks. The answer depends only on the model, so it is computed once per model and shared:
  filter instances hold nothing but their column and model.
* Counting: FAB counts a list by wrapping the whole entity query (every column, with its
  loader options) in a subquery. The same rows are counted here with ``count(<pk>)`` over
  the same FROM, joins and WHERE (the joins FAB adds for dotted columns are outer joins to
  many-to-one relations: they never change the number of rows; plain columns only add
  loader options, which a count does not need).
* Selected columns: FAB adds one ``load_only`` option per plain list column, built anew for
  every query; one option naming them all, built once per column list, selects the same
  columns for a fraction of the cost.
* Linked records of a shown record: FAB joins each one under an alias named after the link
  (``follow_up_plan AS plan``). The read scope of the linked entity is put on that join here,
  written over the alias's own columns, so a linked record the user may not read shows as
  empty (the session's scope hook covers the entity's own table, not its aliases).
"""

from __future__ import annotations

from typing import Any, Optional

from flask_appbuilder.models.filters import Filters
from flask_appbuilder.models.sqla.filters import SQLAFilterConverter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.utils.base import is_column_dotted
from sqlalchemy import and_, func
from sqlalchemy.orm import Load, Query, aliased
from sqlalchemy.sql.elements import BinaryExpression

from portal.engines.scoping import read_criteria
from portal.runtime import request_principal

#: Where a model class keeps its converted filters (models are built once per app).
_CACHE_ATTR = "__portal_filter_cache__"


class CachedFilterConverter(SQLAFilterConverter):
    """``SQLAFilterConverter`` remembering each column's filters on the model class."""

    def convert(self, col_name: str) -> Any:
        model = self.datamodel.obj
        cache = model.__dict__.get(_CACHE_ATTR)
        if cache is None:
            cache = {}
            setattr(model, _CACHE_ATTR, cache)
        if col_name not in cache:
            cache[col_name] = super().convert(col_name)
        found = cache[col_name]
        # A fresh list each time: FAB extends the lists it gets (``search_filters``).
        return list(found) if found is not None else None


class PortalInterface(SQLAInterface):
    """The datamodel of every generated screen and API (and of their related interfaces)."""

    filter_converter_class = CachedFilterConverter

    def query_count(self, query: Query, filters: Optional[Filters] = None,
                    select_columns: Optional[list[str]] = None) -> int:
        pk = self.get_pk()
        if pk is None:  # no single-column primary key: FAB's way
            return super().query_count(query, filters, select_columns)
        dotted = [c for c in select_columns or () if is_column_dotted(c)]
        counted = self._apply_inner_all(query, filters, select_columns=dotted or None,
                                        aliases_mapping={})
        return counted.with_entities(func.count(pk)).order_by(None).scalar()

    def apply_inner_select_joins(self, query: Query, select_columns: Optional[list[str]] = None,
                                 aliases_mapping: Optional[dict[str, Any]] = None) -> Query:
        if not select_columns:
            return query
        load = self._load_only(tuple(select_columns))
        if load is not None:
            query = query.options(load)
        dotted = [c for c in select_columns if is_column_dotted(c)]
        if not dotted:
            return query
        return super().apply_inner_select_joins(query, dotted, aliases_mapping)

    def _load_only(self, select_columns: tuple[str, ...]) -> Any:
        """One ``load_only`` for the undotted columns (FAB's per-column test), or None."""
        cache = self.__dict__.setdefault("_portal_load_only", {})
        if select_columns not in cache:
            plain = [getattr(self.obj, c) for c in select_columns
                     if not is_column_dotted(c) and not self.is_relation(c)
                     and not self.is_property_or_function(c)]
            cache[select_columns] = Load(self.obj).load_only(*plain) if plain else None
        return cache[select_columns]

    def _query_join_relation(self, query: Query, root_relation: str,
                             aliases_mapping: Optional[dict[str, Any]] = None) -> Query:
        """FAB's join of a linked entity under an alias named after the link, with that
        entity's read scope on the join, over the alias's own columns."""
        if aliases_mapping is None:
            aliases_mapping = {}
        principal = request_principal()
        for model_relation, relation_join in self.get_related_model_and_join(root_relation):
            target = model_relation
            if not hasattr(relation_join, "clauses"):  # FAB aliases all but custom joins
                target = aliased(model_relation, name=root_relation)
                aliases_mapping[root_relation] = target
                relation_pk = self.get_pk(target)
                side = relation_join.left if relation_join.left.foreign_keys else \
                    relation_join.right
                relation_join = BinaryExpression(side, relation_pk, relation_join.operator)
            entity = getattr(model_relation, "__entity__", None)
            limit = read_criteria(target, entity, principal) if entity is not None else None
            on = relation_join if limit is None else and_(relation_join, limit)
            query = query.join(target, on, isouter=True)
        return query
