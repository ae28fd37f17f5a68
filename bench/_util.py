"""Shared helpers of the benchmarks: synthetic schema folders, throw-away databases, tables.

Not a benchmark itself. Every benchmark builds what it needs in a temporary folder (SQLite
files, schema folders) or in its own PostgreSQL schema, and removes it when it ends.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/ first, not the project
    sys.path.insert(0, str(ROOT))

#: The PostgreSQL server used when a benchmark is asked for ``--backend postgres``.
PG_URL = os.environ.get("PORTAL_BENCH_DATABASE_URL",
                        "postgresql://postgres@127.0.0.1:5432/test")

#: Field types of a synthetic entity, cycled: the mix of a typical business entity.
#: ``link`` points at the previous entity (the first entity's link points at itself).
FIELD_MIX: tuple[str, ...] = ("string", "enum", "money", "date", "bool", "int", "email",
                              "user", "link", "text")
ROLES: tuple[str, ...] = ("rep", "manager", "clerk", "auditor")


def entity_yaml(index: int, n_fields: int = 10, *, role: str = "rep") -> str:
    """The YAML of synthetic entity ``e<index>``: ``n_fields`` fields of mixed types, an
    owner (a ``user`` field) and access rules for one role (own scope)."""
    name = f"e{index:04d}"
    target = f"e{max(index - 1, 0):04d}"
    lines = [f"entity: {name}", f"label: {{en: Entity {index}, zh_CN: 实体 {index}}}",
             "title: f00_string", "fields:"]
    columns = []
    for i in range(n_fields):
        kind = FIELD_MIX[i % len(FIELD_MIX)]
        fname = f"f{i:02d}_{kind}" if kind != "user" else "owner"
        opts = {
            "string": "{type: string, max: 80, required: true}",
            "enum": "{type: enum, values: [low, mid, high], default: low}",
            "money": "{type: money, min: 0}",
            "date": "{type: date}",
            "bool": "{type: bool, default: false}",
            "int": "{type: int, min: 0}",
            "email": "{type: email}",
            "user": "{type: user, default: current_user}",
            "link": f"{{type: link, entity: {target}}}",
            "text": "{type: text}",
        }[kind]
        lines.append(f"  {fname}: {opts}")
        if kind not in {"text", "link"} and len(columns) < 6:
            columns.append(fname)
    lines.append(f"list: {{columns: [{', '.join(columns)}], search: [f00_string]}}")
    lines.append("access:")
    lines.append(f"  {role}: {{read: own, create: true, update: own, delete: own}}")
    return "\n".join(lines) + "\n"


def write_synthetic_schema(folder: Path, n_entities: int, n_fields: int = 10,
                           per_module: int = 20) -> Path:
    """A schema folder with ``n_entities`` synthetic entities in modules of ``per_module``;
    entity ``i`` grants its access to role ``ROLES[i % len(ROLES)]``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "roles.yaml").write_text(
        "roles:\n" + "".join(f"  {r}: {{label: {r.title()}}}\n" for r in ROLES))
    for i in range(n_entities):
        module = folder / "entities" / f"m{i // per_module:02d}"
        module.mkdir(parents=True, exist_ok=True)
        (module / f"e{i:04d}.yaml").write_text(
            entity_yaml(i, n_fields, role=ROLES[i % len(ROLES)]))
    return folder


def pg_schema_url(base: str, schema: str) -> str:
    """``base`` with ``search_path`` set to ``schema`` (the way the tests isolate schemas)."""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@contextlib.contextmanager
def pg_schema(prefix: str = "bench") -> Iterator[str]:
    """A fresh PostgreSQL schema (its URL), dropped with everything in it afterwards."""
    from sqlalchemy import create_engine, text

    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield pg_schema_url(PG_URL, schema)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


@contextlib.contextmanager
def database(backend: str, tmp: Path, name: str = "bench") -> Iterator[str]:
    """An empty database URL on ``backend`` (``sqlite`` or ``postgres``), removed afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp / f'{name}-{uuid.uuid4().hex[:8]}.db'}"
    elif backend == "postgres":
        with pg_schema(name) as url:
            yield url
    else:
        raise SystemExit(f"unknown backend {backend!r}: use sqlite or postgres")


@contextlib.contextmanager
def temp_dir(prefix: str = "portal-bench-") -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


def app_overrides(database_url: str, schema_dir: Path, instance: Path) -> dict[str, Any]:
    """The overrides the tests use to build an app (see tests/conftest.py)."""
    return {
        "TESTING": True,
        "SECRET_KEY": "bench-secret-key-" + "x" * 32,
        "DATABASE_URL": database_url,
        "SCHEMA_DIR": schema_dir,
        "INSTANCE_DIR": instance,
        "LOGIN_RATE_LIMIT": "100000 per minute",
    }


def add_user(app: Any, username: str, roles: Sequence[str],
             password: str = "bench-pass-1") -> int:
    """Create a user with ``roles`` (created when missing); returns the user id."""
    with app.app_context():
        sm = app.appbuilder.sm
        role_objs = [sm.find_role(r) or sm.add_role(r) for r in roles]
        user = sm.add_user(username=username, first_name=username, last_name="",
                           email=f"{username}@example.com", role=role_objs, password=password)
        assert user, f"could not create {username}"
        return int(user.id)


def login_headers(app: Any, username: str, password: str = "bench-pass-1") -> dict[str, str]:
    """``Authorization`` header with a JWT from FAB's login endpoint."""
    client = app.test_client()
    resp = client.post("/api/v1/security/login", json={
        "username": username, "password": password, "provider": "db"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return {"Authorization": f"Bearer {resp.get_json()['access_token']}"}


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


class QueryCounter:
    """Counts SQL statements sent through an engine (``with counter: ...``)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.count = 0
        self.statements: list[str] = []

    def _on(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.count += 1
        self.statements.append(statement)

    def __enter__(self) -> QueryCounter:
        from sqlalchemy import event

        self.count = 0
        self.statements = []
        event.listen(self.engine, "before_cursor_execute", self._on)
        return self

    def __exit__(self, *exc: Any) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._on)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
          left: Sequence[int] = (0,)) -> str:
    """A plain-text table; the columns ``left`` are left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"
