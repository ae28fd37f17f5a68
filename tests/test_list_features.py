"""List highlighting (``highlight:``) and list presets (``presets:``): compile errors, the REST
list and item, the list screen, its export and the record page, for each role; a browser
test sees a red row and a preset button narrowing the list. On the test-only schema of
tests/list_features_schema.py, SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from conftest import ApiUser, WebUser, add_user, write_tree
from list_features_schema import FILES, write_list_features_schema

from portal.spec.compiler import check_schema_dir

TODAY = dt.date.today()


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


# -- compile errors ---------------------------------------------------------------------------

THING = """entity: thing
fields:
  name: {type: string}
  due: {type: date}
  at: {type: datetime}
  status: {type: enum, values: [draft, signed]}
  amount: {type: money}
  qty: {type: int}
  done: {type: bool}
  owner: {type: user}
  account: {type: link, entity: account}
  tags: {type: many, entity: account}
access:
  boss: {read: all}
"""


def errors_for(tmp_path: Path, extra: str) -> list[str]:
    write_tree(tmp_path, {**FILES, "entities/thing.yaml": THING + extra})
    registry, errors = check_schema_dir(tmp_path, display_base=tmp_path)
    assert registry is None, "expected compile errors"
    return [str(e) for e in errors]


BAD_HIGHLIGHTS = [
    ('highlight:\n  - {when: "due < today", style: dangr}\n',
     "entities/thing.yaml:16:34: highlight.style: unknown style 'dangr' (use danger, "
     "warning, success, info); did you mean 'danger'? [bad-value]"),
    ('highlight:\n  - {when: "count(contract.account) > 0", style: info}\n',
     "highlight.when: 'count(contract.account)': functions over related records are not "
     "allowed in a highlight, which is evaluated for every listed row (keep the number in a "
     "stored field and compare that) [bad-expression]"),
    ('highlight:\n  - {when: "dew < today", style: danger}\n',
     "highlight.when: entity 'thing' has no field 'dew'; did you mean 'due'? "
     "[unknown-field]"),
    ('highlight:\n  - {when: "account.grde == \'A\'", style: danger}\n',
     "highlight.when: entity 'account' has no field 'grde'; did you mean 'grade'? "
     "[unknown-field]"),
    ('highlight:\n  - {when: "due <", style: danger}\n',
     "entities/thing.yaml:16:12: highlight.when: invalid condition: invalid syntax "
     "[bad-expression]"),
    ("highlight:\n  - {style: danger}\n",
     "entities/thing.yaml:16:5: highlight: a highlight rule needs 'when' [missing-key]"),
    ('highlight:\n  - {when: "done", style: info, colour: red}\n',
     "highlight.colour: unknown key 'colour' [unknown-key]"),
    ("highlight: red\n",
     "highlight: expected a list of rules (when, style, label), got 'red' [bad-value]"),
]


@pytest.mark.parametrize(("extra", "expected"), BAD_HIGHLIGHTS)
def test_highlight_compile_errors(tmp_path: Path, extra: str, expected: str) -> None:
    """covers: F2(a bad highlight rule is refused with file:line, the reason and a
    suggestion; functions over related rows are refused: they would cost queries per row)"""
    errors = errors_for(tmp_path, extra)
    assert any(expected in e for e in errors), errors


BAD_PRESETS = [
    ("presets:\n  soon:\n    where: {dew: {from: today}}\n",
     "entities/thing.yaml:17:13: presets.soon.where.dew: unknown field 'dew' of 'thing'; did "
     "you mean 'due'? [unknown-field]"),
    ("presets:\n  soon:\n    where: {status: {from: draft}}\n",
     "presets.soon.where.status.from: 'from' needs a number, money or date field; 'status' is "
     "a enum field (use is or in) [bad-operator]"),
    ("presets:\n  soon:\n    where: {due: {from: today+x}}\n",
     "presets.soon.where.due.from: 'today+x' is not a date (write 2024-06-30, today, today+30 "
     "or today-7) [bad-value]"),
    ("presets:\n  soon:\n    where: {due: {to: 2024-02-30}}\n",
     "presets.soon.where.due.to: '2024-02-30' is not a date"),
    ("presets:\n  soon:\n    where: {due: {from: today+30, to: today}}\n",
     "presets.soon.where.due.from: 'from' ('today+30') is after 'to' ('today') [bad-value]"),
    ("presets:\n  soon:\n    where: {status: {in: [draft, signd]}}\n",
     "presets.soon.where.status.in: 'signd' is not a value of the field (draft, signed); "
     "did you mean 'signed'? [unknown-value]"),
    ("presets:\n  soon:\n    where: {status: {iss: draft}}\n",
     "presets.soon.where.status.iss: unknown condition 'iss' (use is, in, from, to, empty); "
     "did you mean 'is'? [unknown-key]"),
    ("presets:\n  soon:\n    where: {account: {is: 3}}\n",
     "presets.soon.where.account.is: 'account' is a link field: a preset can only ask "
     "whether it is empty (empty: true or false) [bad-operator]"),
    ("presets:\n  soon:\n    where: {owner: {is: bob}}\n",
     "presets.soon.where.owner.is: a user field takes current_user (the reader), got 'bob' "
     "[bad-value]"),
    ("presets:\n  soon:\n    where: {amount: {from: 10.005}}\n",
     "presets.soon.where.amount.from: '10.005' has more than 2 decimal places [bad-value]"),
    ("presets:\n  soon:\n    where: {qty: {is: many}}\n",
     "presets.soon.where.qty.is: expected a whole number, got 'many' [bad-value]"),
    ("presets:\n  soon:\n    where: {done: {in: [true]}}\n",
     "presets.soon.where.done.in: 'done' is a bool field: use is [bad-operator]"),
    ("presets:\n  soon:\n    where: {tags: {empty: true}}\n",
     "presets.soon.where.tags: 'tags' is a many field: a preset filters on the record's own "
     "values [bad-ref]"),
    ("presets:\n  soon:\n    where: {due: {is: today, from: today}}\n",
     "presets.soon.where.due: 'due' has is and from: use one of is, in, empty, or from/to "
     "[bad-value]"),
    ("presets:\n  soon:\n    label: Soon\n",
     "presets.soon: preset 'soon' needs 'where' (the fields it filters) [missing-key]"),
    ("presets:\n  Soon:\n    where: {done: true}\n",
     "presets.Soon: preset name 'Soon' must be lowercase letters, digits and underscores "
     "[bad-name]"),
]


@pytest.mark.parametrize(("extra", "expected"), BAD_PRESETS)
def test_preset_compile_errors(tmp_path: Path, extra: str, expected: str) -> None:
    """covers: S16(a bad preset is refused with file:line: unknown fields, operators that do
    not fit the field's type, bad dates and values)"""
    errors = errors_for(tmp_path, extra)
    assert any(expected in e for e in errors), errors


def test_good_forms_compile(tmp_path: Path) -> None:
    """covers: S16(the short forms, relative dates, empty, system dates and a single rule
    compile)"""
    write_tree(tmp_path, {**FILES, "entities/thing.yaml": THING + """highlight:
  when: "done"
  style: success
presets:
  mine: {where: {owner: current_user, done: false}}
  open: {where: {status: [draft, signed], due: {from: today-7}, amount: {from: 0, to: 99.5}}}
  recent: {where: {created_at: {from: today-7}, at: {is: 2024-06-30}, account: {empty: false}}}
"""})
    registry, errors = check_schema_dir(tmp_path, display_base=tmp_path)
    assert errors == [] and registry is not None
    presets = registry.feature("presets", "thing").presets
    assert list(presets) == ["mine", "open", "recent"]
    assert presets["open"].label.get("en") == "Open"
    assert [c.op for c in presets["open"].where] == ["in", "range", "range"]
    assert len(registry.feature("highlight", "thing").rules) == 1


def test_json_schema_covers_the_features(tmp_path: Path) -> None:
    """covers: PL1(the exported JSON Schema accepts the test schema's highlight and presets and
    rejects a bad style or operator)"""
    import jsonschema

    from portal.spec.jsonschema_export import language_json_schema
    from portal.spec.loader import load_text

    validator = jsonschema.Draft202012Validator(language_json_schema())
    for name in ("entities/contract.yaml", "entities/instalment.yaml"):
        docs, errors = load_text(FILES[name], name)
        assert errors == [] and list(validator.iter_errors(docs[0].data)) == [], name
    for bad in ('highlight:\n  - {when: "done", style: red}\n',
                "presets:\n  soon:\n    where: {due: {after: today}}\n"):
        docs, _ = load_text(THING + bad, "thing.yaml")
        assert list(validator.iter_errors(docs[0].data)), bad


# -- data -------------------------------------------------------------------------------------

@pytest.fixture
def portal(tmp_path: Path, make_portal: Any, backend: str) -> Any:
    app = make_portal(write_list_features_schema(tmp_path / "schema"), backend=backend)
    for name, roles in (("ann", ["rep"]), ("ray", ["rep"]), ("bo", ["boss"]),
                        ("pia", ["peek"])):
        add_user(app, name, roles)
    return app


def new(api: ApiUser, entity: str, **values: Any) -> int:
    resp = api.post(f"/api/v1/{entity}/", values)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()["id"]


def seed(app: Any) -> dict[str, int]:
    """Contracts around today (name: who, status, delivery in days, account, amount)."""
    bo, ann, ray = ApiUser(app, "bo"), ApiUser(app, "ann"), ApiUser(app, "ray")
    accounts = {"acme": new(bo, "account", name="Acme", grade="A"),
                "beta": new(bo, "account", name="Beta", grade="C")}
    ids = {}
    for name, who, status, days, account, amount in (
            ("late", ann, "signed", -3, "beta", "500.00"),      # red: delivery past
            ("soon", ann, "signed", 10, "beta", "2000.00"),     # within 30 days
            ("edge", ann, "signed", 30, None, "10.00"),         # the 30th day counts
            ("today", ann, "signed", 0, "beta", "10.00"),       # today counts, is not late
            ("draftsoon", ann, "draft", 5, "beta", "10.00"),    # not signed
            ("far", ann, "signed", 31, "acme", "10.00"),        # green: an A account
            ("closedlate", ann, "closed", -10, "acme", "1500.00"),  # closed: green, not red
            ("latekey", ann, "signed", -1, "acme", "10.00"),    # both rules: the first wins
            ("raylate", ray, "signed", -2, "beta", "10.00"),    # another rep's
            ("nodate", bo, "signed", None, None, "10.00")):     # no date: no highlight
        values = {"name": name, "status": status, "amount": amount}
        if days is not None:
            values["delivery_date"] = day(days)
        if account is not None:
            values["account"] = accounts[account]
        ids[name] = new(who, "contract", **values)
    return ids


def rows(api: ApiUser, query: str = "", entity: str = "contract") -> dict[str, Any]:
    """name -> highlight of the rows the REST list answers (every page)."""
    sep = "&" if "?" in query else "?"
    resp = api.get(f"/api/v1/{entity}/{query}{sep}q=(page_size:100)"
                   if "q=" not in query else f"/api/v1/{entity}/{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return {r.get("name") or r.get("title"): r.get("highlight", "absent")
            for r in resp.get_json()["result"]}


DANGER = {"style": "danger", "label": "Late delivery"}
SUCCESS = {"style": "success", "label": "Key account"}


# -- REST ---------------------------------------------------------------------------------------

def test_rest_list_and_item_carry_the_highlight(portal: Any) -> None:
    """covers: F2(a past-due record is marked danger in the REST list and item; the first
    matching rule wins; rules read link paths and today)"""
    ids = seed(portal)
    bo = ApiUser(portal, "bo")
    assert rows(bo) == {
        "late": DANGER, "soon": None, "edge": None, "today": None, "draftsoon": None,
        "far": SUCCESS, "closedlate": SUCCESS, "latekey": DANGER, "raylate": DANGER,
        "nodate": None}
    # the rep's list: only their records, highlighted the same way
    assert rows(ApiUser(portal, "ann")) == {
        "late": DANGER, "soon": None, "edge": None, "today": None, "draftsoon": None,
        "far": SUCCESS, "closedlate": SUCCESS, "latekey": DANGER}
    item = bo.get(f"/api/v1/contract/{ids['late']}").get_json()["result"]
    assert item["highlight"] == DANGER
    plain = bo.get(f"/api/v1/contract/{ids['soon']}").get_json()["result"]
    assert "highlight" in plain and plain["highlight"] is None
    # a page of two: highlights follow their rows
    resp = bo.get("/api/v1/contract/?q=(order_column:name,order_direction:asc,page:0,"
                  "page_size:2)")
    assert [(r["name"], r["highlight"]) for r in resp.get_json()["result"]] == [
        ("closedlate", SUCCESS), ("draftsoon", None)]
    # the row path's select_columns fallback (FAB's own list) carries it too
    resp = bo.get("/api/v1/contract/?q=(columns:!(name,status),page_size:100)")
    assert {r["name"]: r["highlight"] for r in resp.get_json()["result"]}["late"] == DANGER
    # an entity without highlight rules: no key at all
    accounts = bo.get("/api/v1/account/").get_json()["result"]
    assert accounts and all("highlight" not in r for r in accounts)


def test_rules_reading_hidden_fields_are_not_the_readers(portal: Any) -> None:
    """covers: F2(a reader who may not see the delivery date does not get the rule reading it:
    the row's colour would tell the hidden value)"""
    seed(portal)
    pia = rows(ApiUser(portal, "pia"))
    assert pia["late"] is None and pia["raylate"] is None
    assert pia["latekey"] == SUCCESS and pia["closedlate"] == SUCCESS


def test_rest_presets(portal: Any) -> None:
    """covers: S16(filter by delivery within 30 days: from/to inclusive with today+N, in a
    list of statuses; with FAB's filters, paging and the reader's scope; unknown preset 400)"""
    seed(portal)
    bo, ann, ray = ApiUser(portal, "bo"), ApiUser(portal, "ann"), ApiUser(portal, "ray")
    assert set(rows(bo, "?preset=delivery_30d")) == {"soon", "edge", "today"}
    assert set(rows(bo, "?preset=mine")) == {"nodate"}
    assert set(rows(ann, "?preset=mine")) == {"late", "soon", "edge", "today", "draftsoon",
                                               "far", "closedlate", "latekey"}
    assert set(rows(ray, "?preset=delivery_30d")) == set()  # ann's are not ray's to read
    assert set(rows(bo, "?preset=no_account")) == {"edge", "nodate"}
    assert set(rows(bo, "?preset=big")) == {"soon", "closedlate"}
    # combined with FAB's own filters, and counted before paging
    flt = quote("(filters:!((col:name,opr:sw,value:e)),page_size:100)")
    assert set(rows(bo, f"?preset=delivery_30d&q={flt}")) == {"edge"}
    resp = bo.get("/api/v1/contract/?preset=delivery_30d&q=(page:0,page_size:1)")
    assert resp.get_json()["count"] == 3 and len(resp.get_json()["result"]) == 1
    # an unknown preset names the known ones
    bad = bo.get("/api/v1/contract/?preset=delivery_3Od")
    assert bad.status_code == 400
    assert bad.get_json()["message"] == (
        "preset: unknown preset 'delivery_3Od' of 'contract' (known: delivery_30d, mine, "
        "no_account, big)")
    # a preset reading a field hidden from the reader is not theirs
    pia = ApiUser(portal, "pia")
    refused = pia.get("/api/v1/contract/?preset=big")
    assert refused.status_code == 400
    assert "(known: mine, no_account)" in refused.get_json()["message"]
    # the REST export takes the preset too
    csv_text = bo.get("/api/v1/contract/export/csv?preset=delivery_30d").get_data(
        as_text=True)
    names = {r[1] for r in list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))[1:]}
    assert names == {"soon", "edge", "today"}
    assert bo.get("/api/v1/contract/export/csv?preset=nope").status_code == 400


