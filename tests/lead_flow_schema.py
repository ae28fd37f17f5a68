"""A lead-like flow written only for the tests, on test-only entities: no Python names them.

``write_lead_flow_schema(folder)`` writes it: a ``prospect`` taken from the pool by its owner,
worked, snoozed until a date, qualified (which hands it to the least loaded field rep) and
converted into an ``account`` (only when none is linked yet), a ``person`` and a ``deal``,
each linked back into the prospect. Timed transitions return an idle prospect to the pool
after 30 days without a change (writing the reason the pool requires; a prospect with a deal
is kept by a gate), wake a snoozed one the day after its date, and drop a qualified prospect
with a low score 10 days after it was qualified.
"""

from __future__ import annotations

from pathlib import Path

ROLES = """
roles:
  marketer:  {label: {en: Marketer, zh_CN: 市场}}
  caller:    {label: {en: Call centre, zh_CN: 呼叫中心}}
  field_rep: {label: {en: Field sales, zh_CN: 外勤销售}}
"""

PROSPECT = """
entity: prospect
module: leads
label: {en: Prospect, zh_CN: 线索}
title: name
fields:
  name:           {type: string, max: 80, required: true}
  company:        {type: string, max: 80}
  phone:          {type: phone}
  score:          {type: int}
  stage:
    type: enum
    values: [pool, assigned, working, snoozed, qualified, converted, lost]
  owner:          {type: user, default: current_user}
  recycle_reason: {type: enum, values: [idle, no_budget]}
  snooze_until:   {type: date}
  converted_on:   {type: date}
  account:        {type: link, entity: account}
  person:         {type: link, entity: person}
  deal:           {type: link, entity: deal}
access:
  marketer:  {read: all, create: true, update: all}
  caller:    {read: own, create: true, update: own}
  field_rep: {read: own, create: true, update: own}
"""

ACCOUNT = """
entity: account
module: leads
title: name
fields:
  code:  {type: number, format: "AC-{####}"}
  name:  {type: string, max: 80, required: true}
  phone: {type: phone}
  tier:  {type: enum, values: [a, b, c], required: true, default: c}
  owner: {type: user, default: current_user}
access:
  marketer:  {read: all, create: true}
  caller:    {read: all, create: true}
  field_rep: {read: all, create: true}
"""

PERSON = """
entity: person
module: leads
title: name
fields:
  name:    {type: string, max: 80, required: true}
  phone:   {type: phone}
  account: {type: link, entity: account}
access:
  marketer:  {read: all}
  field_rep: {read: all}
"""

DEAL = """
entity: deal
module: leads
title: title
fields:
  title:    {type: string, max: 80, required: true}
  account:  {type: link, entity: account}
  person:   {type: link, entity: person}
  prospect: {type: link, entity: prospect}
  owner:    {type: user, default: current_user}
access:
  marketer:  {read: all, create: true}
  caller:    {read: all, create: true}
  field_rep: {read: all, create: true}
"""

FLOW = """
workflow: prospect_flow
entity: prospect
state_field: stage
states:
  pool:
    required: [recycle_reason]
    gate:
      when: "count(deal.prospect) == 0"
      message: {en: A prospect with a deal stays with sales}
  assigned:
  working:
  snoozed: {required: [snooze_until]}
  qualified:
    effects:
      - assign: {field: owner, to: {role: field_rep}}
  converted:
    effects:
      - create: {entity: account, values: {name: $company, phone: $phone}, into: account}
        when: "account == null"
      - create: {entity: person, values: {name: $name, account: $account, phone: $phone},
                 into: person}
      - create:
          entity: deal
          values: {title: $company, account: $account, person: $person, prospect: $id,
                   owner: current_user}
          into: deal
      - notify: owner
        message: {en: Converted}
        when: "score >= 90"
  lost:
transitions:
  take:         {from: pool, to: assigned, by: owner}
  work:         {from: assigned, to: working, by: owner}
  give_back:    {from: [assigned, working], to: pool, by: owner}
  recycle_idle:
    from: [assigned, working]
    to: pool
    after: {days: 30, since: updated_at}
    set: {recycle_reason: idle}
  snooze:       {from: working, to: snoozed, by: owner}
  wake:         {from: snoozed, to: working, after: {days: 1, since: snooze_until}}
  qualify:      {from: working, to: qualified, by: owner}
  convert:      {from: qualified, to: converted, by: owner, set: {converted_on: today}}
  drop_cold:    {from: qualified, to: lost, after: {days: 10, since: entered}, when: "score < 50"}
"""

#: The flow's people: name and roles. rita and ron are the field reps an assignment picks from.
LEAD_USERS = (
    ("mia", ["marketer"]), ("carl", ["caller"]), ("cora", ["caller"]),
    ("rita", ["field_rep"]), ("ron", ["field_rep"]),
)


def write_lead_flow_schema(folder: Path) -> Path:
    """Write the lead flow schema under ``folder`` and return ``folder``."""
    (folder / "entities" / "leads").mkdir(parents=True, exist_ok=True)
    (folder / "workflows").mkdir(parents=True, exist_ok=True)
    (folder / "roles.yaml").write_text(ROLES, encoding="utf-8")
    for name, text in (("prospect", PROSPECT), ("account", ACCOUNT), ("person", PERSON),
                       ("deal", DEAL)):
        (folder / "entities" / "leads" / f"{name}.yaml").write_text(text, encoding="utf-8")
    (folder / "workflows" / "prospect_flow.yaml").write_text(FLOW, encoding="utf-8")
    return folder
