"""Duplicates and merge on entities that exist only in this test's schema.

Warnings on create (API and screen), candidate groups (engine, CLI, screen), merge through
the API and the screen with every kind of reference re-pointed, its audit, and who may do
it. Every database test runs on SQLite and, when PORTAL_TEST_DATABASE_URL is set, on
PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import ApiUser, WebUser, add_user, write_tree

ROLES = """
roles:
  clerk:   {label: {en: Clerk, zh_CN: 文员}}
  boss:    {label: {en: Boss, zh_CN: 老板}}
  steward: {label: {en: Data steward, zh_CN: 数据管理员}}
  local_steward: {label: {en: Local steward}}
"""

FIRM = """
entity: firm
module: trade
label: {en: Firm, zh_CN: 公司}
title: name
fields:
  name:   {type: string, max: 80, required: true}
  phone:  {type: phone}
  fax:    {type: phone}
  email:  {type: email}
  note:   {type: text}
  parent: {type: link, entity: firm}
  tags:   {type: many, entity: badge}
  staff:  {type: children, entity: person}
  owner:  {type: user, default: current_user}
access:
  clerk:         {read: own, create: true, update: own}
  boss:          {read: all, create: true, update: all, delete: all}
  steward:       {read: all, merge: true}
  local_steward: {read: own, create: true, merge: true}
"""

PERSON = """
entity: person
module: trade
title: name
fields:
  name: {type: string, max: 60, required: true}
  firm: {type: link, entity: firm, required: true}
access:
  boss:    {read: all, create: true, update: all, delete: all}
  steward: {read: all}
"""

DEAL = """
entity: deal
module: trade
title: title
fields:
  title: {type: string, max: 60, required: true}
  firm:  {type: link, entity: firm}
  firms: {type: many, entity: firm}
access:
  boss:    {read: all, create: true, update: all, delete: all}
  steward: {read: all}
"""

BADGE = """
entity: badge
module: trade
title: word
fields:
  word: {type: string, max: 30, required: true}
access:
  boss:    {read: all, create: true}
  steward: {read: all}
"""

PITCH = """
entity: pitch
module: trade
title: title
fields:
  title:  {type: string, max: 60, required: true}
  status: {type: enum, values: [draft, sent], default: draft}
  owner:  {type: user, default: current_user}
access:
  boss:    {read: all, create: true, update: all}
  steward: {read: all, merge: true}
"""

PITCH_FLOW = """
workflow: pitch_flow
entity: pitch
state_field: status
states: [draft, sent]
transitions:
  send: {from: draft, to: sent, by: owner}
