"""Safe schema evolution end to end: one database holding data, taken through a sequence of
YAML versions (add, rename, retype, remove, re-add, enum change, child table, drop) with the
real ``portal migrate`` command, checking after every step that no row and no value was
lost and that the portal starts and serves the changed screens and API. A migration that
fails half-way leaves the database exactly as it was. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import importlib
import textwrap
from pathlib import Path
from typing import Any, Optional

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from conftest import ApiUser, WebUser, add_user, write_tree

from portal.cli import portal as portal_cli
from portal.migrate.startup import SchemaBehind

ROLES = "roles:\n  clerk: Clerk\n"
ACCESS = "access: {clerk: {read: all, create: true, update: all, delete: all}}"
REGION = """
entity: region
fields:
  name: {type: string, required: true, max: 40}
access: {clerk: {read: all, create: true, update: all, delete: all}}
"""
CONTACT = """
entity: contact
fields:
  client: {type: link, entity: client, required: true}
  person: {type: string, required: true, max: 40}
  mobile: {type: phone}
access: {clerk: {read: all, create: true, update: all, delete: all}}
"""

#: The fields of the first version; later versions are edits of this.
V1_FIELDS = {
    "name": "{type: string, required: true, max: 40}",
    "city": "{type: string, max: 40}",
    "credit": "{type: money}",
    "since": "{type: date}",
    "grade": "{type: enum, values: [A, B, C, D]}",
    "code": "{type: string, max: 10}",
    "fax": "{type: phone}",
}

#: The rows loaded through the API at version 1 (the third code does not convert to int).
V1_ROWS = [
    {"name": "Acme", "city": "上海", "credit": "1234.56", "since": "2024-02-29",
     "grade": "A", "code": "12", "fax": "021-5550"},
    {"name": "北京精密仪器", "city": "北京", "credit": "0.10", "since": "1999-12-31",
     "grade": "B", "code": "345", "fax": None},
    {"name": "Gamma 伽马", "city": None, "credit": "-7.00", "since": None,
     "grade": "C", "code": "9x", "fax": "010-1234"},
]


def entity_yaml(name: str, fields: dict[str, str], top: str = "") -> str:
    lines = [f"entity: {name}", *([top] if top else []), "fields:",
             *(f"  {k}: {v}" for k, v in fields.items()), ACCESS]
    return "\n".join(lines) + "\n"


def db_state(url: str) -> dict[str, Any]:
    """Every table of the database: its columns (name, type, nullable), indexes and rows."""
    engine = sa.create_engine(url)
    state: dict[str, Any] = {}
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            for table in sorted(inspector.get_table_names()):
                columns = [(c["name"], str(c["type"]), c["nullable"])
                           for c in inspector.get_columns(table)]
                indexes = sorted((i["name"] or "", tuple(i["column_names"]), bool(i["unique"]))
                                 for i in inspector.get_indexes(table))
                rows = sorted(repr(tuple(r)) for r in conn.execute(
                    sa.text(f'SELECT * FROM "{table}"')))
                state[table] = {"columns": columns, "indexes": indexes, "rows": rows}
    finally:
        engine.dispose()
    return state


def raw_column(url: str, table: str, column: str) -> dict[int, Any]:
    """id -> value of one column, read with plain SQL (also columns the YAML hides)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(sa.text(f'SELECT id, "{column}" FROM "{table}"')).all())
    finally:
        engine.dispose()


