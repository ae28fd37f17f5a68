"""Public forms (web-to-lead): the ``public_form`` key of an entity compiles with coded
errors; an anonymous POST creates a record with the form's values, number, workflow state,
owner and audit entry; field errors answer 422 and write nothing; the honeypot and a post
faster than a person are answered like a success and save nothing; a repeated phone or email
creates nothing and is recorded on the existing record; the rate limit answers 429 per client
address, shared through the database and atomic under parallel posts (PostgreSQL).

The schema is written here (no Python in portal/ names its entity).
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import WebUser, add_user, write_tree
from sqlalchemy import create_engine, text

from portal.spec.compiler import compile_schema_dir
from portal.spec.model import SpecErrors

ROLES = """
roles:
  sales_rep: {label: {en: Sales rep, zh_CN: 销售}}
  sales_director: {label: {en: Sales director}}
"""

PROSPECT = """
entity: prospect
module: sales
label: {en: Prospect, zh_CN: 潜在客户}
title: name
fields:
  code:     {type: number, format: "PR-{YYYY}-{####}"}
  name:     {type: string, max: 80, required: true, label: {zh_CN: 姓名}}
  company:  {type: string, max: 120, label: {zh_CN: 公司}}
  phone:    {type: phone, label: {zh_CN: 电话}}
  email:    {type: email, label: {zh_CN: 邮箱}}
  budget:   {type: money, min: 0}
  interest: {type: enum, values: {crm: {en: CRM, zh_CN: 客户管理}, erp: {en: ERP}}}
  message:  {type: text, max: 2000, label: {zh_CN: 留言}}
  source:   {type: enum, values: [web, phone_call, fair], default: phone_call}
  stage:    {type: enum, values: [new, qualified, lost]}
  owner:    {type: user, default: current_user}
  referrer: {type: link, entity: partner}
list: {columns: [code, name, source, owner]}
access:
  sales_rep: {read: own, create: true, update: own}
  sales_director: {read: all, create: true, update: all}
%(form)s
"""

FORM = """
public_form:
  slug: contact-us
  title: {en: Contact us, zh_CN: 联系我们}
  intro: {en: Tell us about your project., zh_CN: 请告诉我们您的需求。}
  fields: [name, company, phone, email, budget, interest, message]
  set: {source: web}
  owner: {role: sales_rep}
  dedup: [phone, email]
  rate_limit: 5 per hour
  thanks: {en: "Thank you, we will contact you soon.", zh_CN: 感谢，我们会尽快联系您。}
"""

PARTNER = """
entity: partner
module: sales
title: name
fields:
  name: {type: string, required: true}
access:
  sales_director: {read: all, create: true}
"""

WORKFLOW = """
workflow: prospect_flow
entity: prospect
state_field: stage
states: [new, qualified, lost]
transitions:
  qualify: {from: new, to: qualified, by: owner}
  drop:    {from: new, to: lost, by: owner}