def test_openapi_documents_the_preset_parameter(portal: Any) -> None:
    """covers: S16(the REST list's preset parameter is documented with its names)"""
    add_user(portal, "admin", ["Admin"])
    spec = ApiUser(portal, "admin").get("/api/v1/_openapi").get_json()
    params = spec["paths"]["/api/v1/contract/"]["get"]["parameters"]
    preset = next(p for p in params if p["name"] == "preset")
    assert preset["schema"]["enum"] == ["delivery_30d", "mine", "no_account", "big"]
    assert any(p["name"] == "q" for p in params)


# -- screens ----------------------------------------------------------------------------------

ROW = re.compile(r"<tr(?P<attrs>[^>]*)>(?P<body>.*?)</tr>", re.S)


def screen_rows(html: str, names: set[str]) -> dict[str, str | None]:
    """name -> the row's highlight style (None for a plain row) on a list page."""
    found: dict[str, str | None] = {}
    for match in ROW.finditer(html):
        body = match.group("body")
        for name in names:
            if re.search(rf">\s*{name}\s*<", body):
                style = re.search(r'data-highlight="(\w+)"', match.group("attrs"))
                found[name] = style.group(1) if style else None
    return found


def preset_buttons(html: str) -> list[tuple[str, str, str]]:
    """(preset, button class, href) of each preset button on a list page."""
    return [(name, kind, href) for href, kind, name in re.findall(
        r'<a href="([^"]*)" class="btn btn-sm (btn-\w+)[^"]*portal-preset"\s*'
        r'data-preset="(\w+)"', html)]


