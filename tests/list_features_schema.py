"""A schema written only for the list highlight and preset tests: no Python names its entities.

``account``: a customer with a grade. ``contract``: a deal with a delivery date, a status and
an account; its rows are red once delivery is past and it is not closed, green for an A-grade
account (a link path); its presets narrow to signed contracts delivered within 30 days, to the
reader's own, to those without an account and to big ones. ``instalment``: a payment due on a
date; red when past due with money outstanding, amber when due today.

Roles: ``rep`` reads and edits their own contracts; ``boss`` reads everything; ``peek`` reads
every contract but sees neither its amount nor its delivery date (so the rule and the presets
reading them are not theirs).
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
  name:  {type: string, required: true}
  grade: {type: enum, values: [A, B, C], default: C}
access:
  rep:  {read: all, create: true}
  boss: {read: all, create: true, update: all}
  peek: {read: all}
"""

CONTRACT = """
entity: contract
module: sales
label: {en: Contract, zh_CN: 合同}
title: name
fields:
  name:          {type: string, required: true}
  status:        {type: enum, values: [draft, signed, closed], default: draft}
  amount:        {type: money}
  delivery_date: {type: date, label: {en: Delivery date, zh_CN: 交付日期}}
  account:       {type: link, entity: account}
  owner:         {type: user, default: current_user}
list:
  columns: [name, status, amount, delivery_date, account, owner]
  search: [name]
  filters: [status, owner]
  order: name
access:
  rep:  {read: own, create: true, update: own}
  boss: {read: all, create: true, update: all}
  peek: {read: all, hide: [amount, delivery_date]}
highlight:
  - when: "delivery_date < today and status != 'closed'"
    style: danger
    label: {en: Late delivery, zh_CN: 逾期交付}
  - when: "account.grade == 'A'"
    style: success
    label: {en: Key account, zh_CN: 重点客户}
presets:
  delivery_30d:
    label: {en: Delivery within 30 days, zh_CN: 30天内交付}
    where: {delivery_date: {from: today, to: today+30}, status: {in: [signed]}}
  mine:
    label: {en: Mine, zh_CN: 我的}
    where: {owner: {is: current_user}}
  no_account:
    where: {account: {empty: true}}
  big:
    label: Big deals
    where: {amount: {from: 1000}}
"""

INSTALMENT = """
entity: instalment
module: finance
label: {en: Instalment, zh_CN: 回款计划}
fields:
  title:    {type: string, required: true}
  due_date: {type: date}
  amount:   {type: money}
  received: {type: money, default: 0}
  contract: {type: link, entity: contract}
list: {columns: [title, due_date, amount, received], order: title}
access:
  boss: {read: all, create: true, update: all}
highlight:
  - when: "due_date < today and amount - received > 0"
    style: danger
    label: {en: Overdue, zh_CN: 已逾期}
  - when: "due_date == today and amount - received > 0"
    style: warning
    label: {en: Due today, zh_CN: 今日到期}
presets:
  open:
    label: {en: Outstanding, zh_CN: 未结清}
    where: {due_date: {to: today}}
"""

FILES = {
    "roles.yaml": ROLES,
    "entities/account.yaml": ACCOUNT,
    "entities/contract.yaml": CONTRACT,
    "entities/instalment.yaml": INSTALMENT,
}


def write_list_features_schema(root: Path) -> Path:
    """Write the schema under ``root``."""
    return write_tree(root, FILES)
