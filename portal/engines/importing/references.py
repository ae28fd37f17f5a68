"""Finding the records and users a file names: a link by the target's title, a user by user
name, full name or email. Each target is read once (through the ORM, so the importing
user's read scope decides what can be linked to)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.engines.access import Principal
from portal.engines.scoping import UNSCOPED, read_criteria
from portal.spec.model import EntitySpec
from portal.system_models import PortalUser


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


class Lookup:
    """Names to ids for one target; a name used by two records is ambiguous."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.ids: dict[str, set[int]] = defaultdict(set)

    def add(self, name: Optional[str], record_id: int) -> None:
        """Know ``record_id`` by ``name``."""
        if name:
            self.ids[_norm(str(name))].add(record_id)

    def find(self, text: str) -> tuple[Optional[int], Optional[str]]:
        """(id, None) for a known name, else (None, why)."""
        found = self.ids.get(_norm(text), set())
        if len(found) == 1:
            return next(iter(found)), None
        if found:
            return None, f"'{text}' names {len(found)} {self.what} records; make it unique"
        return None, f"no {self.what} called '{text}'"


def record_lookup(session: Session, model: type, entity: EntitySpec,
                  principal: Optional[Principal] = None) -> Lookup:
    """The records of ``entity`` by their title (by id when the entity has no title) that
    ``principal`` may read (all, without one: the command line)."""
    lookup = Lookup(entity.name)
    title = entity.title if entity.title and entity.fields.get(entity.title) is not None and \
        entity.fields[entity.title].type not in {"link", "user", "children", "many"} else None
    column = getattr(model, title) if title else model.id
    query = select(model.id, column)
    criteria = read_criteria(model, entity, principal)
    if criteria is not None:
        query = query.where(criteria)
    # The scope is applied here, explicitly: a background import has no request to take it
    # from.
    for record_id, name in session.execute(query, execution_options={UNSCOPED: True}):
        lookup.add(str(name) if name is not None else None, record_id)
    return lookup


def user_lookup(session: Session) -> Lookup:
    """Active users by user name, full name and email."""
    lookup = Lookup("user")
    rows = session.execute(select(PortalUser.id, PortalUser.username, PortalUser.first_name,
                                  PortalUser.last_name, PortalUser.email)
                           .where(PortalUser.active.is_(True)))
    for user_id, username, first, last, email in rows:
        lookup.add(username, user_id)
        lookup.add(" ".join(p for p in (first, last) if p), user_id)
        lookup.add(email, user_id)
    return lookup


def lookup_for(session: Session, models: Any, registry: Any, kind: str,
               target: Optional[str], principal: Optional[Principal] = None) -> Lookup:
    """The lookup of a link's target entity (what ``principal`` may read), or of users."""
    if kind == "user":
        return user_lookup(session)
    entity = registry.entity(target)
    return record_lookup(session, models[target], entity, principal)
