"""Workflow extensions: timed transitions (``after``, the ``workflow_timers`` tick job), values
a transition writes (``set``), the ``assign`` effect and ``create ... into`` with ``when``.

Compile errors first, then behaviour on the test-only lead flow of tests/lead_flow_schema.py
(prospect -> account, person, deal) over the REST API and ``portal tick``, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import PG_SKIP, PG_URL, ApiUser, add_user
from lead_flow_schema import FLOW, LEAD_USERS, write_lead_flow_schema
from sqlalchemy import text

from portal.spec.compiler import check_schema_dir

# -- compile errors ---------------------------------------------------------------------------

BAD_FLOWS = [
    pytest.param("set: {recycle_reason: idle}", "set: {recycle_reasn: idle}",
                 "workflows/prospect_flow.yaml:40:11: transitions.recycle_idle.set.recycle_reasn: "
                 "unknown field 'recycle_reasn'; did you mean 'recycle_reason'? [unknown-field]",
                 id="set-unknown-field"),
    pytest.param("set: {recycle_reason: idle}", "set: {recycle_reason: bored}",
                 "workflows/prospect_flow.yaml:40:27: transitions.recycle_idle.set.recycle_reason: "
                 "'bored' is not a value of enum 'recycle_reason' [bad-value]",
                 id="set-bad-enum-value"),
    pytest.param("set: {recycle_reason: idle}",
                 "set: {recycle_reason: idle, owner: current_user}",
                 "workflows/prospect_flow.yaml:40:40: transitions.recycle_idle.set.owner: a timed "
                 "transition is performed by the system: there is no current_user to write "
                 "[bad-value]", id="timed-set-current-user"),
    pytest.param("set: {converted_on: today}", "set: {stage: lost}",
                 "workflows/prospect_flow.yaml:44:67: transitions.convert.set.stage: the state "
                 "field 'stage' is changed by transitions, not by set [bad-ref]",
                 id="set-state-field"),
    pytest.param("into: person}", "into: account}",
                 "workflows/prospect_flow.yaml:22:24: states.converted.effects.create.into: into "
                 "needs a link to 'person', 'account' links to 'account' [bad-ref]",
                 id="into-links-elsewhere"),
    pytest.param("phone: $phone}, into: account}", "phone: $phone}, into: company}",
                 "workflows/prospect_flow.yaml:19:82: states.converted.effects.create.into: into "
                 "needs a link field, 'company' is of type 'string' [bad-ref]",
                 id="into-not-a-link"),
    pytest.param("phone: $phone}, into: account}", "phone: $phone}, into: acount}",
                 "workflows/prospect_flow.yaml:19:82: states.converted.effects.create.into: "
                 "unknown field 'acount'; did you mean 'account'? [unknown-field]",
                 id="into-unknown"),
    pytest.param("wake:         {from: snoozed, to: working, after:",
                 "wake:         {from: snoozed, to: working, by: owner, after:",
                 "workflows/prospect_flow.yaml:42:46: transitions.wake.by: a timed transition "
                 "('after') is performed by the system when it is due; it takes no 'by' "
                 "[option-not-allowed]", id="after-with-by"),
    pytest.param("since: snooze_until", "since: snooze_untl",
                 "workflows/prospect_flow.yaml:42:70: transitions.wake.after.since: unknown "
                 "field 'snooze_untl' (since is a date or datetime field, created_at, "
                 "updated_at or entered); did you mean 'snooze_until'? [unknown-field]",
                 id="since-unknown"),
    pytest.param("since: snooze_until", "since: score",
                 "workflows/prospect_flow.yaml:42:70: transitions.wake.after.since: since needs "
                 "a date or datetime field, 'score' is of type 'int' [bad-ref]",
                 id="since-not-a-date"),
    pytest.param("after: {days: 1,", "after: {days: 0,",
                 "workflows/prospect_flow.yaml:42:60: transitions.wake.after.days: expected an "
                 "integer of at least 1, got '0' [bad-value]", id="days-zero"),
    pytest.param("after: {days: 1, since: snooze_until}", "after: {days: 1, sinse: snooze_until}",
                 "workflows/prospect_flow.yaml:42:63: transitions.wake.after.sinse: unknown key "
                 "'sinse'; did you mean 'since'? [unknown-key]", id="after-unknown-key"),
    pytest.param("assign: {field: owner,", "assign: {field: company,",
                 "workflows/prospect_flow.yaml:16:25: states.qualified.effects.assign.field: "
                 "assign needs a user field, 'company' is of type 'string' [bad-ref]",
                 id="assign-not-a-user-field"),
    pytest.param("assign: {field: owner,", "assign: {field: ownr,",
                 "workflows/prospect_flow.yaml:16:25: states.qualified.effects.assign.field: "
                 "unknown field 'ownr'; did you mean 'owner'? [unknown-field]",
                 id="assign-unknown-field"),
    pytest.param("to: {role: field_rep}", "to: {role: field_reps}",
                 "workflows/prospect_flow.yaml:16:43: states.qualified.effects.assign.to.role: "
                 "unknown role 'field_reps'; did you mean 'field_rep'? [unknown-ref]",
                 id="assign-unknown-role"),
    pytest.param("to: {role: field_rep}", "to: {all: [{role: field_rep}, {role: caller}]}",
                 "workflows/prospect_flow.yaml:16:37: states.qualified.effects.assign.to.all: "
                 "assign gives the record to one person; 'all' needs several (use a role, "
                 "user, manager_of, head_of or any: [...]) [bad-value]", id="assign-to-all"),
    pytest.param("to: {role: field_rep}", "to: owner",
                 "workflows/prospect_flow.yaml:16:36: states.qualified.effects.assign.to: "
                 "assign cannot give the record to 'owner' (use a role, user, manager_of, "
                 "head_of or any: [...]) [bad-value]", id="assign-to-owner"),
    pytest.param('when: "account == null"', 'when: "acount == null"',
                 "workflows/prospect_flow.yaml:20:15: states.converted.effects.when: unknown "
                 "field 'acount' in condition; did you mean 'account'? [unknown-field]",
                 id="effect-when-unknown-field"),
]


@pytest.mark.parametrize(("old", "new", "error"), BAD_FLOWS)
def test_compile_errors(tmp_path: Path, old: str, new: str, error: str) -> None:
    """covers: S7 S15 S19(bad timed transitions, transition values, assign and create-into
    are reported with file:line:col, the path, the reason and a suggestion)."""
    folder = write_lead_flow_schema(tmp_path)
    assert FLOW.count(old) == 1, old
    (folder / "workflows" / "prospect_flow.yaml").write_text(FLOW.replace(old, new),
                                                             encoding="utf-8")
    registry, errors = check_schema_dir(folder, display_base=folder)
    assert registry is None
    assert [str(e) for e in errors] == [error]


def test_a_timed_transition_needs_no_when_but_takes_no_comment(tmp_path: Path) -> None:
    """covers: S15(a timed transition is valid without 'when'; 'comment' and 'self_approval'
    are for people and refused on it)."""
    folder = write_lead_flow_schema(tmp_path)
    flow = FLOW.replace("after: {days: 30, since: updated_at}",
                        "after: {days: 30, since: updated_at}\n    comment: required")
    (folder / "workflows" / "prospect_flow.yaml").write_text(flow, encoding="utf-8")
    _, errors = check_schema_dir(folder, display_base=folder)
    assert [str(e) for e in errors] == [
        "workflows/prospect_flow.yaml:40:5: transitions.recycle_idle.comment: a timed "
        "transition ('after') is performed by the system when it is due; it takes no "
        "'comment' [option-not-allowed]"]


# -- behaviour --------------------------------------------------------------------------------

@pytest.fixture
def leads(tmp_path: Path, make_portal: Callable[..., Any], backend: str) -> Any:
    """A portal on the lead flow with its people, on each backend."""
    app = make_portal(write_lead_flow_schema(tmp_path / "schema"), backend=backend)
    for name, roles in LEAD_USERS:
        add_user(app, name, roles)
    return app


def new(user: ApiUser, name: str, **values: Any) -> int:
    resp = user.post("/api/v1/prospect/", {"name": name, **values})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def act(user: ApiUser, pk: int, action: str) -> Any:
    return user.post(f"/api/v1/prospect/{pk}/actions/{action}", {})


def move(user: ApiUser, pk: int, *actions: str) -> None:
    for action in actions:
        resp = act(user, pk, action)
        assert resp.status_code == 200, resp.get_json()


def row(app: Any, pk: int, entity: str = "prospect") -> dict[str, Any]:
    """The stored row, read as the system (no read scope), link and user ids as ``x_id``."""
    with app.app_context():
        session = app.appbuilder.session
        found = session.execute(text(f"SELECT * FROM {entity} WHERE id = :id"),
                                {"id": pk}).mappings().one()
        session.remove()
    return dict(found)


def sql(app: Any, statement: str, **params: Any) -> list[Any]:
    with app.app_context():
        session = app.appbuilder.session
        result = session.execute(text(statement), params)
        rows = list(result) if result.returns_rows else []
        session.commit()
        session.remove()
    return rows


def user_ids(app: Any) -> dict[str, int]:
    return dict(sql(app, "SELECT username, id FROM ab_user"))


def steps(app: Any, pk: int) -> list[tuple[str, str, str, Any]]:
    """``(transition, kind, actor, comment)`` of the prospect's workflow steps, oldest first."""
    return [tuple(r) for r in sql(
        app, "SELECT transition, kind, actor_name, comment FROM portal_workflow_step "
             "WHERE entity = 'prospect' AND record_id = :id ORDER BY id", id=pk)]


