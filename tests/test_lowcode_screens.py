"""The HTML screens generated for entities that exist only in a test folder."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from conftest import ApiUser, WebUser


@pytest.fixture
def portal(lowcode_portal: Any) -> Any:
    return lowcode_portal


def _model(app: Any, entity: str) -> Any:
    return app.extensions["portal"].models.classes[entity]


def _rows(app: Any, entity: str) -> list[Any]:
    with app.app_context():
        model = _model(app, entity)
        rows = app.appbuilder.session.query(model).order_by(model.id).all()
        for row in rows:  # load what the tests look at before the session closes
            _ = [getattr(row, c) for c in ("parts", "tags", "manual") if hasattr(row, c)]
        app.appbuilder.session.expunge_all()
        return rows


def test_every_screen_exists_and_the_menu_links_them(portal: Any) -> None:
    """covers: PL1 — list, show, add, edit screens and a menu entry from YAML alone."""
    web = WebUser(portal, "boss")
    home = web.get("/").get_data(as_text=True)
    assert "Gadget" in home and "/gadget/list/" in home and "Workshop" in home
    assert web.get("/gadget/list/").status_code == 200
    assert web.get("/gadget/add").status_code == 200
    ApiUser(portal, "boss").post("/api/v1/gadget/", {"name": "One"})
    pk = _rows(portal, "gadget")[0].id
    for url in (f"/gadget/show/{pk}", f"/gadget/edit/{pk}"):
        page = web.get(url)
        assert page.status_code == 200, url
        assert "One" in page.get_data(as_text=True)


def test_add_with_child_rows_then_edit_them(portal: Any) -> None:
    """covers: PL1 — an inline child table is saved, edited and shown with its parent."""
    web = WebUser(portal, "clerk1")
    resp = web.post_form("/gadget/add", {
        "name": "Kettle", "colour": "", "size": "l", "price": "19.90", "active": "y",
        "parts-0-label": "Lid", "parts-0-qty": "1",
        "parts-3-label": "Spout", "parts-3-qty": "2",  # indices need not be contiguous
        "parts-5-label": "", "parts-5-qty": "",  # a blank row left on the form is ignored
    })
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    [gadget] = _rows(portal, "gadget")
    assert gadget.colour is None  # the optional enum left blank is no crash
    assert sorted((p.label, p.qty) for p in gadget.parts) == [("Lid", 1), ("Spout", 2)]
    show = web.get(f"/gadget/show/{gadget.id}").get_data(as_text=True)
    assert "Lid" in show and "Spout" in show and "Large" in show and "19.90" in show
    lid = next(p for p in gadget.parts if p.label == "Lid")
    resp = web.post_form(f"/gadget/edit/{gadget.id}", {
        "name": "Kettle", "size": "l", "price": "19.90",
        "parts-0-id": str(lid.id), "parts-0-label": "Lid", "parts-0-qty": "4",
        "parts-1-label": "Handle", "parts-1-qty": "1",
    })
    assert resp.status_code == 302
    [gadget] = _rows(portal, "gadget")
    assert sorted((p.label, p.qty) for p in gadget.parts) == [("Handle", 1), ("Lid", 4)]
    assert [p.id for p in gadget.parts if p.label == "Lid"] == [lid.id]  # updated in place


def test_bad_child_row_refuses_the_whole_save(portal: Any) -> None:
    """covers: PL1 — a bad child row is reported and nothing at all is written."""
    web = WebUser(portal, "clerk1")
    resp = web.post_form("/gadget/add", {
        "name": "Broken", "size": "s", "parts-0-label": "Lid", "parts-0-qty": "0",
    })
    page = web.get(resp.headers.get("Location", "/gadget/add")).get_data(as_text=True) \
        if resp.status_code == 302 else resp.get_data(as_text=True)
    assert "must be at least 1" in page
    assert _rows(portal, "gadget") == [] and _rows(portal, "gadget_part") == []


def test_form_validation_matches_the_api(portal: Any) -> None:
    """covers: PL1 — the same rule refuses a value on the form and in the API."""
    web = WebUser(portal, "clerk1")
    resp = web.post_form("/gadget/add", {"name": "E", "size": "s", "contact": "nope"})
    assert resp.status_code == 200
    assert "nope&#39; is not a valid email address" in resp.get_data(as_text=True) or \
        "'nope' is not a valid email address" in resp.get_data(as_text=True)
    api = ApiUser(portal, "clerk1").post("/api/v1/gadget/", {"name": "E", "contact": "nope"})
    assert api.get_json()["message"]["contact"] == ["'nope' is not a valid email address"]
    assert _rows(portal, "gadget") == []
    ApiUser(portal, "clerk2").post("/api/v1/gadget/", {"name": "Dup"})  # out of clerk1's scope
    resp = web.post_form("/gadget/add", {"name": "Dup", "size": "s"})
    assert "is already used by another record" in resp.get_data(as_text=True)
    assert len(_rows(portal, "gadget")) == 1


def test_scopes_on_screens(portal: Any) -> None:
    """covers: PL3 — list, show, edit, search and related dropdowns follow the read scope."""
    one, two = ApiUser(portal, "clerk1"), ApiUser(portal, "clerk2")
    one.post("/api/v1/maker/", {"name": "Maker One"})
    two.post("/api/v1/maker/", {"name": "Maker Two"})
    one.post("/api/v1/gadget/", {"name": "Gadget One"})
    web = WebUser(portal, "clerk2")
    listing = web.get("/gadget/list/").get_data(as_text=True)
    assert "Gadget One" not in listing
    pk = _rows(portal, "gadget")[0].id
    assert web.get(f"/gadget/show/{pk}").status_code == 404
    assert web.get(f"/gadget/edit/{pk}").status_code == 404
    searched = web.get("/gadget/list/?_flt_2_name=Gadget").get_data(as_text=True)
    assert "Gadget One" not in searched
    form = web.get("/gadget/add").get_data(as_text=True)
    assert "Maker Two" in form and "Maker One" not in form  # the link dropdown
    boss = WebUser(portal, "boss").get("/gadget/add").get_data(as_text=True)
    assert "Maker One" in boss and "Maker Two" in boss


def test_related_list_on_show_page_is_scoped(portal: Any) -> None:
    """covers: PL3 — the related records listed under a record follow the read scope too."""
    clerk = ApiUser(portal, "clerk2")
    maker = clerk.post("/api/v1/maker/", {"name": "Shared"}).get_json()["id"]
    clerk.post("/api/v1/gadget/", {"name": "Visible G", "maker": maker})
    ApiUser(portal, "boss").post("/api/v1/gadget/", {"name": "Hidden G", "maker": maker})
    page = WebUser(portal, "clerk2").get(f"/maker/show/{maker}").get_data(as_text=True)
    assert "Visible G" in page and "Hidden G" not in page
    page = WebUser(portal, "boss").get(f"/maker/show/{maker}").get_data(as_text=True)
    assert "Visible G" in page and "Hidden G" in page


def test_hidden_fields_on_screens(portal: Any) -> None:
    """covers: PL3 — a role's hidden fields are absent from its list, show and forms."""
    ApiUser(portal, "boss").post("/api/v1/gadget/", {"name": "Costly", "cost": "123.45"})
    pk = _rows(portal, "gadget")[0].id
    auditor = WebUser(portal, "auditor")
    show = auditor.get(f"/gadget/show/{pk}").get_data(as_text=True)
    assert "Costly" in show and "123.45" not in show and ">Cost<" not in show
    history = re.search(r'id="history".*', show, re.S).group(0)
    assert "123.45" not in history
    assert "123.45" in WebUser(portal, "boss").get(f"/gadget/show/{pk}").get_data(as_text=True)


