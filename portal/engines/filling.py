"""What the portal fills in on a record before it is saved: the conditional defaults of a new
record (:mod:`portal.engines.record_defaults`) and the links named by text
(:mod:`portal.engines.text_links`).

Screens and the REST API call :func:`fill_before_save` before a record's checks, so the checks
see the filled values and a refusal is an ordinary 422. A session hook does the same for every
other path that saves through the ORM (a workflow's create effect, a public form, a board
move) just before the flush, ahead of the lifecycle hook, so records it creates get their
creator, numbers and audit entries like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.engines.access import Principal
from portal.engines.record_defaults import apply_defaults, defaults_of
from portal.engines.text_links import LinkRefused, TextLinker
from portal.spec.model import Registry
from portal.spec.record_defaults import KEY as DEFAULTS
from portal.spec.text_links import KEY as TEXT_LINKS

__all__ = ["LinkRefused", "fill_before_save", "install_filling"]

#: Rounds of the flush hook: records it creates may have defaults and links of their own.
MAX_ROUNDS = 5


def fill_before_save(session: Session, registry: Registry, models: Mapping[str, type],
                     item: Any, principal: Principal, created: bool) -> None:
    """Fill ``item`` (and its child rows) before its checks: links from texts and texts from
    links, then, on a new record, the conditional defaults. Raises :class:`LinkRefused`."""
    linker = TextLinker(session, registry, models, principal)
    linker.fill_with_children(item)
    if created:
        apply_defaults(session, registry, item, principal)
    entity = type(item).__entity__
    for f in entity.fields.values():
        if f.type == "children" and defaults_of(registry, f.target or "") is not None:
            for row in getattr(item, f.name) or ():
                if row.id is None:
                    apply_defaults(session, registry, row, principal)


def install_filling(session_factory: Any, registry: Registry, models: Mapping[str, type],
                    current_actor: Callable[[], Principal]) -> None:
    """Attach the before-flush hook filling every new or changed record of an entity with
    text links or conditional defaults, ahead of the other before-flush hooks."""
    wanted = {name for key in (TEXT_LINKS, DEFAULTS)
              for name in registry.features.get(key, {})}

    def before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
        if not wanted:
            return
        linker: TextLinker | None = None
        done: set[int] = set()
        for _ in range(MAX_ROUNDS):
            new = [o for o in session.new if _entity_name(o) in wanted and id(o) not in done]
            changed = [o for o in session.dirty if _entity_name(o) in wanted
                       and id(o) not in done and session.is_modified(o)]
            if not new and not changed:
                return
            linker = linker or TextLinker(session, registry, models, current_actor())
            for obj in new + changed:
                done.add(id(obj))
                linker.fill(obj)
            for obj in new:
                apply_defaults(session, registry, obj, linker.principal)

    event.listen(session_factory, "before_flush", before_flush, insert=True)


def _entity_name(obj: Any) -> str | None:
    entity = getattr(type(obj), "__entity__", None)
    return entity.name if entity is not None else None
