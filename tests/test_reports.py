"""Reports declared in YAML: compile errors, each use case's numbers against hand-computed data
(SQLite and PostgreSQL), the viewer's scope, hidden fields, CSV and JSON."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import ApiUser, WebUser, add_user, write_tree
from report_schema import FILES, report_schema
from sqlalchemy import update

from portal.spec.compiler import check_schema_dir

T0 = dt.datetime(2024, 1, 1)


# -- compile errors -------------------------------------------------------------------------------

def errors_for(tmp_path: Path, report: str) -> list[str]:
    files = {k: v for k, v in FILES.items() if not k.startswith("reports/")}
    write_tree(tmp_path, {**files, "reports/r.yaml": report})
    registry, errors = check_schema_dir(tmp_path, display_base=tmp_path)
    assert registry is None
    return [str(e) for e in errors]


BASE = "report: r\naccess: [director]\nentity: opportunity\n"


@pytest.mark.parametrize(("body", "expected"), [
    ("report: r\naccess: [director]\nentity: oportunity\ngroup_by: [stage]\n"
     "measures: {n: count}\nchart: bar\n",
     "reports/r.yaml:3:9: entity: unknown entity 'oportunity'; did you mean "
     "'opportunity'? [unknown-ref]"),
    (BASE + "group_by: [stge]\nmeasures: {n: count}\nchart: bar\n",
     "reports/r.yaml:4:12: group_by: unknown field 'stge' of 'opportunity'; did you mean "
     "'stage'? [unknown-field]"),
    (BASE + "group_by: [customer.grde]\nmeasures: {n: count}\nchart: bar\n",
     "group_by: unknown field 'grde' of 'customer'; did you mean 'grade'? [unknown-field]"),
    (BASE + "group_by: [amount.grade]\nmeasures: {n: count}\nchart: bar\n",
     "'amount' of 'opportunity' is a money field, not a link: a path goes through link "
     "fields [bad-ref]"),
    (BASE + "group_by: [{close_date: mnth}]\nmeasures: {n: count}\nchart: bar\n",
     "group_by.close_date: unknown date bucket 'mnth' (use day, week, month, quarter, year); "
     "did you mean 'month'? [bad-value]"),
    (BASE + "group_by: [{stage: month}]\nmeasures: {n: count}\nchart: bar\n",
     "'stage' is a enum field: only dates have buckets [bad-ref]"),
    (BASE + "group_by: [stage]\nmeasures: {n: {sum: name}}\nchart: bar\n",
     "measures.n.sum: cannot sum 'name': a string field is not a number [bad-ref]"),
    (BASE + "group_by: [stage]\nmeasures: {n: {sume: amount}}\nchart: bar\n",
     "measures.n.sume: unknown key 'sume'; did you mean 'sum'? [unknown-key]"),
    (BASE + "group_by: [stage]\nmeasures: {n: {sum: amount / cost}}\nchart: bar\n",
     "'amount / cost' is not arithmetic: use fields, numbers and + - * (ratios are derived "
     "measures) [bad-expression]"),
    (BASE + "group_by: [stage]\nmeasures: {n: {sum: amount, weights: {stage: {wn: 1}}}}\n"
     "chart: bar\n",
     "measures.n.weights.stage.wn: 'wn' is not a value of 'stage'; did you mean 'won'? "
     "[unknown-value]"),
    (BASE + "group_by: [stage]\nmeasures: {n: {sum: amount, weights: {name: {a: 1}}}}\n"
     "chart: bar\n",
     "weights go by the values of an enum field; 'name' is a string [bad-ref]"),
    (BASE + "group_by: [stage]\nmeasures: {deals: count, r: {ratio: [deals, deal]}}\n"
     "chart: bar\n",
     "measures.r.ratio: unknown measure 'deal'; did you mean 'deals'? [unknown-ref]"),
    (BASE + "group_by: [stage]\nmeasures: {n: count}\nchart: {type: pi}\n",
     "chart.type: unknown chart type 'pi' (use bar, stacked_bar, line, pie, pareto, funnel, "
     "tiles); did you mean 'pie'? [bad-value]"),
    (BASE + "group_by: [stage]\nmeasures: {deals: count}\n"
     "chart: {type: bar, measures: [deal]}\n",
     "chart.measures: unknown measure 'deal'; did you mean 'deals'? [unknown-ref]"),
    (BASE + "group_by: [stage, owner]\nmeasures: {n: count}\nchart: pie\n",
     "chart.type: a pie chart needs exactly one group_by dimension [bad-value]"),
    (BASE + "group_by: [stage]\nmeasures: {n: count}\n",
     "missing required key 'chart' (its type and the measures it plots) [missing-key]"),
    (BASE + "group_by: [stage]\nmeasures: {n: count}\nchart: bar\nlimt: 3\n",
     "limt: unknown key 'limt'; did you mean 'limit'? [unknown-key]"),
    (BASE + "where: stage === 'won'\ngroup_by: [stage]\nmeasures: {n: count}\nchart: bar\n",
     "where: invalid condition at column"),
    (BASE + "where: \"stag == 'won'\"\ngroup_by: [stage]\nmeasures: {n: count}\nchart: bar\n",
     "where: unknown field 'stag' of 'opportunity'; did you mean 'stage'? [unknown-field]"),
    (BASE + "filters: [clse_date]\ngroup_by: [stage]\nmeasures: {n: count}\nchart: bar\n",
     "filters: unknown field 'clse_date' of 'opportunity'; did you mean 'close_date'? "
     "[unknown-field]"),
    ("report: r\naccess: [directr]\nentity: opportunity\ngroup_by: [stage]\n"
     "measures: {n: count}\nchart: bar\n",
     "access: unknown role 'directr'; did you mean 'director'? [unknown-ref]"),
    ("report: r\naccess: [clerk]\nentity: opportunity\ngroup_by: [stage]\n"
     "measures: {n: {sum: amount}}\nchart: bar\n",
     "measures.n: role 'clerk' does not see 'amount' of 'opportunity', so it cannot open a "
     "report on it [hidden-field]"),
    ((BASE + "history: true\ngroup_by: [rep]\nmeasures: {n: count}\nchart: bar\n")
     .replace("opportunity", "quota"),
     "history: 'quota' has no workflow: there is no state history to report on [bad-ref]"),
    ("report: r\naccess: [director]\nseries:\n"
     "  a: {entity: quota, group_by: [rep], measures: {q: {sum: amount}}}\n"
     "  b: {entity: opportunity, group_by: [{close_date: month}], measures: {w: count}}\n"
     "chart: bar\n",
     "series.b.group_by: 'close_date' (date by month) does not match 'rep' (user to user) of "
     "series 'a' [dimension-mismatch]"),
    ("report: r\naccess: [director]\nentity: quota\nseries:\n"
     "  a: {entity: quota, group_by: [rep], measures: {q: {sum: amount}}}\nchart: bar\n",
     "entity: 'entity' goes inside each series when the report has series [bad-key]"),
])
def test_compile_errors(tmp_path: Path, body: str, expected: str) -> None:
    """covers: PL1(every bad report key, field, path, measure and chart is a positioned error
    with a code and a did-you-mean)"""
    errors = errors_for(tmp_path, body)
    assert any(expected in e for e in errors), errors


def test_duplicate_report_names(tmp_path: Path) -> None:
    """covers: PL1(two reports with one name)"""
    files = {k: v for k, v in FILES.items() if not k.startswith("reports/")}
    body = BASE + "group_by: [stage]\nmeasures: {n: count}\nchart: bar\n"
    write_tree(tmp_path, {**files, "reports/a.yaml": body, "reports/b.yaml": body})
    _, errors = check_schema_dir(tmp_path, display_base=tmp_path)
    assert [e.code for e in errors] == ["duplicate-report"]


# -- data -----------------------------------------------------------------------------------------

def make_data(app: Any) -> dict[str, Any]:
    """The hand-computed data set (see each test for its expected numbers)."""
    ids = {name: add_user(app, name, roles) for name, roles in (
        ("rep1", ["rep"]), ("rep2", ["rep"]), ("boss", ["director"]), ("clerk", ["clerk"]))}
    boss, rep1, rep2 = ApiUser(app, "boss"), ApiUser(app, "rep1"), ApiUser(app, "rep2")

    def new(user: ApiUser, entity: str, **values: Any) -> int:
        resp = user.post(f"/api/v1/{entity}/", values)
        assert resp.status_code == 201, resp.get_data(as_text=True)
        return resp.get_json()["id"]

    customers = {name: new(boss, "customer", name=name, grade=grade, owner=ids[owner])
                 for name, grade, owner in (("Acme", "A", "rep1"), ("北方", "B", "rep1"),
                                            ("Cyan", "C", "rep2"), ("Delta", "C", "rep2"))}
    opps: dict[str, int] = {}
    plan = (  # name, who, customer, amount, cost, close date, transitions
        ("O1", rep1, "Acme", "500.00", "200.10", "2024-01-15", ["propose", "win"]),
        ("O2", rep1, "Acme", "300.50", None, "2024-02-10", ["propose", "win"]),
        ("O3", rep1, "北方", "100.25", None, "2024-01-20", ["propose", "win"]),
        ("O4", rep2, "Cyan", "50.00", None, "2024-02-05", ["propose", "win"]),
        ("O5", rep2, "Delta", "49.25", None, "2024-03-01", ["propose", "win"]),
        ("O7", rep1, "Acme", "1000.01", "250.75", "2024-02-20", ["propose"]),
        ("O9", rep2, "Delta", "400.00", None, "2024-01-10", ["lose"]),
    )
    for name, who, customer, amount, cost, close, moves in plan:
        opps[name] = new(who, "opportunity", name=name, customer=customers[customer],
                         amount=amount, cost=cost, close_date=close)
        for move in moves:
            resp = who.post(f"/api/v1/opportunity/{opps[name]}/actions/{move}", {})
            assert resp.status_code == 200, resp.get_data(as_text=True)
    # rep2's deal at a customer of rep1's (rep2 may not read that customer)
    opps["O8"] = new(boss, "opportunity", name="O8", customer=customers["Acme"],
                     amount="200.00", close_date="2024-01-31", owner=ids["rep2"])
    for rep, month, amount in (("rep1", "2024-01-01", "1000.00"),
                               ("rep1", "2024-02-01", "1000.00"),
                               ("rep2", "2024-01-01", "500.00")):
        new(boss, "quota", rep=ids[rep], month=month, amount=amount)
    for who, day, status in (("rep1", "2024-03-04", "planned"), ("rep1", "2024-03-04", "done"),
                             ("rep1", "2024-03-05", "done"), ("rep2", "2024-03-04", "planned")):
        new(boss, "activity", subject="visit", planned=day, status=status, owner=ids[who])
    for competitor, opp in (("华为", "O1"), ("华为", "O9"), ("华为", "O7"), ("Cisco", "O1"),
                            ("Cisco", "O2"), ("Cisco", "O2")):
        new(boss, "encounter", competitor=competitor, opportunity=opps[opp])
    for due, amount, paid, reason in (("2024-01-10", "100.00", False, "cash_flow"),
                                      ("2024-01-20", "50.50", False, "cash_flow"),
                                      ("2024-01-05", "70.00", True, "dispute"),
                                      ("2024-02-01", "20.00", False, "dispute"),
                                      ("2999-01-01", "5.00", False, "forgotten"),
                                      ("2024-01-03", "10.00", None, "forgotten")):
        new(boss, "instalment", due_date=due, amount=amount, paid=paid, reason=reason)
    _fix_times(app)
    return ids


def _fix_times(app: Any) -> None:
    """Every opportunity created at T0; propose at +2 days, win at +5, lose at +3 (the steps
    are the real ones the transitions wrote; only their times are set, to compute by hand)."""
    from portal.runtime import runtime
    from portal.system_models import WorkflowStep

    with app.app_context():
        session = app.appbuilder.session
        model = runtime().models.classes["opportunity"]
        session.execute(update(model).values(created_at=T0))
        for transition, days in (("propose", 2), ("win", 5), ("lose", 3)):
            session.execute(update(WorkflowStep).where(WorkflowStep.transition == transition)
                            .values(at=T0 + dt.timedelta(days=days)))
        session.commit()


@pytest.fixture
def portal(tmp_path: Path, make_portal: Any, backend: str) -> Any:
    app = make_portal(report_schema(tmp_path / "schema"), backend)
    make_data(app)
    return app


def table(api: ApiUser, name: str, query: str = "") -> list[list[Any]]:
    resp = api.get(f"/api/v1/reports/{name}{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    return [[*row["labels"], *(row["values"][m["name"]] for m in body["measures"])]
            for row in body["rows"]]


# -- the use cases --------------------------------------------------------------------------------

def test_pareto_share(portal: Any) -> None:
    """covers: S5(Pareto report: the top 20% of customers and their revenue share)"""
    boss = ApiUser(portal, "boss")
    assert table(boss, "customer_pareto") == [
        ["Acme", "800.50", "0.8005", "0.2500"],
        ["北方", "100.25", "0.9008", "0.5000"],
        ["Cyan", "50.00", "0.9508", "0.7500"],
        ["Delta", "49.25", "1.0000", "1.0000"],
    ]
    summary = boss.get("/api/v1/reports/customer_pareto").get_json()["summary"]
    assert summary == {"measure": "revenue", "top_percent": 20, "rows": 4, "top_rows": 1,
                       "share": "0.8005"}


def test_weighted_forecast_by_month_exact(portal: Any) -> None:
    """covers: S18(weighted forecast: amount x stage probability by month, exact money)"""
    boss = ApiUser(portal, "boss")
    assert table(boss, "weighted_forecast") == [
        ["2024-01", 3, "800.25", "620.25", "299.90"],
        ["2024-02", 3, "1350.51", "900.5055", "749.26"],
        ["2024-03", 1, "49.25", "49.25", "0.00"],
    ]
    # the viewer's filters: a rep, a date range, a linked record's field
    assert table(boss, "weighted_forecast", f"?owner={rep_id(portal, 'rep2')}") == [
        ["2024-01", 1, "200.00", "20.00", "0.00"],
        ["2024-02", 1, "50.00", "50.00", "0.00"],
        ["2024-03", 1, "49.25", "49.25", "0.00"],
    ]
    assert table(boss, "weighted_forecast",
                 "?close_date_from=2024-02-01&close_date_to=2024-02-29") == [
        ["2024-02", 3, "1350.51", "900.5055", "749.26"]]
    # O8 is at an A customer too (prospecting: 200.00 x 0.1)
    assert table(boss, "weighted_forecast", "?customer.grade=A") == [
        ["2024-01", 2, "700.00", "520.00", "299.90"],
        ["2024-02", 2, "1300.51", "850.5055", "749.26"]]


def rep_id(app: Any, name: str) -> int:
    with app.app_context():
        return app.appbuilder.sm.find_user(username=name).id


def test_bad_filters_are_400(portal: Any) -> None:
    """covers: PL5(a bad filter value is a 400 naming the filter and the reason)"""
    boss = ApiUser(portal, "boss")
    for query, field, reason in (
            ("?close_date_from=2024-13-01", "close_date", "is not a date"),
            ("?close_date_from=2024-03-01&close_date_to=2024-01-01", "close_date",
             "ends before it starts"),
            ("?customer.grade=Z", "customer.grade", "'Z' is not one of A, B, C"),
            ("?owner=bob", "owner", "not a whole number")):
        resp = boss.get(f"/api/v1/reports/weighted_forecast{query}")
        assert resp.status_code == 400, query
        assert reason in resp.get_json()["message"][field][0]
    assert boss.get("/api/v1/reports/nothing_here").status_code == 404


def test_quota_attainment_two_series(portal: Any) -> None:
    """covers: S17(monthly quota per rep and attainment: quota vs won per rep per month)"""
    boss = ApiUser(portal, "boss")
    assert table(boss, "quota_attainment") == [
        ["rep1", "2024-01", "1000.00", "600.25", "0.6003"],
        ["rep1", "2024-02", "1000.00", "300.50", "0.3005"],
        ["rep2", "2024-01", "500.00", "0.00", "0.0000"],
        ["rep2", "2024-02", "0.00", "50.00", None],
        ["rep2", "2024-03", "0.00", "49.25", None],
    ]
    # a filter on a shared dimension narrows every series
    assert table(boss, "quota_attainment", "?month_from=2024-02-01&month_to=2024-02-29") == [
        ["rep1", "2024-02", "1000.00", "300.50", "0.3005"],
        ["rep2", "2024-02", "0.00", "50.00", None],
    ]
    # a rep sees their own quota and deals only
    assert table(ApiUser(portal, "rep1"), "quota_attainment") == [
        ["rep1", "2024-01", "1000.00", "600.25", "0.6003"],
        ["rep1", "2024-02", "1000.00", "300.50", "0.3005"],
    ]


def test_funnel_drop_off_and_time_in_stage(portal: Any) -> None:
    """covers: S17(stage-to-stage drop-off) S8(time of entering each stage is kept: time in
    stage from the real workflow transitions)"""
    from portal.engines.reports import run_report
    from portal.runtime import runtime

    with portal.app_context():
        rt = runtime()
        result = run_report(portal.appbuilder.session.connection(), rt.registry,
                            rt.models.classes, rt.registry.reports["stage_funnel"], None,
                            now=T0 + dt.timedelta(days=10), locale="zh_CN")
        names = ["reached", "conversion", "leak", "avg_days", "max_days"]
        rows = [[*r.labels, *(None if r.values[n] is None else str(r.values[n])
                              for n in names)] for r in result.rows]
    # 8 records start in prospecting; 6 were proposed; 5 won; 1 lost from prospecting.
    # Days: prospecting 5 x 2 + 2 (O7) + 10 (O8, still there) + 3 (O9) = 25 / 8 = 3.125
    assert rows == [
        ["初步接触", "8", None, None, "3.13", "10.00"],
        ["方案报价", "6", "0.7500", "0.2500", "3.83", "8.00"],
        ["赢单", "5", "0.8333", "0.1667", "5.00", "5.00"],
        ["输单", "1", "0.2000", "0.8000", "7.00", "7.00"],
    ]


def test_group_by_a_linked_records_field_and_scope(portal: Any) -> None:
    """covers: S3(counts by customer class) PL3(a rep's report covers only the rep's records;
    a linked record the rep may not read shows as empty)"""
    assert table(ApiUser(portal, "boss"), "by_grade") == [
        ["A", 4, 1], ["B", 1, 1], ["C", 3, 2]]
    assert table(ApiUser(portal, "rep1"), "by_grade") == [["A", 3, 1], ["B", 1, 1]]
    assert table(ApiUser(portal, "rep2"), "by_grade") == [["C", 3, 2], ["(none)", 1, 1]]


def test_planned_vs_done_per_rep_per_day(portal: Any) -> None:
    """covers: S14(planned vs done per rep per day)"""
    assert table(ApiUser(portal, "boss"), "planned_vs_done") == [
        ["rep1", "2024-03-04", 2, 1, "0.5000"],
        ["rep1", "2024-03-05", 1, 1, "1.0000"],
        ["rep2", "2024-03-04", 1, 0, "0.0000"],
    ]


def test_competitor_win_loss(portal: Any) -> None:
    """covers: S11(competitor win/loss: opportunities met, won, lost)"""
    assert table(ApiUser(portal, "boss"), "competitor_win_loss") == [
        ["Cisco", 2, 2, 0, "1.0000"],
        ["华为", 3, 1, 1, "0.3333"],
    ]


def test_overdue_items_by_reason(portal: Any) -> None:
    """covers: F2(a report groups overdue items by reason)"""
    assert table(ApiUser(portal, "boss"), "overdue_by_reason") == [
        ["cash_flow", 2, "150.50", "0.8338"],
        ["dispute", 1, "20.00", "0.1108"],
        ["forgotten", 1, "10.00", "0.0554"],
    ]


def test_week_buckets(portal: Any) -> None:
    """covers: S18(date buckets: ISO weeks, in time order)"""
    assert table(ApiUser(portal, "boss"), "buckets") == [
        ["2024-W02", 1], ["2024-W03", 2], ["2024-W05", 1], ["2024-W06", 2], ["2024-W08", 1],
        ["2024-W09", 1]]


def test_access_roles_and_hidden_fields(portal: Any) -> None:
    """covers: PL3(a report opens only for its roles; the clerk who does not see amounts
    cannot open a report on amounts)"""
    clerk = ApiUser(portal, "clerk")
    assert clerk.get("/api/v1/reports/weighted_forecast").status_code == 403
    # the clerk reads every deal but no customer: the grade of each is unknown to them
    assert table(clerk, "by_grade") == [["(none)", 8, 4]]
    assert ApiUser(portal, "rep1").get("/api/v1/reports/stage_funnel").status_code == 403
    web = WebUser(portal, "rep1")
    assert web.get("/reports/stage_funnel").status_code == 403
    index = web.get("/reports/").get_data(as_text=True)
    assert 'data-report="weighted_forecast"' in index
    assert 'data-report="stage_funnel"' not in index


def test_page_and_csv(portal: Any) -> None:
    """covers: S5 S18(the report page: chart as inline SVG, table, CSV with exact money and
    Chinese text)"""
    web = WebUser(portal, "boss")
    page = web.get("/reports/customer_pareto")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    start = body.index('<div class="portal-report-chart">')
    chart = body[start:body.index("</div>", start)]
    # drawn on the server; pygal's own script stays inline: nothing is loaded from outside
    assert "<svg" in chart and "北方" in chart
    assert re.search(r'(href|src)="https?://', chart) is None
    assert "Top 20% (1 of 4) make 80.05% of Revenue." in body
    resp = web.get("/reports/weighted_forecast/csv?close_date_from=2024-02-01")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    text = resp.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows == [["Close date", "Deals", "Pipeline", "Weighted", "Margin"],
                    ["2024-02", "3", "1350.51", "900.5055", "749.26"],
                    ["2024-03", "1", "49.25", "49.25", "0.00"]]
    ratio = web.get("/reports/quota_attainment/csv").get_data().decode("utf-8")
    assert "rep1,2024-01,1000.00,600.25,60.03%" in ratio
    bad = web.get("/reports/weighted_forecast/csv?close_date_from=nope")
    assert bad.status_code == 400
    shown = web.get("/reports/weighted_forecast?close_date_from=nope")
    assert shown.status_code == 400 and "is not a date" in shown.get_data(as_text=True)


def test_json_schema_covers_reports(tmp_path: Path) -> None:
    """covers: PL1(the exported JSON Schema accepts every test report and rejects bad ones)"""
    import jsonschema

    from portal.spec.jsonschema_export import language_json_schema
    from portal.spec.loader import load_text

    schema = language_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for name, body in FILES.items():
        if name.startswith("reports/"):
            docs, errors = load_text(body, name)
            assert errors == [] and list(validator.iter_errors(docs[0].data)) == [], name
    for bad in (BASE + "group_by: [stage]\nmeasures: {n: {sume: amount}}\nchart: bar\n",
                BASE + "group_by: [stage]\nmeasures: {n: count}\nchart: {type: pi}\n",
                BASE + "group_by: [{close_date: mnth}]\nmeasures: {n: count}\nchart: bar\n"):
        docs, _ = load_text(bad, "r.yaml")
        assert list(validator.iter_errors(docs[0].data)), bad
