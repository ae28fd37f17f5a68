"""``portal import ENTITY FILE``: a dry run by default, ``--apply`` to write (all or nothing),
with a progress bar and every problem by row and column."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from portal.engines.access import SYSTEM, Principal
from portal.engines.importing.run import ImportReport, run_import
from portal.engines.importing.source import SourceError, read_source
from portal.engines.importing.users import run_user_import
from portal.spec.computed import formulas
from portal.spec.imports import (
    USER_IMPORT_ENTITY,
    ImportMapping,
    guess_mapping,
    mapping_from_text,
    user_import_entity,
)

#: Problems printed in the terminal (the report counts them all).
SHOWN_PROBLEMS = 100


class ImportFailed(Exception):
    """The import cannot start: no such entity or mapping, an unreadable file."""


def choose_mapping(registry: Any, entity: str, option: Optional[str],
                   headers: list[str]) -> ImportMapping:
    """The mapping named ``option`` (in the schema folder's ``imports/``, or a YAML file), or
    one guessed from the headers."""
    if entity not in registry.entities and entity != USER_IMPORT_ENTITY:
        raise ImportFailed(f"unknown entity '{entity}' (entities: "
                           f"{', '.join(sorted(registry.entities))})")
    if option is None:
        target = user_import_entity() if entity == USER_IMPORT_ENTITY else \
            registry.entity(entity)
        return guess_mapping(registry.entities, target, headers, formulas(registry))
    if option in registry.imports:
        mapping = registry.imports[option]
    elif Path(option).is_file():
        mapping, errors = mapping_from_text(Path(option).read_text(encoding="utf-8"), option,
                                            registry.entities, formulas(registry))
        if errors or mapping is None:
            raise ImportFailed("\n".join(str(e) for e in errors))
    else:
        raise ImportFailed(f"no import mapping '{option}' (known: "
                           f"{', '.join(sorted(registry.imports)) or 'none'}), and no such file")
    if mapping.entity != entity:
        raise ImportFailed(f"mapping '{option}' imports into '{mapping.entity}', not '{entity}'")
    return mapping


def principal_of(session: Any, username: Optional[str]) -> Principal:
    """Whom the imported records are created by: a user, or the system."""
    if username is None:
        return SYSTEM
    from sqlalchemy import select

    from portal.system_models import PortalUser

    user = session.scalars(select(PortalUser).where(PortalUser.username == username)).first()
    if user is None:
        raise ImportFailed(f"no user '{username}'")
    return Principal(user.id, user.username, user.department_id,
                     frozenset(r.name for r in user.roles))


def import_file(app: Any, entity: str, file: Path, mapping_option: Optional[str],
                apply: bool, username: Optional[str],
                progress: Callable[[int, int], None]) -> ImportReport:
    """Run the import inside ``app``: commit when applied without problems."""
    runtime = app.extensions["portal"]
    try:
        source = read_source(file)
    except SourceError as exc:
        raise ImportFailed(str(exc)) from None
    mapping = choose_mapping(runtime.registry, entity, mapping_option, source.headers)
    session = app.appbuilder.session
    try:
        principal = principal_of(session, username)
        if mapping.entity == USER_IMPORT_ENTITY:
            report = run_user_import(session, mapping, source, principal, apply, progress)
        else:
            report = run_import(session, runtime.registry, runtime.models.classes, mapping,
                                source, principal, apply=apply, progress=progress)
        if report.applied:
            session.commit()
        else:
            session.rollback()
    except Exception:
        session.rollback()
        raise
    return report


def echo_report(report: ImportReport, echo: Callable[[str], None]) -> None:
    """The problems (the first ``SHOWN_PROBLEMS``) and the summary."""
    for problem in report.problems[:SHOWN_PROBLEMS]:
        echo(f"  {problem}")
    if report.problem_count > SHOWN_PROBLEMS:
        echo(f"  ... and {report.problem_count - SHOWN_PROBLEMS} more problem(s)")
    echo(report.summary())
