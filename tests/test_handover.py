"""Handover: every record one user owns goes to another in one audited action, from the
command line and the admin screen; on the test-only schema (no Python names its entities),
SQLite and PostgreSQL."""

from __future__ import annotations

import html
from typing import Any

from conftest import ApiUser, WebUser, add_user, csrf_token


def owned(api: ApiUser, entity: str) -> list[str]:
    return sorted(r["name"] for r in api.get(f"/api/v1/{entity}/").get_json()["result"])


def test_handover_moves_every_record_with_its_history(lowcode_portal: Any) -> None:
    """covers: S9(handover: transfer all records owned by user X to user Y, in one audited
    action) PL3(the new owner's scope sees them) PL5"""
    app = lowcode_portal
    clerk1, clerk2 = ApiUser(app, "clerk1"), ApiUser(app, "clerk2")
    ids = [clerk1.post("/api/v1/gadget/", {"name": f"G{i}"}).get_json()["id"]
           for i in range(3)]
    assert clerk2.post("/api/v1/gadget/", {"name": "Theirs"}).status_code == 201
    assert owned(clerk2, "gadget") == ["Theirs"]
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["portal", "handover", "clerk1", "clerk2"])
    assert dry.exit_code == 0, dry.output
    assert "gadget: 3" in dry.output and "would move 3 record(s) from clerk1 to clerk2" \
        in dry.output
    assert owned(clerk2, "gadget") == ["Theirs"]  # a dry run moves nothing
    done = runner.invoke(args=["portal", "handover", "clerk1", "clerk2", "--apply"])
    assert done.exit_code == 0 and "moved 3 record(s)" in done.output
    assert owned(clerk2, "gadget") == ["G0", "G1", "G2", "Theirs"]
    assert owned(clerk1, "gadget") == []
    history = clerk2.get(f"/api/v1/gadget/{ids[0]}/history").get_json()["result"]
    assert history[0]["action"] == "handover" and history[0]["username"] == "system"
    for bad, why in ((["nobody", "clerk2"], "no user 'nobody'"),
                     (["clerk2", "clerk2"], "already belong to that user"),
                     (["clerk1", "clerk2", "--entity", "widget"], "unknown entity widget")):
        refused = runner.invoke(args=["portal", "handover", *bad])
        assert refused.exit_code == 1 and why in refused.output, refused.output


def test_handover_screen_for_admins(lowcode_portal: Any) -> None:
    """covers: S9(handover: admin screen: preview per entity, untick one, move the rest)"""
    app = lowcode_portal
    add_user(app, "root", ["Admin"])
    clerk1 = ApiUser(app, "clerk1")
    clerk1.post("/api/v1/gadget/", {"name": "G"})
    admin = WebUser(app, "root")
    page = admin.get("/handover/").get_data(as_text=True)
    preview = admin.client.post("/handover/", data={
        "csrf_token": csrf_token(page), "from_user": "clerk1", "to_user": "clerk3"})
    text = html.unescape(preview.get_data(as_text=True))
    assert 'data-entity="gadget"' in text
    moved = admin.client.post("/handover/apply", data={
        "csrf_token": csrf_token(text), "from_user": "clerk1", "to_user": "clerk3",
        "entity": ["gadget"]}, follow_redirects=True)
    assert "1 record(s) moved from clerk1 to clerk3." in html.unescape(
        moved.get_data(as_text=True))
    assert owned(ApiUser(app, "clerk3"), "gadget") == ["G"]
    assert WebUser(app, "clerk2").get("/handover/").status_code in (302, 403)
