"""Approvers' queues, submissions, inbox and delegation ("My work") on the test-only flow
(tests/flow_schema.py), through the screens and the REST API, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

from conftest import ApiUser, WebUser, add_user

TODAY = dt.date.today()


def submitted_claim(alice: ApiUser, title: str, amount: str = "1200.00") -> int:
    resp = alice.post("/api/v1/claim/", {"title": title, "amount": amount,
                                         "purpose": "client visit"})
    assert resp.status_code == 201, resp.get_json()
    pk = resp.get_json()["id"]
    assert alice.post(f"/api/v1/claim/{pk}/actions/submit", {}).status_code == 200
    return pk


def queue(user: ApiUser) -> list[dict[str, Any]]:
    resp = user.get("/api/v1/my/approvals")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["count"] == len(body["result"])
    return body["result"]


def text_of(resp: Any) -> str:
    return html.unescape(re.sub(r"\s+", " ", resp.get_data(as_text=True)))


def test_the_approvers_queue_lists_what_waits_for_them_across_roles(flow_portal: Any) -> None:
    """covers: PL4(queues: My approvals API across users, roles and countersign slots;
    submissions with current approvers)"""
    alice, lena, bob = (ApiUser(flow_portal, n) for n in ("alice", "lena", "bob"))
    fiona, frank, lea = (ApiUser(flow_portal, n) for n in ("fiona", "frank", "lea"))
    small = submitted_claim(alice, "Taxi")
    big = submitted_claim(alice, "Laptop", "8000.00")
    rows = queue(lena)
    assert [(r["entity"], r["id"], r["title"]) for r in rows] == [
        ("claim", small, "Taxi"), ("claim", big, "Laptop")]
    assert [a["name"] for a in rows[0]["actions"]] == ["lead_approve", "reject"]
    assert rows[0]["state"] == "submitted" and rows[0]["url"] == f"/claim/show/{small}"
    assert [a["comment_required"] for a in rows[0]["actions"]] == [False, True]
    assert queue(bob) == [] and queue(alice) == []
    subs = alice.get("/api/v1/my/submissions").get_json()["result"]
    assert {(s["id"], s["state"], tuple(s["waiting_for"])) for s in subs} == {
        (small, "submitted", ("lena",)), (big, "submitted", ("lena",))}
    assert bob.get("/api/v1/my/submissions").get_json()["result"] == []

    assert lena.post(f"/api/v1/claim/{big}/actions/lead_approve", {}).status_code == 200
    assert [r["id"] for r in queue(lena)] == [small]
    # the countersign waits for one of finance and for legal: both roles see it
    for user in (fiona, frank, lea):
        assert [(r["id"], [a["name"] for a in r["actions"]]) for r in queue(user)] == [
            (big, ["big_approve", "reject"])]
    subs = {s["id"]: s for s in alice.get("/api/v1/my/submissions").get_json()["result"]}
    assert subs[big]["state"] == "lead_ok"
    assert subs[big]["waiting_for"] == ["role:finance", "role:legal"]
    assert fiona.post(f"/api/v1/claim/{big}/actions/big_approve", {}).status_code == 200
    # finance's part is signed: neither finance user is asked again; legal still is
    assert queue(fiona) == [] and queue(frank) == []
    assert [r["id"] for r in queue(lea)] == [big]
    assert lea.post(f"/api/v1/claim/{big}/actions/big_approve", {}).status_code == 200
    assert queue(lea) == []
    assert [r["id"] for r in queue(fiona)] == [big]  # now to pay
    assert [a["name"] for a in queue(fiona)[0]["actions"]] == ["pay"]


def test_approve_and_reject_in_place_from_the_queue_screen(flow_portal: Any) -> None:
    """covers: PL4(My approvals screen with its count in the menu and navbar, approve and
    reject in place with a comment, CSRF) PL5(transition in the audit trail with comment)"""
    alice = ApiUser(flow_portal, "alice")
    small = submitted_claim(alice, "Taxi")
    big = submitted_claim(alice, "Laptop", "8000.00")
    lena = WebUser(flow_portal, "lena")
    page = text_of(lena.get("/my/approvals/"))
    assert "My approvals (2)" in page  # the menu item
    assert re.search(r'portal-nav-approvals.*?data-count="2"', lena.get("/my/approvals/")
                     .get_data(as_text=True), re.S)
    assert "Taxi" in page and "Laptop" in page
    # the CSRF token is required: without it nothing happens
    bare = lena.client.post(f"/my/approvals/claim/{small}", data={"action": "lead_approve"})
    assert bare.status_code == 400
    assert ApiUser(flow_portal, "alice").get(f"/api/v1/claim/{small}/workflow") \
        .get_json()["state"] == "submitted"

    done = lena.post_form(f"/my/approvals/claim/{small}", {"action": "lead_approve",
                                                          "comment": "ok"},
                          form_url="/my/approvals/")
    assert done.status_code == 302 and done.location.endswith("/my/approvals/")
    page = text_of(lena.get("/my/approvals/"))
    assert "Done: lead_approve: submitted -> lead_ok; small_approve: lead_ok -> approved" \
        in page
    assert "My approvals (1)" in page and "Taxi" not in page.split("Laptop")[0][-200:]

    refused = lena.post_form(f"/my/approvals/claim/{big}", {"action": "reject"},
                             form_url="/my/approvals/")
    assert refused.status_code == 302
    page = text_of(lena.get("/my/approvals/"))
    assert "a comment is required to reject" in page and "My approvals (1)" in page
    lena.post_form(f"/my/approvals/claim/{big}", {"action": "reject",
                                                  "comment": "no budget <b>left</b>"},
                   form_url="/my/approvals/")
    page = lena.get("/my/approvals/").get_data(as_text=True)
    assert "Nothing waits for you." in page
    assert '<span class="badge portal-badge" data-count' not in page

    history = alice.get(f"/api/v1/claim/{big}/history").get_json()["result"]
    step = next(h for h in history if h["action"] == "transition"
                and h["changes"]["_workflow"]["transition"] == "reject")
    assert step["username"] == "lena"
    assert step["changes"]["status"] == ["submitted", "rejected"]
    assert step["changes"]["_workflow"]["comment"] == "no budget <b>left</b>"
    # the state change is recorded once, by the transition, not again as an edit
    assert not any(h["action"] == "update" and "status" in h["changes"] for h in history)
    show = WebUser(flow_portal, "alice").get(f"/claim/show/{big}").get_data(as_text=True)
    assert "no budget &lt;b&gt;left&lt;/b&gt;" in show and "<b>left</b>" not in show
    assert 'portal-history-transition">Reject' in show


def test_inbox_shows_unread_count_and_marks_read(flow_portal: Any) -> None:
    """covers: PL10(in-app inbox with the unread count in the navbar; mark read; another
    user's notifications untouched)"""
    alice = ApiUser(flow_portal, "alice")
    first = submitted_claim(alice, "Taxi")
    submitted_claim(alice, "Hotel")
    lena = ApiUser(flow_portal, "lena")
    box = lena.get("/api/v1/my/notifications").get_json()
    assert box["unread"] == 2
    assert [n["title"] for n in box["result"]] == ["Claim Hotel waits for your approval",
                                                   "Claim Taxi waits for your approval"]
    assert box["result"][1]["url"] == f"/claim/show/{first}"
    web = WebUser(flow_portal, "lena")
    page = web.get("/my/inbox/").get_data(as_text=True)
    assert re.search(r'portal-unread-count" data-count="2"', page)
    assert page.count('class="portal-notification portal-unread"') == 2
    # someone else cannot mark lena's notifications
    ids = [n["id"] for n in box["result"]]
    assert alice.post("/api/v1/my/notifications/read", {"ids": ids}).get_json()["marked"] == 0
    assert lena.get("/api/v1/my/notifications").get_json()["unread"] == 2
    # opening one marks it read and lands on the record
    opened = web.get(f"/my/inbox/{ids[1]}")
    assert opened.status_code == 302 and opened.location.endswith(f"/claim/show/{first}")
    assert web.get(f"/my/inbox/{ids[0] + 1000}").status_code == 404
    assert lena.get("/api/v1/my/notifications?unread=1").get_json()["unread"] == 1
    bad = lena.post("/api/v1/my/notifications/read", {"ids": "all"})
    assert bad.status_code == 422 and "ids" in bad.get_json()["message"]
    assert lena.post("/api/v1/my/notifications/read", {"everything": True}).status_code == 422
    assert lena.post("/api/v1/my/notifications/read", {"all": True}).get_json() == {
        "marked": 1, "unread": 0}
    page = web.get("/my/inbox/").get_data(as_text=True)
    assert "portal-unread-count" not in page and "portal-unread" not in page


def test_delegation_lets_a_substitute_act_on_behalf(flow_portal: Any) -> None:
    """covers: PL4(delegation self-service screen and API, substitute's queue, "on behalf of"
    in the timeline and the audit trail; bad delegations refused by field)"""
    alice, lena, sam = (ApiUser(flow_portal, n) for n in ("alice", "lena", "sam"))
    pk = submitted_claim(alice, "Taxi")
    assert queue(sam) == []
    period = {"starts": TODAY.isoformat(), "ends": (TODAY + dt.timedelta(days=3)).isoformat()}
    bad_cases = [
        ({"substitute": "lena", **period}, "substitute", "your own substitute"),
        ({"substitute": "nobody", **period}, "substitute", "no active user 'nobody'"),
        ({"substitute": "sam", "starts": period["ends"], "ends": period["starts"]}, "ends",
         "must not be before the start"),
        ({"substitute": "sam", "starts": "2020-01-01", "ends": "2020-01-05"}, "ends",
         "in the past"),
        ({"substitute": "sam", "starts": "tomorrow", "ends": period["ends"]}, "starts",
         "not a date"),
    ]
    for body, field, reason in bad_cases:
        resp = lena.post("/api/v1/my/delegations", body)
        assert resp.status_code == 422, body
        assert any(reason in r for r in resp.get_json()["message"][field]), resp.get_json()
    assert lena.post("/api/v1/my/delegations", {"substitute": "sam", "x": 1, **period}) \
        .status_code == 422
    made = lena.post("/api/v1/my/delegations", {"substitute": "sam", **period})
    assert made.status_code == 201, made.get_json()
    overlap = lena.post("/api/v1/my/delegations", {"substitute": "bob", **period})
    assert overlap.status_code == 422
    assert "overlaps your delegation to sam" in overlap.get_json()["message"]["starts"][0]
    assert sam.get("/api/v1/my/delegations").get_json()["received"][0]["user"] == "lena"

    rows = queue(sam)
    assert [(r["id"], [(a["name"], a["on_behalf_of"]) for a in r["actions"]]) for r in rows] \
        == [(pk, [("lead_approve", "lena"), ("reject", "lena")])]
    web = WebUser(flow_portal, "sam")
    assert "on behalf of lena" in text_of(web.get("/my/approvals/"))
    web.post_form(f"/my/approvals/claim/{pk}", {"action": "lead_approve"},
                  form_url="/my/approvals/")
    timeline = alice.get(f"/api/v1/claim/{pk}/workflow").get_json()["timeline"]
    assert (timeline[1]["actor"], timeline[1]["on_behalf_of"]) == ("sam", "lena")
    history = alice.get(f"/api/v1/claim/{pk}/history").get_json()["result"]
    step = next(h for h in history if h["changes"].get("_workflow", {}).get("transition")
                == "lead_approve")
    assert step["username"] == "sam" and step["changes"]["_workflow"]["on_behalf_of"] == "lena"
    # lena still reads the claim acted on in her name, though her scope is "own"
    assert lena.get(f"/api/v1/claim/{pk}").status_code == 200

    # nobody cancels someone else's delegation; the owner can
    delegation = made.get_json()["id"]
    assert sam.delete(f"/api/v1/my/delegations/{delegation}").status_code == 404
    assert lena.delete(f"/api/v1/my/delegations/{delegation}").status_code == 200
    assert lena.get("/api/v1/my/delegations").get_json()["given"] == []


def test_delegation_screen_saves_and_reports_errors(flow_portal: Any) -> None:
    """covers: PL4(delegation self-service screen for every role, errors named by field)"""
    lea = WebUser(flow_portal, "lea")  # legal: a role with read access only
    page = lea.get("/my/delegations/").get_data(as_text=True)
    assert 'name="substitute"' in page
    sam_id = re.search(r'<option value="(\d+)" >sam</option>', page).group(1)
    resp = lea.post_form("/my/delegations/", {"substitute": sam_id, "starts": "2020-01-01",
                                              "ends": "2020-01-02"})
    assert resp.status_code == 302
    page = text_of(lea.get(resp.location))
    assert "Ends: is in the past" in page
    assert 'value="2020-01-01"' in page  # what was typed is kept
    ends = (TODAY + dt.timedelta(days=7)).isoformat()
    resp = lea.post_form("/my/delegations/", {"substitute": sam_id,
                                              "starts": TODAY.isoformat(), "ends": ends})
    page = text_of(lea.get(resp.location))
    assert "Delegation saved." in page and ends in page and "running" in page
    for user in ("lena", "alice", "fiona"):
        assert WebUser(flow_portal, user).get("/my/delegations/").status_code == 200


def test_my_work_is_in_openapi_and_needs_a_login(flow_portal: Any) -> None:
    """covers: PL4(My approvals API documented in OpenAPI) PL10(notifications API)"""
    client = flow_portal.test_client()
    assert client.get("/api/v1/my/approvals").status_code == 401
    assert client.get("/my/approvals/").status_code == 302  # to the login page
    add_user(flow_portal, "root", ["Admin"])
    spec = ApiUser(flow_portal, "root").get("/api/v1/_openapi").get_json()
    for path in ("approvals", "submissions", "notifications", "notifications/read",
                 "delegations", "delegations/{delegation_id}"):
        assert f"/api/v1/my/{path}" in spec["paths"], sorted(spec["paths"])
