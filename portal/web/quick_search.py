"""The list screen's search box: one text matched against all of an entity's search fields."""

from __future__ import annotations

from typing import Any

from flask_appbuilder.models.filters import BaseFilter
from sqlalchemy import String, cast, or_

#: The query-string parameter of the search box.
PARAM = "_q"


def quick_search_filter(columns: tuple[str, ...]) -> type[BaseFilter]:
    """A FAB filter class matching its value, case-insensitively, in any of ``columns``."""

    class QuickSearch(BaseFilter):
        name = "Search"
        arg_name = "qs"

        def apply(self, query: Any, value: Any) -> Any:
            model = self.datamodel.obj
            pattern = f"%{escape_like(str(value))}%"
            matches = [cast(getattr(model, c), String).ilike(pattern, escape="\\")
                       for c in columns]
            return query.filter(or_(*matches))

    return QuickSearch


def escape_like(text: str) -> str:
    """``text`` with LIKE wildcards taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
