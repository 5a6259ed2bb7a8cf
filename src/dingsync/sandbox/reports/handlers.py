"""Handlers of the reports routes (``/topapi/report/…``): lists with DingTalk's cursor, receivers,
comments, statistics, templates and the unread count.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any

from dingsync.sandbox.reports.generator import peers_of
from dingsync.sandbox.reports.state import ReportsState
from dingsync.sandbox.reports.world import Report
from dingsync.sandbox.wire import OapiError
from dingsync.timeutil import (
    DAY_MS,
    format_ms,
)

if TYPE_CHECKING:
    from dingsync.sandbox.call import Call


WINDOW_MAX_MS = 180 * DAY_MS
LIST_SIZE_MAX = 20
USERLIST_SIZE_MAX = 100
COMMENT_SIZE_MAX = 20
TEMPLATE_SIZE_MAX = 100
ICON = "https://landray.dingtalkapps.com/alid/app/report/images/ico-png/{n}.png"

CREATE_URL = (
    "https://landray.dingtalkapps.com/alid/app/report/createReport_new.html"
    "?skip=0&corpid={corp}&id={code}"
)


class ReportHandlers(ReportsState):
    """The DingTalk report APIs over the world."""

    def _report(self, call: Call) -> Report:
        rid = call.params.text("report_id", required=True)
        report = self.world.by_id.get(rid or "")
        if report is None:
            raise OapiError(400002, "无效的参数: report_id 不存在")
        return report

    def _select(self, call: Call, *, modified: bool) -> tuple[list[Report], int, int]:
        p = call.params
        start = p.integer("start_time", required=True)
        end = p.integer("end_time", required=True)
        cursor = p.integer("cursor", required=True, lo=0)
        size = p.integer("size", required=True)
        assert start is not None and end is not None and cursor is not None and size is not None
        if size < 1 or size > LIST_SIZE_MAX:
            raise OapiError(400002, f"无效的参数: size 不能超过{LIST_SIZE_MAX}")
        if end < start:
            raise OapiError(400002, "无效的参数: end_time 不能早于 start_time")
        if end - start > WINDOW_MAX_MS:
            raise OapiError(400002, "无效的参数: 查询时间跨度不能超过180天")
        template = p.text("template_name")
        userid = p.text("userid")
        mstart = p.integer("modified_start_time") if modified else None
        mend = p.integer("modified_end_time") if modified else None
        scope = self.state.data_scope()  # EB-31: out-of-scope authors are left out silently
        scope_key = self.state.config.data_scope_dept_ids
        key = (start, end, template, userid, mstart, mend, tuple(scope_key or ()), scope is None)
        w = self.world
        with self.state.lock:
            selected = self._cache.get(key)
            if selected is None:
                lo = bisect.bisect_left(w.create_times, start)
                hi = bisect.bisect_right(w.create_times, end)
                selected = [
                    r
                    for r in w.reports[lo:hi]
                    if (template is None or r.template == template)
                    and (userid is None or r.creator_id == userid)
                    and (mstart is None or r.modified_time >= mstart)
                    and (mend is None or r.modified_time <= mend)
                    and (scope is None or r.creator_id in scope)
                ]
                if len(self._cache) > 256:
                    self._cache.clear()
                self._cache[key] = selected
        if cursor == 0:
            offset = 0
        elif cursor >= self.cursor_base:
            offset = cursor - self.cursor_base
        else:
            raise OapiError(400002, "无效的参数: cursor")
        return selected, offset, size

    def _page(self, call: Call, *, full: bool) -> dict[str, Any]:
        selected, offset, size = self._select(call, modified=full)
        page = selected[offset : offset + size]
        nxt = min(offset + size, len(selected)) if offset < len(selected) else offset
        return {
            "result": {
                "data_list": [self.item(r, full=full) for r in page],
                "size": size,
                "next_cursor": self.cursor_base + nxt,
                "has_more": offset + size < len(selected),
            }
        }

    # -- handlers ----------------------------------------------------------------------------
    def report_list(self, call: Call) -> dict[str, Any]:
        """``/topapi/report/list``."""
        return self._page(call, full=True)

    def report_simplelist(self, call: Call) -> dict[str, Any]:
        """``/topapi/report/simplelist``."""
        return self._page(call, full=False)

    def _userid_page(self, call: Call, ids: list[str]) -> dict[str, Any]:
        p = call.params
        offset = p.integer("offset", lo=0, default=0)
        size = p.integer("size", default=USERLIST_SIZE_MAX)
        assert offset is not None and size is not None
        if size < 1 or size > USERLIST_SIZE_MAX:
            raise OapiError(400002, f"无效的参数: size 不能超过{USERLIST_SIZE_MAX}")
        result: dict[str, Any] = {
            "userid_list": ids[offset : offset + size],
            "has_more": offset + size < len(ids),
        }
        if result["has_more"]:
            result["next_cursor"] = offset + size
        return {"result": result, "success": True}

    def receiver_list(self, call: Call) -> dict[str, Any]:
        """``/topapi/report/receiver/list``."""
        return self._userid_page(call, list(self._report(call).receivers))

    def listbytype(self, call: Call) -> dict[str, Any]:
        """``/topapi/report/statistics/listbytype`` (type 0 read, 1 comment, 2 like)."""
        report = self._report(call)
        kind = call.params.integer("type", required=True, lo=0, hi=2)
        if kind == 0:
            ids = report.readers
        elif kind == 1:
            ids = list(dict.fromkeys(c.userid for c in report.comments))
        else:
            ids = report.likers
        return self._userid_page(call, list(ids))

    def statistics(self, call: Call) -> dict[str, Any]:
        """Historic ``/topapi/report/statistics``: read/comment/like counts."""
        r = self._report(call)
        return {
            "result": {
                "comment_num": len(r.comments),
                "comment_user_num": len({c.userid for c in r.comments}),
                "like_num": len(r.likers),
                "read_num": len(r.readers),
            },
            "success": True,
        }

    def comment_list(self, call: Call) -> dict[str, Any]:
        """``/topapi/report/comment/list`` (``size`` ≤ 20; times as GMT+8 strings)."""
        report = self._report(call)
        p = call.params
        offset = p.integer("offset", lo=0, default=0)
        size = p.integer("size", default=COMMENT_SIZE_MAX)
        assert offset is not None and size is not None
        if size < 1 or size > COMMENT_SIZE_MAX:
            raise OapiError(400002, f"无效的参数: size 不能超过{COMMENT_SIZE_MAX}")
        page = report.comments[offset : offset + size]
        result: dict[str, Any] = {
            "comments": [
                {
                    "content": c.content,
                    "create_time": format_ms(c.create_time),
                    "userid": c.userid,
                }
                for c in page
            ],
            "has_more": offset + size < len(report.comments),
        }
        if result["has_more"]:
            result["next_cursor"] = offset + size
        return {"result": result, "success": True}

    def template_list(self, call: Call) -> dict[str, Any]:
        """``/topapi/report/template/listbyuserid`` (``userid`` omitted = every template)."""
        p = call.params
        userid = p.text("userid")
        offset = p.integer("offset", lo=0, default=0)
        size = p.integer("size", default=TEMPLATE_SIZE_MAX)
        assert offset is not None and size is not None
        if size < 1 or size > TEMPLATE_SIZE_MAX:
            raise OapiError(400002, f"无效的参数: size 不能超过{TEMPLATE_SIZE_MAX}")
        w = self.world
        names = list(w.templates)
        if userid is not None:
            if userid not in self.state.company.users:
                raise OapiError(60121, "找不到该用户")
            self.state.require_data_scope(userid)
            names = [n for n in names if userid in w.writers[n]] or names
        corp = self.state.app.corp_id
        items = [
            {
                "icon_url": ICON.format(n=w.templates[n].icon),
                "name": n,
                "report_code": w.templates[n].report_code,
                "url": CREATE_URL.format(corp=corp, code=w.templates[n].report_code),
            }
            for n in names[offset : offset + size]
        ]
        result: dict[str, Any] = {"template_list": items}
        if offset + size < len(names):
            result["next_cursor"] = offset + size
        return {"result": result}

    def template_get(self, call: Call) -> dict[str, Any]:
        """``/topapi/report/template/getbyname`` (``sort``/``type`` as Numbers)."""
        p = call.params
        userid = p.text("userid", required=True)
        name = p.text("template_name", required=True)
        user = self.state.company.users.get(userid or "")
        if user is None:
            raise OapiError(60121, "找不到该用户")
        self.state.require_data_scope(user.userid)
        tpl = self.world.templates.get(name or "")
        if tpl is None:
            raise OapiError(400002, "无效的参数: 模板不存在")
        heads = peers_of(self.state.company, user)[:1]
        users = self.state.company.users
        return {
            "result": {
                "id": tpl.report_code,
                "name": tpl.name,
                "fields": [
                    {"field_name": f.field_name, "sort": f.sort, "type": f.type} for f in tpl.fields
                ],
                "default_receivers": [
                    {"user_name": users[h].name, "userid": h} for h in heads if h in users
                ],
                "user_name": user.name,
                "userid": user.userid,
            }
        }

    def unread_count(self, call: Call) -> dict[str, Any]:
        """``/topapi/report/getunreadcount``: reports received in the last 30 days not read."""
        userid = call.params.text("userid", required=True)
        if userid not in self.state.company.users:
            raise OapiError(60121, "找不到该用户")
        self.state.require_data_scope(userid)
        since = int(self.state.clock.now() * 1000) - 30 * DAY_MS
        w = self.world
        lo = bisect.bisect_left(w.create_times, since)
        count = sum(1 for r in w.reports[lo:] if userid in r.receivers and userid not in r.readers)
        return {"count": count}
