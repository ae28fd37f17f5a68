"""Report tiles (``chart: tiles``): one tile per group with its label and one measure as a big
number, linking to the entity's list filtered by the group's value when the group is a plain
field of the report's entity; compile errors, the viewer's scope, JSON; SQLite and
PostgreSQL. Entities from tests/report_schema.py, reports written here."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from conftest import ApiUser, WebUser, add_user, write_tree
from report_schema import FILES

from portal.spec.compiler import check_schema_dir

ENTITIES = {k: v for k, v in FILES.items() if not k.startswith("reports/")}

TILES = {
    "reports/tiles_grade.yaml": """
report: customers_by_grade
label: {en: Customers by class, zh_CN: 客户分类}
access: [director, rep]
entity: customer
group_by: [grade]
measures: {customers: count}
chart: tiles
""",
    "reports/tiles_stage.yaml": """
report: pipeline_by_stage
access: [director, rep]
entity: opportunity
group_by: [stage]
measures:
  deals: count
  pipeline: {sum: amount, label: Pipeline}
chart: {type: tiles, measures: [pipeline]}
""",
    "reports/tiles_path.yaml": """
report: deals_by_grade
access: [director]
entity: opportunity
group_by: [customer.grade]
measures: {deals: count}
chart: tiles
""",
    "reports/tiles_empty.yaml": """
report: nothing_won_yet
access: [director]
entity: opportunity
where: "amount > 1000000"
group_by: [stage]
measures: {deals: count}
chart: tiles
""",
}

BASE = "report: r\naccess: [director]\nentity: opportunity\n"


@pytest.mark.parametrize(("body", "expected"), [
    (BASE + "group_by: [stage]\nmeasures: {a: count, b: {sum: amount}}\n"
            "chart: {type: tiles, measures: [a, b]}\n",
     "reports/r.yaml:6:32: chart.measures: a tiles chart plots one measure [bad-value]"),
    (BASE + "group_by: [stage]\nmeasures: {a: count}\nchart: {type: tiles, measures: [b]}\n",
     "reports/r.yaml:6:33: chart.measures: unknown measure 'b' [unknown-ref]"),
    (BASE + "group_by: [stage]\nmeasures: {a: count}\nchart: tile\n",
     "chart.type: unknown chart type 'tile' (use bar, stacked_bar, line, pie, pareto, funnel, "
     "tiles); did you mean 'tiles'? [bad-value]"),
])
def test_compile_errors(tmp_path: Path, body: str, expected: str) -> None:
    """covers: S3(a tiles chart shows one measure; misspelt names are refused with file:line
    and a suggestion)"""
    write_tree(tmp_path, {**ENTITIES, "reports/r.yaml": body})
    registry, errors = check_schema_dir(tmp_path, display_base=tmp_path)
    assert registry is None
    assert any(expected in str(e) for e in errors), [str(e) for e in errors]


def test_json_schema_accepts_tiles() -> None:
    """covers: PL1(the exported JSON Schema knows the tiles chart)"""
    import jsonschema

    from portal.spec.jsonschema_export import language_json_schema
    from portal.spec.loader import load_text

    validator = jsonschema.Draft202012Validator(language_json_schema())
    for name, body in TILES.items():
        docs, errors = load_text(body, name)
        assert errors == [] and list(validator.iter_errors(docs[0].data)) == [], name


@pytest.fixture
def portal(tmp_path: Path, make_portal: Any, backend: str) -> Any:
    app = make_portal(write_tree(tmp_path / "schema", {**ENTITIES, **TILES}), backend)
    ids = {name: add_user(app, name, roles) for name, roles in (
        ("rep1", ["rep"]), ("rep2", ["rep"]), ("boss", ["director"]))}
    boss, rep1, rep2 = ApiUser(app, "boss"), ApiUser(app, "rep1"), ApiUser(app, "rep2")

    def new(user: ApiUser, entity: str, **values: Any) -> int:
        resp = user.post(f"/api/v1/{entity}/", values)
        assert resp.status_code == 201, resp.get_data(as_text=True)
        return resp.get_json()["id"]

    customers = {name: new(boss, "customer", name=name, grade=grade, owner=ids[owner])
                 for name, grade, owner in (("Acme", "A", "rep1"), ("北方", "B", "rep1"),
                                            ("Cyan", "C", "rep2"), ("Delta", "C", "rep2"))}
    for name, who, customer, amount, moves in (
            ("O1", rep1, "Acme", "500.00", ["propose", "win"]),
            ("O2", rep1, "北方", "300.50", ["propose"]),
            ("O3", rep2, "Cyan", "1200.00", []),
            ("O4", rep2, "Delta", "49.25", ["propose", "win"])):
        opp = new(who, "opportunity", name=name, customer=customers[customer], amount=amount)
        for move in moves:
            assert who.post(f"/api/v1/opportunity/{opp}/actions/{move}", {}).status_code == 200
    return app


TILE = re.compile(r'<(a|div) class="portal-tile"(?: href="([^"]*)")?>'
                  r'<span class="portal-tile-value">([^<]*)</span>'
                  r'<span class="portal-tile-label">([^<]*)</span>'
                  r'<span class="portal-tile-measure">([^<]*)</span>')


def tiles(web: WebUser, name: str) -> list[tuple[str, str, str, str | None]]:
    """(label, big number, measure, link or None) of each tile on the report's page."""
    page = web.get(f"/reports/{name}")
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    start = html.index('<div class="portal-report-chart">')
    chart = html[start:html.index('<p><a class="btn btn-sm btn-default portal-report-csv"',
                                  start)]
    assert "<script" not in chart and "<svg" not in chart
    assert re.search(r'(href|src)="https?://', chart) is None  # nothing from outside
    return [(unescape(label), value, measure, unescape(href) if tag == "a" else None)
            for tag, href, value, label, measure in TILE.findall(chart)]


