"""Reports (日志) sync: templates, reports with contents, receivers, comments, read/like lists.

An :class:`~dingsync.sync.incremental.IncrementalEntity` with an epoch-ms cursor. Plan of a
**full** run (``dingsync sync --only reports``):

1. The period from midnight (the company's zone, ``ctx.tz``) ``history_days`` before today up to
   the run's ``now`` is frozen in the run's plan when the run starts, so a resumed run walks the
   same windows whatever the clock says then.
2. ``templates``: ``template/listbyuserid`` (all templates) and ``template/getbyname`` for each
   (as the main administrator or any stored active user; skipped before contacts are synced).
3. The period cut at the zone's midnights into windows of ``window_days`` (default 1), a few
   windows at once. Each ``report/list`` page (``size`` 20, ``next_cursor`` passed back as
   given) is one unit: every report's receivers (``receiver/list``, one call per report —
   DingTalk's dominant cost) and, where configured, its comments (``comment/list``) and
   read/like lists (``statistics/listbytype`` 0 and 2) are fetched at full concurrency under
   the client's per-API limiter, then the page's rows are written with its checkpoint (the
   next page's cursor) in one transaction. A resume goes on from the first uncommitted page.
4. The watermark (``{"cursor": end}``) is advanced by the engine.

An **incremental** run (``--incremental``; a full run when there is no watermark yet) asks
``report/list`` for reports *modified* since ``watermark − overlap`` (creation window: the last
``incremental_days``, default 180, split by the client) and refreshes only those reports (and
their lists). There are no report events (EB-80), so this is the only change feed.

Details (comments, read and like lists) are ``all`` (default: every report of the period a run
syncs, so the counts cover the history asked for), ``recent`` (reports created in the last
``details_days``, 7 by default) or ``none``. Reads, likes and comments keep coming after a
report is written without modifying it, so an incremental run also re-reads the lists of the
stored reports created in the last ``details_days``. Settings come from the constructor or, through
:meth:`ReportsSync.from_settings`, from :class:`dingsync.config.Settings`
(``DINGSYNC_REPORTS_HISTORY_DAYS``, ``_DETAILS``, ``_DETAILS_DAYS``, ``_WINDOW_DAYS``,
``_OVERLAP_MINUTES``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta, tzinfo
from typing import Any, Literal

from sqlalchemy import Connection, select

from dingsync.config import Settings
from dingsync.dingtalk import (
    DingTalkClient,
    DingTalkError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from dingsync.dingtalk.models.reports import Report, ReportComment, ReportStatistics
from dingsync.dingtalk.paging import Page
from dingsync.dingtalk.reports import REPORT_PAGE_MAX
from dingsync.store import repo_reports
from dingsync.store.schema import admins, from_ms, users, utcnow
from dingsync.store.schema_reports import (
    CONTENT_FULL,
    CONTENT_TABLE,
    CONTENT_TRUNCATED,
    STAT_COMMENT,
    STAT_LIKE,
    STAT_READ,
)
from dingsync.sync.engine import SyncContext
from dingsync.sync.incremental import IncrementalEntity, Plan
from dingsync.timeutil import DAY_MS, day_start_ms, day_window_ms, local_date, split_dates
from dingsync.timeutil import from_ms as utc_of_ms

log = logging.getLogger(__name__)

ENTITY = "reports"
#: Per-report list errors that skip that report's list (its row says so) instead of failing the
#: window: the report was deleted meanwhile, is outside the app's scope (EB-31) or the
#: permission is missing (EB-55). Everything else (rate limits, server errors) fails the window.
SKIPPABLE = (NotFoundError, InvalidArgumentError, PermissionDeniedError)
Details = Literal["all", "recent", "none"]
#: What ``report/list`` sends for a table (表格) field instead of its content.
TABLE_PLACEHOLDER = "[表格]"
#: ``report/list`` cuts content values at this many characters (reports.md §1).
LIST_TEXT_MAX = 1000


def content_state(value: str | None) -> str | None:
    """``report_contents.state`` of a value as ``report/list`` sent it: ``"table"`` for the
    ``[表格]`` placeholder, ``"truncated"`` for a text of 1,000 characters or more (DingTalk
    cuts there), else ``None``."""
    if value is None:
        return None
    if value.strip() == TABLE_PLACEHOLDER:
        return CONTENT_TABLE
    if len(value) >= LIST_TEXT_MAX:
        return CONTENT_TRUNCATED
    return None


def report_row(corp_id: str, run_id: int | None, report: Report) -> dict[str, Any]:
    """Map a ``report/list`` item to a ``reports`` row (times epoch ms → aware UTC). ``raw``
    keeps the payload without ``contents`` (stored in ``report_contents``)."""
    raw = report.raw()
    raw.pop("contents", None)
    row: dict[str, Any] = {
        "corp_id": corp_id,
        "report_id": report.report_id,
        "template_name": report.template_name,
        "creator_id": report.creator_id,
        "creator_name": report.creator_name,
        "dept_name": report.dept_name,
        "create_time": from_ms(report.create_time),
        "modified_time": from_ms(report.modified_time),
        "remark": report.remark,
        "images": list(report.images) if report.images else None,
        "latitude": report.latitude,
        "longitude": report.longitude,
        "synced_at": utcnow(),
        "raw": raw,
    }
    if run_id is not None:
        row["last_seen_run_id"] = run_id
    return row


def comment_row(comment: ReportComment) -> dict[str, Any]:
    """Map a ``comment/list`` item to a ``report_comments`` row (without keys)."""
    return {
        "userid": comment.userid,
        "content": comment.content,
        "create_time_text": comment.create_time,
        "created_at": comment.created_at,
    }


@dataclass
class _Batch:
    """What one unit fetched: reports, receivers and details per report."""

    reports: list[Report] = field(default_factory=list)
    contents: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    receivers: dict[str, list[str]] = field(default_factory=dict)
    comments: dict[str, list[ReportComment]] = field(default_factory=dict)
    stats: dict[str, dict[int, list[str]]] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: int = 0


class ReportsSync(IncrementalEntity):
    """The reports entity (``dingsync sync --only reports``); see the module docstring.

    ``history_days``: full-run period (calendar days of ``ctx.tz`` before today);
    ``since_ms``/``until_ms`` (epoch ms) override it (tests, backfills). ``details``:
    ``all``/``recent``/``none``; ``details_days`` for ``recent``. ``window_days``: listing window
    length (calendar days). ``overlap_minutes``: re-read margin before the watermark. ``mode``:
    ``"full"``/``"incremental"``; default: the run's kind. ``max_inflight``: per-report calls in
    flight at once (the limiter does the pacing). ``window_concurrency``: windows listed at
    once. Report pages in flight (each a unit) are bounded by ``max_inflight / 20``.
    """

    name = ENTITY
    cursor = "ms"

    def __init__(
        self,
        *,
        history_days: int = 30,
        details: Details = "all",
        details_days: int = 7,
        window_days: int = 1,
        overlap_minutes: int = 10,
        incremental_days: int = 180,
        since_ms: int | None = None,
        until_ms: int | None = None,
        mode: Literal["full", "incremental"] | None = None,
        rules_max_age_minutes: int = 60,
        max_inflight: int = 512,
        window_concurrency: int = 4,
    ) -> None:
        if details not in ("all", "recent", "none"):
            raise ValueError(f"reports details must be all, recent or none, not {details!r}")
        self.history_days = history_days
        self.details: Details = details
        self.details_days = details_days
        self.window_days = max(1, window_days)
        self.overlap_minutes = overlap_minutes
        self.overlap = overlap_minutes * 60_000
        self.incremental_days = incremental_days
        self.since_ms = since_ms
        self.until_ms = until_ms
        self.mode = mode
        self.rules_max_age = timedelta(minutes=max(0, rules_max_age_minutes))
        self.max_inflight = max_inflight
        self.window_concurrency = max(1, window_concurrency)
        self._sem: asyncio.Semaphore | None = None
        self._detailed: set[str] = set()  # reports whose details this run read
        self._use_counts = True  # report/statistics answers (EB-55)
        self._windows: asyncio.Semaphore | None = None
        self._pages: asyncio.Semaphore | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ReportsSync:
        """The entity as ``DINGSYNC_REPORTS_*`` configure it (see :class:`Settings`)."""
        return cls(
            history_days=settings.reports_history_days,
            details=settings.reports_details,
            details_days=settings.reports_details_days,
            window_days=settings.reports_window_days,
            overlap_minutes=settings.reports_overlap_minutes,
            rules_max_age_minutes=settings.reports_rules_max_age_minutes,
        )

    # -- the range ---------------------------------------------------------------------------
    def range_end(self, now_ms: int, tz: tzinfo) -> int:
        """The run's ``now`` (or ``until_ms``)."""
        return self.until_ms if self.until_ms is not None else now_ms

    def full_start(self, end: Any, now_ms: int, tz: tzinfo) -> int:
        """``since_ms``, else midnight (company zone) ``history_days`` before today."""
        if self.since_ms is not None:
            return self.since_ms
        return day_start_ms(local_date(int(end), tz) - timedelta(days=self.history_days), tz)

    # -- summary -----------------------------------------------------------------------------
    @staticmethod
    def summary(conn: Connection, corp_id: str) -> dict[str, int]:
        """Counts for the demo/sync summary (see ``repo_reports.summary``)."""
        return repo_reports.summary(conn, corp_id)

    # -- run ---------------------------------------------------------------------------------
    async def run(self, ctx: SyncContext) -> None:
        """Plan, templates, then every window's pages (full) or the changed reports' pages.

        Raises the first DingTalk (or database) error met, unwrapped from task groups; the
        pages committed before it stay checkpointed, so the next run resumes after them."""
        try:
            await super().run(ctx)
        except ExceptionGroup as group:
            raise _first_leaf(group) from group

    async def run_units(self, ctx: SyncContext, plan: Plan) -> None:
        """Templates, then one unit per report page (see the module docstring)."""
        self._sem = asyncio.Semaphore(self.max_inflight)
        self._detailed = set()
        self._use_counts = True
        self._windows = asyncio.Semaphore(self.window_concurrency)
        self._pages = asyncio.Semaphore(max(1, self.max_inflight // REPORT_PAGE_MAX))
        if not plan.incremental or not self._templates_stored(ctx):
            await self._templates(ctx)
        start, end = plan.ms
        if plan.incremental:
            created = (end - self.incremental_days * DAY_MS, end)
            # Progress: the changes (one unit) and the refresh of the details (one per 100
            # reports, most of the calls of an incremental run), estimated from what is stored
            # now and corrected once the changes are in (the reports they read are skipped).
            estimate = len(self._details_chunks(ctx, end)) if self.details != "none" else 0
            ctx.progress.add_total(ENTITY, 1 + estimate)
            await self._window(ctx, "changes", created, end, modified=(start, end))
            if self._rules_due(ctx):
                # Who must submit is read over the period a full run would sync.
                await self._rules(ctx, (self.full_start(end, end, ctx.tz), end))
            if self.details != "none":
                await self._refresh_details(ctx, end, estimated=estimate)
            return
        windows = report_windows(start, end, self.window_days, ctx.tz)
        ctx.progress.add_total(ENTITY, len(windows))
        await ctx.gather(
            [
                self._rules(ctx, (start, end)),
                *(self._window(ctx, f"w:{s}:{e}", (s, e), end) for s, e in windows),
            ]
        )

    def _rules_due(self, ctx: SyncContext) -> bool:
        """Incremental runs: whether the stored statistics rules are older than
        ``rules_max_age`` (or none is stored) — DingTalk sends no event when an administrator
        changes a rule, and reading them costs one call per template and one per rule."""
        with ctx.engine.connect() as conn:
            at = repo_reports.rules_synced_at(conn, ctx.corp_id)
        return at is None or utcnow() - at >= self.rules_max_age

    async def _rules(self, ctx: SyncContext, period: tuple[int, int]) -> None:
        """Full runs, one unit beside the windows (incremental runs, after the changes, when
        :meth:`_rules_due`): each template's statistics rules
        (``/v1.0/report/statisticalRules/results``) and who must submit them
        (``/v1.0/report/submitStatisticalResults`` over the run's period), as the main
        administrator. A template whose rules cannot be read (EB-38: permission and behaviour
        of these v1.0 APIs are undocumented) keeps what was stored and is logged."""
        client = ctx.client
        with ctx.engine.connect() as conn:
            caller = _caller_userid(conn, ctx.corp_id)
            ids = repo_reports.template_ids(conn, ctx.corp_id)

        async def fetch() -> dict[str, list[dict[str, Any]] | None]:
            found = await asyncio.gather(*(rules(tid) for tid in ids.values()))
            return dict(zip(ids, found, strict=True))

        def write(conn: Connection, data: dict[str, list[dict[str, Any]] | None]) -> None:
            for name, rows in data.items():
                if rows is not None:
                    repo_reports.replace_rules(conn, ctx.corp_id, name, rows)

        async def rules(template_id: str | None) -> list[dict[str, Any]] | None:
            """The template's statistics rules with who must submit (``None``: not read)."""
            if caller is None or not template_id:
                return None
            try:
                found = await client.reports.iter_stat_rules(template_id, caller).to_list()
                rows = []
                for rule in found:
                    stats = await client.reports.get_submit_statistics(
                        template_id, rule.remind_id, period[0], period[1], caller
                    )
                    rows.append(
                        {
                            "remind_id": rule.remind_id,
                            "template_id": template_id,
                            "period_type": rule.period_type,
                            "start_date_time": list(rule.start_date_time),
                            "end_date_time": list(rule.end_date_time),
                            "userids": list(stats.user_ids),
                            "creator_id": rule.creator_id,
                            "raw": rule.raw(),
                        }
                    )
                return rows
            except DingTalkError as exc:  # EB-38: v1.0 permission or behaviour unknown
                log.warning("reports: statistics rules of %s not read: %s", template_id, exc)
                return None

        result = await ctx.unit(ENTITY, "rules", fetch, write)
        if result is not None:
            ctx.counts["report_rules"] += sum(len(v or []) for v in result.values())

    def _details_chunks(self, ctx: SyncContext, end_ms: int) -> list[list[str]]:
        """The units of :meth:`_refresh_details`: ids of the stored reports created in the last
        ``details_days`` before ``end_ms`` (epoch ms) that this run has not read yet, 100 a
        unit, oldest first."""
        since = end_ms - self.details_days * DAY_MS
        with ctx.engine.connect() as conn:
            ids = repo_reports.report_ids_created(
                conn, ctx.corp_id, utc_of_ms(since), utc_of_ms(end_ms)
            )
        ids = [i for i in ids if i not in self._detailed]
        return [ids[i : i + 100] for i in range(0, len(ids), 100)]

    async def _refresh_details(self, ctx: SyncContext, end_ms: int, *, estimated: int) -> None:
        """Incremental runs: the comments and read/like lists of the stored reports created in
        the last ``details_days`` (reads, likes and comments keep coming after a report is
        written, without modifying it), 100 reports a unit (:meth:`_details_chunks`); reports
        this run already read are skipped. Each unit advances the progress, whose total counted
        ``estimated`` of them (corrected here)."""
        chunks = self._details_chunks(ctx, end_ms)
        if len(chunks) != estimated:
            ctx.progress.add_total(ENTITY, len(chunks) - estimated)
        client = ctx.client

        async def one(chunk: list[str]) -> None:
            async def fetch() -> _Batch:
                batch = _Batch()
                await asyncio.gather(*(self._details(client, rid, batch) for rid in chunk))
                return batch

            def write(conn: Connection, batch: _Batch) -> None:
                corp = ctx.corp_id
                comments = {rid: [comment_row(c) for c in cs] for rid, cs in batch.comments.items()}
                repo_reports.replace_comments(conn, corp, comments)
                repo_reports.replace_user_stats(conn, corp, batch.stats)
                repo_reports.set_counts(conn, corp, batch.counts)
                repo_reports.mark_details_synced(conn, corp, list(batch.comments), utcnow())

            done = await ctx.unit(ENTITY, f"details:{chunk[0]}:{chunk[-1]}", fetch, write)
            if done is not None:
                ctx.counts["report_details_refreshed"] += len(done.comments)
            ctx.progress.advance(ENTITY)

        await ctx.gather(one(c) for c in chunks)

    # -- templates ---------------------------------------------------------------------------
    @staticmethod
    def _templates_stored(ctx: SyncContext) -> bool:
        """Whether templates with their fields are stored (incremental runs keep them)."""
        with ctx.engine.connect() as conn:
            return repo_reports.templates_with_fields(conn, ctx.corp_id) > 0

    async def _templates(self, ctx: SyncContext) -> None:
        client = ctx.client
        with ctx.engine.connect() as conn:
            caller = _caller_userid(conn, ctx.corp_id)

        async def fetch() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            summaries = await client.reports.iter_templates().to_list()

            async def detail(name: str) -> dict[str, Any] | None:
                if caller is None:
                    return None
                try:
                    return (await client.reports.get_template(name, caller)).raw()
                except DingTalkError:
                    return None  # e.g. the caller cannot see the template

            details = await asyncio.gather(*(detail(t.name) for t in summaries))
            rows: list[dict[str, Any]] = []
            found: list[dict[str, Any]] = []
            for summary, info in zip(summaries, details, strict=True):
                row: dict[str, Any] = {
                    "name": summary.name,
                    "report_code": summary.report_code,
                    "icon_url": summary.icon_url,
                    "url": summary.url,
                    "raw": summary.raw(),
                    "fields_synced": info is not None,
                }
                if info is not None:
                    row["template_id"] = info.get("id")
                    row["default_receivers"] = info.get("default_receivers") or []
                    found.append(info)
                rows.append(row)
            return rows, found

        def write(
            conn: Connection, data: tuple[list[dict[str, Any]], list[dict[str, Any]]]
        ) -> None:
            rows, found = data
            repo_reports.upsert_templates(conn, ctx.corp_id, rows)
            for info in found:
                fields = sorted(info.get("fields") or [], key=lambda f: int(f.get("sort", 0)))
                repo_reports.replace_template_fields(
                    conn,
                    ctx.corp_id,
                    info["name"],
                    [
                        {"sort": int(f.get("sort", i)), "field_name": f["field_name"],
                         "type": f.get("type")}
                        for i, f in enumerate(fields)
                    ],
                )  # fmt: skip

        result = await ctx.unit(ENTITY, "templates", fetch, write)
        if result is not None:
            ctx.counts["report_templates"] += len(result[0])

    # -- windows and pages -------------------------------------------------------------------
    def _wants_details(self, report: Report, now_ms: int) -> bool:
        if self.details == "none":
            return False
        if self.details == "all":
            return True
        return (report.create_time or 0) >= now_ms - self.details_days * DAY_MS

    async def _window(
        self,
        ctx: SyncContext,
        key: str,
        created: tuple[int, int],
        now_ms: int,
        *,
        modified: tuple[int, int] | None = None,
    ) -> None:
        """The window's report pages, one unit each (``{key}#{n}``)."""
        client = ctx.client
        pager = client.reports.iter_reports(
            created[0],
            created[1],
            modified_start=modified[0] if modified else None,
            modified_end=modified[1] if modified else None,
        )

        async def fetch(page: Page[Report]) -> _Batch:
            batch = _Batch(reports=list(page.items))
            await asyncio.gather(
                *(self._lists(client, r, batch, now_ms) for r in page.items),
                *(self._contents(client, r, batch) for r in page.items),
            )
            return batch

        def write(conn: Connection, batch: _Batch) -> None:
            self._write(conn, ctx, batch)

        def counted(batch: _Batch) -> None:
            ctx.counts["reports"] += len(batch.reports)
            ctx.counts["report_receivers"] += sum(len(v) for v in batch.receivers.values())
            ctx.counts["report_comments"] += sum(len(v) for v in batch.comments.values())
            if batch.skipped:
                ctx.counts["report_lists_skipped"] += batch.skipped

        assert self._windows is not None
        async with self._windows:  # a few windows at once: memory stays bounded
            await ctx.page_units(ENTITY, key, pager, fetch, write, slots=self._pages, then=counted)
        ctx.progress.advance(ENTITY)

    async def _lists(
        self, client: DingTalkClient, report: Report, batch: _Batch, now_ms: int
    ) -> None:
        """Receivers and (if wanted) details of one report."""
        if self._wants_details(report, now_ms):
            await asyncio.gather(
                self._receivers(client, report.report_id, batch),
                self._details(client, report.report_id, batch),
            )
        else:
            await self._receivers(client, report.report_id, batch)

    async def _contents(self, client: DingTalkClient, report: Report, batch: _Batch) -> None:
        """The report's contents with their ``state``; a text ``report/list`` cut at 1,000
        characters is completed from ``/v1.0/report/details`` where that gives more (one call,
        only for such reports); if it cannot, the value stays cut and says so."""
        # The model's four plain fields, read directly (no model_dump per content).
        items: list[dict[str, Any]] = [
            {
                "key": c.key,
                "sort": c.sort,
                "type": c.type,
                "value": c.value,
                "state": content_state(c.value),
            }
            for c in report.contents
        ]
        batch.contents[report.report_id] = items
        if not any(i["state"] == CONTENT_TRUNCATED for i in items):
            return
        assert self._sem is not None
        try:
            async with self._sem:
                detail = await client.reports.get_detail(report.report_id)
        except DingTalkError as exc:  # no v1.0 permission, gone, out of scope: keep it cut
            log.warning("reports: full text of %s not read: %s", report.report_id, exc)
            return
        full = {c.key: c.value for c in detail.content if c.key is not None}
        for item in items:
            longer = full.get(item["key"])
            if item["state"] == CONTENT_TRUNCATED and longer and len(longer) > len(item["value"]):
                item["value"], item["state"] = longer, CONTENT_FULL

    async def _receivers(self, client: DingTalkClient, report_id: str, batch: _Batch) -> None:
        """Receivers of one report (under a slot of ``_sem``)."""
        assert self._sem is not None
        try:
            async with self._sem:
                batch.receivers[report_id] = await client.reports.list_receivers(report_id)
        except SKIPPABLE as exc:  # the report vanished or is out of our scope
            batch.skipped += 1
            log.warning("reports: receivers of %s not read: %s", report_id, exc)

    async def _counts(self, client: DingTalkClient, report_id: str) -> ReportStatistics | None:
        """The four counts in one ``report/statistics`` call while the app may use it (a
        historic API, closed to new permission requests: EB-55); ``None`` once it answered
        "no permission" — then the read and like lists are read instead, for the rest of the
        run."""
        if not self._use_counts:
            return None
        try:
            return await client.reports.get_statistics(report_id)
        except PermissionDeniedError:
            self._use_counts = False
            log.info("reports: report/statistics not permitted; reading read/like lists")
            return None

    async def _details(self, client: DingTalkClient, report_id: str, batch: _Batch) -> None:
        """Comments and the read/like/comment counts of one report (under a slot, as above):
        ``report/statistics`` (one call), then ``comment/list`` only when it counts comments
        (``comment_num`` > 0: most reports have none, and a report without comments has an
        empty list — this saves most ``comment/list`` calls); or — without the historic
        permission — ``comment/list`` and the readers and likers (``statistics/listbytype`` 0
        and 2, two calls on one API)."""
        assert self._sem is not None
        try:
            async with self._sem:
                counts = await self._counts(client, report_id)
                readers: list[str] | None = None
                likers: list[str] | None = None
                comments: list[ReportComment] = []
                if counts is None:
                    comments, readers, likers = await asyncio.gather(
                        client.reports.list_comments(report_id),
                        client.reports.list_statistics_users(report_id, STAT_READ),
                        client.reports.list_statistics_users(report_id, STAT_LIKE),
                    )
                elif counts.comment_num:
                    comments = await client.reports.list_comments(report_id)
        except SKIPPABLE as exc:  # vanished, out of scope, or no permission (EB-55)
            batch.skipped += 1
            log.warning("reports: details of %s not read: %s", report_id, exc)
            return
        batch.comments[report_id] = comments
        self._detailed.add(report_id)
        commenters = list(dict.fromkeys(c.userid for c in comments if c.userid))
        lists: dict[int, list[str]] = {STAT_COMMENT: commenters}
        if readers is not None and likers is not None:
            lists |= {STAT_READ: readers, STAT_LIKE: likers}
        batch.stats[report_id] = lists
        batch.counts[report_id] = (
            {
                "read_num": counts.read_num,
                "comment_num": counts.comment_num,
                "comment_user_num": counts.comment_user_num,
                "like_num": counts.like_num,
            }
            if counts is not None
            else {
                "read_num": len(set(readers or [])),
                "comment_num": len(comments),
                "comment_user_num": len(commenters),
                "like_num": len(set(likers or [])),
            }
        )

    def _write(self, conn: Connection, ctx: SyncContext, batch: _Batch) -> None:
        corp = ctx.corp_id
        now = utcnow()
        rows = []
        for report in batch.reports:
            row = report_row(corp, ctx.run_id, report)
            row["receivers_synced"] = report.report_id in batch.receivers
            if report.report_id in batch.comments:
                row["details_synced_at"] = now
            rows.append(row)
        # The export's columns: each template's content keys, counted before the contents change.
        repo_reports.update_template_keys(conn, corp, rows, batch.contents)
        # Contents and receivers with the rows: reports.contents_list / receiver_ids (the
        # export's one row per report) are written by the same upsert.
        repo_reports.upsert_reports(conn, corp, rows, batch.contents, batch.receivers)
        repo_reports.replace_comments(
            conn, corp, {rid: [comment_row(c) for c in cs] for rid, cs in batch.comments.items()}
        )
        repo_reports.replace_user_stats(conn, corp, batch.stats)
        repo_reports.set_counts(conn, corp, batch.counts)


def _first_leaf(group: BaseExceptionGroup[Exception]) -> Exception:
    """The first non-group exception inside ``group``."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    assert isinstance(exc, Exception)
    return exc


def report_windows(start_ms: int, end_ms: int, days: int, tz: tzinfo) -> list[tuple[int, int]]:
    """``[start_ms, end_ms]`` cut at midnights of ``tz`` into windows of ``days`` calendar days
    (the first and last clipped to the range): ``[(s, e), …]`` epoch ms, both inclusive."""
    first, last = local_date(start_ms, tz), local_date(end_ms, tz)
    out = []
    for a, b in split_dates(first, last, days):
        s, e = day_window_ms(a, b, tz)
        out.append((max(s, start_ms), min(e, end_ms)))
    return [(s, e) for s, e in out if s <= e]


def _caller_userid(conn: Connection, corp_id: str) -> str | None:
    """Who ``template/getbyname`` is called as: the main administrator, else any active user."""
    main = conn.execute(
        select(admins.c.userid)
        .where(admins.c.corp_id == corp_id, admins.c.sys_level == 1)
        .order_by(admins.c.userid)
        .limit(1)
    ).scalar_one_or_none()
    if main is not None:
        return str(main)
    any_user = conn.execute(
        select(users.c.userid)
        .where(users.c.corp_id == corp_id, users.c.status == "active")
        .order_by(users.c.userid)
        .limit(1)
    ).scalar_one_or_none()
    return None if any_user is None else str(any_user)
