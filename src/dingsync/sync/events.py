"""Events → database: the inbox writer, the handlers that refresh exactly what an event names,
replay, draining DingTalk's failed-push list, and the reconciliation entity.

Flow for every channel (HTTP callback, Stream, failed list)::

    decrypt / parse → Event → EventProcessor.store()  (inbox row, unique on event id)
                          → acknowledge DingTalk       (only after the row is committed)
                          → EventProcessor.process()  (claim → handler → processed/failed)

A duplicate (same ``event_id``) is not stored again, so it is never processed twice, however
many times and however concurrently it arrives. Handlers never trust the event's content for
state: they re-read the named entity from DingTalk (``/topapi/v2/user/get``,
``/topapi/v2/department/get``, ``listadmin``), so late, reordered or duplicated events converge
to DingTalk's current state. A user that DingTalk no longer knows (60121) has left.

Each data area with events (:data:`AREA_EVENTS`, keyed by :data:`dingsync.areas.AREA_NAMES`)
has one handler (:data:`AREA_HANDLERS`): contacts re-read users, departments and admins;
approvals re-read the named instance and store it with the approvals area's own mapping;
attendance re-read the named person-days. Reports have no events.

Configuration (:class:`EventsSettings`): ``DINGTALK_CALLBACK_TOKEN``,
``DINGTALK_CALLBACK_AES_KEY``, ``DINGTALK_CALLBACK_RECEIVER_ID`` (default: the AppKey — console
subscriptions; the corpId for ``register_call_back``; the suiteKey for ISV apps).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, TypeVar

from pydantic import Field, SecretStr
from sqlalchemy import Connection, Engine

from dingsync.config import Settings
from dingsync.dingtalk import DingTalkClient, DingTalkError, NotFoundError
from dingsync.dingtalk.callbacks import CallbackAPI
from dingsync.dingtalk.crypto import CallbackCrypto
from dingsync.dingtalk.models.events import (
    ADMIN_EVENTS,
    APPROVAL_EVENTS,
    ATTENDANCE_EVENTS,
    CHECK_EVENTS,
    CONTACT_EVENTS,
    DEPT_EVENTS,
    USER_EVENTS,
    Event,
    ci_get,
    event_from_failed_item,
    plausible_ms,
)
from dingsync.store import repo, repo_approvals, repo_attendance, repo_events
from dingsync.store.schema import from_ms
from dingsync.sync import approvals as sync_approvals
from dingsync.sync import attendance as sync_attendance
from dingsync.sync.contacts import _raw, department_row, leaver_row, user_row
from dingsync.sync.engine import SyncContext
from dingsync.timeutil import DAY_MS, SHANGHAI, local_date

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The event kinds of each data area that has events (:data:`dingsync.areas.AREA_NAMES`;
#: reports have none). Each is handled by the area's entry in :data:`AREA_HANDLERS`.
AREA_EVENTS: dict[str, frozenset[str]] = {
    "contacts": CONTACT_EVENTS,
    "attendance": ATTENDANCE_EVENTS,
    "approvals": APPROVAL_EVENTS,
}


class EventsSettings(Settings):
    """:class:`~dingsync.config.Settings` plus the callback subscription (secrets as
    ``SecretStr``)."""

    callback_token: SecretStr | None = Field(
        default=None, validation_alias="DINGTALK_CALLBACK_TOKEN"
    )
    callback_aes_key: SecretStr | None = Field(
        default=None, validation_alias="DINGTALK_CALLBACK_AES_KEY"
    )
    callback_receiver_id: str | None = Field(
        default=None, validation_alias="DINGTALK_CALLBACK_RECEIVER_ID"
    )

    @property
    def receiver_id(self) -> str | None:
        """``DINGTALK_CALLBACK_RECEIVER_ID``, else the AppKey (console subscriptions)."""
        return self.callback_receiver_id or self.app_key

    def callback_crypto(self) -> CallbackCrypto:
        """The :class:`CallbackCrypto` for the configured subscription; ``ValueError`` naming the
        missing variables when it is not configured."""
        missing = [
            name
            for name, value in (
                ("DINGTALK_CALLBACK_TOKEN", self.callback_token),
                ("DINGTALK_CALLBACK_AES_KEY", self.callback_aes_key),
                ("DINGTALK_APP_KEY or DINGTALK_CALLBACK_RECEIVER_ID", self.receiver_id),
            )
            if not value
        ]
        if missing:
            raise ValueError("callback not configured: set " + ", ".join(missing))
        assert self.callback_token and self.callback_aes_key and self.receiver_id
        return CallbackCrypto(
            self.callback_token.get_secret_value(),
            self.callback_aes_key.get_secret_value(),
            self.receiver_id,
        )


def _memberships(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """``user_departments`` rows from a ``/topapi/v2/user/get`` result."""
    orders = {int(o["dept_id"]): o.get("order") for o in raw.get("dept_order_list") or []}
    leaders = {int(x["dept_id"]): bool(x.get("leader")) for x in raw.get("leader_in_dept") or []}
    now = datetime.now(UTC)
    return [
        {
            "dept_id": int(d),
            "dept_order": orders.get(int(d)),
            "is_leader": leaders.get(int(d), False),
            "synced_at": now,
        }
        for d in raw.get("dept_id_list") or []
    ]


#: A departing user's record is looked for this long either side of the event's time (epoch
#: ms): one ``empLeaveRecords`` page in all but the busiest minutes.
LEAVE_RECORD_WINDOW_MS = 120_000


def _bad_ids_note(key: str, bad: list[Any]) -> list[str]:
    """A note for the id entries of ``key`` that are not ids (none when ``bad`` is empty)."""
    if not bad:
        return []
    shown = ", ".join(repr(b) for b in bad[:5]) + (" …" if len(bad) > 5 else "")
    return [f"ignored {key} entries that are not ids: {shown}"]


def _work_date(value: Any, tz: tzinfo = SHANGHAI) -> date | None:
    """``"2023-12-12"`` / ``"2020-11-10 00:00:00"`` (DingTalk's own day) / epoch ms (its day
    in the company's zone ``tz``, as the attendance sync stores it) → a date."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    if text.isdigit() and len(text) >= 12:
        return local_date(int(text), tz)
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _attendance_spans(event: Event, tz: tzinfo = SHANGHAI) -> list[tuple[str, date, date]]:
    """(userid, first work date, last work date) to refresh for an attendance event."""
    spans: dict[tuple[str, date, date], None] = {}
    items = event.data_list or [event.data]
    for item in items:
        begin = _work_date(ci_get(item, "workDateBegin"), tz)
        many = ci_get(item, "userIds", "userIdList")
        if begin is not None and isinstance(many, list):
            # attendance_schedule_change (legacy only, EB-79): schedules of several people over
            # a range of work dates (at most 31 days are re-read; the next sync does the rest).
            end = _work_date(ci_get(item, "workDateEnd"), tz) or begin
            end = min(max(end, begin), begin + timedelta(days=30))
            for uid in many:
                spans[(str(uid), begin, end)] = None
            continue
        userid = ci_get(item, "userId", "userid", "staffId")
        if not userid:
            continue
        check = ci_get(item, "checkTime")
        if check not in (None, ""):
            day = _work_date(check, tz)
            if day is not None:  # a punch may close the previous work date (night shift)
                spans[(str(userid), day - timedelta(days=1), day)] = None
            continue
        day = _work_date(ci_get(item, "workDate"), tz)
        if day is not None:
            spans[(str(userid), day, day)] = None
    return list(spans)


class EventProcessor:
    """Stores events in the inbox and processes them against DingTalk and our database.

    ``client`` may be ``None`` for a store-only receiver (rows stay ``pending`` for a worker).
    ``corp_id`` keys every row; ``tz`` is the company's zone (``Settings.tz``), in which work
    dates are days. Database work runs in threads, one writer at a time per processor.
    ``outcomes`` counts results (``processed``, ``duplicate``, ``failed``, …).
    """

    def __init__(
        self,
        client: DingTalkClient | None,
        engine: Engine,
        corp_id: str,
        *,
        concurrency: int = 16,
        tz: tzinfo = SHANGHAI,
    ) -> None:
        self.client = client
        self.engine = engine
        self.corp_id = corp_id
        #: The company's zone (``Settings.tz``): work dates of attendance events are days here.
        self.tz = tz
        self.outcomes: Counter[str] = Counter()
        self._write_lock = asyncio.Lock()
        self._store_queue: list[tuple[Event, str, asyncio.Future[int | None]]] = []
        self._store_task: asyncio.Task[None] | None = None
        # Inbox inserts get their own thread so an ACK never queues behind processing work.
        self._store_pool = ThreadPoolExecutor(1, thread_name_prefix="dingsync-inbox")
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[Any]] = set()
        #: Called with the event after it was processed (benchmarks measure latency with it).
        self.on_processed: Callable[[Event, str], None] | None = None

    # -- database helpers ------------------------------------------------------------------------
    def _tx(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.begin() as conn:
            return fn(conn)

    async def _write(self, fn: Callable[[Connection], T]) -> T:
        async with self._write_lock:
            return await asyncio.to_thread(self._tx, fn)

    # -- inbox -------------------------------------------------------------------------------------
    async def store(self, event: Event, source: str) -> int | None:
        """Write ``event`` to the inbox (committed when this returns). Returns the row id, or
        ``None`` for a duplicate. Raises the database's error if it could not be written (the
        caller must then *not* acknowledge).

        Concurrent calls are group-committed: whatever arrived while the previous transaction
        ran is inserted in the next single transaction, so a burst of deliveries costs a few
        commits instead of one each (and an ACK never waits behind processing work).
        """
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[int | None] = loop.create_future()
        self._store_queue.append((event, source, fut))
        if self._store_task is None or self._store_task.done():
            self._store_task = loop.create_task(self._store_loop())
        row_id = await fut
        self.outcomes["stored" if row_id is not None else "duplicate"] += 1
        return row_id

    def _insert_batch(
        self, conn: Connection, batch: list[tuple[Event, str, Any]]
    ) -> list[int | None]:
        return [
            repo_events.insert_event(
                conn,
                corp_id=self.corp_id,
                event_id=event.event_id,
                event_type=event.event_type,
                source=source,
                payload=event.to_json(),
                event_time=from_ms(event.time_ms) if event.time_ms else None,
            )
            for event, source, _ in batch
        ]

    def _insert_each(self, batch: list[tuple[Event, str, Any]]) -> list[int | BaseException | None]:
        """Insert ``batch`` one event per transaction, after the batch's transaction failed: an
        event that cannot be stored fails alone (on PostgreSQL one error aborts the whole
        transaction, so the others are not kept waiting on it)."""
        out: list[int | BaseException | None] = []
        for item in batch:
            try:
                ids = self._tx(functools.partial(self._insert_batch, batch=[item]))
            except Exception as exc:
                out.append(exc)
            else:
                out.append(ids[0])
        return out

    async def _store_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self._store_queue:
            batch = self._store_queue[:500]
            del self._store_queue[:500]
            results: list[int | BaseException | None]
            try:
                results = list(
                    await loop.run_in_executor(
                        self._store_pool, self._tx, lambda c, b=batch: self._insert_batch(c, b)
                    )
                )
            except Exception as exc:
                if len(batch) == 1:
                    results = [exc]
                else:  # find the event that cannot be stored; the others are stored
                    results = await loop.run_in_executor(self._store_pool, self._insert_each, batch)
            for (_, _, fut), result in zip(batch, results, strict=True):
                if fut.done():
                    continue
                if isinstance(result, BaseException):
                    fut.set_exception(result)
                else:
                    fut.set_result(result)

    def schedule(self, row_id: int) -> None:
        """Process ``row_id`` in the background of the running loop (no-op without a client)."""
        if self.client is None:
            return
        task = asyncio.get_running_loop().create_task(self._bounded(row_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Wait for scheduled processing, then release the inbox writer thread."""
        await self.wait_idle()
        self._store_pool.shutdown(wait=False)

    async def _bounded(self, row_id: int) -> str | None:
        async with self._slots:
            return await self.process(row_id)

    async def wait_idle(self) -> None:
        """Wait for every scheduled processing task."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def process(self, row_id: int, statuses: Iterable[str] = ("pending",)) -> str | None:
        """Claim row ``row_id`` (if in ``statuses``), run its handler and record the outcome.
        Returns the new status, or ``None`` when the row was not claimable (another worker has
        it, or it is done). Never raises for a handler failure: the row becomes ``failed``."""

        def claim(conn: Connection) -> dict[str, Any] | None:
            if not repo_events.claim_event(conn, row_id, tuple(statuses)):
                return None
            return repo_events.get_event(conn, row_id)

        row = await self._write(claim)
        if row is None:
            return None
        event = Event.from_json(row["payload"])
        error: str | None = None
        try:
            status, error = await self._handle(event)
        except asyncio.CancelledError:
            await asyncio.shield(
                self._write(lambda c: repo_events.finish_event(c, row_id, "pending"))
            )
            raise
        except Exception as exc:  # a failed handler is recorded, the loop goes on
            status = "failed"
            error = f"{type(exc).__name__}: {exc}"
            log.warning("event %s (%s) failed: %s", event.event_id, event.event_type, error)
        await self._write(lambda c: repo_events.finish_event(c, row_id, status, error))
        self.outcomes[status] += 1
        if self.on_processed is not None:
            self.on_processed(event, status)
        return status

    async def requeue_expired(self) -> list[int]:
        """Put the rows whose processing lease expired (a worker died while processing them)
        back to ``pending`` and schedule them (when this processor has a client). Receivers
        call it when they start; :meth:`replay` does it first. Returns the row ids (none when
        the inbox cannot be read now: logged, and the next replay or start tries again)."""
        try:
            ids = await self._write(lambda c: repo_events.requeue_expired(c, self.corp_id))
        except Exception as exc:
            log.warning("expired event leases not requeued: %s", type(exc).__name__)
            return []
        if ids:
            log.warning("%d event(s) left processing by a stopped worker: requeued", len(ids))
        for row_id in ids:
            self.schedule(row_id)
        return ids

    async def ingest(self, event: Event, source: str) -> int | None:
        """:meth:`store` then :meth:`schedule` (the usual path once the ACK is sent)."""
        row_id = await self.store(event, source)
        if row_id is not None:
            self.schedule(row_id)
        return row_id

    # -- handlers ----------------------------------------------------------------------------------
    async def handle(self, event: Event) -> str:
        """Refresh what ``event`` names; returns ``processed``, ``skipped`` (nothing to do, or
        nothing it names could be acted on) or ``pending`` (a store-only processor, without a
        client: a worker with one processes it later).
        Raises on DingTalk/database failure."""
        return (await self._handle(event))[0]

    async def _handle(self, event: Event) -> tuple[str, str | None]:
        """:meth:`handle` plus a note for the inbox row's ``last_error`` (``None`` when there is
        nothing to say): ids that are not ids, people DingTalk and we never knew."""
        kind = event.event_type
        if kind in CHECK_EVENTS:
            return "skipped", None
        if self.client is None:
            return "pending", None
        for area_name, kinds in AREA_EVENTS.items():
            if kind in kinds:
                return await AREA_HANDLERS[area_name](self, event)
        log.info("event %s: no handler for %s", event.event_id, kind)
        return "skipped", None

    async def contacts_event(self, event: Event) -> tuple[str, str | None]:
        """A directory event (users, departments, administrators): re-read what it names
        (``/topapi/v2/user/get``, ``/topapi/v2/department/get``, ``listadmin``); status and note
        as :meth:`_handle`."""
        kind = event.event_type
        if kind in USER_EVENTS or kind in ADMIN_EVENTS:
            notes = _bad_ids_note("UserId", event.invalid_user_ids)
            if kind in ADMIN_EVENTS:  # listadmin is re-read whatever the event names
                await self.refresh_admins()
            elif not event.user_ids:
                return "skipped", "; ".join(notes) or "the event names no user"
            gone = await asyncio.gather(*(self.refresh_user(u, event) for u in event.user_ids))
            notes += [g for g in gone if g]
            acted = kind in ADMIN_EVENTS or len([g for g in gone if g]) < len(gone)
            return ("processed" if acted else "skipped"), ("; ".join(notes) or None)
        if kind in DEPT_EVENTS:
            notes = _bad_ids_note("DeptId", event.invalid_dept_ids)
            if not event.dept_ids:
                return "skipped", "; ".join(notes or ["the event names no department"])
            await asyncio.gather(*(self.refresh_department(d) for d in event.dept_ids))
            return "processed", ("; ".join(notes) or None)
        return "skipped", None

    async def approvals_event(self, event: Event) -> tuple[str, str | None]:
        """``bpms_instance_change``/``bpms_task_change``: re-read that one instance
        (``client.approvals.get_instance``) and store it with the approvals area's own mapping
        (``sync.approvals.instance_bundle`` → ``repo_approvals.store_instances``)."""
        assert self.client is not None
        pid = event.process_instance_id
        if event.has_unknown_approval_type:
            # EB-78: e.g. a ``delete`` DingTalk does not document; re-read the instance anyway.
            log.info(
                "event %s: %s with undocumented type %r",
                event.event_id,
                event.event_type,
                event.approval_type,
            )
        if not pid:
            return "skipped", None
        try:
            inst = await self.client.approvals.get_instance(pid)
        except NotFoundError:
            return "skipped", None
        code = ci_get(event.data, "processCode") or getattr(inst, "process_code", None) or ""
        bundle = sync_approvals.instance_bundle(self.corp_id, str(code), inst)
        await self._write(lambda c: repo_approvals.store_instances(c, self.corp_id, [bundle]))
        return "processed", None

    async def attendance_event(self, event: Event) -> tuple[str, str | None]:
        """Attendance events: re-read each named person's day(s) — results (``/attendance/list``)
        and punches (``/attendance/listRecord``), 2 calls per person-day — and replace them
        through the attendance area's mapping (``sync.attendance.result_row``/``record_row`` →
        ``repo_attendance.replace_results``/``replace_records``). A punch (``checkTime``) may
        belong to the previous work date (night shifts), so its refresh covers both."""
        assert self.client is not None
        api = self.client.attendance
        result_row, record_row = sync_attendance.result_row, sync_attendance.record_row
        day_start = sync_attendance.day_start
        spans = _attendance_spans(event, self.tz)
        tz = self.tz
        if not spans:
            return "skipped", None  # group/shift/rule changes: the next attendance sync does them
        one = timedelta(days=1)
        for userid, first, last in spans:
            results, records = await asyncio.gather(
                api.list_results([userid], first, last),
                api.list_records([userid], first, last + one),
            )

            def write(
                conn: Connection,
                u: str = userid,
                a: date = first,
                b: date = last,
                res: Any = results,
                rec: Any = records,
            ) -> None:
                repo_attendance.replace_results(
                    conn, self.corp_id, [u], a, b, [result_row(r, tz) for r in res]
                )
                repo_attendance.replace_records(
                    conn,
                    self.corp_id,
                    [u],
                    day_start(a, tz),
                    day_start(b + 2 * one, tz),
                    [record_row(r, tz) for r in rec],
                )

            await self._write(write)
        return "processed", None

    async def refresh_user(self, userid: str, event: Event | None = None) -> str | None:
        """Re-read one user (``/topapi/v2/user/get``) and store the user and all their
        memberships; a user DingTalk does not know any more (60121) has left (see
        :meth:`_user_gone`). Returns a note when nothing was stored, else ``None``."""
        assert self.client is not None
        try:
            detail = await self.client.contacts.get_user(userid)
        except NotFoundError:
            return await self._user_gone(userid, event)
        raw = _raw(detail)
        row = user_row(self.corp_id, None, raw, detail=True)
        members = _memberships(raw)

        def write(conn: Connection) -> None:
            repo.upsert_users(conn, self.corp_id, [row])
            repo_events.replace_user_memberships(conn, self.corp_id, userid, members)

        await self._write(write)
        return None

    async def _leave_record(self, userid: str, at_ms: int | None) -> dict[str, Any] | None:
        """``userid``'s departure record (``GET /v1.0/contact/empLeaveRecords``) within
        :data:`LEAVE_RECORD_WINDOW` of the event time ``at_ms`` (epoch ms), as sent; ``None``
        without an event time, when not found, or when the app may not read records."""
        assert self.client is not None
        if at_ms is None:
            return None
        start = from_ms(at_ms - LEAVE_RECORD_WINDOW_MS)
        end = from_ms(at_ms + LEAVE_RECORD_WINDOW_MS)
        assert start is not None and end is not None
        found: dict[str, Any] | None = None
        try:
            async for rec in self.client.contacts.iter_leave_records(start, end):
                data = _raw(rec)
                if (data.get("userId") or data.get("userid")) == userid:
                    found = data  # the latest one in the window wins
        except DingTalkError as exc:  # Contact.Common.Read not granted, …
            log.info("departure records for a leaver unavailable: %s", exc)
        return found

    async def _user_gone(self, userid: str, event: Event | None) -> str | None:
        """``userid`` is no longer in DingTalk's directory (``user_leave_org``, or 60121 for
        any user event): mark them ``left``, remove their memberships and store the departure
        — dimission details (``listdimission``), the departure record (``empLeaveRecords``
        around the event's time) and the event's time (epoch ms), merged with what is stored
        exactly as ``sync --incremental`` merges them (:func:`~dingsync.sync.contacts.
        leaver_row`), so the two never disagree. Someone neither we nor DingTalk's departure
        APIs know gets nothing stored: the returned note says so (``None`` otherwise)."""
        assert self.client is not None
        at_ms = event.time_ms if event is not None else None
        info: dict[str, Any] | None = None
        try:
            for item in await self.client.contacts.list_dimission_infos([userid]):
                data = _raw(item)
                if data.get("userid") == userid:
                    info = data
        except DingTalkError as exc:  # archived API, not granted to every app
            log.info("dimission detail for a leaver unavailable: %s", exc)
        record = await self._leave_record(userid, at_ms)

        def read(conn: Connection) -> tuple[bool, dict[str, Any]]:
            known = repo_events.user_known(conn, self.corp_id, userid)
            parts = repo.load_leaver_parts(conn, self.corp_id, [userid]).get(userid) or {}
            return known, parts

        known, stored = await self._write(read)
        if not known and info is None and record is None:
            return (
                f"{userid}: unknown here and to DingTalk (user/get 60121, no dimission info, no "
                "departure record); nothing stored"
            )
        stored_ms = plausible_ms(stored.get("event_time_ms"))
        same = at_ms is None or stored_ms is None or abs(at_ms - stored_ms) <= DAY_MS
        parts = {
            "record": record or (stored.get("record") if same else None) or {},
            "info": info or stored.get("info") or {},
            "event_time_ms": (stored_ms if same else None) or at_ms,
        }
        leaver = leaver_row(self.corp_id, userid, parts)

        def write(conn: Connection) -> bool:
            was_admin = repo_events.is_admin(conn, self.corp_id, userid)
            repo_events.mark_user_left(conn, self.corp_id, userid, leaver["leave_time"])
            repo.upsert_leavers(conn, self.corp_id, [leaver])
            return was_admin

        if await self._write(write):
            # An administrator who leaves loses the role; DingTalk says so by listadmin only.
            await self.refresh_admins()
        return None

    async def refresh_department(self, dept_id: int) -> None:
        """Re-read one department (``/topapi/v2/department/get``); an unknown one (60003) is
        marked removed."""
        assert self.client is not None
        try:
            detail = await self.client.contacts.get_department(dept_id)
        except NotFoundError:
            await self._write(
                lambda c: repo_events.mark_department_removed(c, self.corp_id, dept_id)
            )
            return
        row = department_row(self.corp_id, 0, _raw(detail))
        row.pop("last_seen_run_id", None)
        await self._write(lambda c: repo.upsert_departments(c, self.corp_id, [row]))

    async def refresh_admins(self) -> None:
        """Re-read the administrator list and the sub-administrators' scopes."""
        assert self.client is not None
        client = self.client
        admins = [_raw(a) for a in await client.contacts.list_admins()]
        subs = [a["userid"] for a in admins if int(a.get("sys_level", 0)) == 2]
        scopes = await asyncio.gather(*(client.contacts.get_admin_scope(u) for u in subs))
        now = datetime.now(UTC)
        rows = [
            {
                "corp_id": self.corp_id,
                "userid": a["userid"],
                "sys_level": int(a.get("sys_level", 0)),
                "synced_at": now,
                "raw": a,
            }
            for a in admins
        ]
        by_user = {u: [int(d) for d in s] for u, s in zip(subs, scopes, strict=True)}
        await self._write(lambda c: repo.replace_admins(c, self.corp_id, rows, by_user))

    # -- replay and the failed list ----------------------------------------------------------------
    async def replay(
        self,
        *,
        ids: Iterable[int] | None = None,
        statuses: Iterable[str] = repo_events.REPLAYABLE,
        limit: int = 10_000,
    ) -> Counter[str]:
        """Process inbox rows again: the given ``ids`` (any status) or every row in ``statuses``
        (default: failed and pending). Rows whose processing lease expired (their worker died)
        are put back to ``pending`` first, so the default replay retries them; pass
        ``("processing",)`` to take over rows still under a lease. Returns outcomes."""
        await self._write(lambda c: repo_events.requeue_expired(c, self.corp_id))
        id_list = list(ids) if ids is not None else None
        wanted = (
            ("pending", "processing", "processed", "failed", "skipped")
            if id_list is not None
            else tuple(statuses)
        )
        rows = await asyncio.to_thread(
            self._tx,
            lambda c: repo_events.list_events(
                c, self.corp_id, statuses=wanted, ids=id_list, limit=limit
            ),
        )
        results: Counter[str] = Counter()
        for row in rows:
            status = await self.process(int(row["id"]), statuses=wanted)
            results[status or "busy"] += 1
        return results

    async def drain_failed_list(self) -> int:
        """Read DingTalk's failed-push list (``/call_back/get_call_back_failed_result``) into the
        inbox and schedule what is new. Returns the number of new rows. A DingTalk error (e.g.
        no callback registered) is logged and gives 0."""
        assert self.client is not None
        new = 0
        try:
            async for item in CallbackAPI(self.client).iter_failed():
                try:
                    event = event_from_failed_item(item)
                except ValueError:
                    continue
                if await self.ingest(event, "failed_list") is not None:
                    new += 1
        except DingTalkError as exc:
            log.warning("failed-push list unavailable: %s", exc)
        return new


#: The handler of each data area's events (:data:`AREA_EVENTS`): an :class:`EventProcessor`
#: method returning (status, note for the inbox row).
AREA_HANDLERS: dict[str, Callable[[EventProcessor, Event], Awaitable[tuple[str, str | None]]]] = {
    "contacts": EventProcessor.contacts_event,
    "attendance": EventProcessor.attendance_event,
    "approvals": EventProcessor.approvals_event,
}


class EventsSync:
    """Reconciliation entity (``dingsync sync``; also with ``--incremental``): drain DingTalk's
    failed-push list into the inbox, then replay every pending or failed inbox row.

    The directory itself is compared in full by the ``contacts`` entity in the same run:
    DingTalk has no "changed since" API for users or departments, so a full walk is the only
    compare that catches a missed event (see docs/events.md).
    """

    name = "events"

    async def run(self, ctx: SyncContext) -> None:
        """Drain and replay; counts go to ``events_*``."""
        processor = EventProcessor(ctx.client, ctx.engine, ctx.corp_id, tz=ctx.tz)
        ctx.counts["events_failed_list"] += await processor.drain_failed_list()
        await processor.wait_idle()
        for status, n in (await processor.replay()).items():
            ctx.counts[f"events_{status}"] += n
        await processor.aclose()

    @staticmethod
    def summary(conn: Connection, corp_id: str) -> dict[str, int]:
        """Inbox rows per status (``events_processed``, ``events_pending``, …)."""
        return {f"events_{k}": v for k, v in repo_events.count_by_status(conn, corp_id).items()}


__all__ = ["AREA_EVENTS", "AREA_HANDLERS", "EventProcessor", "EventsSettings", "EventsSync"]
