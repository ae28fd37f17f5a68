"""Browser test of the Kanban board: a rep drags a deal to the next column (it moves and the
counts and totals change without a reload), then to a gated column (a visible message, and
the card stays where it was); a director assigns a column to another rep.

Headless Chromium (Debian's /usr/bin/chromium) through Playwright; screenshots land in
test-artifacts/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from board_schema import write_board_schema
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


@pytest.mark.browser
def test_drag_moves_and_gate_refuses(tmp_path: Path, make_portal: Any) -> None:
    """covers: S12(Kanban of opportunities: dragging a card runs the stage gates, refused
    with a visible message; columns show counts and totals) S9(a director assigns by
    stage)"""
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    app = make_portal(write_board_schema(tmp_path / "schema"))
    for name, roles in (("ann", ["rep"]), ("ray", ["rep"]), ("bo", ["boss"])):
        add_user(app, name, roles)
    api = ApiUser(app, "ann")
    for name, amount in (("Acme renewal", "1200.00"), ("Globex pilot", "800.50")):
        assert api.post("/api/v1/deal/", {"name": name, "amount": amount}).status_code == 201
    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    errors: list[str] = []

    def shot(page: Any, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    with serving(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            ann = login_page(browser, base, "ann", width=1400)
            ann.context.on("request", lambda req: requests.append(req.url))
            ann.on("pageerror", lambda err: errors.append(str(err)))
            # -- the board from the module's menu ---------------------------------------------
            ann.locator(".navbar a.dropdown-toggle", has_text="Sales").click()
            ann.locator(".navbar a", has_text="Pipeline").click()
            ann.wait_for_load_state("load")
            board = ann.locator(".portal-board")
            lead = board.locator(".portal-board-column[data-value=lead]")
            qualified = board.locator(".portal-board-column[data-value=qualified]")
            expect(lead.locator(".portal-board-count")).to_have_text("2")
            expect(lead.locator(".portal-board-total")).to_have_text("2,000.50")
            expect(qualified.locator(".portal-board-count")).to_have_text("0")
            shot(ann, "board-start")

            # -- drag a card to the next column: it moves, counts and totals follow -----------
            card = lead.locator(".portal-card", has_text="Acme renewal")
            card.drag_to(qualified.locator(".portal-board-cards"))
            alert = ann.locator("#portal-board-alert")
            expect(alert).to_have_class("alert alert-success")
            expect(alert).to_contain_text("qualify: lead -> qualified")
            expect(qualified.locator(".portal-card", has_text="Acme renewal")).to_have_count(1)
            expect(qualified.locator(".portal-board-count")).to_have_text("1")
            expect(qualified.locator(".portal-board-total")).to_have_text("1,200.00")
            expect(lead.locator(".portal-board-count")).to_have_text("1")
            expect(lead.locator(".portal-board-total")).to_have_text("800.50")
            # the keyboard way: the column chosen under the card
            qualified.locator(".portal-card", has_text="Acme renewal") \
                .locator("select.portal-card-move").select_option("proposal")
            proposal = board.locator(".portal-board-column[data-value=proposal]")
            expect(proposal.locator(".portal-card", has_text="Acme renewal")).to_have_count(1)
            expect(proposal.locator(".portal-board-total")).to_have_text("1,200.00")
            shot(ann, "board-moved")

            # -- drag to a gated column: refused, visibly, and the card stays -----------------
            won = board.locator(".portal-board-column[data-value=won]")
            proposal.locator(".portal-card", has_text="Acme renewal") \
                .drag_to(won.locator(".portal-board-cards"))
            expect(alert).to_have_class("alert alert-danger")
            expect(alert).to_have_text(
                "Acme renewal cannot move to Won: fill in Close date before 'win'")
            expect(proposal.locator(".portal-card", has_text="Acme renewal")).to_have_count(1)
            expect(won.locator(".portal-card")).to_have_count(0)
            expect(won.locator(".portal-board-count")).to_have_text("0")
            expect(proposal.locator(".portal-board-count")).to_have_text("1")
            shot(ann, "board-gate-refused")
            # no transition at all between two columns
            lead.locator(".portal-card", has_text="Globex pilot") \
                .drag_to(won.locator(".portal-board-cards"))
            expect(alert).to_have_text(
                "Globex pilot cannot move to Won: no transition from 'Lead' to 'Won'")
            expect(lead.locator(".portal-card", has_text="Globex pilot")).to_have_count(1)
            ann.reload()  # the server agrees with what the page showed
            expect(board.locator(".portal-board-column[data-value=proposal] .portal-card"))\
                .to_have_count(1)
            expect(won.locator(".portal-board-count")).to_have_text("0")

            # -- the director assigns the lead column to ray ------------------------------------
            bo = login_page(browser, base, "bo", width=1400)
            bo.on("pageerror", lambda err: errors.append(str(err)))
            bo.goto(f"{base}/deal/board/")
            column = bo.locator(".portal-board-column[data-value=lead]")
            column.locator("select[name=to_user]").select_option("ray")
            bo.once("dialog", lambda dialog: dialog.accept())
            column.locator(".portal-board-assign button").click()
            expect(bo.locator("#portal-board-alert")).to_have_text(
                "1 record(s) of Lead assigned to ray.")
            expect(column.locator(".portal-card [data-field=owner] .portal-card-text"))\
                .to_have_text(["ray"])
            shot(bo, "board-assigned")
        finally:
            browser.close()
    foreign = sorted({u for u in requests if urlsplit(u).hostname not in LOCAL_HOSTS
                      and urlsplit(u).scheme.startswith("http")})
    assert not foreign, f"requests left localhost: {foreign}"
    assert not errors, f"JavaScript errors: {errors}"