def titles(app: Any, username: str) -> list[str]:
    return [t for (t,) in sql(app, "SELECT n.title FROM portal_notification n JOIN ab_user u "
                                   "ON u.id = n.user_id WHERE u.username = :u ORDER BY n.id",
                              u=username)]


def tick(app: Any, now: dt.datetime) -> str:
    result = app.test_cli_runner().invoke(args=[
        "portal", "tick", "--job", "workflow_timers", "--now", now.isoformat(timespec="minutes")])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def backdate(app: Any, days: int, *ids: int) -> None:
    """Pretend the prospects were last changed ``days`` ago (UTC, as stored)."""
    when = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=days)
    for pk in ids:
        sql(app, "UPDATE prospect SET updated_at = :t WHERE id = :id", t=when, id=pk)


@pytest.fixture
def now() -> dt.datetime:
    """This minute, taken when the test starts (not when the module was imported: in the
    whole suite that can be half an hour earlier than the records the test makes)."""
    return dt.datetime.now().replace(second=0, microsecond=0)


def test_idle_prospects_return_to_the_pool_with_a_reason(leads: Any, now: dt.datetime
                                                         ) -> None:
    """covers: S15(N idle days return the lead to the marketing pool with a reason: a timed
    transition performed by portal tick as the system, with the transition's own values
    satisfying the pool's required reason, the pool's gate refusing a prospect with a deal,
    audited and notified; not a button, not performable by hand)"""
    carl = ApiUser(leads, "carl")
    idle_assigned, idle_working, in_pool, with_deal, fresh = (
        new(carl, n, company=f"{n} Ltd") for n in ("Ann", "Ben", "Cy", "Dee", "Eve"))
    for pk in (idle_assigned, with_deal, fresh):
        move(carl, pk, "take")
    move(carl, idle_working, "take", "work")
    deal = carl.post("/api/v1/deal/", {"title": "Dee deal", "prospect": with_deal})
    assert deal.status_code == 201, deal.get_json()
    backdate(leads, 31, idle_assigned, idle_working, in_pool, with_deal)
    backdate(leads, 29, fresh)

    # a timed transition is nobody's button and cannot be performed by hand
    offered = carl.get(f"/api/v1/prospect/{fresh}/workflow").get_json()["actions"]
    assert [a["name"] for a in offered] == ["work", "give_back"]
    by_hand = act(carl, fresh, "recycle_idle")
    assert by_hand.status_code == 422 and "happens by itself" in str(by_hand.get_json())

    refusal = f"(prospect {with_deal} recycle_idle: A prospect with a deal stays with sales)"
    assert tick(leads, now) == f"workflow_timers: 2 moved, 1 refused {refusal}"
    for pk in (idle_assigned, idle_working):
        stored = row(leads, pk)
        assert (stored["stage"], stored["recycle_reason"]) == ("pool", "idle")
        assert steps(leads, pk)[-1] == ("recycle_idle", "timed", "system", None)
    assert row(leads, with_deal)["stage"] == "assigned"  # the gate kept it
    assert row(leads, fresh)["stage"] == "assigned"      # 29 days idle: not yet
    assert row(leads, in_pool)["stage"] == "pool" and len(steps(leads, in_pool)) == 0

    history = carl.get(f"/api/v1/prospect/{idle_working}/history").get_json()["result"]
    recycled = next(h for h in history if "stage" in h["changes"])
    assert recycled["username"] == "system" and recycled["action"] == "timed"
    assert recycled["changes"]["stage"] == ["working", "pool"]
    reason = next(h for h in history if "recycle_reason" in h["changes"])
    assert (reason["username"], reason["changes"]["recycle_reason"]) == ("system",
                                                                         [None, "idle"])
    assert sum("recycle_idle by the system (now 'pool')" in t for t in titles(leads, "carl")) == 2

    # a second run moves nothing more; the gated one is still refused
    assert tick(leads, now + dt.timedelta(minutes=5)) == \
        f"workflow_timers: 0 moved, 1 refused {refusal}"
    assert len(steps(leads, idle_assigned)) == 2
    # by hand, the pool's required reason is not written for you
    refused = act(carl, fresh, "give_back")
    assert refused.status_code == 422
    assert "recycle_reason" in refused.get_json()["message"]
    assert row(leads, fresh)["stage"] == "assigned"


