"""A schema written only for the 360 page and timeline tests: no Python names its entities.

``write_overview_schema(folder)`` writes a small CRM-like world around an ``account``:
contacts and deals link to it directly; contracts link to it twice (``account`` and
``billed_to``, so the tab must say which); serials hang off contracts (two links deep);
receipts hang off payment plans of contracts (three links deep); notes link to the account
directly or through a deal. Reps read their own deals, receipts, serials and notes; the
director reads everything; support reads accounts and contacts only; the rep does not see a
deal's ``cost``.

``seed(app)`` fills it with known data and returns the ids; ``EXPECTED`` gives the counts
and totals each user must see on the account's 360 page.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

ROLES = """
roles:
  rep:      {label: {en: Sales rep, zh_CN: 销售}}
  director: {label: {en: Sales director, zh_CN: 销售总监}}
  support:  {label: {en: Support, zh_CN: 客服}}
"""

OWNED = """
  owner:   {type: user, default: current_user}
"""
REP_OWN = """
access:
  rep:      {read: own, create: true, update: own}
  director: {read: all, create: true, update: all}
"""
ALL_READ = """
access:
  rep:      {read: all, create: true, update: own}
  director: {read: all, create: true, update: all}
  support:  {read: all}
"""

ACCOUNT = """
entity: account
module: crm
label: {en: Account, zh_CN: 客户}
title: name
fields:
  name:    {type: string, max: 80, required: true, unique: true, label: {zh_CN: 名称}}
  grade:   {type: enum, values: [A, B, C], default: C}
  phone:   {type: phone}
""" + OWNED + ALL_READ + """
overview:
  label: {en: Account 360, zh_CN: 客户全景}
  header: [name, grade, owner]
  rows: 2
  tabs:
    contacts: {entity: contact}
    deals:    {entity: deal, columns: [name, stage, amount, cost, owner], sum: amount,
               label: {en: Deals, zh_CN: 商机}}
    contracts: {entity: contract, path: account, columns: [name, value, billed_to], sum: value}
    serials:  {entity: serial, path: contract.account}
    receipts: {entity: receipt, path: plan.contract.account, sum: amount}
timeline:
  note:     {date: happened_at, title: method, text: detail, path: [account, deal.account]}
  contract: {date: signed_on, path: account}
"""

CONTACT = """
entity: contact
module: crm
title: name
fields:
  name:    {type: string, max: 80, required: true}
  account: {type: link, entity: account, required: true}
""" + OWNED + ALL_READ + """
list: {columns: [name, account], search: [name], filters: [account]}
"""

DEAL = """
entity: deal
module: crm
title: name
fields:
  name:    {type: string, max: 80, required: true}
  account: {type: link, entity: account, required: true}
  stage:   {type: enum, values: {lead: {en: Lead, zh_CN: 线索}, won: {en: Won, zh_CN: 赢单}}}
  amount:  {type: money}
  cost:    {type: money}
""" + OWNED + """
access:
  rep:      {read: own, create: true, update: own, hide: [cost]}
  director: {read: all, create: true, update: all}
timeline:
  note: {date: happened_at, title: method, text: detail}
"""

CONTRACT = """
entity: contract
module: crm
title: name
fields:
  name:      {type: string, max: 80, required: true}
  account:   {type: link, entity: account, required: true}
  billed_to: {type: link, entity: account}
  value:     {type: money}
  signed_on: {type: date}
""" + OWNED + ALL_READ

PLAN = """
entity: plan
module: crm
title: label
fields:
  label:    {type: string, max: 80, required: true}
  contract: {type: link, entity: contract, required: true}
""" + OWNED + ALL_READ

RECEIPT = """
entity: receipt
module: crm
title: ref
fields:
  ref:     {type: string, max: 40, required: true}
  plan:    {type: link, entity: plan, required: true}
  amount:  {type: money}
""" + OWNED + REP_OWN

SERIAL = """
entity: serial
module: crm
title: code
fields:
  code:     {type: string, max: 40, required: true}
  contract: {type: link, entity: contract, required: true}
""" + OWNED + REP_OWN

NOTE = """
entity: note
module: crm
title: method
fields:
  method:      {type: enum, values: {call: {en: Phone call, zh_CN: 电话}, visit: {en: Visit}}}
  happened_at: {type: datetime}
  detail:      {type: text}
  account:     {type: link, entity: account}
  deal:        {type: link, entity: deal}
