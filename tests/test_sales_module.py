"""The shipped sales module (schemas/): every S-row and F1/F2 acceptance behaviour of
../shared/CAPABILITIES.md, driven through the REST API, the workflow actions, the board, the
reports and ``portal tick``, on SQLite and PostgreSQL. Nothing here is test-only YAML: these
are the customers, opportunities, contracts and reports a new portal ships with."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from conftest import SHIPPED_SCHEMAS, ApiUser, WebUser, add_user, csrf_token
from sqlalchemy import create_engine, text

#: The sales team of the tests: (username, roles).
TEAM = (
    ("dora", ["sales_director"]), ("rita", ["sales_rep"]), ("sam", ["sales_rep"]),
    ("cora", ["call_centre"]), ("mark", ["marketing"]), ("fiona", ["finance"]),
    ("seth", ["service"]),
)
TODAY = dt.date.today()


@pytest.fixture
def crm(make_portal: Any, backend: str) -> Any:
    """The shipped portal with a sales team, on each backend."""
    app = make_portal(SHIPPED_SCHEMAS, backend=backend, PUBLIC_FORM_MIN_SECONDS=0)
    for name, roles in TEAM:
        add_user(app, name, roles)
    return app


def created(api: ApiUser, entity: str, values: dict[str, Any]) -> int:
    """Create a record over REST and return its id (fails the test with the API's answer)."""
    resp = api.post(f"/api/v1/{entity}/", values)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def record(api: ApiUser, entity: str, pk: int) -> dict[str, Any]:
    resp = api.get(f"/api/v1/{entity}/{pk}")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["result"]


def act(api: ApiUser, entity: str, pk: int, action: str, comment: str | None = None) -> Any:
    body = {"comment": comment} if comment else {}
    return api.post(f"/api/v1/{entity}/{pk}/actions/{action}", body)


def done(api: ApiUser, entity: str, pk: int, *actions: str) -> None:
    for action in actions:
        resp = act(api, entity, pk, action)
        assert resp.status_code == 200, (action, resp.get_json())


def rows(app: Any, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params))
    finally:
        engine.dispose()


def execute(app: Any, sql: str, **params: Any) -> None:
    """Change rows behind the portal's back (as if by hand, or time passing)."""
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    finally:
        engine.dispose()


def user_id(app: Any, name: str) -> int:
    return rows(app, "SELECT id FROM ab_user WHERE username = :n", n=name)[0][0]


def report(api: ApiUser, name: str, query: str = "") -> list[list[Any]]:
    resp = api.get(f"/api/v1/reports/{name}{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    return [[*row["labels"], *(row["values"][m["name"]] for m in body["measures"])]
            for row in body["rows"]]


def tick(app: Any, now: dt.datetime, *args: str) -> str:
    result = app.test_cli_runner().invoke(
        args=["portal", "tick", "--now", now.isoformat(timespec="minutes"), *args])
    assert result.exit_code == 0, result.output
    return result.output


def customer(api: ApiUser, name: str, grade: str = "C", **more: Any) -> int:
    return created(api, "customer", {"name": name, "grade": grade, **more})


def deal_at(api: ApiUser, name: str, customer_id: int, amount: str = "100000.00",
            **more: Any) -> int:
    """An opportunity of ``customer_id`` with an amount and a close date."""
    return created(api, "opportunity", {"name": name, "customer": customer_id, "amount": amount,
                                         "close_date": str(TODAY + dt.timedelta(days=60)),
                                         **more})


def contract(api: ApiUser, customer_id: int, amount: str = "100000.00", **more: Any) -> int:
    return created(api, "contract", {"name": f"Contract {amount}", "customer": customer_id,
                                     "amount": amount, **more})


def plan_of(*parts: tuple[str, str, int]) -> list[dict[str, Any]]:
    """Instalment rows: (name, amount, days from today until due)."""
    return [{"name": name, "amount": amount, "due_date": str(TODAY + dt.timedelta(days=days))}
            for name, amount, days in parts]


# -- customers: S1 S2 S3 S4 S5 ------------------------------------------------------------------

def test_customer_classes_filters_tiles_and_ticket_priority(crm: Any) -> None:
    """covers: S3(A/B/C class and VIP/normal/potential tier; list filters and dashboard tiles
    by class; an A-class customer's new tickets default to high priority)"""
    rita, dora, seth = ApiUser(crm, "rita"), ApiUser(crm, "dora"), ApiUser(crm, "seth")
    a1 = customer(rita, "华信精密", "A", tier="vip")
    customer(rita, "Acme", "A", tier="normal")
    b1 = customer(rita, "Bluth", "B", tier="potential")
    by_class = rison_filter(dora, "customer", "grade", "A")
    assert sorted(by_class) == ["Acme", "华信精密"]
    tiles = dora.get("/api/v1/reports/customers_by_class").get_json()
    assert tiles["chart"]["type"] == "tiles"
    assert {tuple(r["keys"]): r["values"]["customers"] for r in tiles["rows"]} == {
        ("A",): 2, ("B",): 1}
    a_tile = next(r["url"] for r in tiles["rows"] if r["keys"] == ["A"])
    listed = WebUser(crm, "dora").get(a_tile).get_data(as_text=True)
    assert "华信精密" in listed and "Acme" in listed and "Bluth" not in listed
    high = created(seth, "ticket", {"subject": "Spindle noise", "customer": a1})
    normal = created(seth, "ticket", {"subject": "Question", "customer": b1})
    chosen = created(seth, "ticket", {"subject": "Minor", "customer": a1, "priority": "low"})
    assert [record(seth, "ticket", pk)["priority"] for pk in (high, normal, chosen)] == [
        "high", "normal", "low"]


