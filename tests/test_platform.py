"""The platform around the generated screens: start-up, CLI, permissions, numbering under
concurrency, security basics, users' organisation data, and the shipped demo."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ROOT, SHIPPED_SCHEMAS, ApiUser, WebUser, add_user, csrf_token
from lowcode import write_lowcode_schema

from portal.cli import portal as portal_cli
from portal.spec.model import SpecErrors


def test_bad_definitions_stop_the_portal(tmp_path: Path, make_portal: Any) -> None:
    """covers: PL2 — the portal refuses to start and reports every error at once."""
    schema = write_lowcode_schema(tmp_path / "schema")
    gadget = schema / "entities" / "workshop" / "gadget.yaml"
    gadget.write_text(gadget.read_text().replace("type: money, min: 0", "type: mony, min: 0"))
    tag = schema / "entities" / "workshop" / "tag.yaml"
    tag.write_text(tag.read_text().replace("word: {type: string", "word: {typ: string"))
    with pytest.raises(SpecErrors) as caught:
        make_portal(schema)
    text = str(caught.value)
    assert "gadget.yaml" in text and "unknown type 'mony'; did you mean 'money'? [unknown-type]" \
        in text
    assert "tag.yaml" in text and "[unknown-key]" in text


def test_portal_check_exit_codes(tmp_path: Path) -> None:
    """covers: PL2 — `portal check` exits 1 listing all errors, or 0 with a summary."""
    runner = CliRunner()
    ok = runner.invoke(portal_cli, ["check", "--schema-dir", str(SHIPPED_SCHEMAS)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.strip().endswith("ok: 19 entities, 7 roles, 4 modules")
    assert len(ok.output.strip().splitlines()) == 1
    schema = write_lowcode_schema(tmp_path / "bad")
    maker = schema / "entities" / "workshop" / "maker.yaml"
    maker.write_text(maker.read_text().replace("entity: maker", "entity: maker\nlabl: x")
                     .replace("read: own", "read: mine"))
    bad = runner.invoke(portal_cli, ["check", "--schema-dir", str(schema)])
    assert bad.exit_code == 1
    lines = [line for line in bad.output.splitlines() if "maker.yaml" in line]
    assert len(lines) >= 2
    assert any("[unknown-key]" in line and "did you mean 'label'?" in line for line in lines)
    assert any("access.clerk.read" in line and "[bad-value]" in line for line in lines)


def test_portal_schema_writes_json_schema(tmp_path: Path) -> None:
    """covers: PL1 — `portal schema` writes the JSON Schema editors use."""
    out = tmp_path / "portal.schema.json"
    result = CliRunner().invoke(portal_cli, ["schema", "-o", str(out)])
    assert result.exit_code == 0, result.output
    schema = json.loads(out.read_text())
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert "money" in json.dumps(schema)


def test_console_script_and_flask_cli(tmp_path: Path) -> None:
    """covers: PL1 — `portal` is a console script and `flask --app app portal` works too."""
    env = {**os.environ, "PORTAL_INSTANCE_DIR": str(tmp_path / "inst"), "PORTAL_DEBUG": "1"}
    bin_dir = Path(sys.executable).parent
    out = subprocess.run([str(bin_dir / "portal"), "check"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    out = subprocess.run([str(bin_dir / "flask"), "--app", "app", "portal", "check"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ok: 19 entities" in out.stdout


def test_secret_key_required_outside_debug(tmp_path: Path) -> None:
    """covers: PL1 — no secret key outside debug mode: the portal refuses to start."""
    from portal.app_factory import create_app
    from portal.settings import ConfigError

    with pytest.raises(ConfigError, match="PORTAL_SECRET_KEY"):
        create_app({"SECRET_KEY": "", "DEBUG": False, "TESTING": False,
                    "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "INSTANCE_DIR": tmp_path})
    with pytest.raises(ConfigError, match="PORTAL_DEFAULT_LOCALE"):
        create_app({"SECRET_KEY": "k" * 40, "DEFAULT_LOCALE": "fr",
                    "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "INSTANCE_DIR": tmp_path})


def test_init_and_demo_commands(tmp_path: Path) -> None:
    """covers: PL1 PL11 — init creates tables and the admin; demo loads zh and en data once."""
    env = {**os.environ, "PORTAL_INSTANCE_DIR": str(tmp_path / "inst"), "PORTAL_DEBUG": "1"}
    bin_dir = Path(sys.executable).parent
    init = subprocess.run([str(bin_dir / "portal"), "init", "--admin-user", "root",
                           "--admin-password", "root-pass-1"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    assert "admin user 'root' created" in init.stdout
    demo = subprocess.run([str(bin_dir / "portal"), "demo"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert demo.returncode == 0, demo.stderr
    assert "8 customer" in demo.stdout and "9 opportunity" in demo.stdout
    assert "3 contract" in demo.stdout and "3 receipt" in demo.stdout
    again = subprocess.run([str(bin_dir / "portal"), "demo"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "already" in again.stdout


def test_shipped_demo_with_roles(tmp_path: Path, make_portal: Any, backend: str) -> None:
    """covers: PL1 PL3 PL11 — the shipped CRM: every screen renders; reps see their own."""
    from portal.demo_data import load_demo

    app = make_portal(SHIPPED_SCHEMAS, backend=backend)
    with app.app_context():
        load_demo(app)
    add_user(app, "admin", ["Admin"])
    admin = WebUser(app, "admin", "secret-pass-1")
    with app.app_context():
        entities = sorted(app.extensions["portal"].registry.entities)
    for entity in entities:
        assert admin.get(f"/{entity}/list/").status_code == 200
        assert admin.get(f"/{entity}/add").status_code == 200
        assert admin.get(f"/{entity}/show/1").status_code == 200
    rep = ApiUser(app, "wang.fang", "demo-pass-1")
    names = {c["name"] for c in rep.get("/api/v1/customer/").get_json()["result"]}
    assert names == {"上海华信精密机械有限公司", "杭州云图软件科技有限公司"}
    anna = ApiUser(app, "anna", "demo-pass-1").get("/api/v1/customer/").get_json()
    assert anna["count"] == 3
    finance = ApiUser(app, "finance", "demo-pass-1").get("/api/v1/customer/1").get_json()
    assert "credit_limit" not in finance["result"]
    director = ApiUser(app, "director", "demo-pass-1").get("/api/v1/customer/").get_json()
    assert director["count"] == 8
    opp = ApiUser(app, "director", "demo-pass-1").get("/api/v1/opportunity/").get_json()
    assert all(r["code"].startswith("OPP-") for r in opp["result"])


def test_permission_sync_is_one_diff(tmp_path: Path, make_portal: Any, backend: str) -> None:
    """covers: PL3 — permissions are synced as a planned diff: nothing on an unchanged restart,
    and grants follow the YAML when it changes."""
    from portal.generators.permissions import plan_permissions
    from portal.permission_sync import sync_permissions
    from portal.wiring import framework_permissions

    schema = write_lowcode_schema(tmp_path / "schema")
    app = make_portal(schema, backend=backend)
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        sm = app.appbuilder.sm
        grants = sm.get_role_permissions(sm.find_role("auditor"))
        assert ("can_read", "gadget") in grants and ("can_update", "gadget") not in grants
        plan = plan_permissions(app.extensions["portal"].registry,
                                framework_permissions(app.appbuilder), "Admin")
        session = app.appbuilder.session
        again = sync_permissions(session.connection(), plan)
        session.rollback()
    assert (again.permissions, again.view_menus, again.permission_views, again.grants_added,
            again.grants_removed) == (0, 0, 0, 0, 0)
    gadget = schema / "entities" / "workshop" / "gadget.yaml"
    gadget.write_text(gadget.read_text().replace(
        "auditor:  {read: all, hide: [cost, manual]}",
        "auditor:  {read: all, update: all, hide: [cost, manual]}"))
    app2 = make_portal(schema, DATABASE_URL=url)
    with app2.app_context():
        sm = app2.appbuilder.sm
        assert ("can_update", "gadget") in sm.get_role_permissions(sm.find_role("auditor"))


def test_concurrent_numbering_is_unique_and_gap_free(tmp_path: Path, make_portal: Any,
                                                    backend: str) -> None:
    """covers: PL6 — numbers stay unique and gap-free when many inserts race."""
    if backend != "postgres":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises whole writes)")
    import datetime as dt

    app = make_portal(write_lowcode_schema(tmp_path / "schema"), backend=backend)
    model = app.extensions["portal"].models.classes["gadget"]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        try:
            with app.app_context():
                session = app.appbuilder.session
                start.wait()
                for i in range(10):
                    session.add(model(name=f"w{n}-{i}"))
                    session.commit()
                session.remove()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    year = dt.datetime.now(dt.UTC).year
    with app.app_context():
        refs = sorted(r for (r,) in app.appbuilder.session.query(model.ref))
    assert refs == [f"GD-{year}-{i:04d}" for i in range(1, 81)]


def test_login_attempts_are_rate_limited(tmp_path: Path, make_portal: Any) -> None:
    """covers: PL1 — repeated logins from one address are refused with 429."""
    app = make_portal(write_lowcode_schema(tmp_path / "schema"),
                      LOGIN_RATE_LIMIT="5 per minute")
    add_user(app, "clerk1", ["clerk"])
    client = app.test_client()
    statuses = [client.post("/api/v1/security/login", json={
        "username": "clerk1", "password": "wrong", "provider": "db"}).status_code
        for _ in range(7)]
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
    client2 = app.test_client()
    page = client2.get("/login/").get_data(as_text=True)
    codes = [client2.post("/login/", data={"username": "clerk1", "password": "wrong",
                                           "csrf_token": csrf_token(page)}).status_code
             for _ in range(7)]
    assert 429 in codes


def test_passwords_are_hashed_and_cookies_secure(tmp_path: Path, make_portal: Any) -> None:
    """covers: PL1 — stored passwords are hashes; the session cookie is Secure over HTTPS."""
    from sqlalchemy import text

    app = make_portal(write_lowcode_schema(tmp_path / "schema"))
    add_user(app, "clerk1", ["clerk"], password="plain-text-pass")
    with app.app_context():
        stored = app.appbuilder.session.execute(
            text("SELECT password FROM ab_user WHERE username='clerk1'")).scalar()
    assert "plain-text-pass" not in stored and stored.startswith(("scrypt:", "pbkdf2:"))
    client = app.test_client()
    resp = client.get("/login/", base_url="https://portal.example")
    cookie = resp.headers.get("Set-Cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie
    plain = app.test_client().get("/login/").headers.get("Set-Cookie", "")
    assert "Secure" not in plain


def test_admin_edits_department_and_manager(tmp_path: Path, make_portal: Any,
                                            backend: str) -> None:
    """covers: PL3 — a user's department and manager are edited on screen by an admin."""
    from portal.system_models import PortalUser

    app = make_portal(write_lowcode_schema(tmp_path / "schema"), backend=backend)
    add_user(app, "admin", ["Admin"])
    boss_id = add_user(app, "boss", ["boss"], department="east")
    clerk_id = add_user(app, "clerk1", ["clerk"])
    web = WebUser(app, "admin")
    assert web.post_form("/departments/add", {"name": "west"}).status_code == 302
    assert "west" in web.get("/departments/list/").get_data(as_text=True)
    assert WebUser(app, "boss").get("/departments/list/").status_code in (302, 403)  # admins
    form = web.get(f"/users/edit/{clerk_id}").get_data(as_text=True)
    assert 'name="department"' in form and 'name="manager"' in form
    with app.app_context():
        dept = app.appbuilder.session.get(PortalUser, boss_id).department_id
        role_id = app.appbuilder.sm.find_role("clerk").id
    resp = web.post_form(f"/users/edit/{clerk_id}", {
        "first_name": "Clerk", "last_name": "One", "username": "clerk1",
        "email": "clerk1@example.com", "active": "y", "roles": str(role_id),
        "department": str(dept), "manager": str(boss_id)})
    assert resp.status_code == 302, resp.get_data(as_text=True)[-3000:]
    with app.app_context():
        clerk = app.appbuilder.session.get(PortalUser, clerk_id)
        assert (clerk.department_id, clerk.manager_id) == (dept, boss_id)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("workers", [0, 2])
def test_portal_serve(tmp_path: Path, workers: int) -> None:
    """covers: PL1 — `portal serve` answers; `--workers N` runs gunicorn."""
    port = _free_port()
    env = {**os.environ, "PORTAL_INSTANCE_DIR": str(tmp_path / "inst"),
           "PORTAL_SECRET_KEY": "s" * 40}
    bin_dir = Path(sys.executable).parent
    args = [str(bin_dir / "portal"), "serve", "--port", str(port)]
    if workers:
        args += ["--workers", str(workers)]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 60
        body = ""
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5) as r:
                    body = r.read().decode()
                    break
            except OSError:
                time.sleep(0.3)
        assert 'name="csrf_token"' in body
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    if workers:
        assert "gunicorn" in out.lower() or "Booting worker" in out


def test_layering_contract() -> None:
    """covers: PL1 — DESIGN.md's layering rules hold (checked with import-linter)."""
    linter = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert linter, "import-linter is a test dependency"
    result = subprocess.run([linter], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.split("Contracts:")[-1].replace("0 broken", "")
