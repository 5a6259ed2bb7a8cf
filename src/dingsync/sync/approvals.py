"""Approvals sync (``dingsync sync --only approvals``): templates, then per template id windows,
then the instances' details concurrently.

Plan:

1. Templates (``userVisibilities/templates`` or ``listbyuserid``) and each one's form schema,
   committed in one unit.
2. Per template, concurrently (:data:`LISTINGS` templates at once): the ≤ 120-day windows of
   the range (split by the client). A window's ids are listed page by page; every :data:`CHUNK`
   ids at once start a details unit (``GET processInstances`` for each, concurrently) that
   writes the instances with their form values, detail rows, tasks, operation records and cc
   together with its checkpoint (the ids it covered). The window's own unit stores the ids it
   listed, so a resumed run cuts it the same way. Id listing and detail calls are different
   APIs, each paced by its own limiter, so they overlap; the listing waits while
   :data:`CHUNKS_AHEAD` details units are running, so memory does not grow with the company.
3. Incremental runs (``dingsync sync --incremental`` once a watermark exists, or
   ``incremental=True``): the range starts at the watermark minus :data:`OVERLAP`; ids already
   stored and finished are not fetched again; every stored instance still running is
   re-fetched. The engine stores the watermark (``{"cursor": end of the listed range}``) last.

A full run reads ``history_days`` back: calendar days before today in the company's zone
(default 30, the sandbox's history; DingTalk allows 365). An
:class:`~dingsync.sync.incremental.IncrementalEntity`: its range is frozen when the run starts,
so a resumed run lists the same windows.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Connection

from dingsync.config import Settings
from dingsync.dingtalk import NotFoundError, PermissionDeniedError
from dingsync.dingtalk.errors import InvalidArgumentError
from dingsync.dingtalk.models.approvals import (
    FormSchema,
    ProcessInstance,
    ProcessTemplate,
    attachment_files,
    parse_number,
)
from dingsync.store import repo, repo_approvals
from dingsync.sync.engine import SyncContext
from dingsync.sync.incremental import IncrementalEntity, Plan
from dingsync.timeutil import SHANGHAI, day_start_ms, from_ms, local_date, to_ms

log = logging.getLogger(__name__)

ENTITY = "approvals"
TEMPLATES = "approvals.templates"
WINDOWS = "approvals.windows"
DETAILS = "approvals.details"
RUNNING = "approvals.running"

#: Instances fetched and written per unit of work.
CHUNK = 100
#: Instance detail calls in flight at once.
IN_FLIGHT = 200
#: Details units started and not yet committed: enough to keep :data:`IN_FLIGHT` calls busy
#: while a unit waits for its slowest call and its commit, few enough that listing ids never
#: runs ahead of fetching by more than this many chunks (memory flat in the company's size).
CHUNKS_AHEAD = 2 * IN_FLIGHT // CHUNK + 1
#: Templates whose ids are listed at once. A listing waits for a details slot while it holds a
#: unit slot of the run (``SyncContext.concurrency``); bounding the listings keeps slots free for
#: the details units it waits for, whatever the number of templates.
LISTINGS = 8
#: A semaphore size that never blocks.
UNBOUNDED = 1 << 30
#: An incremental run re-lists this much before the watermark (late-indexed instances).
OVERLAP = timedelta(minutes=30)
DEFAULT_HISTORY_DAYS = 30


def history_start(now: datetime, days: int, tz: tzinfo = SHANGHAI) -> datetime:
    """Start of a full run: midnight (``tz``, the company's zone) ``days`` calendar days before
    today, as aware UTC."""
    today = local_date(to_ms(now), tz)
    return from_ms(day_start_ms(today - timedelta(days=days), tz))


def _none_if_empty(value: Any) -> Any:
    return None if value in ("", None) else value


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------
def schema_fields(schema: FormSchema | None) -> list[dict[str, Any]]:
    """The form's fields in schema order: ``{id, label, component_name, children: [...]}``."""
    if schema is None:
        return []

    def one(comp: Any) -> dict[str, Any]:
        return {
            "id": comp.id,
            "label": comp.label,
            "component_name": comp.component_name,
            "children": [one(c) for c in comp.children],
        }

    return [one(c) for c in schema.items]


def template_row(corp_id: str, tpl: ProcessTemplate, schema: FormSchema | None) -> dict[str, Any]:
    """An ``approval_templates`` row from a template listing item and its form schema."""
    gmt = schema.gmt_modified if schema is not None else None
    return {
        "corp_id": corp_id,
        "process_code": tpl.process_code,
        "name": tpl.name or (schema.name if schema else None),
        "icon_url": tpl.icon_url,
        "url": tpl.url,
        "dir_name": tpl.dir_name,
        "form_uuid": schema.form_uuid if schema else None,
        "schema_status": schema.status if schema else None,
        "fields": schema_fields(schema),
        "gmt_modified": repo_from_ms(gmt),
        "synced_at": datetime.now(UTC),
        "raw": {"template": tpl.raw(), "schema": schema.raw() if schema else None},
    }


def repo_from_ms(value: Any) -> datetime | None:
    """Epoch ms (Number or String) → aware UTC; anything else → ``None``."""
    try:
        return from_ms(int(str(value))) if value else None
    except ValueError:
        return None


def _warn_skipped_rows(pid: str, field: str | None, text: str | None, kept: int) -> None:
    """Log the rows of a detail table that :func:`parse_table` skipped (not a list of cells)."""
    try:
        sent = json.loads(text or "")
    except ValueError:
        return
    if isinstance(sent, list) and len(sent) > kept:
        log.warning(
            "approval %s: detail table %s: skipped %d malformed row(s) of %d",
            pid,
            field,
            len(sent) - kept,
            len(sent),
        )


def instance_bundle(corp_id: str, process_code: str, inst: ProcessInstance) -> dict[str, Any]:
    """The rows of one instance (see ``repo_approvals.store_instances``): the same rows
    whichever host answered, except ``source`` and ``raw``."""
    assert inst.process_instance_id
    form_values: list[dict[str, Any]] = []
    detail_rows: list[dict[str, Any]] = []
    for seq, fv in enumerate(inst.form_component_values):
        parsed = fv.parsed()
        form_values.append(
            {
                "seq": seq,
                "component_id": fv.id,
                "name": _none_if_empty(fv.name),
                "component_type": fv.component_type,
                "value": fv.value,
                "ext_value": _none_if_empty(fv.ext_value),
                "parsed": parsed,
            }
        )
        if fv.component_type == "TableField" and isinstance(parsed, list):
            for row_no, cells in enumerate(parsed):
                detail_rows.append(
                    {
                        "field_seq": seq,
                        "row_no": row_no,
                        "component_id": fv.id,
                        "field_name": fv.name,
                        "cells": repo_approvals.detail_cells(cells),
                    }
                )
            _warn_skipped_rows(inst.process_instance_id, fv.id, fv.value, len(parsed))
    tasks = [
        {
            "seq": seq,
            "taskid": t.taskid,
            "userid": t.userid,
            "task_status": _none_if_empty(t.task_status),
            "task_result": _none_if_empty(t.task_result),
            "create_time": t.create_at,
            "finish_time": t.finish_at,
            "activity_id": t.activity_id,
            "url": t.url,
        }
        for seq, t in enumerate(inst.tasks)
    ]
    records = [
        {
            "seq": seq,
            "userid": r.userid,
            "date": r.date_at,
            "operation_type": r.operation_type,
            "operation_result": _none_if_empty(r.operation_result),
            "remark": _none_if_empty(r.remark),
            "attachments": [
                {
                    "file_name": a.file_name,
                    "file_size": a.file_size,
                    "file_id": a.file_id,
                    "file_type": a.file_type,
                }
                for a in r.attachments
            ]
            or None,
        }
        for seq, r in enumerate(inst.operation_records)
    ]
    cc = [{"userid": u} for u in dict.fromkeys(inst.cc_userids) if u]
    return {
        **_bundle(corp_id, process_code, inst, form_values, detail_rows, tasks, records, cc),
        "attachments": attachment_rows(inst),
    }


def attachment_rows(inst: ProcessInstance) -> list[dict[str, Any]]:
    """``approval_attachments`` rows of one instance: the files of its ``DDAttachment`` form
    values (``source`` ``form``, by the originator), then those attached to operation records
    and comments (``comment``, by the record's person, ``record_seq`` its position), in
    DingTalk's order; ``file_size`` in bytes (DingTalk sends it as a string, EB Q1). An entry
    without a file id is left out (it could never be downloaded)."""
    rows: list[dict[str, Any]] = []
    for fv in inst.form_component_values:
        for f in attachment_files(fv.component_type, fv.parsed()):
            rows.append(
                {
                    **f,
                    "source": "form",
                    "component_id": fv.id,
                    "record_seq": None,
                    "userid": inst.originator_userid,
                }
            )
    for seq, r in enumerate(inst.operation_records):
        for a in r.attachments:
            if not a.file_id:
                continue
            size = parse_number(a.file_size)
            rows.append(
                {
                    "file_id": a.file_id,
                    "file_name": a.file_name,
                    "file_size": int(size) if isinstance(size, int | float) else None,
                    "file_type": a.file_type,
                    "space_id": _none_if_empty(a.space_id),
                    "source": "comment",
                    "component_id": None,
                    "record_seq": seq,
                    "userid": r.userid,
                }
            )
    return [{"seq": n, **row} for n, row in enumerate(rows)]


def _bundle(
    corp_id: str,
    process_code: str,
    inst: ProcessInstance,
    form_values: list[dict[str, Any]],
    detail_rows: list[dict[str, Any]],
    tasks: list[dict[str, Any]],
    records: list[dict[str, Any]],
    cc: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "instance": {
            "corp_id": corp_id,
            "process_instance_id": inst.process_instance_id,
            "process_code": process_code,
            "title": inst.title,
            "business_id": inst.business_id,
            "originator_userid": inst.originator_userid,
            "originator_dept_id": inst.originator_dept_id,
            "originator_dept_name": inst.originator_dept_name,
            "status": inst.status,
            "result": _none_if_empty(inst.result),
            "create_time": inst.create_at,
            "finish_time": inst.finish_at,
            "biz_action": _none_if_empty(inst.biz_action),
            "main_process_instance_id": _none_if_empty(inst.main_process_instance_id),
            "attached_process_instance_ids": list(inst.attached_process_instance_ids),
            "approver_userids": inst.approvers,
            "source": inst.source,
            "synced_at": datetime.now(UTC),
            "raw": inst.payload(),
        },
        "form_values": form_values,
        "detail_rows": detail_rows,
        "tasks": tasks,
        "operation_records": records,
        "cc": cc,
    }


# --------------------------------------------------------------------------------------------
# The entity
# --------------------------------------------------------------------------------------------
class ApprovalsSync(IncrementalEntity):
    """The approvals entity.

    ``history_days``: how far back a full run lists (calendar days of the company's zone before
    today; default 30, the sandbox's history); ``incremental``: ``None`` = follow the run's kind
    (``dingsync sync --incremental``), ``True``/``False`` to force; ``process_codes``: only these
    templates. Cursor: epoch ms listed up to; overlap: :data:`OVERLAP`.
    """

    name = ENTITY
    cursor = "ms"
    overlap = int(OVERLAP.total_seconds() * 1000)

    def __init__(
        self,
        *,
        history_days: int = DEFAULT_HISTORY_DAYS,
        incremental: bool | None = None,
        process_codes: list[str] | None = None,
    ) -> None:
        self.history_days = history_days
        self.incremental = incremental
        self.mode = None if incremental is None else ("incremental" if incremental else "full")
        self.process_codes = process_codes
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)
        self._ahead = asyncio.Semaphore(CHUNKS_AHEAD)
        self._listings = asyncio.Semaphore(LISTINGS)

    @classmethod
    def from_settings(cls, settings: Settings) -> ApprovalsSync:
        """The entity as ``DINGSYNC_APPROVALS_HISTORY_DAYS`` configures it."""
        return cls(history_days=settings.approvals_history_days)

    # -- the range ---------------------------------------------------------------------------
    def range_end(self, now_ms: int, tz: tzinfo) -> int:
        """The run's ``now``, to the second."""
        return now_ms - now_ms % 1000

    def full_start(self, end: Any, now_ms: int, tz: tzinfo) -> int:
        """Midnight ``history_days`` before today (see :func:`history_start`)."""
        return to_ms(history_start(from_ms(int(end)), self.history_days, tz))

    def incremental_start(self, full_start: Any, from_watermark: Any) -> int:
        """The watermark minus the overlap, but not before the full run's start."""
        return max(int(full_start), int(from_watermark))

    # -- summary -----------------------------------------------------------------------------
    def summary(self, conn: Connection, corp_id: str) -> dict[str, int]:
        """Stored rows per approval table (for the demo/sync summary)."""
        return repo_approvals.counts(conn, corp_id)

    # -- run ---------------------------------------------------------------------------------
    async def run_units(self, ctx: SyncContext, plan: Plan) -> None:
        """Templates, then per template windows → details; then running instances."""
        # Detail calls in flight: enough to fill DingTalk's QPS at any sane latency, few enough
        # that tens of thousands of ids do not become tens of thousands of waiting calls.
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)
        # Listings wait for a details slot while holding one of the run's unit slots: only when
        # the run has slots to spare for the details units they wait for (the default 256
        # does; a run with a handful of slots lists ahead without bound, as before).
        bounded = ctx.concurrency > LISTINGS + CHUNKS_AHEAD
        self._ahead = asyncio.Semaphore(CHUNKS_AHEAD if bounded else UNBOUNDED)
        self._listings = asyncio.Semaphore(LISTINGS)
        templates = await self._templates(ctx)
        codes = [t["process_code"] for t in templates]
        if self.process_codes is not None:
            codes = [c for c in codes if c in self.process_codes]
        start_ms, end_ms = plan.ms
        start, end = from_ms(start_ms), from_ms(end_ms)
        async with asyncio.TaskGroup() as tg:
            for code in codes:
                tg.create_task(
                    self._template_instances(ctx, tg, code, start, end, plan.incremental)
                )
            if plan.incremental:
                tg.create_task(self._running(ctx, tg, start_ms))

    async def _templates(self, ctx: SyncContext) -> list[dict[str, Any]]:
        client = ctx.client
        done = ctx.load_done(TEMPLATES)
        if "all" in done:
            return list(done["all"] or [])

        async def fetch() -> list[dict[str, Any]]:
            templates = await client.approvals.list_templates()

            async def schema(tpl: ProcessTemplate) -> FormSchema | None:
                try:
                    return await client.approvals.get_form_schema(tpl.process_code)
                except (PermissionDeniedError, NotFoundError, InvalidArgumentError) as exc:
                    log.warning("form schema of %s unavailable: %s", tpl.process_code, exc)
                    return None

            schemas = await asyncio.gather(*(schema(t) for t in templates))
            return [
                template_row(ctx.corp_id, t, s) for t, s in zip(templates, schemas, strict=True)
            ]

        def write(conn: Connection, rows: list[dict[str, Any]]) -> None:
            repo_approvals.upsert_templates(conn, ctx.corp_id, rows)

        rows = await ctx.unit(
            TEMPLATES,
            "all",
            fetch,
            write,
            state=lambda rows: [{"process_code": r["process_code"]} for r in rows],
        )
        assert rows is not None
        ctx.counts["approval_templates"] = len(rows)
        return [{"process_code": r["process_code"]} for r in rows]

    async def _template_instances(
        self,
        ctx: SyncContext,
        tg: asyncio.TaskGroup,
        code: str,
        start: datetime,
        end: datetime,
        incremental: bool,
    ) -> None:
        """List each window's ids page by page; every :data:`CHUNK` ids start a details unit
        (listing and details overlap; the listing waits while :data:`CHUNKS_AHEAD` are
        running), then the window's unit stores the ids it listed. At most :data:`LISTINGS`
        templates list at once."""
        windows = ctx.client.approvals.windows(start, end)
        ctx.progress.add_total(WINDOWS, len(windows))
        async with self._listings:  # at most LISTINGS templates listed at once (see there)
            for w_start, w_end in windows:
                await self._window(ctx, tg, code, w_start, w_end, incremental)
                ctx.progress.advance(WINDOWS)

    async def _window(
        self,
        ctx: SyncContext,
        tg: asyncio.TaskGroup,
        code: str,
        w_start: datetime,
        w_end: datetime,
        incremental: bool,
    ) -> None:
        key = f"{code}:{int(w_start.timestamp() * 1000)}"
        done = ctx.load_done(WINDOWS)
        n = 0

        async def spawn(chunk: list[str]) -> None:
            nonlocal n
            ctx.progress.add_total(DETAILS, 1)
            unit = f"{key}:{n}"
            n += 1
            await self._spawn(
                tg, lambda: self._details(ctx, DETAILS, unit, code, chunk, incremental)
            )

        if key in done:  # a resumed run: the same ids, cut the same way
            ids = list(done[key] or [])
            for i in range(0, len(ids), CHUNK):
                await spawn(ids[i : i + CHUNK])
            return

        async def fetch() -> list[str]:
            listed: list[str] = []
            pending: list[str] = []
            async for page in ctx.client.approvals.iter_window_pages(code, w_start, w_end):
                listed.extend(page)
                pending.extend(page)
                while len(pending) >= CHUNK:
                    await spawn(pending[:CHUNK])
                    del pending[:CHUNK]
            if pending:
                await spawn(pending)
            return listed

        got = await ctx.unit(WINDOWS, key, fetch, lambda conn, ids: None, state=list)
        ctx.counts["approval_ids_listed"] += len(got or [])

    async def _spawn(
        self, tg: asyncio.TaskGroup, details: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        """Start ``details()`` (a details unit) in ``tg`` once fewer than :data:`CHUNKS_AHEAD`
        are running; the caller (a window's listing) waits meanwhile."""
        await self._ahead.acquire()

        async def run() -> None:
            try:
                await details()
            finally:
                self._ahead.release()

        tg.create_task(run())

    async def _details(
        self,
        ctx: SyncContext,
        entity: str,
        key: str,
        code: str | None,
        ids: list[str],
        skip_finished: bool = False,
    ) -> None:
        """One unit: fetch ``ids`` (``skip_finished``: not those stored and finished) and store
        them. The checkpoint holds the ids, so a resumed run that cut a window differently
        still fetches whatever this chunk did not cover."""
        client = ctx.client
        done = ctx.load_done(entity)
        if key in done:
            covered = set(done[key] or []) if isinstance(done[key], list) else set(ids)
            ids = [i for i in ids if i not in covered]
            if not ids:
                ctx.progress.advance(DETAILS)
                return
            key = f"{key}:rest"

        async def one(pid: str) -> ProcessInstance | None:
            try:
                async with self._in_flight:
                    return await client.approvals.get_instance(pid)
            except (NotFoundError, InvalidArgumentError) as exc:
                log.warning("approval instance %s not available: %s", pid, exc)
                return None

        async def fetch() -> list[ProcessInstance]:
            wanted = ids
            if skip_finished:  # incremental: finished instances already stored stay as they are
                stored = await ctx.write(
                    lambda c: repo_approvals.known_instance_ids(c, ctx.corp_id, ids)
                )
                running = await ctx.write(lambda c: _unfinished_among(c, ctx.corp_id, ids))
                wanted = [i for i in ids if i not in stored or i in running]
            got = await asyncio.gather(*(one(i) for i in wanted))
            return [g for g in got if g is not None]

        codes: dict[str, str] = {}
        if code is None:
            codes.update(await ctx.write(lambda c: _codes_of(c, ctx.corp_id, ids)))

        def write(conn: Connection, insts: list[ProcessInstance]) -> None:
            bundles = [
                instance_bundle(ctx.corp_id, code or codes[i.process_instance_id or ""], i)
                for i in insts
            ]
            repo_approvals.store_instances(conn, ctx.corp_id, bundles)

        insts = await ctx.unit(entity, key, fetch, write, state=lambda _: list(ids))
        if insts is not None:
            ctx.counts["approval_instances"] += len(insts)
        ctx.progress.advance(DETAILS)

    async def _running(self, ctx: SyncContext, tg: asyncio.TaskGroup, start_ms: int) -> None:
        """Re-fetch every stored instance still in approval (it may have finished since)."""
        ids = await ctx.write(
            lambda c: repo_approvals.unfinished_instance_ids(c, ctx.corp_id, None)
        )
        if self.process_codes is not None:
            allowed = await ctx.write(lambda c: _codes_of(c, ctx.corp_id, ids))
            ids = [i for i in ids if allowed.get(i) in self.process_codes]
        # Running instances inside the listed range are re-read by their window already.
        in_range = await ctx.write(lambda c: _created_since(c, ctx.corp_id, ids, start_ms))
        ids = [i for i in ids if i not in in_range]
        chunks = [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]
        ctx.progress.add_total(DETAILS, len(chunks))
        for n, chunk in enumerate(chunks):
            details = functools.partial(self._details, ctx, RUNNING, str(n), None, chunk)
            await self._spawn(tg, details)
        ctx.counts["approval_running_refetched"] += len(ids)


def _codes_of(conn: Connection, corp_id: str, ids: list[str]) -> dict[str, str]:
    from sqlalchemy import select

    from dingsync.store.schema_approvals import approval_instances as t

    out: dict[str, str] = {}
    for chunk in repo._in_chunks(conn, ids):
        rows = conn.execute(
            select(t.c.process_instance_id, t.c.process_code).where(
                t.c.corp_id == corp_id, t.c.process_instance_id.in_(list(chunk))
            )
        )
        out.update({r[0]: r[1] for r in rows})
    return out


def _unfinished_among(conn: Connection, corp_id: str, ids: list[str]) -> set[str]:
    from sqlalchemy import select

    from dingsync.store.schema_approvals import approval_instances as t

    out: set[str] = set()
    for chunk in repo._in_chunks(conn, ids):
        out.update(
            conn.execute(
                select(t.c.process_instance_id).where(
                    t.c.corp_id == corp_id,
                    t.c.process_instance_id.in_(list(chunk)),
                    t.c.status.in_(("NEW", "RUNNING")),
                )
            ).scalars()
        )
    return out


def _created_since(conn: Connection, corp_id: str, ids: list[str], start_ms: Any) -> set[str]:
    from sqlalchemy import select

    from dingsync.store.schema_approvals import approval_instances as t

    if not start_ms:
        return set()
    since = from_ms(int(start_ms))
    out: set[str] = set()
    for chunk in repo._in_chunks(conn, ids):
        out.update(
            conn.execute(
                select(t.c.process_instance_id).where(
                    t.c.corp_id == corp_id,
                    t.c.process_instance_id.in_(list(chunk)),
                    t.c.create_time >= since,
                )
            ).scalars()
        )
    return out


__all__ = ["ApprovalsSync", "history_start", "instance_bundle", "schema_fields", "template_row"]