def rison_filter(api: ApiUser, entity: str, column: str, value: str) -> list[str]:
    q = f"(filters:!((col:{column},opr:eq,value:{value})),page_size:100)"
    resp = api.get(f"/api/v1/{entity}/?q={q}")
    assert resp.status_code == 200, resp.get_json()
    return [r["name"] for r in resp.get_json()["result"]]


def test_a_class_customer_without_key_contact_is_warned(crm: Any) -> None:
    """covers: S4(OR/KR/ER per contact; warn when an A-class customer has no KR contact)"""
    rita = ApiUser(crm, "rita")
    made = rita.post("/api/v1/customer/", {"name": "华信精密", "grade": "A"})
    assert made.status_code == 201
    assert made.get_json()["warnings"]["_"] == [
        "An A-class customer should have at least one key-relationship (KR) contact"]
    pk = made.get_json()["id"]
    created(rita, "contact", {"name": "张伟", "customer": pk, "level": "ER"})
    assert "warnings" in rita.put(f"/api/v1/customer/{pk}", {"tier": "vip"}).get_json()
    created(rita, "contact", {"name": "陈总", "customer": pk, "level": "KR"})
    assert "warnings" not in rita.put(f"/api/v1/customer/{pk}", {"tier": "vip"}).get_json()
    b = rita.post("/api/v1/customer/", {"name": "Small shop", "grade": "B"}).get_json()
    assert "warnings" not in b


def seed_customer_360(crm: Any) -> dict[str, int]:
    """One A-class customer with something in every tab, partly owned by rita and partly by
    sam; and another customer whose records must never be counted."""
    rita, sam, fiona, seth = (ApiUser(crm, n) for n in ("rita", "sam", "fiona", "seth"))
    dora = ApiUser(crm, "dora")
    pk = customer(rita, "华信精密", "A", tier="vip")
    other = customer(sam, "Elsewhere Ltd")
    created(rita, "contact", {"name": "张伟", "customer": pk, "level": "KR"})
    sams = {"owner": user_id(crm, "sam")}  # the director files these for sam
    created(dora, "contact", {"name": "李娜", "customer": pk, "level": "ER", **sams})
    created(sam, "contact", {"name": "Nobody", "customer": other})
    opp1 = deal_at(rita, "二期产线", pk, "100000.00")
    deal_at(dora, "备件框架", pk, "20000.00", **sams)
    deal_at(sam, "Unrelated", other, "5.00")
    created(rita, "follow_up", {"summary": "技术交流", "customer": pk, "opportunity": opp1})
    created(dora, "follow_up", {"summary": "电话回访", "customer": pk, **sams})
    ct = contract(dora, pk, "100000.00", opportunity=opp1, owner=user_id(crm, "rita"),
                  plan=plan_of(("首付 30%", "30000.00", -30), ("到货 40%", "40000.00", 30),
                               ("验收 30%", "30000.00", 90)))
    contract(dora, other, "999.00")
    first = instalments(dora, ct)[0]
    created(fiona, "receipt", {"contract": ct, "instalment": first, "amount": "30000.00"})
    created(fiona, "receipt", {"contract": ct, "amount": "5000.00"})
    sn = created(seth, "serial_number", {"sn": "SN2611000001", "product": product(crm),
                                         "contract": ct})
    created(seth, "serial_number", {"sn": "SN2611000002", "product": product(crm),
                                    "customer": pk})
    created(seth, "ticket", {"subject": "主轴异响", "customer": pk, "serial_number": sn})
    created(seth, "complaint", {"subject": "到货延迟", "customer": pk})
    created(seth, "care_record", {"customer": pk, "kind": "gift", "detail": "中秋礼盒"})
    return {"customer": pk, "other": other, "contract": ct, "opportunity": opp1}


def product(crm: Any) -> int:
    found = rows(crm, "SELECT id FROM product WHERE name = 'GTK 500'")
    if found:
        return found[0][0]
    return created(ApiUser(crm, "dora"), "product", {"name": "GTK 500", "price": "26768.00"})


def instalments(api: ApiUser, contract_id: int) -> list[int]:
    q = f"(filters:!((col:contract,opr:rel_o_m,value:{contract_id})),order_column:due_date," \
        "order_direction:asc)"
    resp = api.get(f"/api/v1/instalment/?q={q}")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["ids"]


def overview(api: ApiUser, pk: int) -> dict[str, tuple[int, Any]]:
    resp = api.get(f"/api/v1/customer/{pk}/overview")
    assert resp.status_code == 200, resp.get_json()
    return {t["name"]: (t["count"], t["total"]) for t in resp.get_json()["tabs"]}