def test_timers_count_from_a_date_field_and_from_entering_the_state(
        leads: Any, now: dt.datetime) -> None:
    """covers: S15(since: a date field of the record, or entered (the last workflow step);
    a timed transition's when; tick --now decides what is due)"""
    carl = ApiUser(leads, "carl")
    today = now.date()
    sleepy = new(carl, "Sleepy", company="Zz")
    move(carl, sleepy, "take", "work")
    assert act(carl, sleepy, "snooze").status_code == 422  # snoozed needs a date
    until = today + dt.timedelta(days=2)
    assert carl.put(f"/api/v1/prospect/{sleepy}",
                    {"snooze_until": until.isoformat()}).status_code == 200
    move(carl, sleepy, "snooze")
    cold, warm = new(carl, "Cold", score=10), new(carl, "Warm", score=80)
    for pk in (cold, warm):
        move(carl, pk, "take", "work", "qualify")

    assert tick(leads, now.replace(hour=12) + dt.timedelta(days=2)) == \
        "workflow_timers: 0 moved, 0 refused"                    # the snooze date itself
    assert tick(leads, now + dt.timedelta(days=3)) == "workflow_timers: 1 moved, 0 refused"
    assert row(leads, sleepy)["stage"] == "working"
    assert steps(leads, sleepy)[-1][:3] == ("wake", "timed", "system")

    assert tick(leads, now + dt.timedelta(days=9)) == "workflow_timers: 0 moved, 0 refused"
    assert tick(leads, now + dt.timedelta(days=10, minutes=5)) == \
        "workflow_timers: 1 moved, 0 refused"
    assert row(leads, cold)["stage"] == "lost"
    assert row(leads, warm)["stage"] == "qualified"  # its when (score < 50) does not hold
    assert [s[:2] for s in steps(leads, cold)][-1] == ("drop_cold", "timed")
    # the owner (the field rep the qualification assigned) hears of it
    owner = {v: k for k, v in user_ids(leads).items()}[row(leads, cold)["owner_id"]]
    assert any("drop_cold by the system" in t for t in titles(leads, owner))


