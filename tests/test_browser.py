"""Browser test: headless Chromium (Debian's /usr/bin/chromium) drives the generated screens
through Playwright against a real HTTP server: menus, an add form with an inline child table
grown by portal.js, the show page with its history, the language switch, and no CDN.

Screenshots land in test-artifacts/ (gitignored) for a human to look at.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    LOCAL_HOSTS,
    TIMEOUT_MS,
    require_browser,
    serving,
)
from conftest import add_user


@pytest.fixture
def served(make_portal: Any) -> Iterator[tuple[Any, str]]:
    """The shipped portal on SQLite with an admin and one product, served over HTTP."""
    require_browser()
    app = make_portal()
    add_user(app, "admin", ["Admin"])
    with app.app_context():
        session = app.appbuilder.session
        product = app.extensions["portal"].models.classes["product"]
        session.add(product(name="Widget Pro", series="W", price=Decimal("99.50")))
        session.commit()
    with serving(app) as base:
        yield app, base


def _select(page: Any, selector: str, label: str) -> None:
    """Pick an option of a (select2-enhanced) <select> by its text and tell select2."""
    page.select_option(selector, label=label)
    page.eval_on_selector(selector, "el => el.dispatchEvent(new Event('change', "
                                    "{bubbles: true}))")


def _menu(page: Any, category: str, item: str) -> None:
    navbar = page.locator(".navbar")
    exact = re.compile(rf"^\s*{re.escape(item)}\s*$")
    toggle = navbar.locator("a.dropdown-toggle",
                            has_text=re.compile(rf"^\s*{re.escape(category)}\s*$"))
    toggle.click()
    menu = toggle.locator("xpath=..").locator("ul.dropdown-menu")
    menu.locator("a", has_text=exact).click()
    page.wait_for_load_state("load")


@pytest.mark.browser
def test_opportunity_with_lines_in_the_browser(served: tuple[Any, str]) -> None:
    """covers: PL1 PL5 PL11 PL12"""
    from playwright.sync_api import expect, sync_playwright

    app, base = served
    year = dt.datetime.now(dt.UTC).year
    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    assets: list[tuple[str, int]] = []
    page_errors: list[str] = []

    def on_response(resp: Any) -> None:
        if resp.request.resource_type in {"stylesheet", "script"}:
            assets.append((resp.url, resp.status))

    def shot(page: Any, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def save(page: Any) -> None:
        page.click("form button[type=submit]")
        page.wait_for_load_state("load")

    started = time.monotonic()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.on("request", lambda req: requests.append(req.url))
            context.on("response", on_response)
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.on("pageerror", lambda err: page_errors.append(str(err)))
            # Every asset must really load (200), not come back as a 304 from the cache.
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})

            # -- log in through the form -------------------------------------------------
            page.goto(f"{base}/login/")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", "secret-pass-1")
            page.click("input[type=submit], button[type=submit]")
            page.wait_for_load_state("load")
            expect(page.locator(".navbar")).to_contain_text("Sales")

            # -- a customer through its add screen ---------------------------------------
            _menu(page, "Sales", "Customer")
            assert urlsplit(page.url).path.rstrip("/") == "/customer/list"
            page.click("a[href*='/customer/add']")
            page.fill("input[name=name]", "Acme Industries")
            save(page)
            expect(page.locator(".alert-success")).to_be_visible()

            # -- opportunity list from the menu, then add ----------------------------------
            _menu(page, "Sales", "Opportunity")
            assert urlsplit(page.url).path.rstrip("/") == "/opportunity/list"
            page.click("a[href*='/opportunity/add']")
            assert urlsplit(page.url).path == "/opportunity/add"
            page.fill("input[name=name]", "Acme rollout")
            _select(page, "select[name=customer]", "Acme Industries")
            expect(page.locator("#select2-customer-container")).to_contain_text("Acme Industries")

            box = page.locator(".portal-children[data-name=lines]")
            rows = box.locator("tbody tr")
            expect(rows).to_have_count(0)
            box.locator(".portal-add-row").click()
            box.locator(".portal-add-row").click()
            expect(rows).to_have_count(2)
            rows.nth(1).locator(".portal-remove-row").click()
            expect(rows).to_have_count(1)
            # The cloned row's select is a select2 box styled like FAB's own fields.
            expect(rows.nth(0).locator(".select2-container--bootstrap")).to_have_count(1)
            _select(page, "select[name='lines-0-product']", "Widget Pro")
            page.fill("input[name='lines-0-quantity']", "3")
            page.fill("input[name='lines-0-unit_price']", "95.00")
            shot(page, "opportunity-add")

            # A bad row comes back on the form with its message, not as a server error.
            page.fill("input[name='lines-0-quantity']", "0")
            save(page)
            assert urlsplit(page.url).path == "/opportunity/add"
            expect(page.locator(".alert-danger")).to_have_text(
                "row 1: Quantity: must be at least 1")
            expect(rows.nth(0).locator("td.has-error")).to_contain_text("must be at least 1")
            expect(rows).to_have_count(1)
            expect(page.locator("input[name='lines-0-unit_price']")).to_have_value("95.00")
            shot(page, "opportunity-add-row-error")
            page.fill("input[name='lines-0-quantity']", "3")
            save(page)
            expect(page.locator(".alert-danger")).to_have_count(0)
            expect(page.locator(".alert-success")).to_be_visible()

            # -- the saved record in the list: the auto number -----------------------------
            code = f"OPP-{year}-00001"
            assert urlsplit(page.url).path.rstrip("/") == "/opportunity/list"
            listed = page.locator("table.table-bordered tbody tr", has_text="Acme rollout")
            expect(listed).to_have_count(1)
            expect(listed).to_contain_text(code)
            expect(listed).to_contain_text("Acme Industries")
            shot(page, "opportunity-list")

            # -- the show page renders the child row as a table ----------------------------
            listed.locator("a[href*='/opportunity/show/']").click()
            page.wait_for_load_state("load")
            pk = urlsplit(page.url).path.rsplit("/", 1)[-1]
            expect(page.locator("body")).to_contain_text(code)
            child = page.locator("table.portal-child-table")
            expect(child.locator("thead th")).to_have_text(["Product", "Quantity", "Unit price"])
            expect(child.locator("tbody tr")).to_have_count(1)
            expect(child.locator("tbody tr td")).to_have_text(["Widget Pro", "3", "95.00"])
            with app.app_context():
                line = app.extensions["portal"].models.classes["opportunity_line"]
                line_ids = [r.id for r in app.appbuilder.session.query(line)]
            assert len(line_ids) == 1

            # -- edit: rename and change the quantity of the row ---------------------------
            page.goto(f"{base}/opportunity/edit/{pk}")
            expect(rows).to_have_count(1)
            expect(page.locator("input[name='lines-0-quantity']")).to_have_value("3")
            expect(rows.nth(0).locator(".select2-selection")).to_contain_text("Widget Pro")
            page.fill("input[name=name]", "Acme rollout phase 2")
            page.fill("input[name='lines-0-quantity']", "5")
            shot(page, "opportunity-edit")
            save(page)
            expect(page.locator(".alert-danger")).to_have_count(0)

            page.goto(f"{base}/opportunity/show/{pk}")
            expect(child.locator("tbody tr td")).to_have_text(["Widget Pro", "5", "95.00"])
            with app.app_context():
                session = app.appbuilder.session
                session.expire_all()
                assert [r.id for r in session.query(line)] == line_ids  # updated in place
            # The record's own entries, and its product row's, newest first.
            history = page.locator("#history .portal-history-entry")
            expect(history.locator("td:nth-child(3)")).to_have_text(
                ["updateProducts #1", "update", "createProducts #1", "create"])
            row_update = history.nth(0)
            expect(row_update.locator("td:nth-child(4) div", has_text="Quantity")).to_have_text(
                re.compile(r"^Quantity:\s*3\s*→\s*5$"))
            update, create = history.nth(1), history.nth(3)
            expect(update.locator("del")).to_have_text("Acme rollout")
            expect(update.locator("td:nth-child(4) div", has_text="Name")).to_have_text(
                re.compile(r"^Name:\s*Acme rollout\s*→\s*Acme rollout phase 2$"))
            expect(create.locator("td:nth-child(4) div", has_text="Name")).to_have_text(
                re.compile(r"^Name:\s*Acme rollout$"))
            expect(create).to_contain_text(code)
            shot(page, "opportunity-show")

            # -- Chinese labels from the YAML -----------------------------------------------
            page.goto(f"{base}/lang/zh_CN")
            page.goto(f"{base}/opportunity/list/")
            expect(page.locator(".navbar")).to_contain_text("销售")
            expect(page.locator(".navbar")).to_contain_text("商机")
            expect(page.locator("table.table-bordered thead")).to_contain_text("商机名称")
            page.goto(f"{base}/opportunity/show/{pk}")
            expect(page.locator(".panel-title", has_text="商机").first).to_be_visible()
            # the opportunity's funnel stage, in Chinese, on its workflow panel
            expect(page.locator(".panel-title", has_text="审批流程")).to_contain_text("见到客户")
            expect(page.locator("body")).to_contain_text("产品明细")
            expect(child.locator("thead th")).to_have_text(["产品", "数量", "单价"])
            expect(page.locator("#history .panel-title")).to_contain_text("变更历史")
            expect(page.locator("#history tbody tr").first).to_contain_text("修改")
            shot(page, "opportunity-show-zh_CN")
        finally:
            browser.close()
    elapsed = time.monotonic() - started

    foreign = sorted({u for u in requests
                      if urlsplit(u).scheme in {"http", "https", "ws", "wss"}
                      and urlsplit(u).hostname not in LOCAL_HOSTS})
    assert not foreign, f"requests left localhost: {foreign}"
    assert assets, "no CSS or JS was loaded at all"
    broken = sorted({(u, s) for u, s in assets if s != 200})
    assert not broken, f"CSS/JS that did not load: {broken}"
    loaded = {urlsplit(u).path for u, _ in assets}
    assert {"/portal/static/portal.js", "/portal/static/portal.css"} <= loaded
    assert not page_errors, f"JavaScript errors: {page_errors}"
    print(f"browser flow took {elapsed:.1f}s")
