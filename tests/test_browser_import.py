"""Browser test of the import screen: from the list's Import button, upload a file of a few
thousand rows, check it (the page follows the background job by itself), import it, and
land on the list. Headless Chromium (Debian's /usr/bin/chromium) through Playwright;
screenshots in test-artifacts/."""

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
    TIMEOUT_MS,
    require_browser,
    serving,
)
from conftest import SHIPPED_SCHEMAS, add_user

ROWS = 3000


@pytest.mark.browser
def test_import_a_file_from_the_list(tmp_path: Path, make_portal: Any) -> None:
    """covers: PL8(import screen in the browser: Import button, guessed columns, check and
    import in the background with the progress bar, the records in the list)"""
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    app = make_portal(SHIPPED_SCHEMAS)
    add_user(app, "director", ["sales_director"])
    data = tmp_path / "products.csv"
    lines = ["产品名称,系列,标准价"] + [f"Widget {i:05d},W,{i}.50" for i in range(ROWS)]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    errors: list[str] = []
    with serving(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.context.on("request", lambda req: requests.append(req.url))
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(f"{base}/login/")
            page.fill("input[name=username]", "director")
            page.fill("input[name=password]", "secret-pass-1")
            page.click("input[type=submit], button[type=submit]")
            page.wait_for_load_state("load")
            page.goto(f"{base}/product/list/")
            page.click(".portal-import-link")
            page.set_input_files("input[name=file]", str(data))
            page.click(".portal-import-upload button[type=submit]")
            page.wait_for_load_state("load")
            mapping = page.locator(".portal-import-mapping select[data-column]")
            expect(mapping).to_have_count(3)
            expect(mapping.nth(0)).to_have_value("name")
            expect(mapping.nth(2)).to_have_value("price")
            page.screenshot(path=str(ARTIFACTS / "import-mapping.png"), full_page=True)
            page.click(".portal-import-mapping button[type=submit]")
            # the page polls the job and reloads itself when the check is over
            expect(page.locator(".portal-import-summary")).to_contain_text(
                f"would import {ROWS} row(s) into product", timeout=60_000)
            page.click(".portal-import-apply button")
            expect(page.locator(".portal-import-summary")).to_contain_text(
                f"imported {ROWS} row(s) into product; {ROWS} created", timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "import-done.png"), full_page=True)
            page.click(".portal-import-list")
            page.wait_for_load_state("load")
            assert urlsplit(page.url).path.rstrip("/") == "/product/list"
            expect(page.locator("table.table-bordered")).to_contain_text("Widget 00000")
        finally:
            browser.close()
    foreign = sorted({u for u in requests if urlsplit(u).hostname not in LOCAL_HOSTS
                      and urlsplit(u).scheme.startswith("http")})
    assert not foreign, f"requests left localhost: {foreign}"
    assert not errors, f"JavaScript errors: {errors}"
