"""Agendas (``agenda:`` on an entity): compile errors, each person's plans merged from two
entities, a manager's team and a director's everyone, planned vs done per person per day,
overdue plans, reminders by ``portal tick`` (once, again after the date moves, never for done
plans, exactly once from two ticks at once on PostgreSQL); on a test-only schema, SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import html
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ApiUser, WebUser, add_user, write_tree

from portal.spec.compiler import check_schema_dir

ROLES = """
roles:
  rep: {label: {en: Sales rep}}
  lead: {label: {en: Team lead}}
  director: {label: {en: Director}}
"""

VISIT = """
entity: visit
module: field
label: {en: Visit, zh_CN: 拜访}
title: subject
fields:
  subject: {type: string, max: 80, required: true}
  planned_at: {type: datetime}
  status: {type: enum, values: [planned, done], default: planned}
  owner: {type: user, default: current_user}
access:
  rep: {read: own, create: true, update: own}
  lead: {read: own, create: true, update: own}
  director: {read: all}
agenda:
  date: planned_at
  done: "status == 'done'"
  label: {en: Visits, zh_CN: 拜访计划}
  remind: {before: 1 day}
"""

VISIT_FLOW = """
workflow: visit_flow
entity: visit
state_field: status
states: [planned, done]
transitions:
  complete: {from: planned, to: done, by: owner, label: {en: Mark done, zh_CN: 完成}}
"""

CHORE = """
entity: chore
module: field
title: name
fields:
  name: {type: string, max: 80, required: true}
  due_on: {type: date}
  finished: {type: bool, default: false}
  assignee: {type: user}
access:
  rep: {read: own, create: true, update: own}
  lead: {read: own, create: true, update: own}
  director: {read: all, hide: [name]}
agenda:
  date: due_on
  owner: assignee
  done: "finished == true"