""" + OWNED + REP_OWN

FILES = {"account": ACCOUNT, "contact": CONTACT, "deal": DEAL, "contract": CONTRACT,
         "plan": PLAN, "receipt": RECEIPT, "serial": SERIAL, "note": NOTE}

#: name, roles
USERS = (("rep1", ["rep"]), ("rep2", ["rep"]), ("boss", ["director"]),
         ("helper", ["support"]))


def write_overview_schema(folder: Path, **replace: str) -> Path:
    """Write the schema under ``folder`` (``replace`` swaps an entity's YAML text)."""
    entities = folder / "entities" / "crm"
    entities.mkdir(parents=True, exist_ok=True)
    (folder / "roles.yaml").write_text(ROLES, encoding="utf-8")
    for name, text in {**FILES, **replace}.items():
        (entities / f"{name}.yaml").write_text(text, encoding="utf-8")
    return folder


#: What each user sees on Acme's 360 page: tab -> (count, total or None).
EXPECTED: dict[str, dict[str, tuple[int, Any]]] = {
    "boss": {"contacts": (3, None), "deals": (3, "1700.50"), "contracts": (2, "1000.00"),
             "serials": (3, None), "receipts": (3, "600.25")},
    "rep1": {"contacts": (3, None), "deals": (2, "1200.50"), "contracts": (2, "1000.00"),
             "serials": (2, None), "receipts": (2, "350.25")},
    "rep2": {"contacts": (3, None), "deals": (1, "500.00"), "contracts": (2, "1000.00"),
             "serials": (1, None), "receipts": (1, "250.00")},
    "helper": {"contacts": (3, None), "contracts": (2, "1000.00")},
}


def seed(app: Any) -> dict[str, Any]:
    """Acme with related records owned by rep1 and rep2, plus Other Co (whose records must
    never count for Acme); returns the ids by name."""
    from portal.system_models import PortalUser

    with app.app_context():
        rt = app.extensions["portal"]
        m = rt.models.classes
        session = app.appbuilder.session
        users = {u.username: u.id for u in session.query(PortalUser)}
        rep1, rep2 = users["rep1"], users["rep2"]

        def add(entity: str, owner: int, **values: Any) -> Any:
            obj = m[entity](owner_id=owner, created_by_id=owner, **values)
            session.add(obj)
            session.flush()
            return obj

        acme = add("account", rep1, name="Acme", grade="A")
        other = add("account", rep2, name="Other Co")
        for i, owner in enumerate((rep1, rep1, rep2)):
            add("contact", owner, name=f"Contact {i}", account_id=acme.id)
        add("contact", rep2, name="Elsewhere", account_id=other.id)
        d1 = add("deal", rep1, name="Big deal", account_id=acme.id, stage="won",
                 amount=Decimal("1000.00"), cost=Decimal("700.00"))
        add("deal", rep1, name="Small deal", account_id=acme.id, stage="lead",
            amount=Decimal("200.50"), cost=Decimal("10.00"))
        add("deal", rep2, name="Rep2 deal", account_id=acme.id, stage="lead",
            amount=Decimal("500.00"))
        add("deal", rep2, name="Other deal", account_id=other.id, amount=Decimal("9999.00"))
        # Contracts: c1 is Acme's and billed to Other Co; c3 is Other Co's, billed to Acme
        # (it must not count: the tab follows `account`).
        c1 = add("contract", rep1, name="C-1", account_id=acme.id, billed_to_id=other.id,
                 value=Decimal("600.00"), signed_on=dt.date(2026, 3, 1))
        c2 = add("contract", rep2, name="C-2", account_id=acme.id, value=Decimal("400.00"),
                 signed_on=dt.date(2026, 5, 1))
        c3 = add("contract", rep2, name="C-3", account_id=other.id, billed_to_id=acme.id,
                 value=Decimal("77.00"), signed_on=dt.date(2026, 4, 1))
        add("serial", rep1, code="SN-1", contract_id=c1.id)
        add("serial", rep1, code="SN-2", contract_id=c1.id)
        add("serial", rep2, code="SN-3", contract_id=c2.id)
        add("serial", rep2, code="SN-X", contract_id=c3.id)
        p1 = add("plan", rep1, label="P-1", contract_id=c1.id)
        p2 = add("plan", rep2, label="P-2", contract_id=c2.id)
        p3 = add("plan", rep2, label="P-3", contract_id=c3.id)
        add("receipt", rep1, ref="R-1", plan_id=p1.id, amount=Decimal("100.25"))
        add("receipt", rep1, ref="R-2", plan_id=p1.id, amount=Decimal("250.00"))
        add("receipt", rep2, ref="R-3", plan_id=p2.id, amount=Decimal("250.00"))
        add("receipt", rep2, ref="R-X", plan_id=p3.id, amount=Decimal("5.00"))
        # Notes: one on the account, one through rep1's deal, one through rep2's account
        # link, one on Other Co.
        at = dt.datetime(2026, 6, 1, 9, 0)
        n1 = add("note", rep1, method="call", happened_at=at, detail="Intro call",
                 account_id=acme.id)
        n2 = add("note", rep1, method="visit", happened_at=at + dt.timedelta(days=2),
                 detail="On site about the big deal", deal_id=d1.id)
        n3 = add("note", rep2, method="call", happened_at=at + dt.timedelta(days=1),
                 detail="Rep2 follow-up", account_id=acme.id, deal_id=d1.id)
        add("note", rep2, method="call", happened_at=at, detail="Other", account_id=other.id)
        session.commit()
        return {"acme": acme.id, "other": other.id, "d1": d1.id, "c1": c1.id, "c2": c2.id,
                "n1": n1.id, "n2": n2.id, "n3": n3.id}