def listed(web: WebUser, url: str, names: set[str]) -> set[str]:
    """Which of ``names`` the list page at ``url`` shows."""
    html = web.get(url).get_data(as_text=True)
    return {n for n in names if re.search(rf"<td>\s*{re.escape(n)}\s*</td>", html)}


def test_tiles_by_class_link_to_the_filtered_list(portal: Any) -> None:
    """covers: S3(dashboard tiles by class: one tile per grade with its count, each opening
    the customer list filtered to that grade; the rep's tiles count only their customers)"""
    boss = WebUser(portal, "boss")
    found = tiles(boss, "customers_by_grade")
    assert [(label, value, measure) for label, value, measure, _ in found] == [
        ("A", "1", "Customers"), ("B", "1", "Customers"), ("C", "2", "Customers")]
    customers = {"Acme", "北方", "Cyan", "Delta"}
    links = {label: link for label, _, _, link in found}
    assert all(link and link.startswith("/customer/list/?_flt_") for link in links.values())
    assert listed(boss, links["A"], customers) == {"Acme"}
    assert listed(boss, links["C"], customers) == {"Cyan", "Delta"}
    rep = WebUser(portal, "rep1")
    assert [(label, value) for label, value, _, _ in tiles(rep, "customers_by_grade")] == [
        ("A", "1"), ("B", "1")]


def test_tiles_show_the_chosen_measure(portal: Any) -> None:
    """covers: S3 S5(a tiles chart of the measure chosen: exact money with grouped digits,
    each stage tile opening the opportunity list of that stage)"""
    boss = WebUser(portal, "boss")
    found = tiles(boss, "pipeline_by_stage")
    assert [(value, measure) for _, value, measure, _ in found] == [
        ("1,200.00", "Pipeline"), ("300.50", "Pipeline"), ("549.25", "Pipeline")]
    deals = {"O1", "O2", "O3", "O4"}
    won = found[2][3]
    assert won is not None and listed(boss, won, deals) == {"O1", "O4"}
    # grouped through a link (customer.grade): plain tiles, no link
    by_grade = tiles(boss, "deals_by_grade")
    assert [(label, value, link) for label, value, _, link in by_grade] == [
        ("A", "1", None), ("B", "1", None), ("C", "2", None)]
    empty = boss.get("/reports/nothing_won_yet").get_data(as_text=True)
    assert 'class="text-muted portal-tiles-empty">No data</p>' in empty


def test_tiles_in_json(portal: Any) -> None:
    """covers: S3(the API gives the chart type and each linked tile's url)"""
    api = ApiUser(portal, "boss")
    body = api.get("/api/v1/reports/customers_by_grade").get_json()
    assert body["chart"] == {"type": "tiles", "measures": ["customers"]}
    assert [(r["labels"], r["values"]["customers"]) for r in body["rows"]] == [
        (["A"], 1), (["B"], 1), (["C"], 2)]
    assert all(r["url"].startswith("/customer/list/?_flt_") for r in body["rows"])
    plain = api.get("/api/v1/reports/deals_by_grade").get_json()
    assert all("url" not in r for r in plain["rows"])