def test_customer_360_counts_follow_the_viewer(crm: Any) -> None:
    """covers: S1(one page per customer with contacts, follow-ups, opportunities, contracts,
    payment plans, receipts, tickets, serial numbers, complaints and care; counts match the
    data; tabs follow the viewer's permissions) S2(contracts listed with totals; the
    customer's contracted and received totals)"""
    ids = seed_customer_360(crm)
    director = overview(ApiUser(crm, "dora"), ids["customer"])
    assert director == {
        "contacts": (2, None), "follow_ups": (2, None),
        "opportunities": (2, "120000.00"), "contracts": (1, "100000.00"),
        "instalments": (3, "70000.00"), "receipts": (2, "35000.00"),
        "tickets": (1, None), "serial_numbers": (2, None), "complaints": (1, None),
        "care": (1, None)}
    rep = overview(ApiUser(crm, "rita"), ids["customer"])
    assert rep == {
        "contacts": (1, None), "follow_ups": (1, None), "opportunities": (1, "100000.00"),
        "contracts": (1, "100000.00"), "instalments": (3, "70000.00"),
        "receipts": (2, "35000.00"), "tickets": (1, None), "serial_numbers": (2, None),
        "complaints": (1, None), "care": (0, None)}
    finance = overview(ApiUser(crm, "fiona"), ids["customer"])
    assert "tickets" not in finance and finance["receipts"] == (2, "35000.00")
    shown = record(ApiUser(crm, "dora"), "customer", ids["customer"])
    assert (shown["contract_total"], shown["received_total"]) == ("100000.00", "35000.00")


def test_customer_value_pareto(crm: Any) -> None:
    """covers: S5(customers ranked by revenue; the Pareto report shows the top 20% and their
    revenue share; the nightly job keeps the stored totals right)"""
    dora = ApiUser(crm, "dora")
    amounts = ["80000.00", "8000.00", "5000.00", "4000.00", "3000.00"]
    for i, amount in enumerate(amounts):
        pk = customer(dora, f"Customer {i}")
        contract(dora, pk, amount)
    assert report(dora, "customer_value") == [
        ["Customer 0", "80000.00", "0.8000", "0.2000"],
        ["Customer 1", "8000.00", "0.8800", "0.4000"],
        ["Customer 2", "5000.00", "0.9300", "0.6000"],
        ["Customer 3", "4000.00", "0.9700", "0.8000"],
        ["Customer 4", "3000.00", "1.0000", "1.0000"]]
    summary = dora.get("/api/v1/reports/customer_value").get_json()["summary"]
    assert (summary["top_rows"], summary["share"]) == (1, "0.8000")
    # The stored totals behind the ranking are refreshed by the periodic job too.
    execute(crm, "UPDATE customer SET contract_total = 0")  # as if written by hand in SQL
    assert "recompute" in tick(crm, dt.datetime.now(), "--job", "recompute")
    names = [r["name"] for r in dora.get(
        "/api/v1/customer/?q=(order_column:contract_total,order_direction:desc)"
    ).get_json()["result"]]
    assert names == [f"Customer {i}" for i in range(5)]


def test_web_form_creates_a_lead_for_marketing_once(crm: Any) -> None:
    """covers: S6(an anonymous POST to the public form creates a lead with source=web, owned
    by marketing; dedup against phone/email; rate limit)"""
    client = crm.test_client()
    page = client.get("/public/contact-sales?lang=zh_CN").get_data(as_text=True)
    assert "联系销售" in page
    def post(**values: Any) -> Any:
        token = client.get("/public/contact-sales/form").get_json()["token"]
        return client.post("/public/contact-sales", json={"_token": token, "website": "",
                                                          **values})
    first = post(name="李娜", company="宁波海天", phone="+86 574 8600 1111",
                 message="想了解交期")
    assert first.status_code == 200, first.get_json()
    again = post(name="李娜", phone="+86 574 8600 1111")
    assert again.status_code == 200  # the same answer: nothing revealed
    [lead] = rows(crm, "SELECT name, source, status, owner_id FROM lead")
    assert tuple(lead) == ("李娜", "web", "new", user_id(crm, "mark"))
    answers = [post(name=f"Visitor {i}", email=f"v{i}@example.com").status_code
               for i in range(6)]
    assert 429 in answers and len(rows(crm, "SELECT id FROM lead")) < 7


def test_lead_conversion_creates_customer_contact_and_opportunity(crm: Any) -> None:
    """covers: S7(conversion creates the opportunity and the customer and contact, marks the
    lead converted and keeps its history)"""
    cora, dora = ApiUser(crm, "cora"), ApiUser(crm, "dora")
    pk = created(cora, "lead", {"name": "周杰", "company": "无锡新材料",
                                "phone": "+86 510 8123 4567", "email": "zhou@wxnm.example.cn",
                                "source": "exhibition"})
    done(cora, "lead", pk, "work", "convert")
    lead = record(cora, "lead", pk)
    assert lead["status"] == "converted"
    made = record(dora, "customer", lead["customer"]["id"] if isinstance(lead["customer"], dict)
                  else lead["customer"])
    assert made["name"] == "无锡新材料" and made["phone"] == "+86 510 8123 4567"
    contact_id = lead["contact"]["id"] if isinstance(lead["contact"], dict) else lead["contact"]
    person = record(dora, "contact", contact_id)
    assert person["name"] == "周杰" and person["email"] == "zhou@wxnm.example.cn"
    opp_id = lead["opportunity"]["id"] if isinstance(lead["opportunity"], dict) \
        else lead["opportunity"]
    opp = record(dora, "opportunity", opp_id)
    assert opp["name"] == "无锡新材料" and opp["stage"] == "met"
    assert [s["to"] for s in dora.get(f"/api/v1/lead/{pk}/workflow").get_json()[
        "timeline"]][-2:] == ["working", "converted"]
    # a converted lead is kept, locked; converting twice is not possible
    assert act(cora, "lead", pk, "convert").status_code == 409
    assert cora.put(f"/api/v1/lead/{pk}", {"company": "x"}).status_code == 403
    # a lead of an existing customer links it instead of creating another
    existing = customer(cora, "Acme")
    pk2 = created(cora, "lead", {"name": "Hannah", "company": "Acme", "customer": existing})
    done(cora, "lead", pk2, "convert")
    assert len(rows(crm, "SELECT id FROM customer WHERE name = 'Acme'")) == 1
    assert link_id(record(cora, "lead", pk2)["customer"]) == existing
    # no company: refused with the gate's message, nothing created
    pk3 = created(cora, "lead", {"name": "Anonymous"})
    refused = act(cora, "lead", pk3, "convert")
    assert refused.status_code == 422 and "company" in str(refused.get_json())
    assert len(rows(crm, "SELECT id FROM opportunity")) == 2