def test_qualifying_hands_the_prospect_to_the_least_loaded_field_rep(leads: Any) -> None:
    """covers: S19(a rule reassigns when the stage is reached: the active field rep with the
    fewest prospects, ties by username; audited, notified; nobody to assign keeps the owner
    and the step says why)"""
    carl, rita, ron = (ApiUser(leads, n) for n in ("carl", "rita", "ron"))
    ids = user_ids(leads)
    for n in ("R1", "R2"):
        new(rita, n)
    new(ron, "R3")
    first, second, third = (new(carl, n, company=n) for n in ("Q1", "Q2", "Q3"))
    move(carl, first, "take", "work", "qualify")
    assert row(leads, first)["owner_id"] == ids["ron"]        # ron had 1, rita 2
    move(carl, second, "take", "work", "qualify")
    assert row(leads, second)["owner_id"] == ids["rita"]      # 2 each: rita before ron
    assert any(t.endswith("was assigned to you") for t in titles(leads, "ron"))
    history = ron.get(f"/api/v1/prospect/{first}/history").get_json()["result"]
    change = next(h for h in history if "owner" in h["changes"])
    assert (change["username"], change["changes"]["owner"]) == ("carl", [ids["carl"],
                                                                         ids["ron"]])
    assert steps(leads, first)[-1] == ("qualify", "transition", "carl", None)

    sql(leads, "UPDATE ab_user SET active = :no WHERE username IN ('rita', 'ron')", no=False)
    move(carl, third, "take", "work", "qualify")
    assert row(leads, third)["owner_id"] == ids["carl"]
    assert steps(leads, third)[-1] == (
        "qualify", "transition", "carl",
        "assign owner: no active user is role: field_rep; owner stays with carl")
    timeline = carl.get(f"/api/v1/prospect/{third}/workflow").get_json()["timeline"]
    assert "no active user is role: field_rep" in timeline[-1]["comment"]


