"""Expressions over related records: link paths (``customer.grade``) and functions
(``count``/``sum``/``min``/``max``/``avg`` over children or records linking here), used as
stage gates that a record must meet to enter a state, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ApiUser, add_user, write_tree

from portal.spec.compiler import check_schema_dir
from portal.spec.expressions import ExpressionError, parse

SCHEMA = {
    "roles.yaml": "roles:\n  rep: {}\n",
    "entities/sales/client.yaml": """
entity: client
fields:
  name: {type: string, required: true}
  grade: {type: enum, values: [A, B, C], default: C}
access:
  rep: {read: all, create: true, update: all}
""",
    "entities/sales/deal.yaml": """
entity: deal
fields:
  name: {type: string, required: true}
  client: {type: link, entity: client}
  amount: {type: money}
  stage: {type: enum, values: [open, quoted, accepted, paid]}
  lines: {type: children, entity: deal_line}
  owner: {type: user, default: current_user}
access:
  rep: {read: all, create: true, update: all}
---
entity: deal_line
fields:
  deal: {type: link, entity: deal, required: true}
  quantity: {type: int, required: true}
  unit_price: {type: money, required: true}
access:
  rep: {read: all, create: true, update: all, delete: all}
""",
    "entities/sales/agreement.yaml": """
entity: agreement
fields:
  deal: {type: link, entity: deal, required: true}
  amount: {type: money, required: true}
  signed: {type: bool, default: false}
access:
  rep: {read: own, create: true, update: own}
""",
    "workflows/funnel.yaml": """
workflow: funnel
entity: deal
state_field: stage
initial: open
states:
  open:
  quoted:
    gate:
      when: "count(lines) > 0 and sum(lines, quantity * unit_price) == amount"
      message: {en: The quote lines must add up to the amount, zh_CN: 报价明细合计须等于金额}
  accepted:
    gate:
      when: "count(agreement.deal, signed) > 0"
      message: {en: Sign an agreement first, zh_CN: 需要先签订合同}
  paid:
transitions:
  quote:  {from: open, to: quoted, by: owner}
  accept: {from: quoted, to: accepted, by: owner}
  pay:
    from: accepted
    to: paid
    by: owner
    when: "client.grade == 'A' or sum(agreement.deal, amount) >= amount"
