"""The state of the sync and of the data, for ``GET /api/admin/overview``, ``POST
/api/admin/sync`` and the console's 概览 and 设置 pages (issue #13).

- :func:`sync_runs` — the latest ``sync_runs`` rows as the console shows them: ``state``
  ``running`` (with ``progress``: units committed against the last finished run of the same
  kind and entities, and an ETA), ``done``, ``partial`` (succeeded, with units skipped or
  quarantined — listed with their reason), ``failed`` (``error`` and ``hint``: what to do) or
  ``interrupted``.
- :func:`area_counts` — per data area the rows the caller may see, through the very router
  functions the API answers ``/api/users``, ``/api/departments``, ``/api/reports``,
  ``/api/attendance/summary`` and ``/api/approvals`` with (their ``total``), so the counts are
  the API's.
- :func:`inbox_health` — the event inbox: received today (the company's zone), failed, pending
  and the oldest pending.
- :class:`SyncStarter` — "立即同步": one incremental run of every entity in the service's event
  loop with the service's DingTalk client, under the one-sync-per-corp lease
  (:func:`dingsync.sync.lease.sync_lease`).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Connection, Table, func, select

from dingsync.store import repo, repo_approvals, repo_attendance, repo_events, repo_reports
from dingsync.store.schema import to_ms
from dingsync.store.schema_approvals import approval_instances
from dingsync.store.schema_reports import reports as reports_table
from dingsync.sync.engine import QUARANTINE, quarantined_units, run_sync
from dingsync.sync.lease import SyncAlreadyRunning, sync_running
from dingsync.sync.runner import make_entities
from dingsync.timeutil import day_start_ms, from_ms
from dingsync.web import rules
from dingsync.web.context import WebContext
from dingsync.web.data import visible
from dingsync.web.deps import Caller

log = logging.getLogger(__name__)

#: What to do after a failed run, by a phrase of its error (first match); else :data:`HINT`.
HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("appkey", "app_secret", "appsecret", "40001", "40089", "token"),
        "检查 DINGTALK_APP_KEY / DINGTALK_APP_SECRET 是否正确（dingsync doctor），然后再次同步。",
    ),
    (
        ("60011", "88", "permission", "无权限", "forbidden"),
        "应用缺少接口权限：在钉钉开发者后台为应用开通对应权限后再次同步。",
    ),
    (
        ("connect", "timeout", "timed out", "network"),
        "连接钉钉失败：检查网络或 DINGTALK_OAPI_URL / DINGTALK_API_URL，"
        "然后再次同步（从检查点继续）。",
    ),
    (
        ("another sync",),
        "另一个同步正在进行：等待它结束。",
    ),
)
HINT = "再次同步会从检查点继续；若反复失败，运行 dingsync doctor 并查看服务日志。"


#: What to do about a run left ``running`` by a process that died.
STALE_HINT = "同步进程已停止，未正常结束：再运行一次同步（或点“立即同步”）会从断点继续。"


def failure_hint(error: str | None) -> str:
    """What to do about a failed run with ``error`` (Chinese, one sentence)."""
    text = (error or "").lower()
    for phrases, hint in HINTS:
        if any(p in text for p in phrases):
            return hint
    return HINT


def _ms(value: Any) -> int | None:
    return to_ms(value) if isinstance(value, datetime) else None


def _reference(runs: list[dict[str, Any]], run: dict[str, Any]) -> dict[str, Any] | None:
    """The latest finished run before ``run`` with its kind and entities (for progress)."""
    wanted = sorted(run["entities"] or [])
    for other in runs:
        if (
            other["id"] < run["id"]
            and other["status"] == "succeeded"
            and other["kind"] == run["kind"]
            and sorted(other["entities"] or []) == wanted
        ):
            return other
    return None


def sync_runs(ctx: WebContext, *, limit: int = 8) -> list[dict[str, Any]]:
    """The latest ``limit`` runs, newest first: ``id, kind, entities, status`` (the stored one),
    ``state`` (``running | queued | done | partial | failed | interrupted``; ``queued``: a
    worker's run between two batches), ``started_at``,
    ``finished_at`` (epoch ms), ``wall_ms``, ``counts``, ``api_calls`` (total), ``error``,
    ``hint`` (failed runs), ``skipped`` and ``quarantined`` (``[{entity, key, reason}]``) and
    for a running run ``progress`` (``done`` units, ``expected`` units of the reference run or
    ``None``, ``calls`` made so far, ``expected_calls`` of the reference run or ``None``,
    ``percent``, ``eta_s``). The reference is the latest succeeded run of the same kind and
    areas; ``percent`` and ``eta_s`` follow its calls when it recorded some and this run has
    made some (calls, paced by DingTalk's rate limit, take the time: an incremental run's many
    quick units come first and its slow refresh of report details last), else its units."""
    now = ctx.now()
    with ctx.engine.connect() as conn:
        rows = repo.list_sync_runs(conn, ctx.corp_id, limit=max(limit, 50))
        # A run stored as running is live only while a sync holds the corp's lock, and then
        # only the newest one; the others were left by processes that died.
        live_id: int | None = None
        if any(r["status"] == "running" for r in rows[:limit]) and sync_running(
            ctx.engine, ctx.corp_id
        ):
            live_id = max(r["id"] for r in rows if r["status"] == "running")
        out: list[dict[str, Any]] = []
        for run in rows[:limit]:
            skipped = repo.skipped_units(conn, run["id"])
            quarantined = quarantined_units(conn, run["id"])
            # A worker's run between two batches: stored running with the time its last batch
            # ended, nobody holding the lease for a moment (the next batch is queued).
            between_batches = run["finished_at"] is not None
            state = {
                "running": "running"
                if run["id"] == live_id
                else ("queued" if between_batches else "interrupted"),
                "failed": "failed",
                "interrupted": "interrupted",
            }.get(run["status"], "partial" if skipped or quarantined else "done")
            item: dict[str, Any] = {
                "id": run["id"],
                "kind": run["kind"],
                "entities": list(run["entities"] or []),
                "status": run["status"],
                "state": state,
                "started_at": _ms(run["started_at"]),
                "finished_at": _ms(run["finished_at"]),
                "wall_ms": run["wall_ms"],
                "counts": dict(run["counts"] or {}),
                "api_calls": sum((run["api_calls"] or {}).values()),
                "error": run["error"],
                "hint": (
                    failure_hint(run["error"])
                    if state == "failed" or (state == "interrupted" and run["error"])
                    else STALE_HINT
                    if state == "interrupted"
                    else None
                ),
                "skipped": skipped,
                "quarantined": quarantined,
                "progress": None,
            }
            if state == "running":
                done = repo.count_checkpoints(conn, run["id"])
                done -= len(quarantined)  # their QUARANTINE rows are not units
                ref = _reference(rows, run)
                expected = None
                if ref is not None:
                    expected = repo.count_checkpoints(conn, ref["id"]) - len(
                        repo.load_checkpoints(conn, ref["id"], QUARANTINE)
                    )
                elapsed = max(0.0, (now - run["started_at"]).total_seconds())
                calls = item["api_calls"]
                expected_calls = (
                    sum((ref["api_calls"] or {}).values()) or None if ref is not None else None
                )
                percent = eta = None
                if expected_calls and calls > 0:
                    share = min(0.99, calls / expected_calls)
                    percent = int(100 * share)
                    eta = max(0, int(elapsed * (1 - share) / share))
                elif expected:
                    percent = min(99, int(100 * done / expected))
                    if done > 0:
                        eta = max(0, int(elapsed * (expected - done) / done))
                elif ref is not None and ref["wall_ms"]:
                    eta = max(0, int(ref["wall_ms"] / 1000 - elapsed))
                item["progress"] = {
                    "done": done,
                    "expected": expected,
                    "calls": calls,
                    "expected_calls": expected_calls,
                    "percent": percent,
                    "eta_s": eta,
                    "elapsed_s": int(elapsed),
                }
            out.append(item)
    return out


def last_runs_per_entity(ctx: WebContext) -> list[dict[str, Any]]:
    """Per sync entity (in the order a full run syncs them): ``entity``, ``last`` and
    ``last_success`` (``{id, kind, status, started_at, finished_at`` epoch ms``, wall_ms,
    error}`` or ``None``)."""
    from dingsync.sync.runner import ENTITY_NAMES

    with ctx.engine.connect() as conn:
        per = repo.last_run_per_entity(conn, ctx.corp_id)

    def brief(r: dict[str, Any] | None) -> dict[str, Any] | None:
        if r is None:
            return None
        return {
            **r,
            "started_at": _ms(r["started_at"]),
            "finished_at": _ms(r["finished_at"]),
        }

    return [
        {
            "entity": name,
            "last": brief(per.get(name, {}).get("last")),
            "last_success": brief(per.get(name, {}).get("last_success")),
        }
        for name in ENTITY_NAMES
    ]


def area_counts(ctx: WebContext, caller: Caller) -> dict[str, Any]:
    """Rows ``caller`` may see per area, with the rules' list scope and the areas' own query
    conditions — so each equals the ``total`` its API answers: ``people`` (``GET
    /api/users``), ``departments`` (``GET /api/departments``), ``reports`` (``GET
    /api/reports``: :func:`repo_reports.report_conditions`), ``approvals`` (``GET
    /api/approvals``: :func:`repo_approvals.approval_conditions`), ``attendance_days`` (the
    sum of ``days`` of ``GET /api/attendance/summary`` this month so far, the company's zone:
    :func:`repo_attendance.attendance_days` — person-days with a check-point result, i.e. the
    scheduled work days, shown as 应出勤人天; not the 每日统计 rows of ``GET
    /api/attendance/daily`` and the export, which add rest days with a punch, leave or
    approval) with ``attendance_start``/``attendance_end`` (ISO dates). Counted with ``COUNT``
    in SQL, no rows read."""
    from dingsync.web.routers import attendance, directory

    viewer = caller.viewer
    people = directory.users(ctx, caller, limit=1)["total"]
    depts = directory.departments(ctx, caller, depth=0)["count"]
    start, end = attendance._span(ctx, None, None)
    with ctx.engine.connect() as conn:
        report_total = _count(
            conn,
            reports_table,
            repo_reports.report_conditions(
                ctx.corp_id, visible(rules.scope(viewer, "reports", "list"))
            ),
        )
        approval_total = _count(
            conn,
            approval_instances,
            repo_approvals.approval_conditions(
                ctx.corp_id, visible(rules.scope(viewer, "approvals", "list"))
            ),
        )
        days = repo_attendance.attendance_days(
            conn,
            ctx.corp_id,
            visible(rules.scope(viewer, "attendance", "list")),
            start=start,
            end=end,
        )
    return {
        "people": people,
        "departments": depts,
        "reports": report_total,
        "approvals": approval_total,
        "attendance_days": days,
        "attendance_start": start.isoformat(),
        "attendance_end": end.isoformat(),
    }


def _count(conn: Connection, table: Table, cond: list[Any]) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*cond)).scalar_one())


def inbox_health(ctx: WebContext) -> dict[str, Any]:
    """The event inbox: ``received_today`` (since 00:00 today in the company's zone),
    ``failed``, ``pending`` (pending or being processed), ``oldest_pending`` (epoch ms or
    ``None``), ``by_status``."""
    since = from_ms(day_start_ms(ctx.today(), ctx.settings.tz))
    with ctx.engine.connect() as conn:
        health = repo_events.inbox_health(conn, ctx.corp_id, since)
    return {
        "received_today": health["received_since"],
        "failed": health["failed"],
        "pending": health["pending"],
        "oldest_pending": _ms(health["oldest_pending"]),
        "by_status": health["by_status"],
    }


class SyncStarter:
    """Starts "立即同步" runs in the service's event loop: an incremental run of every entity
    with the service's DingTalk client (:attr:`WebContext.client`). One per corp and
    database: while this service's run goes on, or another process holds the sync lease, a
    start answers ``running`` instead."""

    _tasks: ClassVar[weakref.WeakKeyDictionary[WebContext, asyncio.Task[Any]]] = (
        weakref.WeakKeyDictionary()
    )

    @classmethod
    def running(cls, ctx: WebContext) -> bool:
        """Whether a run this service started is still going."""
        task = cls._tasks.get(ctx)
        return task is not None and not task.done()

    @classmethod
    async def start(cls, ctx: WebContext, requested_by: str) -> dict[str, Any]:
        """Start a run unless one is going: ``{"started": bool, "running": True, "message"}``.
        Raises ``auth.token_failed`` (a :class:`~dingsync.web.errors.WebError`) when the
        service has no DingTalk credentials."""
        if cls.running(ctx):
            return {"started": False, "running": True, "message": "同步正在进行中"}
        client = ctx.client  # auth.token_failed without credentials, before anything starts
        entities = make_entities(settings=ctx.settings)

        async def go() -> Any:
            return await run_sync(
                client,
                ctx.engine,
                ctx.corp_id,
                entities,
                kind="incremental",
                concurrency=ctx.settings.sync_concurrency,
                tz=ctx.settings.tz,
            )

        task = asyncio.get_running_loop().create_task(go(), name=f"dingsync-sync-{ctx.corp_id}")
        cls._tasks[ctx] = task

        def ended(t: asyncio.Task[Any]) -> None:
            ctx.forget_tree()  # departments may have changed
            cls._done(t)

        task.add_done_callback(ended)
        # The lease is taken first thing: a held lease fails the task at once.
        await asyncio.wait({task}, timeout=0.3)
        if task.done() and isinstance(task.exception(), SyncAlreadyRunning):
            return {"started": False, "running": True, "message": "另一个同步正在进行中"}
        log.info("sync started from the console by %s", requested_by)
        return {"started": True, "running": not task.done(), "message": "已开始同步"}

    @staticmethod
    def _done(task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and not isinstance(exc, SyncAlreadyRunning):
            log.warning("console sync failed: %s", exc.__class__.__name__)


def overview(ctx: WebContext, caller: Caller) -> dict[str, Any]:
    """Everything 概览 shows: ``runs`` (:func:`sync_runs`), ``areas`` (:func:`area_counts`),
    ``inbox`` (:func:`inbox_health`), ``sync_running`` (a run is going)."""
    runs = sync_runs(ctx)
    return {
        "runs": runs,
        "areas": area_counts(ctx, caller),
        "inbox": inbox_health(ctx),
        "sync_running": SyncStarter.running(ctx) or any(r["state"] == "running" for r in runs),
    }