class Sequence:
    """One database; schema folders written one after another; portals started on it and
    ``portal migrate`` run on it through the real command."""

    def __init__(self, tmp_path: Path, make_portal: Any, databases: Any, backend: str,
                 monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp, self.make_portal, self.backend = tmp_path, make_portal, backend
        self.monkeypatch = monkeypatch
        self.url = databases.url(backend)
        self.count = 0
        self.apps: list[Any] = []
        self.instance = tmp_path / "cli-instance"

    def schema(self, customer: str, **others: str) -> Path:
        """A schema folder: the customer family's YAML and other entities (name -> YAML)."""
        self.count += 1
        folder = self.tmp / f"v{self.count}"
        files = {"roles.yaml": ROLES, "entities/sales/customer.yaml": customer}
        files.update({f"entities/sales/{name}.yaml": textwrap.dedent(body)
                      for name, body in others.items()})
        write_tree(folder, files)
        return folder

    def release(self) -> None:
        """Close every connection of the portals started so far (the DDL needs the tables)."""
        for app in self.apps:
            with app.app_context():
                app.appbuilder.session.remove()
                app.extensions["sqlalchemy"].engine.dispose()

    def portal(self, folder: Path, **config: Any) -> Any:
        self.release()
        app = self.make_portal(folder, backend=self.backend, DATABASE_URL=self.url, **config)
        self.apps.append(app)
        return app

    def refused(self, folder: Path, **config: Any) -> str:
        """Start a portal on ``folder`` expecting the refusal; its message."""
        self.release()
        with pytest.raises(SchemaBehind) as refusal:
            self.make_portal(folder, backend=self.backend, DATABASE_URL=self.url, **config)
        message = str(refusal.value)
        assert "portal migrate" in message
        return message

    def invoke(self, folder: Path, *args: str) -> Result:
        """``portal migrate ARGS --by tester`` on this database and ``folder``.

        ``config.py`` reads the environment once, when first imported (already done by the
        portals of this test), so its values are set on the module as well as in the env."""
        self.release()
        config = importlib.import_module("config")
        for key, value in {"DATABASE_URL": self.url, "SCHEMA_DIR": folder,
                           "INSTANCE_DIR": self.instance, "DEBUG": True}.items():
            self.monkeypatch.setattr(config, key, value)
        env = {"PORTAL_DATABASE_URL": self.url, "PORTAL_SCHEMA_DIR": str(folder),
               "PORTAL_INSTANCE_DIR": str(self.instance), "PORTAL_DEBUG": "1"}
        return CliRunner().invoke(portal_cli, ["migrate", *args, "--by", "tester"], env=env)

    def migrate(self, folder: Path, *args: str) -> tuple[int, str]:
        result = self.invoke(folder, *args)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.output


@pytest.fixture
def seq(tmp_path: Path, make_portal: Any, databases: Any, backend: str,
        monkeypatch: pytest.MonkeyPatch) -> Sequence:
    return Sequence(tmp_path, make_portal, databases, backend, monkeypatch)


def shown(app: Any, entity: str, ids: Any) -> dict[int, dict[str, Any]]:
    """id -> the record as the API shows it, for each id (and the list must hold them all)."""
    api = ApiUser(app, "clerk1")
    listed = api.get(f"/api/v1/{entity}/?q=(page_size:100)")
    assert listed.status_code == 200, listed.get_data(as_text=True)
    body = listed.get_json()
    assert body["count"] == len(body["ids"])
    assert sorted(body["ids"]) == sorted(ids)
    records = {}
    for pk in ids:
        resp = api.get(f"/api/v1/{entity}/{pk}")
        assert resp.status_code == 200, (pk, resp.get_data(as_text=True))
        records[pk] = resp.get_json()["result"]
    return records


def check(app: Any, entity: str, expected: dict[int, dict[str, Any]],
          absent: tuple[str, ...] = ()) -> None:
    """No row and no value lost: the API shows exactly ``expected`` (id -> field values,
    money and dates as strings), without the fields ``absent``; the screens render."""
    records = shown(app, entity, expected)
    got = {pk: {k: records[pk].get(k, "<missing>") for k in values}
           for pk, values in expected.items()}
    assert got == expected
    for name in absent:
        assert all(name not in r for r in records.values()), name
    web = WebUser(app, "clerk1")
    page = web.get(f"/{entity}/list/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert all(v["name"] in text for v in expected.values())
    first = min(expected)
    show = web.get(f"/{entity}/show/{first}")
    assert show.status_code == 200 and expected[first]["name"] in show.get_data(as_text=True)


def test_a_sequence_of_yaml_versions_keeps_every_row_and_value(seq: Sequence) -> None:
    """covers: PL7(a database holding data taken through add, rename, retype, remove, re-add,
    enum change, child table and drop with `portal migrate`; after every step no row or value
    is lost and the portal starts and serves the changed screens and API) PL5(history kept
    across the rename)"""
    fields = dict(V1_FIELDS)
    # -- 1. the first version, rows loaded through the API (audit entries exist) ----------
    app = seq.portal(seq.schema(entity_yaml("customer", fields)))
    add_user(app, "clerk1", ["clerk"])
    api = ApiUser(app, "clerk1")
    expected: dict[int, dict[str, Any]] = {}
    for row in V1_ROWS:
        resp = api.post("/api/v1/customer/", row)
        assert resp.status_code == 201, resp.get_json()
        expected[resp.get_json()["id"]] = dict(row)
    ids = sorted(expected)
    check(app, "customer", expected)

    # -- 2. add: an optional field, an entity, an index, a longer string (all safe) -------
    fields.update(name="{type: string, required: true, max: 120}",
                  city="{type: string, max: 40, index: true}", note="{type: text}")
    v2 = seq.schema(entity_yaml("customer", fields), region=REGION)
    message = seq.refused(v2)
    assert "[safe] add column customer.note" in message
    assert "[safe] create table region" in message
    assert "[safe] widen customer.name" in message
    assert "add index" in message and "(city)" in message
    app = seq.portal(v2, AUTO_MIGRATE="safe")
    check(app, "customer", {pk: {**v, "note": None} for pk, v in expected.items()})
    api = ApiUser(app, "clerk1")
    assert api.put(f"/api/v1/customer/{ids[0]}", {"note": "老客户 since 2024"}).status_code == 200
    long_name = "深圳 Delta Trading " * 6  # 102 characters: more than the old 40
    new_row = {"name": long_name, "city": "深圳", "credit": "99999.99", "since": "2025-01-02",
               "grade": "B", "code": "77", "fax": None, "note": "new field"}
    resp = api.post("/api/v1/customer/", new_row)
    assert resp.status_code == 201, resp.get_json()
    expected = {pk: {**v, "note": None} for pk, v in expected.items()}
    expected[ids[0]]["note"] = "老客户 since 2024"
    expected[resp.get_json()["id"]] = new_row
    ids = sorted(expected)
    resp = api.post("/api/v1/region/", {"name": "华东"})
    assert resp.status_code == 201, resp.get_json()
    region_id = resp.get_json()["id"]
    check(app, "customer", expected)
    assert WebUser(app, "clerk1").get("/region/list/").status_code == 200

    # -- 3. rename: the entity and a field (review: never applied by itself) ---------------
    fields = {("town" if k == "city" else k): v for k, v in fields.items()}
    fields["town"] = "{type: string, max: 40, index: true, renamed_from: city}"
    v3 = seq.schema(entity_yaml("client", fields, "renamed_from: customer"), region=REGION)
    message = seq.refused(v3, AUTO_MIGRATE="safe")
    assert "[review] rename table customer to client" in message
    code, out = seq.migrate(v3, "--plan")
    assert code == 0, out
    assert "[review] rename column client.city to town" in out
    code, out = seq.migrate(v3, "--apply")
    assert code == 0, out
    assert "rename table customer to client" in out and "recorded as run by tester" in out
    expected = {pk: {("town" if k == "city" else k): x for k, x in v.items()}
                for pk, v in expected.items()}
    app = seq.portal(v3)
    check(app, "client", expected, absent=("city",))
    api = ApiUser(app, "clerk1")
    assert api.get("/api/v1/customer/").status_code == 404
    assert WebUser(app, "clerk1").get("/customer/list/").status_code == 404

    # -- 4. retype: digits in a string become an int; a bad value blocks everything -------
    fields["code"] = "{type: int}"
    v4 = seq.schema(entity_yaml("client", fields), region=REGION)
    seq.refused(v4, AUTO_MIGRATE="safe")
    before = db_state(seq.url)
    bad = ids[2]
    code, out = seq.migrate(v4, "--plan")
    assert code == 1, out
    assert "[blocked] change client.code from string(10) to int" in out
    assert f"row {bad}: '9x': not a whole number" in out
    code, out = seq.migrate(v4, "--apply")
    assert code == 1 and "nothing applied" in out, out
    assert f"row {bad}: '9x'" in out
    assert db_state(seq.url) == before  # not a value, column or type changed
    app = seq.portal(v3)  # the previous YAML still runs, with the old type
    check(app, "client", expected)
    api = ApiUser(app, "clerk1")
    assert api.put(f"/api/v1/client/{bad}", {"code": "9"}).status_code == 200
    expected[bad]["code"] = "9"
    code, out = seq.migrate(v4, "--apply")
    assert code == 0, out
    assert "[review] change client.code from string(10) to int" in out
    for values in expected.values():
        values["code"] = int(values["code"])
    app = seq.portal(v4)
    check(app, "client", expected)
    api = ApiUser(app, "clerk1")
    assert api.put(f"/api/v1/client/{ids[0]}", {"code": 13}).status_code == 200
    expected[ids[0]]["code"] = 13
    assert api.put(f"/api/v1/client/{ids[0]}", {"code": "x"}).status_code == 422

    # -- 5. remove a field: the column and its values stay, hidden -------------------------
    faxes = {pk: v.pop("fax") for pk, v in expected.items()}
    del fields["fax"]
    v5 = seq.schema(entity_yaml("client", fields), region=REGION)
    code, out = seq.migrate(v5, "--plan")
    assert code == 0, out
    assert "keep column client.fax" in out
    code, out = seq.migrate(v5, "--apply")
    assert code == 0, out
    assert raw_column(seq.url, "client", "fax") == faxes
    app = seq.portal(v5)
    check(app, "client", expected, absent=("fax",))
    api = ApiUser(app, "clerk1")
    assert api.put(f"/api/v1/client/{ids[1]}", {"fax": "1"}).status_code in (400, 422)
    assert "fax" not in WebUser(app, "clerk1").get(f"/client/show/{ids[0]}") \
        .get_data(as_text=True).lower()

    # -- 6. re-add it: the old values come back ----------------------------------------------
    fields["fax"] = V1_FIELDS["fax"]
    v6 = seq.schema(entity_yaml("client", fields), region=REGION)
    app = seq.portal(v6)  # nothing to change in the tables: starts without a migration
    for pk, fax in faxes.items():
        expected[pk]["fax"] = fax
    check(app, "client", expected)
    api = ApiUser(app, "clerk1")
    assert api.put(f"/api/v1/client/{ids[1]}", {"fax": "020-8888"}).status_code == 200
    expected[ids[1]]["fax"] = "020-8888"

    # -- 7. enum: a value added and an unused one removed; a used one cannot be removed -----
    fields["grade"] = "{type: enum, values: [A, B, C, E]}"
    v7 = seq.schema(entity_yaml("client", fields), region=REGION)
    message = seq.refused(v7, AUTO_MIGRATE="safe")
    assert "[review] enum client.grade: remove value(s) D" in message
    code, out = seq.migrate(v7, "--apply")
    assert code == 0, out
    app = seq.portal(v7)
    check(app, "client", expected)
    api = ApiUser(app, "clerk1")
    assert api.put(f"/api/v1/client/{ids[3]}", {"grade": "E"}).status_code == 200
    expected[ids[3]]["grade"] = "E"
    assert api.put(f"/api/v1/client/{ids[3]}", {"grade": "D"}).status_code == 422
    used = dict(fields, grade="{type: enum, values: [A, B, E]}")
    v7b = seq.schema(entity_yaml("client", used), region=REGION)
    before = db_state(seq.url)
    code, out = seq.migrate(v7b, "--apply")
    assert code == 1 and "nothing applied" in out, out
    assert "[blocked] enum client.grade: remove value(s) C" in out
    assert f"row {ids[2]}: 'C': not one of the values A, B, E" in out
    assert db_state(seq.url) == before

    # -- 8. a child table: safe, started by itself; child rows inline and through the API ---
    fields["contacts"] = "{type: children, entity: contact, via: client}"
    v8 = seq.schema(entity_yaml("client", fields), region=REGION, contact=CONTACT)
    seq.refused(v8)
    app = seq.portal(v8, AUTO_MIGRATE="safe")
    check(app, "client", expected)
    web = WebUser(app, "clerk1")
    resp = web.post_form("/client/add", {
        "name": "Epsilon 有限公司", "town": "杭州", "credit": "1.50", "grade": "A",
        "contacts-0-person": "王小明", "contacts-0-mobile": "138-0000",
    })
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    api = ApiUser(app, "clerk1")
    new_ids = set(api.get("/api/v1/client/?q=(page_size:100)").get_json()["ids"]) - set(ids)
    assert len(new_ids) == 1
    parent = new_ids.pop()
    expected[parent] = {"name": "Epsilon 有限公司", "town": "杭州", "credit": "1.50",
                        "grade": "A", "since": None, "code": None, "fax": None, "note": None}
    resp = api.post("/api/v1/contact/", {"client": ids[0], "person": "李雷", "mobile": "139"})
    assert resp.status_code == 201, resp.get_json()
    contacts = api.get("/api/v1/contact/?q=(page_size:100)").get_json()["result"]
    assert sorted((c["client"]["id"], c["person"]) for c in contacts) == \
        sorted([(parent, "王小明"), (ids[0], "李雷")])
    ids = sorted(expected)
    check(app, "client", expected)
    show = web.get(f"/client/show/{parent}").get_data(as_text=True)
    assert "王小明" in show
    assert "李雷" in web.get(f"/client/show/{ids[0]}").get_data(as_text=True)

    # -- 9. drop the removed field and the removed entity: a CSV backup first ---------------
    faxes = {pk: v.pop("fax") for pk, v in expected.items()}
    del fields["fax"]
    v9 = seq.schema(entity_yaml("client", fields), contact=CONTACT)
    code, out = seq.migrate(v9, "--apply")
    assert code == 0, out  # without --drop both are kept, hidden
    assert "[keep] keep table region with its 1 row(s)" in out
    assert "(--drop removes it after a backup)" in out
    assert raw_column(seq.url, "client", "fax") == faxes
    assert "region" in db_state(seq.url)
    code, out = seq.migrate(v9, "--apply", "--drop")
    assert code == 0, out
    assert "[drop] drop column client.fax" in out and "[drop] drop table region" in out
    backups = {Path(line.split("backup of dropped data: ", 1)[1].strip())
               for line in out.splitlines() if "backup of dropped data: " in line}
    assert len(backups) == 2, out
    by_name = {p.name: p for p in backups}
    with by_name["client.fax.csv"].open(encoding="utf-8", newline="") as handle:
        saved = list(csv.DictReader(handle))
    assert {int(r["id"]): r["fax"] or None for r in saved} == faxes
    with by_name["region.csv"].open(encoding="utf-8", newline="") as handle:
        assert [(int(r["id"]), r["name"]) for r in csv.DictReader(handle)] == \
            [(region_id, "华东")]
    engine = sa.create_engine(seq.url)
    try:
        inspector = sa.inspect(engine)
        assert "fax" not in {c["name"] for c in inspector.get_columns("client")}
        assert "region" not in inspector.get_table_names()
    finally:
        engine.dispose()
    app = seq.portal(v9)
    check(app, "client", expected, absent=("fax",))
    assert WebUser(app, "clerk1").get("/region/list/").status_code == 404
    code, out = seq.migrate(v9, "--history")
    assert code == 0 and "by tester" in out and "rename table customer to client" in out
    code, out = seq.migrate(v9, "--plan")
    assert code == 0 and "the database matches the YAML" in out, out


def test_history_follows_the_renames(seq: Sequence) -> None:
    """covers: PL7(renamed_from on the entity and a field: the record's audit history is
    still returned, under the new names) PL5"""
    fields = dict(V1_FIELDS)
    app = seq.portal(seq.schema(entity_yaml("customer", fields)))
    add_user(app, "clerk1", ["clerk"])
    api = ApiUser(app, "clerk1")
    pk = api.post("/api/v1/customer/", V1_ROWS[0]).get_json()["id"]
    assert api.put(f"/api/v1/customer/{pk}", {"city": "苏州", "credit": "1.00"}) \
        .status_code == 200
    old = api.get(f"/api/v1/customer/{pk}/history").get_json()["result"]
    assert [h["action"] for h in old] == ["update", "create"]
    fields = {("town" if k == "city" else k): v for k, v in fields.items()}
    fields["town"] = "{type: string, max: 40, renamed_from: city}"
    renamed = seq.schema(entity_yaml("client", fields, "renamed_from: customer"))
    code, out = seq.migrate(renamed, "--apply")
    assert code == 0, out
    api = ApiUser(seq.portal(renamed), "clerk1")
    assert api.get(f"/api/v1/client/{pk}").get_json()["result"]["town"] == "苏州"
    resp = api.get(f"/api/v1/client/{pk}/history")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    history = resp.get_json()["result"]
    assert [(h["action"], h["entity"]) for h in history] == \
        [("update", "client"), ("create", "client")]
    assert history[0]["changes"]["town"] == ["上海", "苏州"]
    assert history[0]["changes"]["credit"] == ["1234.56", "1.00"]
    assert history[1]["changes"]["town"] == [None, "上海"]
    assert "city" not in history[1]["changes"]


def test_a_failed_apply_leaves_the_database_as_it_was(
        seq: Sequence, monkeypatch: pytest.MonkeyPatch) -> None:
    """covers: PL7(one transaction: a step failing after others ran, renames included, leaves
    every table, column, index and row as it was; the same migration then applies)"""
    from portal.migrate import steps

    fields = dict(V1_FIELDS)
    app = seq.portal(seq.schema(entity_yaml("customer", fields)))
    add_user(app, "clerk1", ["clerk"])
    api = ApiUser(app, "clerk1")
    expected = {}
    for row in V1_ROWS:
        resp = api.post("/api/v1/customer/", row)
        assert resp.status_code == 201, resp.get_json()
        expected[resp.get_json()["id"]] = dict(row)
    fields = {("town" if k == "city" else k): v for k, v in fields.items()}
    fields.update(town="{type: string, max: 40, index: true, renamed_from: city}",
                  name="{type: string, required: true, max: 120}",
                  note="{type: text}", extra="{type: int}")
    target = seq.schema(entity_yaml("client", fields, "renamed_from: customer"), region=REGION)
    before = db_state(seq.url)
    real_add_column = steps.add_column
    calls: list[str] = []

    def add_then_fail(conn: Any, table: str, column: Any, fill: Optional[Any],
                      type_: Any) -> None:
        calls.append(column.name)
        if len(calls) > 1:
            raise RuntimeError("disk full (simulated)")
        real_add_column(conn, table, column, fill, type_)

    monkeypatch.setattr(steps, "add_column", add_then_fail)
    result = seq.invoke(target, "--apply")
    assert isinstance(result.exception, RuntimeError), result.output
    assert len(calls) == 2  # the renames, the new table and one column were done by then
    assert db_state(seq.url) == before
    monkeypatch.setattr(steps, "add_column", real_add_column)
    # the previous YAML still runs on it, with every row and value
    check(seq.portal(seq.schema(entity_yaml("customer", dict(V1_FIELDS)))), "customer",
          expected)
    code, out = seq.migrate(target, "--apply")
    assert code == 0, out
    app = seq.portal(target)
    check(app, "client", {pk: {("town" if k == "city" else k): v for k, v in row.items()}
                          | {"note": None, "extra": None} for pk, row in expected.items()})


def test_a_kept_field_readded_with_another_type_is_checked(seq: Sequence) -> None:
    """covers: PL7(a removed field keeps its column; put back with another type, its kept
    values are checked like any type change: rows that do not convert are listed and nothing
    is applied)"""
    fields = dict(V1_FIELDS)
    app = seq.portal(seq.schema(entity_yaml("customer", fields)))
    add_user(app, "clerk1", ["clerk"])
    api = ApiUser(app, "clerk1")
    ids = []
    for row in V1_ROWS:
        resp = api.post("/api/v1/customer/", row)
        assert resp.status_code == 201, resp.get_json()
        ids.append(resp.get_json()["id"])
    del fields["code"]
    code, out = seq.migrate(seq.schema(entity_yaml("customer", fields)), "--apply")
    assert code == 0 and "keep column customer.code" in out, out
    fields["code"] = "{type: int}"
    as_int = seq.schema(entity_yaml("customer", fields))
    code, out = seq.migrate(as_int, "--apply")
    assert code == 1 and "nothing applied" in out, out
    assert f"row {ids[2]}: '9x'" in out
    assert raw_column(seq.url, "customer", "code") == dict(zip(ids, ["12", "345", "9x"],
                                                               strict=True))
