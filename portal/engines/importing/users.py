"""Importing people as portal users (``entity: user`` in a mapping): a sales team's list, an
HR export. A user is matched by user name (made from the full name when the file has none);
roles must exist; a department is created when new; a manager is a user already there or
one of the file. Imported users cannot log in until an admin sets their password.
Identical rows for one person (a manager named on every row of the team) count once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.engines.access import Principal
from portal.engines.importing.run import ImportReport, Problem, Progress
from portal.engines.importing.source import Source
from portal.spec.imports import ImportMapping
from portal.system_models import Department, PortalUser, Role

#: An imported user's password: no password matches it (it is not a hash) until an admin
#: sets one or the user resets it. Hashing a random one with scrypt cost 80 ms per user.
UNUSABLE_PASSWORD = "!imported"
#: Email given to imported users when the file has none (the address is not deliverable).
NO_EMAIL_DOMAIN = "users.invalid"


def username_from(full_name: str) -> str:
    """``Anna Snelling`` -> ``anna.snelling`` (other scripts are kept as they are)."""
    name = re.sub(r"\s+", ".", full_name.strip().casefold())
    return re.sub(r"[^\w.\-]", "", name)[:64]


def _split(full_name: str) -> tuple[str, str]:
    first, _, last = full_name.strip().partition(" ")
    return first, last


class _UserImporter:
    def __init__(self, session: Session, mapping: ImportMapping, source: Source,
                 progress: Optional[Progress]) -> None:
        self.session, self.mapping, self.source = session, mapping, source
        self.report = ImportReport(source.name, "user")
        self.progress = progress or (lambda done, total: None)

    def run(self, apply: bool) -> ImportReport:
        people = self._people()
        self.report.rows = len(self.source.rows)
        if self.report.problem_count:
            return self.report
        existing = {u.username: u for u in self.session.scalars(select(PortalUser))}
        by_name = {self._full(u).casefold(): u.username for u in existing.values()}
        by_name.update({p["full_name"].casefold(): p["username"] for p in people.values()
                        if p.get("full_name")})
        roles = {r.name: r for r in self.session.scalars(select(Role))}
        for person in people.values():
            self._check(person, roles, by_name, existing, people)
        if self.report.problem_count or not apply:
            return self.report
        self._write(people, existing, roles, by_name)
        self.report.applied = True
        return self.report

    @staticmethod
    def _full(user: PortalUser) -> str:
        return " ".join(p for p in (user.first_name, user.last_name) if p)

    def _people(self) -> dict[str, dict[str, Any]]:
        positions = {h: i for i, h in enumerate(self.source.headers)}
        for column in self.mapping.columns:
            if column not in positions:
                self.report.add(Problem(0, column, column, "", f"the mapping's column "
                                        f"'{column}' is not in the file"))
        if self.report.problem_count:
            return {}
        people: dict[str, dict[str, Any]] = {}
        for number, cells in self.source.rows:
            person: dict[str, Any] = {}
            for column, targets in self.mapping.columns.items():
                text = cells[positions[column]] if positions[column] < len(cells) else ""
                for target in targets:
                    value = self.mapping.values.get(target, {}).get(text.strip(), text).strip()
                    person[target] = value or None
            for target, default in self.mapping.defaults.items():
                person.setdefault(target, default)
                if person[target] is None:
                    person[target] = default
            if not person.get("username") and person.get("full_name"):
                person["username"] = username_from(person["full_name"])
            if not person.get("username"):
                self.report.add(Problem(number, "", "username", "", "no user name and no full "
                                                                    "name on this row"))
                continue
            person["row"] = number
            seen = people.get(person["username"])
            if seen is not None:
                if {k: v for k, v in seen.items() if k != "row"} != \
                        {k: v for k, v in person.items() if k != "row"}:
                    self.report.add(Problem(number, "", "username", person["username"],
                                            f"also on row {seen['row']} with other values"))
                continue
            people[person["username"]] = person
        return people

    def _check(self, person: Mapping[str, Any], roles: Mapping[str, Role],
               by_name: Mapping[str, str], existing: Mapping[str, PortalUser],
               people: Mapping[str, Any]) -> None:
        row = person["row"]
        for role in _names(person.get("roles")):
            if role not in roles:
                self.report.add(Problem(row, "", "roles", role, f"no role '{role}' (roles: "
                                        f"{', '.join(sorted(roles))})"))
        manager = person.get("manager")
        if manager and manager.casefold() not in by_name and manager not in existing \
                and manager not in people:
            self.report.add(Problem(row, "", "manager", manager, f"no user called '{manager}' "
                                                                 "here or in the file"))

    def _write(self, people: Mapping[str, dict[str, Any]], existing: dict[str, PortalUser],
               roles: Mapping[str, Role], by_name: Mapping[str, str]) -> None:
        departments = {d.name: d for d in self.session.scalars(select(Department))}
        for done, person in enumerate(people.values(), start=1):
            user = existing.get(person["username"])
            if user is None:
                first, last = _split(person.get("full_name") or person["username"])
                user = PortalUser(
                    username=person["username"], active=True,
                    first_name=person.get("first_name") or first,
                    last_name=person.get("last_name") or last,
                    email=person.get("email") or f"{person['username']}@{NO_EMAIL_DOMAIN}",
                    password=UNUSABLE_PASSWORD)
                self.session.add(user)
                existing[user.username] = user
                self.report.created += 1
            else:
                self.report.updated += 1
                for key in ("first_name", "last_name", "email"):
                    if person.get(key):
                        setattr(user, key, person[key])
            wanted = [roles[r] for r in _names(person.get("roles"))]
            user.roles = list(dict.fromkeys([*user.roles, *wanted]))
            department = person.get("department")
            if department:
                if department not in departments:
                    departments[department] = Department(name=department)
                    self.session.add(departments[department])
                user.department = departments[department]
            self.progress(done, len(people))
        self.session.flush()
        for person in people.values():
            manager = person.get("manager")
            if manager:
                boss = existing.get(by_name.get(manager.casefold(), manager)) or \
                    existing.get(manager)
                existing[person["username"]].manager_id = boss.id if boss else None
        self.session.flush()


def _names(text: Optional[str]) -> list[str]:
    return [n.strip() for n in (text or "").replace(",", ";").split(";") if n.strip()]


def run_user_import(session: Session, mapping: ImportMapping, source: Source,
                    principal: Principal, apply: bool = False,
                    progress: Optional[Progress] = None) -> ImportReport:
    """Check (and with ``apply``, write on ``session``) the people of ``source``."""
    del principal  # users carry no creator; the import's runner is who the caller says
    return _UserImporter(session, mapping, source, progress).run(apply)