def link_id(value: Any) -> Any:
    return value["id"] if isinstance(value, dict) else value


def test_funnel_stage_gates_and_entry_times(crm: Any) -> None:
    """covers: S8(eight stages 见到客户→发现机会→确认机会→明确需求→方案报价→客户承诺→验收→收款;
    方案报价 needs a quote; 验收 needs a contract; 收款 completes only when the payment plan
    is fully received; the time each stage was entered is kept)"""
    rita, fiona, dora = ApiUser(crm, "rita"), ApiUser(crm, "fiona"), ApiUser(crm, "dora")
    cust = customer(rita, "华信精密", "B")
    pk = deal_at(rita, "二期产线", cust, "100000.00")
    done(rita, "opportunity", pk, "find", "confirm", "define")
    refused = act(rita, "opportunity", pk, "quote")
    assert refused.status_code == 422
    assert "A quote is needed first" in str(refused.get_json())
    created(rita, "follow_up", {"summary": "报价", "customer": cust, "opportunity": pk,
                                "quote": "98000.00"})
    done(rita, "opportunity", pk, "quote", "commit")
    refused = act(rita, "opportunity", pk, "accept")
    assert refused.status_code == 422 and "signed contract" in str(refused.get_json())
    ct = contract(rita, cust, "100000.00", opportunity=pk, sign_date=str(TODAY),
                  plan=plan_of(("30%", "30000.00", 0), ("40%", "40000.00", 30),
                               ("30%", "30000.00", 60)))
    done(rita, "opportunity", pk, "accept")
    plan = instalments(dora, ct)
    created(fiona, "receipt", {"contract": ct, "instalment": plan[0], "amount": "30000.00"})
    created(fiona, "receipt", {"contract": ct, "instalment": plan[1], "amount": "40000.00"})
    refused = act(rita, "opportunity", pk, "collect")
    assert refused.status_code == 422 and "fully received" in str(refused.get_json())
    created(fiona, "receipt", {"contract": ct, "instalment": plan[2], "amount": "30000.00"})
    done(rita, "opportunity", pk, "collect")
    assert record(rita, "opportunity", pk)["stage"] == "collected"
    entered = rows(crm, "SELECT to_state, at FROM portal_workflow_step WHERE entity = "
                        "'opportunity' AND record_id = :pk ORDER BY id", pk=pk)
    assert [s for s, _ in entered] == ["found", "confirmed", "defined", "quoted", "committed",
                                       "accepted", "collected"]
    assert all(isinstance(at, dt.datetime) or at for _, at in entered)
    stages = dora.get(f"/api/v1/opportunity/{pk}/workflow").get_json()
    assert stages["state"] == "collected"


def test_kanban_moves_run_the_gates_and_show_totals(crm: Any) -> None:
    """covers: S12(dragging a card runs the S8 gates; columns show counts and totals)
    S9(a director assigns a stage's cards)"""
    rita, dora = ApiUser(crm, "rita"), ApiUser(crm, "dora")
    cust = customer(rita, "Acme", "B")
    big = deal_at(rita, "Big", cust, "100000.00")
    deal_at(rita, "Small", cust, "2500.50")
    board = rita.get("/api/v1/opportunity/board").get_json()
    met = next(c for c in board["columns"] if c["value"] == "met")
    assert (met["count"], met["total"]) == (2, "102500.50")
    assert rita.post("/api/v1/opportunity/board/move", {"id": big, "to": "found"}
                     ).status_code == 200
    done(rita, "opportunity", big, "confirm", "define")
    refused = rita.post("/api/v1/opportunity/board/move", {"id": big, "to": "quoted"})
    assert refused.status_code == 422
    assert "A quote is needed first" in refused.get_json()["message"]
    assert record(rita, "opportunity", big)["stage"] == "defined"
    assigned = dora.post("/api/v1/opportunity/board/assign",
                         {"column": "met", "to_user": "sam"})
    assert assigned.status_code == 200, assigned.get_json()
    assert [r[0] for r in rows(crm, "SELECT owner_id FROM opportunity WHERE stage = 'met'")] \
        == [user_id(crm, "sam")]


def test_needs_defined_hands_the_deal_to_field_sales(crm: Any) -> None:
    """covers: S19(a rule reassigns when the stage reaches 明确需求: from the call centre to
    the least loaded field sales rep; a rep keeps their own deal)"""
    cora, rita, sam = ApiUser(crm, "cora"), ApiUser(crm, "rita"), ApiUser(crm, "sam")
    cust = customer(cora, "Acme")
    deal_at(rita, "Rita's own", customer(rita, "Other"))  # rita carries one deal already
    pk = deal_at(cora, "From the phone", cust)
    done(cora, "opportunity", pk, "find", "confirm", "define")
    assert link_id(record(sam, "opportunity", pk)["owner"]) in (user_id(crm, "sam"), "sam")
    own = deal_at(rita, "Rita's next", customer(rita, "Third"))
    done(rita, "opportunity", own, "find", "confirm", "define")
    assert link_id(record(rita, "opportunity", own)["owner"]) in (user_id(crm, "rita"), "rita")


