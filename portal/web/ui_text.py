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
    "timed": {"zh_CN": "定时", "zh_TW": "定時"},
    "Done: %(steps)s": {"zh_CN": "已完成：%(steps)s", "zh_TW": "已完成：%(steps)s"},
    "Approved; waiting for %(n)s more approval(s).": {
        "zh_CN": "已同意；还需 %(n)s 人同意。", "zh_TW": "已同意；還需 %(n)s 人同意。"},
    "transition": {"zh_CN": "流转", "zh_TW": "流轉"},
    "My work": {"zh_CN": "我的工作", "zh_TW": "我的工作"},
    "My approvals": {"zh_CN": "我的待办审批", "zh_TW": "我的待辦審批"},
    "My submissions": {"zh_CN": "我的申请", "zh_TW": "我的申請"},
    "Inbox": {"zh_CN": "消息", "zh_TW": "訊息"},
    "Delegation": {"zh_CN": "审批代理", "zh_TW": "審批代理"},
    "Record": {"zh_CN": "单据", "zh_TW": "單據"},
    "Waiting since": {"zh_CN": "等待自", "zh_TW": "等待自"},
    "required to": {"zh_CN": "以下操作必填：", "zh_TW": "以下操作必填："},
    "Nothing waits for you.": {"zh_CN": "没有等待您处理的审批。",
                               "zh_TW": "沒有等待您處理的審批。"},
    "Waiting for": {"zh_CN": "当前审批人", "zh_TW": "目前審批人"},
    "Last step": {"zh_CN": "最近处理", "zh_TW": "最近處理"},
    "You have not submitted anything yet.": {"zh_CN": "您还没有提交过申请。",
                                             "zh_TW": "您還沒有提交過申請。"},
    "All": {"zh_CN": "全部", "zh_TW": "全部"},
    "Unread only": {"zh_CN": "只看未读", "zh_TW": "只看未讀"},
    "Mark all read": {"zh_CN": "全部标为已读", "zh_TW": "全部標為已讀"},
    "Message": {"zh_CN": "消息", "zh_TW": "訊息"},
    "No notifications.": {"zh_CN": "暂无消息。", "zh_TW": "暫無訊息。"},
    "Older": {"zh_CN": "更早", "zh_TW": "更早"},
    "While you are away, your substitute sees your approvals and acts on your behalf.": {
        "zh_CN": "您不在期间，代理人可看到并代您处理审批。",
        "zh_TW": "您不在期間，代理人可看到並代您處理審批。"},
    "Substitute": {"zh_CN": "代理人", "zh_TW": "代理人"},
    "Starts": {"zh_CN": "开始日期", "zh_TW": "開始日期"},
    "Ends": {"zh_CN": "结束日期", "zh_TW": "結束日期"},
    "Save": {"zh_CN": "保存", "zh_TW": "儲存"},
    "From": {"zh_CN": "委托人", "zh_TW": "委託人"},
    "running": {"zh_CN": "生效中", "zh_TW": "生效中"},
    "Cancel": {"zh_CN": "取消", "zh_TW": "取消"},
    "No delegations.": {"zh_CN": "暂无代理设置。", "zh_TW": "暫無代理設定。"},
    "%(n)s notification(s) marked read.": {"zh_CN": "已将 %(n)s 条消息标为已读。",
                                           "zh_TW": "已將 %(n)s 則訊息標為已讀。"},
    "Delegation saved.": {"zh_CN": "代理设置已保存。", "zh_TW": "代理設定已儲存。"},
    "Delegation cancelled.": {"zh_CN": "代理设置已取消。", "zh_TW": "代理設定已取消。"},
    "Import": {"zh_CN": "导入", "zh_TW": "匯入"},
    "Import %(what)s": {"zh_CN": "导入%(what)s", "zh_TW": "匯入%(what)s"},
    "Import %(n)s rows": {"zh_CN": "导入 %(n)s 行", "zh_TW": "匯入 %(n)s 列"},
    "A .csv or .xlsx file with a header row. Nothing is written until you have checked it "
    "and it has no problem; then every row is imported, or none.": {
        "zh_CN": "带标题行的 .csv 或 .xlsx 文件。检查通过前不会写入任何数据；"
                 "导入时要么全部成功，要么一行都不写入。",
        "zh_TW": "帶標題列的 .csv 或 .xlsx 檔案。檢查通過前不會寫入任何資料；"
                 "匯入時要麼全部成功，要麼一列都不寫入。"},
    "File": {"zh_CN": "文件", "zh_TW": "檔案"},
    "Column mapping": {"zh_CN": "列对应", "zh_TW": "欄位對應"},
    "Guess from the column names": {"zh_CN": "按列名自动对应", "zh_TW": "依欄名自動對應"},
    "Upload": {"zh_CN": "上传", "zh_TW": "上傳"},
    "Choose a .csv or .xlsx file.": {"zh_CN": "请选择 .csv 或 .xlsx 文件。",
                                     "zh_TW": "請選擇 .csv 或 .xlsx 檔案。"},
    "Column in the file": {"zh_CN": "文件中的列", "zh_TW": "檔案中的欄"},
    "Field": {"zh_CN": "字段", "zh_TW": "欄位"},
    "(ignore)": {"zh_CN": "（忽略）", "zh_TW": "（忽略）"},
    "date format": {"zh_CN": "日期格式", "zh_TW": "日期格式"},
    "Update records whose": {"zh_CN": "按此字段更新已有记录：", "zh_TW": "依此欄位更新既有紀錄："},
    "(always create)": {"zh_CN": "（总是新建）", "zh_TW": "（總是新建）"},
    "matches": {"zh_CN": "相同时", "zh_TW": "相同時"},
    "Save the mapping as": {"zh_CN": "将对应保存为", "zh_TW": "將對應儲存為"},
    "Check the file": {"zh_CN": "检查文件", "zh_TW": "檢查檔案"},
    "Mapping saved as %(name)s.": {"zh_CN": "列对应已保存为 %(name)s。",
                                   "zh_TW": "欄位對應已儲存為 %(name)s。"},
    "Row": {"zh_CN": "行", "zh_TW": "列"},
    "Column": {"zh_CN": "列", "zh_TW": "欄"},
    "Value": {"zh_CN": "值", "zh_TW": "值"},
    "Problem": {"zh_CN": "问题", "zh_TW": "問題"},
    "... and %(n)s more.": {"zh_CN": "……还有 %(n)s 个。", "zh_TW": "……還有 %(n)s 個。"},
    "Open the list": {"zh_CN": "打开列表", "zh_TW": "開啟列表"},
    "Value in the file": {"zh_CN": "文件中的值", "zh_TW": "檔案中的值"},
    "Handover": {"zh_CN": "工作交接", "zh_TW": "工作交接"},
    "Every record one user owns goes to another, in one audited action (for example when a "
    "sales rep leaves).": {
        "zh_CN": "将一个用户负责的全部记录一次性转交给另一个用户（如销售离职），并记入审计。",
        "zh_TW": "將一個使用者負責的全部紀錄一次轉交給另一個使用者（如業務離職），"
                 "並記入稽核。"},
    "To": {"zh_CN": "交给", "zh_TW": "交給"},
    "inactive": {"zh_CN": "已停用", "zh_TW": "已停用"},
    "Show what would move": {"zh_CN": "预览将转交的记录", "zh_TW": "預覽將轉交的紀錄"},
    "Count": {"zh_CN": "数量", "zh_TW": "數量"},
    "%(a)s owns no records.": {"zh_CN": "%(a)s 名下没有记录。", "zh_TW": "%(a)s 名下沒有紀錄。"},
    "Move them to %(b)s": {"zh_CN": "转交给 %(b)s", "zh_TW": "轉交給 %(b)s"},
    "Tick at least one kind of record.": {"zh_CN": "请至少勾选一类记录。",
                                          "zh_TW": "請至少勾選一類紀錄。"},
    "%(n)s record(s) moved from %(a)s to %(b)s.": {
        "zh_CN": "已将 %(n)s 条记录从 %(a)s 转交给 %(b)s。",
        "zh_TW": "已將 %(n)s 筆紀錄從 %(a)s 轉交給 %(b)s。"},
    "handover": {"zh_CN": "交接", "zh_TW": "交接"},
    "Store as": {"zh_CN": "保存为", "zh_TW": "儲存為"},
    "a value or record that exists": {"zh_CN": "已有的值或记录", "zh_TW": "既有的值或紀錄"},
    "uploaded": {"zh_CN": "已上传", "zh_TW": "已上傳"},
    "checking": {"zh_CN": "检查中", "zh_TW": "檢查中"},
    "checked": {"zh_CN": "已检查", "zh_TW": "已檢查"},
    "applying": {"zh_CN": "导入中", "zh_TW": "匯入中"},
    "done": {"zh_CN": "已完成", "zh_TW": "已完成"},
    "failed": {"zh_CN": "失败", "zh_TW": "失敗"},
    "Export": {"zh_CN": "导出", "zh_TW": "匯出"},
    # Kanban boards (portal.web.board_views, portal.web.board_data, board.html, board.js)
    "%(entity)s board": {"zh_CN": "%(entity)s看板", "zh_TW": "%(entity)s看板"},
    "Yes": {"zh_CN": "是", "zh_TW": "是"},
    "No": {"zh_CN": "否", "zh_TW": "否"},
    "Filter": {"zh_CN": "筛选", "zh_TW": "篩選"},
    "Clear filters": {"zh_CN": "清除筛选", "zh_TW": "清除篩選"},
    "Any": {"zh_CN": "不限", "zh_TW": "不限"},
    "%(n)s more": {"zh_CN": "还有 %(n)s 条", "zh_TW": "還有 %(n)s 筆"},
    "Move to": {"zh_CN": "移动到", "zh_TW": "移動到"},
    "Assign to": {"zh_CN": "分配给", "zh_TW": "分配給"},
    "Assign": {"zh_CN": "分配", "zh_TW": "分配"},
    "Ticked cards only, or the whole column when none is ticked.": {
        "zh_CN": "只分配勾选的卡片；未勾选时分配整列。",
        "zh_TW": "只分配勾選的卡片；未勾選時分配整欄。"},
    "Drag a card to another column to move it, or choose the column under the card.": {
        "zh_CN": "拖动卡片到另一列即可移动，也可在卡片下方选择目标列。",
        "zh_TW": "拖曳卡片到另一欄即可移動，也可在卡片下方選擇目標欄。"},
    "%(title)s cannot move to %(column)s: %(reason)s": {
        "zh_CN": "%(title)s 无法移动到 %(column)s：%(reason)s",
        "zh_TW": "%(title)s 無法移動到 %(column)s：%(reason)s"},
    "%(title)s moved to %(column)s.": {"zh_CN": "%(title)s 已移动到 %(column)s。",
                                       "zh_TW": "%(title)s 已移動到 %(column)s。"},
    "Only users who may change every %(entity)s record may assign a column.": {
        "zh_CN": "只有可修改全部 %(entity)s 记录的用户才能按阶段分配。",
        "zh_TW": "只有可修改全部 %(entity)s 紀錄的使用者才能按階段分配。"},
    "Nothing was assigned: %(title)s: %(reason)s": {
        "zh_CN": "未分配任何记录：%(title)s：%(reason)s",
        "zh_TW": "未分配任何紀錄：%(title)s：%(reason)s"},
    "%(n)s record(s) of %(column)s assigned to %(user)s.": {
        "zh_CN": "已将 %(column)s 的 %(n)s 条记录分配给 %(user)s。",
        "zh_TW": "已將 %(column)s 的 %(n)s 筆紀錄分配給 %(user)s。"},
    "A comment is required for this move:": {"zh_CN": "此次移动需要填写意见：",
                                              "zh_TW": "此次移動需要填寫意見："},
    "Assign every card of %(column)s to %(user)s?": {
        "zh_CN": "将 %(column)s 的全部卡片分配给 %(user)s？",
        "zh_TW": "將 %(column)s 的全部卡片分配給 %(user)s？"},
    # Duplicates and merge (portal.web.merge_views, portal.web.duplicate_warnings)
    "Duplicates": {"zh_CN": "重复记录", "zh_TW": "重複記錄"},
    "Duplicates: %(entity)s": {"zh_CN": "重复记录：%(entity)s", "zh_TW": "重複記錄：%(entity)s"},
    "Keep": {"zh_CN": "保留", "zh_TW": "保留"},
    "Merge": {"zh_CN": "合并", "zh_TW": "合併"},
    "merge": {"zh_CN": "合并", "zh_TW": "合併"},
    "Same phone": {"zh_CN": "电话相同", "zh_TW": "電話相同"},
    "Same email": {"zh_CN": "邮箱相同", "zh_TW": "郵箱相同"},
    "Similar name": {"zh_CN": "名称相近", "zh_TW": "名稱相近"},
    "No duplicates found.": {"zh_CN": "没有发现重复记录。", "zh_TW": "沒有發現重複記錄。"},
    "Showing %(n)s of %(total)s groups.": {"zh_CN": "显示 %(total)s 组中的 %(n)s 组。",
                                           "zh_TW": "顯示 %(total)s 組中的 %(n)s 組。"},
    "Choose the record to keep; the others are merged into it: its empty fields are filled "
    "from them, everything that refers to them moves to it, then they are deleted.": {
        "zh_CN": "选择要保留的记录，其余记录将合并到它：它的空字段由其余记录补齐，"
                 "引用其余记录的数据都改为引用它，然后删除其余记录。",
        "zh_TW": "選擇要保留的記錄，其餘記錄將合併到它：它的空欄位由其餘記錄補齊，"
                 "引用其餘記錄的資料都改為引用它，然後刪除其餘記錄。"},
    "Merged %(merged)s into #%(master)s.": {"zh_CN": "已将 %(merged)s 合并到 #%(master)s。",
                                            "zh_TW": "已將 %(merged)s 合併到 #%(master)s。"},
    "Possible duplicate: %(field)s is also used by %(records)s.": {
        "zh_CN": "可能重复：%(field)s 已被 %(records)s 使用。",
        "zh_TW": "可能重複：%(field)s 已被 %(records)s 使用。"},
    "%(n)s other record(s) you cannot see": {"zh_CN": "另外 %(n)s 条您无权查看的记录",
                                             "zh_TW": "另外 %(n)s 筆您無權查看的記錄"},
    "merged": {"zh_CN": "已合并", "zh_TW": "已合併"},
    # 360 page and activity timeline (portal.web.overview_page, portal.web.timeline_page)
    "Total": {"zh_CN": "合计", "zh_TW": "合計"},
    "No records.": {"zh_CN": "暂无记录。", "zh_TW": "暫無記錄。"},
    "Showing %(n)s of %(total)s.": {"zh_CN": "显示 %(total)s 条中的 %(n)s 条。",
                                    "zh_TW": "顯示 %(total)s 筆中的 %(n)s 筆。"},
    "See all": {"zh_CN": "查看全部", "zh_TW": "查看全部"},
    "Activity": {"zh_CN": "动态", "zh_TW": "動態"},
    "No activity yet.": {"zh_CN": "暂无动态。", "zh_TW": "暫無動態。"},
    # Agenda (portal.web.agenda_views)
    "My agenda": {"zh_CN": "我的日程", "zh_TW": "我的日程"},
    "Team agenda": {"zh_CN": "团队日程", "zh_TW": "團隊日程"},
    "Today": {"zh_CN": "今天", "zh_TW": "今天"},
    "Week": {"zh_CN": "本周", "zh_TW": "本週"},
    "Month": {"zh_CN": "月", "zh_TW": "月"},
    "This week": {"zh_CN": "本周", "zh_TW": "本週"},
    "Previous": {"zh_CN": "上一页", "zh_TW": "上一頁"},
    "Next": {"zh_CN": "下一页", "zh_TW": "下一頁"},
    "Planned": {"zh_CN": "计划", "zh_TW": "計畫"},
    "Done": {"zh_CN": "已完成", "zh_TW": "已完成"},
    "Overdue": {"zh_CN": "已逾期", "zh_TW": "已逾期"},
    "Overdue now": {"zh_CN": "当前逾期", "zh_TW": "目前逾期"},
    "Person": {"zh_CN": "人员", "zh_TW": "人員"},
    "Nothing planned.": {"zh_CN": "无计划。", "zh_TW": "無計畫。"},
    "Nobody's plans to show.": {"zh_CN": "没有可显示的计划。", "zh_TW": "沒有可顯示的計畫。"},
    "Done / planned per person and day; red: plans of that day still open after it.": {
        "zh_CN": "每人每天的已完成 / 计划数；红色：当天的计划过期仍未完成。",
        "zh_TW": "每人每天的已完成 / 計畫數；紅色：當天的計畫過期仍未完成。"},
    "Mon": {"zh_CN": "周一", "zh_TW": "週一"},
    "Tue": {"zh_CN": "周二", "zh_TW": "週二"},
    "Wed": {"zh_CN": "周三", "zh_TW": "週三"},
    "Thu": {"zh_CN": "周四", "zh_TW": "週四"},
    "Fri": {"zh_CN": "周五", "zh_TW": "週五"},
    "Sat": {"zh_CN": "周六", "zh_TW": "週六"},
    "Sun": {"zh_CN": "周日", "zh_TW": "週日"},
    "Quick filters": {"zh_CN": "快速筛选", "zh_TW": "快速篩選"},
})


def ui_text(text: str, **values: object) -> str:
    """``text`` in the reader's language (English when there is no translation), with
    ``%(name)s`` placeholders filled from ``values``."""
    found = TEXTS.get(text, {}).get(current_locale(), text)
    return found % values if values else found


def lazy_ui_text(text: str) -> LazyString:
    """``ui_text`` evaluated when rendered, for labels fixed at start-up."""
    return LazyLabel(lambda: ui_text(text))
