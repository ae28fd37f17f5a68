"""Importing files: the Maven CRM dataset through the project's own mappings (counts and sums
checked against the CSV), dry-run reports on broken files, all or nothing, guessed columns
from Chinese labels, XLSX, and bad mappings. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, SHIPPED_SCHEMAS, ApiUser, add_user, write_tree
from sqlalchemy import func, select

MAVEN = ROOT.parent / "shared" / "datasets" / "maven-crm"


def portal_import(app: Any, *args: str) -> Any:
    """``portal import ...`` through the real command; the result (exit code, output)."""
    return app.test_cli_runner().invoke(args=["portal", "import", *args])


def count(app: Any, entity: str, *where: Any) -> int:
    with app.app_context():
        model = app.extensions["portal"].models.classes[entity]
        return app.appbuilder.session.execute(
            select(func.count()).select_from(model).where(*where)).scalar()


@pytest.fixture
def shipped(make_portal: Any, backend: str) -> Any:
    return make_portal(SHIPPED_SCHEMAS, backend=backend)


def test_maven_crm_imports_with_its_mappings(shipped: Any) -> None:
    """covers: PL8(the Maven CRM dataset into users, products, customers and opportunities
    through saved mappings; dirty rows mapped, none dropped; counts and sums as in the CSV)"""
    if not MAVEN.is_dir():
        pytest.skip(f"the Maven CRM dataset is not at {MAVEN}")
    steps = [("user", "sales_teams.csv", "maven_sales_managers"),
             ("user", "sales_teams.csv", "maven_sales_agents"),
             ("product", "products.csv", "maven_products"),
             ("customer", "accounts.csv", "maven_accounts"),
             ("customer", "accounts.csv", "maven_account_parents"),
             ("opportunity", "sales_pipeline.csv", "maven_pipeline")]
    for entity, name, mapping in steps:
        dry = portal_import(shipped, entity, str(MAVEN / name), "--mapping", mapping)
        assert dry.exit_code == 0, dry.output
        assert "would import" in dry.output
        done = portal_import(shipped, entity, str(MAVEN / name), "--mapping", mapping,
                             "--apply")
        assert done.exit_code == 0, done.output
    pipeline = list(csv.DictReader((MAVEN / "sales_pipeline.csv").open(encoding="utf-8")))
    teams = list(csv.DictReader((MAVEN / "sales_teams.csv").open(encoding="utf-8")))
    accounts = list(csv.DictReader((MAVEN / "accounts.csv").open(encoding="utf-8")))
    rt = shipped.extensions["portal"]
    opp = rt.models.classes["opportunity"]
    line = rt.models.classes["opportunity_line"]
    product = rt.models.classes["product"]
    customer = rt.models.classes["customer"]
    with shipped.app_context():
        session = shipped.appbuilder.session
        from portal.system_models import PortalUser

        names = {f"{u.first_name} {u.last_name}": u for u in session.scalars(select(PortalUser))}
        people = {r["sales_agent"] for r in teams} | {r["manager"] for r in teams}
        assert people <= set(names)
        assert {r.name for r in names[teams[0]["sales_agent"]].roles} == {"sales_rep"}
        assert names[teams[0]["sales_agent"]].manager is names[teams[0]["manager"]]
        assert names[teams[0]["sales_agent"]].department.name == teams[0]["regional_office"]
        assert session.execute(select(func.count()).select_from(product)).scalar() == 7
        assert session.execute(select(func.count()).select_from(customer)).scalar() == \
            len(accounts)
        assert session.execute(select(func.count()).select_from(customer).where(
            customer.parent_id.is_not(None))).scalar() == \
            sum(1 for a in accounts if a["subsidiary_of"])
        assert session.execute(select(func.count()).select_from(customer).where(
            customer.sector == "technology")).scalar() == \
            sum(1 for a in accounts if a["sector"] == "technolgy")
        assert session.execute(select(func.count()).select_from(opp)).scalar() == len(pipeline)
        stages = Counter(dict(session.execute(select(opp.stage, func.count())
                                              .group_by(opp.stage)).all()))
        # Maven's four stages on the eight-stage funnel (schemas/imports/maven/pipeline.yaml)
        funnel = {"Won": "collected", "Lost": "lost", "Engaging": "found", "Prospecting": "met"}
        assert stages == Counter(funnel[r["deal_stage"]] for r in pipeline)
        won = session.execute(select(func.sum(opp.amount)).where(
            opp.stage == "collected")).scalar()
        assert Decimal(won) == sum(Decimal(r["close_value"]) for r in pipeline
                                   if r["deal_stage"] == "Won")
        assert session.execute(select(func.count()).select_from(opp).where(
            opp.customer_id.is_(None))).scalar() == sum(1 for r in pipeline if not r["account"])
        by_product = Counter(dict(session.execute(
            select(product.name, func.count()).join(line, line.product_id == product.id)
            .group_by(product.name)).all()))
        expected = Counter("GTX Pro" if r["product"] == "GTXPro" else r["product"]
                           for r in pipeline)
        assert by_product == expected
        first = pipeline[0]
        record = session.scalars(select(opp).where(opp.name == first["opportunity_id"])).one()
        day, month, year = first["close_date"].split("-")
        assert record.close_date == dt.date(2000 + int(year), int(month), int(day))
        assert record.owner_id == names[first["sales_agent"]].id
    # the import is audited like any change, and a second run changes nothing
    again = portal_import(shipped, "opportunity", str(MAVEN / "sales_pipeline.csv"),
                          "--mapping", "maven_pipeline", "--apply")
    assert again.exit_code == 0 and "0 created, 0 updated" in again.output


BROKEN = """name,grade,credit_limit,phone,year_established,parent
Acme,A,"1,200.50",021-1,1999,
Beta,Z,100,021-2,1990,
Gamma,B,12.345,021-3,19x9,
,C,5,021-4,2000,
Acme,B,7,021-5,2001,Nowhere Ltd
"""


def test_dry_run_reports_every_problem_by_row_and_column(shipped: Any, tmp_path: Path) -> None:
    """covers: PL8(dry run: bad enum, too many decimals, not a number, missing required,
    duplicate in the file, unknown reference; nothing written; all or nothing on apply)"""
    add_user(shipped, "rep", ["sales_rep"])
    ApiUser(shipped, "rep").post("/api/v1/customer/", {"name": "Existing"})
    path = write_tree(tmp_path, {"broken.csv": BROKEN}) / "broken.csv"
    result = portal_import(shipped, "customer", str(path))
    assert result.exit_code == 1
    out = result.output
    assert "row 3, column 'grade' (grade): 'Z': 'Z' is not one of A, B, C" in out
    assert "row 4, column 'credit_limit' (credit_limit): '12.345': '12.345' has more than 2 " \
           "decimal places" in out
    assert "row 4, column 'year_established' (year_established): '19x9': '19x9' is not a " \
           "whole number" in out
    assert "row 5 (name): a value is required" in out
    assert "row 6 (name): 'Acme': also on row 2; it must be unique" in out
    assert "row 6, column 'parent' (parent): 'Nowhere Ltd': no customer called 'Nowhere Ltd'" \
        in out
    assert "6 problem(s); nothing was written" in out
    applied = portal_import(shipped, "customer", str(path), "--apply")
    assert applied.exit_code == 1 and "nothing was written" in applied.output
    assert count(shipped, "customer") == 1  # only the record made through the API
    fixed = BROKEN.splitlines()[:2] + ["Existing,B,1,021-9,2001,Acme"]
    path.write_text("\n".join(fixed) + "\n", encoding="utf-8")
    clash = portal_import(shipped, "customer", str(path), "--apply")
    assert "row 3 (name): 'Existing': already used by customer #1; it must be unique" \
        in clash.output
    path.write_text("\n".join(fixed[:2] + ["Delta,B,1,021-9,2001,Existing"]) + "\n",
                    encoding="utf-8")
    done = portal_import(shipped, "customer", str(path), "--apply", "--as", "rep")
    assert done.exit_code == 0, done.output
    assert "imported 2 row(s) into customer; 2 created" in done.output
    rep = ApiUser(shipped, "rep")
    mine = {r["name"]: r for r in rep.get("/api/v1/customer/").get_json()["result"]}
    assert set(mine) == {"Existing", "Acme", "Delta"}  # created by rep: in rep's own scope
    history = rep.get(f"/api/v1/customer/{mine['Acme']['id']}/history").get_json()["result"]
    assert history[0]["action"] == "create" and history[0]["username"] == "rep"
    assert history[0]["changes"]["credit_limit"] == [None, "1200.50"]


def test_columns_are_guessed_from_labels_in_any_language(shipped: Any, tmp_path: Path) -> None:
    """covers: PL8(column mapping guessed from the field labels, Chinese included; a GB18030
    CSV as Excel writes it; XLSX)"""
    text = "客户名称,客户分级,电话,备注\n北京精密,A,010-1,老客户\n上海仪器,B,021-2,\n"
    path = tmp_path / "customers.csv"
    path.write_bytes(text.encode("gb18030"))
    done = portal_import(shipped, "customer", str(path), "--apply")
    assert done.exit_code == 0, done.output
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Name", "Grade", "Credit limit", "Year established"])
    sheet.append(["Tokyo Seiki", "C", 2500.5, 1987])
    book.save(tmp_path / "more.xlsx")
    done = portal_import(shipped, "customer", str(tmp_path / "more.xlsx"), "--apply")
    assert done.exit_code == 0, done.output
    customer = shipped.extensions["portal"].models.classes["customer"]
    with shipped.app_context():
        rows = {c.name: c for c in shipped.appbuilder.session.scalars(select(customer))}
    assert rows["北京精密"].grade == "A" and rows["北京精密"].notes == "老客户"
    assert rows["Tokyo Seiki"].credit_limit == Decimal("2500.50")
    assert rows["Tokyo Seiki"].year_established == 1987


def test_bad_mappings_are_refused_with_their_place(shipped: Any, tmp_path: Path) -> None:
    """covers: PL8(a mapping file is checked like every definition: unknown fields, bad date
    formats, a column the file lacks)"""
    mapping = write_tree(tmp_path, {"m.yaml": (
        "import: custom\nentity: opportunity\ncolumns:\n  Deal: name\n  Stage: stag\n"
        "  When: close_date\nformats:\n  close_date: quarterly\n")}) / "m.yaml"
    data = write_tree(tmp_path, {"d.csv": "Deal,When\nX,2024-01-01\n"}) / "d.csv"
    result = portal_import(shipped, "opportunity", str(data), "--mapping", str(mapping))
    assert result.exit_code == 1
    assert "m.yaml:5:10: columns.Stage: unknown field 'stag' of 'opportunity'; did you mean " \
           "'stage'? [unknown-field]" in result.output
    assert "formats.close_date: 'quarterly' is not a date format" in result.output
    good = write_tree(tmp_path, {"g.yaml": (
        "import: custom\nentity: opportunity\ncolumns:\n  Deal: name\n  Stage: stage\n")})
    result = portal_import(shipped, "opportunity", str(data), "--mapping",
                           str(good / "g.yaml"))
    assert "the mapping's column 'Stage' is not in the file (its columns: Deal, When)" \
        in result.output
    wrong = portal_import(shipped, "invoice", str(data))
    assert wrong.exit_code == 1 and "unknown entity 'invoice'" in wrong.output


def test_export_then_import_gives_the_same_data(make_portal: Any, backend: str,
                                                tmp_path: Path) -> None:
    """covers: PL8(round trip: a list exported as CSV and as XLSX imports into another
    portal with the same values, Chinese text, exact money, dates, enums and links)"""
    source = make_portal(SHIPPED_SCHEMAS, backend=backend)
    add_user(source, "director", ["sales_director"])
    api = ApiUser(source, "director")
    parent = api.post("/api/v1/customer/", {"name": "集团总部", "grade": "A"}).get_json()["id"]
    for name, credit, year in (("北京精密", "1234.56", 1999), ("Acme, Inc.", "0.10", 2001)):
        resp = api.post("/api/v1/customer/", {
            "name": name, "grade": "B", "credit_limit": credit, "year_established": year,
            "parent": parent, "notes": "多行\n备注"})
        assert resp.status_code == 201, resp.get_json()
    fields = ("name", "grade", "credit_limit", "year_established", "notes")

    def snapshot(app: Any) -> dict[str, tuple[Any, ...]]:
        customer = app.extensions["portal"].models.classes["customer"]
        with app.app_context():
            rows = app.appbuilder.session.scalars(select(customer)).all()
            names = {c.id: c.name for c in rows}
            return {c.name: (*(getattr(c, f) for f in fields), names.get(c.parent_id))
                    for c in rows}

    expected = snapshot(source)
    for fmt in ("csv", "xlsx"):
        exported = api.get(f"/api/v1/customer/export/{fmt}")
        assert exported.status_code == 200
        path = tmp_path / f"customers.{fmt}"
        path.write_bytes(exported.get_data())
        target = make_portal(SHIPPED_SCHEMAS, backend=backend)
        # parents first (a link names a record that must exist), then everything with a key
        first = portal_import(target, "customer", str(path), "--apply")
        assert first.exit_code == 1 and "no customer called '集团总部'" in first.output
        mapping = write_tree(tmp_path, {f"{fmt}.yaml": (
            "import: round_trip\nentity: customer\nkey: name\ncolumns:\n  Name: name\n")})
        names_only = portal_import(target, "customer", str(path), "--mapping",
                                   str(mapping / f"{fmt}.yaml"), "--apply")
        assert names_only.exit_code == 0, names_only.output
        everything = write_tree(tmp_path, {f"{fmt}-all.yaml": (
            "import: round_trip_all\nentity: customer\nkey: name\ncolumns:\n  Name: name\n"
            "  Grade: grade\n  Credit limit: credit_limit\n  Year established: "
            "year_established\n  Subsidiary of: parent\n  Notes: notes\n")})
        done = portal_import(target, "customer", str(path), "--mapping",
                             str(everything / f"{fmt}-all.yaml"), "--apply")
        assert done.exit_code == 0, done.output
        assert snapshot(target) == expected, fmt