def test_follow_ups_on_the_timelines_and_competitor_library(crm: Any) -> None:
    """covers: S10(follow-ups with method, time, quote, result, person contacted and detail,
    shown on the opportunity and customer timelines) S11(competitor rows on a follow-up create
    or link a competitor; the library shows opportunities met, win/loss and prices)"""
    rita, dora = ApiUser(crm, "rita"), ApiUser(crm, "dora")
    cust = customer(rita, "华信精密", "B")
    person = created(rita, "contact", {"name": "张伟", "customer": cust})
    won = deal_at(rita, "二期产线", cust)
    lost = deal_at(rita, "备件", cust)
    created(dora, "competitor", {"name": "西门子"})
    visit = created(rita, "follow_up", {
        "summary": "技术交流", "customer": cust, "opportunity": won, "contact": person,
        "method": "visit", "happened_at": "2026-06-12 10:00:00", "quote": "105000.00",
        "result": "positive", "detail": "客户认可方案"})
    for name, price in (("西门子", "118000.00"), ("汇川技术", "96000.00")):
        created(rita, "follow_up_competitor", {"follow_up": visit, "name": name,
                                               "price": price})
    call = created(rita, "follow_up", {"summary": "电话", "customer": cust, "opportunity": lost,
                                       "method": "phone"})
    created(rita, "follow_up_competitor", {"follow_up": call, "name": " 汇川技术 ",
                                           "price": "90000.00"})
    assert sorted(r[0] for r in rows(crm, "SELECT name FROM competitor")) == ["汇川技术", "西门子"]
    timeline = rita.get(f"/api/v1/opportunity/{won}/timeline").get_json()["result"]
    assert [(i["title"], i["text"]) for i in timeline] == [("技术交流", "客户认可方案")]
    on_customer = rita.get(f"/api/v1/customer/{cust}/timeline").get_json()["result"]
    assert [i["title"] for i in on_customer] == ["电话", "技术交流"]
    shown = record(rita, "follow_up", visit)
    assert (shown["method"], shown["quote"], shown["result"]) == ("visit", "105000.00",
                                                                  "positive")
    # win/loss: the first deal goes to acceptance (won), the second is lost
    execute(crm, "UPDATE opportunity SET stage = 'accepted' WHERE id = :pk", pk=won)
    done(rita, "opportunity", lost, "find")
    assert act(rita, "opportunity", lost, "lose", "price").status_code == 200
    library = {r[0]: r[1:] for r in report(dora, "competitor_win_loss")}
    assert library == {"汇川技术": [2, 1, 1, "90000.00", "96000.00", "0.5000"],
                       "西门子": [1, 1, 0, "118000.00", "118000.00", "1.0000"]}
    [pk] = [r[0] for r in rows(crm, "SELECT id FROM competitor WHERE name = '汇川技术'")]
    library_row = record(dora, "competitor", pk)
    assert (library_row["times_met"], library_row["lowest_price"]) == (2, "90000.00")


def test_follow_up_plans_in_the_agenda_and_done_logs_a_follow_up(crm: Any) -> None:
    """covers: S13(planned follow-ups appear in the owner's agenda, overdue ones flagged;
    doing one creates a linked follow-up) S14(a manager sees planned vs done per rep per day)"""
    rita, sam, dora = ApiUser(crm, "rita"), ApiUser(crm, "sam"), ApiUser(crm, "dora")
    cust = customer(rita, "华信精密", "B")
    late = created(rita, "follow_up_plan", {
        "subject": "报价回访", "customer": cust, "method": "visit",
        "planned_at": f"{TODAY - dt.timedelta(days=2)} 10:00:00"})
    created(rita, "follow_up_plan", {"subject": "需求确认", "customer": cust,
                                     "planned_at": f"{TODAY + dt.timedelta(days=1)} 09:00:00"})
    created(sam, "follow_up_plan", {"subject": "Sam's call", "customer": customer(sam, "Other"),
                                    "planned_at": f"{TODAY} 15:00:00"})
    agenda = rita.get("/api/v1/my/agenda/?view=month").get_json()
    items = {i["title"]: i for i in agenda["items"]}
    assert set(items) == {"报价回访", "需求确认"}
    assert items["报价回访"]["overdue"] and not items["需求确认"]["overdue"]
    done(rita, "follow_up_plan", late, "done")
    [logged] = rows(crm, "SELECT summary, customer_id, method, plan_id, owner_id FROM follow_up")
    assert tuple(logged) == ("报价回访", cust, "visit", late, user_id(crm, "rita"))
    daily = report(dora, "daily_activity")
    assert [r[0] for r in daily].count("rita") == 2 and ["rita", str(
        TODAY - dt.timedelta(days=2)), 1, 1, "1.0000"] in daily


