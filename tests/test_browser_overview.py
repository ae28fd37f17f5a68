"""Browser test of the 360 page: a sales rep and a director open the same account and see
the tab counts and totals of what each may read; a tab switches in place; a row opens its
record; the activity timeline lists what each may read.

Headless Chromium (Debian's /usr/bin/chromium) through Playwright; screenshots land in
test-artifacts/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
from conftest import add_user
from overview_schema import EXPECTED, USERS, seed, write_overview_schema


@pytest.mark.browser
def test_360_page_counts_for_a_rep_and_a_director(tmp_path: Path, make_portal: Any) -> None:
    """covers: S1(the 360 page shows the right counts for a sales rep and for a director;
    tabs follow the viewer's permissions) S2(totals on the page) S10(timeline on the page)"""
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    app = make_portal(write_overview_schema(tmp_path / "schema"))
    for name, roles in USERS:
        add_user(app, name, roles)
    ids = seed(app)
    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    errors: list[str] = []

    with serving(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for user in ("rep1", "boss"):
                page = login_page(browser, base, user)
                page.context.on("request", lambda req: requests.append(req.url))
                page.on("pageerror", lambda err: errors.append(str(err)))
                page.goto(f"{base}/account/show/{ids['acme']}")
                panel = page.locator("#overview")
                expect(panel.locator(".panel-title")).to_have_text("Account 360")
                tabs = panel.locator("a[data-toggle=tab]")
                shown = {tabs.nth(i).get_attribute("data-tab"):
                         int(tabs.nth(i).locator(".portal-count").inner_text())
                         for i in range(tabs.count())}
                assert shown == {tab: count for tab, (count, _) in EXPECTED[user].items()}
                # the first tab is open; the receipts tab (three links deep) opens in place
                expect(panel.locator(".tab-pane[data-tab=contacts]")).to_be_visible()
                panel.locator("a[data-tab=receipts]").click()
                receipts = panel.locator(".tab-pane[data-tab=receipts]")
                expect(receipts).to_be_visible()
                expect(panel.locator(".tab-pane[data-tab=contacts]")).to_be_hidden()
                total = EXPECTED[user]["receipts"][1]
                expect(receipts.locator(".portal-total")).to_have_text(
                    f"{float(total):,.2f}")
                expect(receipts.locator("tr.portal-overview-row")).to_have_count(
                    min(2, EXPECTED[user]["receipts"][0]))
                page.locator("#activity").scroll_into_view_if_needed()
                page.screenshot(path=str(ARTIFACTS / f"overview-{user}.png"), full_page=True)
                notes = page.locator("#activity .portal-activity-item[data-entity=note]")
                expect(notes).to_have_count(3 if user == "boss" else 2)
                # a row opens its record
                receipts.locator("tr.portal-overview-row a").first.click()
                page.wait_for_load_state("load")
                assert "/receipt/show/" in page.url
                page.context.close()
        finally:
            browser.close()
    assert not errors, errors
    outside = [u for u in requests if u.split("/")[2].split(":")[0] not in LOCAL_HOSTS]
    assert not outside, outside
