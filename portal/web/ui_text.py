"""The portal's own interface words (beyond FAB's catalogues and the YAML labels)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from flask_babel import LazyString

from portal.web.i18n import LazyLabel, current_locale

TEXTS: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "History": {"zh_CN": "变更历史", "zh_TW": "變更歷史"},
    "When": {"zh_CN": "时间", "zh_TW": "時間"},
    "Who": {"zh_CN": "操作人", "zh_TW": "操作人"},
    "Action": {"zh_CN": "操作", "zh_TW": "操作"},
    "Changes": {"zh_CN": "变更内容", "zh_TW": "變更內容"},
    "No changes recorded.": {"zh_CN": "暂无变更记录。", "zh_TW": "暫無變更紀錄。"},
    "create": {"zh_CN": "新建", "zh_TW": "新建"},
    "update": {"zh_CN": "修改", "zh_TW": "修改"},
    "delete": {"zh_CN": "删除", "zh_TW": "刪除"},
    "Created at": {"zh_CN": "创建时间", "zh_TW": "建立時間"},
    "Updated at": {"zh_CN": "更新时间", "zh_TW": "更新時間"},
    "Created by": {"zh_CN": "创建人", "zh_TW": "建立者"},
    "Updated by": {"zh_CN": "更新人", "zh_TW": "更新者"},
    "Id": {"zh_CN": "编号", "zh_TW": "編號"},
    "Search": {"zh_CN": "搜索", "zh_TW": "搜尋"},
    "Add row": {"zh_CN": "添加一行", "zh_TW": "新增一列"},
    "Remove row": {"zh_CN": "删除此行", "zh_TW": "刪除此列"},
})


def ui_text(text: str) -> str:
    """``text`` in the reader's language (English when there is no translation)."""
    return TEXTS.get(text, {}).get(current_locale(), text)


def lazy_ui_text(text: str) -> LazyString:
    """``ui_text`` evaluated when rendered, for labels fixed at start-up."""
    return LazyLabel(lambda: ui_text(text))
