"""A flow written only for the tests, on a test-only entity: no Python names ``claim``.

``write_flow_schema(folder)`` writes it: an expense-like ``claim`` whose approval goes
through the owner's manager, then by amount either automatically (<= 5000) or through a
countersign of finance and legal; reject with a comment from any approval step; withdraw
while nobody has acted; resubmit after a rejection; payment by finance, which creates a
``payout`` record; a stage gate on submit and the record locked while under approval.
"""

from __future__ import annotations

from pathlib import Path

ROLES = """
roles:
  clerk:   {label: {en: Clerk, zh_CN: 文员}}
  lead:    {label: {en: Team lead, zh_CN: 组长}}
  finance: {label: {en: Finance, zh_CN: 财务}}
  legal:   {label: {en: Legal, zh_CN: 法务}}
"""

CLAIM = """
entity: claim
module: office
label: {en: Claim, zh_CN: 报销单}
title: title
fields:
  title:       {type: string, max: 80, required: true}
  amount:      {type: money, min: 0}
  purpose:     {type: text}
  status:
    type: enum
    values: [draft, submitted, lead_ok, approved, rejected, paid]
    default: draft
  owner:       {type: user, default: current_user}
  approved_on: {type: date}
list: {columns: [title, amount, status, owner]}
access:
  clerk:   {read: own, create: true, update: own, delete: own}
  lead:    {read: own, create: true, update: own, delete: own}
  finance: {read: all, create: true, update: own}
  legal:   {read: all}
"""

PAYOUT = """
entity: payout
module: office
title: memo
fields:
  memo:   {type: string, max: 80}
  claim:  {type: link, entity: claim}
  amount: {type: money}
access:
  finance: {read: all}
"""

FLOW = """
workflow: claim_flow
entity: claim
label: {en: Claim approval, zh_CN: 报销审批}
state_field: status
states:
  draft:     {label: {zh_CN: 草稿}}
  submitted: {label: {zh_CN: 已提交}, required: [amount, purpose]}
  lead_ok:   {label: {zh_CN: 组长已批}}
  approved:
    label: {zh_CN: 已批准}
    effects:
      - set: {approved_on: today}
      - notify: owner
        message: {en: Your claim was approved}
  rejected:  {label: {zh_CN: 已驳回}, editable: [title, amount, purpose]}
  paid:
    effects:
      - create: {entity: payout, values: {claim: $id, amount: $amount, memo: paid}}
transitions:
  submit:       {from: [draft, rejected], to: submitted, by: owner, label: {zh_CN: 提交}}
  withdraw:     {from: submitted, to: draft, by: owner}
  lead_approve: {from: submitted, to: lead_ok, by: {manager_of: owner}, label: {zh_CN: 组长审批}}
  big_approve:
    from: lead_ok
    to: approved
    by: {all: [{role: finance}, {role: legal}]}
    when: "amount > 5000"
  small_approve: {from: lead_ok, to: approved, when: "amount <= 5000"}
  reject:       {from: [submitted, lead_ok], to: rejected, by: approver, comment: required}
  pay:          {from: approved, to: paid, by: {role: finance}}
locked_in: [submitted, lead_ok, approved, paid]
"""


#: The flow's people: name, roles, manager. lena leads alice and bob (and manages fiona);
#: fiona and frank are finance, lea legal, sam a clerk with no manager.
FLOW_USERS = (
    ("lena", ["lead"], None), ("alice", ["clerk"], "lena"), ("bob", ["clerk"], "lena"),
    ("fiona", ["finance"], "lena"), ("frank", ["finance"], None), ("lea", ["legal"], None),
    ("sam", ["clerk"], None),
)


def write_flow_schema(folder: Path) -> Path:
    """Write the flow schema under ``folder`` and return ``folder``."""
    (folder / "entities" / "office").mkdir(parents=True, exist_ok=True)
    (folder / "workflows").mkdir(parents=True, exist_ok=True)
    (folder / "roles.yaml").write_text(ROLES, encoding="utf-8")
    (folder / "entities" / "office" / "claim.yaml").write_text(CLAIM, encoding="utf-8")
    (folder / "entities" / "office" / "payout.yaml").write_text(PAYOUT, encoding="utf-8")
    (folder / "workflows" / "claim_flow.yaml").write_text(FLOW, encoding="utf-8")
    return folder