def test_lead_recycling_to_the_marketing_pool(crm: Any) -> None:
    """covers: S15("cannot close short-term" or N idle days returns the lead to the marketing
    pool with a reason; re-qualifying routes it back to the call centre)"""
    cora, mark = ApiUser(crm, "cora"), ApiUser(crm, "mark")
    pk = created(cora, "lead", {"name": "王磊", "company": "合肥智造"})
    done(cora, "lead", pk, "work")
    refused = act(cora, "lead", pk, "recycle")
    assert refused.status_code == 422 and "recycle_reason" in str(refused.get_json())
    assert cora.put(f"/api/v1/lead/{pk}", {"recycle_reason": "short_term"}).status_code == 200
    done(cora, "lead", pk, "recycle")
    pooled = record(mark, "lead", pk)
    assert pooled["status"] == "pool" and link_id(pooled["owner"]) in (user_id(crm, "mark"),
                                                                       "mark")
    done(mark, "lead", pk, "requalify")
    back = record(mark, "lead", pk)
    assert back["status"] == "working" and link_id(back["owner"]) in (user_id(crm, "cora"),
                                                                      "cora")
    # idle: 30 days without a change returns it by itself, with the reason "idle"
    idle = created(cora, "lead", {"name": "Quiet", "company": "Quiet Co"})
    fresh = created(cora, "lead", {"name": "Busy", "company": "Busy Co"})
    execute(crm, "UPDATE lead SET updated_at = :t WHERE id = :pk",
         t=dt.datetime.now() - dt.timedelta(days=31), pk=idle)
    out = tick(crm, dt.datetime.now(), "--job", "workflow_timers")
    assert "1" in out
    [(status, reason)] = rows(crm, "SELECT status, recycle_reason FROM lead WHERE id = :pk",
                              pk=idle)
    assert (status, reason) == ("pool", "idle")
    assert rows(crm, "SELECT status FROM lead WHERE id = :pk", pk=fresh)[0][0] == "new"


def test_contract_lines_signed_pdf_and_delivery_filter(crm: Any) -> None:
    """covers: S16(product lines sum to the amount; signer, sign and delivery dates; a signed
    PDF attaches; filter by delivery within 30 days)"""
    rita = ApiUser(crm, "rita")
    cust = customer(rita, "华信精密", "B")
    signer = created(rita, "contact", {"name": "张伟", "customer": cust})
    gtk = product(crm)
    lines = [{"product": gtk, "quantity": 3, "unit_price": "26000.00"}]
    wrong = rita.post("/api/v1/contract/", {"name": "二期", "customer": cust,
                                            "amount": "100000.00", "lines": lines})
    assert wrong.status_code == 422
    assert wrong.get_json()["message"]["amount"] == [
        "The product lines must add up to the contract amount"]
    assert rows(crm, "SELECT id FROM contract") == []
    soon = contract(rita, cust, "78000.00", lines=lines, signer=signer,
                    sign_date=str(TODAY), delivery_date=str(TODAY + dt.timedelta(days=20)))
    contract(rita, cust, "1000.00", delivery_date=str(TODAY + dt.timedelta(days=45)))
    contract(rita, cust, "2000.00", delivery_date=str(TODAY - dt.timedelta(days=1)))
    preset = rita.get("/api/v1/contract/?preset=delivery_30d").get_json()
    assert preset["ids"] == [soon]
    shown = record(rita, "contract", soon)
    assert link_id(shown["signer"]) == signer and shown["sign_date"] == str(TODAY)
    assert rows(crm, "SELECT quantity FROM contract_line WHERE contract_id = :pk", pk=soon) \
        == [(3,)]
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    web = WebUser(crm, "rita")
    form = web.get(f"/contract/edit/{soon}").get_data(as_text=True)
    sent = web.client.post(f"/contract/edit/{soon}", data={
        "csrf_token": csrf_token(form), "name": "Contract 78000.00", "customer": str(cust),
        "amount": "78000.00", "signer": str(signer), "sign_date": str(TODAY),
        "delivery_date": str(TODAY + dt.timedelta(days=20)), "owner": str(user_id(crm, "rita")),
        "lines-0-product": str(gtk), "lines-0-quantity": "3", "lines-0-unit_price": "26000.00",
        "signed_pdf": (io.BytesIO(pdf), "signed.pdf", "application/pdf")},
        content_type="multipart/form-data", follow_redirects=True)
    assert sent.status_code == 200
    [(name, mime, size)] = rows(crm, "SELECT filename, content_type, size FROM portal_attachment")
    assert (name, mime, size) == ("signed.pdf", "application/pdf", len(pdf))
    page = web.get(f"/contract/show/{soon}").get_data(as_text=True)
    assert "signed.pdf" in page


