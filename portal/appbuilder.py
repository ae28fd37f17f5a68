"""FAB's ``AppBuilder`` without the work that grows with the square of the number of views.

After every ``add_view``/``add_api`` FAB re-links every registered view's related views by
scanning all views for each (``_process_inner_views``) and checks for a duplicate class by a
linear scan; with a few hundred generated views that is quadratic (the related-view scan,
cubic) in the number of entities. Inside :meth:`PortalAppBuilder.batch` the linking is done
once at the end, with the views indexed by class (the same result, in the same order), and
the duplicate check is a set lookup.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from flask_appbuilder import AppBuilder


class PortalAppBuilder(AppBuilder):
    """``AppBuilder`` with registration in batches (see the module docstring)."""

    _portal_batch_depth = 0
    _portal_pending_links = False

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Register many views; related views are linked once, when the batch ends."""
        self._portal_batch_depth += 1
        try:
            yield
        finally:
            self._portal_batch_depth -= 1
            if not self._portal_batch_depth and self._portal_pending_links:
                self._portal_pending_links = False
                self._link_related_views()

    def _process_inner_views(self) -> None:
        if self._portal_batch_depth:
            self._portal_pending_links = True
            return
        super()._process_inner_views()

    def _link_related_views(self) -> None:
        """FAB's ``_process_inner_views`` (each view's related views: every registered
        instance of each class it names, in registration order), without nested scans."""
        by_class: dict[type, list[Any]] = {}
        for registered in self.baseviews:
            for klass in type(registered).__mro__:
                by_class.setdefault(klass, []).append(registered)
        for view in self.baseviews:
            inner_classes = view.get_uninit_inner_views()
            if not inner_classes:
                continue
            linked = view.get_init_inner_views()
            for inner_class in inner_classes:
                for candidate in by_class.get(inner_class, ()):
                    if candidate not in linked:
                        linked.append(candidate)

    def _view_exists(self, view: Any) -> bool:
        views = self.baseviews
        seen_list, seen, known = self.__dict__.get("_portal_known_views", (None, 0, set()))
        if seen_list is not views or seen > len(views):  # FAB replaced or shrank the list
            seen, known = 0, set()
        known.update(v.__class__ for v in views[seen:])
        self.__dict__["_portal_known_views"] = (views, len(views), known)
        return view.__class__ in known
