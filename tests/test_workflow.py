"""The workflow engine end to end on a test-only flow (tests/flow_schema.py), over the REST
API and the record's page, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import ApiUser, WebUser, add_user, csrf_token, write_tree
from sqlalchemy import select, text


def new_claim(user: ApiUser, amount: Any = "1200.00", **extra: Any) -> int:
    resp = user.post("/api/v1/claim/", {"title": "Taxi", "amount": amount,
                                         "purpose": "client visit", **extra})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def act(user: ApiUser, pk: int, action: str, comment: Any = None) -> Any:
    body = {} if comment is None else {"comment": comment}
    return user.post(f"/api/v1/claim/{pk}/actions/{action}", body)


def state(user: ApiUser, pk: int) -> dict[str, Any]:
    resp = user.get(f"/api/v1/claim/{pk}/workflow")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def actions(user: ApiUser, pk: int) -> list[str]:
    return [a["name"] for a in state(user, pk)["actions"]]


def test_small_claim_goes_through_the_manager_then_by_itself(flow_portal: Any) -> None:
    """covers: PL4(multi-level, dynamic approver = owner's manager, amount condition,
    automatic transition, effects, timeline, audit) PL10(in-app notification)"""
    alice, lena, bob = (ApiUser(flow_portal, n) for n in ("alice", "lena", "bob"))
    forged = alice.post("/api/v1/claim/", {"title": "Taxi", "status": "paid"})
    assert forged.status_code == 422 and "status" in forged.get_json()["message"]
    pk = new_claim(alice, "1200.00")
    assert state(alice, pk)["state"] == "draft"
    assert actions(alice, pk) == ["submit"]
    assert act(alice, pk, "submit").get_json()["state"] == "submitted"
    assert actions(alice, pk) == ["withdraw"]
    # the manager reads the claim while it waits for her, although her scope is "own"
    assert actions(lena, pk) == ["lead_approve", "reject"]
    assert [r["id"] for r in lena.get("/api/v1/claim/").get_json()["result"]] == [pk]
    assert bob.get("/api/v1/claim/").get_json()["count"] == 0
    assert bob.get(f"/api/v1/claim/{pk}").status_code == 404
    assert act(bob, pk, "lead_approve").status_code == 404
    resp = act(lena, pk, "lead_approve")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["state"] == "approved" and body["moved"] is True
    assert body["steps"] == ["lead_approve: submitted -> lead_ok",
                             "small_approve: lead_ok -> approved"]
    record = alice.get(f"/api/v1/claim/{pk}").get_json()["result"]
    assert record["status"] == "approved"
    assert record["approved_on"] == dt.date.today().isoformat()
    timeline = state(alice, pk)["timeline"]
    assert [(s["transition"], s["kind"], s["actor"]) for s in timeline] == [
        ("submit", "transition", "alice"), ("lead_approve", "transition", "lena"),
        ("small_approve", "automatic", "system")]
    history = alice.get(f"/api/v1/claim/{pk}/history").get_json()["result"]
    moves = [h["changes"]["status"] for h in reversed(history) if "status" in h["changes"]]
    assert moves == [[None, "draft"], ["draft", "submitted"], ["submitted", "lead_ok"],
                     ["lead_ok", "approved"]]
    with flow_portal.app_context():
        titles = [t for (t,) in flow_portal.appbuilder.session.execute(text(
            "SELECT title FROM portal_notification n JOIN ab_user u ON u.id = n.user_id "
            "WHERE u.username = 'alice' ORDER BY n.id"))]
    assert "Your claim was approved" in titles
    assert any("lead_approve by lena" in t for t in titles)


def test_big_claim_needs_finance_and_legal(flow_portal: Any) -> None:
    """covers: PL4(countersign: all of several approvers; self-approval refused)"""
    alice, lena, fiona, frank, lea = (ApiUser(flow_portal, n) for n in
                                      ("alice", "lena", "fiona", "frank", "lea"))
    pk = new_claim(alice, "9000.00")
    act(alice, pk, "submit")
    assert act(lena, pk, "lead_approve").get_json()["state"] == "lead_ok"
    first = act(frank, pk, "big_approve")
    assert first.status_code == 200 and first.get_json()["moved"] is False
    assert first.get_json()["waiting"] == 1
    assert act(frank, pk, "big_approve").status_code == 409  # not twice
    assert act(fiona, pk, "big_approve").status_code == 403  # finance's part is done
    done = act(lea, pk, "big_approve")
    assert done.get_json()["state"] == "approved", done.get_json()
    kinds = [(s["transition"], s["kind"]) for s in state(alice, pk)["timeline"]]
    assert ("big_approve", "approval") in kinds and kinds[-1] == ("big_approve", "transition")
    # fiona's own claim: her manager approves, but she may not fill finance's slot herself
    own = new_claim(ApiUser(flow_portal, "fiona"), "7000.00")
    act(fiona, own, "submit")
    act(lena, own, "lead_approve")
    assert act(fiona, own, "big_approve").status_code == 403
    assert "big_approve" in actions(frank, own)


def test_reject_needs_a_comment_then_edit_and_resubmit(flow_portal: Any) -> None:
    """covers: PL4(reject with comment, locked while pending, editable per state,
    resubmit)"""
    alice, lena = ApiUser(flow_portal, "alice"), ApiUser(flow_portal, "lena")
    pk = new_claim(alice)
    act(alice, pk, "submit")
    locked = alice.put(f"/api/v1/claim/{pk}", {"amount": "1.00"})
    assert locked.status_code == 403 and "locked" in locked.get_json()["message"]
    assert alice.delete(f"/api/v1/claim/{pk}").status_code == 403
    refused = act(lena, pk, "reject")
    assert refused.status_code == 422 and "comment" in refused.get_json()["message"]
    assert act(lena, pk, "reject", "  ").status_code == 422
    assert act(lena, pk, "reject", comment=5).status_code == 422
    assert act(lena, pk, "reject", "receipt missing").get_json()["state"] == "rejected"
    assert state(alice, pk)["timeline"][-1]["comment"] == "receipt missing"
    assert alice.put(f"/api/v1/claim/{pk}", {"amount": "80.00"}).status_code == 200
    status = alice.put(f"/api/v1/claim/{pk}", {"status": "approved"})
    assert status.status_code == 422  # the state is not a writable field
    assert act(alice, pk, "submit").get_json()["state"] == "submitted"
    assert act(lena, pk, "lead_approve").get_json()["state"] == "approved"


def test_stage_gate_names_missing_fields(flow_portal: Any) -> None:
    """covers: PL4(fields required to enter a state, with a message naming them)"""
    alice = ApiUser(flow_portal, "alice")
    pk = new_claim(alice, None, purpose=None)
    resp = act(alice, pk, "submit")
    assert resp.status_code == 422
    message = resp.get_json()["message"]
    assert set(message) == {"amount", "purpose", "_"}
    assert "Amount" in message["_"][0] and "Purpose" in message["_"][0]
    assert state(alice, pk)["state"] == "draft"


def test_withdraw_only_while_nobody_acted(flow_portal: Any) -> None:
    """covers: PL4(withdraw by the submitter; wrong state is a clear 409)"""
    alice, lena = ApiUser(flow_portal, "alice"), ApiUser(flow_portal, "lena")
    pk = new_claim(alice, "9000.00")
    act(alice, pk, "submit")
    assert act(alice, pk, "withdraw").get_json()["state"] == "draft"
    act(alice, pk, "submit")
    act(lena, pk, "lead_approve")
    late = act(alice, pk, "withdraw")
    assert late.status_code == 409 and "lead_ok" in late.get_json()["message"]
    assert act(alice, pk, "no_such_action").status_code == 422
    assert act(alice, pk, "small_approve").status_code in (409, 422)


def test_substitute_acts_on_behalf(flow_portal: Any) -> None:
    """covers: PL4(delegation: a substitute for a period, recorded as on behalf of)"""
    from portal.system_models import Delegation, PortalUser

    with flow_portal.app_context():
        session = flow_portal.appbuilder.session
        ids = {u.username: u.id for u in session.scalars(select(PortalUser))}
        today = dt.date.today()
        session.add(Delegation(user_id=ids["lena"], substitute_id=ids["sam"],
                               starts=today - dt.timedelta(days=1),
                               ends=today + dt.timedelta(days=1)))
        session.add(Delegation(user_id=ids["lena"], substitute_id=ids["bob"],
                               starts=today - dt.timedelta(days=9),
                               ends=today - dt.timedelta(days=2)))  # over
        session.commit()
    alice, sam, bob = (ApiUser(flow_portal, n) for n in ("alice", "sam", "bob"))
    pk = new_claim(alice)
    act(alice, pk, "submit")
    assert act(bob, pk, "lead_approve").status_code == 404
    offered = state(sam, pk)["actions"]
    assert offered[0]["name"] == "lead_approve" and offered[0]["on_behalf_of"] == "lena"
    assert act(sam, pk, "lead_approve").get_json()["state"] == "approved"
    step = state(alice, pk)["timeline"][1]
    assert (step["actor"], step["on_behalf_of"]) == ("sam", "lena")


def test_payment_creates_the_payout_record(flow_portal: Any) -> None:
    """covers: PL4(effect: create a related record on entering a state)"""
    alice, lena, frank = (ApiUser(flow_portal, n) for n in ("alice", "lena", "frank"))
    pk = new_claim(alice, "300.00")
    act(alice, pk, "submit")
    act(lena, pk, "lead_approve")
    assert act(frank, pk, "pay").get_json()["state"] == "paid"
    payouts = frank.get("/api/v1/payout/").get_json()["result"]
    assert [(p["claim"]["id"], p["amount"], p["memo"]) for p in payouts] == \
        [(pk, "300.00", "paid")]


def test_record_page_shows_buttons_and_takes_actions(flow_portal: Any) -> None:
    """covers: PL4(actions as buttons on the record's page, timeline on the page)"""
    alice_api = ApiUser(flow_portal, "alice")
    pk = new_claim(alice_api)
    alice = WebUser(flow_portal, "alice")
    page = alice.get(f"/claim/show/{pk}").get_data(as_text=True)
    assert 'data-action="submit"' in page and 'data-state="draft"' in page
    forged = alice.client.post(f"/claim/action/{pk}/submit", data={})
    assert forged.status_code == 400
    assert state(alice_api, pk)["state"] == "draft"
    resp = alice.client.post(f"/claim/action/{pk}/submit",
                             data={"csrf_token": csrf_token(page)})
    assert resp.status_code == 302
    page = alice.get(f"/claim/show/{pk}").get_data(as_text=True)
    assert 'data-state="submitted"' in page and 'data-action="withdraw"' in page
    assert 'data-transition="submit"' in page
    lena = WebUser(flow_portal, "lena")
    page = lena.get(f"/claim/show/{pk}").get_data(as_text=True)
    resp = lena.client.post(f"/claim/action/{pk}/reject",
                            data={"csrf_token": csrf_token(page)}, follow_redirects=True)
    assert "a comment is required" in resp.get_data(as_text=True)
    assert state(alice_api, pk)["state"] == "submitted"


def test_actions_are_in_the_openapi_spec(flow_portal: Any) -> None:
    """covers: PL4(the action endpoint is documented in OpenAPI)"""
    add_user(flow_portal, "root", ["Admin"])
    paths = ApiUser(flow_portal, "root").get("/api/v1/_openapi").get_json()["paths"]
    action = paths["/api/v1/claim/{pk}/actions/{name}"]["post"]
    assert {"200", "403", "409", "422"} <= set(action["responses"])
    assert "comment" in str(action["requestBody"])
    assert "/api/v1/claim/{pk}/workflow" in paths
    assert "/api/v1/payout/{pk}/actions/{name}" not in paths


def test_two_approvers_at_once_one_wins(flow_portal: Any, backend: str) -> None:
    """covers: PL4(a transition is atomic: two approvers at once get one success and one
    409), with parallel workers on PostgreSQL"""
    if backend != "postgres":
        pytest.skip("parallel writers need PostgreSQL (SQLite serialises whole writes)")
    from portal.system_models import Delegation, PortalUser

    alice = ApiUser(flow_portal, "alice")
    with flow_portal.app_context():
        session = flow_portal.appbuilder.session
        ids = {u.username: u.id for u in session.scalars(select(PortalUser))}
        today = dt.date.today()
        session.add(Delegation(user_id=ids["lena"], substitute_id=ids["sam"],
                               starts=today, ends=today))
        session.commit()
    approvers = [ApiUser(flow_portal, "lena"), ApiUser(flow_portal, "sam")]
    claims = [new_claim(alice) for _ in range(12)]
    for pk in claims:
        act(alice, pk, "submit")
    results: dict[int, list[int]] = {pk: [] for pk in claims}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker(user: ApiUser) -> None:
        try:
            start.wait()
            for pk in claims:
                results[pk].append(act(user, pk, "lead_approve").status_code)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(u,)) for u in approvers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert all(sorted(codes) == [200, 409] for codes in results.values()), results
    for pk in claims:
        assert [s["transition"] for s in state(alice, pk)["timeline"]] == \
            ["submit", "lead_approve", "small_approve"]