"""


def write_schema(root: Path, form: str = FORM, extra: dict[str, str] | None = None) -> Path:
    return write_tree(root, {
        "roles.yaml": ROLES,
        "entities/sales/prospect.yaml": PROSPECT % {"form": form},
        "entities/sales/partner.yaml": PARTNER,
        "workflows/prospect.yaml": WORKFLOW,
        **(extra or {}),
    })


def compile_errors(tmp_path: Path, form: str, extra: dict[str, str] | None = None
                   ) -> list[str]:
    folder = write_schema(tmp_path / "schema", form, extra)
    with pytest.raises(SpecErrors) as caught:
        compile_schema_dir(folder, display_base=folder)
    return [str(e) for e in caught.value.errors]


# -- compiling ---------------------------------------------------------------------------------

def test_form_compiles(tmp_path: Path) -> None:
    """covers: S6(public_form YAML: slug, labels, fields, set, owner, dedup, rate limit)"""
    folder = write_schema(tmp_path / "schema")
    spec = compile_schema_dir(folder).feature("public_form", "prospect")
    assert spec.slug == "contact-us" and spec.fields[:3] == ("name", "company", "phone")
    assert dict(spec.set) == {"source": "web"} and spec.dedup == ("phone", "email")
    assert (spec.rate_limit.count, spec.rate_limit.seconds) == (5, 3600)
    assert spec.owner.kind == "role" and spec.owner.value == "sales_rep"
    assert spec.title.get("zh_CN") == "联系我们" and spec.honeypot == "website"


@pytest.mark.parametrize("form, expected", [
    ("public_form: {fields: [name, emial]}",
     "prospect.yaml:23:30: public_form.fields: unknown field 'emial' of entity 'prospect'; "
     "did you mean 'email'? [unknown-field]"),
    ("public_form: {fields: [name, owner]}",
     "public_form.fields: field 'owner' is of type 'user', which a public form cannot ask "
     "for"),
    ("public_form: {fields: [name, referrer]}", "field 'referrer' is of type 'link'"),
    ("public_form: {fields: [name, code]}", "field 'code' is of type 'number'"),
    ("public_form: {fields: [name, stage]}",
     "public_form.fields: field 'stage' is the workflow's state; new records start in the "
     "initial state [not-public]"),
    ("public_form: {fields: [name, name]}", "field 'name' is listed twice [duplicate-key]"),
    ("public_form: {fields: [company]}",
     "public_form.fields: required field 'name' is neither asked for nor set, so no "
     "submission could be saved; add it to fields or set [missing-value]"),
    ("public_form: {fields: [name], rate_limit: 5 per huor}",
     "public_form.rate_limit: unknown unit 'huor' in '5 per huor'; write it like '5 per hour' "
     "(units: second, minute, hour, day); did you mean 'hour'? [bad-value]"),
    ("public_form: {fields: [name], rate_limit: lots}",
     "public_form.rate_limit: 'lots' is not a rate; write it like '5 per hour'"),
    ("public_form: {fields: [name], rate_limit: 0 per hour}",
     "'0 per hour' must allow between 1 and 100000 submissions [bad-value]"),
    ("public_form: {fields: [name, email], dedup: [emial]}",
     "public_form.dedup: unknown field 'emial' of entity 'prospect'; did you mean 'email'? "
     "[unknown-field]"),
    ("public_form: {fields: [name, company], dedup: [company]}",
     "field 'company' is of type 'string'; duplicates are recognised by phone and email "
     "fields [bad-value]"),
    ("public_form: {fields: [name, email], dedup: [phone]}",
     "field 'phone' is not among the form's fields, so it has no value to compare"),
    ("public_form: {fields: [name], set: {source: webb}}",
     "public_form.set.source: 'webb' is not one of: web, phone_call, fair; did you mean "
     "'web'? [bad-value]"),
    ("public_form: {fields: [name], set: {sorce: web}}",
     "public_form.set.sorce: unknown field 'sorce' of entity 'prospect'; did you mean "
     "'source'? [unknown-field]"),
    ("public_form: {fields: [name], set: {owner: 3}}", "field 'owner' is of type 'user'"),
    ("public_form: {fields: [name, source], set: {source: web}}",
     "field 'source' is both asked for in fields and set; keep one"),
    ("public_form: {fields: [name], owner: {role: sales_rap}}",
     "public_form.owner.role: unknown role 'sales_rap'; did you mean 'sales_rep'? "
     "[unknown-ref]"),
    ("public_form: {fields: [name], owner: {usr: lena}}",
     "public_form.owner.usr: unknown owner kind 'usr' (use user or role); did you mean "
     "'user'? [unknown-key]"),
    ("public_form: {fields: [name], slug: Contact Us}",
     "public_form.slug: slug 'Contact Us' must be lowercase letters, digits and '-'"),
    ("public_form: {fields: [name], thanks: {en: Thanks, zh_cn: 谢谢}}",
     "public_form.thanks.zh_cn: unknown locale 'zh_cn'; did you mean 'zh_CN'? [unknown-key]"),
    ("public_form: {fields: [name], ratelimit: 5 per hour}",
     "public_form.ratelimit: unknown key 'ratelimit' in public_form; did you mean "
     "'rate_limit'? [unknown-key]"),
    ("public_form: {slug: contact}",
     "public_form: public_form needs fields: the fields the public fills in [missing-key]"),
    ("public_form: [name]", "public_form: expected a mapping (slug, fields, ...)"),
])
def test_compile_errors(tmp_path: Path, form: str, expected: str) -> None:
    """covers: S6(public_form compile errors: file:line:col, path, reason, did-you-mean,
    code)"""
    errors = compile_errors(tmp_path, form)
    assert any(expected in e for e in errors), errors


def test_two_forms_cannot_share_a_slug(tmp_path: Path) -> None:
    """covers: S6(public_form: one address per form)"""
    other = PARTNER.replace("access:", "public_form: {slug: contact-us, fields: [name]}\n"
                                       "access:")
    errors = compile_errors(tmp_path, FORM, {"entities/sales/partner.yaml": other})
    assert any("public_form.slug: slug 'contact-us' is already the public form of entity "
               "'partner'" in e and e.endswith("[duplicate-key]") for e in errors), errors


# -- submitting --------------------------------------------------------------------------------

@pytest.fixture
def portal(tmp_path: Path, make_portal: Any, backend: str) -> Any:
    app = make_portal(write_schema(tmp_path / "schema"), backend=backend,
                      PUBLIC_FORM_MIN_SECONDS=0)
    add_user(app, "rita", ["sales_rep"])
    add_user(app, "sam", ["sales_rep"])
    add_user(app, "dora", ["sales_director"])
    return app


TOKEN = re.compile(r'name="_token" value="([^"]+)"')


def token(client: Any, slug: str = "contact-us") -> str:
    return client.get(f"/public/{slug}/form").get_json()["token"]


def rows(app: Any, sql: str) -> list[Any]:
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)))
    finally:
        engine.dispose()


def prospects(app: Any) -> list[Any]:
    return rows(app, "SELECT id, code, name, phone, email, source, stage, owner_id, budget, "
                     "created_by_id FROM prospect ORDER BY id")


def user_id(app: Any, name: str) -> int:
    return rows(app, f"SELECT id FROM ab_user WHERE username = '{name}'")[0][0]


def test_page_renders_without_login_in_the_browser_language(portal: Any) -> None:
    """covers: S6(public page: anonymous, no portal navigation, en/zh_CN by Accept-Language)"""
    client = portal.test_client()
    page = client.get("/public/contact-us")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "<h1 class=\"pf-title\">Contact us</h1>" in text
    assert 'name="website"' in text and TOKEN.search(text)
    assert "navbar" not in text and "login" not in text.lower()
    assert page.headers["Cache-Control"] == "no-store"
    zh = client.get("/public/contact-us", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    zh_text = zh.get_data(as_text=True)
    assert "联系我们" in zh_text and "姓名" in zh_text and "提交" in zh_text
    assert "客户管理" in zh_text  # an enum value's label
    assert client.get("/public/contact-us?lang=zh_CN").get_data(as_text=True).count("联系我们")
    assert client.get("/public/no-such-form").status_code == 404
    described = client.get("/public/contact-us/form").get_json()
    assert [f["name"] for f in described["fields"]][:2] == ["name", "company"]
    assert described["honeypot_field"] == "website" and described["token_field"] == "_token"


def test_anonymous_post_creates_a_record(portal: Any) -> None:
    """covers: S6(anonymous POST creates a lead with source=web, number, initial state,
    owner from the role, audit entry by the form, notification to the owner)"""
    client = portal.test_client()
    answer = client.post("/public/contact-us", json={
        "_token": token(client), "name": "Wang Fang", "company": "Acme", "phone": "138 0013 8000",
        "email": "Fang@Example.com", "budget": 1234.5, "interest": "crm",
        "message": "需要报价", "website": ""})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {"status": "received",
                                 "message": "Thank you, we will contact you soon."}
    assert "id" not in answer.get_json()  # nothing about the records goes back
    [row] = prospects(portal)
    record_id, code, name, phone, email, source, stage, owner, budget, creator = row
    assert re.fullmatch(r"PR-\d{4}-0001", code) and name == "Wang Fang"
    assert (source, stage, creator) == ("web", "new", None)
    assert str(budget) in ("1234.50", "123450")  # money is stored exactly (minor units)
    assert owner in (user_id(portal, "rita"), user_id(portal, "sam"))
    [audit] = rows(portal, "SELECT action, username, user_id, changes FROM portal_audit_log "
                           f"WHERE entity = 'prospect' AND record_id = {record_id}")
    assert audit[:3] == ("create", "web form contact-us", None)
    assert json.loads(audit[3])["source"] == [None, "web"]
    [note] = rows(portal, "SELECT user_id, kind, title, body FROM portal_notification")
    assert note[0] == owner and note[1] == "web_form"
    assert note[2] == "New Prospect from the web form contact-us: Wang Fang"
    assert "Message: 需要报价" in note[3]
    # The next one goes to the other sales rep (the one owning fewer prospects).
    client.post("/public/contact-us", json={"_token": token(client), "name": "Li Lei"})
    owners = {r[7] for r in prospects(portal)}
    assert owners == {user_id(portal, "rita"), user_id(portal, "sam")}
    # The owner sees it in the portal, under their own scope.
    rep = next(n for n in ("rita", "sam") if user_id(portal, n) == owner)
    listing = WebUser(portal, rep).get("/prospect/list/").get_data(as_text=True)
    assert "Wang Fang" in listing and "Li Lei" not in listing


def test_page_post_creates_a_record_and_thanks(portal: Any) -> None:
    """covers: S6(form-encoded post from the page, thank-you page in the visitor's language)"""
    client = portal.test_client()
    page = client.get("/public/contact-us?lang=zh_CN").get_data(as_text=True)
    done = client.post("/public/contact-us?lang=zh_CN", data={
        "_token": TOKEN.search(page).group(1), "name": "张伟", "email": "zw@example.cn",
        "budget": "¥2,000", "interest": "客户管理", "website": ""})
    text = done.get_data(as_text=True)
    assert done.status_code == 200 and "感谢，我们会尽快联系您。" in text, text
    [row] = prospects(portal)
    assert row[2] == "张伟" and row[5] == "web"
    assert rows(portal, "SELECT interest FROM prospect")[0][0] == "crm"


def test_field_errors_answer_422_and_write_nothing(portal: Any) -> None:
    """covers: S6(validation with the entity's rules: required, lengths, formats, enum,
    numbers; 422 naming fields; nothing written)"""
    client = portal.test_client()
    bad = client.post("/public/contact-us", json={
        "_token": token(client), "name": "", "email": "not-an-email", "phone": "call me",
        "company": "x" * 121, "budget": "-5", "interest": "crm2", "owner": 1})
    assert bad.status_code == 422
    errors = bad.get_json()["message"]
    assert errors["name"] == ["this field is required"]
    assert errors["email"] == ["'not-an-email' is not a valid email address"]
    assert errors["phone"] == ["'call me' is not a valid phone number"]
    assert errors["company"] == ["must be at most 120 characters (got 121)"]
    assert errors["budget"] == ["must be at least 0"]
    assert errors["interest"] == ["'crm2' is not one of crm, erp"]
    assert errors["owner"] == ["unknown field: this form does not take it"]
    wrong_type = client.post("/public/contact-us", json={"_token": token(client),
                                                         "name": ["a"], "budget": True})
    assert wrong_type.status_code == 422
    assert set(wrong_type.get_json()["message"]) == {"name", "budget"}
    assert client.post("/public/contact-us", json=[1, 2]).status_code == 400
    page = client.get("/public/contact-us?lang=zh_CN").get_data(as_text=True)
    shown = client.post("/public/contact-us?lang=zh_CN", data={
        "_token": TOKEN.search(page).group(1), "name": "", "email": "bad@", "company": "Kept"})
    text = shown.get_data(as_text=True)
    assert shown.status_code == 422 and "请修正下面标出的字段。" in text
    assert '<p class="pf-error" data-field="name">此项为必填项</p>' in text
    assert "&#39;bad@&#39; 不是有效的电子邮件地址" in text and 'value="Kept"' in text
    assert prospects(portal) == []
    assert rows(portal, "SELECT count(*) FROM portal_audit_log")[0][0] == 0


def test_token_is_required_and_checked(portal: Any) -> None:
    """covers: S6(signed, time-limited form token: a bot must load the form first)"""
    client = portal.test_client()
    from portal.web import form_token

    missing = client.post("/public/contact-us", json={"name": "Bot"})
    assert missing.status_code == 400 and missing.get_json()["field"] == "_token"
    forged = client.post("/public/contact-us", json={"name": "Bot", "_token": "1.abc"})
    assert forged.status_code == 400
    secret = portal.config["SECRET_KEY"]
    other_form = form_token.issue(secret, "another-form")
    assert client.post("/public/contact-us", json={"name": "Bot", "_token": other_form}
                       ).status_code == 400
    old = form_token.issue(secret, "contact-us", now_ms=1_000)
    expired = client.post("/public/contact-us", data={"name": "Late", "_token": old})
    text = expired.get_data(as_text=True)
    assert expired.status_code == 400 and "Please send it again." in text
    assert 'value="Late"' in text and TOKEN.search(text)  # kept, with a fresh token
    assert prospects(portal) == []


def test_honeypot_and_too_fast_posts_save_nothing(portal: Any, make_portal: Any,
                                                  tmp_path: Path, backend: str,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """covers: S6(honeypot: answered like a success, nothing created, logged; a post sooner
    than a person could fill the form in is treated the same)"""
    client = portal.test_client()
    trapped = client.post("/public/contact-us", json={
        "_token": token(client), "name": "Spam", "website": "http://spam.example"})
    assert trapped.status_code == 200 and trapped.get_json()["status"] == "received"
    assert prospects(portal) == []
    assert "honeypot filled" in caplog.text
    slow = make_portal(write_schema(tmp_path / "schema2"), backend=backend)  # 3 s minimum
    slow_client = slow.test_client()
    fast = slow_client.post("/public/contact-us", json={"_token": token(slow_client),
                                                        "name": "Quick"})
    assert fast.status_code == 200 and fast.get_json()["status"] == "received"
    assert prospects(slow) == [] and "sent too fast" in caplog.text


def test_repeat_by_phone_or_email_creates_nothing(portal: Any) -> None:
    """covers: S6(dedup by normalised phone and email; the same thank-you; the attempt is
    recorded on the existing record and its owner notified)"""
    client = portal.test_client()
    first = {"_token": token(client), "name": "Wang Fang", "phone": "+86 138-0013-8000",
             "email": "fang@example.com"}
    assert client.post("/public/contact-us", json=first).status_code == 200
    [(record_id, *_rest)] = prospects(portal)
    owner = prospects(portal)[0][7]
    again_phone = client.post("/public/contact-us", json={
        "_token": token(client), "name": "Fang W.", "phone": "+86 13800138000",
        "message": "Still waiting for the quote"})
    again_email = client.post("/public/contact-us", json={
        "_token": token(client), "name": "F. Wang", "email": "  FANG@example.COM "})
    assert again_phone.get_json() == again_email.get_json() == {
        "status": "received", "message": "Thank you, we will contact you soon."}
    assert len(prospects(portal)) == 1
    entries = rows(portal, "SELECT action, username, changes FROM portal_audit_log WHERE "
                           f"entity = 'prospect' AND record_id = {record_id} ORDER BY id")
    assert [e[0] for e in entries] == ["create", "web_form_repeat", "web_form_repeat"]
    sent = json.loads(entries[1][2])["_web_form"]
    assert sent["form"] == "contact-us" and sent["sent"]["message"] == \
        "Still waiting for the quote"
    notes = rows(portal, "SELECT user_id, kind, title, body FROM portal_notification "
                         "ORDER BY id")
    assert [n[1] for n in notes] == ["web_form", "web_form_repeat", "web_form_repeat"]
    assert {n[0] for n in notes} == {owner}
    assert notes[1][2] == f"Prospect #{record_id}: sent again through the web form " \
                          "contact-us (same phone)"
    assert "Message: Still waiting for the quote" in notes[1][3]
    assert notes[2][2].endswith("(same email)")
    # A different number is a new prospect.
    client.post("/public/contact-us", json={"_token": token(client), "name": "Other",
                                            "phone": "+86 138 0013 8001"})
    assert len(prospects(portal)) == 2


def test_rate_limit_per_address(portal: Any) -> None:
    """covers: S6(rate limit per client address: 429 with Retry-After after N posts, whether
    the posts were valid or not; other addresses unaffected)"""
    client = portal.test_client()
    here = {"REMOTE_ADDR": "203.0.113.7"}
    statuses = [client.post("/public/contact-us", environ_base=here, json={
        "_token": token(client), "name": f"P{i}" if i % 2 else ""}).status_code
        for i in range(5)]
    assert statuses == [422, 200, 422, 200, 422]
    over = client.post("/public/contact-us", environ_base=here,
                       json={"_token": token(client), "name": "Six"})
    assert over.status_code == 429
    assert 3500 <= int(over.headers["Retry-After"]) <= 3600
    assert "Too many submissions" in over.get_json()["message"]
    page = client.post("/public/contact-us", environ_base=here, data={"name": "Seven"})
    assert page.status_code == 429 and "try again in 60 minute(s)" in page.get_data(as_text=True)
    elsewhere = client.post("/public/contact-us", environ_base={"REMOTE_ADDR": "198.51.100.1"},
                            json={"_token": token(client), "name": "Other"})
    assert elsewhere.status_code == 200
    assert [r[2] for r in prospects(portal)] == ["P1", "P3", "Other"]


def test_rate_window_reopens(portal: Any) -> None:
    """covers: S6(rate limit: a new window once the period has passed)"""
    from portal.engines.rate_limit import hit

    with portal.app_context():
        engine = portal.extensions["sqlalchemy"].engine
        assert [hit(engine, "k", 2, 60, now_ms=1_000).allowed for _ in range(3)] == \
            [True, True, False]
        refused = hit(engine, "k", 2, 60, now_ms=31_000)
        assert not refused.allowed and refused.retry_after == 30
        assert hit(engine, "k", 2, 60, now_ms=61_000).count == 1  # a new window
        hit(engine, "other", 2, 60, now_ms=200_000)  # clears the ended window of "k"
        assert [r[0] for r in rows(portal, "SELECT key FROM portal_rate_counter")] == ["other"]


def test_parallel_posts_never_pass_the_limit(tmp_path: Path, make_portal: Any) -> None:
    """covers: S6(rate limit shared by workers and atomic: 12 parallel posts from one
    address, 5 allowed, on PostgreSQL)"""
    from conftest import PG_SKIP, PG_URL

    if not PG_URL:
        pytest.skip(PG_SKIP)
    app = make_portal(write_schema(tmp_path / "schema"), backend="postgres",
                      PUBLIC_FORM_MIN_SECONDS=0)
    add_user(app, "rita", ["sales_rep"])
    tokens = [token(app.test_client()) for _ in range(12)]
    start = threading.Barrier(12)
    statuses: list[int] = []

    def post(i: int) -> None:
        client = app.test_client()
        start.wait()
        statuses.append(client.post("/public/contact-us", environ_base={
            "REMOTE_ADDR": "192.0.2.9"}, json={"_token": tokens[i], "name": f"N{i}",
                                               "email": f"n{i}@example.com"}).status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 5 + [429] * 7
    assert len(prospects(app)) == 5
    assert rows(app, "SELECT count FROM portal_rate_counter")[0][0] == 12


def test_parallel_repeats_create_one_record(tmp_path: Path, make_portal: Any) -> None:
    """covers: S6(dedup holds under parallel identical posts on PostgreSQL)"""
    from conftest import PG_SKIP, PG_URL

    if not PG_URL:
        pytest.skip(PG_SKIP)
    app = make_portal(write_schema(tmp_path / "schema"), backend="postgres",
                      PUBLIC_FORM_MIN_SECONDS=0)
    tokens = [token(app.test_client()) for _ in range(6)]
    start = threading.Barrier(6)
    statuses: list[int] = []

    def post(i: int) -> None:
        client = app.test_client()
        start.wait()
        statuses.append(client.post("/public/contact-us", environ_base={
            "REMOTE_ADDR": f"192.0.2.{i + 20}"}, json={
            "_token": tokens[i], "name": "Same", "email": "same@example.com"}).status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 6
    assert len(prospects(app)) == 1
    assert rows(app, "SELECT count(*) FROM portal_audit_log WHERE action = "
                     "'web_form_repeat'")[0][0] == 5


def test_form_owner_by_user_and_no_owner(tmp_path: Path, make_portal: Any) -> None:
    """covers: S6(owner: {user: name}; a missing user leaves the record unowned, it is still
    saved)"""
    form = FORM.replace("owner: {role: sales_rep}", "owner: {user: dora}")
    app = make_portal(write_schema(tmp_path / "schema", form), PUBLIC_FORM_MIN_SECONDS=0)
    client = app.test_client()
    client.post("/public/contact-us", json={"_token": token(client), "name": "Before dora"})
    add_user(app, "dora", ["sales_director"])
    client.post("/public/contact-us", json={"_token": token(client), "name": "After dora"})
    assert [(r[2], r[7]) for r in prospects(app)] == [
        ("Before dora", None), ("After dora", user_id(app, "dora"))]
