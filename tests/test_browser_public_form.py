"""Browser test of a public form: a visitor with a Chinese browser opens the page without
logging in, sends it with a mistake, corrects it, and gets the thank-you; the record is there
with the form's values. The page is also shown on a phone-sized screen.

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
from conftest import add_user
from test_public_form import prospects, write_schema


@pytest.mark.browser
def test_visitor_fills_in_the_public_form(tmp_path: Path, make_portal: Any) -> None:
    """covers: S6(public page in the browser: zh_CN by Accept-Language, field errors shown
    beside the inputs with the values kept, thank-you, record created; mobile layout)"""
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    app = make_portal(write_schema(tmp_path / "schema"), PUBLIC_FORM_MIN_SECONDS=1)
    add_user(app, "rita", ["sales_rep"])
    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    errors: list[str] = []

    with serving(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1024, "height": 900},
                                      locale="zh-CN", extra_http_headers={
                                          "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/public/contact-us")
        expect(page.locator("h1")).to_have_text("联系我们")
        expect(page.locator("label[for=pf-name]")).to_contain_text("姓名")
        assert not page.locator("#pf-trap").is_visible() or \
            page.locator("#pf-trap").bounding_box()["x"] < 0  # the honeypot is out of sight
        page.fill("#pf-company", "示例科技有限公司")
        page.fill("#pf-email", "wang@")
        page.select_option("#pf-interest", "crm")
        page.fill("#pf-message", "我们需要一套客户管理系统，请联系我。")
        page.screenshot(path=str(ARTIFACTS / "public-form-zh.png"), full_page=True)
        page.wait_for_timeout(1100)  # a person takes longer than the form's minimum
        page.click("button.pf-send")
        page.wait_for_load_state("load")
        expect(page.locator(".pf-message")).to_have_text("请修正下面标出的字段。")
        expect(page.locator(".pf-error[data-field=name]")).to_have_text("此项为必填项")
        expect(page.locator(".pf-error[data-field=email]")).to_contain_text("不是有效的电子邮件地址")
        expect(page.locator("#pf-company")).to_have_value("示例科技有限公司")
        expect(page.locator("#pf-interest")).to_have_value("crm")
        page.screenshot(path=str(ARTIFACTS / "public-form-errors.png"), full_page=True)
        page.fill("#pf-name", "王芳")
        page.fill("#pf-email", "wang.fang@example.cn")
        page.fill("#pf-phone", "+86 138 0013 8000")
        page.wait_for_timeout(1100)
        page.click("button.pf-send")
        page.wait_for_load_state("load")
        expect(page.locator(".pf-thanks")).to_have_text("感谢，我们会尽快联系您。")
        page.screenshot(path=str(ARTIFACTS / "public-form-thanks.png"), full_page=True)

        phone = browser.new_context(viewport={"width": 375, "height": 740},
                                    is_mobile=True, device_scale_factor=2)
        small = phone.new_page()
        small.goto(f"{base}/public/contact-us?lang=en")
        expect(small.locator("h1")).to_have_text("Contact us")
        width = small.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"the page scrolls sideways on a phone ({width}px)"
        small.screenshot(path=str(ARTIFACTS / "public-form-phone.png"), full_page=True)
        browser.close()

    assert errors == []
    assert {urlsplit(u).hostname for u in requests} <= LOCAL_HOSTS  # nothing from outside
    [row] = prospects(app)
    assert row[2] == "王芳" and row[4] == "wang.fang@example.cn" and row[5] == "web"
