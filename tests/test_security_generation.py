"""Users, roles and permissions are cached per process, and every change reaches the next
request: the database bumps the security generation in the same transaction as the change,
however it was made (here: raw SQL on a connection of its own, as another worker or a
script would). Verified JWTs are remembered, never beyond their expiry or for another token.
Runs on SQLite and, when configured, on PostgreSQL.
"""

from __future__ import annotations

import time
from typing import Any

from conftest import ApiUser
from sqlalchemy import create_engine, text


def _outside(app: Any, sql: str, **params: Any) -> None:
    """Run ``sql`` on a connection the app does not own, and commit."""
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with engine.begin() as conn:
        conn.execute(text(sql), params)
    engine.dispose()


def _generation(app: Any) -> int:
    with app.app_context():
        return app.appbuilder.session.execute(
            text("SELECT value FROM portal_security_generation WHERE id = 1")).scalar()


_CLERK_GADGET_READ = """
    SELECT pvr.id FROM ab_permission_view_role pvr
    JOIN ab_permission_view pv ON pv.id = pvr.permission_view_id
    JOIN ab_permission p ON p.id = pv.permission_id
    JOIN ab_view_menu v ON v.id = pv.view_menu_id
    JOIN ab_role r ON r.id = pvr.role_id
    WHERE r.name = 'clerk' AND v.name = 'gadget' AND p.name = 'can_read'
"""


def test_revoked_permission_applies_to_next_request(lowcode_portal: Any) -> None:
    """covers: PL3 — a permission taken away (by any process) refuses the next request."""
    app = lowcode_portal
    clerk = ApiUser(app, "clerk1")
    assert clerk.get("/api/v1/gadget/").status_code == 200
    assert clerk.get("/api/v1/gadget/").status_code == 200  # served from the cache
    with app.app_context():
        grant = app.appbuilder.session.execute(text(_CLERK_GADGET_READ)).scalar()
        pv_id, role_id = app.appbuilder.session.execute(text(
            "SELECT permission_view_id, role_id FROM ab_permission_view_role WHERE id = :id"),
            {"id": grant}).one()
        app.appbuilder.session.remove()
    _outside(app, "DELETE FROM ab_permission_view_role WHERE id = :id", id=grant)
    assert clerk.get("/api/v1/gadget/").status_code == 403
    _outside(app, "INSERT INTO ab_permission_view_role (id, permission_view_id, role_id) "
                  "VALUES (:id, :pv, :role)", id=grant, pv=pv_id, role=role_id)
    assert clerk.get("/api/v1/gadget/").status_code == 200


def test_deactivated_user_and_moved_department_apply_at_once(lowcode_portal: Any) -> None:
    """covers: PL3 — a deactivated user is refused and a department change re-scopes the
    team lead's list on the next request."""
    app = lowcode_portal
    clerk3 = ApiUser(app, "clerk3")  # west
    assert clerk3.post("/api/v1/gadget/", {"name": "West gadget"}).status_code == 201
    lead = ApiUser(app, "lead")  # east, department scope
    assert lead.get("/api/v1/gadget/").get_json()["count"] == 0
    _outside(app, "UPDATE ab_user SET department_id = "
                  "(SELECT department_id FROM ab_user WHERE username = 'clerk3') "
                  "WHERE username = 'lead'")
    assert lead.get("/api/v1/gadget/").get_json()["count"] == 1
    _outside(app, "UPDATE ab_user SET active = :no WHERE username = 'clerk3'", no=False)
    assert clerk3.get("/api/v1/gadget/").status_code == 401


def test_generation_bumps_on_security_changes_only(lowcode_portal: Any) -> None:
    """covers: PL3 — logins do not flush the cache; role and user changes do."""
    app = lowcode_portal
    before = _generation(app)
    ApiUser(app, "clerk1")
    ApiUser(app, "clerk2")
    assert _generation(app) == before, "login bookkeeping must not bump the generation"
    _outside(app, "UPDATE ab_role SET name = 'clerk' WHERE name = 'clerk'")
    assert _generation(app) > before
    middle = _generation(app)
    _outside(app, "UPDATE ab_user SET email = 'new@example.com' WHERE username = 'clerk2'")
    assert _generation(app) > middle


def test_restart_keeps_one_set_of_triggers(tmp_path: Any, make_portal: Any,
                                           backend: str) -> None:
    """covers: PL3 — starting twice on one database installs the triggers once."""
    from lowcode import write_lowcode_schema

    schema = write_lowcode_schema(tmp_path / "schema")
    first = make_portal(schema, backend=backend)
    url = first.config["SQLALCHEMY_DATABASE_URI"]
    second = make_portal(schema, DATABASE_URL=url)
    engine = create_engine(url)
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            names = conn.execute(text(
                "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE t.tgname LIKE "
                "'portal_secgen_%' AND n.nspname = current_schema()")).all()
        else:
            names = conn.execute(text("SELECT name FROM sqlite_master WHERE type = "
                                      "'trigger' AND name LIKE 'portal_secgen_%'")).all()
    engine.dispose()
    per_table = 1 if backend == "postgres" else 3
    assert len(names) == 11 * per_table, names
    assert second.extensions["portal"] is not None


def test_tampered_and_expired_tokens_are_refused(tmp_path: Any, make_portal: Any) -> None:
    """covers: PL3 — a remembered token is refused once expired; any other text is verified
    afresh (a forged signature is refused after the real token was accepted)."""
    from conftest import add_user
    from lowcode import write_lowcode_schema

    app = make_portal(write_lowcode_schema(tmp_path / "schema"), JWT_ACCESS_TOKEN_EXPIRES=2)
    add_user(app, "clerk1", ["clerk"])
    clerk = ApiUser(app, "clerk1")
    assert clerk.get("/api/v1/gadget/").status_code == 200
    token = clerk.headers["Authorization"]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert clerk.client.get("/api/v1/gadget/",
                            headers={"Authorization": forged}).status_code in {401, 422}
    time.sleep(2.2)
    assert clerk.get("/api/v1/gadget/").status_code == 401
