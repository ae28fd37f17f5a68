"""A board schema written only for the board tests (no Python names its entities).

``deal``: a pipeline whose ``stage`` is a workflow's state field (the board moves by
transitions; ``won`` needs a close date, ``lost`` a comment); ``chore``: a plain enum board
(moves are edits). Roles: ``rep`` (own records), ``boss`` (every record), ``peek`` (reads every
deal but not its amount).
"""

from __future__ import annotations

from pathlib import Path

from conftest import write_tree

ROLES = """
roles:
  rep:  {label: {en: Sales rep}}
  boss: {label: {en: Director}}
  peek: {label: {en: Observer}}
"""

ACCOUNT = """
entity: account
module: sales
title: name
fields:
  name: {type: string, required: true}
access:
  rep:  {read: all, create: true}
  boss: {read: all, create: true, update: all}
  peek: {read: all}
"""

DEAL = """
entity: deal
module: sales
label: {en: Deal, zh_CN: 商机}
title: name
fields:
  name:       {type: string, required: true}
  stage:      {type: enum, values: [lead, qualified, proposal, won, lost], default: lead}
  amount:     {type: money}
  close_date: {type: date, label: {en: Close date, zh_CN: 成交日期}}
  account:    {type: link, entity: account}
  owner:      {type: user, default: current_user}
list: {columns: [name, stage, amount, owner], filters: [owner, account, stage]}
access:
  rep:  {read: own, create: true, update: own}
  boss: {read: all, create: true, update: all}
  peek: {read: all, hide: [amount]}
board:
  field: stage
  sum: amount
  card: [account, amount, close_date, owner]
  label: {en: Pipeline, zh_CN: 销售漏斗}
"""

FLOW = """
workflow: deal_flow
entity: deal
state_field: stage
states:
  lead:      {label: {en: Lead}}
  qualified: {label: {en: Qualified}}
  proposal:  {label: {en: Proposal}}
  won:       {label: {en: Won}, required: [close_date]}
  lost:      {label: {en: Lost}}
transitions:
  qualify: {from: lead, to: qualified, by: owner}
  propose: {from: qualified, to: proposal, by: owner}
  win:     {from: proposal, to: won, by: owner}
  lose:    {from: [lead, qualified, proposal], to: lost, by: owner, comment: required}
  reopen:  {from: lost, to: lead, by: {role: boss}}
"""

CHORE = """
entity: chore
module: sales
title: title
fields:
  title:  {type: string, required: true}
  status:
    type: enum
    values: {todo: {en: To do}, doing: {en: Doing}, done: {en: Done}}
    default: todo
  hours:  {type: int}
  owner:  {type: user, default: current_user}
access:
  rep:  {read: own, create: true, update: own}
  boss: {read: all, create: true, update: all}
  peek: {read: all}
board: {field: status, sum: hours, card: [owner], columns: [todo, doing, done], limit: 2}
"""


def write_board_schema(folder: Path) -> Path:
    """Write the schema under ``folder`` and return it."""
    return write_tree(folder, {
        "roles.yaml": ROLES, "entities/sales/account.yaml": ACCOUNT,
        "entities/sales/deal.yaml": DEAL, "entities/sales/chore.yaml": CHORE,
        "workflows/deal_flow.yaml": FLOW})