"""

#: A fixed "now" for the engine tests: Wednesday 2026-03-11, 10:00.
NOW = dt.datetime(2026, 3, 11, 10, 0)
MONDAY = dt.date(2026, 3, 9)


def schema(tmp_path: Path, **extra: str) -> Path:
    files = {"roles.yaml": ROLES, "entities/visit.yaml": VISIT, "entities/chore.yaml": CHORE,
             "workflows/visit.yaml": VISIT_FLOW}
    files.update(extra)
    return write_tree(tmp_path / "schemas", files)


# -- compile errors ---------------------------------------------------------------------------

def compile_errors(tmp_path: Path, agenda_yaml: str) -> list[str]:
    body = VISIT.split("agenda:")[0] + agenda_yaml
    folder = write_tree(tmp_path / "bad", {"roles.yaml": ROLES, "entities/visit.yaml": body})
    registry, errors = check_schema_dir(folder, display_base=folder)
    assert registry is None
    return [str(e) for e in errors]


@pytest.mark.parametrize("agenda_yaml, expected", [
    ("agenda: {date: planed_at, done: \"status == 'done'\"}\n",
     "entities/visit.yaml:15:16: agenda.date: unknown field 'planed_at' of 'visit'; did you "
     "mean 'planned_at'? [unknown-field]"),
    ("agenda: {date: subject, done: \"status == 'done'\"}\n",
     "agenda.date: field 'subject' is of type 'string'; agenda.date needs a date or a "
     "datetime field [bad-field-type]"),
    ("agenda: {date: planned_at}\n",
     "agenda: agenda needs 'done': a condition saying a plan is done, e.g. \"status == "
     "'done'\" [missing-key]"),
    ("agenda: {done: \"status == 'done'\"}\n",
     "agenda: agenda needs 'date': the date or datetime field that says when a plan is due "
     "[missing-key]"),
    ("agenda: {date: planned_at, done: \"stauts == 'done'\"}\n",
     "agenda.done: unknown field 'stauts' in condition; did you mean 'status'? "
     "[unknown-field]"),
    ("agenda: {date: planned_at, done: \"status = 'done'\"}\n", "[bad-expression]"),
    ("agenda: {date: planned_at, done: \"len(status) > 0\"}\n",
     "agenda.done: 'len(status)' is not allowed"),
    ("agenda: {date: planned_at, done: \"status == 'done'\", owner: subject}\n",
     "agenda.owner: field 'subject' is of type 'string'; agenda.owner needs a user field "
     "[bad-field-type]"),
    ("agenda: {date: planned_at, done: \"status == 'done'\", titel: subject}\n",
     "agenda.titel: unknown key 'titel' in agenda; did you mean 'title'? [unknown-key]"),
    ("agenda: {date: planned_at, done: \"status == 'done'\", remind: {before: 1 dya}}\n",
     "agenda.remind.before: unknown unit 'dya' in '1 dya' (minutes, hours, days or weeks); "
     "did you mean 'day'? [bad-duration]"),
    ("agenda: {date: planned_at, done: \"status == 'done'\", remind: {before: soon}}\n",
     "agenda.remind.before: 'soon' is not a duration: write a number and a unit, like "
     "'30 minutes', '2 hours', '1 day' or '1 week' [bad-duration]"),
    ("agenda: {date: planned_at, done: \"status == 'done'\", remind: {before: 0 days}}\n",
     "'0 days' must be longer than zero [bad-duration]"),
    ("agenda: {date: planned_at, done: \"status == 'done'\", remind: {before: 1 day, "
     "overdu: false}}\n",
     "agenda.remind.overdu: unknown key 'overdu' in agenda.remind; did you mean 'overdue'? "
     "[unknown-key]"),
    ("agenda: {date: planned_at, done: \"status == 'done'\", remind: {overdue: sometimes}}\n",
     "agenda.remind.overdue: agenda.remind.overdue must be true or false, not 'sometimes' "
     "[bad-value]"),
    ("agenda: {date: planned_at, done: \"status == 'done'\", label: {zh_cn: 拜访}}\n",
     "agenda.label.zh_cn: unknown locale 'zh_cn'; did you mean 'zh_CN'? [unknown-key]"),
    ("agenda: planned_at\n",
     "agenda: agenda must be a mapping with date, done (and owner, title, remind), not "
     "'planned_at' [bad-value]"),
])
def test_bad_agenda_yaml_is_refused_with_a_clear_error(tmp_path: Path, agenda_yaml: str,
                                                        expected: str) -> None:
    """covers: S13(agenda YAML: every mistake named by file:line:col, path, reason,
    did-you-mean and code)"""
    errors = compile_errors(tmp_path, agenda_yaml)
    assert any(expected in e for e in errors), errors


def test_a_good_agenda_compiles(tmp_path: Path) -> None:
    """covers: S13(agenda YAML: defaults: owner is the entity's owner, remind overdue on)"""
    registry, errors = check_schema_dir(schema(tmp_path))
    assert errors == [] and registry is not None
    visit, chore = registry.feature("agenda", "visit"), registry.feature("agenda", "chore")
    assert (visit.owner, visit.date_type, visit.remind_before, visit.remind_overdue) == (
        "owner", "datetime", dt.timedelta(days=1), True)
    assert visit.label.get("zh_CN") == "拜访计划"
    assert (chore.owner, chore.date_type, chore.reminds) == ("assignee", "date", False)


# -- the agenda -------------------------------------------------------------------------------

@pytest.fixture
def agenda_portal(tmp_path: Path, make_portal: Callable[..., Any], backend: str) -> Any:
    """A portal with two agendas and a small org: boss manages ann and bob; carl has no
    manager; dora directs (reads every visit, chores with names hidden)."""
    app = make_portal(schema(tmp_path), backend)
    add_user(app, "boss", ["lead"], department="east")
    add_user(app, "ann", ["rep"], department="east", manager="boss")
    add_user(app, "bob", ["rep"], department="east", manager="boss")
    add_user(app, "carl", ["rep"], department="west")
    add_user(app, "dora", ["director"])
    return app


def user_id(app: Any, name: str) -> int:
    with app.app_context():
        return app.appbuilder.sm.find_user(username=name).id


def visit(api: ApiUser, subject: str, when: dt.datetime, status: str = "planned") -> int:
    resp = api.post("/api/v1/visit/", {"subject": subject,
                                       "planned_at": when.isoformat(timespec="minutes")})
    assert resp.status_code == 201, resp.get_json()
    pk = resp.get_json()["id"]
    if status == "done":
        assert api.post(f"/api/v1/visit/{pk}/actions/complete", {}).status_code == 200
    return pk


def chore(api: ApiUser, name: str, due: dt.date, assignee: int, finished: bool = False) -> int:
    resp = api.post("/api/v1/chore/", {"name": name, "due_on": due.isoformat(),
                                       "assignee": assignee, "finished": finished})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def week_plans(app: Any) -> dict[str, int]:
    """ann and bob's plans in the week of NOW, and carl's; returns the record ids."""
    ann, bob, carl = ApiUser(app, "ann"), ApiUser(app, "bob"), ApiUser(app, "carl")
    ids = {
        "ann_mon_done": visit(ann, "Acme kickoff", dt.datetime(2026, 3, 9, 9, 30), "done"),
        "ann_tue_late": visit(ann, "Bolt follow-up", dt.datetime(2026, 3, 10, 15, 0)),
        "ann_wed_later": visit(ann, "Cargo demo", dt.datetime(2026, 3, 11, 16, 0)),
        "ann_old_late": visit(ann, "Dyna call", dt.datetime(2026, 2, 2, 11, 0)),
        "ann_chore_tue": chore(ann, "Send quote", dt.date(2026, 3, 10), user_id(app, "ann")),
        "ann_chore_wed": chore(ann, "Price list", dt.date(2026, 3, 11), user_id(app, "ann")),
        "bob_tue_done": visit(bob, "Echo visit", dt.datetime(2026, 3, 10, 10, 0), "done"),
        "bob_thu": visit(bob, "Flux visit", dt.datetime(2026, 3, 12, 9, 0)),
        "carl_tue_late": visit(carl, "Gamma visit", dt.datetime(2026, 3, 10, 9, 0)),
    }
    return ids


def my_items(app: Any, username: str, start: dt.date, end: dt.date,
             now: dt.datetime = NOW) -> tuple[list[Any], list[Any]]:
    from portal.engines import agenda
    from portal.engines.access import Principal

    with app.app_context():
        user = app.appbuilder.sm.find_user(username=username)
        principal = Principal(user.id, username, user.department_id,
                              frozenset(r.name for r in user.roles))
        rt = app.extensions["portal"]
        try:
            return agenda.my_items(app.appbuilder.session, rt.registry, rt.models.classes,
                                   principal, start, end, now)
        finally:
            app.appbuilder.session.remove()


def test_each_person_sees_their_own_plans_of_every_agenda(agenda_portal: Any) -> None:
    """covers: S13(planned follow-ups appear in the owner's agenda, merged across entities,
    overdue ones flagged; done ones not) S14"""
    app = agenda_portal
    ids = week_plans(app)
    week, overdue = my_items(app, "ann", MONDAY, MONDAY + dt.timedelta(days=6))
    assert [(i.entity, i.title, i.day.isoformat(), i.done, i.overdue) for i in week] == [
        ("visit", "Acme kickoff", "2026-03-09", True, False),
        ("chore", "Send quote", "2026-03-10", False, True),   # its day is over
        ("visit", "Bolt follow-up", "2026-03-10", False, True),
        ("chore", "Price list", "2026-03-11", False, False),  # due today: not late yet
        ("visit", "Cargo demo", "2026-03-11", False, False),  # 16:00 today, it is 10:00
    ]
    assert {(i.entity, i.record_id) for i in overdue} == {
        ("visit", ids["ann_old_late"]), ("visit", ids["ann_tue_late"]),
        ("chore", ids["ann_chore_tue"])}
    bob_week, bob_overdue = my_items(app, "bob", MONDAY, MONDAY + dt.timedelta(days=6))
    assert [i.title for i in bob_week] == ["Echo visit", "Flux visit"] and bob_overdue == []
    # later that evening the 16:00 visit is overdue too; the day view shows one day
    day, overdue = my_items(app, "ann", NOW.date(), NOW.date(), NOW.replace(hour=17))
    assert [(i.title, i.overdue) for i in day] == [("Price list", False),
                                                   ("Cargo demo", True)]
    assert len(overdue) == 4


def test_agenda_api_and_page_for_two_users(agenda_portal: Any) -> None:
    """covers: S13(My agenda screen and /api/v1/my/agenda: a user sees only their items,
    overdue in red, each linking to its record, with its workflow action)"""
    app = agenda_portal
    ann, bob = ApiUser(app, "ann"), ApiUser(app, "bob")
    today = dt.date.today()
    now = dt.datetime.now()
    late = visit(ann, "Yesterday's visit", now - dt.timedelta(days=1))
    coming = visit(ann, "Tomorrow's visit", now + dt.timedelta(days=1))
    visit(bob, "Bob's visit", now + dt.timedelta(hours=1))
    body = ann.get("/api/v1/my/agenda/?view=month").get_json()
    assert body["view"] == "month" and body["start"] == today.replace(day=1).isoformat()
    titles = {r["title"]: r for r in body["items"]}
    assert "Bob's visit" not in titles
    assert [r["id"] for r in body["overdue"]] == [late]
    assert body["overdue"][0]["url"] == f"/visit/show/{late}"
    assert [a["name"] for a in body["overdue"][0]["actions"]] == ["complete"]
    assert body["counts"]["overdue_all"] == 1
    week = ann.get(f"/api/v1/my/agenda/?view=week&date={(now + dt.timedelta(days=1)).date()}")
    assert coming in [r["id"] for r in week.get_json()["items"]]
    bob_day = (now + dt.timedelta(hours=1)).date().isoformat()
    assert [r["title"] for r in bob.get(f"/api/v1/my/agenda/?view=day&date={bob_day}")
            .get_json()["items"]] == ["Bob's visit"]
    for bad, field in (("view=year", "view"), ("date=2026-13-01", "date")):
        resp = ann.get(f"/api/v1/my/agenda/?{bad}")
        assert resp.status_code == 400 and field in resp.get_json()["message"], resp.get_json()
    assert app.test_client().get("/api/v1/my/agenda/").status_code == 401

    web = WebUser(app, "ann")
    page = web.get("/my/agenda/?view=week").get_data(as_text=True)
    text = html.unescape(page)
    overdue_li = re.search(r'<li class="portal-agenda-item portal-agenda-overdue"[^>]*'
                           rf'data-id="{late}"', text)
    assert overdue_li, "the overdue visit is not highlighted"
    assert "Bob's visit" not in text and 'href="/my/agenda/team' not in text
    # doing it from the agenda: the workflow action, then back to the agenda
    done = web.post_form(f"/my/agenda/act/visit/{late}",
                         {"action": "complete", "next": "/my/agenda/?view=week"},
                         form_url="/my/agenda/?view=week")
    assert done.status_code == 302 and done.headers["Location"].endswith("/my/agenda/?view=week")
    after = ann.get("/api/v1/my/agenda/?view=month").get_json()
    assert after["overdue"] == [] and after["counts"]["overdue_all"] == 0
    # someone else's record cannot be acted on from the agenda (read scope: 404)
    bob_visit = visit(bob, "Bob's other", now + dt.timedelta(days=2))
    refused = web.post_form(f"/my/agenda/act/visit/{bob_visit}", {"action": "complete"},
                            form_url="/my/agenda/")
    assert refused.status_code == 404
    assert web.get("/my/agenda/team").status_code == 403
    assert ann.get("/api/v1/my/agenda/team").status_code == 403


def test_a_manager_sees_planned_vs_done_of_their_team(agenda_portal: Any) -> None:
    """covers: S14(a manager sees planned vs done per rep per day; overdue per rep; only
    their team) S13"""
    from portal.engines import agenda
    from portal.engines.access import Principal

    app = agenda_portal
    week_plans(app)
    with app.app_context():
        rt = app.extensions["portal"]
        session = app.appbuilder.session

        def principal(name: str) -> Principal:
            user = app.appbuilder.sm.find_user(username=name)
            return Principal(user.id, name, user.department_id,
                             frozenset(r.name for r in user.roles))

        found = agenda.team_week(session, rt.registry, rt.models.classes, principal("boss"),
                                 NOW.date(), NOW)
        assert found.start == MONDAY
        table = {rep.name: [(c.planned, c.done, c.overdue) for c in rep.days[:5]]
                 for rep in found.reps}
        assert table == {
            "ann": [(1, 1, 0), (2, 0, 2), (2, 0, 0), (0, 0, 0), (0, 0, 0)],
            "bob": [(0, 0, 0), (1, 1, 0), (0, 0, 0), (1, 0, 0), (0, 0, 0)],
        }
        assert {rep.name: (rep.planned, rep.done, rep.overdue_now) for rep in found.reps} == {
            "ann": (5, 1, 3), "bob": (2, 1, 0)}
        # the director reads every visit (not chores' names, so those show as numbers)
        wide = agenda.team_week(session, rt.registry, rt.models.classes, principal("dora"),
                                NOW.date(), NOW)
        assert {rep.name: (rep.planned, rep.done, rep.overdue_now) for rep in wide.reps} == {
            "ann": (5, 1, 3), "bob": (2, 1, 0), "carl": (1, 0, 1)}
        # a rep without reports has no team view; carl is nobody's manager
        assert agenda.sees_team(session, rt.registry, principal("boss"))
        assert agenda.sees_team(session, rt.registry, principal("dora"))
        assert not agenda.sees_team(session, rt.registry, principal("carl"))
        session.remove()

    boss = ApiUser(app, "boss")
    body = boss.get("/api/v1/my/agenda/team?week=2026-03-12").get_json()
    assert body["start"] == "2026-03-09" and body["days"][0] == "2026-03-09"
    assert [r["name"] for r in body["reps"]] == ["ann", "bob"]
    assert body["reps"][0]["days"][1] == {"date": "2026-03-10", "planned": 2, "done": 0,
                                          "overdue": 2}
    assert boss.get("/api/v1/my/agenda/team?week=soon").status_code == 400
    page = html.unescape(WebUser(app, "boss").get("/my/agenda/team?week=2026-03-09")
                         .get_data(as_text=True))
    row = re.search(r'<tr data-user="ann">(.*?)</tr>', page, re.S)
    assert row and 'data-date="2026-03-10" data-planned="2" data-done="0"' in row.group(1)
    assert "portal-agenda-cell-late" in row.group(1) and "carl" not in page
    # the director's chores have hidden names: the agenda shows the kind and number
    dora_items, _ = my_items(app, "dora", MONDAY, MONDAY)
    assert dora_items == []


def test_hidden_title_shows_as_kind_and_number(agenda_portal: Any) -> None:
    """covers: S13(agenda respects hidden fields: a hidden title is not shown)"""
    from portal.engines import agenda
    from portal.engines.access import Principal

    app = agenda_portal
    ann = ApiUser(app, "ann")
    pk = chore(ann, "Secret chore", dt.date(2026, 3, 10), user_id(app, "ann"))
    with app.app_context():
        rt = app.extensions["portal"]
        dora = app.appbuilder.sm.find_user(username="dora")
        principal = Principal(dora.id, "dora", None, frozenset({"director"}))
        visible = agenda.visible_agendas(rt.registry, principal)
        items = agenda.collect(app.appbuilder.session, rt.models.classes, visible, None,
                               MONDAY, MONDAY + dt.timedelta(days=6), NOW)
        assert [(i.entity, i.title) for i in items] == [("chore", f"Chore #{pk}")]
        app.appbuilder.session.remove()


# -- reminders --------------------------------------------------------------------------------

def tick(app: Any, now: dt.datetime, *args: str) -> Any:
    result = app.test_cli_runner().invoke(
        args=["portal", "tick", "--now", now.isoformat(timespec="minutes"), *args])
    return result


def reminders(api: ApiUser) -> list[tuple[str, str]]:
    rows = api.get("/api/v1/my/notifications").get_json()["result"]
    return sorted((r["kind"], r["title"]) for r in rows if r["kind"].startswith("agenda_"))


def test_tick_sends_each_reminder_once_and_again_after_the_date_moves(agenda_portal: Any
                                                                     ) -> None:
    """covers: S13(reminders through notifications: before the plan and when overdue, once
    per plan and due date, again after the date moves, never for done plans)"""
    app = agenda_portal
    ann = ApiUser(app, "ann")
    soon = visit(ann, "Soon", dt.datetime(2026, 3, 12, 9, 0))        # within a day
    visit(ann, "Far", dt.datetime(2026, 3, 20, 9, 0))                 # not yet
    late = visit(ann, "Late", dt.datetime(2026, 3, 11, 8, 0))         # overdue at 10:00
    visit(ann, "Finished", dt.datetime(2026, 3, 11, 18, 0), "done")   # done: never
    visit(ann, "Ancient", dt.datetime(2026, 1, 5, 9, 0))              # too old to remind
    chore(ann, "No reminders", dt.date(2026, 3, 1), user_id(app, "ann"))

    first = tick(app, NOW)
    assert first.exit_code == 0, first.output
    assert "agenda_reminders: 1 reminder(s), 1 overdue notice(s)" in first.output
    assert reminders(ann) == [
        ("agenda_before", "Reminder: Visits Soon is due 2026-03-12 09:00"),
        ("agenda_overdue", "Overdue: Visits Late (due 2026-03-11 08:00)")]
    again = tick(app, NOW + dt.timedelta(minutes=5), "--job", "agenda_reminders")
    assert "0 reminder(s), 0 overdue notice(s)" in again.output
    assert len(reminders(ann)) == 2
    # the plan moves to the next day: due again under its new date
    assert ann.put(f"/api/v1/visit/{soon}", {"planned_at": "2026-03-13T09:00"}
                   ).status_code == 200
    assert "1 reminder(s), 0 overdue notice(s)" in tick(app, dt.datetime(2026, 3, 12, 9, 30)
                                                       ).output
    # ... and the moved plan, still undone, is overdue the day after; "Late" is not re-sent
    later = tick(app, dt.datetime(2026, 3, 13, 9, 30))
    assert "0 reminder(s), 1 overdue notice(s)" in later.output
    titles = [t for _, t in reminders(ann)]
    assert titles.count("Overdue: Visits Late (due 2026-03-11 08:00)") == 1
    assert "Overdue: Visits Soon (due 2026-03-13 09:00)" in titles
    assert not any("Finished" in t or "Ancient" in t or "No reminders" in t for t in titles)
    # the reminder opens the record
    row = next(r for r in ann.get("/api/v1/my/notifications").get_json()["result"]
               if r["kind"] == "agenda_overdue" and r["record_id"] == late)
    assert row["entity"] == "visit" and row["url"] == f"/visit/show/{late}"
    assert reminders(ApiUser(app, "bob")) == []


def test_tick_command_refuses_bad_arguments(agenda_portal: Any) -> None:
    """covers: S13(portal tick: --list, unknown job with did-you-mean, bad --now)"""
    app = agenda_portal
    listed = app.test_cli_runner().invoke(args=["portal", "tick", "--list"])
    assert listed.exit_code == 0 and "agenda_reminders:" in listed.output
    wrong = tick(app, NOW, "--job", "agenda_reminder")
    assert wrong.exit_code == 2 and "unknown tick job 'agenda_reminder'; did you mean " \
        "'agenda_reminders'?" in wrong.output
    bad_now = app.test_cli_runner().invoke(args=["portal", "tick", "--now", "tomorrow"])
    assert bad_now.exit_code == 2 and "--now 'tomorrow' is not a time" in bad_now.output


def test_a_failing_job_does_not_stop_the_others(agenda_portal: Any) -> None:
    """covers: S13(tick jobs: each in its own transaction; a failure is reported, exit 1)"""
    from portal.engines.ticks import TickContext, TickJob, run_jobs

    app = agenda_portal
    ann = ApiUser(app, "ann")
    visit(ann, "Late", dt.datetime(2026, 3, 11, 8, 0))

    def broken(ctx: TickContext) -> str:
        from portal.engines.agenda_reminders import send_reminders

        send_reminders(ctx.session, ctx.registry, ctx.models, ctx.now)  # rolled back below
        raise RuntimeError("disk full")

    def fine(ctx: TickContext) -> str:
        from portal.engines.agenda_reminders import send_reminders

        return str(send_reminders(ctx.session, ctx.registry, ctx.models, ctx.now))

    with app.app_context():
        rt = app.extensions["portal"]
        ctx = TickContext(app.appbuilder.session, rt.registry, rt.models.classes, NOW)
        results = run_jobs([TickJob("broken", "fails", broken), TickJob("fine", "works", fine)],
                           ctx)
        app.appbuilder.session.remove()
    assert [(r.name, r.ok) for r in results] == [("broken", False), ("fine", True)]
    assert str(results[0]) == "broken: failed: RuntimeError: disk full"
    assert results[1].summary == "0 reminder(s), 1 overdue notice(s)"  # the rollback undid it
    assert len(reminders(ann)) == 1


def test_two_ticks_at_once_send_one_reminder(tmp_path: Path, make_portal: Callable[..., Any]
                                             ) -> None:
    """covers: S13(reminders: two portal tick runs at once on PostgreSQL send exactly one;
    the second waits for the first's claim, then sends nothing)"""
    from conftest import PG_SKIP, PG_URL
    from sqlalchemy.orm import Session

    from portal.engines.agenda_reminders import send_reminders

    if not PG_URL:
        pytest.skip(PG_SKIP)
    app = make_portal(schema(tmp_path), "postgres")
    add_user(app, "ann", ["rep"])
    ann = ApiUser(app, "ann")
    for n in range(5):
        visit(ann, f"Late {n}", dt.datetime(2026, 3, 11, 8, n))
    with app.app_context():
        rt = app.extensions["portal"]
        engine = app.extensions["sqlalchemy"].engine
    claimed = threading.Event()
    sent: dict[str, str] = {}
    errors: list[BaseException] = []

    def first() -> None:
        with Session(engine) as session:
            sent["first"] = str(send_reminders(session, rt.registry, rt.models.classes, NOW))
            claimed.set()
            threading.Event().wait(0.5)  # the second tick runs meanwhile and must wait
            session.commit()

    def second() -> None:
        claimed.wait(10)
        with Session(engine) as session:
            sent["second"] = str(send_reminders(session, rt.registry, rt.models.classes, NOW))
            session.commit()

    def run(fn: Callable[[], None]) -> Callable[[], None]:
        def wrapped() -> None:
            try:
                fn()
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)
                claimed.set()
        return wrapped

    threads = [threading.Thread(target=run(f)) for f in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sent == {"first": "0 reminder(s), 5 overdue notice(s)",
                    "second": "0 reminder(s), 0 overdue notice(s)"}
    assert len(reminders(ann)) == 5
    # and both at once without a head start: still five in all
    for n in range(5, 8):
        visit(ann, f"Late {n}", dt.datetime(2026, 3, 11, 9, n))
    barrier = threading.Barrier(2)
    counts: list[str] = []

    def racer() -> None:
        barrier.wait(10)
        with Session(engine) as session:
            counts.append(str(send_reminders(session, rt.registry, rt.models.classes, NOW)))
            session.commit()

    racers = [threading.Thread(target=run(racer)) for _ in range(2)]
    for t in racers:
        t.start()
    for t in racers:
        t.join(30)
    assert errors == [] and len(reminders(ann)) == 8
    assert len(counts) == 2 and sum(int(c.split(", ")[1].split()[0]) for c in counts) == 3


def test_agenda_api_is_in_openapi_and_needs_a_login(agenda_portal: Any) -> None:
    """covers: S13(agenda API documented in OpenAPI; pages and API need a login)"""
    app = agenda_portal
    client = app.test_client()
    assert client.get("/api/v1/my/agenda/team").status_code == 401
    assert client.get("/my/agenda/").status_code == 302  # to the login page
    add_user(app, "root", ["Admin"])
    spec = ApiUser(app, "root").get("/api/v1/_openapi").get_json()
    for path in ("/api/v1/my/agenda/", "/api/v1/my/agenda/team"):
        assert path in spec["paths"], sorted(spec["paths"])
    params = {p["name"] for p in spec["paths"]["/api/v1/my/agenda/"]["get"]["parameters"]}
    assert params == {"view", "date"}


def test_agenda_page_in_chinese(tmp_path: Path, make_portal: Callable[..., Any]) -> None:
    """covers: S13(My agenda in zh_CN: screen words and the agenda's own label)"""
    app = make_portal(schema(tmp_path), DEFAULT_LOCALE="zh_CN")
    add_user(app, "ann", ["rep"])
    visit(ApiUser(app, "ann"), "拜访华为", dt.datetime.now() - dt.timedelta(days=1))
    text = html.unescape(WebUser(app, "ann").get("/my/agenda/").get_data(as_text=True))
    for words in ("我的日程", "已逾期", "拜访计划", "拜访华为", "完成"):
        assert words in text, words
