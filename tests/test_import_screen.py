"""The import screen: upload, map the columns, check (problems by row and column), import
in the background with progress, save the mapping for the next file. SQLite and PostgreSQL."""

from __future__ import annotations

import html
import io
import re
import time
from typing import Any

import pytest
from conftest import SHIPPED_SCHEMAS, WebUser, add_user, csrf_token
from sqlalchemy import func, select

GOOD = "客户名称,客户分级,成立年份\n北京精密,A,1999\n上海仪器,B,2005\n"
BAD = "客户名称,客户分级,成立年份\n北京精密,A,1999\n上海仪器,Z,20x5\n"


@pytest.fixture
def portal(make_portal: Any, backend: str) -> Any:
    app = make_portal(SHIPPED_SCHEMAS, backend=backend)
    add_user(app, "director", ["sales_director"])
    add_user(app, "auditor", ["finance"])
    return app


def upload(user: WebUser, text: str, name: str = "customers.csv", mapping: str = "") -> str:
    page = user.get("/import/customer/").get_data(as_text=True)
    resp = user.client.post("/import/customer/", data={
        "csrf_token": csrf_token(page), "mapping": mapping,
        "file": (io.BytesIO(text.encode("utf-8")), name)},
        content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return resp.location


def mapping_form(page: str) -> dict[str, str]:
    """The mapping form as the page fills it: each column's selected field."""
    form = {"csrf_token": csrf_token(page)}
    for name, options in re.findall(r'<select name="(col-\d+)"[^>]*>(.*?)</select>', page,
                                    re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', options)
        if chosen:
            form[name] = chosen.group(1)
    return form


def wait(user: WebUser, job_url: str, states: tuple[str, ...]) -> dict[str, Any]:
    status_url = job_url.rstrip("/") + "/status"
    for _ in range(200):
        state = user.get(status_url).get_json()
        if state["status"] in states:
            return state
        time.sleep(0.05)
    raise AssertionError(f"the job stayed {state}")


def customers(app: Any) -> int:
    model = app.extensions["portal"].models.classes["customer"]
    with app.app_context():
        return app.appbuilder.session.execute(select(func.count()).select_from(model)).scalar()


def test_check_then_import_in_the_background(portal: Any) -> None:
    """covers: PL8(import screen: upload, columns guessed from Chinese labels, check with
    problems by row and column and nothing written, then a clean file imported in the
    background with its progress, all or nothing)"""
    director = WebUser(portal, "director")
    assert 'portal-import-link' in director.get("/customer/list/").get_data(as_text=True)
    job = upload(director, BAD)
    page = director.get(job).get_data(as_text=True)
    assert 'data-column="客户名称"' in page
    form = mapping_form(page)
    assert form.get("col-0") == "name" and form.get("col-1") == "grade"
    checked = director.client.post(job + "check", data=form)
    assert checked.status_code == 302
    state = wait(director, job, ("checked", "failed"))
    assert state["status"] == "checked" and state["problems"] == 2
    page = html.unescape(director.get(job).get_data(as_text=True))
    assert "'Z' is not one of A, B, C" in page and "'20x5' is not a whole number" in page
    assert "portal-import-apply" not in page  # nothing can be imported yet
    assert director.client.post(job + "apply", data={"csrf_token": csrf_token(page)}) \
        .status_code == 409
    assert customers(portal) == 0

    job = upload(director, GOOD)
    page = director.get(job).get_data(as_text=True)
    form = {**mapping_form(page), "save_as": "chinese customers"}
    director.client.post(job + "check", data=form)
    assert wait(director, job, ("checked", "failed"))["problems"] == 0
    page = director.get(job).get_data(as_text=True)
    assert "would import 2 row(s) into customer" in page
    director.client.post(job + "apply", data={"csrf_token": csrf_token(page)})
    state = wait(director, job, ("done", "failed"))
    assert state["status"] == "done" and state["done"] == state["total"] > 0
    assert "imported 2 row(s) into customer; 2 created" in state["summary"]
    assert customers(portal) == 2
    # the saved mapping is offered for the next file
    start = director.get("/import/customer/").get_data(as_text=True)
    assert '<option value="chinese customers">' in start
    job = upload(director, GOOD.replace("北京精密", "广州电子").replace("上海仪器", "深圳仪表"),
                 mapping="chinese customers")
    assert mapping_form(director.get(job).get_data(as_text=True))["col-2"] == \
        "year_established"


def test_import_needs_create_permission_and_a_file(portal: Any) -> None:
    """covers: PL8(only who may create the records may import them; bad uploads say why)"""
    auditor = WebUser(portal, "auditor")  # finance reads customers, cannot create them
    assert auditor.get("/import/customer/").status_code == 403
    assert 'portal-import-link' not in auditor.get("/customer/list/").get_data(as_text=True)
    director = WebUser(portal, "director")
    page = director.get("/import/customer/").get_data(as_text=True)
    resp = director.client.post("/import/customer/", data={
        "csrf_token": csrf_token(page), "file": (io.BytesIO(b"x"), "notes.pdf")},
        content_type="multipart/form-data", follow_redirects=True)
    assert "Choose a .csv or .xlsx file." in resp.get_data(as_text=True)
    resp = director.client.post("/import/customer/", data={
        "csrf_token": csrf_token(page), "file": (io.BytesIO(b""), "empty.csv")},
        content_type="multipart/form-data", follow_redirects=True)
    assert "the file is empty (no header row)" in resp.get_data(as_text=True)
    assert director.get("/import/nothing/").status_code == 404


def test_unknown_values_are_mapped_on_screen(portal: Any) -> None:
    """covers: PL8(value mapping on screen: an unknown enum value and an unknown linked
    record, reported by the check, are mapped to existing ones and the file imports)"""
    from conftest import ApiUser

    assert ApiUser(portal, "director").post("/api/v1/customer/", {"name": "集团"}) \
        .status_code == 201
    director = WebUser(portal, "director")
    text = "客户名称,客户分级,上级公司\n总部,A,\n北京分公司,战略,总公司\n"
    job = upload(director, text)
    director.client.post(job + "check", data=mapping_form(director.get(job)
                                                          .get_data(as_text=True)))
    assert wait(director, job, ("checked", "failed"))["problems"] == 2
    page = html.unescape(director.get(job).get_data(as_text=True))
    rows = dict(re.findall(r'<tr data-field="([^"]+)" data-value="([^"]+)">', page))
    assert rows == {"grade": "战略", "parent": "总公司"}
    form = mapping_form(page)
    for index, (field, value) in enumerate(re.findall(
            r'name="vmap-field-\d+" value="([^"]+)">\s*<input type="hidden" '
            r'name="vmap-from-\d+" value="([^"]+)"', page)):
        form.update({f"vmap-field-{index}": field, f"vmap-from-{index}": value,
                     f"vmap-to-{index}": {"grade": "A", "parent": "集团"}[field]})
    director.client.post(job + "check", data=form)
    assert wait(director, job, ("checked", "failed"))["problems"] == 0
    page = director.get(job).get_data(as_text=True)
    director.client.post(job + "apply", data={"csrf_token": csrf_token(page)})
    assert wait(director, job, ("done", "failed"))["status"] == "done"
    customer = portal.extensions["portal"].models.classes["customer"]
    with portal.app_context():
        rows = {c.name: c for c in portal.appbuilder.session.scalars(select(customer))}
    assert rows["北京分公司"].grade == "A"
    assert rows["北京分公司"].parent_id == rows["集团"].id