def test_list_screen_rows_and_presets(portal: Any) -> None:
    """covers: F2(a past-due contract's row is red on the list, its label shown) S16(preset
    buttons narrow the list in SQL, combine with the search box, the active one pressed)"""
    ids = seed(portal)
    names = set(ids)
    web = WebUser(portal, "bo")
    page = web.get("/contract/list/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert screen_rows(html, names) == {
        "late": "danger", "soon": None, "edge": None, "today": None, "draftsoon": None,
        "far": "success", "closedlate": "success", "latekey": "danger", "raylate": "danger",
        "nodate": None}
    assert '<tr class="danger portal-highlight" data-highlight="danger" title="Late delivery">' \
        in html
    assert 'portal-highlight-label">Late delivery</span>' in html
    assert [(name, kind) for name, kind, _ in preset_buttons(html)] == [
        ("delivery_30d", "btn-default"), ("mine", "btn-default"), ("no_account", "btn-default"),
        ("big", "btn-default")]
    narrowed = web.get("/contract/list/?preset=delivery_30d").get_data(as_text=True)
    assert set(screen_rows(narrowed, names)) == {"soon", "edge", "today"}
    assert re.search(r'btn-primary active portal-preset"\s*data-preset="delivery_30d"', narrowed)
    # the search box and FAB's filter form keep the preset
    assert '<input type="hidden" name="preset" value="delivery_30d">' in narrowed
    assert 'name="preset" value="delivery_30d" form="filter_form"' in narrowed
    searched = web.get("/contract/list/?preset=delivery_30d&_q=ed").get_data(as_text=True)
    assert set(screen_rows(searched, names)) == {"edge"}
    # a button keeps the search and drops the page; the active one turns the preset off
    paged = web.get("/contract/list/?preset=mine&_q=ed&page_View_contract=1")
    links = {name: href for name, _, href in preset_buttons(paged.get_data(as_text=True))}
    assert links["delivery_30d"] == "/contract/list/?_q=ed&amp;preset=delivery_30d"
    assert links["mine"] == "/contract/list/?_q=ed"
    # FAB's own filter (status) with a preset
    flt = web.get("/contract/list/?preset=no_account&_flt_0_status=signed").get_data(
        as_text=True)
    assert set(screen_rows(flt, names)) == {"edge", "nodate"}
    assert web.get("/contract/list/?preset=nope").status_code == 400
    # the export of the list as shown
    exported = web.get("/contract/export/csv?preset=delivery_30d").get_data(as_text=True)
    assert {r[1] for r in list(csv.reader(io.StringIO(exported.lstrip("\ufeff"))))[1:]} == \
        {"soon", "edge", "today"}
    # the record page: the label as a badge
    show = web.get(f"/contract/show/{ids['late']}").get_data(as_text=True)
    assert '<span class="label label-danger">Late delivery</span>' in show
    plain = web.get(f"/contract/show/{ids['soon']}").get_data(as_text=True)
    assert "portal-highlight-badge" not in plain


