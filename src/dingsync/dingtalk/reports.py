"""Reports (日志): ``/topapi/report/*`` — one method per endpoint (reports.md).

Caps are handled here, never by callers: ``report/list`` and ``simplelist`` are sent ``size`` ≤ 20
and windows of at most 180 days (a longer period is split into consecutive windows, each paged
from ``cursor`` 0); the per-report lists use their own caps (100 for receivers and read/comment/
like lists, 20 for comments, 100 for templates). ``next_cursor`` is opaque (EB-37): it is passed
back exactly as received and paging follows ``has_more`` — adding cursors or using them as
offsets would skip reports.

Times are epoch milliseconds (``int``) or aware datetimes. Errors: see
:mod:`dingsync.dingtalk.errors` (``InvalidArgumentError`` for 400002 — e.g. a window over 180
days or ``size`` over 20, which this module never sends; ``NotFoundError`` for 60121;
``PermissionDeniedError`` for 50002/60011).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import dingsync.timeutil as timeutil
from dingsync.dingtalk.models.reports import (
    Report,
    ReportComment,
    ReportDetail,
    ReportStatistics,
    ReportStatRule,
    ReportTemplate,
    ReportTemplateSummary,
    SubmitStatistics,
)
from dingsync.dingtalk.paging import (
    Marker,
    Page,
    Pager,
    cursor_fetcher,
    cursor_pager,
    next_token_pager,
)

if TYPE_CHECKING:
    from dingsync.dingtalk._base import DingTalkClient

#: ``report/list`` / ``simplelist`` page size cap.
REPORT_PAGE_MAX = 20
#: Receivers and ``statistics/listbytype`` page size cap.
USERID_PAGE_MAX = 100
#: ``comment/list`` page size cap.
COMMENT_PAGE_MAX = 20
#: ``template/listbyuserid`` page size cap.
TEMPLATE_PAGE_MAX = 100
#: ``statisticalRules/results`` ``maxResults`` (EB-38: v1.0 report pages ≤ 20).
RULE_PAGE_MAX = 20
#: Longest ``start_time``..``end_time`` span per call, in ms (180 days).
WINDOW_MS = 180 * 86_400_000

#: ``statistics/listbytype`` ``type`` values.
READERS, COMMENTERS, LIKERS = 0, 1, 2

Moment = int | datetime


def to_ms(moment: Moment) -> int:
    """Epoch ms for ``int`` (taken as ms) or an aware datetime (naive → ``ValueError``, the
    rule of :func:`dingsync.timeutil.to_ms`)."""
    return timeutil.to_ms(moment) if isinstance(moment, datetime) else int(moment)


def split_windows(start: Moment, end: Moment, span_ms: int = WINDOW_MS) -> list[tuple[int, int]]:
    """``[start, end]`` (ms, both inclusive) cut into consecutive, non-overlapping windows
    spanning at most ``span_ms`` (``e - s <= span_ms``: DingTalk's 180-day check is inclusive):
    ``[(s0, e0), (e0 + 1, e1), …]`` (:func:`dingsync.timeutil.split_ms`). An empty or reversed
    range gives one window as given (DingTalk answers it with nothing)."""
    s, e = to_ms(start), to_ms(end)
    return timeutil.split_ms(s, e, span_ms + 1) if e > s else [(s, e)]


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


class ReportsAPI:
    """``client.reports``: the report (日志) endpoints."""

    def __init__(self, client: DingTalkClient) -> None:
        self._client = client

    # -- reports -----------------------------------------------------------------------------
    def iter_reports(
        self,
        start: Moment,
        end: Moment,
        *,
        template_name: str | None = None,
        userid: str | None = None,
        modified_start: Moment | None = None,
        modified_end: Moment | None = None,
        size: int = REPORT_PAGE_MAX,
    ) -> Pager[Report]:
        """Every report created in ``[start, end]`` (ms or datetimes), with full ``contents``,
        optionally by template, by author, and modified in ``[modified_start, modified_end]``.
        ``POST /topapi/report/list``. Both windows are split to ≤ 180 days (EB-36); a report is
        yielded once even when split modified windows overlap it. Result order is DingTalk's
        (EB-33)."""
        return self._windows(
            "/topapi/report/list",
            start,
            end,
            Report.model_validate,
            template_name=template_name,
            userid=userid,
            modified_start=modified_start,
            modified_end=modified_end,
            size=size,
        )

    def iter_simple_reports(
        self,
        start: Moment,
        end: Moment,
        *,
        template_name: str | None = None,
        userid: str | None = None,
        size: int = REPORT_PAGE_MAX,
    ) -> Pager[Report]:
        """Report summaries (no ``contents``/``modified_time``) created in ``[start, end]``.
        ``POST /topapi/report/simplelist``; windows split to ≤ 180 days."""
        return self._windows(
            "/topapi/report/simplelist",
            start,
            end,
            Report.model_validate,
            template_name=template_name,
            userid=userid,
            size=size,
        )

    def _windows(
        self,
        path: str,
        start: Moment,
        end: Moment,
        parse: Callable[[Any], Report],
        *,
        template_name: str | None,
        userid: str | None,
        size: int,
        modified_start: Moment | None = None,
        modified_end: Moment | None = None,
    ) -> Pager[Report]:
        size = max(1, min(int(size), REPORT_PAGE_MAX))
        created = split_windows(start, end)
        if modified_start is not None or modified_end is not None:
            m_start = modified_start if modified_start is not None else 0
            m_end = modified_end if modified_end is not None else end
            modified: list[tuple[int, int] | None] = list(split_windows(m_start, m_end))
        else:
            modified = [None]
        pairs = [(c, m) for c in created for m in modified]
        seen: set[str] = set()
        dedupe = len(modified) > 1

        def fetcher(index: int) -> Callable[[Marker], Awaitable[Page[Report]]]:
            (c_start, c_end), m = pairs[index]

            async def call(cursor: Marker) -> dict[str, Any]:
                body = _drop_none(
                    {
                        "start_time": c_start,
                        "end_time": c_end,
                        "template_name": template_name,
                        "userid": userid,
                        "cursor": cursor,
                        "size": size,
                        "modified_start_time": m[0] if m else None,
                        "modified_end_time": m[1] if m else None,
                    }
                )
                return await self._client.oapi("POST", path, json=body)

            return cursor_fetcher(call, parse, list_key="data_list")

        async def fetch(marker: Marker) -> Page[Report]:
            index, cursor = marker
            page = await fetcher(index)(cursor)
            items = list(page.items)
            if dedupe:
                fresh = [r for r in items if r.report_id not in seen]
                seen.update(r.report_id for r in fresh)
                items = fresh
            if page.next is not None:
                return Page(items, (index, page.next))
            if index + 1 < len(pairs):
                return Page(items, (index + 1, 0))
            return Page(items, None)

        return Pager(fetch, (0, 0))

    # -- per-report lists --------------------------------------------------------------------
    def _userids(self, path: str, payload: dict[str, Any], size: int) -> Pager[str]:
        size = max(1, min(int(size), USERID_PAGE_MAX))

        async def call(offset: Marker) -> dict[str, Any]:
            return await self._client.oapi(
                "POST", path, json={**payload, "offset": offset, "size": size}
            )

        return cursor_pager(call, str, list_key="userid_list")

    def iter_receivers(self, report_id: str, size: int = USERID_PAGE_MAX) -> Pager[str]:
        """Userids a report was sent to (group receivers expanded to members), ≤ 100 a page.
        ``POST /topapi/report/receiver/list``."""
        return self._userids("/topapi/report/receiver/list", {"report_id": report_id}, size)

    async def list_receivers(self, report_id: str) -> list[str]:
        """Every receiver of ``report_id`` (see :meth:`iter_receivers`)."""
        return await self.iter_receivers(report_id).to_list()

    def iter_statistics_users(
        self, report_id: str, type: int, size: int = USERID_PAGE_MAX
    ) -> Pager[str]:
        """Userids who read (``type`` 0), commented (1) or liked (2) a report, ≤ 100 a page.
        ``POST /topapi/report/statistics/listbytype``."""
        return self._userids(
            "/topapi/report/statistics/listbytype", {"report_id": report_id, "type": type}, size
        )

    async def list_statistics_users(self, report_id: str, type: int) -> list[str]:
        """Every userid of :meth:`iter_statistics_users`."""
        return await self.iter_statistics_users(report_id, type).to_list()

    def iter_comments(self, report_id: str, size: int = COMMENT_PAGE_MAX) -> Pager[ReportComment]:
        """Comments on a report, ≤ 20 a page. ``POST /topapi/report/comment/list``."""
        size = max(1, min(int(size), COMMENT_PAGE_MAX))

        async def call(offset: Marker) -> dict[str, Any]:
            return await self._client.oapi(
                "POST",
                "/topapi/report/comment/list",
                json={"report_id": report_id, "offset": offset, "size": size},
            )

        return cursor_pager(call, ReportComment.model_validate, list_key="comments")

    async def list_comments(self, report_id: str) -> list[ReportComment]:
        """Every comment of :meth:`iter_comments`."""
        return await self.iter_comments(report_id).to_list()

    async def get_statistics(self, report_id: str) -> ReportStatistics:
        """Read/comment/like counts (historic; permission closed to new apps, EB-55).
        ``POST /topapi/report/statistics``."""
        body = await self._client.oapi(
            "POST", "/topapi/report/statistics", json={"report_id": report_id}
        )
        result = body.get("result")
        return ReportStatistics.model_validate(result if isinstance(result, dict) else {})

    # -- templates ---------------------------------------------------------------------------
    def iter_templates(
        self, userid: str | None = None, size: int = TEMPLATE_PAGE_MAX
    ) -> Pager[ReportTemplateSummary]:
        """Templates visible to ``userid`` (omitted: every template of the org), ≤ 100 a page;
        paging ends when ``next_cursor`` is missing.
        ``POST /topapi/report/template/listbyuserid``."""
        size = max(1, min(int(size), TEMPLATE_PAGE_MAX))

        async def call(offset: Marker) -> dict[str, Any]:
            return await self._client.oapi(
                "POST",
                "/topapi/report/template/listbyuserid",
                json=_drop_none({"userid": userid, "offset": offset, "size": size}),
            )

        return cursor_pager(
            call,
            ReportTemplateSummary.model_validate,
            list_key="template_list",
            has_more_key=None,
        )

    async def get_template(self, template_name: str, userid: str) -> ReportTemplate:
        """A template's id, fields (in ``sort`` order) and default receivers, as seen by
        ``userid``. ``POST /topapi/report/template/getbyname``. Raises ``NotFoundError`` (60121)
        for an unknown user."""
        body = await self._client.oapi(
            "POST",
            "/topapi/report/template/getbyname",
            json={"template_name": template_name, "userid": userid},
        )
        result = body.get("result")
        tpl = ReportTemplate.model_validate(result if isinstance(result, dict) else {"name": ""})
        tpl.fields.sort(key=lambda f: f.sort)
        return tpl

    async def get_unread_count(self, userid: str) -> int:
        """How many reports ``userid`` received in the last month and has not read.
        ``POST /topapi/report/getunreadcount`` (``count`` at top level)."""
        body = await self._client.oapi(
            "POST", "/topapi/report/getunreadcount", json={"userid": userid}
        )
        return int(body.get("count") or 0)

    # -- v1.0: statistics rules, submission statistics, detail (reports.md §11) ---------------
    def iter_stat_rules(
        self, template_id: str, operation_userid: str, size: int = RULE_PAGE_MAX
    ) -> Pager[ReportStatRule]:
        """The statistics rules (统计规则) of a template (``template/getbyname``'s ``id``) as
        ``operation_userid`` (e.g. the main administrator) sees them, ≤ 20 a page.
        ``GET /v1.0/report/statisticalRules/results`` (``nextToken``/``maxResults``).
        Raises ``InvalidArgumentError`` for an unknown template or user,
        ``PermissionDeniedError`` without the permission (EB-38: not documented)."""
        size = max(1, min(int(size), RULE_PAGE_MAX))

        async def call(token: Marker) -> dict[str, Any]:
            return await self._client.api(
                "GET",
                "/v1.0/report/statisticalRules/results",
                params={
                    "templateId": template_id,
                    "operationUserId": operation_userid,
                    "nextToken": token,
                    "maxResults": size,
                },
            )

        return next_token_pager(
            call,
            ReportStatRule.model_validate,
            list_key="dataList",
            has_more_key="hasMore",
            first=0,
        )

    async def get_submit_statistics(
        self,
        template_id: str,
        remind_id: int,
        start: Moment,
        end: Moment,
        operation_userid: str,
    ) -> SubmitStatistics:
        """A rule's submission statistics for the windows opening in ``[start, end]`` (ms or
        aware datetimes): who must submit (``user_ids``) and each one's status per due day.
        ``GET /v1.0/report/submitStatisticalResults``. Raises ``InvalidArgumentError`` for an
        unknown template, rule or user."""
        body = await self._client.api(
            "GET",
            "/v1.0/report/submitStatisticalResults",
            params={
                "templateId": template_id,
                "remindId": int(remind_id),
                "startTime": to_ms(start),
                "endTime": to_ms(end),
                "operationUserId": operation_userid,
            },
        )
        return SubmitStatistics.model_validate(body)

    async def get_detail(self, report_id: str) -> ReportDetail:
        """One report with its ``content``: the texts ``report/list`` cuts at 1,000
        characters in full (where DingTalk keeps them); table fields stay ``[表格]``.
        ``GET /v1.0/report/details``. Raises ``InvalidArgumentError`` for an unknown id."""
        body = await self._client.api("GET", "/v1.0/report/details", params={"reportId": report_id})
        return ReportDetail.model_validate(body)
