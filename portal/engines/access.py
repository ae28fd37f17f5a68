"""Who may do what to which records: role rules from YAML applied to the current user.

One mechanism serves every path: read scopes are added to every ORM query on an entity
(``portal.engines.scoping``), and update/delete scopes are checked on the record itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Optional

from portal.spec.model import EntitySpec

#: The role FAB creates for administrators; it may do everything and sees every field.
ADMIN_ROLE = "Admin"
_WIDTH = MappingProxyType({None: 0, "own": 1, "department": 2, "all": 3})


class AccessDenied(Exception):
    """The current user may not do this to this record (shown as 403 / a flash message)."""


@dataclass(frozen=True)
class Principal:
    """The acting user as the access rules see it."""

    user_id: Optional[int]
    username: str
    department_id: Optional[int]
    roles: frozenset[str]

    @property
    def is_admin(self) -> bool:
        """Admins bypass every scope and see every field."""
        return ADMIN_ROLE in self.roles


#: Acts for command-line work (init, demo, import jobs): no scope applies.
SYSTEM = Principal(user_id=None, username="system", department_id=None,
                   roles=frozenset({ADMIN_ROLE}))


@dataclass(frozen=True)
class EffectiveAccess:
    """One user's rights on one entity, merged over all of the user's roles."""

    read: Optional[str]
    create: bool
    update: Optional[str]
    delete: Optional[str]
    hidden: frozenset[str]

    def scope(self, action: str) -> Optional[str]:
        """The scope of ``read``, ``update`` or ``delete`` (None: not allowed)."""
        return {"read": self.read, "update": self.update, "delete": self.delete}[action]


FULL_ACCESS = EffectiveAccess("all", True, "all", "all", frozenset())


def effective_access(entity: EntitySpec, principal: Principal) -> EffectiveAccess:
    """Merge the rules of the principal's roles: widest scope wins; a field stays hidden
    only if every role that can read the entity hides it."""
    if principal.is_admin:
        return FULL_ACCESS
    rules = [entity.access[r] for r in principal.roles if r in entity.access]
    if not rules:
        return EffectiveAccess(None, False, None, None, frozenset())

    def widest(action: str) -> Optional[str]:
        return max((getattr(r, action) for r in rules), key=lambda s: _WIDTH[s])

    readers = [r for r in rules if r.read]
    hidden = frozenset.intersection(*(frozenset(r.hide) for r in readers)) if readers else \
        frozenset()
    return EffectiveAccess(widest("read"), any(r.create for r in rules), widest("update"),
                           widest("delete"), hidden)


def in_scope(scope: Optional[str], owner_id: Optional[int], owner_department: Optional[int],
             principal: Principal) -> bool:
    """Whether a record with this owner falls inside ``scope`` for ``principal``."""
    if scope == "all":
        return True
    if scope is None or principal.user_id is None:
        return False
    if owner_id == principal.user_id:
        return True
    return (scope == "department" and principal.department_id is not None
            and owner_department == principal.department_id)
