"""Browser test of "My agenda": an overdue plan shows in red in the week and month views, a
done one muted; the rep marks the overdue one done from the agenda; the manager opens the
team's planned vs done.

Headless Chromium (Debian's /usr/bin/chromium) through Playwright; screenshots land in
test-artifacts/ (agenda-week.png, agenda-month.png, agenda-team.png).
"""

from __future__ import annotations

import datetime as dt
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
from test_agenda import chore, schema, user_id, visit


def _rgb(page: Any, selector: str) -> str:
    return page.eval_on_selector(selector, "e => getComputedStyle(e).color")


@pytest.mark.browser
def test_overdue_plans_are_red_and_can_be_done_from_the_agenda(tmp_path: Path,
                                                               make_portal: Any) -> None:
    """covers: S13(planned follow-ups in the owner's agenda, overdue ones in red, done ones
    muted, month calendar, doing one from the agenda) S14(the manager's planned vs done per
    rep per day)"""
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    app = make_portal(schema(tmp_path))
    add_user(app, "boss", ["lead"])
    add_user(app, "ann", ["rep"], manager="boss")
    ann = ApiUser(app, "ann")
    now = dt.datetime.now().replace(second=0, microsecond=0)
    late = visit(ann, "Call Bolt about the quote", now - dt.timedelta(days=1))
    visit(ann, "Acme kickoff", now.replace(hour=0, minute=30), "done")
    visit(ann, "Demo at Cargo", now + dt.timedelta(hours=3))
    chore(ann, "Send price list", now.date() + dt.timedelta(days=1), user_id(app, "ann"))
    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    errors: list[str] = []

    def shot(page: Any, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    with serving(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = login_page(browser, base, "ann")
            page.context.on("request", lambda req: requests.append(req.url))
            page.on("pageerror", lambda err: errors.append(str(err)))
            # the menu leads there
            page.goto(f"{base}/")
            page.click("text=My work")
            page.click("a:has-text('My agenda')")
            page.wait_for_load_state("load")
            assert urlsplit(page.url).path == "/my/agenda/"
            page.goto(f"{base}/my/agenda/?view=week")
            overdue = page.locator(f".portal-agenda-overdue-box li[data-id='{late}']")
            expect(overdue).to_contain_text("Call Bolt about the quote")
            red = _rgb(page, f".portal-agenda-overdue-box li[data-id='{late}'] a")
            assert red == "rgb(201, 48, 44)", red
            done = page.locator(".portal-agenda-done", has_text="Acme kickoff").first
            expect(done).to_be_visible()
            assert _rgb(page, ".portal-agenda-done a") == "rgb(153, 153, 153)"
            expect(page.locator("[data-count=overdue_all]")).to_contain_text("1")
            shot(page, "agenda-week")

            page.goto(f"{base}/my/agenda/?view=month&date={now.date()}")
            cell = page.locator(f"td[data-date='{(now - dt.timedelta(days=1)).date()}']")
            if (now - dt.timedelta(days=1)).month == now.month:
                expect(cell.locator(".portal-agenda-overdue")).to_contain_text("Call Bolt")
            expect(page.locator("td.portal-agenda-today")).to_contain_text(str(now.day))
            shot(page, "agenda-month")

            # doing it from the agenda: the workflow action, then back, nothing overdue
            page.goto(f"{base}/my/agenda/?view=week")
            page.locator(f".portal-agenda-overdue-box li[data-id='{late}'] "
                         "button[data-action=complete]").click()
            page.wait_for_load_state("load")
            expect(page.locator(".alert-success")).to_be_visible()
            expect(page.locator(".portal-agenda-overdue-box")).to_have_count(0)
            expect(page.locator("[data-count=overdue_all]")).to_contain_text("0")

            boss = login_page(browser, base, "boss")
            boss.goto(f"{base}/my/agenda/")
            boss.click(".portal-agenda-team-link")
            boss.wait_for_load_state("load")
            row = boss.locator("tr[data-user=ann]")
            expect(row.locator("[data-total=week]")).to_be_visible()
            shot(boss, "agenda-team")
        finally:
            browser.close()
    assert errors == []
    assert all(urlsplit(u).hostname in LOCAL_HOSTS for u in requests if
               urlsplit(u).scheme in ("http", "https")), "a page loaded something from outside"
