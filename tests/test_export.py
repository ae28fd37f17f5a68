"""Export of any list as filtered on screen, as CSV and XLSX (``portal.web.export``).

The test-only schema (tests/lowcode.py) is seeded directly (no scope, no API); each export
is parsed back (``csv``, openpyxl) and compared with what the user may read. Runs on SQLite
and, when configured, on PostgreSQL.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from conftest import ApiUser, WebUser, add_user
from sqlalchemy import insert

from portal.system_models import Attachment

#: The visible columns of a gadget for a user who sees every field (children left out).
ALL_HEADERS = ["Id", "Ref", "Name", "Colour", "Size", "Price", "Cost", "Weight", "Stock",
               "Released", "Active", "Contact", "Hotline", "Homepage", "Notes", "Owner",
               "Maker", "Tags", "Manual"]
NOTES = 'line one\nline two, with "quotes"; and a comma'


def _user_ids(app: Any) -> dict[str, int]:
    with app.app_context():
        sm = app.appbuilder.sm
        return {name: sm.find_user(username=name).id
                for name in ("clerk1", "clerk2", "clerk3", "lead", "boss")}


def _seed(app: Any) -> dict[str, int]:
    """Five gadgets of several owners, two makers, two tags, a child row and a file.
    Returns the gadget ids by a short key."""
    ids = _user_ids(app)
    with app.app_context():
        models = app.extensions["portal"].models.classes
        session = app.appbuilder.session
        east = models["maker"](name="东方制造", owner_id=ids["clerk1"],
                               created_by_id=ids["clerk1"])
        west = models["maker"](name="West Works", owner_id=ids["clerk3"],
                               created_by_id=ids["clerk3"])
        red, sale = models["tag"](word="红色"), models["tag"](word="sale")
        manual = Attachment(storage_key="k-export-1", filename="说明书.pdf",
                            content_type="application/pdf", size=3, sha256="0" * 64,
                            entity="gadget", field="manual")
        session.add_all([east, west, red, sale, manual])
        gadgets = {
            "zh": models["gadget"](
                name="小工具 甲", colour="red", size="l", price=Decimal("1234.50"),
                cost=Decimal("777.77"), weight=Decimal("1.250"), stock=7,
                released=dt.date(2026, 11, 23), active=True, contact="a@example.com",
                hotline="+86 138 0000 0000", homepage="https://example.com/a", notes=NOTES,
                owner_id=ids["clerk1"], created_by_id=ids["clerk1"], maker=east,
                manual=manual),
            "foo": models["gadget"](
                name="Gadget foo", colour="blue", size="s", price=Decimal("0.10"),
                cost=Decimal("777.77"), active=False, owner_id=ids["clerk1"],
                created_by_id=ids["clerk1"], maker=west),
            "bar": models["gadget"](
                name="Gadget bar", colour="red", size="s", price=Decimal("99999999.99"),
                owner_id=ids["clerk2"], created_by_id=ids["clerk2"], maker=east),
            "west": models["gadget"](
                name="Gadget baz west", colour="red", owner_id=ids["clerk3"],
                created_by_id=ids["clerk3"]),
            "formula": models["gadget"](
                name='=HYPERLINK("http://x","y")', colour="green", price=Decimal("1.00"),
                owner_id=ids["boss"], created_by_id=ids["boss"]),
        }
        session.add_all(gadgets.values())
        session.flush()
        session.add(models["gadget_part"](gadget_id=gadgets["zh"].id, label="P1", qty=1,
                                          created_by_id=ids["clerk1"]))
        # Tags as rows (``tags=[...]`` on a new record trips the audit hook, see the report).
        pairs = models["gadget"].tags.property.secondary
        session.execute(insert(pairs), [{"left_id": gadgets["zh"].id, "right_id": t.id}
                                        for t in (sale, red)])
        session.commit()
        return {key: g.id for key, g in gadgets.items()}


@pytest.fixture
def portal(lowcode_portal: Any) -> Any:
    lowcode_portal.config["SEEDED"] = _seed(lowcode_portal)
    return lowcode_portal


def _csv(resp: Any) -> list[dict[str, str]]:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    assert resp.headers["Content-Type"].startswith("text/csv")
    raw = resp.get_data()
    assert raw.startswith("\ufeff".encode())  # BOM: Excel reads the UTF-8 as UTF-8
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def _xlsx(resp: Any) -> list[dict[str, Any]]:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    assert resp.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(resp.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def _ids(rows: list[dict[str, Any]]) -> list[int]:
    return [int(r["Id"]) for r in rows]


def test_csv_values_read_back_exactly(portal: Any) -> None:
    """covers: PL8(CSV export: every visible field headed by its label, values that import
    back: link titles, usernames, enum values, exact money, ISO dates, true/false, many as
    ;-joined titles, file names; children left out; Chinese text intact)"""
    seeded = portal.config["SEEDED"]
    resp = WebUser(portal, "boss").get("/gadget/export/csv")
    rows = _csv(resp)
    assert list(rows[0]) == ALL_HEADERS
    assert _ids(rows) == sorted(seeded.values(), reverse=True)  # the list's order: -id
    row = {r["Id"]: r for r in rows}[str(seeded["zh"])]
    assert re.fullmatch(r"GD-\d{4}-0001", row.pop("Ref"))  # the auto-number, as text
    assert row == {
        "Id": str(seeded["zh"]), "Name": "小工具 甲", "Colour": "red", "Size": "l",
        "Price": "1234.50", "Cost": "777.77", "Weight": "1.250", "Stock": "7",
        "Released": "2026-11-23", "Active": "true", "Contact": "a@example.com",
        "Hotline": "+86 138 0000 0000", "Homepage": "https://example.com/a", "Notes": NOTES,
        "Owner": "clerk1", "Maker": "东方制造", "Tags": "红色;sale", "Manual": "说明书.pdf"}
    foo = {r["Id"]: r for r in rows}[str(seeded["foo"])]
    assert (foo["Active"], foo["Price"], foo["Released"], foo["Tags"], foo["Manual"]) == \
        ("false", "0.10", "", "", "")
    assert {r["Id"]: r for r in rows}[str(seeded["bar"])]["Price"] == "99999999.99"
    day = dt.date.today().isoformat()
    assert resp.headers["Content-Disposition"] == f'attachment; filename="gadget-{day}.csv"'
    assert resp.headers["Cache-Control"] == "no-store"


def test_xlsx_matches_the_csv_with_typed_cells(portal: Any) -> None:
    """covers: PL8(XLSX export: the same rows as the CSV, numbers and dates as typed cells,
    money exact, Chinese text intact, user text never a formula)"""
    web = WebUser(portal, "boss")
    seeded = portal.config["SEEDED"]
    text_rows = _csv(web.get("/gadget/export/csv"))
    resp = web.get("/gadget/export/xlsx")
    rows = _xlsx(resp)
    assert _ids(rows) == _ids(text_rows)
    assert list(rows[0]) == ALL_HEADERS
    row = {r["Id"]: r for r in rows}[seeded["zh"]]
    assert row["Name"] == "小工具 甲" and row["Maker"] == "东方制造" and row["Tags"] == "红色;sale"
    assert f"{Decimal(str(row['Price'])):.2f}" == "1234.50"
    assert f"{Decimal(str(row['Weight'])):.3f}" == "1.250"
    assert row["Released"] == dt.datetime(2026, 11, 23) and row["Active"] is True
    assert row["Stock"] == 7 and row["Notes"] == NOTES
    assert {r["Id"]: r for r in rows}[seeded["bar"]]["Price"] == pytest.approx(99999999.99)
    assert Decimal(str({r["Id"]: r for r in rows}[seeded["bar"]]["Price"])) == \
        Decimal("99999999.99")
    formula = {r["Id"]: r for r in rows}[seeded["formula"]]
    assert formula["Name"] == '=HYPERLINK("http://x","y")'
    sheet = openpyxl.load_workbook(io.BytesIO(resp.get_data())).active
    types = {c.value: c.data_type for c in sheet[1]}
    assert set(types.values()) == {"s"}
    name_col = list(types).index("Name") + 1
    assert all(sheet.cell(r, name_col).data_type == "s" for r in range(2, sheet.max_row + 1))
    assert resp.headers["Content-Disposition"].endswith(f'-{dt.date.today().isoformat()}.xlsx"')


def test_export_keeps_the_lists_filters_search_and_order(portal: Any) -> None:
    """covers: PL8(a filtered, searched, ordered list exports exactly its rows, in its order,
    all of them and not just the page)"""
    seeded = portal.config["SEEDED"]
    web = WebUser(portal, "boss")
    query = "_flt_3_colour=red&_flt_2_name=Gadget&_oc_View_gadget=name&_od_View_gadget=asc"
    expected = [seeded["bar"], seeded["west"]]
    assert _ids(_csv(web.get(f"/gadget/export/csv?{query}"))) == expected
    assert _ids(_xlsx(web.get(f"/gadget/export/xlsx?{query}"))) == expected
    reversed_order = query.replace("_od_View_gadget=asc", "_od_View_gadget=desc")
    assert _ids(_csv(web.get(f"/gadget/export/csv?{reversed_order}"))) == expected[::-1]
    searched = _csv(web.get("/gadget/export/csv?_q=WEST"))
    assert _ids(searched) == [seeded["west"]]
    owner = _user_ids(portal)["clerk1"]
    by_owner = _csv(web.get(f"/gadget/export/csv?_flt_0_owner={owner}&_psize_View_gadget=1"))
    assert sorted(_ids(by_owner)) == sorted([seeded["zh"], seeded["foo"]])
    assert _csv(web.get("/gadget/export/csv?_flt_3_colour=purple")) == []


def test_the_list_screen_offers_the_export_with_its_query(portal: Any) -> None:
    """covers: PL8(the list screen has an Export menu whose CSV and XLSX links keep the
    list's query string)"""
    web = WebUser(portal, "boss")
    page = web.get("/gadget/list/?_flt_3_colour=red&_q=gadget").get_data(as_text=True)
    assert "Export" in page
    for fmt in ("csv", "xlsx"):
        assert f'href="/gadget/export/{fmt}?_flt_3_colour=red&amp;_q=gadget"' in page
    plain = web.get("/maker/list/").get_data(as_text=True)
    assert 'href="/maker/export/csv"' in plain
    web.get("/lang/zh_CN")
    assert "导出" in web.get("/gadget/list/").get_data(as_text=True)


@pytest.mark.parametrize("username, owners", [
    ("clerk1", {"clerk1"}),
    ("lead", {"clerk1", "clerk2"}),
    ("auditor", {"clerk1", "clerk2", "clerk3", "boss"}),
])
def test_export_respects_record_scopes(portal: Any, username: str, owners: set[str]) -> None:
    """covers: PL8(an own- or department-scoped user's export holds only the records they
    may read; a linked record they may not read is a blank cell)"""
    rows = _csv(WebUser(portal, username).get("/gadget/export/csv"))
    assert {r["Owner"] for r in rows} == owners
    api_rows = _csv(ApiUser(portal, username).get("/api/v1/gadget/export/csv"))
    assert api_rows == rows
    if username == "clerk1":
        seeded = portal.config["SEEDED"]
        makers = {int(r["Id"]): r["Maker"] for r in rows}
        assert makers == {seeded["zh"]: "东方制造", seeded["foo"]: ""}  # West Works: clerk3's
        assert [r["Name"] for r in _csv(WebUser(portal, username).get(
            "/maker/export/csv"))] == ["东方制造"]


def test_hidden_fields_appear_nowhere(portal: Any) -> None:
    """covers: PL8(a field hidden from the user's role is absent from the export: no header,
    no value, no filter on it; headers follow the user's language)"""
    web = WebUser(portal, "auditor")
    for resp, reader in ((web.get("/gadget/export/csv"), _csv),
                         (web.get("/gadget/export/xlsx"), _xlsx)):
        rows = reader(resp)
        assert list(rows[0]) == [h for h in ALL_HEADERS if h not in {"Cost", "Manual"}]
        assert not any("777.77" in str(v) or "说明书" in str(v) for r in rows
                       for v in r.values())
        raw = resp.get_data()
        assert b"777.77" not in raw and "说明书".encode() not in raw
    api = ApiUser(portal, "auditor")
    assert "Cost" not in _csv(api.get("/api/v1/gadget/export/csv"))[0]
    refused = api.get("/api/v1/gadget/export/csv?q=(filters:!((col:cost,opr:gt,value:700)))")
    assert refused.status_code == 400
    assert "cannot filter on 'cost'" in refused.get_json()["message"]
    # The screen filters only on its search columns (cost is not one): FAB ignores it.
    assert len(_csv(web.get("/gadget/export/csv?_flt_0_cost=700"))) == 5
    web.get("/lang/zh_CN")
    headers = list(_csv(web.get("/gadget/export/csv"))[0])
    assert headers[:4] == ["编号", "Ref", "名称", "颜色"] and "价格" in headers
    assert "成本" not in headers


def test_rest_export_honours_the_rest_lists_filters(portal: Any) -> None:
    """covers: PL8(GET /api/v1/<entity>/export/<fmt>?q= exports what the REST list's
    filters and order select, all rows, in CSV and XLSX; documented in OpenAPI)"""
    seeded = portal.config["SEEDED"]
    api = ApiUser(portal, "boss")
    q = ("(filters:!((col:colour,opr:eq,value:red),(col:name,opr:ct,value:Gadget)),"
         "order_column:name,order_direction:asc,page_size:1)")
    expected = [seeded["bar"], seeded["west"]]
    listed = api.get(f"/api/v1/gadget/?q={q.replace(',page_size:1', '')}").get_json()
    assert listed["ids"] == expected
    rows = _csv(api.get(f"/api/v1/gadget/export/csv?q={q}"))
    assert _ids(rows) == expected
    assert rows == _csv(WebUser(portal, "boss").get(
        "/gadget/export/csv?_flt_3_colour=red&_flt_2_name=Gadget"
        "&_oc_View_gadget=name&_od_View_gadget=asc"))
    assert _ids(_xlsx(api.get(f"/api/v1/gadget/export/xlsx?q={q}"))) == expected
    everything = _csv(api.get("/api/v1/gadget/export/csv"))
    assert _ids(everything) == sorted(seeded.values(), reverse=True)
    bad_column = api.get("/api/v1/gadget/export/csv?q=(filters:!((col:nope,opr:eq,value:1)))")
    assert bad_column.status_code == 400 and "nope" in bad_column.get_json()["message"]
    bad_order = api.get("/api/v1/gadget/export/csv?q=(order_column:nope)")
    assert bad_order.status_code == 400
    assert api.get("/api/v1/gadget/export/csv?q=((").status_code == 400
    spec = ApiUser(portal, "admin").get("/api/v1/_openapi").get_json()
    doc = spec["paths"]["/api/v1/gadget/export/{fmt}"]["get"]
    assert {"200", "400", "401", "403"} <= set(doc["responses"])
    assert "text/csv" in doc["responses"]["200"]["content"]


def test_bad_format_and_missing_permission(portal: Any) -> None:
    """covers: PL8(an unknown format is refused with a clear message; the export needs the
    entity's read permission: 401 without login, 403 without the permission)"""
    web, api = WebUser(portal, "boss"), ApiUser(portal, "boss")
    page = web.get("/gadget/export/pdf")
    assert page.status_code == 404
    assert "unknown export format &#39;pdf&#39;; use one of: csv, xlsx" in \
        page.get_data(as_text=True)
    refused = api.get("/api/v1/gadget/export/pdf")
    assert refused.status_code == 400
    assert refused.get_json()["message"] == \
        "unknown export format 'pdf'; use one of: csv, xlsx"
    add_user(portal, "outsider", ["outsider"])
    assert WebUser(portal, "outsider").get("/gadget/export/csv").status_code == 403
    assert ApiUser(portal, "outsider").get("/api/v1/gadget/export/csv").status_code == 403
    anonymous = portal.test_client()
    assert anonymous.get("/api/v1/gadget/export/csv").status_code == 401
    redirected = anonymous.get("/gadget/export/csv")
    assert redirected.status_code == 302 and "/login/" in redirected.headers["Location"]


def test_a_big_list_exports_every_row(portal: Any) -> None:
    """covers: PL8(3,000 rows inserted in bulk export in full, the CSV streamed in chunks,
    the XLSX complete; an own-scoped clerk still gets only their rows)"""
    ids = _user_ids(portal)
    with portal.app_context():
        model = portal.extensions["portal"].models.classes["gadget"]
        session = portal.appbuilder.session
        owners = ("boss", "clerk1", "clerk3")
        session.execute(insert(model), [
            {"name": f"Bulk {i:05d} 批量", "price": Decimal(i) / 100 + 1000,
             "owner_id": ids[owners[i % 3]], "created_by_id": ids[owners[i % 3]],
             "colour": "blue"}
            for i in range(3000)])
        session.commit()
    seeded = len(portal.config["SEEDED"])
    web = WebUser(portal, "boss")
    resp = web.get("/gadget/export/csv")
    assert resp.is_streamed
    rows = _csv(resp)
    assert len(resp.response) > 1  # sent in chunks as the rows were read
    assert len(rows) == 3000 + seeded
    assert len({r["Id"] for r in rows}) == len(rows)
    bulk = {r["Name"]: r["Price"] for r in rows if r["Name"].startswith("Bulk")}
    assert bulk["Bulk 00001 批量"] == "1000.01" and bulk["Bulk 02999 批量"] == "1029.99"
    xlsx_rows = _xlsx(web.get("/gadget/export/xlsx?_flt_3_colour=blue"))
    assert len(xlsx_rows) == 3000 + 1  # and the seeded blue one
    clerk_rows = _csv(WebUser(portal, "clerk1").get("/gadget/export/csv"))
    assert len(clerk_rows) == 1000 + 2
    assert {r["Owner"] for r in clerk_rows} == {"clerk1"}


def test_file_writers_keep_values_exact() -> None:
    """covers: PL8(the writers alone: a decimal too long for a spreadsheet number stays exact
    as text, control characters cannot break the XLSX, a bad format is named)"""
    from portal.engines.export_files import (
        ExportColumn,
        UnknownFormat,
        csv_chunks,
        export_format,
        sheet_title,
        xlsx_file,
    )

    columns = [ExportColumn("金额", "decimal", 2), ExportColumn("Note"), ExportColumn("On", "bool")]
    rows = [[Decimal("1234567890123456.78"), "a\x00b\x1fc", False],
            [Decimal("-0.50"), None, None]]
    text = b"".join(csv_chunks(columns, rows)).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text))) == [
        ["金额", "Note", "On"], ["1234567890123456.78", "a\x00b\x1fc", "false"],
        ["-0.50", "", ""]]
    with xlsx_file("Gadgets: [all]", columns, rows) as file:
        sheet = openpyxl.load_workbook(file).active
    assert sheet.title == "Gadgets   all"
    assert [c.value for c in sheet[2]] == ["1234567890123456.78", "abc", False]
    assert sheet["A3"].value == -0.5 and sheet["A3"].number_format == "#,##0.00"
    assert sheet_title("x" * 40) == "x" * 31
    with pytest.raises(UnknownFormat, match="unknown export format 'pdf'; use one of: csv"):
        export_format("pdf")