def test_conversion_creates_linked_account_person_and_deal(leads: Any) -> None:
    """covers: S7(lead conversion creates account, contact and deal, linked to each other and
    to the prospect, numbered, with defaults, creator and owner as a form create, audited;
    an existing account is reused (effect when); the prospect keeps its history)"""
    carl, rita, mia = (ApiUser(leads, n) for n in ("carl", "rita", "mia"))
    ids = user_ids(leads)
    pk = new(carl, "Ann Lee", company="Acme", phone="+86 10 5555", score=95)
    move(carl, pk, "take", "work", "qualify")
    assert row(leads, pk)["owner_id"] == ids["rita"]  # nobody has any: rita before ron
    done = act(rita, pk, "convert")
    assert done.status_code == 200, done.get_json()
    prospect = row(leads, pk)
    assert prospect["stage"] == "converted"
    assert str(prospect["converted_on"])[:10] == dt.date.today().isoformat()
    account, person, deal = (row(leads, prospect[f"{e}_id"], e)
                             for e in ("account", "person", "deal"))
    assert (account["code"], account["name"], account["phone"], account["tier"]) == (
        "AC-0001", "Acme", "+86 10 5555", "c")
    assert account["owner_id"] == account["created_by_id"] == ids["rita"]
    assert (person["name"], person["account_id"]) == ("Ann Lee", account["id"])
    assert (deal["title"], deal["account_id"], deal["person_id"], deal["prospect_id"],
            deal["owner_id"]) == ("Acme", account["id"], person["id"], pk, ids["rita"])
    made = mia.get(f"/api/v1/account/{account['id']}/history").get_json()["result"]
    assert [(h["action"], h["username"]) for h in made] == [("create", "rita")]
    assert "Converted" in titles(leads, "rita")  # notify with when: score >= 90
    assert [s[0] for s in steps(leads, pk)] == ["take", "work", "qualify", "convert"]

    # a prospect already linked to an account: no second account, the links use it
    again = new(carl, "Bo Chen", company="Acme", account=account["id"], score=10)
    move(carl, again, "take", "work", "qualify")
    assert owner_name(leads, again) == "ron"  # rita has one prospect now, ron none
    move(ApiUser(leads, "ron"), again, "convert")
    linked = row(leads, again)
    assert linked["account_id"] == account["id"]
    assert row(leads, linked["person_id"], "person")["account_id"] == account["id"]
    assert row(leads, linked["deal_id"], "deal")["account_id"] == account["id"]
    assert sql(leads, "SELECT count(*) FROM account") == [(1,)]
    assert "Converted" not in titles(leads, "ron")  # score 10: the notify's when fails


