"""Reports (日志) sync: templates, reports with contents, receivers, comments, read/like lists.

Plan of a **full** run (``dingsync sync --only reports``):

1. ``plan``: the period ``[now − history_days, now]`` is fixed in a checkpoint, so a resumed run
   walks the same windows.
2. ``templates``: ``template/listbyuserid`` (all templates) and ``template/getbyname`` for each
   (as the main administrator or any stored active user; skipped before contacts are synced).
3. One unit per window of ``window_days`` (default 1 day) — all windows concurrently: the
   window's reports are paged from ``report/list`` (``size`` 20, ``next_cursor`` passed back as
   given); as each page arrives, every report's receivers (``receiver/list``, one call per
   report — DingTalk's dominant cost) and, where configured, its comments (``comment/list``) and
   read/like lists (``statistics/listbytype`` 0 and 2) are fetched at full concurrency under the
   client's per-API limiter. The window's rows are then written with its checkpoint in one
   transaction.
4. The watermark (``sync_watermarks``, entity ``reports``) becomes the run's ``now``.

An **incremental** run (``--incremental``; a full run when there is no watermark yet) asks
``report/list`` for reports *modified* since ``watermark − overlap`` (creation window: the last
``incremental_days``, default 180, split by the client) and refreshes only those reports (and
their lists). There are no report events (EB-80), so this is the only change feed.

Details (comments, read and like lists) are ``all``, ``recent`` (reports created in the last
``details_days``; default, 7 days) or ``none``. Settings come from the constructor or the
environment: ``DINGSYNC_REPORTS_HISTORY_DAYS`` (30), ``DINGSYNC_REPORTS_DETAILS``
(``all``/``recent``/``none``), ``DINGSYNC_REPORTS_DETAILS_DAYS`` (7),
``DINGSYNC_REPORTS_WINDOW_DAYS`` (1), ``DINGSYNC_REPORTS_OVERLAP_MINUTES`` (10).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Connection, select

from dingsync.dingtalk import (
    DingTalkClient,
    DingTalkError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from dingsync.dingtalk.models.reports import Report, ReportComment
from dingsync.store import repo, repo_reports
from dingsync.store.schema import admins, from_ms, users, utcnow
from dingsync.store.schema_reports import STAT_COMMENT, STAT_LIKE, STAT_READ
from dingsync.sync.engine import SyncContext

log = logging.getLogger(__name__)

ENTITY = "reports"
#: Per-report list errors that skip that report's list (its row says so) instead of failing the
#: window: the report was deleted meanwhile, is outside the app's scope (EB-31) or the
#: permission is missing (EB-55). Everything else (rate limits, server errors) fails the window.
SKIPPABLE = (NotFoundError, InvalidArgumentError, PermissionDeniedError)
DAY_MS = 86_400_000
Details = Literal["all", "recent", "none"]


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


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
    receivers: dict[str, list[str]] = field(default_factory=dict)
    comments: dict[str, list[ReportComment]] = field(default_factory=dict)
    stats: dict[str, dict[int, list[str]]] = field(default_factory=dict)
    skipped: int = 0


class ReportsSync:
    """The reports entity (``dingsync sync --only reports``); see the module docstring.

    ``history_days``: full-run period; ``since_ms``/``until_ms`` (epoch ms) override it (tests,
    backfills). ``details``: ``all``/``recent``/``none``; ``details_days`` for ``recent``.
    ``window_days``: checkpointed window length. ``overlap_minutes``: re-read margin before the
    watermark. ``mode``: ``"full"``/``"incremental"``; default: the run's kind.
    ``max_inflight``: per-report calls in flight at once (the limiter does the pacing; the
    paging waits when they are all taken, so memory stays bounded). ``window_concurrency``:
    windows fetched at once (each holds its reports until committed; a few suffice to keep
    every API busy).
    """

    name = ENTITY

    def __init__(
        self,
        *,
        history_days: int | None = None,
        details: Details | None = None,
        details_days: int | None = None,
        window_days: int | None = None,
        overlap_minutes: int | None = None,
        incremental_days: int = 180,
        since_ms: int | None = None,
        until_ms: int | None = None,
        mode: Literal["full", "incremental"] | None = None,
        max_inflight: int = 512,
        window_concurrency: int = 4,
    ) -> None:
        self.history_days = history_days or _env_int("DINGSYNC_REPORTS_HISTORY_DAYS", 30)
        chosen = details or os.environ.get("DINGSYNC_REPORTS_DETAILS") or "recent"
        if chosen not in ("all", "recent", "none"):
            raise ValueError(f"reports details must be all, recent or none, not {chosen!r}")
        self.details: Details = chosen  # type: ignore[assignment]
        self.details_days = (
            details_days
            if details_days is not None
            else _env_int("DINGSYNC_REPORTS_DETAILS_DAYS", 7)
        )
        self.window_days = max(1, window_days or _env_int("DINGSYNC_REPORTS_WINDOW_DAYS", 1))
        self.overlap_minutes = (
            overlap_minutes
            if overlap_minutes is not None
            else _env_int("DINGSYNC_REPORTS_OVERLAP_MINUTES", 10)
        )
        self.incremental_days = incremental_days
        self.since_ms = since_ms
        self.until_ms = until_ms
        self.mode = mode
        self.max_inflight = max_inflight
        self.window_concurrency = max(1, window_concurrency)
        self._sem: asyncio.Semaphore | None = None
        self._windows: asyncio.Semaphore | None = None

    # -- summary -----------------------------------------------------------------------------
    @staticmethod
    def summary(conn: Connection, corp_id: str) -> dict[str, int]:
        """Counts for the demo/sync summary (see ``repo_reports.summary``)."""
        return repo_reports.summary(conn, corp_id)

    # -- run ---------------------------------------------------------------------------------
    async def run(self, ctx: SyncContext) -> None:
        """Templates, then every window (full) or the changes since the watermark.

        Raises the first DingTalk (or database) error met, unwrapped from task groups; the
        windows committed before it stay checkpointed, so the next run resumes after them."""
        try:
            await self._run(ctx)
        except ExceptionGroup as group:
            raise _first_leaf(group) from group

    async def _run(self, ctx: SyncContext) -> None:
        self._sem = asyncio.Semaphore(self.max_inflight)
        self._windows = asyncio.Semaphore(self.window_concurrency)
        with ctx.engine.connect() as conn:
            run = repo.get_sync_run(conn, ctx.run_id) or {}
            watermark = repo.get_watermark(conn, ctx.corp_id, ENTITY)
        mode = self.mode or ("incremental" if run.get("kind") == "incremental" else "full")
        if mode == "incremental" and not (isinstance(watermark, dict) and "until_ms" in watermark):
            mode = "full"
        plan = await self._plan(ctx, mode, watermark)
        if plan["mode"] == "full" or not self._templates_stored(ctx):
            await self._templates(ctx)
        if plan["mode"] == "incremental":
            await self._window(
                ctx,
                "changes",
                plan["now_ms"] - self.incremental_days * DAY_MS,
                plan["now_ms"],
                plan["now_ms"],
                modified=(plan["modified_start_ms"], plan["now_ms"]),
            )
        else:
            windows = _windows(plan["start_ms"], plan["now_ms"], self.window_days * DAY_MS)
            ctx.progress.add_total(ENTITY, len(windows))
            await ctx.gather(
                self._window(ctx, f"w:{s}:{e}", s, e, plan["now_ms"]) for s, e in windows
            )

        def save(conn: Connection) -> None:
            repo.set_watermark(conn, ctx.corp_id, ENTITY, {"until_ms": plan["now_ms"]})

        await ctx.write(save)

    async def _plan(self, ctx: SyncContext, mode: str, watermark: Any) -> dict[str, Any]:
        done = ctx.load_done(ENTITY)
        if "plan" in done and isinstance(done["plan"], dict):
            return dict(done["plan"])
        now_ms = self.until_ms if self.until_ms is not None else int(time.time() * 1000)
        plan: dict[str, Any] = {"mode": mode, "now_ms": now_ms}
        if mode == "incremental":
            plan["modified_start_ms"] = int(watermark["until_ms"]) - self.overlap_minutes * 60_000
        else:
            plan["start_ms"] = (
                self.since_ms if self.since_ms is not None else now_ms - self.history_days * DAY_MS
            )
        await ctx.commit_unit(ENTITY, "plan", lambda conn: None, plan)
        return plan

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

    # -- windows -----------------------------------------------------------------------------
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
        start_ms: int,
        end_ms: int,
        now_ms: int,
        *,
        modified: tuple[int, int] | None = None,
    ) -> None:
        client = ctx.client

        async def fetch() -> _Batch:
            assert self._sem is not None
            batch = _Batch()
            pager = client.reports.iter_reports(
                start_ms,
                end_ms,
                modified_start=modified[0] if modified else None,
                modified_end=modified[1] if modified else None,
            )
            async with asyncio.TaskGroup() as tg:
                async for page in pager.pages():
                    for report in page.items:
                        batch.reports.append(report)
                        await self._sem.acquire()  # backpressure: bounded tasks in flight
                        tg.create_task(self._receivers(client, report.report_id, batch))
                        if self._wants_details(report, now_ms):
                            await self._sem.acquire()
                            tg.create_task(self._details(client, report.report_id, batch))
            return batch

        def write(conn: Connection, batch: _Batch) -> None:
            self._write(conn, ctx, batch)

        assert self._windows is not None
        async with self._windows:  # a few windows at once: memory stays bounded
            batch = await ctx.unit(ENTITY, key, fetch, write, state=lambda b: len(b.reports))
        if batch is not None:
            ctx.counts["reports"] += len(batch.reports)
            ctx.counts["report_receivers"] += sum(len(v) for v in batch.receivers.values())
            ctx.counts["report_comments"] += sum(len(v) for v in batch.comments.values())
            if batch.skipped:
                ctx.counts["report_lists_skipped"] += batch.skipped
        ctx.progress.advance(ENTITY)

    async def _receivers(self, client: DingTalkClient, report_id: str, batch: _Batch) -> None:
        """Receivers of one report (the caller acquired a slot of ``_sem``; released here)."""
        assert self._sem is not None
        try:
            batch.receivers[report_id] = await client.reports.list_receivers(report_id)
        except SKIPPABLE as exc:  # the report vanished or is out of our scope
            batch.skipped += 1
            log.warning("reports: receivers of %s not read: %s", report_id, exc)
        finally:
            self._sem.release()

    async def _details(self, client: DingTalkClient, report_id: str, batch: _Batch) -> None:
        """Comments, readers and likers of one report (slot released here, as above)."""
        assert self._sem is not None
        try:
            comments, readers, likers = await asyncio.gather(
                client.reports.list_comments(report_id),
                client.reports.list_statistics_users(report_id, STAT_READ),
                client.reports.list_statistics_users(report_id, STAT_LIKE),
            )
        except SKIPPABLE as exc:  # vanished, out of scope, or no permission (EB-55)
            batch.skipped += 1
            log.warning("reports: details of %s not read: %s", report_id, exc)
            return
        finally:
            self._sem.release()
        batch.comments[report_id] = comments
        commenters = list(dict.fromkeys(c.userid for c in comments if c.userid))
        batch.stats[report_id] = {
            STAT_READ: readers,
            STAT_COMMENT: commenters,
            STAT_LIKE: likers,
        }

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
        contents = {
            r.report_id: [
                c.model_dump(include={"key", "sort", "type", "value"}) for c in r.contents
            ]
            for r in batch.reports
        }
        repo_reports.upsert_reports(conn, corp, rows, contents)
        repo_reports.replace_receivers(conn, corp, batch.receivers)
        repo_reports.replace_comments(
            conn, corp, {rid: [comment_row(c) for c in cs] for rid, cs in batch.comments.items()}
        )
        repo_reports.replace_user_stats(conn, corp, batch.stats)


def _first_leaf(group: BaseExceptionGroup[Exception]) -> Exception:
    """The first non-group exception inside ``group``."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    assert isinstance(exc, Exception)
    return exc


def _windows(start_ms: int, end_ms: int, span_ms: int) -> list[tuple[int, int]]:
    """``[start, end]`` as consecutive inclusive windows of ``span_ms``."""
    out: list[tuple[int, int]] = []
    cur = start_ms
    while cur <= end_ms:
        out.append((cur, min(cur + span_ms - 1, end_ms)))
        cur += span_ms
    return out


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
