"""Entity checks (``checks:``): rules every save must meet, conditional required fields and
warnings, over the record, its linked records and related rows, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ApiUser, WebUser, add_user, write_tree

from portal.spec.compiler import check_schema_dir

SCHEMA = {
    "roles.yaml": "roles:\n  rep: {}\n",
    "entities/sales/pact.yaml": """
entity: pact
fields:
  name: {type: string, required: true}
  grade: {type: enum, values: [A, B, C], default: C}
  amount: {type: money, required: true}
  instalments: {type: children, entity: instalment}
checks:
  plan_adds_up:
    rule: "count(instalments) == 0 or sum(instalments, amount) == amount"
    field: amount
    message: {en: The instalments must add up to the amount, zh_CN: 分期合计须等于合同金额}
  key_contact:
    rule: "grade != 'A' or count(person.pact, level == 'KR') > 0"
    level: warning
    message: {en: An A-class customer needs a key-relationship contact}
access:
  rep: {read: all, create: true, update: all}
---
entity: instalment
fields:
  pact: {type: link, entity: pact, required: true}
  amount: {type: money, required: true}
  due: {type: date}
access:
  rep: {read: all, create: true, update: all, delete: all}
""",
    "entities/sales/person.yaml": """
entity: person
fields:
  name: {type: string, required: true}
  pact: {type: link, entity: pact}
  level: {type: enum, values: [OR, KR, ER]}
access:
  rep: {read: all, create: true, update: all}
""",
    "entities/sales/chase.yaml": """
entity: chase
fields:
  instalment: {type: link, entity: instalment, required: true}
  overdue: {type: bool, default: false}
  reason: {type: string}
  remedy: {type: text}
  next_date: {type: date}
checks:
  remedy_when_overdue:
    when: "overdue or instalment.due < today"
    require: [reason, remedy, next_date]
    message: {en: required for an overdue instalment, zh_CN: 逾期跟进必填}
access:
  rep: {read: all, create: true, update: all}
""",
}


@pytest.fixture
def pact_portal(tmp_path: Path, make_portal: Callable[..., Any], backend: str) -> Any:
    app = make_portal(write_tree(tmp_path / "schema", SCHEMA), backend)
    add_user(app, "rita", ["rep"])
    return app


def test_conditional_required_fields_and_warnings(pact_portal: Any) -> None:
    """covers: F2(an overdue instalment's follow-up requires reason, remedy and next date)
    S4(warn when an A-class customer has no key-relationship contact)"""
    rita = ApiUser(pact_portal, "rita")
    pact = rita.post("/api/v1/pact/", {"name": "P1", "grade": "A", "amount": "100.00"})
    assert pact.status_code == 201
    assert pact.get_json()["warnings"] == {
        "_": ["An A-class customer needs a key-relationship contact"]}
    pk = pact.get_json()["id"]
    rita.post("/api/v1/person/", {"name": "Li", "pact": pk, "level": "KR"})
    again = rita.put(f"/api/v1/pact/{pk}", {"name": "P1 renamed"})
    assert again.status_code == 200 and "warnings" not in again.get_json()

    late = rita.post("/api/v1/instalment/", {"pact": pk, "amount": "100.00",
                                             "due": "2020-01-31"}).get_json()["id"]
    soon = rita.post("/api/v1/instalment/", {"pact": pk, "amount": "100.00",
                                             "due": "2999-01-31"}).get_json()["id"]
    assert rita.post("/api/v1/chase/", {"instalment": soon}).status_code == 201
    refused = rita.post("/api/v1/chase/", {"instalment": late, "reason": "budget"})
    assert refused.status_code == 422
    assert refused.get_json()["message"] == {
        "remedy": ["required for an overdue instalment"],
        "next_date": ["required for an overdue instalment"]}
    assert rita.get("/api/v1/chase/").get_json()["count"] == 1
    done = rita.post("/api/v1/chase/", {"instalment": late, "reason": "budget",
                                        "remedy": "visit", "next_date": "2030-01-01"})
    assert done.status_code == 201
    flagged = rita.post("/api/v1/chase/", {"instalment": soon, "overdue": True})
    assert set(flagged.get_json()["message"]) == {"reason", "remedy", "next_date"}


def test_inline_children_must_add_up_on_the_form(pact_portal: Any) -> None:
    """covers: F1(a 100k contract with a 30/40/30 plan: the plan must sum to the contract)"""
    web = WebUser(pact_portal, "rita")
    form = {"name": "Big deal", "grade": "B", "amount": "100000.00",
            "instalments-0-amount": "30000.00", "instalments-1-amount": "40000.00",
            "instalments-2-amount": "20000.00"}
    refused = web.post_form("/pact/add", form)
    page = web.get(refused.headers["Location"]).get_data(as_text=True)
    assert "The instalments must add up to the amount" in page
    api = ApiUser(pact_portal, "rita")
    assert api.get("/api/v1/pact/").get_json()["count"] == 0
    assert api.get("/api/v1/instalment/").get_json()["count"] == 0
    form["instalments-2-amount"] = "30000.00"
    saved = web.post_form("/pact/add", form)
    assert saved.status_code == 302
    assert api.get("/api/v1/pact/").get_json()["count"] == 1
    assert sorted(r["amount"] for r in api.get("/api/v1/instalment/").get_json()["result"]) \
        == ["30000.00", "30000.00", "40000.00"]


@pytest.mark.parametrize(("check", "expected"), [
    ("{rule: \"instalment.amout > 0\"}", "entity 'instalment' has no field 'amout'"),
    ("{rule: \"count(instalment.pact) > 0\"}", "'instalment.pact' does not link to 'chase'"),
    ("{require: [reasn]}", "checks.bad.require: unknown field 'reasn'; did you mean"),
    ("{rule: \"amount >\"}", "checks.bad.rule: invalid condition"),
    ("{message: hi}", "check 'bad' needs a rule, a require list or both"),
    ("{rule: \"amount > 0\", level: warn}", "expected error or warning, got 'warn'"),
    ("{rule: \"amount > 0\", feild: amount}", "checks.bad.feild: unknown key 'feild'"),
])
def test_bad_checks_are_reported(tmp_path: Path, check: str, expected: str) -> None:
    """covers: PL1(checks are compiled with file, line, path, reason and suggestion)"""
    files = dict(SCHEMA)
    files["entities/sales/chase.yaml"] = SCHEMA["entities/sales/chase.yaml"].replace(
        "checks:\n", f"checks:\n  bad: {check}\n")
    root = write_tree(tmp_path / "bad", files)
    registry, errors = check_schema_dir(root, display_base=root)
    assert registry is None
    lines = [f"{e.file}:{e.line}: {e.path}: {e.message}; did you mean {e.suggestion}"
             for e in errors]
    assert any(expected in line and line.startswith("entities/sales/chase.yaml:")
               for line in lines), lines
