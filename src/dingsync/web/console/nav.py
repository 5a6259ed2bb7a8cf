"""The console's menu (:data:`NAV`): which pages exist and who may see each.

A page's ``allowed(viewer)`` decides both its menu entry and its URL: a page a viewer may not
use answers 404 (:func:`dingsync.web.console.session.page_caller`), like a record they may not
see in the API. Labels are DingTalk's own admin-console words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dingsync.web import rules
from dingsync.web.rules import Viewer


@dataclass(frozen=True)
class NavItem:
    """One menu entry: ``key`` (the page's id), ``label`` (Chinese), ``path`` (absolute),
    ``allowed(viewer)``."""

    key: str
    label: str
    path: str
    allowed: Callable[[Viewer], bool]


def everyone(viewer: Viewer) -> bool:
    """Every employee who may log in."""
    return not viewer.disabled


def administrators(viewer: Viewer) -> bool:
    """Main administrator, sub-administrators and the local ``admin`` role
    (:func:`dingsync.web.rules.can_administer`)."""
    return rules.can_administer(viewer)


def overview_readers(viewer: Viewer) -> bool:
    """Who sees 概览: administrators and HR (the state of the sync and the inbox)."""
    return rules.can_administer(viewer) or rules.LOCAL_HR in viewer.local_roles


#: The menu, in order. Employees see 通讯录, 日志, 考勤, 审批 (their own records) and 我的.
NAV: tuple[NavItem, ...] = (
    NavItem("overview", "概览", "/console/overview", overview_readers),
    NavItem("directory", "通讯录", "/console/directory", everyone),
    NavItem("reports", "日志", "/console/reports", everyone),
    NavItem("attendance", "考勤", "/console/attendance", everyone),
    NavItem("approvals", "审批", "/console/approvals", everyone),
    NavItem("exports", "导出记录", "/console/exports", administrators),
    NavItem("settings", "设置", "/console/settings", administrators),
    NavItem("me", "我的", "/console/me", everyone),
)
NAV_BY_KEY = {item.key: item for item in NAV}


def visible_nav(viewer: Viewer) -> list[NavItem]:
    """The menu entries ``viewer`` may use, in :data:`NAV` order."""
    return [item for item in NAV if item.allowed(viewer)]
