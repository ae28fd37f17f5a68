"""Browser test of conditional defaults on an add form: picking an A-class client fills the
priority (and due date) the rules give, picking another client puts them back, a priority the
user chose is left alone; the saved records carry what the form showed.

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
from conftest import ApiUser, add_user
from filling_schema import write_filling_schema


def pick(page: Any, field: str, text: str) -> None:
    """Choose ``text`` in the select2 box of ``field`` the way a user does."""
    page.locator(f"#select2-{field}-container").click()
    page.locator(".select2-results__option", has_text=text).first.click()


@pytest.mark.browser
def test_add_form_fills_priority_for_an_a_class_client(tmp_path: Path, make_portal: Any) -> None:
    """covers: S3(an A-class customer's new tickets default to high priority: the add form
    shows it as soon as the customer is picked, and keeps a priority the user chose)"""
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    app = make_portal(write_filling_schema(tmp_path / "schema"))
    add_user(app, "rita", ["rep"])
    add_user(app, "bo", ["boss"])
    boss = ApiUser(app, "bo")
    for name, grade in (("Acme Corp", "A"), ("Bolt Ltd", "B")):
        assert boss.post("/api/v1/client/", {"name": name, "grade": grade}).status_code == 201
    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    errors: list[str] = []

    with serving(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = login_page(browser, base, "rita")
            page.context.on("request", lambda req: requests.append(req.url))
            page.on("pageerror", lambda err: errors.append(str(err)))
            box = page.locator(".portal-record-defaults")
            priority = page.locator("select[name=priority]")

            # -- an A-class client: high priority and the rule's due date appear ------------
            page.goto(f"{base}/case/add")
            page.fill("input[name=title]", "Server down")
            expect(priority).to_have_value("normal")
            pick(page, "client", "Acme Corp")
            expect(box).to_have_attribute("data-state", "filled")
            expect(priority).to_have_value("high")
            expect(page.locator("#select2-priority-container")).to_contain_text("high")
            expect(page.locator("input[name=due]")).to_have_value("2030-01-31")
            page.screenshot(path=str(ARTIFACTS / "filling-add-form-a-client.png"),
                            full_page=True)
            # another client: the plain defaults come back
            pick(page, "client", "Bolt Ltd")
            expect(priority).to_have_value("normal")
            expect(page.locator("input[name=due]")).to_have_value("")
            pick(page, "client", "Acme Corp")
            expect(priority).to_have_value("high")
            page.locator("form input[type=submit], form button[type=submit]").first.click()
            page.wait_for_load_state("load")
            expect(page.locator(".alert-success")).to_be_visible()

            # -- a priority the user picked stays, whatever client follows ------------------
            page.goto(f"{base}/case/add")
            page.fill("input[name=title]", "Printer jam")
            pick(page, "priority", "low")
            pick(page, "client", "Acme Corp")
            expect(box).to_have_attribute("data-state", "filled")
            expect(priority).to_have_value("low")
            expect(page.locator("input[name=due]")).to_have_value("2030-01-31")
            page.locator("form input[type=submit], form button[type=submit]").first.click()
            page.wait_for_load_state("load")
            expect(page.locator(".alert-success")).to_be_visible()
        finally:
            browser.close()

    cases = ApiUser(app, "rita").get("/api/v1/case/?q=(order_column:id,order_direction:asc)")
    assert [(c["title"], c["priority"], c["due"]) for c in cases.get_json()["result"]] == [
        ("Server down", "high", "2030-01-31"), ("Printer jam", "low", "2030-01-31")]
    assert errors == []
    assert all(urlsplit(url).hostname in LOCAL_HOSTS for url in requests), requests
