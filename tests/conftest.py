"""Shared fixtures: portals built from a schema folder on SQLite and (when configured)
PostgreSQL, users with roles, and clients that log in through the real forms and API."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Optional

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_SCHEMAS = ROOT / "schemas"
PG_URL = os.environ.get("PORTAL_TEST_DATABASE_URL")
PG_SKIP = "PORTAL_TEST_DATABASE_URL is not set: PostgreSQL variant skipped"


def _pg_schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


class Databases:
    """Hands out empty databases: a SQLite file, or a fresh PostgreSQL schema."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.pg_schemas: list[str] = []

    def url(self, backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{self.tmp_path / f'portal-{uuid.uuid4().hex[:8]}.db'}"
        if not PG_URL:
            pytest.skip(PG_SKIP)
        schema = f"t_{uuid.uuid4().hex[:12]}"
        engine = create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        engine.dispose()
        self.pg_schemas.append(schema)
        return _pg_schema_url(PG_URL, schema)

    def cleanup(self) -> None:
        if not self.pg_schemas:
            return
        engine = create_engine(PG_URL)
        with engine.begin() as conn:
            for schema in self.pg_schemas:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each test using it runs on SQLite and on PostgreSQL."""
    if request.param == "postgres" and not PG_URL:
        pytest.skip(PG_SKIP)
    return request.param


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[Databases]:
    dbs = Databases(tmp_path)
    yield dbs
    dbs.cleanup()


@pytest.fixture
def make_portal(tmp_path: Path, databases: Databases) -> Iterator[Callable[..., Any]]:
    """Build a portal app: ``make_portal(schema_dir, backend="sqlite", **config)``."""
    apps: list[Any] = []

    def build(schema_dir: Path = SHIPPED_SCHEMAS, backend: str = "sqlite",
              **config: Any) -> Any:
        from portal.app_factory import create_app

        instance = tmp_path / f"instance-{len(apps)}"
        overrides = {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-that-is-long-enough-for-hmac-sha256",
            "DATABASE_URL": config.pop("DATABASE_URL", None) or databases.url(backend),
            "SCHEMA_DIR": schema_dir,
            "INSTANCE_DIR": instance,
            "LOGIN_RATE_LIMIT": "1000 per minute",
            **config,
        }
        app = create_app(overrides)
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            app.appbuilder.session.remove()
            app.extensions["sqlalchemy"].engine.dispose()


def add_user(app: Any, username: str, roles: list[str], department: Optional[str] = None,
             manager: Optional[str] = None, password: str = "secret-pass-1") -> int:
    """Create a user with roles (created if missing) and an optional department."""
    from portal.system_models import Department, PortalUser

    with app.app_context():
        sm = app.appbuilder.sm
        session = app.appbuilder.session
        role_objs = [sm.find_role(r) or sm.add_role(r) for r in roles]
        user = sm.add_user(username=username, first_name=username, last_name="",
                           email=f"{username}@example.com", role=role_objs, password=password)
        assert user, f"could not create {username}"
        db_user = session.get(PortalUser, user.id)
        if department:
            dept = session.query(Department).filter_by(name=department).one_or_none()
            if dept is None:
                dept = Department(name=department)
                session.add(dept)
                session.flush()
            db_user.department_id = dept.id
        if manager:
            db_user.manager_id = sm.find_user(username=manager).id
        session.commit()
        return user.id


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path -> text) under ``root``."""
    for rel, body in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    return root


CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = CSRF.search(html) or re.search(r'id="csrf_token" name="csrf_token" '
                                           r'type="hidden" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


class WebUser:
    """A browser-less user: logs in through the login form and posts forms with CSRF."""

    def __init__(self, app: Any, username: str, password: str = "secret-pass-1") -> None:
        self.client = app.test_client()
        page = self.client.get("/login/").get_data(as_text=True)
        resp = self.client.post("/login/", data={"username": username, "password": password,
                                                 "csrf_token": csrf_token(page)})
        assert resp.status_code == 302, f"login of {username} failed"

    def get(self, url: str) -> Any:
        return self.client.get(url)

    def post_form(self, url: str, data: dict[str, Any], form_url: Optional[str] = None) -> Any:
        page = self.client.get(form_url or url).get_data(as_text=True)
        return self.client.post(url, data={**data, "csrf_token": csrf_token(page)})


class ApiUser:
    """A REST client holding a JWT from FAB's login endpoint."""

    def __init__(self, app: Any, username: str, password: str = "secret-pass-1") -> None:
        self.client = app.test_client()
        resp = self.client.post("/api/v1/security/login", json={
            "username": username, "password": password, "provider": "db"})
        assert resp.status_code == 200, resp.get_data(as_text=True)
        self.headers = {"Authorization": f"Bearer {resp.get_json()['access_token']}"}

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers=self.headers, **kw)

    def post(self, url: str, json: Any) -> Any:
        return self.client.post(url, json=json, headers=self.headers)

    def put(self, url: str, json: Any) -> Any:
        return self.client.put(url, json=json, headers=self.headers)

    def delete(self, url: str) -> Any:
        return self.client.delete(url, headers=self.headers)


#: The users of the test-only schema (tests/lowcode.py): name, roles, department.
LOWCODE_USERS = (
    ("admin", ("Admin",), None), ("clerk1", ("clerk",), "east"), ("clerk2", ("clerk",), "east"),
    ("clerk3", ("clerk",), "west"), ("lead", ("teamlead",), "east"), ("boss", ("boss",), None),
    ("auditor", ("auditor",), None),
)


@pytest.fixture
def lowcode_portal(tmp_path: Path, make_portal: Callable[..., Any], backend: str) -> Any:
    """A portal built from the test-only schema, with its users, on each backend."""
    from lowcode import write_lowcode_schema

    app = make_portal(write_lowcode_schema(tmp_path / "schema"), backend=backend)
    for name, roles, department in LOWCODE_USERS:
        add_user(app, name, list(roles), department=department)
    return app


@pytest.fixture
def flow_portal(tmp_path: Path, make_portal: Callable[..., Any], backend: str) -> Any:
    """A portal built from the test-only claim flow (tests/flow_schema.py) with its users,
    on each backend."""
    from flow_schema import FLOW_USERS, write_flow_schema

    app = make_portal(write_flow_schema(tmp_path / "schema"), backend=backend)
    for name, roles, manager in FLOW_USERS:
        add_user(app, name, roles, manager=manager)
    return app
