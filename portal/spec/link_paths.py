"""Link paths: how records of one entity relate to a record of another through link fields.

A 360 page tab (``portal.spec.overview``) or a timeline source (``portal.spec.timeline``)
lists records of entity A related to a record of entity B. A *path* is the link fields
walked from A to B, dotted: ``customer`` (A has a link field ``customer`` to B) or
``contract.customer`` (A links to a contract, whose ``customer`` links to B), any depth.
When A has exactly one link field to B the path may be left out; a list of paths relates a
record through any of them (a follow-up linked to the customer directly or through its
opportunity).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from portal.spec.loader import Path
from portal.spec.model import EntitySpec, Registry
from portal.spec.report import Reporter
from portal.spec.suggest import suggest


@dataclass(frozen=True)
class Hop:
    """One step of a path: ``entity``'s link field ``field`` (pointing at ``target``)."""

    entity: str
    field: str
    target: str


@dataclass(frozen=True)
class LinkPath:
    """The hops from a related entity to the record's entity, in walking order."""

    hops: tuple[Hop, ...]

    def __str__(self) -> str:
        return ".".join(h.field for h in self.hops)


def _link_fields(entity: EntitySpec) -> list[str]:
    return [f.name for f in entity.fields.values() if f.type == "link"]


def check_path(source: EntitySpec, text: Any, end: EntitySpec, registry: Registry,
               rep: Reporter, path: Path) -> Optional[LinkPath]:
    """The path ``text`` from ``source`` to ``end``, or None after reporting why not."""
    if not isinstance(text, str) or not text.strip():
        rep.add(path, "bad-value", "a path is link field names joined by dots, e.g. "
                                   "'contract.customer'")
        return None
    hops: list[Hop] = []
    here = source
    for name in text.split("."):
        f = here.fields.get(name)
        if f is None:
            rep.add(path, "unknown-field", f"unknown field '{name}' of '{here.name}' in path "
                                           f"'{text}'", suggest(name, _link_fields(here)))
            return None
        if f.type != "link" or f.target not in registry.entities:
            rep.add(path, "not-a-link", f"'{here.name}.{name}' is a {f.type} field, not a "
                                        f"link; a path walks link fields only")
            return None
        hops.append(Hop(here.name, name, f.target))
        here = registry.entities[f.target]
    if here.name != end.name:
        rep.add(path, "path-mismatch", f"path '{text}' from '{source.name}' ends at "
                                       f"'{here.name}', not at '{end.name}'")
        return None
    return LinkPath(tuple(hops))


def check_paths(source: EntitySpec, value: Any, end: EntitySpec, registry: Registry,
                rep: Reporter, path: Path) -> Optional[tuple[LinkPath, ...]]:
    """The paths of a ``path:`` value (one text or a list of texts; absent: the one link
    field of ``source`` to ``end``), or None after reporting why not."""
    if value is None:
        return default_path(source, end, rep, path)
    texts: Sequence[Any] = value if isinstance(value, list) else [value]
    if not texts:
        rep.add(path, "bad-value", "expected a path or a list of paths")
        return None
    found = []
    for i, text in enumerate(texts):
        at = (*path, i) if isinstance(value, list) else path
        one = check_path(source, text, end, registry, rep, at)
        if one is None:
            return None
        if one in found:
            rep.add(at, "duplicate-key", f"path '{text}' is given twice")
            return None
        found.append(one)
    return tuple(found)


def default_path(source: EntitySpec, end: EntitySpec, rep: Reporter, path: Path
                 ) -> Optional[tuple[LinkPath, ...]]:
    """The one link field of ``source`` pointing at ``end``, as a path; reported at the
    mapping that lacks ``path`` when there is none or several."""
    links = [f.name for f in source.fields.values() if f.type == "link" and f.target == end.name]
    where = path[:-1]
    if len(links) == 1:
        return (LinkPath((Hop(source.name, links[0], end.name),)),)
    if not links:
        rep.add(where, "no-link", f"'{source.name}' has no link field to '{end.name}'; give "
                                  f"a path through other links, e.g. path: <link>."
                                  f"<field of that entity>")
    else:
        rep.add(where, "ambiguous-link", f"'{source.name}' has several link fields to "
                                         f"'{end.name}' ({', '.join(links)}); say which with "
                                         f"path: <field>")
    return None