""",
}


@pytest.fixture
def deal_portal(tmp_path: Path, make_portal: Callable[..., Any], backend: str) -> Any:
    app = make_portal(write_tree(tmp_path / "schema", SCHEMA), backend)
    add_user(app, "rita", ["rep"])
    add_user(app, "sam", ["rep"])
    return app


def _act(user: ApiUser, pk: int, action: str) -> Any:
    return user.post(f"/api/v1/deal/{pk}/actions/{action}", {})


def test_gates_read_children_and_records_linking_here(deal_portal: Any) -> None:
    """covers: S8(stage gates over related records: 方案报价 needs a quote, 验收 needs a
    contract, a transition that needs the related amounts; refusals say why in the user's
    language and change nothing)"""
    rita, sam = ApiUser(deal_portal, "rita"), ApiUser(deal_portal, "sam")
    client = rita.post("/api/v1/client/", {"name": "Acme", "grade": "B"}).get_json()["id"]
    resp = rita.post("/api/v1/deal/", {"name": "Big", "client": client, "amount": "300.00"})
    assert resp.status_code == 201, resp.get_json()
    pk = resp.get_json()["id"]

    refused = _act(rita, pk, "quote")
    assert refused.status_code == 422
    assert "The quote lines must add up to the amount" in str(refused.get_json())
    chinese = ApiUser(deal_portal, "rita")
    chinese.client.get("/lang/zh_CN")  # the language the user picked in the navbar
    assert "报价明细合计须等于金额" in str(_act(chinese, pk, "quote").get_json())
    assert rita.get(f"/api/v1/deal/{pk}").get_json()["result"]["stage"] == "open"

    for qty, price in ((2, "100.00"), (1, "50.00")):
        line = rita.post("/api/v1/deal_line/", {"deal": pk, "quantity": qty, "unit_price": price})
        assert line.status_code == 201, line.get_json()
    assert _act(rita, pk, "quote").status_code == 422  # 250.00, not 300.00
    rita.post("/api/v1/deal_line/", {"deal": pk, "quantity": 1, "unit_price": "50.00"})
    assert _act(rita, pk, "quote").status_code == 200

    # the agreement is sam's and rita cannot read it: the gate counts it all the same
    agreement = sam.post("/api/v1/agreement/", {"deal": pk, "amount": "200.00"}).get_json()["id"]
    assert rita.get(f"/api/v1/agreement/{agreement}").status_code == 404
    assert "Sign an agreement first" in str(_act(rita, pk, "accept").get_json())
    sam.put(f"/api/v1/agreement/{agreement}", {"signed": True})
    assert _act(rita, pk, "accept").status_code == 200

    # a transition condition through a link path and a sum over records linking here
    assert "pay" not in [a["name"] for a in rita.get(f"/api/v1/deal/{pk}/workflow")
                         .get_json()["actions"]]
    assert _act(rita, pk, "pay").status_code == 422
    sam.post("/api/v1/agreement/", {"deal": pk, "amount": "100.00"})
    assert _act(rita, pk, "pay").status_code == 200
    assert rita.get(f"/api/v1/deal/{pk}").get_json()["result"]["stage"] == "paid"


def _errors(tmp_path: Path, **changes: str) -> list[str]:
    files = dict(SCHEMA)
    files.update(changes)
    root = write_tree(tmp_path / "bad", files)
    registry, errors = check_schema_dir(root, display_base=root)
    assert registry is None
    return [f"{e.file}:{e.line}: {e.path}: {e.message} [{e.code}]" for e in errors]


def _flow(gate: str) -> str:
    return SCHEMA["workflows/funnel.yaml"].replace(
        '"count(agreement.deal, signed) > 0"', f'"{gate}"')


@pytest.mark.parametrize(("gate", "expected"), [
    ("count(agrement.deal) > 0",
     "states.accepted.gate.when: unknown entity 'agrement' in 'agrement.deal'"),
    ("count(agreement.dael) > 0", "entity 'agreement' has no field 'dael'"),
    ("count(deal_line.deal, quantty > 1) > 0", "entity 'deal_line' has no field 'quantty'"),
    ("count(line) > 0", "'line' is not a children field of 'deal'"),
    ("sum(agreement.deal, signed) > 0", "sum() needs a number, but 'agreement.signed' is a bool"),
    ("client.grad == 'A'", "entity 'client' has no field 'grad'"),
    ("name.grade == 'A'", "'name' is not a link field"),
    ("lines > 0", "field 'lines' of type 'children' (count(lines) or sum(lines, field)"),
])
def test_bad_references_in_expressions_are_reported(tmp_path: Path, gate: str,
                                                    expected: str) -> None:
    """covers: PL1(expressions over related records are checked at compile time, with
    file, line, path and a suggestion)"""
    errors = _errors(tmp_path, **{"workflows/funnel.yaml": _flow(gate)})
    assert any(expected in e and e.startswith("workflows/funnel.yaml:") for e in errors), errors


@pytest.mark.parametrize(("text", "expected"), [
    ("sum(lines)", "write sum(source, value)"),
    ("count(a.b.c)", "the source of count() must be"),
    ("count(lines, sum(lines, x) > 1)", "cannot be nested"),
    ("len(lines)", "is not allowed in a condition"),
])
def test_bad_function_calls_are_refused_by_the_parser(text: str, expected: str) -> None:
    """covers: PL1(the expression grammar refuses malformed functions over related records)"""
    with pytest.raises(ExpressionError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        parse(text)