def test_history_panel_shows_changes(portal: Any) -> None:
    """covers: PL5 — the show page lists who changed what, with before and after values."""
    api = ApiUser(portal, "clerk1")
    pk = api.post("/api/v1/gadget/", {"name": "Before", "colour": "red"}).get_json()["id"]
    api.put(f"/api/v1/gadget/{pk}", {"name": "After", "colour": "green"})
    page = WebUser(portal, "clerk1").get(f"/gadget/show/{pk}").get_data(as_text=True)
    history = re.search(r'id="history".*', page, re.S).group(0)
    assert history.count("portal-history-entry") == 2
    assert "<del>Before</del>" in history and "After" in history and "clerk1" in history


def test_delete_on_screen_respects_scope(portal: Any) -> None:
    """covers: PL3 PL5 — a delete outside the scope is refused; an allowed one is audited."""
    pk = ApiUser(portal, "clerk1").post("/api/v1/gadget/", {"name": "Mine"}).get_json()["id"]
    other = WebUser(portal, "clerk2")
    assert other.post_form(f"/gadget/delete/{pk}", {}, form_url="/gadget/add").status_code \
        == 404
    owner = WebUser(portal, "clerk1")
    owner.post_form(f"/gadget/delete/{pk}", {}, form_url="/gadget/add")
    assert _rows(portal, "gadget") == []


def test_csrf_token_required(portal: Any) -> None:
    """covers: PL1 — a form post without the CSRF token writes nothing."""
    web = WebUser(portal, "clerk1")
    resp = web.client.post("/gadget/add", data={"name": "Forged", "size": "s"})
    assert resp.status_code in (200, 400)
    assert _rows(portal, "gadget") == []


