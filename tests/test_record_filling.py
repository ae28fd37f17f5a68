"""Records filled in on save: links named by text (``link_by_text``: create-or-link, S11) and
conditional defaults (``defaults``: an A-class client's new cases are high priority, S3),
through the add/edit forms (inline child rows included), the REST API, imports and a
workflow's create effect, on SQLite and PostgreSQL; compile errors; two saves creating the
same name at once on PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import PG_SKIP, PG_URL, ApiUser, WebUser, add_user, write_tree
from filling_schema import CASE, FILES, VISIT, write_filling_schema
from sqlalchemy import select

from portal.spec.compiler import check_schema_dir
from portal.spec.jsonschema_export import language_json_schema
from portal.spec.loader import load_text


@pytest.fixture
def portal(tmp_path: Path, make_portal: Callable[..., Any], backend: str) -> Any:
    app = make_portal(write_filling_schema(tmp_path / "schema"), backend)
    add_user(app, "rita", ["rep"])
    add_user(app, "bo", ["boss"])
    return app


def rows(app: Any, entity: str) -> list[Any]:
    """Every stored record of ``entity``, oldest first (read past any scope)."""
    with app.app_context():
        model = app.extensions["portal"].models.classes[entity]
        session = app.appbuilder.session
        found = session.scalars(select(model).order_by(model.id)).all()
        session.expunge_all()
        return list(found)


def user_id(app: Any, name: str) -> int:
    with app.app_context():
        return app.appbuilder.sm.find_user(username=name).id


def clients(api: ApiUser) -> dict[str, int]:
    ids = {}
    for name, grade in (("Acme Corp", "A"), ("Bolt Ltd", "B"), ("Cog Inc", "C")):
        resp = api.post("/api/v1/client/", {"name": name, "grade": grade})
        assert resp.status_code == 201, resp.get_json()
        ids[grade] = resp.get_json()["id"]
    return ids


# -- link_by_text ------------------------------------------------------------------------------

def test_rival_rows_on_the_visit_form_create_or_link(portal: Any) -> None:
    """covers: S11(competitor rows on a follow-up, name/price/strengths, create or link a
    competitor: one record per new name, however it is spelled, numbered and owned like any
    new record; a row picking a competitor gets its name)"""
    boss = ApiUser(portal, "bo")
    globex = boss.post("/api/v1/rival/", {"name": "Globex", "tier": "major"}).get_json()["id"]
    hooli = boss.post("/api/v1/rival/", {"name": "Hooli"}).get_json()["id"]
    web = WebUser(portal, "rita")
    saved = web.post_form("/visit/add", {
        "subject": "Kick-off",
        "rivals-0-name": "Initech ", "rivals-0-price": "1200.50",
        "rivals-0-strengths": "cheap",
        "rivals-1-name": "INITECH", "rivals-1-price": "1100.00",
        "rivals-2-name": "globex", "rivals-2-price": "900.00",
        "rivals-3-rival": str(hooli), "rivals-3-price": "800.00"})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    rivals = {r.name: r for r in rows(portal, "rival")}
    assert sorted(rivals) == ["Globex", "Hooli", "Initech"]
    initech = rivals["Initech"]
    rita = user_id(portal, "rita")
    assert initech.created_by_id == rita and initech.owner_id == rita
    assert initech.code == "RIV-0003" and initech.tier == "unknown"
    lines = [(r.name, r.rival_id, str(r.price)) for r in rows(portal, "visit_rival")]
    assert lines == [("Initech", initech.id, "1200.50"), ("INITECH", initech.id, "1100.00"),
                     ("globex", globex, "900.00"), ("Hooli", hooli, "800.00")]
    history = boss.get(f"/api/v1/rival/{initech.id}/history").get_json()["result"]
    assert [(h["action"], h["username"]) for h in history] == [("create", "rita")]

    # a row added on the edit form names a new rival too
    visit = rows(portal, "visit")[0]
    keep = {f"rivals-{i}-{k}": v for i, r in enumerate(rows(portal, "visit_rival"))
            for k, v in (("id", str(r.id)), ("name", r.name), ("rival", str(r.rival_id)),
                         ("price", str(r.price)))}
    edited = web.post_form(f"/visit/edit/{visit.id}", {
        "subject": "Kick-off", **keep, "rivals-4-name": "Umbrella", "rivals-4-price": "5.00"})
    assert edited.status_code == 302
    assert sorted(r.name for r in rows(portal, "rival")) == [
        "Globex", "Hooli", "Initech", "Umbrella"]
    assert rows(portal, "visit_rival")[-1].rival_id == rows(portal, "rival")[-1].id


def test_rest_rows_link_by_text_and_refuse_unknown_names(portal: Any) -> None:
    """covers: S11(a competitor row sent through the API creates or links its competitor)
    S3(a case naming its client by text is linked, then prioritised by the client's grade;
    a name no client has is refused naming the field and the text, nothing written)"""
    api = ApiUser(portal, "rita")
    ids = clients(ApiUser(portal, "bo"))
    visit = api.post("/api/v1/visit/", {"subject": "Demo"}).get_json()["id"]
    first = api.post("/api/v1/visit_rival/", {"visit": visit, "name": "Initech",
                                              "price": "10.00"})
    assert first.status_code == 201, first.get_json()
    initech = rows(portal, "rival")[0]
    assert first.get_json()["result"]["rival"] == initech.id
    again = api.post("/api/v1/visit_rival/", {"visit": visit, "name": " initech "})
    assert again.get_json()["result"]["rival"] == initech.id
    picked = api.post("/api/v1/visit_rival/", {"visit": visit, "rival": initech.id})
    assert picked.get_json()["result"]["name"] == "Initech"
    assert len(rows(portal, "rival")) == 1
    # a row refused after naming a new rival leaves no rival behind
    bad = api.post("/api/v1/visit_rival/", {"visit": visit, "name": "Newco", "price": "-5.00"})
    assert bad.status_code == 422
    assert bad.get_json()["message"] == {"price": ["A price must be above zero"]}
    assert [r.name for r in rows(portal, "rival")] == ["Initech"]

    refused = api.post("/api/v1/case/", {"title": "Broken", "client_name": "Nobody Co"})
    assert refused.status_code == 422
    assert refused.get_json()["message"] == {"client_name": [
        "no client has name 'Nobody Co', so 'client' cannot be linked; pick an existing "
        "client or correct the text"]}
    assert rows(portal, "case") == []
    case = api.post("/api/v1/case/", {"title": "Outage", "client_name": "  acme CORP "})
    assert case.status_code == 201, case.get_json()
    result = case.get_json()["result"]
    assert result["client"] == ids["A"]
    assert (result["priority"], result["due"]) == ("high", "2030-01-31")
    # an update re-links a changed text only when the link is emptied with it
    moved = api.put(f"/api/v1/case/{case.get_json()['id']}",
                    {"client": None, "client_name": "bolt ltd"})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["result"]["client"] == ids["B"]
    assert moved.get_json()["result"]["priority"] == "high"  # defaults apply on create only


def test_workflow_create_effect_links_by_text(portal: Any) -> None:
    """covers: S11(losing a follow-up records whom it was lost to as a competitor row, which
    creates or links the competitor)"""
    api = ApiUser(portal, "rita")
    visit = api.post("/api/v1/visit/", {"subject": "Renewal", "lost_to": "Hooli"})
    pk = visit.get_json()["id"]
    lost = api.post(f"/api/v1/visit/{pk}/actions/lose", {})
    assert lost.status_code == 200, lost.get_json()
    assert [r.name for r in rows(portal, "rival")] == ["Hooli"]
    line = rows(portal, "visit_rival")[0]
    assert (line.visit_id, line.name, line.rival_id) == (pk, "Hooli", rows(portal, "rival")[0].id)


def test_import_links_by_text_and_applies_defaults(portal: Any, tmp_path: Path) -> None:
    """covers: S11(competitor rows imported from a file create each new competitor once)
    S3(imported cases of an A-class client are high priority; unknown client names are
    reported by row and column, nothing written)"""
    boss = ApiUser(portal, "bo")
    clients(boss)
    boss.post("/api/v1/rival/", {"name": "Globex"})
    api = ApiUser(portal, "rita")
    api.post("/api/v1/visit/", {"subject": "Expo"})
    lines = tmp_path / "lines.csv"
    lines.write_text("visit,name,price\nExpo,Umbrella,10.00\nExpo,umbrella ,12.00\n"
                     "Expo,GLOBEX,9.00\n", encoding="utf-8")
    dry = run_cli(portal, "import", "visit_rival", str(lines), "--as", "rita")
    assert dry.exit_code == 0, dry.output
    assert "would create 1 rival named in the file" in dry.output
    assert len(rows(portal, "rival")) == 1
    done = run_cli(portal, "import", "visit_rival", str(lines), "--as", "rita", "--apply")
    assert done.exit_code == 0, done.output
    rivals = {r.name: r for r in rows(portal, "rival")}
    assert sorted(rivals) == ["Globex", "Umbrella"]
    assert rivals["Umbrella"].created_by_id == user_id(portal, "rita")
    assert rivals["Umbrella"].code == "RIV-0002"
    assert [(r.name, r.rival_id) for r in rows(portal, "visit_rival")] == [
        ("Umbrella", rivals["Umbrella"].id), ("umbrella", rivals["Umbrella"].id),
        ("GLOBEX", rivals["Globex"].id)]

    cases = tmp_path / "cases.csv"
    cases.write_text("title,client_name,priority\nOne,acme corp,\nTwo,Bolt Ltd,\n"
                     "Three,Acme Corp,low\nFour,Nobody,\n", encoding="utf-8")
    refused = run_cli(portal, "import", "case", str(cases), "--apply")
    assert refused.exit_code != 0 or "nothing was written" in refused.output
    assert "row 5, column 'client_name' (client_name): 'Nobody': no client has name " \
           "'Nobody'" in refused.output
    assert rows(portal, "case") == []
    cases.write_text("title,client_name,priority\nOne,acme corp,\nTwo,Bolt Ltd,normal\n"
                     "Three,Acme Corp,low\nFour,Cog Inc,normal\n", encoding="utf-8")
    done = run_cli(portal, "import", "case", str(cases), "--apply")
    assert done.exit_code == 0, done.output
    assert [(c.title, c.priority, str(c.due) if c.due else None)
            for c in rows(portal, "case")] == [
        ("One", "high", "2030-01-31"), ("Two", "normal", None), ("Three", "low", "2030-01-31"),
        ("Four", "low", None)]


def run_cli(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["portal", *args])


# -- defaults ----------------------------------------------------------------------------------

def test_conditional_defaults_on_rest_and_form(portal: Any) -> None:
    """covers: S3(an A-class customer's new tickets default to high priority, a C-class
    one's to low; a priority the user chose stays; an update does not re-apply them; the
    team follows the parts added on the form)"""
    api = ApiUser(portal, "rita")
    ids = clients(ApiUser(portal, "bo"))

    def create(**values: Any) -> dict[str, Any]:
        resp = api.post("/api/v1/case/", {"title": "T", **values})
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()["result"]

    assert create(client=ids["A"])["priority"] == "high"
    assert create(client=ids["B"])["priority"] == "normal"
    assert create(client=ids["C"])["priority"] == "low"
    assert create()["priority"] == "normal"
    assert create(client=ids["A"], priority="low")["priority"] == "low"
    assert create(client=ids["A"], priority="normal")["priority"] == "high"  # plain default
    assert create(client=ids["A"], due="2029-05-01")["due"] == "2029-05-01"

    web = WebUser(portal, "rita")
    saved = web.post_form("/case/add", {"title": "By form", "client": str(ids["A"]),
                                        "priority": "normal", "parts-0-part": "fan"})
    assert saved.status_code == 302
    case = rows(portal, "case")[-1]
    assert (case.title, case.priority, case.team) == ("By form", "high", "field")
    plain = web.post_form("/case/add", {"title": "No parts", "client": str(ids["B"]),
                                        "priority": "normal"})
    assert plain.status_code == 302
    assert (rows(portal, "case")[-1].priority, rows(portal, "case")[-1].team) == ("normal", None)

    refused = web.post_form("/case/add", {"title": "Who?", "client_name": "Nobody",
                                          "priority": "normal"})
    page = web.get(refused.headers["Location"]).get_data(as_text=True)
    assert "no client has name &#39;Nobody&#39;" in page
    assert [c.title for c in rows(portal, "case")][-2:] == ["By form", "No parts"]

    edited = api.put(f"/api/v1/case/{case.id}", {"priority": "normal"})
    assert edited.get_json()["result"]["priority"] == "normal"


def test_defaults_endpoint_for_the_add_form(portal: Any) -> None:
    """covers: S3(the add form learns the priority as soon as the client is picked)"""
    api = ApiUser(portal, "rita")
    ids = clients(ApiUser(portal, "bo"))
    found = api.get(f"/api/v1/case/defaults?client={ids['A']}")
    assert found.status_code == 200
    assert found.get_json() == {"values": {"priority": "high", "team": None,
                                           "due": "2030-01-31"}, "reads": ["client"]}
    blank = api.get("/api/v1/case/defaults?client=__None").get_json()
    assert blank["values"] == {"priority": "normal", "team": None, "due": None}
    assert api.get(f"/api/v1/case/defaults?client={ids['C']}").get_json()["values"][
        "priority"] == "low"
    assert api.get("/api/v1/case/defaults?client=99999").status_code == 422
    assert api.get("/api/v1/case/defaults?client=abc").get_json()["message"] == {
        "client": ["'abc' is not a record id"]}
    unknown = api.get("/api/v1/case/defaults?grade=A")
    assert unknown.status_code == 400
    assert "'grade' is not a field the defaults of case read" in unknown.get_json()["message"]
    assert api.get("/api/v1/visit/defaults").status_code in (404, 405)  # no such route
    page = WebUser(portal, "rita").get("/case/add").get_data(as_text=True)
    assert 'class="portal-record-defaults"' in page and "record_defaults.js" in page
    add_user(portal, "root", ["Admin"])
    spec = ApiUser(portal, "root").get("/api/v1/_openapi").get_json()
    documented = spec["paths"]["/api/v1/case/defaults"]["get"]
    assert {"200", "400", "422"} <= set(documented["responses"])
    assert "/api/v1/visit/defaults" not in spec["paths"]


# -- compile errors ----------------------------------------------------------------------------

@pytest.mark.parametrize(("file", "old", "new", "expected"), [
    ("visit", "  rival: {text: name, match: name, create: true}",
     "  price: {text: name, match: name}",
     "visit.yaml:{line}: link_by_text.price: 'visit_rival.price' is a money field; expected "
     "one of type link"),
    ("visit", "  rival: {text: name, match: name, create: true}",
     "  rival: {text: price, match: name}",
     "link_by_text.rival.text: 'visit_rival.price' is a money field; expected one of type "
     "string"),
    ("visit", "  rival: {text: name, match: name, create: true}",
     "  rival: {text: name, match: nam}",
     "link_by_text.rival.match: unknown field 'nam' of 'rival'; did you mean 'name'"),
    ("visit", "  rival: {text: name, match: name, create: true}",
     "  rival: {text: name, match: name, create: yes please}",
     "link_by_text.rival.create: expected true or false, got 'yes please'"),
    ("visit", "  rival: {text: name, match: name, create: true}",
     "  rival: {text: name, mach: name}",
     "link_by_text.rival.mach: unknown key 'mach'; did you mean 'match'"),
    ("case", "  client:      {type: link, entity: client}",
     "  client:      {type: link, entity: client, required: true}",
     "link_by_text.client: 'case.client' is required, so a record giving only the text is "
     "refused"),
    ("visit", "  name:      {type: string, max: 80}", "  name:      {type: string, max: 200}",
     "link_by_text.rival.create: 'name' holds up to 200 characters but 'rival.name' only 120"),
    ("rival", "  tier:  {type: enum, values: [unknown, niche, major], default: unknown}",
     "  tier:  {type: enum, values: [unknown, niche, major], required: true}",
     "link_by_text.rival.create: 'rival.tier' is required and has no default"),
    ("case", "  - field: team\n", "  - field: taem\n",
     "defaults.2.field: unknown field 'taem' of 'case'; did you mean 'team'"),
    ("case", "    value: high\n", "    value: hgh\n",
     "defaults.0.value: default 'hgh' is not one of the values (low, normal, high); did you "
     "mean 'high'"),
    ("case", "    value: \"2030-01-31\"\n", "    value: soon\n",
     "defaults.3.value: expected an iso date (yyyy-mm-dd), got 'soon'"),
    ("case", "    when: \"client.grade == 'A'\"\n  - field: priority",
     "    when: \"client.grde == 'A'\"\n  - field: priority",
     "defaults.0.when: entity 'client' has no field 'grde'"),
    ("case", "    value: low\n    when: \"client.grade == 'C'\"\n", "    value: low\n",
     "defaults.1: a default rule needs 'when'"),
    ("case", "  - field: team\n", "  - field: parts\n",
     "defaults.2.field: 'case.parts' is a children field; expected one of type"),
])
def test_bad_definitions_are_reported(tmp_path: Path, file: str, old: str, new: str,
                                      expected: str) -> None:
    """covers: PL1(link_by_text and defaults are compiled with file, line, path, reason and
    suggestion)"""
    names = {"visit": ("entities/sales/visit.yaml", VISIT),
             "rival": ("entities/sales/rival.yaml", FILES["entities/sales/rival.yaml"]),
             "case": ("entities/service/case.yaml", CASE)}
    path, text = names[file]
    # a rival that cannot be made from a name is the error of the rule creating one
    reported = names["visit"][0] if file == "rival" else path
    assert old in text
    root = write_tree(tmp_path / "bad", {**FILES, path: text.replace(old, new, 1)})
    registry, errors = check_schema_dir(root, display_base=root)
    assert registry is None
    lines = [f"{e.file}:{e.line}: {e.path}: {e.message}"
             + (f"; did you mean '{e.suggestion}'" if e.suggestion else "") for e in errors]
    want = expected.replace("{line}", "")
    assert any(want.split(": ", 1)[-1] in line for line in lines), lines
    assert all(line.split(":")[0] == reported for line in lines), lines


def test_json_schema_for_editors_knows_both_keys() -> None:
    """covers: PL1(editors complete and check link_by_text and defaults)"""
    import jsonschema

    validator = jsonschema.Draft202012Validator(language_json_schema())

    def problems(text: str) -> list[str]:
        docs, errors = load_text(text, "x.yaml")
        assert errors == []
        return [e.message for d in docs for e in validator.iter_errors(d.data)]

    assert problems(VISIT) == [] and problems(CASE) == []
    assert problems(VISIT.replace("match: name, create: true", "match: name, create: 1"))
    assert problems(VISIT.replace("{text: name, match: name,", "{txt: name, match: name,"))
    assert problems(CASE.replace("    value: high\n", "    valu: high\n"))
    assert problems(CASE.replace("defaults:\n  - field: priority", "defaults:\n  - fld: p"))


# -- two saves at once (PostgreSQL) -------------------------------------------------------------

@pytest.mark.postgres
def test_two_saves_creating_one_name_at_once_make_one_record(tmp_path: Path,
                                                             make_portal: Any) -> None:
    """covers: S11(two follow-ups naming the same new competitor at the same moment, in two
    workers, link one competitor: the second waits for the first and links its record)"""
    if not PG_URL:
        pytest.skip(PG_SKIP)
    from portal.engines.access import SYSTEM
    from portal.engines.filling import fill_before_save

    app = make_portal(write_filling_schema(tmp_path / "schema"), "postgres")
    add_user(app, "rita", ["rep"])
    visit = ApiUser(app, "rita").post("/api/v1/visit/", {"subject": "Race"}).get_json()["id"]
    rt = app.extensions["portal"]
    line = rt.models.classes["visit_rival"]
    first_written = threading.Event()
    waited: dict[str, float] = {}
    failures: list[BaseException] = []

    def save(name: str, first: bool) -> None:
        try:
            with app.app_context():
                session = app.appbuilder.session
                row = line(visit_id=visit, name=name)
                if not first:
                    first_written.wait(10)
                started = time.monotonic()
                fill_before_save(session, rt.registry, rt.models.classes, row, SYSTEM, True)
                waited["first" if first else "second"] = time.monotonic() - started
                session.add(row)
                session.flush()  # the new rival is inserted, not yet committed
                if first:
                    first_written.set()
                    time.sleep(0.6)
                session.commit()
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=save, args=("Contoso", True)),
               threading.Thread(target=save, args=(" contoso", False))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert [r.name for r in rows(app, "rival")] == ["Contoso"]
    rival = rows(app, "rival")[0].id
    assert [r.rival_id for r in rows(app, "visit_rival")] == [rival, rival]
    assert waited["second"] >= 0.4  # it waited for the first save's commit

    # and through the API: several workers posting one new name at once
    api = [ApiUser(app, "rita") for _ in range(4)]
    start = threading.Barrier(len(api))
    answers: list[int] = []

    def post(client: ApiUser) -> None:
        start.wait(10)
        answers.append(client.post("/api/v1/visit_rival/",
                                   {"visit": visit, "name": "Wayne"}).status_code)

    posting = [threading.Thread(target=post, args=(c,)) for c in api]
    for thread in posting:
        thread.start()
    for thread in posting:
        thread.join(30)
    assert answers == [201] * len(api)
    assert sorted(r.name for r in rows(app, "rival")) == ["Contoso", "Wayne"]