LEAVE = {
    "roles.yaml": "roles: {staff: {}, hr: {}, boss: {}, audit: {}}\n",
    "entities/people/leave.yaml": """
entity: leave
fields:
  reason: {type: string, required: true}
  days:   {type: int, min: 1}
  state:  {type: enum, values: [asked, head_ok, granted]}
access:
  staff: {read: own, create: true, update: own}
  hr:    {read: all}
  boss:  {read: all}
  audit: {read: all}
""",
    "workflows/leave.yaml": """
workflow: leave_flow
entity: leave
state_field: state
states: [asked, head_ok, granted]
transitions:
  head_approve: {from: asked, to: head_ok, by: {head_of: owner}}
  grant:
    from: head_ok
    to: granted
    by: {quorum: 2, of: [{role: hr}, {role: boss}, {role: audit}]}
""",
}


def test_department_head_and_two_of_three(tmp_path: Path, make_portal: Any,
                                          backend: str) -> None:
    """covers: PL4(head of the owner's department as approver; a quorum of 2 of 3)"""
    from portal.system_models import Department, PortalUser

    app = make_portal(write_tree(tmp_path / "leave-schema", LEAVE), backend=backend)
    for name, roles, dept in (("head", ["staff"], "ops"), ("ann", ["staff"], "ops"),
                              ("hal", ["hr"], None), ("bea", ["boss"], None),
                              ("aud", ["audit"], None), ("other", ["staff"], "ops")):
        add_user(app, name, roles, department=dept)
    with app.app_context():
        session = app.appbuilder.session
        ops = session.scalars(select(Department).where(Department.name == "ops")).one()
        ops.head_id = session.scalars(select(PortalUser.id).where(
            PortalUser.username == "head")).one()
        session.commit()
    ann = ApiUser(app, "ann")
    pk = ann.post("/api/v1/leave/", {"reason": "holiday", "days": 3}).get_json()["id"]

    def go(who: str, action: str) -> Any:
        return ApiUser(app, who).post(f"/api/v1/leave/{pk}/actions/{action}", {})

    assert go("other", "head_approve").status_code == 404  # not hers to see
    assert go("head", "head_approve").get_json()["state"] == "head_ok"
    first = go("hal", "grant").get_json()
    assert (first["moved"], first["waiting"]) == (False, 1)
    done = go("aud", "grant").get_json()
    assert (done["state"], done["moved"]) == ("granted", True)
    assert go("bea", "grant").status_code == 409