def test_user_text_is_escaped(portal: Any) -> None:
    """covers: PL1 — text typed by users never runs as markup."""
    ApiUser(portal, "clerk1").post("/api/v1/gadget/", {
        "name": "<script>alert(1)</script>", "homepage": "https://x.example/\"><b>",
        "notes": "<img src=x onerror=alert(2)>"})
    web = WebUser(portal, "clerk1")
    pk = _rows(portal, "gadget")[0].id
    for url in ("/gadget/list/", f"/gadget/show/{pk}"):
        page = web.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in page
        assert "<img src=x" not in page
        assert '"><b>' not in page


def test_attachment_upload_and_download_checks(portal: Any) -> None:
    """covers: PL12 — a file attaches to a record; downloads follow record permissions."""
    web = WebUser(portal, "clerk1")
    page = web.get("/gadget/add").get_data(as_text=True)
    from conftest import csrf_token

    resp = web.client.post("/gadget/add", data={
        "csrf_token": csrf_token(page), "name": "Doc", "size": "s",
        "manual": (io.BytesIO(b"%PDF-1.4 signed contract"), "contract.pdf"),
    }, content_type="multipart/form-data")
    assert resp.status_code == 302
    [gadget] = _rows(portal, "gadget")
    attachment = gadget.manual
    assert attachment.filename == "contract.pdf" and attachment.size == 24
    url = f"/portal/attachment/{attachment.id}"
    got = web.get(url)
    assert got.status_code == 200 and got.data == b"%PDF-1.4 signed contract"
    assert "contract.pdf" in got.headers["Content-Disposition"]
    assert WebUser(portal, "clerk2").get(url).status_code == 404  # record out of scope
    assert WebUser(portal, "auditor").get(url).status_code == 404  # field hidden
    assert WebUser(portal, "boss").get(url).status_code == 200
    assert portal.test_client().get(url).status_code == 401
    show = web.get(f"/gadget/show/{gadget.id}").get_data(as_text=True)
    assert url in show


def test_chinese_labels_when_the_user_switches(portal: Any) -> None:
    """covers: PL11 — zh_CN labels from YAML appear after switching the language."""
    web = WebUser(portal, "boss")
    ApiUser(portal, "boss").post("/api/v1/gadget/", {"name": "Z", "size": "l"})
    assert "名称" not in web.get("/gadget/list/").get_data(as_text=True)
    web.get("/lang/zh_CN")
    page = web.get("/gadget/list/").get_data(as_text=True)
    assert "小工具" in page and "名称" in page and "价格" in page
    pk = _rows(portal, "gadget")[0].id
    assert "大" in web.get(f"/gadget/show/{pk}").get_data(as_text=True)  # enum value label
    again = WebUser(portal, "boss")  # a new login keeps the user's language
    assert "小工具" in again.get("/gadget/list/").get_data(as_text=True)
    assert "小工具" not in WebUser(portal, "clerk1").get("/gadget/list/").get_data(as_text=True)
    web.get("/lang/en")
    assert "Gadget" in web.get("/gadget/list/").get_data(as_text=True)


def test_search_box_matches_any_search_field_within_scope(portal: Any) -> None:
    """covers: PL1 PL3 — the list's search box looks in the YAML's search fields, in scope."""
    clerk = ApiUser(portal, "clerk1")
    for name in ("Blue kettle", "Red teapot", "50%_off mug"):
        clerk.post("/api/v1/gadget/", {"name": name})
    ApiUser(portal, "clerk2").post("/api/v1/gadget/", {"name": "Blue lamp"})
    web = WebUser(portal, "clerk1")
    page = web.get("/gadget/list/?_q=blue").get_data(as_text=True)
    assert "Blue kettle" in page and "Red teapot" not in page and "Blue lamp" not in page
    assert 'value="blue"' in page
    page = web.get("/gadget/list/?_q=%25_").get_data(as_text=True)  # wildcards are literal
    assert "50%_off mug" in page and "Blue kettle" not in page
    everything = web.get("/gadget/list/").get_data(as_text=True)
    assert "Blue kettle" in everything and "Red teapot" in everything


def test_show_page_names_creator_and_last_editor(portal: Any) -> None:
    """covers: PL1, PL5 — the show page says who created the record and who changed it last."""
    import re

    pk = ApiUser(portal, "clerk1").post("/api/v1/gadget/", {"name": "Shared"}).get_json()["id"]
    assert ApiUser(portal, "boss").put(f"/api/v1/gadget/{pk}", {"stock": 2}).status_code == 200
    page = WebUser(portal, "boss").get(f"/gadget/show/{pk}").get_data(as_text=True)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert re.search(r"Created by clerk1\b", text), text[-1500:]
    assert re.search(r"Updated by boss\b", text), text[-1500:]
