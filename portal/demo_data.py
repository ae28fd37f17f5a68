"""``portal demo``: load the demo records described in ``<schema dir>/demo/*.yaml``.

The loader knows no entity: a file lists departments, users and, per entity, records whose
links name the target record by its title and whose user fields name a username. Everything
is written in one transaction through the ORM (so numbering and the audit trail apply), or
nothing is written at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from flask import Flask
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from portal.engines.scoping import UNSCOPED
from portal.engines.validation import validate_record
from portal.engines.workflow import place_in_state
from portal.runtime import runtime
from portal.spec.model import EntitySpec
from portal.system_models import Department, PortalUser


class DemoDataError(Exception):
    """The demo files are wrong; nothing was written."""


class DemoAlreadyLoaded(DemoDataError):
    """The demo users exist already; nothing was written."""


def load_demo(app: Flask) -> str:
    """Load every demo file of the app's schema folder; return a one-line summary."""
    folder = Path(app.config["SCHEMA_DIR"]) / "demo"
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not files:
        raise DemoDataError(f"no demo files in {folder}")
    session = app.appbuilder.session
    sm = app.appbuilder.sm
    counts: dict[str, int] = {}
    try:
        for path in files:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            _load_file(path, doc, session, sm, counts)
        session.commit()
    except Exception:
        session.rollback()
        raise
    parts = ", ".join(f"{n} {k}" for k, n in counts.items())
    return f"demo data loaded: {parts}"


def _load_file(path: Path, doc: Mapping[str, Any], session: Any, sm: Any,
               counts: dict[str, int]) -> None:
    for name in doc.get("departments", []):
        if session.scalar(select(Department).where(Department.name == name)) is None:
            session.add(Department(name=name))
            counts["departments"] = counts.get("departments", 0) + 1
    session.flush()
    for user in doc.get("users", []):
        _add_user(path, user, session, sm, counts)
    rt = runtime()
    for entity_name, rows in (doc.get("records") or {}).items():
        if entity_name not in rt.registry.entities:
            raise DemoDataError(f"{path.name}: records: unknown entity '{entity_name}'")
        entity = rt.registry.entity(entity_name)
        flow = rt.registry.workflow_of(entity_name)
        placed = []
        for index, row in enumerate(rows, start=1):
            where = f"{path.name}: records.{entity_name}[{index}]"
            obj = _build(where, entity, row, session)
            session.add(obj)
            if flow is not None and row.get(flow.state_field) is not None:
                placed.append((obj, row[flow.state_field]))
            counts[entity_name] = counts.get(entity_name, 0) + 1
        session.flush()
        # A new record starts in its flow's first state; demo records are where the file
        # says they got to.
        for obj, state in placed:
            place_in_state(session, obj, state)


def _add_user(path: Path, spec: Mapping[str, Any], session: Any, sm: Any,
              counts: dict[str, int]) -> None:
    username = spec["username"]
    if sm.find_user(username=username) is not None:
        raise DemoAlreadyLoaded(f"{path.name}: user '{username}' already exists: the demo data "
                            "is loaded already (start from an empty database to reload it)")
    roles = []
    for role_name in spec.get("roles", []):
        role = sm.find_role(role_name)
        if role is None:
            raise DemoDataError(f"{path.name}: users.{username}: unknown role '{role_name}'")
        roles.append(role)
    user = PortalUser(username=username, first_name=spec.get("first_name", username),
                      last_name=spec.get("last_name", ""),
                      email=spec.get("email", f"{username}@example.com"), active=True,
                      roles=roles, locale=spec.get("locale"),
                      password=generate_password_hash(spec["password"]))
    session.add(user)
    if spec.get("department"):
        user.department = session.scalar(
            select(Department).where(Department.name == spec["department"]))
    if spec.get("manager"):
        user.manager = session.scalar(
            select(PortalUser).where(PortalUser.username == spec["manager"]))
    session.flush()
    counts["users"] = counts.get("users", 0) + 1


def _build(where: str, entity: EntitySpec, row: Mapping[str, Any], session: Any) -> Any:
    rt = runtime()
    model = rt.models.classes[entity.name]
    obj = model()
    plain = {}
    for key, value in row.items():
        f = entity.fields.get(key)
        if f is None:
            raise DemoDataError(f"{where}: unknown field '{key}'")
        if f.type == "user":
            user = session.scalar(select(PortalUser).where(PortalUser.username == value))
            if user is None:
                raise DemoDataError(f"{where}.{key}: unknown user '{value}'")
            setattr(obj, key, user)
        elif f.type == "link":
            setattr(obj, key, _by_title(where, key, rt.registry.entity(f.target), value,
                                        session))
        elif f.type == "many":
            target = rt.registry.entity(f.target)
            setattr(obj, key, [_by_title(where, key, target, v, session) for v in value])
        elif f.type == "children":
            child = rt.registry.entity(f.target)
            setattr(obj, key, [_build(f"{where}.{key}[{i}]", child, r, session)
                               for i, r in enumerate(value, start=1)])
        else:
            plain[key] = Decimal(str(value)) if f.type in {"money", "decimal"} else value
            setattr(obj, key, plain[key])
    errors = validate_record(entity, plain)
    if errors:
        field, reason = next(iter(errors.items()))
        raise DemoDataError(f"{where}.{field}: {reason}")
    return obj


def _by_title(where: str, key: str, target: EntitySpec, value: Any, session: Any) -> Any:
    model = runtime().models.classes[target.name]
    column = getattr(model, target.title) if target.title else model.id
    found = session.scalars(select(model).where(column == value),
                            execution_options={UNSCOPED: True}).first()
    if found is None:
        raise DemoDataError(f"{where}.{key}: no {target.name} called '{value}'")
    return found
