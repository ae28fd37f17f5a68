"""The REST list's row path (``portal.web.row_list``) answers exactly as FAB's own path.

Every list below is fetched twice by the same user: through the row path, and through FAB's
``get_list_headless`` (the plan switched off). The JSON must be identical, for every role's
scope and hidden fields, related records the user may or may not read, nulls, filters,
ordering and pages. Runs on SQLite and, when configured, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import decimal
from decimal import Decimal
from typing import Any

import pytest
from conftest import ApiUser
from marshmallow import fields

from portal.web.entity_views import EntityRestApi
from portal.web.fast_dump import value_writer

QUERIES = (
    "",
    "?q=(page_size:2)",
    "?q=(page:1,page_size:2)",
    "?q=(page:9,page_size:2)",  # past the end: empty page, the count still right
    "?q=(order_column:name,order_direction:asc)",
    "?q=(filters:!((col:name,opr:ct,value:o)))",
    "?q=(filters:!((col:colour,opr:eq,value:red)))",
    "?q=(keys:!(list_columns,label_columns))",
)


def _user_id(app: Any, username: str) -> int:
    with app.app_context():
        return app.appbuilder.sm.find_user(username=username).id


def _seed(app: Any) -> None:
    """Gadgets of several owners (with nulls), makers, and parts whose gadget belongs to
    someone else than the part's creator, written directly (no scope, no API)."""
    ids = {name: _user_id(app, name) for name in ("clerk1", "clerk2", "clerk3", "boss")}
    with app.app_context():
        models = app.extensions["portal"].models.classes
        session = app.appbuilder.session
        makers = [models["maker"](name=f"Maker {i}", owner_id=ids[u], created_by_id=ids[u])
                  for i, u in enumerate(("clerk1", "clerk3"))]
        session.add_all(makers)
        gadgets = []
        for i, (owner, colour, price) in enumerate([
                ("clerk1", "red", Decimal("10.50")), ("clerk1", None, None),
                ("clerk2", "blue", Decimal("0.00")), ("clerk3", "red", Decimal("99.99")),
                ("boss", "green", Decimal("1234567.89")), ("clerk1", "red", Decimal("7.10"))]):
            gadget = models["gadget"](
                name=f"Gadget {i} {'foo' if i % 2 else 'bar'}", colour=colour, price=price,
                owner_id=ids[owner], created_by_id=ids[owner], maker=makers[i % 2],
                released=dt.date(2026, 1, 1 + i), stock=i)
            gadgets.append(gadget)
        session.add_all(gadgets)
        session.flush()
        for i, (creator, gadget) in enumerate([("clerk2", 0), ("clerk1", 0), ("boss", 3),
                                               ("clerk3", 2)]):
            session.add(models["gadget_part"](gadget_id=gadgets[gadget].id, label=f"P{i}",
                                              qty=i + 1, created_by_id=ids[creator]))
        session.commit()


@pytest.fixture
def portal(lowcode_portal: Any) -> Any:
    _seed(lowcode_portal)
    return lowcode_portal


def _fab_list(monkeypatch: pytest.MonkeyPatch, api: ApiUser, url: str) -> Any:
    """The same request answered by FAB's own list (no row plan)."""
    with monkeypatch.context() as patch:
        patch.setattr(EntityRestApi, "_row_list_plan", lambda self: None)
        return api.get(url)


@pytest.mark.parametrize("username", ["admin", "clerk1", "clerk2", "lead", "boss", "auditor"])
def test_row_list_matches_fab(portal: Any, monkeypatch: pytest.MonkeyPatch,
                              username: str) -> None:
    """covers: PL1, PL3 — the fast REST list returns what FAB's list returns, scopes and
    hidden fields included."""
    api = ApiUser(portal, username)
    for entity in ("gadget", "gadget_part", "maker", "tag"):
        for query in QUERIES:
            if "colour" in query and entity != "gadget":
                continue
            if "name" in query and entity not in {"gadget", "maker"}:
                continue
            url = f"/api/v1/{entity}/{query}"
            rows, fab = api.get(url), _fab_list(monkeypatch, api, url)
            assert rows.status_code == fab.status_code, (url, rows.get_json())
            assert rows.get_json() == fab.get_json(), url


def test_row_list_is_used_and_scoped(portal: Any) -> None:
    """covers: PL3 — a clerk's list (own scope) counts and shows only the clerk's gadgets;
    a part whose gadget the clerk may not read shows that gadget as null."""
    clerk1 = ApiUser(portal, "clerk1")
    listed = clerk1.get("/api/v1/gadget/?q=(page_size:2)").get_json()
    assert listed["count"] == 3
    assert len(listed["result"]) == 2
    assert {r["owner"]["username"] for r in listed["result"]} == {"clerk1"}
    parts = ApiUser(portal, "clerk2").get("/api/v1/gadget_part/").get_json()
    assert [(p["label"], p["gadget"]) for p in parts["result"]] == [("P0", None)]
    boss_parts = ApiUser(portal, "boss").get("/api/v1/gadget_part/").get_json()
    assert {p["label"]: p["gadget"]["name"] for p in boss_parts["result"]}["P0"] == \
        "Gadget 0 bar"
    with portal.test_request_context():
        apis = [v for v in portal.appbuilder.baseviews if isinstance(v, EntityRestApi)]
        assert apis and all(a._row_list_plan() is not None for a in apis)


def test_row_list_bad_arguments(portal: Any) -> None:
    """covers: PL1 — bad list arguments are a 400 naming the problem, on the row path."""
    api = ApiUser(portal, "boss")
    bad_order = api.get("/api/v1/gadget/?q=(order_column:password)")
    assert bad_order.status_code == 400
    assert "order" in bad_order.get_json()["message"].lower()
    bad_filter = api.get("/api/v1/gadget/?q=(filters:!((col:nope,opr:eq,value:1)))")
    assert bad_filter.status_code == 400
    assert api.get("/api/v1/gadget/?q=(page_size:'x')").status_code == 400


@pytest.mark.parametrize(("field", "values"), [
    (fields.String(), ["text", "", None, 12, b"bytes"]),
    (fields.Integer(), [0, 7, -3, None, True, Decimal("4")]),
    (fields.Boolean(), [True, False, None, 0, 1, "yes"]),
    (fields.Decimal(), [Decimal("1.50"), Decimal("1E+2"), None, 3, 2.5]),
    (fields.Decimal(places=2), [Decimal("1.50"), Decimal("1.5"), Decimal("7"), None, 3]),
    (fields.Decimal(as_string=True), [Decimal("1.50"), None]),
    (fields.Date(), [dt.date(2026, 1, 31), None]),
    (fields.DateTime(), [dt.datetime(2026, 1, 31, 8, 30, 5), None]),
    (fields.DateTime(format="%d/%m/%Y"), [dt.datetime(2026, 1, 31, 8, 30), None]),
    (fields.Float(), [1.5, 2, None]),
])
def test_value_writer_matches_marshmallow(field: fields.Field, values: list[Any]) -> None:
    """covers: PL1 — the row path writes each value exactly as marshmallow would."""
    write = value_writer(field, "x")
    for value in values:
        expected = field._serialize(value, "x", None)
        got = write(value)
        assert got == expected and type(got) is type(expected), (field, value)
        if isinstance(expected, decimal.Decimal):
            assert str(got) == str(expected), (field, value)