locked_in: [sent]
"""

USERS = (("clerk1", "clerk"), ("clerk2", "clerk"), ("boss", "boss"), ("steward", "steward"),
         ("local", "local_steward"))


@pytest.fixture
def portal(tmp_path: Path, make_portal: Any, backend: str) -> Any:
    """The test-only schema, with one user per role, on each backend."""
    folder = write_tree(tmp_path / "schema", {
        "roles.yaml": ROLES, "entities/trade/firm.yaml": FIRM,
        "entities/trade/person.yaml": PERSON, "entities/trade/deal.yaml": DEAL,
        "entities/trade/badge.yaml": BADGE, "entities/trade/pitch.yaml": PITCH,
        "workflows/pitch_flow.yaml": PITCH_FLOW,
    })
    app = make_portal(folder, backend=backend)
    for name, role in USERS:
        add_user(app, name, [role])
    return app


def _create(api: ApiUser, entity: str, payload: dict[str, Any]) -> dict[str, Any]:
    resp = api.post(f"/api/v1/{entity}/", payload)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _ids(app: Any, sql: str, **params: Any) -> list[Any]:
    from sqlalchemy import text

    with app.app_context():
        return [r[0] for r in app.appbuilder.session.execute(text(sql), params)]


# -- the keys -----------------------------------------------------------------------------

@pytest.mark.parametrize("raw, key", [
    ("+86 138-0013-8000", "+8613800138000"), ("(010) 6552 9988", "01065529988"),
    ("＋８６ １３８", "+86138"), ("n/a", ""), (None, ""),
])
def test_phone_key(raw: Any, key: str) -> None:
    """covers: PL9(phones compare by digits only, keeping a leading +)."""
    from portal.engines.dedup_keys import normalize_phone

    assert normalize_phone(raw) == key


@pytest.mark.parametrize("raw, key", [
    ("ACME Co., Ltd.", "acme"), ("Acme", "acme"), ("acme  inc", "acme"), ("Tesco", "tesco"),
    ("北京星辰科技有限公司", "北京星辰科技"), ("北京星辰科技股份有限公司", "北京星辰科技"),
    ("Co. Ltd", "co"), ("Ａｃｍｅ-Trading", "acmetrading"),
])
def test_name_key(raw: str, key: str) -> None:
    """covers: PL9(names compare without case, spaces, punctuation or company suffixes)."""
    from portal.engines.dedup_keys import normalize_email, normalize_name

    assert normalize_name(raw) == key
    assert normalize_email("  Sales@Acme.TEST ") == "sales@acme.test"


def test_similar_names_pair_among_neighbours() -> None:
    """covers: PL9(similar names are paired among sorted neighbours, exact ones grouped)."""
    from portal.engines.duplicates import name_groups

    groups = name_groups({1: "Acme Trading", 2: "ACME Trading Ltd", 3: "Acme Tradng",
                          4: "Zeta", 5: "Beta Corp", 6: "beta", 7: "Gamma"})
    assert groups == [("acmetrading ~ acmetradng", (1, 2, 3)), ("beta", (5, 6))]


# -- warnings on create -----------------------------------------------------------------------

def test_api_create_warns_about_same_phone_or_email(portal: Any) -> None:
    """covers: PL9(warn on create through the API: same phone or email; the record is still
    created; records the user cannot read are counted, not named)."""
    clerk1, clerk2, boss = (ApiUser(portal, u) for u in ("clerk1", "clerk2", "boss"))
    first = _create(clerk1, "firm", {"name": "Acme", "phone": "+86 138-0013-8000",
                                     "email": "Info@Acme.test"})
    assert "warnings" not in first
    pk = first["id"]
    mine = _create(clerk1, "firm", {"name": "Acme 2", "fax": "+8613800138000",
                                    "email": "info@acme.TEST"})
    assert mine["warnings"] == {"fax": [f"also used by firm #{pk} Acme"],
                                "email": [f"also used by firm #{pk} Acme"]}
    theirs = _create(clerk2, "firm", {"name": "Other", "phone": "+86 138 0013-8000"})
    assert theirs["warnings"] == {"phone": ["also used by 2 other record(s) you cannot see"]}
    seen = _create(boss, "firm", {"name": "Boss", "email": "INFO@acme.test"})
    assert seen["warnings"]["email"] == [f"also used by firm #{pk} Acme",
                                         f"also used by firm #{mine['id']} Acme 2"]
    assert _create(boss, "firm", {"name": "Alone", "phone": "138 0013 8000"}).get(
        "warnings") is None  # no leading +: another number
    assert len(_ids(portal, "SELECT id FROM firm")) == 5


def test_screen_create_flashes_a_warning_with_links(portal: Any) -> None:
    """covers: PL9(warn on create on the add screen, with links to the matches)."""
    first = _create(ApiUser(portal, "clerk1"), "firm", {"name": "Acme", "phone": "010-6552 9988"})
    web = WebUser(portal, "clerk1")
    resp = web.post_form("/firm/add", {"name": "Acme again", "phone": "010 65529988"})
    assert resp.status_code == 302
    page = web.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Possible duplicate" in page
    assert f'href="/firm/show/{first["id"]}"' in page
    assert len(_ids(portal, "SELECT id FROM firm")) == 2


# -- candidate groups -------------------------------------------------------------------------

def _group_fixture(portal: Any) -> dict[str, int]:
    boss = ApiUser(portal, "boss")
    rows = {
        "a": {"name": "Acme Trading", "phone": "+86 138 0013 8000"},
        "b": {"name": "ACME Trading Co., Ltd.", "fax": "+86-138-0013-8000",
              "email": "Sales@Acme.TEST"},
        "c": {"name": "Acme Tradng", "email": "sales@acme.test"},
        "d": {"name": "北京星辰科技有限公司"},
        "e": {"name": "北京星辰科技股份有限公司"},
        "f": {"name": "Zeta"},
    }
    return {k: _create(boss, "firm", v)["id"] for k, v in rows.items()}


def test_groups_by_phone_email_and_name(portal: Any) -> None:
    """covers: PL9(candidate duplicate groups: same phone, same email, similar names; each
    says why; engine, CLI and screen)."""
    from portal.engines.duplicates import duplicate_groups

    ids = _group_fixture(portal)
    with portal.app_context():
        rt = portal.extensions["portal"]
        groups = duplicate_groups(portal.appbuilder.session, rt.registry.entity("firm"),
                                  rt.models.classes["firm"])
    found = [(g.reason, g.key, g.ids) for g in groups]
    assert found == [
        ("phone", "+8613800138000", (ids["a"], ids["b"])),
        ("email", "sales@acme.test", (ids["b"], ids["c"])),
        ("name", "acmetrading ~ acmetradng", (ids["a"], ids["b"], ids["c"])),
        ("name", "北京星辰科技", (ids["d"], ids["e"])),
    ]
    out = portal.test_cli_runner().invoke(args=["portal", "duplicates", "firm"])
    assert out.exit_code == 0, out.output
    assert f"phone +8613800138000: #{ids['a']} Acme Trading, #{ids['b']}" in out.output
    assert "4 group(s) of possible duplicates in firm" in out.output
    by_email = portal.test_cli_runner().invoke(
        args=["portal", "duplicates", "firm", "--by", "email"])
    assert "1 group(s)" in by_email.output
    wrong = portal.test_cli_runner().invoke(args=["portal", "duplicates", "firn"])
    assert wrong.exit_code == 2 and "did you mean 'firm'?" in wrong.output
    page = WebUser(portal, "steward").get("/firm/duplicates")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('class="portal-duplicate-group"') == 4
    assert "北京星辰科技" in html and 'data-reason="email"' in html
    listing = WebUser(portal, "steward").get("/firm/list/").get_data(as_text=True)
    assert 'href="/firm/duplicates"' in listing


# -- merge ------------------------------------------------------------------------------------

def test_merge_relinks_every_reference_and_is_audited(portal: Any) -> None:
    """covers: PL9(merge keeps the master, fills its empty fields, re-links link fields of
    other entities, children rows, many-to-many pairs without doubles and notifications;
    the others are gone (404); the history shows the merge)."""
    from sqlalchemy import text

    boss = ApiUser(portal, "boss")
    b1, b2 = (_create(boss, "badge", {"word": w})["id"] for w in ("gold", "silver"))
    master = _create(boss, "firm", {"name": "Acme", "phone": "+86 138 0013 8000",
                                    "tags": [b1]})["id"]
    other = _create(boss, "firm", {"name": "ACME Ltd", "phone": "+86 139", "email": "a@acme.test",
                                   "note": "from the fair", "tags": [b1, b2]})["id"]
    third = _create(boss, "firm", {"name": "Acme Co", "parent": other})["id"]
    assert boss.put(f"/api/v1/firm/{master}", {"parent": other}).status_code == 200
    li = _create(boss, "person", {"name": "Li", "firm": other})["id"]
    wu = _create(boss, "person", {"name": "Wu", "firm": third})["id"]
    big = _create(boss, "deal", {"title": "Big", "firm": other, "firms": [master, other]})["id"]
    small = _create(boss, "deal", {"title": "Small", "firm": third, "firms": [third]})["id"]
    with portal.app_context():
        session = portal.appbuilder.session
        session.execute(text("INSERT INTO portal_notification (user_id, at, kind, title, body, "
                             "entity, record_id) VALUES (1, CURRENT_TIMESTAMP, 'note', 't', '', "
                             "'firm', :rid)"), {"rid": other})
        session.commit()

    steward = ApiUser(portal, "steward")
    resp = steward.post("/api/v1/firm/merge", {"master": master, "others": [other, third]})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["id"] == master and body["merged"] == [other, third]
    result = body["result"]
    assert result["phone"] == "+86 138 0013 8000"  # the master wins where it has a value
    assert result["email"] == "a@acme.test" and result["note"] == "from the fair"
    assert body["taken"]["email"] == other and body["taken"]["tags"] == [other]
    assert result["parent"] is None  # it pointed at a merged record: no link to itself
    assert sorted(t["id"] for t in result["tags"]) == [b1, b2]
    assert body["relinked"] == {"deal.firm": 2, "deal.firms": 2, "firm.parent": 1,
                                "person.firm": 2}
    for gone in (other, third):
        assert steward.get(f"/api/v1/firm/{gone}").status_code == 404
    for person in (li, wu):
        assert steward.get(f"/api/v1/person/{person}").get_json()["result"]["firm"]["id"] == \
            master
    for deal in (big, small):
        shown = steward.get(f"/api/v1/deal/{deal}").get_json()["result"]
        assert shown["firm"]["id"] == master
        assert [f["id"] for f in shown["firms"]] == [master]  # no doubled pair
    assert _ids(portal, "SELECT record_id FROM portal_notification") == [master]

    history = steward.get(f"/api/v1/firm/{master}/history").get_json()["result"]
    merged = [h for h in history if h["action"] == "merge"]
    assert len(merged) == 1 and merged[0]["username"] == "steward"
    assert merged[0]["changes"]["_merge"]["merged"] == [other, third]
    assert merged[0]["changes"]["_merge"]["relinked"]["person.firm"] == 2
    assert {h["record_id"] for h in history if h["entity"] == "person"
            and h["action"] == "update"} == {li, wu}  # the moved rows show in its history
    deleted = _ids(portal, "SELECT record_id FROM portal_audit_log WHERE entity = 'firm' "
                           "AND action = 'delete' ORDER BY record_id")
    assert deleted == [other, third]
    page = WebUser(portal, "steward").get(f"/firm/show/{master}").get_data(as_text=True)
    assert "portal-history-merged" in page


def test_merge_from_the_duplicates_screen(portal: Any) -> None:
    """covers: PL9(the duplicates screen merges the chosen records into the one kept)."""
    ids = _group_fixture(portal)
    web = WebUser(portal, "steward")
    resp = web.post_form("/firm/merge", {"master": str(ids["b"]),
                                         "others": [str(ids["a"]), str(ids["b"])]},
                         form_url="/firm/duplicates")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/firm/show/{ids['b']}")
    page = web.get(resp.headers["Location"]).get_data(as_text=True)
    assert f"Merged #{ids['a']} into #{ids['b']}" in page
    assert sorted(_ids(portal, "SELECT id FROM firm")) == sorted(
        v for k, v in ids.items() if k != "a")
    refused = web.post_form("/firm/merge", {"master": str(ids["b"]), "others": ["999999"]},
                            form_url="/firm/duplicates")
    assert refused.status_code == 302 and refused.headers["Location"].endswith("/duplicates")
    assert "unknown firm id 999999" in web.get("/firm/duplicates").get_data(as_text=True)


def test_only_stewards_may_merge(portal: Any) -> None:
    """covers: PL9(merge and the duplicates screen need the merge right: 403 otherwise; the
    permission plan grants can_merge from the YAML only)."""
    ids = _group_fixture(portal)
    body = {"master": ids["a"], "others": [ids["b"]]}
    for user in ("boss", "clerk1"):
        assert ApiUser(portal, user).post("/api/v1/firm/merge", body).status_code == 403
        assert WebUser(portal, user).get("/firm/duplicates").status_code in (302, 403)
        assert 'href="/firm/duplicates"' not in WebUser(portal, user).get(
            "/firm/list/").get_data(as_text=True)
    assert ApiUser(portal, "steward").post("/api/v1/deal/merge", body).status_code in (404, 405)
    with portal.app_context():
        sm = portal.appbuilder.sm
        assert ("can_merge", "firm") in sm.get_role_permissions(sm.find_role("steward"))
        assert ("can_merge", "firm") not in sm.get_role_permissions(sm.find_role("boss"))
        assert ("can_merge", "deal") not in sm.get_role_permissions(sm.find_role("steward"))
    assert len(_ids(portal, "SELECT id FROM firm")) == 6
    add_user(portal, "admin", ["Admin"])
    spec = ApiUser(portal, "admin").get("/api/v1/_openapi").get_json()
    assert "/api/v1/firm/merge" in spec["paths"]
    assert "/api/v1/deal/merge" not in spec["paths"]


@pytest.mark.parametrize("payload, field, reason", [
    ({"others": [1]}, "master", "expected a record id"),
    ({"master": "1", "others": [2]}, "master", "expected a record id"),
    ({"master": 1}, "others", "expected a non-empty list of record ids"),
    ({"master": 1, "others": []}, "others", "expected a non-empty list of record ids"),
    ({"master": 1, "others": [True]}, "others", "'True' is not a record id"),
    ({"master": 1, "others": [1]}, "others", "cannot merge record #1 into itself"),
    ({"master": 1, "others": [999]}, "others", "unknown firm id 999"),
    ({"master": 999, "others": [1]}, "master", "unknown firm id 999"),
    ({"master": 1, "others": [2], "keep": True}, "keep", "Unknown field."),
])
def test_bad_merge_input_is_a_422_by_field(portal: Any, payload: dict[str, Any], field: str,
                                          reason: str) -> None:
    """covers: PL9(bad merge input: 422 naming the field and the reason; nothing written)."""
    boss = ApiUser(portal, "boss")
    for name in ("One", "Two"):
        _create(boss, "firm", {"name": name})
    resp = ApiUser(portal, "steward").post("/api/v1/firm/merge", payload)
    assert resp.status_code == 422, resp.get_json()
    assert reason in resp.get_json()["message"][field]
    assert len(_ids(portal, "SELECT id FROM firm")) == 2
    assert _ids(portal, "SELECT id FROM portal_audit_log WHERE action = 'merge'") == []
    steward = ApiUser(portal, "steward")
    assert steward.client.post("/api/v1/firm/merge", data="x",
                               headers=steward.headers).status_code == 400


def test_merge_refuses_unreadable_and_locked_records(portal: Any) -> None:
    """covers: PL9(ids the user cannot read are unknown to the merge; a record in a locked
    workflow state cannot be merged, with a clear message)."""
    mine = _create(ApiUser(portal, "local"), "firm", {"name": "Mine"})["id"]
    theirs = _create(ApiUser(portal, "boss"), "firm", {"name": "Theirs"})["id"]
    resp = ApiUser(portal, "local").post("/api/v1/firm/merge",
                                         {"master": mine, "others": [theirs]})
    assert resp.status_code == 422
    assert resp.get_json()["message"] == {"others": [f"unknown firm id {theirs}"]}

    boss = ApiUser(portal, "boss")
    draft = _create(boss, "pitch", {"title": "Draft"})["id"]
    sent = _create(boss, "pitch", {"title": "Sent"})["id"]
    assert boss.post(f"/api/v1/pitch/{sent}/actions/send", {}).status_code == 200
    resp = ApiUser(portal, "steward").post("/api/v1/pitch/merge",
                                           {"master": draft, "others": [sent]})
    assert resp.status_code == 422
    assert resp.get_json()["message"] == {
        "others": [f"record #{sent} is locked while it is 'sent' and cannot be merged"]}
    assert len(_ids(portal, "SELECT id FROM pitch")) == 2
    other_draft = _create(boss, "pitch", {"title": "Draft 2"})["id"]
    resp = ApiUser(portal, "steward").post("/api/v1/pitch/merge",
                                           {"master": draft, "others": [other_draft]})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["result"]["status"] == "draft"
