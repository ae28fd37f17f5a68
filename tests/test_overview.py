"""The 360 page (``overview``) and activity timeline (``timeline``) entity features: compile
errors, then counts, totals, rows and activities as each role may read them, on the show
page and under /api/v1; on a test-only schema (tests/overview_schema.py), SQLite and
PostgreSQL."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import ApiUser, WebUser, add_user
from overview_schema import ACCOUNT, EXPECTED, NOTE, USERS, seed, write_overview_schema
from sqlalchemy import event

from portal.spec.compiler import check_schema_dir


# -- compile errors ---------------------------------------------------------------------------
def _errors(tmp_path: Path, **replace: str) -> list[str]:
    root = write_overview_schema(tmp_path / "schema", **replace)
    registry, errors = check_schema_dir(root, display_base=root)
    assert registry is None, "expected errors"
    return [str(e) for e in errors]


def _account(overview: str, timeline: str = "") -> str:
    """The account YAML with another overview (and timeline) block."""
    head = ACCOUNT.split("overview:")[0]
    return head + overview + timeline


BAD_OVERVIEWS = [
    ("overview:\n  tabs:\n    deals: {entity: dael}\n",
     "overview.tabs.deals.entity: unknown entity 'dael'; did you mean 'deal'? [unknown-ref]"),
    ("overview:\n  tabs:\n    dealz: {}\n",
     "overview.tabs.dealz: missing required key 'entity' (tab 'dealz' is not an entity name); "
     "did you mean 'deal'? [missing-key]"),
    ("overview:\n  tabs:\n    contracts: {entity: contract}\n",
     "overview.tabs.contracts: 'contract' has several link fields to 'account' (account, "
     "billed_to); say which with path: <field> [ambiguous-link]"),
    ("overview:\n  tabs:\n    plans: {entity: plan}\n",
     "overview.tabs.plans: 'plan' has no link field to 'account'; give a path through other "
     "links, e.g. path: <link>.<field of that entity> [no-link]"),
    ("overview:\n  tabs:\n    receipts: {entity: receipt, path: plan.contrat.account}\n",
     "overview.tabs.receipts.path: unknown field 'contrat' of 'plan' in path "
     "'plan.contrat.account'; did you mean 'contract'? [unknown-field]"),
    ("overview:\n  tabs:\n    receipts: {entity: receipt, path: plan.label}\n",
     "overview.tabs.receipts.path: 'plan.label' is a string field, not a link; a path walks "
     "link fields only [not-a-link]"),
    ("overview:\n  tabs:\n    receipts: {entity: receipt, path: plan.contract}\n",
     "overview.tabs.receipts.path: path 'plan.contract' from 'receipt' ends at 'contract', "
     "not at 'account' [path-mismatch]"),
    ("overview:\n  tabs:\n    deals: {entity: deal, columns: [name, amont]}\n",
     "overview.tabs.deals.columns: unknown field 'amont' of 'deal'; did you mean 'amount'? "
     "[unknown-field]"),
    ("overview:\n  tabs:\n    deals: {entity: deal, sum: name}\n",
     "overview.tabs.deals.sum: 'deal.name' is a string field; expected one of type decimal, "
     "int, money [bad-field]"),
    ("overview:\n  tabs:\n    deals: {entity: deal, summ: amount}\n",
     "overview.tabs.deals.summ: unknown key 'summ'; did you mean 'sum'? [unknown-key]"),
    ("overview:\n  tab:\n    deals: {entity: deal}\n",
     "overview.tab: unknown key 'tab'; did you mean 'tabs'? [unknown-key]"),
    ("overview:\n  rows: 0\n  tabs:\n    deals: {entity: deal}\n",
     "overview.rows: rows is a whole number from 1 to 100 [bad-value]"),
    ("overview:\n  header: [name, nmae]\n  tabs:\n    deals: {entity: deal}\n",
     "overview.header: unknown field 'nmae' of 'account'; did you mean 'name'? "
     "[unknown-field]"),
    ("overview:\n  tabs:\n    serials: {entity: serial, path: [contract.account, "
     "contract.account]}\n",
     "overview.tabs.serials.path: path 'contract.account' is given twice [duplicate-key]"),
    ("overview: [deals]\n",
     "overview: overview is a mapping with keys label, header, rows, tabs [bad-value]"),
]


@pytest.mark.parametrize(("block", "expected"), BAD_OVERVIEWS,
                         ids=[e[1].rsplit("[", 1)[1][:-1] + str(i)
                              for i, e in enumerate(BAD_OVERVIEWS)])
def test_overview_compile_errors(tmp_path: Path, block: str, expected: str) -> None:
    """covers: S1(360 definitions: unknown entities and fields with did-you-mean, paths that
    do not end here, ambiguous links, non-link hops, unknown columns, non-numeric sums)"""
    errors = _errors(tmp_path, account=_account(block))
    # one error, or two for a misspelt `tabs` (unknown key; tabs missing)
    assert len(errors) == (2 if "'tab'" in expected else 1), errors
    for error in errors:
        assert re.match(r"entities/crm/account\.yaml:\d+:\d+: overview", error), error
    assert expected in [e.partition(": ")[2] for e in errors]


BAD_TIMELINES = [
    ("timeline:\n  nte: {date: happened_at}\n",
     "timeline.nte: unknown entity 'nte'; did you mean 'note'? [unknown-ref]"),
    ("timeline:\n  note: {date: detail}\n",
     "timeline.note.date: 'note.detail' is a text field; expected one of type date, "
     "datetime [bad-field]"),
    ("timeline:\n  note: {date: happend_at}\n",
     "timeline.note.date: unknown field 'happend_at' of 'note'; did you mean 'happened_at'? "
     "[unknown-field]"),
    ("timeline:\n  note: {date: happened_at, title: deal}\n",
     "timeline.note.title: 'note.deal' is a link field; expected one of type bool, date, "
     "datetime, decimal, email, enum, int, money, number, phone, string, text, url "
     "[bad-field]"),
    ("timeline:\n  note: {date: happened_at, path: deal}\n",
     "timeline.note.path: path 'deal' from 'note' ends at 'deal', not at 'account' "
     "[path-mismatch]"),
    ("timeline:\n  note: {date: happened_at, titel: method}\n",
     "timeline.note.titel: unknown key 'titel'; did you mean 'title'? [unknown-key]"),
]


@pytest.mark.parametrize(("block", "expected"), BAD_TIMELINES,
                         ids=[e[1].rsplit("[", 1)[1][:-1] + str(i)
                              for i, e in enumerate(BAD_TIMELINES)])
def test_timeline_compile_errors(tmp_path: Path, block: str, expected: str) -> None:
    """covers: S10(timeline definitions checked: entities, date fields, paths, keys)"""
    overview = "overview:\n  tabs:\n    contacts: {entity: contact}\n"
    errors = _errors(tmp_path, account=_account(overview, block))
    assert len(errors) == 1, errors
    assert errors[0].partition(": ")[2] == expected


def test_error_points_at_the_line_of_the_bad_value(tmp_path: Path) -> None:
    """covers: S1(a 360 definition error names file:line:col)"""
    block = "overview:\n  tabs:\n    contacts: {entity: contact}\n    deals: {entity: dael}\n"
    errors = _errors(tmp_path, account=_account(block))
    line = _account(block).splitlines().index("    deals: {entity: dael}") + 1
    assert errors[0].startswith(f"entities/crm/account.yaml:{line}:")


def test_json_schema_documents_both_keys(tmp_path: Path) -> None:
    """covers: S1(editors validate overview and timeline blocks with the exported JSON
    Schema: the test schema passes, misspelt keys do not)"""
    import jsonschema

    from portal.spec.jsonschema_export import language_json_schema
    from portal.spec.loader import load_text

    schema = language_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    check = jsonschema.Draft202012Validator(schema)
    good = load_text(ACCOUNT, "account.yaml")[0][0].data
    assert not list(check.iter_errors(good))
    for bad in (ACCOUNT.replace("sum: value", "summ: value"),
                ACCOUNT.replace("title: method", "titel: method"),
                ACCOUNT.replace("rows: 2", "rows: 0")):
        assert list(check.iter_errors(load_text(bad, "account.yaml")[0][0].data)), bad


# -- data as each role sees it ----------------------------------------------------------------
@pytest.fixture
def crm(tmp_path: Path, make_portal: Any, backend: str) -> tuple[Any, dict[str, Any]]:
    app = make_portal(write_overview_schema(tmp_path / "schema"), backend=backend)
    for name, roles in USERS:
        add_user(app, name, roles)
    return app, seed(app)


def _tabs(api: ApiUser, pk: int) -> dict[str, Any]:
    resp = api.get(f"/api/v1/account/{pk}/overview")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return {t["name"]: t for t in resp.get_json()["tabs"]}


@pytest.mark.parametrize("user", sorted(EXPECTED))
def test_counts_and_totals_follow_the_read_scope(crm: tuple[Any, dict[str, Any]],
                                                 user: str) -> None:
    """covers: S1(counts match the data for a director reading all and a rep reading own,
    including tabs two and three links deep; tabs of unreadable entities are left out)
    S2(contracts and deals listed with totals)"""
    app, ids = crm
    tabs = _tabs(ApiUser(app, user), ids["acme"])
    assert {name: (t["count"], t["total"]) for name, t in tabs.items()} == EXPECTED[user]


def test_rows_columns_hidden_fields_and_links(crm: tuple[Any, dict[str, Any]]) -> None:
    """covers: S1(rows of each tab with the declared columns; hidden fields not shown; a
    link to each record; capped with "see all")"""
    app, ids = crm
    boss = _tabs(ApiUser(app, "boss"), ids["acme"])
    rep = _tabs(ApiUser(app, "rep1"), ids["acme"])
    assert [c["name"] for c in boss["deals"]["columns"]] == ["name", "stage", "amount", "cost",
                                                             "owner"]
    assert [c["name"] for c in rep["deals"]["columns"]] == ["name", "stage", "amount", "owner"]
    assert all("cost" not in r["values"] for r in rep["deals"]["rows"])
    # rows: 2 per tab, newest first; exact money as text; users by name
    assert [r["values"]["name"] for r in boss["deals"]["rows"]] == ["Rep2 deal", "Small deal"]
    assert boss["deals"]["rows"][1]["values"] == {
        "name": "Small deal", "stage": "lead", "amount": "200.50", "cost": "10.00",
        "owner": "rep1"}
    assert boss["deals"]["rows"][0]["url"].endswith(f"/deal/show/{boss['deals']['rows'][0]['id']}")
    # a link column: id and title; the deeper tab lists only Acme's serials
    assert rep["contracts"]["rows"][1]["values"]["billed_to"] == {"id": ids["other"],
                                                                 "title": "Other Co"}
    assert sorted(r["values"]["code"] for r in boss["serials"]["rows"]) == ["SN-2", "SN-3"]
    # "see all": the contact list filtered to Acme (the list can filter on the link)
    more = boss["contacts"]["more_url"]
    assert more and boss["contacts"]["count"] == 3 and len(boss["contacts"]["rows"]) == 2
    listed = html.unescape(WebUser(app, "boss").get(more).get_data(as_text=True))
    assert all(f"Contact {i}" in listed for i in range(3)) and "Elsewhere" not in listed
    assert boss["deals"]["more_url"] is None  # the deal list has no filter on account


def test_paging_one_tab_and_bad_requests(crm: tuple[Any, dict[str, Any]]) -> None:
    """covers: S1(a tab's rows page by page over the API; unknown tabs and pages refused)"""
    app, ids = crm
    boss, helper = ApiUser(app, "boss"), ApiUser(app, "helper")
    url = f"/api/v1/account/{ids['acme']}/overview"
    pages = [boss.get(f"{url}?tab=receipts&page={n}").get_json() for n in range(3)]
    assert [[r["values"]["ref"] for r in p["rows"]] for p in pages] == [["R-3", "R-2"],
                                                                         ["R-1"], []]
    assert pages[0]["count"] == 3 and pages[0]["total"] == "600.25"
    assert boss.get(f"{url}?tab=nope").status_code == 400
    assert boss.get(f"{url}?tab=deals&page=x").status_code == 400
    refused = helper.get(f"{url}?tab=deals")  # support may not read deals
    assert refused.status_code == 400 and "no tab 'deals'" in refused.get_json()["message"]
    assert boss.get("/api/v1/account/999999/overview").status_code == 404
    assert boss.get(f"/api/v1/contact/{ids['acme']}/overview").status_code == 404


def _activity(api: ApiUser, entity: str, pk: int) -> list[tuple[str, str, Any]]:
    resp = api.get(f"/api/v1/{entity}/{pk}/timeline")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return [(i["entity"], i["title"], i["text"]) for i in resp.get_json()["result"]]


def test_timeline_order_and_permissions(crm: tuple[Any, dict[str, Any]]) -> None:
    """covers: S10(follow-ups shown on the customer timeline, directly and through an
    opportunity, newest first, as the reader may read them; on the opportunity timeline)"""
    app, ids = crm
    boss = ApiUser(app, "boss")
    assert _activity(boss, "account", ids["acme"]) == [
        ("note", "Visit", "On site about the big deal"),
        ("note", "Phone call", "Rep2 follow-up"),
        ("note", "Phone call", "Intro call"),
        ("contract", "C-2", None), ("contract", "C-1", None)]
    assert _activity(ApiUser(app, "rep1"), "account", ids["acme"]) == [
        ("note", "Visit", "On site about the big deal"), ("note", "Phone call", "Intro call"),
        ("contract", "C-2", None), ("contract", "C-1", None)]
    assert _activity(ApiUser(app, "rep2"), "account", ids["acme"]) == [
        ("note", "Phone call", "Rep2 follow-up"), ("contract", "C-2", None),
        ("contract", "C-1", None)]
    assert _activity(ApiUser(app, "helper"), "account", ids["acme"]) == [
        ("contract", "C-2", None), ("contract", "C-1", None)]
    # the deal's own timeline: notes through its one link
    assert [t for _, _, t in _activity(boss, "deal", ids["d1"])] == [
        "On site about the big deal", "Rep2 follow-up"]
    items = boss.get(f"/api/v1/account/{ids['acme']}/timeline").get_json()["result"]
    assert items[0]["date"] == "2026-06-03T09:00:00" and items[0]["url"].endswith(
        f"/note/show/{ids['n2']}")
    assert boss.get(f"/api/v1/contact/{ids['acme']}/timeline").status_code == 404


def test_one_statement_per_tab_whatever_the_rows(crm: tuple[Any, dict[str, Any]]) -> None:
    """covers: S1(counts in one query per tab; rows without a query per row: the number of
    statements does not grow with the related records)"""
    app, ids = crm
    api = ApiUser(app, "boss")
    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    def statements() -> int:
        seen.clear()
        event.listen(engine, "before_cursor_execute", record)
        try:
            assert api.get(f"/api/v1/account/{ids['acme']}/overview").status_code == 200
            assert api.get(f"/api/v1/account/{ids['acme']}/timeline").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return len(seen)

    statements()  # the first request of a user also loads their permissions
    before = statements()
    with app.app_context():
        m = app.extensions["portal"].models.classes
        session = app.appbuilder.session
        for i in range(8):
            session.add(m["deal"](name=f"More {i}", account_id=ids["acme"]))
            session.add(m["serial"](code=f"SN-M{i}", contract_id=ids["c1"]))
            session.add(m["note"](method="call", detail=f"More {i}", account_id=ids["acme"]))
        session.commit()
    assert statements() == before
    # five tabs: a count and a page each; two timeline sources; a few for the request itself
    assert before <= 5 * 2 + 2 + 8, seen


def test_show_page_has_the_360_view_and_the_activity(crm: tuple[Any, dict[str, Any]]) -> None:
    """covers: S1(the customer's page shows one tab per readable entity with its count,
    totals, and the header fields) S10(the activity timeline on the page)"""
    app, ids = crm
    page = html.unescape(WebUser(app, "rep1").get(f"/account/show/{ids['acme']}")
                         .get_data(as_text=True))
    counts = dict(re.findall(r'data-tab="(\w+)">[^<]*<span class="badge portal-count">(\d+)',
                             page))
    assert counts == {"contacts": "3", "deals": "2", "contracts": "2", "serials": "2",
                      "receipts": "2"}
    assert "Account 360" in page and "1,200.50" in page and "350.25" in page
    assert 'data-field="grade">A<' in page
    assert "Intro call" in page and "Rep2 follow-up" not in page
    helper = html.unescape(WebUser(app, "helper").get(f"/account/show/{ids['acme']}")
                           .get_data(as_text=True))
    assert 'data-tab="deals"' not in helper and 'data-tab="contacts"' in helper
    assert "No activity yet." not in helper and "C-2" in helper
    # a record of an entity without an overview has neither panel
    plain = WebUser(app, "boss").get(f"/contact/show/{ids['acme']}").get_data(as_text=True)
    assert 'id="overview"' not in plain and 'id="activity"' not in plain


def test_chinese_labels(crm: tuple[Any, dict[str, Any]]) -> None:
    """covers: S1(labels in the reader's language)"""
    app, ids = crm
    user = WebUser(app, "boss")
    user.get("/lang/zh_CN")
    page = html.unescape(user.get(f"/account/show/{ids['acme']}").get_data(as_text=True))
    assert "客户全景" in page and "商机" in page and "动态" in page and "合计" in page


def test_a_hidden_link_field_hides_the_tab(tmp_path: Path, make_portal: Any) -> None:
    """covers: S1(a tab whose link is hidden from the reader is not shown: its count would
    tell the hidden value)"""
    note = NOTE.replace("rep:      {read: own, create: true, update: own}",
                        "rep:      {read: own, create: true, update: own, hide: [deal]}")
    schema = write_overview_schema(tmp_path / "schema", note=note,
                                   account=ACCOUNT.replace(
                                       "    contacts: {entity: contact}\n",
                                       "    contacts: {entity: contact}\n"
                                       "    notes: {entity: note, path: deal.account}\n"))
    app = make_portal(schema)
    for name, roles in USERS:
        add_user(app, name, roles)
    ids = seed(app)
    assert "notes" not in _tabs(ApiUser(app, "rep1"), ids["acme"])
    assert _tabs(ApiUser(app, "boss"), ids["acme"])["notes"]["count"] == 2
    # on the timeline the rep still sees their note linked to the account directly
    assert ("note", "Phone call", "Intro call") in _activity(ApiUser(app, "rep1"), "account",
                                                             ids["acme"])
