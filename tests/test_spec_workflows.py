"""Compiling workflow YAML (schemas/workflows/**) into WorkflowSpec objects (the happy path).

The broken cases are golden files under tests/spec_corpus/workflow_*.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from conftest import write_tree

from portal.spec.compiler import check_schema_dir, compile_schema_dir
from portal.spec.expressions import evaluate
from portal.spec.model import ActorRef, ActorRule, Registry, ValueRef, WorkflowSpec

GOOD = Path(__file__).parent / "spec_corpus_good" / "approvals"


@pytest.fixture(scope="module")
def registry() -> Registry:
    """The good approvals fixture, compiled."""
    return compile_schema_dir(GOOD, display_base=GOOD)


@pytest.fixture(scope="module")
def expense(registry: Registry) -> WorkflowSpec:
    """The workflow that uses every feature."""
    return registry.workflows["expense_approval"]


def test_registry_holds_workflows(registry: Registry) -> None:
    """covers: PL4(workflows in any sub-folder, .yml too, sorted by name; one per entity)."""
    assert list(registry.workflows) == ["expense_approval", "leave_request"]
    assert registry.workflow_of("expense_claim") is registry.workflows["expense_approval"]
    assert registry.workflow_of("leave_request") is registry.workflows["leave_request"]
    assert registry.workflow_of("payment") is None
    with pytest.raises(TypeError):
        registry.workflows["x"] = registry.workflows["leave_request"]  # type: ignore[index]


def test_workflow_header(expense: WorkflowSpec) -> None:
    """covers: PL4(workflow name, entity, state field, initial state, label, position)."""
    assert (expense.name, expense.entity, expense.state_field) == (
        "expense_approval", "expense_claim", "status")
    assert expense.initial == "draft"
    assert expense.label.get("zh_CN") == "报销审批"
    assert expense.label.get("en") == "Expense approval"
    assert (expense.pos.file, expense.pos.line, expense.pos.col) == (
        "workflows/finance/expense_approval.yaml", 4, 11)


def test_states_in_order_with_options(expense: WorkflowSpec) -> None:
    """covers: PL4(states in YAML order; stage gate, editable fields, locking, labels)."""
    assert list(expense.states) == ["draft", "submitted", "manager_approved", "legal_review",
                                    "approved", "rejected", "paid"]
    draft, submitted = expense.states["draft"], expense.states["submitted"]
    assert draft.editable == ("amount", "description") and not draft.locked
    assert draft.label.get("zh_CN") == "草稿" and draft.label.get("en") == "Draft"
    assert submitted.required == ("amount", "description") and submitted.locked
    assert submitted.editable is None
    assert expense.states["manager_approved"].label.get("en") == "Manager approved"
    assert expense.states["legal_review"].label.get("en") == "Legal review"
    locked = {name for name, state in expense.states.items() if state.locked}
    assert locked == {"submitted", "manager_approved", "legal_review", "approved", "paid"}
    assert expense.states["rejected"].effects == () and expense.states["paid"].required == ()
    assert (expense.states["paid"].pos.line, expense.states["paid"].pos.col) == (22, 3)


def test_transitions(expense: WorkflowSpec) -> None:
    """covers: PL4(sources, target, comment, self-approval, automatic, conditions, labels)."""
    assert list(expense.transitions) == [
        "submit", "manager_approve", "finance_approve", "auto_approve", "escalate",
        "countersign", "two_of_three", "pay", "reject", "withdraw", "resubmit"]
    t = expense.transitions
    assert (t["submit"].sources, t["submit"].target) == (("draft",), "submitted")
    assert t["submit"].label.get("zh_CN") == "提交" and t["submit"].label.get("en") == "Submit"
    assert t["manager_approve"].label.get("en") == "Manager approve"
    assert t["reject"].sources == ("submitted", "manager_approved", "legal_review")
    assert t["reject"].comment_required and not t["withdraw"].comment_required
    assert not t["submit"].comment_required
    assert t["resubmit"].self_approval and not t["submit"].self_approval
    assert t["auto_approve"].automatic and t["auto_approve"].by is None
    assert not t["finance_approve"].automatic
    when = t["finance_approve"].when
    assert when is not None and when.source == "amount > 5000" and when.names == {"amount"}
    assert evaluate(when, {"amount": Decimal("5000.01")})
    assert not evaluate(when, {"amount": Decimal("5000")})
    assert t["submit"].when is None
    assert [x.name for x in expense.outgoing("manager_approved")] == [
        "finance_approve", "auto_approve", "escalate", "reject"]


def test_actor_rules(expense: WorkflowSpec) -> None:
    """covers: PL4(by: owner, approver, role, user, manager_of, head_of, any, all, quorum)."""
    t = expense.transitions
    assert t["submit"].by == ActorRule((ActorRef("owner"),), 1)
    assert t["reject"].by == ActorRule((ActorRef("approver"),), 1)
    assert t["manager_approve"].by == ActorRule((ActorRef("manager_of", "owner"),), 1)
    assert t["finance_approve"].by == ActorRule((ActorRef("role", "finance"),), 1)
    assert t["escalate"].by == ActorRule((ActorRef("user", "reviewer_a"),), 1)
    countersign = t["countersign"].by
    assert countersign == ActorRule((ActorRef("role", "finance"), ActorRef("role", "legal")), 2)
    assert countersign.is_countersign
    quorum = t["two_of_three"].by
    assert quorum is not None and quorum.quorum == 2 and quorum.is_countersign
    assert quorum.slots == tuple(ActorRef("user", f"reviewer_{c}") for c in "abc")
    either = t["pay"].by
    assert either == ActorRule((ActorRef("role", "finance"), ActorRef("head_of", "owner")), 1)
    assert either is not None and not either.is_countersign
    assert str(ActorRef("role", "finance")) == "role: finance" and str(ActorRef("owner")) == "owner"


def test_effects(expense: WorkflowSpec) -> None:
    """covers: PL4(effects on entering a state: set, notify with a message, create)."""
    effects = expense.states["approved"].effects
    assert [e.kind for e in effects] == ["set", "notify", "notify", "create"]
    set_, notify_owner, notify_approver, create = effects
    assert dict(set_.values) == {
        "approved_on": ValueRef(dynamic="today"), "approved_by": ValueRef(dynamic="current_user"),
        "note": ValueRef(literal="auto"), "amount_copy": ValueRef(field="amount"),
        "urgent": ValueRef(literal=False)}
    assert list(set_.values) == ["approved_on", "approved_by", "note", "amount_copy", "urgent"]
    assert notify_owner.notify == ActorRule((ActorRef("owner"),))
    assert notify_owner.message.get("zh_CN") == "报销已批准"
    assert notify_owner.message.get("en") == "Your claim was approved"
    assert notify_approver.notify == ActorRule((ActorRef("approver"),))
    assert notify_approver.message.texts == {}
    assert create.entity == "payment"
    assert dict(create.values) == {
        "claim": ValueRef(field="id"), "amount": ValueRef(field="amount"),
        "method": ValueRef(literal="bank"), "paid_on": ValueRef(dynamic="today")}
    assert (set_.pos.line, set_.pos.col) == (16, 9)


def test_short_forms(registry: Registry) -> None:
    """covers: PL4(states as a list, initial defaults to the first, label defaults, enum
    values in any order, conditions using today)."""
    leave = registry.workflows["leave_request"]
    assert list(leave.states) == ["requested", "granted", "declined"]
    assert leave.initial == "requested"
    assert leave.label.get("en") == "Leave request"
    assert all(s.effects == () and s.editable is None and not s.locked
               for s in leave.states.values())
    assert leave.states["granted"].label.get("en") == "Granted"
    grant = leave.transitions["grant"]
    assert grant.by == ActorRule((ActorRef("manager_of", "employee"),))
    assert grant.when is not None and grant.when.names == {"days", "start_on", "today"}
    assert leave.transitions["grant_long"].by == ActorRule((ActorRef("head_of", "employee"),))


def test_workflow_errors_do_not_hide_entity_errors(tmp_path: Path) -> None:
    """covers: PL4 PL2(workflow and entity errors are reported in the same run)."""
    write_tree(tmp_path, {
        "entities/claim.yaml": "entity: claim\nfields:\n  status: {type: enum, values: [a, b]}\n"
                               "  amount: {type: mony}\n",
        "workflows/claim.yaml": "workflow: claim\nentity: claim\nstate_field: status\n"
                                "states: [a, b]\ntransitions:\n"
                                "  go: {from: a, to: b, by: {role: nobody}, when: 'amount > 1'}\n",
    })
    registry, errors = check_schema_dir(tmp_path, display_base=tmp_path)
    assert registry is None
    assert [(e.file, e.code) for e in errors] == [
        ("entities/claim.yaml", "unknown-type"), ("workflows/claim.yaml", "unknown-ref")]


def test_no_workflows_folder_means_no_workflows() -> None:
    """covers: PL4(a schema folder without workflows/ compiles to an empty workflow map)."""
    registry = compile_schema_dir(Path(__file__).parent / "spec_corpus_good" / "minimal")
    assert dict(registry.workflows) == {} and registry.workflow_of("note") is None