def test_quota_attainment_funnel_leakage_and_weighted_forecast(crm: Any) -> None:
    """covers: S17(monthly quota per rep; attainment and stage-to-stage drop-off) S18(amount x
    stage probability by month)"""
    rita, sam, dora = ApiUser(crm, "rita"), ApiUser(crm, "sam"), ApiUser(crm, "dora")
    month = TODAY.replace(day=1)
    created(dora, "quota", {"rep": user_id(crm, "rita"), "month": str(month),
                            "amount": "200000.00"})
    created(dora, "quota", {"rep": user_id(crm, "sam"), "month": str(month),
                            "amount": "50000.00"})
    cust = customer(rita, "Acme", "B")
    contract(rita, cust, "150000.00", sign_date=str(month))
    contract(sam, customer(sam, "Bluth"), "60000.00", sign_date=str(month))
    attainment = {r[0]: r[2:] for r in report(dora, "quota_attainment")}
    assert attainment["rita"] == ["200000.00", "150000.00", "0.7500"]
    assert attainment["sam"] == ["50000.00", "60000.00", "1.2000"]
    # four deals: all found, three confirmed, one defined
    deals = [deal_at(rita, f"Deal {i}", cust, "10000.00") for i in range(4)]
    for pk in deals:
        done(rita, "opportunity", pk, "find")
    for pk in deals[:3]:
        done(rita, "opportunity", pk, "confirm")
    done(rita, "opportunity", deals[0], "define")
    funnel = {r[0]: r[1:3] for r in report(dora, "funnel_leakage")}
    assert funnel["发现机会" if "发现机会" in funnel else "Opportunity found"][0] == 4
    reached = [r[1] for r in report(dora, "funnel_leakage")]
    assert reached[:4] == [4, 4, 3, 1]  # met, found, confirmed, defined
    leak = [r[4] for r in report(dora, "funnel_leakage")][:4]  # derived measures come last
    assert leak[2:] == ["0.2500", "0.6667"]
    forecast = report(dora, "weighted_forecast")
    close = (TODAY + dt.timedelta(days=60)).strftime("%Y-%m")
    [row] = [r for r in forecast if r[0].startswith(close)]
    # 1 defined x 0.35, 2 confirmed x 0.2, 1 found x 0.1 of 10,000 each
    assert row[1:] == [4, "40000.00", "8500.00"]


def test_payment_plan_sums_to_contract_and_receipts_reduce_outstanding(crm: Any) -> None:
    """covers: F1(a 100k contract with a 30/40/30 plan; the plan must sum to the contract;
    receipts reduce the outstanding amount)"""
    rita, fiona, dora = ApiUser(crm, "rita"), ApiUser(crm, "fiona"), ApiUser(crm, "dora")
    cust = customer(rita, "华信精密", "B")
    bad = rita.post("/api/v1/contract/", {
        "name": "二期", "customer": cust, "amount": "100000.00",
        "plan": plan_of(("30%", "30000.00", 0), ("40%", "40000.00", 30),
                        ("20%", "20000.00", 60))})
    assert bad.status_code == 422
    assert bad.get_json()["message"]["plan"] == [
        "The payment plan's instalments must add up to the contract amount"]
    assert rows(crm, "SELECT id FROM instalment") == []
    ct = contract(rita, cust, "100000.00", plan=plan_of(
        ("30%", "30000.00", 0), ("40%", "40000.00", 30), ("30%", "30000.00", 60)))
    first, second, _ = instalments(dora, ct)
    assert record(rita, "contract", ct)["outstanding"] == "100000.00"
    receipt = created(fiona, "receipt", {"contract": ct, "instalment": first,
                                         "amount": "30000.00"})
    created(fiona, "receipt", {"contract": ct, "instalment": second, "amount": "15000.50"})
    shown = record(rita, "contract", ct)
    assert (shown["received"], shown["outstanding"]) == ("45000.50", "54999.50")
    assert record(dora, "instalment", second)["outstanding"] == "24999.50"
    # derived totals are not changes of their own: no audit entry, no new last editor
    history = rita.get(f"/api/v1/contract/{ct}/history").get_json()["result"]
    assert [h["action"] for h in history if h["entity"] == "contract"] == ["create"]
    assert rows(crm, "SELECT updated_by_id FROM contract WHERE id = :pk", pk=ct) == [
        (user_id(crm, "rita"),)]
    assert fiona.put(f"/api/v1/receipt/{receipt}", {"amount": "10000.00"}).status_code == 200
    assert record(rita, "contract", ct)["outstanding"] == "74999.50"
    assert fiona.delete(f"/api/v1/receipt/{receipt}").status_code == 200
    assert record(rita, "contract", ct)["outstanding"] == "84999.50"
    other = contract(rita, cust, "5000.00")
    wrong = fiona.post("/api/v1/receipt/", {"contract": other, "instalment": first,
                                            "amount": "1.00"})
    assert wrong.status_code == 422
    assert wrong.get_json()["message"]["instalment"] == [
        "The instalment belongs to another contract"]
    refused = rita.put(f"/api/v1/contract/{ct}", {"received": "100000.00"})
    assert refused.status_code in (400, 422) and "received" in str(refused.get_json())


def test_overdue_instalments_red_with_reason_remedy_and_report(crm: Any) -> None:
    """covers: F2(a past-due instalment shows red; its follow-up requires reason, remedy and
    next date; a report groups overdue items by reason)"""
    rita, fiona, dora = ApiUser(crm, "rita"), ApiUser(crm, "fiona"), ApiUser(crm, "dora")
    cust = customer(rita, "华信精密", "B")
    ct = contract(rita, cust, "100000.00", plan=plan_of(
        ("30%", "30000.00", -40), ("40%", "40000.00", -10), ("30%", "30000.00", 30)))
    paid, late, later = instalments(dora, ct)
    created(fiona, "receipt", {"contract": ct, "instalment": paid, "amount": "30000.00"})
    def mark(pk: int) -> Any:
        return record(dora, "instalment", pk)["highlight"]
    assert mark(late) == {"style": "danger", "label": "Overdue"}
    assert mark(later) is None
    assert mark(paid) == {"style": "success", "label": "Received"}
    page = WebUser(crm, "dora").get("/instalment/list/").get_data(as_text=True)
    assert page.count("danger") >= 1
    overdue = dora.get("/api/v1/instalment/?preset=overdue").get_json()["ids"]
    assert overdue == [late]
    missing = rita.post("/api/v1/follow_up/", {"summary": "催款", "customer": cust,
                                               "instalment": late})
    assert missing.status_code == 422
    assert set(missing.get_json()["message"]) >= {"reason", "remedy", "next_date"}
    created(rita, "follow_up", {"summary": "催款", "customer": cust, "instalment": late,
                                "reason": "process", "remedy": "约财务总监面谈",
                                "next_date": str(TODAY + dt.timedelta(days=7))})
    created(rita, "follow_up", {"summary": "not overdue", "customer": cust,
                                "instalment": later})
    assert report(dora, "overdue_by_reason") == [["客户内部审批慢" if False else
                                                   "Approval process", 1, 1]]


