"""The words of the public form page, in the visitor's language (not the session's: a visitor
has none), shaped like ``portal.web.ui_text``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

TEXTS: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "Send": {"zh_CN": "提交", "zh_TW": "送出"},
    "required": {"zh_CN": "必填", "zh_TW": "必填"},
    "Choose…": {"zh_CN": "请选择…", "zh_TW": "請選擇…"},
    "Leave this field empty": {"zh_CN": "此项请留空", "zh_TW": "此欄請留空"},
    "Fill in another": {"zh_CN": "再填写一份", "zh_TW": "再填寫一份"},
    "Please correct the fields marked below.": {
        "zh_CN": "请修正下面标出的字段。", "zh_TW": "請修正下方標示的欄位。"},
    "The form could not be verified (it may have been open too long). Please send it again.": {
        "zh_CN": "无法验证此表单（可能打开时间过长），请再次提交。",
        "zh_TW": "無法驗證此表單（可能開啟時間過長），請再次送出。"},
    "Too many submissions from your address. Please try again in %(minutes)s minute(s).": {
        "zh_CN": "您的地址提交次数过多，请在 %(minutes)s 分钟后再试。",
        "zh_TW": "您的位址送出次數過多，請於 %(minutes)s 分鐘後再試。"},
    "this field is required": {"zh_CN": "此项为必填项", "zh_TW": "此欄為必填"},
    "is not a valid email address": {"zh_CN": "不是有效的电子邮件地址",
                                     "zh_TW": "不是有效的電子郵件地址"},
    "is not a valid phone number": {"zh_CN": "不是有效的电话号码", "zh_TW": "不是有效的電話號碼"},
    "is not a valid http(s) address": {"zh_CN": "不是有效的网址", "zh_TW": "不是有效的網址"},
})
#: Field messages that quote the value first ("'x' is not a valid email address").
_QUOTED = re.compile(r"^('.*') (is not a valid (?:email address|phone number|http\(s\) "
                     r"address))$")


def text_for(text: str, locale: str, **values: object) -> str:
    """``text`` in ``locale`` (English when there is no translation), with ``%(name)s``
    placeholders filled from ``values``. Field messages quoting a value are translated
    around the value."""
    quoted = _QUOTED.match(text)
    if quoted is not None:
        return f"{quoted.group(1)} {text_for(quoted.group(2), locale)}"
    found = TEXTS.get(text, {}).get(locale, text)
    return found % values if values else found
