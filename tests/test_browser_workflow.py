"""Browser test of an approval: the submitter submits from the record's page, the approver
sees it counted in the navbar and the menu, approves it in place from "My approvals" with a
comment, and the submitter sees the timeline, the audit entries and the notification.

Headless Chromium (Debian's /usr/bin/chromium) through Playwright; screenshots land in
test-artifacts/.
"""

from __future__ import annotations

from pathlib import Path
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
from conftest import add_user
from flow_schema import write_flow_schema


@pytest.mark.browser
def test_submit_approve_from_the_queue_and_see_the_timeline(tmp_path: Path,
                                                            make_portal: Any) -> None:
    """covers: PL4(record page action button, My approvals screen with count, approve in
    place with a comment, timeline, audit entries) PL10(unread count in the navbar)"""
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    app = make_portal(write_flow_schema(tmp_path / "schema"))
    add_user(app, "lena", ["lead"])
    add_user(app, "alice", ["clerk"], manager="lena")
    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    errors: list[str] = []

    def shot(page: Any, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    with serving(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            alice = login_page(browser, base, "alice")
            alice.context.on("request", lambda req: requests.append(req.url))
            alice.on("pageerror", lambda err: errors.append(str(err)))
            # -- alice writes a claim and submits it from its page --------------------------
            alice.goto(f"{base}/claim/add")
            alice.fill("input[name=title]", "Client dinner")
            alice.fill("input[name=amount]", "860.00")
            alice.fill("textarea[name=purpose]", "Dinner with Acme's buyer")
            alice.click("form button[type=submit]")
            alice.wait_for_load_state("load")
            alice.goto(f"{base}/claim/list/")
            alice.locator("table tbody tr", has_text="Client dinner") \
                .locator("a[href*='/claim/show/']").click()
            alice.wait_for_load_state("load")
            pk = urlsplit(alice.url).path.rsplit("/", 1)[-1]
            panel = alice.locator("#workflow")
            expect(panel.locator(".portal-state")).to_have_text("Draft")
            panel.locator("form[data-action=submit] button").click()
            alice.wait_for_load_state("load")
            expect(alice.locator(".alert-success")).to_contain_text("submit: draft -> submitted")
            expect(panel.locator(".portal-state")).to_have_text("Submitted")
            expect(panel.locator(".portal-timeline-step")).to_have_count(1)

            # -- lena sees it counted and approves it from her queue -------------------------
            lena = login_page(browser, base, "lena")
            lena.on("pageerror", lambda err: errors.append(str(err)))
            expect(lena.locator(".portal-nav-approvals .badge")).to_have_text("1")
            expect(lena.locator(".portal-nav-inbox .badge")).to_have_text("1")
            lena.locator(".navbar a.dropdown-toggle", has_text="My work").click()
            lena.locator(".navbar a", has_text="My approvals (1)").click()
            lena.wait_for_load_state("load")
            row = lena.locator(f".portal-queue-row[data-id='{pk}']")
            expect(row).to_contain_text("Client dinner")
            expect(row.locator("[data-state]")).to_have_text("Submitted")
            expect(row.locator("button[data-action]")).to_have_text(["Lead approve", "Reject"])
            shot(lena, "workflow-my-approvals")
            row.locator("input[name=comment]").fill("Fine, within policy")
            row.locator("button[data-action=lead_approve]").click()
            lena.wait_for_load_state("load")
            expect(lena.locator(".alert-success")).to_contain_text(
                "small_approve: lead_ok -> approved")
            expect(lena.locator(".portal-queue-row")).to_have_count(0)
            expect(lena.locator(".portal-nav-approvals .badge")).to_have_count(0)
            shot(lena, "workflow-queue-empty")

            # -- alice sees the outcome: timeline, history, her inbox ------------------------
            alice.reload()
            expect(panel.locator(".portal-state")).to_have_text("Approved")
            steps = panel.locator(".portal-timeline-step")
            expect(steps).to_have_count(3)
            expect(steps.nth(1)).to_contain_text("lena")
            expect(steps.nth(1)).to_contain_text("Fine, within policy")
            expect(steps.nth(2)).to_contain_text("system")
            expect(alice.locator("#history .portal-history-transition")).to_have_text(
                ["Small approve", "Lead approve", "Submit"])
            expect(alice.locator(".portal-nav-inbox .badge")).to_have_text("2")
            shot(alice, "workflow-record-approved")
            alice.locator(".portal-nav-inbox a").click()
            alice.wait_for_load_state("load")
            notes = alice.locator(".portal-notification.portal-unread")
            expect(notes).to_have_count(2)
            expect(notes.nth(0)).to_contain_text(
                "Client dinner: lead_approve by lena, then small_approve (now 'approved')")
            expect(notes.nth(0)).to_contain_text("lena: Fine, within policy")
            expect(notes.nth(1)).to_contain_text("Your claim was approved")
            shot(alice, "workflow-inbox")
        finally:
            browser.close()
    foreign = sorted({u for u in requests if urlsplit(u).hostname not in LOCAL_HOSTS
                      and urlsplit(u).scheme.startswith("http")})
    assert not foreign, f"requests left localhost: {foreign}"
    assert not errors, f"JavaScript errors: {errors}"