def test_screens_per_reader_and_language(portal: Any) -> None:
    """covers: F2 S16(the observer gets neither the rule nor the presets reading fields hidden
    from them; labels in the reader's language)"""
    ids = seed(portal)
    pia = WebUser(portal, "pia")
    html = pia.get("/contract/list/").get_data(as_text=True)
    assert screen_rows(html, set(ids))["late"] is None
    assert re.findall(r'data-preset="(\w+)"', html) == ["mine", "no_account"]
    assert pia.get("/contract/list/?preset=delivery_30d").status_code == 400
    web = WebUser(portal, "bo")
    web.get("/lang/zh_CN")
    html = web.get("/contract/list/").get_data(as_text=True)
    assert ">30天内交付</a>" in html and 'title="逾期交付"' in html
    show = web.get(f"/contract/show/{ids['far']}").get_data(as_text=True)
    assert '<span class="label label-success">重点客户</span>' in show


def test_instalments_past_due_show_red(portal: Any) -> None:
    """covers: F2(a past-due instalment with money outstanding shows red; one paid in full
    does not; one due today is amber; the preset lists what is due by today)"""
    bo = ApiUser(portal, "bo")
    for title, due, amount, received in (("past", -1, "100.00", "40.00"),
                                         ("paid", -5, "100.00", "100.00"),
                                         ("due", 0, "50.00", "0.00"),
                                         ("later", 9, "50.00", "0.00")):
        new(bo, "instalment", title=title, due_date=day(due), amount=amount,
            received=received)
    assert rows(bo, entity="instalment") == {
        "past": {"style": "danger", "label": "Overdue"}, "paid": None,
        "due": {"style": "warning", "label": "Due today"}, "later": None}
    assert set(rows(bo, "?preset=open", entity="instalment")) == {"past", "paid", "due"}
    html = WebUser(portal, "bo").get("/instalment/list/").get_data(as_text=True)
    assert screen_rows(html, {"past", "paid", "due", "later"}) == {
        "past": "danger", "paid": None, "due": "warning", "later": None}


