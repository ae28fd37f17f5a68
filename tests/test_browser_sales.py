"""Browser tests of the shipped sales module on its demo data: the funnel board (a drag moves a
card; a drag into 方案报价 without a quote is refused with the gate's message), the customer 360
page as a sales rep and as the director, and every shipped report drawing its chart.

Headless Chromium (Debian's /usr/bin/chromium) through Playwright; screenshots land in
test-artifacts/.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    LOCAL_HOSTS,
    login_page,
    require_browser,
    serving,
)
from conftest import SHIPPED_SCHEMAS

PASSWORD = "demo-pass-1"


@pytest.fixture
def demo(make_portal: Any) -> Any:
    """The shipped portal with its demo data (users, customers, deals, contracts...)."""
    from portal.demo_data import load_demo

    app = make_portal(SHIPPED_SCHEMAS)
    with app.app_context():
        load_demo(app)
    return app


def cards_of(board: Any, stage: str) -> Any:
    """The drop area of a board column."""
    return board.locator(f".portal-board-column[data-value={stage}] .portal-board-cards")


def _drag(page: Any, card: Any, column: Any) -> None:
    card.drag_to(column)
    page.wait_for_timeout(300)


@pytest.mark.browser
def test_funnel_board_drag_and_gate(demo: Any) -> None:
    """covers: S12(dragging a card moves it; a gate that is not met refuses the move with a
    visible message and the card stays; columns show counts and totals) S8(方案报价 needs a
    quote)"""
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    with serving(demo) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = login_page(browser, base, "zhao.lei", width=1600, password=PASSWORD)
            page.context.on("request", lambda req: requests.append(req.url))
            page.goto(f"{base}/opportunity/board/")
            board = page.locator(".portal-board")
            expect(board).to_be_visible()
            column = board.locator(".portal-board-column[data-value=confirmed]")
            card = column.locator(".portal-card", has_text="金陵物流仓储终端")
            expect(card).to_be_visible()
            # confirmed -> defined: allowed (amount and close date are there)
            _drag(page, card, cards_of(board, "defined"))
            moved = board.locator(".portal-board-column[data-value=defined] .portal-card",
                                  has_text="金陵物流仓储终端")
            expect(moved).to_be_visible()
            expect(column.locator(".portal-board-count")).to_have_text("0")
            page.screenshot(path=str(ARTIFACTS / "sales-board-moved.png"), full_page=True)
            # defined -> quoted without a quote: refused, visible message, card stays
            _drag(page, moved, cards_of(board, "quoted"))
            message = page.locator("#portal-board-alert")
            expect(message).to_contain_text("进入方案报价前需要报价")  # the user's language
            expect(board.locator(".portal-board-column[data-value=defined] .portal-card",
                                 has_text="金陵物流仓储终端")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "sales-board-refused.png"), full_page=True)
        finally:
            browser.close()
    assert all(urlsplit(u).hostname in LOCAL_HOSTS for u in requests if "://" in u)


@pytest.mark.browser
def test_customer_360_for_a_rep_and_the_director(demo: Any) -> None:
    """covers: S1(the customer 360 page's tabs and counts as a sales rep and as the director:
    tabs follow the viewer's permissions)"""
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    with demo.app_context():
        from sqlalchemy import text
        pk = demo.appbuilder.session.execute(text(
            "SELECT id FROM customer WHERE name = '上海华信精密机械有限公司'")).scalar()
    with serving(demo) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            counts = {}
            for user in ("wang.fang", "director", "finance"):
                page = login_page(browser, base, user, password=PASSWORD)
                page.goto(f"{base}/customer/show/{pk}")
                tabs = page.locator("#overview a[data-toggle=tab]")
                expect(tabs.first).to_be_visible()
                counts[user] = {tabs.nth(i).get_attribute("data-tab"):
                                tabs.nth(i).locator(".portal-count").inner_text()
                                for i in range(tabs.count())}
                page.screenshot(path=str(ARTIFACTS / f"sales-360-{user}.png"), full_page=True)
        finally:
            browser.close()
    assert counts["director"] == {
        "contacts": "2", "follow_ups": "2", "opportunities": "2", "contracts": "1",
        "instalments": "3", "receipts": "2", "tickets": "1", "serial_numbers": "2",
        "complaints": "1", "care": "1"}
    assert counts["wang.fang"]["opportunities"] == "2" and counts["wang.fang"]["care"] == "1"
    assert "tickets" not in counts["finance"] and counts["finance"]["receipts"] == "2"


@pytest.mark.browser
def test_every_shipped_report_renders_its_chart(demo: Any) -> None:
    """covers: S3 S5 S11 S14 S17 S18 F2(each shipped report opens from the Reports menu and
    draws its chart on the server: tiles, Pareto, funnel, bars, lines)"""
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    with demo.app_context():
        reports = demo.extensions["portal"].registry.reports
        names = sorted(reports)
        kinds = {n: reports[n].chart.type for n in names}
    assert len(names) >= 9
    requests: list[str] = []
    with serving(demo) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = login_page(browser, base, "director", width=1400, password=PASSWORD)
            page.context.on("request", lambda req: requests.append(req.url))
            page.goto(f"{base}/reports/")
            for name in names:
                if "sales_director" not in reports[name].access:
                    continue
                page.goto(f"{base}/reports/")
                page.click(f"a[data-report={name}]")
                if kinds[name] == "tiles":
                    expect(page.locator(".portal-report-chart .portal-tile").first
                           ).to_be_visible()
                else:
                    chart = page.locator(".portal-report-chart svg").first
                    expect(chart).to_be_visible()
                    assert page.locator(".portal-report-chart svg .plot .reactive").count() \
                        > 0, name
                page.screenshot(path=str(ARTIFACTS / f"sales-report-{name}.png"),
                                full_page=True)
        finally:
            browser.close()
    assert all(urlsplit(u).hostname in LOCAL_HOSTS for u in requests if "://" in u)
