"""A schema written only for the computed-field tests (no Python names its entities).

``client`` totals the received amounts of its ``pact``s; a ``pact`` (a contract) has a plan of
``instalment``s (inline children) and ``payment``s (receipts) linking to it and, optionally,
to an instalment. Computed: a pact's received, outstanding, plan totals, count of payments,
the client's grade copied through a link path and a yes/no; an instalment's received and
whether it is overdue (reads ``today``); a client's revenue and open pacts (a chain
payment -> pact.received -> client.revenue). A workflow on the pact waives its fee (a ``set``
effect) or settles it (a ``create`` effect adding a payment of the outstanding amount); the
client has a board by grade (a move is an edit). ``imports/`` holds a payment mapping and a
pact mapping with instalment rows.
"""

from __future__ import annotations

from pathlib import Path

from conftest import write_tree

ROLES = """
roles:
  rep: {label: {en: Sales rep}}
"""

CLIENT = """
entity: client
module: sales
title: name
fields:
  name:       {type: string, required: true, unique: true}
  grade:      {type: enum, values: [A, B, C], default: C}
  revenue:    {type: money, label: {en: Revenue, zh_CN: 收入}}
  open_pacts: {type: int}
computed:
  revenue: "sum(pact.client, received)"
  open_pacts: "count(pact.client, outstanding > 0)"
board: {field: grade}
access:
  rep: {read: all, create: true, update: all, delete: all}
"""

PACT = """
entity: pact
module: sales
title: name
fields:
  name:          {type: string, required: true, unique: true}
  client:        {type: link, entity: client}
  amount:        {type: money, required: true}
  fee:           {type: money, default: 0}
  status:        {type: enum, values: [open, waived, settled], default: open}
  instalments:   {type: children, entity: instalment}
  received:      {type: money, label: {en: Received, zh_CN: 已收金额}}
  outstanding:   {type: money, label: {en: Outstanding}}
  plan_total:    {type: money}
  plan_received: {type: money}
  payments:      {type: int}
  client_grade:  {type: string, max: 1}
  paid_up:       {type: bool}
list: {columns: [name, client, amount, received, outstanding]}
computed:
  paid_up: "outstanding <= 0"
  received: "sum(payment.pact, amount)"
  outstanding: "amount + fee - received"
  plan_total: "sum(instalments, amount)"
  plan_received: "sum(instalments, received)"
  payments: "count(payment.pact)"
  client_grade: "client.grade"
access:
  rep: {read: all, create: true, update: all, delete: all}
"""

INSTALMENT = """
entity: instalment
module: sales
title: label
fields:
  label:    {type: string}
  pact:     {type: link, entity: pact, required: true}
  amount:   {type: money, required: true}
  due:      {type: date}
  received: {type: money}
  overdue:  {type: bool}
computed:
  received: "sum(payment.instalment, amount)"
  overdue: "due < today and received < amount"
access:
  rep: {read: all, create: true, update: all, delete: all}
"""

PAYMENT = """
entity: payment
module: sales
title: memo
fields:
  memo:       {type: string}
  pact:       {type: link, entity: pact, required: true}
  instalment: {type: link, entity: instalment}
  amount:     {type: money, required: true}
access:
  rep: {read: all, create: true, update: all, delete: all}
"""

FLOW = """
workflow: pact_flow
entity: pact
state_field: status
states:
  open: {}
  waived:
    effects:
      - set: {fee: 0}
  settled:
    effects:
      - create: {entity: payment, values: {pact: $id, amount: $outstanding, memo: settled}}
transitions:
  waive:  {from: open, to: waived, by: {role: rep}, self_approval: true}
  settle: {from: [open, waived], to: settled, by: {role: rep}, self_approval: true}
"""

PAYMENT_IMPORT = """
import: payments
entity: payment
columns:
  contract: pact
  paid: amount
  memo: memo
"""

PACT_IMPORT = """
import: pacts
entity: pact
key: name
columns:
  name: name
  client: client
  amount: amount
  part: instalments.amount
"""


def write_computed_schema(folder: Path) -> Path:
    """Write the schema under ``folder`` and return ``folder``."""
    return write_tree(folder, {
        "roles.yaml": ROLES,
        "entities/sales/client.yaml": CLIENT,
        "entities/sales/pact.yaml": PACT,
        "entities/sales/instalment.yaml": INSTALMENT,
        "entities/sales/payment.yaml": PAYMENT,
        "workflows/pact_flow.yaml": FLOW,
        "imports/payments.yaml": PAYMENT_IMPORT,
        "imports/pacts.yaml": PACT_IMPORT,
    })
