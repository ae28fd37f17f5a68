"""Read scopes applied to every ORM query on an entity, wherever it comes from.

Lists, show pages, REST list/get/put/delete, search, counts, related dropdowns and related
lists all load records through the ORM; a ``do_orm_execute`` hook adds the current user's
read scope to each of them, so no path can forget it. Loads of a parent's own children
(``children`` fields) are not scoped: child rows are part of the parent record.

The one reader that runs Core statements instead, the REST list's row path
(``portal.web.row_list``), adds the same criteria itself with :func:`read_criteria`, to the
listed entity and to every related entity it joins.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Optional

from sqlalchemy import Table, event, false, or_, select
from sqlalchemy.orm import ORMExecuteState, with_loader_criteria
from sqlalchemy.sql import visitors

from portal.engines.access import Principal, effective_access
from portal.system_models import (
    Delegation,
    PortalUser,
    Role,
    WorkflowStep,
    WorkflowTask,
    assoc_user_role,
)

#: Execution option that turns scoping off for one statement (engines' own lookups).
UNSCOPED = "portal_unscoped"


def scope_criteria(model: type, scope: Optional[str], principal: Principal) -> Any:
    """The WHERE clause restricting ``model`` to ``scope`` for ``principal`` (None: no limit)."""
    if scope == "all":
        return None
    if scope is None or principal.user_id is None:
        return false()
    owner = getattr(model, model.__owner_column__)
    if scope == "department" and principal.department_id is not None:
        same_department = select(PortalUser.id).where(
            PortalUser.department_id == principal.department_id
        )
        return owner.in_(same_department)
    return owner == principal.user_id


def read_criteria(target: Any, entity: Any, principal: Optional[Principal]) -> Any:
    """The clause limiting ``target`` (a generated class or an alias of one, defined by
    ``entity``) to what ``principal`` may read; None when nothing is hidden (no principal:
    command line; an admin; a role reading ``all``).

    In an entity with a workflow, approvers also read the records that wait or waited for
    them (or for someone they substitute for) and the records they have acted on, or that
    were acted on in their name, whatever their scope.
    """
    if principal is None or principal.is_admin:
        return None
    criteria = scope_criteria(target, effective_access(entity, principal).read, principal)
    if criteria is None or principal.user_id is None or \
            getattr(target, "__workflow__", None) is None:
        return criteria
    return or_(criteria, target.id.in_(_approver_records(entity.name, principal)))


def _approver_records(entity: str, principal: Principal) -> Any:
    """Ids of ``entity`` records that are or were in ``principal``'s queue (open and closed
    queue rows: the loser of a race for an approval still finds the record, and is told it
    moved) or acted on by them or on their behalf."""
    today = dt.date.today()
    delegators = select(Delegation.user_id).where(
        Delegation.substitute_id == principal.user_id, Delegation.starts <= today,
        Delegation.ends >= today)
    delegated_roles = select(Role.name).join(
        assoc_user_role, assoc_user_role.c.role_id == Role.id).where(
        assoc_user_role.c.user_id.in_(delegators))
    waiting = select(WorkflowTask.record_id).where(
        WorkflowTask.entity == entity,
        or_(WorkflowTask.user_id == principal.user_id,
            WorkflowTask.role.in_(sorted(principal.roles)),
            WorkflowTask.user_id.in_(delegators), WorkflowTask.role.in_(delegated_roles)))
    acted = select(WorkflowStep.record_id).where(
        WorkflowStep.entity == entity, or_(WorkflowStep.actor_id == principal.user_id,
                                           WorkflowStep.on_behalf_of_id == principal.user_id))
    return waiting.union(acted)


def install_read_scopes(session_factory: Any, models_by_class: Mapping[type, Any],
                        current_principal: Callable[[], Optional[Principal]]) -> None:
    """Scope every SELECT of a generated model run through ``session_factory``'s sessions.

    ``models_by_class`` maps each generated class to its EntitySpec; ``current_principal``
    returns the acting user, or None where no user acts (command line), which means no scope.
    """

    by_table = {cls.__table__: cls for cls in models_by_class}

    def add_scopes(state: ORMExecuteState) -> None:
        if not state.is_select or state.is_column_load or state.is_relationship_load:
            return
        if state.execution_options.get(UNSCOPED):
            return
        scoped = _entities_in(state, models_by_class, by_table)
        if not scoped:
            return
        principal = current_principal()
        if principal is None or principal.is_admin:
            return
        options = []
        for cls, entity in scoped:
            criteria = read_criteria(cls, entity, principal)
            if criteria is not None:
                # The table itself: a link joined under an alias gets its clause over the
                # alias's columns where it is joined (portal.datamodel).
                options.append(with_loader_criteria(cls, criteria, include_aliases=False))
        if options:
            state.statement = state.statement.options(*options)

    event.listen(session_factory, "do_orm_execute", add_scopes)


def _entities_in(state: ORMExecuteState, models_by_class: Mapping[type, Any],
                 by_table: Mapping[Any, type]) -> list[tuple[type, Any]]:
    """The generated classes a SELECT reads, including inside subqueries (``Query.count``
    wraps the entity query in a subquery that ``all_mappers`` does not report)."""
    classes = [m.class_ for m in state.all_mappers if m.class_ in models_by_class]
    if not classes and not state.all_mappers:
        classes = list(dict.fromkeys(
            by_table[node] for node in visitors.iterate(state.statement)
            if isinstance(node, Table) and node in by_table
        ))
    return [(cls, models_by_class[cls]) for cls in classes]