def owner_name(app: Any, pk: int) -> str:
    return {v: k for k, v in user_ids(app).items()}[row(app, pk)["owner_id"]]


def test_conversion_missing_a_required_value_writes_nothing(leads: Any) -> None:
    """covers: S7(a created record missing a required value refuses the whole transition
    with a message naming the effect and the field; nothing is half-written)"""
    carl = ApiUser(leads, "carl")
    pk = new(carl, "No Company")
    move(carl, pk, "take", "work", "qualify")
    owner = ApiUser(leads, owner_name(leads, pk))
    refused = act(owner, pk, "convert")
    assert refused.status_code == 422
    assert refused.get_json()["message"]["_"] == [
        "effect 1 of 'converted' (create account): Name (name) is required but the value "
        "is empty"]
    stored = row(leads, pk)
    assert (stored["stage"], stored["account_id"], stored["converted_on"]) == (
        "qualified", None, None)
    for entity in ("account", "person", "deal"):
        assert sql(leads, f"SELECT count(*) FROM {entity}") == [(0,)]
    assert [s[0] for s in steps(leads, pk)] == ["take", "work", "qualify"]


def test_two_ticks_at_once_move_each_record_once(tmp_path: Path,
                                                 make_portal: Callable[..., Any],
                                                 now: dt.datetime) -> None:
    """covers: S15(two workflow_timers runs at once on PostgreSQL: each record moves once;
    a run that finds a record locked waits, then finds it moved)"""
    from portal.engines.workflow_timers import run_timers

    if not PG_URL:
        pytest.skip(PG_SKIP)
    app = make_portal(write_lead_flow_schema(tmp_path / "schema"), "postgres")
    for name, roles in LEAD_USERS:
        add_user(app, name, roles)
    carl = ApiUser(app, "carl")

    def idle_prospects(count: int) -> list[int]:
        ids = [new(carl, f"P{n}") for n in range(count)]
        for pk in ids:
            move(carl, pk, "take")
        backdate(app, 40, *ids)
        return ids

    def run_twice(head_start: bool) -> dict[str, str]:
        results: dict[str, str] = {}
        errors: list[BaseException] = []
        barrier = threading.Barrier(2, timeout=20)

        def run(name: str) -> None:
            try:
                with app.app_context():
                    session = app.appbuilder.session
                    rt = app.extensions["portal"]
                    if not head_start or name == "second":
                        barrier.wait()
                    report = run_timers(session, rt.registry, rt.models.classes, now)
                    if head_start and name == "first":
                        barrier.wait()               # the second run starts now ...
                        threading.Event().wait(0.5)  # ... and must wait for these locks
                    session.commit()
                    session.remove()
                    results[name] = str(report)
            except BaseException as exc:  # reported in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(n,)) for n in ("first", "second")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        return results

    first = idle_prospects(8)
    assert run_twice(head_start=True) == {"first": "8 moved, 0 refused",
                                          "second": "0 moved, 0 refused"}
    second = idle_prospects(8)
    together = run_twice(head_start=False)
    assert sum(int(r.split()[0]) for r in together.values()) == 8, together
    counts = sql(app, "SELECT record_id, count(*) FROM portal_workflow_step "
                      "WHERE transition = 'recycle_idle' GROUP BY record_id")
    assert sorted(counts) == [(pk, 1) for pk in first + second]
