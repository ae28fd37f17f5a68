"""``portal migrate`` and the start-up check on the cases that must stop and say why: a
required field without a default, values that do not convert, duplicates under a new unique,
a database behind the YAML; and renames keeping a record's history. SQLite and PostgreSQL."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import ApiUser, add_user, write_tree

from portal.migrate.startup import SchemaBehind
from portal.settings import ConfigError, load_settings

ROLES = "roles:\n  clerk: Clerk\n"
V1 = """
entity: customer
fields:
  name: {type: string, required: true, max: 40}
  code: {type: string, max: 10}
  grade: {type: enum, values: [A, B, C]}
  credit: money
access: {clerk: {read: all, create: true, update: all}}
"""


class Versions:
    """One database, schema folders written one after another, portals and migrations on it."""

    def __init__(self, tmp_path: Path, make_portal: Any, databases: Any, backend: str) -> None:
        self.tmp, self.make_portal, self.backend = tmp_path, make_portal, backend
        self.url = databases.url(backend)
        self.count = 0
        self.apps: list[Any] = []

    def schema(self, entity_yaml: str, extra: dict[str, str] | None = None) -> Path:
        self.count += 1
        folder = self.tmp / f"v{self.count}"
        write_tree(folder, {"roles.yaml": ROLES,
                            "entities/sales/customer.yaml": textwrap.dedent(entity_yaml),
                            **(extra or {})})
        return folder

    def portal(self, folder: Path, **config: Any) -> Any:
        for app in self.apps:  # one live pool at a time: migrations need the tables
            with app.app_context():
                app.appbuilder.session.remove()
                app.extensions["sqlalchemy"].engine.dispose()
        app = self.make_portal(folder, backend=self.backend, DATABASE_URL=self.url, **config)
        self.apps.append(app)
        return app

    def migrate(self, folder: Path, mode: str = "apply", drop: bool = False) -> tuple[int, str]:
        from portal.migrate_command import MigrationSetup

        for app in self.apps:
            with app.app_context():
                app.appbuilder.session.remove()
                app.extensions["sqlalchemy"].engine.dispose()
        lines: list[str] = []
        setup = MigrationSetup.from_settings(load_settings({
            "DEBUG": True, "DATABASE_URL": self.url, "SCHEMA_DIR": folder,
            "INSTANCE_DIR": self.tmp / "instance"}))
        try:
            code = setup.run(mode, drop, "tester", lines.append)
        finally:
            setup.close()
        return code, "\n".join(lines)


@pytest.fixture
def versions(tmp_path: Path, make_portal: Any, databases: Any, backend: str) -> Versions:
    return Versions(tmp_path, make_portal, databases, backend)


def with_customers(versions: Versions) -> tuple[Any, list[int]]:
    app = versions.portal(versions.schema(V1))
    add_user(app, "clerk1", ["clerk"])
    api = ApiUser(app, "clerk1")
    ids = []
    for name, code, grade in (("Acme", "17", "A"), ("北京精密", "x9", "B"), ("Cello", None, "B")):
        resp = api.post("/api/v1/customer/", {"name": name, "code": code, "grade": grade,
                                              "credit": "1500.25"})
        assert resp.status_code == 201, resp.get_json()
        ids.append(resp.get_json()["id"])
    return app, ids


def values(app: Any, entity: str = "customer") -> dict[int, dict[str, Any]]:
    api = ApiUser(app, "clerk1")  # users live in the database, across versions
    ids = [r["id"] for r in api.get(f"/api/v1/{entity}/?q=(page_size:100)")
           .get_json()["result"]]
    return {i: api.get(f"/api/v1/{entity}/{i}").get_json()["result"] for i in ids}


def test_a_behind_database_stops_the_start_with_the_plan(versions: Versions) -> None:
    """covers: PL7(start-up refuses a database behind the YAML and names the command;
    PORTAL_AUTO_MIGRATE=safe applies safe changes and still refuses the others)"""
    _app, ids = with_customers(versions)
    safe = versions.schema(V1.replace("credit: money", "credit: money\n  note: text"))
    with pytest.raises(SchemaBehind) as refused:
        versions.portal(safe)
    message = str(refused.value)
    assert "[safe] add column customer.note" in message
    assert "portal migrate --apply" in message and "PORTAL_AUTO_MIGRATE=safe" in message
    app = versions.portal(safe, AUTO_MIGRATE="safe")  # starts, having added the column
    assert set(values(app)) == set(ids)
    assert all(r["note"] is None for r in values(app).values())

    renamed = versions.schema(V1.replace("credit: money", "credit: money\n  note: text")
                              .replace("  code:", "  ref: {type: string, max: 10, "
                                       "renamed_from: code}\n  old_code:"))
    with pytest.raises(SchemaBehind) as refused:
        versions.portal(renamed, AUTO_MIGRATE="safe")
    assert "[review] rename column customer.code to ref" in str(refused.value)
    assert "PORTAL_AUTO_MIGRATE=safe applies only the [safe] ones" in str(refused.value)
    with pytest.raises(ConfigError, match="PORTAL_AUTO_MIGRATE"):
        versions.portal(safe, AUTO_MIGRATE="yes")


def test_required_field_needs_a_default_on_a_table_with_rows(versions: Versions) -> None:
    """covers: PL7(a new required field on a table with rows: the plan names the fix; with a
    default the rows are filled)"""
    _app, ids = with_customers(versions)
    bare = versions.schema(V1.replace("credit: money",
                                      "credit: money\n  region: {type: string, required: true}"))
    code, out = versions.migrate(bare, "plan")
    assert code == 1
    assert "[blocked] add required column customer.region" in out
    assert "table 'customer' has 3 row(s) that would have no value: give fields.region a " \
           "fixed `default:`" in out
    code, out = versions.migrate(bare)
    assert code == 1 and "nothing applied" in out
    filled = versions.schema(V1.replace(
        "credit: money", "credit: money\n  region: {type: string, required: true, "
                         "default: 华东}"))
    code, out = versions.migrate(filled)
    assert code == 0, out
    assert "filling 3 row(s) with '华东'" in out
    app = versions.portal(filled)
    assert {r["region"] for r in values(app).values()} == {"华东"}


def test_lossy_retype_lists_the_rows_and_changes_nothing(versions: Versions) -> None:
    """covers: PL7(type change only where lossless; offending rows listed by id and value;
    nothing applied; then applied once the data is fixed)"""
    app, ids = with_customers(versions)
    as_int = versions.schema(V1.replace("code: {type: string, max: 10}", "code: int"))
    code, out = versions.migrate(as_int)
    assert code == 1 and "nothing applied" in out
    assert f"row {ids[1]}: 'x9': not a whole number" in out
    before = values(versions.portal(versions.schema(V1)))
    assert before[ids[0]]["code"] == "17"  # untouched, still a string
    api = ApiUser(versions.apps[-1], "clerk1")
    assert api.put(f"/api/v1/customer/{ids[1]}", {"code": "9"}).status_code == 200
    code, out = versions.migrate(as_int)
    assert code == 0, out
    after = values(versions.portal(as_int))
    assert [after[i]["code"] for i in ids] == [17, 9, None]
    assert [after[i]["credit"] for i in ids] == ["1500.25"] * 3


def test_unique_with_duplicates_and_removed_enum_value_in_use_are_blocked(
        versions: Versions) -> None:
    """covers: PL7(new unique checked for duplicates; an enum value still used cannot be
    removed; the rows are named)"""
    _app, ids = with_customers(versions)
    changed = versions.schema(V1.replace("grade: {type: enum, values: [A, B, C]}",
                                         "grade: {type: enum, values: [A, C], unique: true}"))
    code, out = versions.migrate(changed, "plan")
    assert code == 1
    assert "[blocked] enum customer.grade: remove value(s) B" in out
    assert f"row {ids[1]}: 'B': not one of the values A, C" in out
    assert "'B' (2 rows)" in out  # the duplicates for the unique constraint


def test_history_stays_attached_across_renames(versions: Versions) -> None:
    """covers: PL7(renamed_from on an entity and a field keeps the rows and the audit
    history, under the new names) PL5"""
    app, ids = with_customers(versions)
    renamed = versions.schema("""
        entity: client
        renamed_from: customer
        fields:
          name: {type: string, required: true, max: 40}
          ref: {type: string, max: 10, renamed_from: code}
          grade: {type: enum, values: [A, B, C]}
          credit: money
        access: {clerk: {read: all, create: true, update: all}}
        """)
    code, out = versions.migrate(renamed)
    assert code == 0, out
    assert "rename table customer to client" in out and "rename column client.code to ref" \
        in out
    app = versions.portal(renamed)
    api = ApiUser(app, "clerk1")
    assert api.get("/api/v1/customer/").status_code == 404
    assert api.get(f"/api/v1/client/{ids[0]}").get_json()["result"]["ref"] == "17"
    history = api.get(f"/api/v1/client/{ids[0]}/history").get_json()["result"]
    assert [(h["action"], h["entity"]) for h in history] == [("create", "client")]
    assert history[0]["changes"]["ref"] == [None, "17"]
    assert api.put(f"/api/v1/client/{ids[0]}", {"ref": "18"}).status_code == 200
    history = api.get(f"/api/v1/client/{ids[0]}/history").get_json()["result"]
    assert [h["action"] for h in history] == ["update", "create"]
    code, out = versions.migrate(renamed, "history")
    assert "by tester" in out and "by first start" in out
