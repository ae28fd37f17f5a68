"""The REST API generated for entities that exist only in a test folder.

Every test runs on SQLite and, when PORTAL_TEST_DATABASE_URL is set, on PostgreSQL.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from conftest import ApiUser


@pytest.fixture
def portal(lowcode_portal: Any) -> Any:
    return lowcode_portal


def _count(app: Any, table: str) -> int:
    from sqlalchemy import text

    with app.app_context():
        return app.appbuilder.session.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar()


def test_crud_round_trip(portal: Any) -> None:
    """covers: PL1 — an entity from YAML gets a full REST API."""
    api = ApiUser(portal, "clerk1")
    created = api.post("/api/v1/gadget/", {"name": "Widget", "colour": "red", "price": "12.50",
                                           "stock": 3, "released": "2026-01-31"})
    assert created.status_code == 201, created.get_json()
    pk = created.get_json()["id"]
    shown = api.get(f"/api/v1/gadget/{pk}").get_json()["result"]
    assert shown["name"] == "Widget"
    assert shown["price"] == "12.50"
    assert shown["size"] == "s"  # YAML default
    assert shown["active"] is True
    assert shown["owner"]["username"] == "clerk1"  # default: current_user
    assert "password" not in str(shown["owner"])  # related users are shown by id and name
    changed = api.put(f"/api/v1/gadget/{pk}", {"colour": "blue", "stock": 4})
    assert changed.status_code == 200, changed.get_json()
    assert api.get(f"/api/v1/gadget/{pk}").get_json()["result"]["colour"] == "blue"
    listed = api.get("/api/v1/gadget/").get_json()
    assert listed["count"] == 1 and listed["result"][0]["name"] == "Widget"
    assert api.delete(f"/api/v1/gadget/{pk}").status_code == 200
    assert api.get(f"/api/v1/gadget/{pk}").status_code == 404


def test_openapi_lists_every_entity(portal: Any) -> None:
    """covers: PL1 — the entities appear in the OpenAPI spec and Swagger UI is on."""
    api = ApiUser(portal, "admin")
    spec = api.get("/api/v1/_openapi").get_json()
    for entity in ("gadget", "gadget_part", "maker", "tag"):
        assert f"/api/v1/{entity}/" in spec["paths"], sorted(spec["paths"])
        assert f"/api/v1/{entity}/{{pk}}" in spec["paths"]
    from conftest import WebUser

    page = WebUser(portal, "admin").get("/swagger/v1")
    assert page.status_code == 200
    assert "swagger-ui-bundle.js" in page.get_data(as_text=True)  # served locally, no CDN


@pytest.mark.parametrize("payload, field, reason", [
    ({"name": "X", "maker": 999}, "maker", "unknown maker id 999"),
    ({"name": "X", "tags": [999]}, "tags", "unknown tag id 999"),
    ({"name": "X", "owner": 999}, "owner", "unknown user id 999"),
    ({"name": "X", "maker": "abc"}, "maker", "'abc' is not a record id"),
    ({"name": "X", "colour": "purple"}, "colour", "'purple' is not one of: red, green, blue"),
    ({"name": "X", "price": "1.005"}, "price", "'1.005' has more than 2 decimal places"),
    ({"name": "X", "price": -1}, "price", "must be at least 0"),
    ({"name": "X", "stock": 100001}, "stock", "must be at most 100000"),
    ({"name": "X", "contact": "not-an-email"}, "contact", "'not-an-email' is not a valid email"),
    ({"name": "X", "homepage": "ftp://x"}, "homepage", "is not a valid http(s) address"),
    ({"name": "X" * 61}, "name", "must be at most 60 characters"),
    ({"name": ""}, "name", "this field is required"),
])
def test_bad_payloads_are_refused_and_nothing_is_written(portal: Any, payload: dict[str, Any],
                                                        field: str, reason: str) -> None:
    """covers: PL1 — relation ids and field rules are validated (422), nothing written."""
    api = ApiUser(portal, "boss")
    resp = api.post("/api/v1/gadget/", payload)
    assert resp.status_code == 422, resp.get_json()
    messages = resp.get_json()["message"]
    assert field in messages, messages
    assert reason in " ".join(messages[field])
    assert _count(portal, "gadget") == 0
    assert _count(portal, "maker") == 0  # an unknown link id never creates a row
    assert _count(portal, "portal_audit_log") == 0


def test_unique_value_taken_is_a_clear_422(portal: Any) -> None:
    """covers: PL1 — uniqueness is checked across every scope without revealing the owner."""
    ApiUser(portal, "clerk1").post("/api/v1/gadget/", {"name": "Solo"})
    resp = ApiUser(portal, "clerk3").post("/api/v1/gadget/", {"name": "Solo"})
    assert resp.status_code == 422
    assert resp.get_json()["message"] == {"name": ["'Solo' is already used by another record"]}


def test_malformed_requests(portal: Any) -> None:
    """covers: PL1 — non-JSON bodies and unknown fields get 4xx answers, not 500."""
    api = ApiUser(portal, "boss")
    resp = api.client.post("/api/v1/gadget/", data="name=x", headers=api.headers)
    assert resp.status_code == 400
    resp = api.post("/api/v1/gadget/", ["not", "an", "object"])
    assert resp.status_code == 400
    resp = api.post("/api/v1/gadget/", {"name": "A", "no_such_field": 1})
    assert resp.status_code == 422
    assert "no_such_field" in resp.get_json()["message"]
    assert api.client.get("/api/v1/gadget/").status_code == 401  # no token


def test_money_is_exact(portal: Any) -> None:
    """covers: PL1 — money keeps every cent on SQLite and PostgreSQL alike."""
    api = ApiUser(portal, "boss")
    values = ["0.10", "0.20", "1234567890123.45", "99999.99"]
    for i, value in enumerate(values):
        resp = api.post("/api/v1/gadget/", {"name": f"M{i}", "price": value, "weight": "1.125"})
        assert resp.status_code == 201, resp.get_json()
    with portal.app_context():
        model = portal.extensions["portal"].models.classes["gadget"]
        rows = portal.appbuilder.session.query(model).order_by(model.id).all()
        assert [r.price for r in rows] == [Decimal(v) for v in values]
        assert sum(r.price for r in rows[:2]) == Decimal("0.30")
        assert rows[0].weight == Decimal("1.125")
    listed = api.get("/api/v1/gadget/?q=(order_column:id,order_direction:asc)").get_json()
    assert [r["price"] for r in listed["result"]] == values


def test_float_input_for_money_is_read_as_written(portal: Any) -> None:
    """covers: PL1 — a JSON number like 0.1 is money 0.10, never 0.1000000000000000055."""
    api = ApiUser(portal, "boss")
    resp = api.post("/api/v1/gadget/", {"name": "F", "price": 0.1})
    assert resp.status_code == 201
    assert resp.get_json()["result"]["price"] == "0.10"


def test_own_scope_everywhere_in_the_api(portal: Any) -> None:
    """covers: PL3 — a clerk reaches only own records: list, get, put, delete, counts, search."""
    one, two = ApiUser(portal, "clerk1"), ApiUser(portal, "clerk2")
    pk = one.post("/api/v1/gadget/", {"name": "Mine"}).get_json()["id"]
    two.post("/api/v1/gadget/", {"name": "Theirs"})
    listed = two.get("/api/v1/gadget/").get_json()
    assert listed["count"] == 1 and [r["name"] for r in listed["result"]] == ["Theirs"]
    assert two.get(f"/api/v1/gadget/{pk}").status_code == 404
    assert two.put(f"/api/v1/gadget/{pk}", {"colour": "red"}).status_code == 404
    assert two.delete(f"/api/v1/gadget/{pk}").status_code == 404
    searched = two.get("/api/v1/gadget/?q=(filters:!((col:name,opr:ct,value:Mine)))").get_json()
    assert searched["count"] == 0
    assert two.get(f"/api/v1/gadget/{pk}/history").status_code == 404
    boss = ApiUser(portal, "boss").get("/api/v1/gadget/").get_json()
    assert boss["count"] == 2


def test_cannot_link_to_records_out_of_scope(portal: Any) -> None:
    """covers: PL3 — an id the user cannot see is an unknown id (422), not a silent link."""
    one, three = ApiUser(portal, "clerk1"), ApiUser(portal, "clerk3")
    maker = one.post("/api/v1/maker/", {"name": "Acme"}).get_json()["id"]
    resp = three.post("/api/v1/gadget/", {"name": "Hack", "maker": maker})
    assert resp.status_code == 422
    assert resp.get_json()["message"] == {"maker": [f"unknown maker id {maker}"]}


def test_department_scope(portal: Any) -> None:
    """covers: PL3 — a team lead reaches the records of users in the same department."""
    ApiUser(portal, "clerk1").post("/api/v1/gadget/", {"name": "East"})
    ApiUser(portal, "clerk3").post("/api/v1/gadget/", {"name": "West"})
    lead = ApiUser(portal, "lead")
    names = [r["name"] for r in lead.get("/api/v1/gadget/").get_json()["result"]]
    assert names == ["East"]
    east = lead.get("/api/v1/gadget/").get_json()["ids"][0]
    assert lead.put(f"/api/v1/gadget/{east}", {"colour": "green"}).status_code == 200
    assert lead.delete(f"/api/v1/gadget/{east}").status_code == 403  # no delete right


def test_update_scope_narrower_than_read(portal: Any, make_portal: Any) -> None:
    """covers: PL3 — reading all but updating own: a foreign record is visible, not editable."""
    api_auditor = ApiUser(portal, "auditor")
    pk = ApiUser(portal, "clerk1").post("/api/v1/gadget/", {"name": "Seen"}).get_json()["id"]
    assert api_auditor.get(f"/api/v1/gadget/{pk}").status_code == 200
    # The auditor has no update right at all: FAB's permission check answers 403.
    assert api_auditor.put(f"/api/v1/gadget/{pk}", {"colour": "red"}).status_code == 403
    assert api_auditor.post("/api/v1/gadget/", {"name": "Nope"}).status_code == 403


def test_hidden_fields_are_absent_for_the_role(portal: Any) -> None:
    """covers: PL3 — fields hidden from a role never reach it, and cannot be written by it."""
    pk = ApiUser(portal, "boss").post("/api/v1/gadget/", {"name": "Secret", "cost": "9.99"}) \
        .get_json()["id"]
    auditor = ApiUser(portal, "auditor")
    shown = auditor.get(f"/api/v1/gadget/{pk}").get_json()
    assert "cost" not in shown["result"] and "cost" not in shown["show_columns"]
    info = auditor.get("/api/v1/gadget/_info").get_json()
    assert "cost" not in str(info.get("add_columns", ""))
    filtered = auditor.get("/api/v1/gadget/?q=(columns:!(name,cost))").get_json()
    assert filtered["result"] == [{"name": "Secret"}]  # asking for it by name does not help
    assert auditor.put(f"/api/v1/gadget/{pk}", {"cost": "1.00"}).status_code in (403, 422)
    boss_view = ApiUser(portal, "boss").get(f"/api/v1/gadget/{pk}").get_json()["result"]
    assert boss_view["cost"] == "9.99"


def test_audit_trail_records_who_when_before_after(portal: Any) -> None:
    """covers: PL5 — create, update and delete are recorded with user and values."""
    api = ApiUser(portal, "clerk1")
    pk = api.post("/api/v1/gadget/", {"name": "Tracked", "price": "5.00"}).get_json()["id"]
    api.put(f"/api/v1/gadget/{pk}", {"price": "7.50", "name": "Tracked 2"})
    history = api.get(f"/api/v1/gadget/{pk}/history").get_json()["result"]
    assert [h["action"] for h in history] == ["update", "create"]
    assert history[0]["username"] == "clerk1"
    assert history[0]["changes"] == {"name": ["Tracked", "Tracked 2"], "price": ["5.00", "7.50"]}
    assert history[1]["changes"]["name"] == [None, "Tracked"]
    api.delete(f"/api/v1/gadget/{pk}")
    from sqlalchemy import text

    with portal.app_context():
        rows = portal.appbuilder.session.execute(text(
            "SELECT action, username FROM portal_audit_log WHERE entity='gadget' ORDER BY id"
        )).all()
    assert [tuple(r) for r in rows] == [("create", "clerk1"), ("update", "clerk1"),
                                        ("delete", "clerk1")]


def test_audit_entries_cannot_be_changed(portal: Any) -> None:
    """covers: PL5 — no code path may edit or delete an audit entry."""
    from portal.engines.lifecycle import ImmutableAuditError
    from portal.system_models import AuditLog

    ApiUser(portal, "boss").post("/api/v1/gadget/", {"name": "A"})
    with portal.app_context():
        session = portal.appbuilder.session
        entry = session.query(AuditLog).first()
        entry.username = "someone else"
        with pytest.raises(ImmutableAuditError):
            session.flush()
        session.rollback()
        session.delete(session.query(AuditLog).first())
        with pytest.raises(ImmutableAuditError):
            session.flush()
        session.rollback()
        assert session.query(AuditLog).one().username == "boss"
    from sqlalchemy import text
    from sqlalchemy.exc import DatabaseError

    with portal.app_context():  # the database refuses it too, even as raw SQL
        session = portal.appbuilder.session
        for statement in ("UPDATE portal_audit_log SET username = 'x'",
                          "DELETE FROM portal_audit_log"):
            with pytest.raises(DatabaseError, match="audit entries cannot be changed"):
                session.execute(text(statement))
            session.rollback()
    perms = _grants_on(portal, "Admin")
    assert not any("audit" in view.lower() for _, view in perms)


def _grants_on(app: Any, role: str) -> set[tuple[str, str]]:
    with app.app_context():
        sm = app.appbuilder.sm
        return sm.get_role_permissions(sm.find_role(role))


def test_numbers_are_sequential_per_period(portal: Any) -> None:
    """covers: PL6 — GD-{YYYY}-{####}: the next number for each new record, never typed in."""
    import datetime as dt

    api = ApiUser(portal, "boss")
    year = dt.datetime.now(dt.UTC).year
    refs = []
    for i in range(3):
        resp = api.post("/api/v1/gadget/", {"name": f"N{i}", "ref": "GD-1999-9999"})
        assert resp.status_code == 422  # the number is not writable
        resp = api.post("/api/v1/gadget/", {"name": f"N{i}"})
        refs.append(api.get(f"/api/v1/gadget/{resp.get_json()['id']}").get_json()["result"]["ref"])
    assert refs == [f"GD-{year}-0001", f"GD-{year}-0002", f"GD-{year}-0003"]


def test_a_refused_insert_leaves_no_gap(portal: Any) -> None:
    """covers: PL6 — a failed save rolls its number back."""
    import datetime as dt

    api = ApiUser(portal, "boss")
    api.post("/api/v1/gadget/", {"name": "First"})
    assert api.post("/api/v1/gadget/", {"name": "First"}).status_code == 422
    second = api.post("/api/v1/gadget/", {"name": "Second"}).get_json()["id"]
    year = dt.datetime.now(dt.UTC).year
    assert api.get(f"/api/v1/gadget/{second}").get_json()["result"]["ref"] == f"GD-{year}-0002"


def test_delete_refused_while_referenced(portal: Any) -> None:
    """covers: PL1 — deleting a record others link to is refused with the reason."""
    api = ApiUser(portal, "boss")
    maker = api.post("/api/v1/maker/", {"name": "Acme"}).get_json()["id"]
    api.post("/api/v1/gadget/", {"name": "G", "maker": maker})
    resp = api.delete(f"/api/v1/maker/{maker}")
    assert resp.status_code == 422
    assert "still referenced by 1 Gadget record(s) (maker)" in str(resp.get_json())
    assert api.get(f"/api/v1/maker/{maker}").status_code == 200


def test_hidden_fields_cannot_be_filtered_on(portal: Any) -> None:
    """covers: PL3 — a filter on a field hidden from the role would tell its values (a count
    that changes with the bound): the REST list refuses it."""
    admin = ApiUser(portal, "admin")
    assert admin.post("/api/v1/gadget/", {"name": "Dear", "cost": "900.00"}).status_code == 201
    auditor = ApiUser(portal, "auditor")
    resp = auditor.get("/api/v1/gadget/?q=(filters:!((col:cost,opr:gt,value:700)))")
    assert resp.status_code == 400
    assert resp.get_json()["message"] == "cannot filter on 'cost': the field is hidden from you"
    assert admin.get("/api/v1/gadget/?q=(filters:!((col:cost,opr:gt,value:700)))") \
        .get_json()["count"] == 1