# -- browser ----------------------------------------------------------------------------------

@pytest.mark.browser
def test_browser_red_row_and_preset_button(tmp_path: Path, make_portal: Any) -> None:
    """covers: F2(the late contract's row is red in a real browser) S16(clicking the preset
    button narrows the list to deliveries within 30 days, the button pressed)"""
    from browser_support import (
        ARTIFACTS,
        CHROMIUM,
        CHROMIUM_ARGS,
        login_page,
        require_browser,
        serving,
    )

    require_browser()
    from playwright.sync_api import expect, sync_playwright

    app = make_portal(write_list_features_schema(tmp_path / "schema"))
    for name, roles in (("ann", ["rep"]), ("ray", ["rep"]), ("bo", ["boss"])):
        add_user(app, name, roles)
    seed(app)
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with serving(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = login_page(browser, base, "bo", width=1400)
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(f"{base}/contract/list/")
            late = page.locator("tr", has=page.locator("td", has_text=re.compile(r"^late$")))
            expect(late).to_have_class(re.compile(r"\bdanger\b"))
            def background(name: str) -> str:
                row = page.locator("tr", has=page.locator("td", has_text=re.compile(
                    rf"^{name}$")))
                return row.locator("td").nth(1).evaluate(
                    "el => getComputedStyle(el).backgroundColor")

            assert background("late") == "rgb(242, 222, 222)"  # Bootstrap's danger: light red
            assert background("soon") != background("late")
            assert background("far") == "rgb(223, 240, 216)"  # success: light green
            expect(late.locator(".portal-highlight-label")).to_have_text("Late delivery")
            expect(page.locator("tbody tr")).to_have_count(10)
            page.screenshot(path=str(ARTIFACTS / "list-highlight.png"), full_page=True)

            page.locator(".portal-preset[data-preset=delivery_30d]").click()
            page.wait_for_load_state("load")
            expect(page.locator(".portal-preset[data-preset=delivery_30d]")).to_have_class(
                re.compile(r"\bactive\b"))
            listed = page.locator("tbody tr td:nth-child(2)")
            expect(listed).to_have_count(3)
            assert sorted(listed.all_inner_texts()) == ["edge", "soon", "today"]
            assert "preset=delivery_30d" in page.url
            page.screenshot(path=str(ARTIFACTS / "list-preset.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
