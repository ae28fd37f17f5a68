"""Browser test of the reports: every test report opens from the Reports menu and shows its
chart as an SVG drawn on the server (no script, nothing from outside), with Chinese labels.

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
    TIMEOUT_MS,
    require_browser,
    serving,
)
from report_schema import report_schema
from test_reports import make_data


@pytest.mark.browser
def test_each_report_renders_a_chart(tmp_path: Path, make_portal: Any) -> None:
    """covers: S5 S11 S14 S17 S18 F2 S3(each report renders a chart: Pareto, funnel, bars,
    line, pie; CSV link; Chinese labels)"""
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    app = make_portal(report_schema(tmp_path / "schema"))
    make_data(app)
    with app.app_context():
        names = sorted(app.extensions["portal"].registry.reports)
    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    errors: list[str] = []
    with serving(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900},
                                          locale="zh-CN")
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            context.on("request", lambda req: requests.append(req.url))
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(f"{base}/login/")
            page.fill("input[name=username]", "boss")
            page.fill("input[name=password]", "secret-pass-1")
            page.click("input[type=submit], button[type=submit]")
            page.wait_for_load_state("load")
            page.goto(f"{base}/reports/")
            for name in names:
                expect(page.locator(f"a[data-report={name}]")).to_be_visible()
            for name in names:
                page.goto(f"{base}/reports/")
                page.click(f"a[data-report={name}]")
                chart = page.locator(".portal-report-chart svg").first
                expect(chart).to_be_visible()
                box = chart.bounding_box()
                assert box is not None and box["width"] > 300 and box["height"] > 200, name
                # something is drawn: bars, slices, funnel parts or line dots
                drawn = page.locator(".portal-report-chart svg .plot .reactive").count()
                assert drawn > 0, name
                expect(page.locator(".portal-report-csv")).to_be_visible()
                page.screenshot(path=str(ARTIFACTS / f"report-{name}.png"), full_page=True)
            page.goto(f"{base}/reports/customer_pareto")
            expect(page.locator(".portal-report-summary")).to_contain_text("80.05%")
            expect(page.locator(".portal-report-chart svg")).to_contain_text("北方")
            page.goto(f"{base}/reports/weighted_forecast")
            page.fill("input[name=close_date_from]", "2024-02-01")
            page.click(".portal-report-filters button[type=submit]")
            expect(page.locator(".portal-report-table tbody tr")).to_have_count(2)
            page.screenshot(path=str(ARTIFACTS / "report-filtered.png"), full_page=True)
        finally:
            browser.close()
    outside = [u for u in requests if urlsplit(u).hostname not in LOCAL_HOSTS]
    assert outside == [] and errors == []