def test_linked_records_outside_the_read_scope_show_empty(crm: Any) -> None:
    """covers: S1(tabs and links follow the viewer's permissions: a link to a record the
    viewer may not read, joined under the link's own name, shows as empty)"""
    rita, dora = ApiUser(crm, "rita"), ApiUser(crm, "dora")
    mine = customer(rita, "Mine")
    theirs = created(dora, "contact", {"name": "Sam's contact", "customer": mine,
                                       "owner": user_id(crm, "sam")})
    ct = contract(dora, mine, "10.00", signer=theirs, owner=user_id(crm, "rita"))
    assert record(rita, "contract", ct)["signer"] is None
    assert link_id(record(dora, "contract", ct)["signer"]) == theirs
    parent = customer(dora, "Group HQ")
    child = customer(dora, "Branch", parent=parent, owner=user_id(crm, "rita"))
    assert record(rita, "customer", child)["parent"] is None
    assert link_id(record(dora, "customer", child)["parent"]) == parent


def test_child_rows_over_rest_are_checked_row_by_row(crm: Any) -> None:
    """covers: F1 S16(a contract's plan and lines written with it over REST: each row
    checked, problems named by row and column, nothing half-written; rows updated in place,
    added and removed)"""
    rita, dora = ApiUser(crm, "rita"), ApiUser(crm, "dora")
    cust = customer(rita, "Acme")
    bad = rita.post("/api/v1/contract/", {
        "name": "x", "customer": cust, "amount": "100.00",
        "plan": [{"name": "a", "amount": "60.00", "due_date": str(TODAY)},
                 {"name": "b", "amount": "forty", "due_date": "someday", "colour": "red"},
                 "not a row"]})
    assert bad.status_code == 422
    assert bad.get_json()["message"] == {"plan": {
        "1": {"colour": ["Unknown field."]}, "2": {"_": ["expected an object"]}}}
    missing = rita.post("/api/v1/contract/", {
        "name": "x", "customer": cust, "amount": "100.00",
        "plan": [{"name": "a", "amount": "forty"}]})
    assert missing.get_json()["message"]["plan"]["0"]["due_date"] == ["this field is required"]
    assert "amount" in missing.get_json()["message"]["plan"]["0"]
    assert rows(crm, "SELECT id FROM contract") == []
    ct = contract(rita, cust, "100.00", plan=plan_of(("a", "60.00", 0), ("b", "40.00", 30)))
    first, second = instalments(dora, ct)
    moved = rita.put(f"/api/v1/contract/{ct}", {"plan": [
        {"id": first, "name": "a", "amount": "50.00", "due_date": str(TODAY)},
        {"name": "c", "amount": "50.00", "due_date": str(TODAY + dt.timedelta(days=9))}]})
    assert moved.status_code == 200, moved.get_json()
    assert sorted((r[0], str(r[1])) for r in rows(
        crm, "SELECT name, due_date FROM instalment ORDER BY name")) == [
        ("a", str(TODAY)), ("c", str(TODAY + dt.timedelta(days=9)))]
    assert second not in instalments(dora, ct)
    stranger = rita.put(f"/api/v1/contract/{ct}", {"plan": [
        {"id": 999, "name": "z", "amount": "100.00", "due_date": str(TODAY)}]})
    assert stranger.status_code == 422
    assert stranger.get_json()["message"] == {"plan": {"0": {"id": [
        "no row 999 in this record's plan"]}}}
    unchanged = rita.put(f"/api/v1/contract/{ct}", {"name": "renamed"})
    assert unchanged.status_code == 200 and len(instalments(dora, ct)) == 2


def test_a_leaving_rep_hands_everything_over(crm: Any) -> None:
    """covers: S9("transfer all from user X" moves customers, opportunities, follow-ups and
    plans with their history, in one audited action)"""
    rita, sam = ApiUser(crm, "rita"), ApiUser(crm, "sam")
    cust = customer(rita, "华信精密", "A")
    opp = deal_at(rita, "二期产线", cust)
    created(rita, "follow_up", {"summary": "拜访", "customer": cust, "opportunity": opp})
    created(rita, "follow_up_plan", {"subject": "回访", "customer": cust,
                                     "planned_at": f"{TODAY} 10:00:00"})
    done = crm.test_cli_runner().invoke(args=["portal", "handover", "rita", "sam", "--apply"])
    assert done.exit_code == 0 and "moved 4 record(s)" in done.output, done.output
    assert record(sam, "opportunity", opp)["name"] == "二期产线"
    assert rita.get(f"/api/v1/opportunity/{opp}").status_code == 404
    history = sam.get(f"/api/v1/opportunity/{opp}/history").get_json()["result"]
    assert history[0]["action"] == "handover"
    assert [i["title"] for i in sam.get("/api/v1/my/agenda/?view=month").get_json()[
        "items"]] == ["回访"]
