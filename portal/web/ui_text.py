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
    "Workflow": {"zh_CN": "审批流程", "zh_TW": "審批流程"},
    "State": {"zh_CN": "状态", "zh_TW": "狀態"},
    "Locked": {"zh_CN": "已锁定", "zh_TW": "已鎖定"},
    "Comment": {"zh_CN": "意见", "zh_TW": "意見"},
    "required": {"zh_CN": "必填", "zh_TW": "必填"},
    "on behalf of": {"zh_CN": "代理", "zh_TW": "代理"},
    "No actions for you in this state.": {"zh_CN": "当前状态下您无可执行的操作。",
                                          "zh_TW": "目前狀態下您無可執行的操作。"},
    "Timeline": {"zh_CN": "审批记录", "zh_TW": "審批紀錄"},
    "approval": {"zh_CN": "会签同意", "zh_TW": "會簽同意"},
    "automatic": {"zh_CN": "自动", "zh_TW": "自動"},
    "Done: %(steps)s": {"zh_CN": "已完成：%(steps)s", "zh_TW": "已完成：%(steps)s"},
    "Approved; waiting for %(n)s more approval(s).": {
        "zh_CN": "已同意；还需 %(n)s 人同意。", "zh_TW": "已同意；還需 %(n)s 人同意。"},
})


def ui_text(text: str, **values: object) -> str:
    """``text`` in the reader's language (English when there is no translation), with
    ``%(name)s`` placeholders filled from ``values``."""
    found = TEXTS.get(text, {}).get(current_locale(), text)
    return found % values if values else found


def lazy_ui_text(text: str) -> LazyString:
    """``ui_text`` evaluated when rendered, for labels fixed at start-up."""
    return LazyLabel(lambda: ui_text(text))
