"""Kanban boards (``board:`` in an entity's YAML): compile errors, the board as each role
sees it, moves by workflow transition and by plain edit, refusals that change nothing, and
assign by stage; on the test-only schema of tests/board_schema.py, SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from board_schema import DEAL, write_board_schema
from conftest import ApiUser, WebUser, add_user, write_tree

from portal.spec.compiler import compile_schema_dir
from portal.spec.model import SpecErrors


@pytest.fixture
def portal(tmp_path: Path, make_portal: Any, backend: str) -> Any:
    app = make_portal(write_board_schema(tmp_path / "schema"), backend=backend)
    for name, roles in (("ann", ["rep"]), ("ray", ["rep"]), ("bo", ["boss"]),
                        ("pia", ["peek"])):
        add_user(app, name, roles)
    return app


def deal(api: ApiUser, name: str, amount: str, **more: Any) -> int:
    resp = api.post("/api/v1/deal/", {"name": name, "amount": amount, **more})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def columns(api: ApiUser, entity: str = "deal", query: str = "") -> dict[str, Any]:
    resp = api.get(f"/api/v1/{entity}/board{query}")
    assert resp.status_code == 200, resp.get_json()
    return {c["value"]: c for c in resp.get_json()["columns"]}


def move(api: ApiUser, record_id: int, to: str, entity: str = "deal", **more: Any) -> Any:
    return api.post(f"/api/v1/{entity}/board/move", {"id": record_id, "to": to, **more})


def stage(app: Any, record_id: int) -> str:
    return ApiUser(app, "bo").get(f"/api/v1/deal/{record_id}").get_json()["result"]["stage"]


# -- compile errors ---------------------------------------------------------------------------

BAD_BOARDS = [
    ("board: {field: stag}", "board.field: unknown field 'stag'; did you mean 'stage'? "
                             "[unknown-field]"),
    ("board: {field: amount}", "board.field: a board's columns come from an enum field or the "
                               "workflow's state field; 'amount' is of type 'money' [bad-ref]"),
    ("board: {field: stage, sum: name}", "board.sum: a board totals an int, decimal or money "
                                         "field; 'name' is of type 'string' [bad-ref]"),
    ("board: {field: stage, sum: amont}", "board.sum: unknown field 'amont'; did you mean "
                                          "'amount'? [unknown-field]"),
    ("board: {field: stage, columns: [lead, wonn]}",
     "board.columns: 'wonn' is not a value of 'stage' (lead, qualified, proposal, won, "
     "lost); did you mean 'won'? [unknown-value]"),
    ("board: {field: stage, columns: [lead, lead]}",
     "board.columns: 'lead' is listed twice [duplicate-value]"),
    ("board: {field: stage, card: [amount, amount]}",
     "board.card: 'amount' is listed twice [duplicate-value]"),
    ("board: {field: stage, card: [acount]}",
     "board.card: unknown field 'acount'; did you mean 'account'? [unknown-field]"),
    ("board: {field: stage, card: [notes]}",
     "board.card: a card cannot show 'notes', a field of type 'text' [bad-ref]"),
    ("board: {field: stage, filters: [close_date]}",
     "board.filters: a board filters on enum, user, link or bool fields; 'close_date' is of "
     "type 'date' [bad-ref]"),
    ("board: {field: stage, filters: [stage]}",
     "board.filters: 'stage' is the board's own field: its values are the columns [bad-ref]"),
    ("board: {field: stage, limit: 0}",
     "board.limit: expected an integer of at least 1, got '0' [bad-value]"),
    ("board: {field: stage, limit: 9999}", "board.limit: at most 500 cards a column, got "
                                           "'9999' [bad-value]"),
    ("board: {field: stage, colums: [lead]}",
     "board.colums: unknown key 'colums'; did you mean 'columns'? [unknown-key]"),
    ("board: {sum: amount}", "board: missing required key 'field' [missing-key]"),
    ("board: [stage]", "board: expected a mapping, got a list [bad-value]"),
]


@pytest.mark.parametrize(("board", "error"), BAD_BOARDS)
def test_compile_errors(tmp_path: Path, board: str, error: str) -> None:
    """covers: S12(board YAML: every mistake is a positioned error with a code and a
    did-you-mean)"""
    body = DEAL.split("board:")[0].replace("  owner:      {type: user, default: current_user}",
                                           "  owner:      {type: user, default: current_user}\n"
                                           "  notes:      {type: text}")
    folder = write_board_schema(tmp_path / "schema")
    write_tree(folder, {"entities/sales/deal.yaml": body + board + "\n"})
    with pytest.raises(SpecErrors) as caught:
        compile_schema_dir(folder, display_base=folder)
    found = [str(e) for e in caught.value.errors]
    assert any(e.startswith("entities/sales/deal.yaml:") and e.endswith(error)
               for e in found), found
    assert all(re.match(r"^entities/sales/deal\.yaml:\d+:\d+: board", e) for e in found), found


def test_defaults_and_plain_enum(tmp_path: Path) -> None:
    """covers: S12(columns default to the workflow's states; filters to the list's filters
    that a board can use)"""
    registry = compile_schema_dir(write_board_schema(tmp_path / "schema"))
    pipeline = registry.feature("board", "deal")
    assert pipeline.columns == ("lead", "qualified", "proposal", "won", "lost")
    assert pipeline.by_workflow and pipeline.filters == ("owner", "account")
    chores = registry.feature("board", "chore")
    assert not chores.by_workflow and chores.limit == 2 and chores.card == ("owner",)


# -- reading the board ---------------------------------------------------------------------------

def test_counts_and_totals_follow_the_read_scope(portal: Any) -> None:
    """covers: S12(columns show counts and totals of the money field, within the viewer's
    read scope: a rep sees their own deals, a director all of them) PL3"""
    ann, ray, bo = ApiUser(portal, "ann"), ApiUser(portal, "ray"), ApiUser(portal, "bo")
    deal(ann, "A1", "1000.10")
    deal(ann, "A2", "2000.25")
    moved = deal(ann, "A3", "5.00")
    ray_deal = deal(ray, "R1", "700.00")
    assert move(ann, moved, "qualified").status_code == 200
    mine = columns(ann)
    assert (mine["lead"]["count"], mine["lead"]["total"]) == (2, "3000.35")
    assert (mine["qualified"]["count"], mine["qualified"]["total"]) == (1, "5.00")
    assert mine["won"] == {**mine["won"], "count": 0, "total": "0.00", "cards": []}
    assert {c["title"] for c in mine["lead"]["cards"]} == {"A1", "A2"}
    everyone = columns(bo)
    assert (everyone["lead"]["count"], everyone["lead"]["total"]) == (3, "3700.35")
    assert everyone["lead"]["total_text"] == "3,700.35"
    ray_id = ray.get(f"/api/v1/deal/{ray_deal}").get_json()["result"]["owner"]["id"]
    owner_filter = columns(bo, query=f"?owner={ray_id}")
    assert (owner_filter["lead"]["count"], owner_filter["lead"]["total"]) == (1, "700.00")
    assert owner_filter["lead"]["more_url"].endswith(f"_flt_3_stage=lead&_flt_0_owner={ray_id}")
    bad = bo.get("/api/v1/deal/board?owner=someone")
    assert bad.status_code == 422 and "owner: 'someone' is not a record id" in \
        bad.get_json()["message"]


def test_hidden_sum_field_gives_no_totals(portal: Any) -> None:
    """covers: S12(a role that may not see the money field sees counts, no totals, and
    cards without it)"""
    deal(ApiUser(portal, "ann"), "A1", "1000.00")
    answer = ApiUser(portal, "pia").get("/api/v1/deal/board").get_json()
    lead = answer["columns"][0]
    assert answer["sum"] is None and lead["count"] == 1
    assert lead["total"] is None and lead["total_text"] is None
    assert [f["name"] for f in lead["cards"][0]["fields"]] == ["account", "close_date",
                                                              "owner"]
    assert "1000" not in str(answer)


def test_column_cap_and_more(portal: Any) -> None:
    """covers: S12(a column shows a capped number of cards and how many more there are)"""
    ann = ApiUser(portal, "ann")
    for i in range(3):
        assert ann.post("/api/v1/chore/", {"title": f"C{i}", "hours": i + 1}).status_code == 201
    todo = columns(ann, "chore")["todo"]
    assert (todo["count"], len(todo["cards"]), todo["more"], todo["total"]) == (3, 2, 1, "6")
    assert todo["label"] == "To do"


# -- moving along the workflow -------------------------------------------------------------------

def test_move_performs_the_transition(portal: Any) -> None:
    """covers: S12(dragging a card runs the workflow: the transition is recorded and the
    counts and totals come back updated)"""
    ann = ApiUser(portal, "ann")
    pk = deal(ann, "A1", "1200.00")
    done = move(ann, pk, "qualified")
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["value"] == "qualified" and body["moved"]
    counts = {c["value"]: (c["count"], c["total"]) for c in body["columns"]}
    assert counts["lead"] == (0, "0.00") and counts["qualified"] == (1, "1200.00")
    steps = ann.get(f"/api/v1/deal/{pk}/workflow").get_json()["timeline"]
    assert [(s["transition"], s["from"], s["to"]) for s in steps] == [
        ("qualify", "lead", "qualified")]


def test_gate_refusal_changes_nothing(portal: Any) -> None:
    """covers: S12(a stage gate not met: a readable 4xx and the card stays) S8"""
    ann = ApiUser(portal, "ann")
    pk = deal(ann, "A1", "1200.00")
    for to in ("qualified", "proposal"):
        assert move(ann, pk, to).status_code == 200
    refused = move(ann, pk, "won")
    assert refused.status_code == 422
    assert refused.get_json()["message"] == \
        "A1 cannot move to Won: fill in Close date before 'win'"
    assert refused.get_json()["errors"]["close_date"] == ["required to enter 'won'"]
    assert stage(portal, pk) == "proposal"
    assert columns(ann)["won"]["count"] == 0
    assert ann.put(f"/api/v1/deal/{pk}", {"close_date": "2030-01-31"}).status_code == 200
    assert move(ann, pk, "won").status_code == 200 and stage(portal, pk) == "won"


def test_move_without_a_transition_or_a_right(portal: Any) -> None:
    """covers: S12(no transition from X to Y; a transition the user may not perform; a
    comment the transition needs; bad requests)"""
    ann, bo = ApiUser(portal, "ann"), ApiUser(portal, "bo")
    pk = deal(ann, "A1", "10.00")
    none = move(ann, pk, "won")
    assert none.status_code == 422
    assert none.get_json()["message"] == "A1 cannot move to Won: no transition from 'Lead' " \
                                         "to 'Won'"
    same = move(ann, pk, "lead")
    assert same.status_code == 422 and "already 'Lead'" in same.get_json()["message"]
    not_yours = move(bo, pk, "qualified")  # only the owner qualifies
    assert not_yours.status_code == 403
    assert "you may not perform 'qualify'" in not_yours.get_json()["message"]
    comment = move(ann, pk, "lost")
    assert comment.status_code == 422 and comment.get_json()["comment_required"]
    assert "a comment is required to lose" in comment.get_json()["message"]
    assert stage(portal, pk) == "lead"
    assert move(ann, pk, "lost", comment="budget cut").status_code == 200
    assert move(ann, pk, "lead").status_code == 403  # reopen is the boss's
    assert move(bo, pk, "lead").status_code == 200
    for body, why in (({"id": pk, "to": "nowhere"}, "'nowhere' is not a column"),
                      ({"id": "x", "to": "won"}, "expected a record id"),
                      ({"id": pk, "to": "qualified", "comment": 5}, "not a valid string"),
                      ({"id": pk, "to": "qualified", "filters": {"stage": "lead"}},
                       "cannot filter the board on 'stage'")):
        bad = ann.post("/api/v1/deal/board/move", body)
        assert bad.status_code == 422 and why in bad.get_json()["message"], bad.get_json()
    ray_pk = deal(ApiUser(portal, "ray"), "R1", "1.00")
    assert move(ann, ray_pk, "qualified").status_code == 404  # out of ann's read scope
    assert stage(portal, ray_pk) == "lead"


# -- a plain enum board ---------------------------------------------------------------------------

def test_plain_enum_move_is_a_checked_edit(portal: Any) -> None:
    """covers: S12(a board on a plain enum: a move is an audited edit under the update
    scope)"""
    ann, pia = ApiUser(portal, "ann"), ApiUser(portal, "pia")
    pk = ann.post("/api/v1/chore/", {"title": "Call back", "hours": 2}).get_json()["id"]
    done = move(ann, pk, "doing", "chore")
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["message"] == "Call back moved to Doing."
    history = ann.get(f"/api/v1/chore/{pk}/history").get_json()["result"]
    assert history[0]["action"] == "update" and history[0]["changes"] == {
        "status": ["todo", "doing"]}
    refused = move(pia, pk, "done", "chore")  # reads every chore, updates none
    assert refused.status_code == 403
    assert refused.get_json()["message"] == "Call back cannot move to Done: you may not " \
                                            "update this chore record"
    assert columns(ann, "chore")["doing"]["count"] == 1


# -- assign by stage ------------------------------------------------------------------------------

def test_assign_by_stage(portal: Any) -> None:
    """covers: S9(a director assigns by stage: every card of a column, or the ticked ones,
    to another rep, each record audited) S12"""
    ann, bo = ApiUser(portal, "ann"), ApiUser(portal, "bo")
    a1, a2, a3 = (deal(ann, f"A{i}", "100.00") for i in range(1, 4))
    assert move(ann, a3, "qualified").status_code == 200
    assert bo.get("/api/v1/deal/board").get_json()["can_assign"]
    assert not ann.get("/api/v1/deal/board").get_json()["can_assign"]
    denied = ann.post("/api/v1/deal/board/assign", {"column": "lead", "to_user": "ray"})
    assert denied.status_code == 403
    for body, why in (({"column": "lead", "to_user": "nobody"}, "no user 'nobody'"),
                      ({"column": "lead", "to_user": "pia"}, None),
                      ({"column": "gone", "to_user": "ray"}, "'gone' is not a column"),
                      ({"column": "lead", "to_user": "ray", "ids": [a3]},
                       f"record {a3} is not in column 'lead'"),
                      ({"column": "lead", "to_user": "ray", "ids": "x"},
                       "expected a list of record ids")):
        bad = bo.post("/api/v1/deal/board/assign", body)
        if why is None:  # pia reads deals: she may receive them
            assert bad.status_code == 200
            continue
        assert bad.status_code == 422 and why in bad.get_json()["message"], bad.get_json()
    picked = bo.post("/api/v1/deal/board/assign",
                     {"column": "lead", "to_user": "ann", "ids": [a1]})
    assert picked.get_json()["assigned"] == [a1]
    whole = bo.post("/api/v1/deal/board/assign", {"column": "lead", "to_user": "ray"})
    assert whole.status_code == 200, whole.get_json()
    assert whole.get_json()["assigned"] == [a1, a2]
    assert whole.get_json()["message"] == "2 record(s) of Lead assigned to ray."
    ray = ApiUser(portal, "ray")
    assert sorted(c["title"] for c in columns(ray)["lead"]["cards"]) == ["A1", "A2"]
    assert columns(ann)["lead"]["count"] == 0 and columns(ann)["qualified"]["count"] == 1
    history = ray.get(f"/api/v1/deal/{a2}/history").get_json()["result"]
    assert history[0]["action"] == "update" and history[0]["username"] == "bo"
    assert list(history[0]["changes"]) == ["owner"]


def test_assign_refused_as_a_whole(tmp_path: Path, make_portal: Any, backend: str) -> None:
    """covers: S9(assign by stage goes through the edit's rules: one locked record and
    nothing is assigned)"""
    locked = write_board_schema(tmp_path / "schema")
    flow = (locked / "workflows/deal_flow.yaml").read_text() + "locked_in: [won]\n"
    write_tree(locked, {"workflows/deal_flow.yaml": flow})
    app = make_portal(locked, backend=backend)
    add_user(app, "ann", ["rep"])
    add_user(app, "ray", ["rep"])
    add_user(app, "bo", ["boss"])
    ann, bo = ApiUser(app, "ann"), ApiUser(app, "bo")
    pk = deal(ann, "A1", "1.00", close_date="2030-01-01")
    for to in ("qualified", "proposal", "won"):
        assert move(ann, pk, to).status_code == 200
    refused = bo.post("/api/v1/deal/board/assign", {"column": "won", "to_user": "ray"})
    assert refused.status_code == 403
    assert refused.get_json()["message"] == "Nothing was assigned: A1: this record is " \
                                            "locked while it is 'won' and cannot be changed"
    assert columns(ann)["won"]["count"] == 1


# -- the page --------------------------------------------------------------------------------------

def test_board_page_menu_and_csrf(portal: Any) -> None:
    """covers: S12(the board page in the module's menu for roles that may list the entity;
    its JSON move call is CSRF-protected)"""
    ann = ApiUser(portal, "ann")
    pk = deal(ann, "A1", "1.00")
    web = WebUser(portal, "ann")
    page = web.get("/deal/board/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'href="/deal/board/"' in text and ">Pipeline<" in text.replace(" ", "")\
        .replace("\n", "") or "Pipeline" in text
    assert f'data-id="{pk}"' in text and 'class="portal-board-column" data-value="won"' in text
    token = re.search(r'data-csrf="([^"]+)"', text).group(1)
    no_token = web.client.post("/deal/board/move", json={"id": pk, "to": "qualified"})
    assert no_token.status_code == 400 and "reload the page" in no_token.get_json()["message"]
    assert stage(portal, pk) == "lead"
    moved = web.client.post("/deal/board/move", json={"id": pk, "to": "qualified"},
                            headers={"X-CSRFToken": token})
    assert moved.status_code == 200 and stage(portal, pk) == "qualified"
    assigned = web.client.post("/deal/board/assign", json={"column": "lead", "to_user": "ray"},
                               headers={"X-CSRFToken": token})
    assert assigned.status_code == 403  # a rep may not assign by stage
    boss_page = WebUser(portal, "bo").get("/deal/board/").get_data(as_text=True)
    assert "portal-board-assign" in boss_page and "portal-board-assign" not in text
    filtered = web.get("/deal/board/?owner=abc")
    assert filtered.status_code == 400
