"""Sandbox area ``events``: a mutation API that changes the company, and DingTalk's two ways of
pushing the matching events — encrypted HTTP callbacks and Stream mode (events.md §1, §3, §5).

Mutations (``POST /sandbox/mutate/contacts/<kind>``, a JSON object, every field optional —
missing ones are drawn from a seeded RNG; validated per kind by the ``*Body`` models):
``hire {userid, dept_id, name, title}``, ``move {userid, to_dept_id}``, ``modify {userid,
title}``, ``leave {userid}`` (the departure dated now, its last work day the Asia/Shanghai
midnight before), ``rejoin {userid}`` (a leaver comes back; the departure record stays as
history), ``create_department {parent_id, name}``, ``admin_add {userid, sys_level (1 main, 2
sub — the default), dept_ids (a sub-administrator's scope; default 1–3 random departments, the
main administrator's is ``[1]``)}``, ``admin_remove {userid}`` (default a random
sub-administrator; removing the last main administrator is refused with 400), and ``random {n
(1..1000), kinds}`` (``n`` random ones among the contacts kinds, or among ``kinds``, which may
name the admin kinds too; the event loop runs between them). Each changes ``state.company`` in
place, calls ``state.reindex()`` and emits one event (``user_add_org``, ``user_modify_org``,
``user_leave_org``, ``org_dept_create``, ``org_admin_add``, ``org_admin_remove`` — the admin
events carry only ``UserId``/``userId``, events.md §2.2). Errors as every mutation endpoint
answers them (``dingsync.sandbox.mutations``): 400 ``errcode`` 400002 for a malformed body, 404
``60121``/``60003`` for an unknown user/department, 409 when the change cannot apply (e.g.
``rejoin`` of someone employed). Approval mutations of the ``approvals`` area
(``/sandbox/mutate/approvals/...``) are heard through its ``listeners`` as
:class:`~dingsync.sandbox.approvals.ApprovalChange` and emitted as ``bpms_instance_change`` /
``bpms_task_change`` (events.md §2.3: the task events name the approver and ``taskId``); so are
the attendance area's punches (``POST /sandbox/mutate/attendance/punch``, see
``sandbox/attendance.py``), emitted as ``attendance_check_record`` with a ``DataList``
(legacy) / ``dataList`` (current, Stream) of one item.

HTTP push: ``/call_back/register_call_back`` (and ``update``/``get``/``delete``) through the
shared wrapper — registering sends ``check_url`` and requires the encrypted ``success``; such a
registration encrypts with the **corpId** as receiver id. ``POST /sandbox/events/callback
{url, token, aes_key, receiver: "app_key"|"corp_id"}`` plays a console subscription (AppKey).
Every event is POSTed with ``?signature&msg_signature&timestamp&nonce`` and ``{"encrypt"}``; the
reply must be the encrypted ``success`` within ``events_http_timeout_ms``. A failed push is
retried 10 s and then 30 s later **by the sandbox clock**, then listed (after
``events_failed_list_delay_s``) in ``/call_back/get_call_back_failed_result`` (reading removes
items, EB-77).

Stream: ``POST /v1.0/gateway/connections/open`` (AppKey/AppSecret) → ``{endpoint, ticket}``
(single use, 90 s); WebSocket ``/connect?ticket=`` on the same port; EVENT frames with String
``time``/``eventBornTime`` and String ``data``; SYSTEM ping every ``events_stream_ping_s``;
redelivery when not acknowledged within ``events_stream_redeliver_s`` (sandbox clock) up to
``events_stream_max_redeliveries`` times, or on ``LATER``/non-200 (EB-82); events produced while
no client is connected are kept and sent on connect (EB-87). ``POST
/sandbox/events/stream/disconnect`` sends SYSTEM ``disconnect`` and closes
``events_stream_close_after_s`` later; ``POST /sandbox/events/stream/blackhole`` makes every open
connection silently dead (nothing sent, frames ignored, socket left open).

Knobs (``configure``): ``events_format`` (``legacy`` = format 1 PascalCase without ids,
``current`` = format 2 with ``BizId``/``eventId``), ``events_drop`` / ``events_duplicate`` /
``events_reorder`` (probabilities per event and channel: lost entirely, sent twice, held back up
to ``events_reorder_ms``), ``events_delay_ms``, ``events_bpms_delete`` (announce a deleted
approval instance as ``bpms_instance_change`` ``type`` ``delete``; off by default — DingTalk
documents no such type, EB-78), plus the timing knobs named above. Defaults follow
emulator-behaviour.md: HTTP reply deadline 1500 ms (EB-74), Stream redelivery after 60 s up to
3 times (EB-83), ping every 60 s (EB-84); ``attendance_schedule_change`` is never emitted
(EB-79), nor are report events (EB-80), bot CALLBACK frames (EB-89) or ISV events.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from pydantic import Field, StrictInt
from starlette.requests import Request
from starlette.responses import JSONResponse

from dingsync.dingtalk.crypto import CallbackCrypto, CallbackCryptoError, random_alnum, sign
from dingsync.sandbox.app import Route
from dingsync.sandbox.company import (
    ROOT_DEPT_ID,
    Department,
    Leaver,
    LeaverDepartment,
    Membership,
    User,
)
from dingsync.sandbox.handlers import Call
from dingsync.sandbox.mutations import (
    BadMutation,
    DeptId,
    MutationBody,
    MutationConflict,
    MutationError,
    Name,
    UserId,
    fields_of,
    read_body,
    unknown,
    validate,
)
from dingsync.sandbox.wire import ApiError, OapiError

if TYPE_CHECKING:
    from dingsync.sandbox.state import SandboxState

USER_TAGS = ("user_add_org", "user_modify_org", "user_leave_org", "user_active_org")
DEPT_TAGS = ("org_dept_create", "org_dept_modify", "org_dept_remove")
MUTATION_KINDS = ("hire", "move", "modify", "leave", "rejoin", "create_department")
#: Administrator mutations: routed and accepted by ``random {kinds}``, not in its default pool.
ADMIN_KINDS = ("admin_add", "admin_remove")
ALL_KINDS = MUTATION_KINDS + ADMIN_KINDS
MAX_KEPT = 20_000
DAY_MS = 86_400_000
_GMT8_MS = 8 * 3_600_000


def shanghai_midnight_ms(ms: int) -> int:
    """Epoch ms of the Asia/Shanghai (UTC+8, no DST) midnight that starts the day of ``ms``."""
    return ms - (ms + _GMT8_MS) % DAY_MS


@dataclass
class SandboxEvent:
    """One emitted event: id, type, born time (ms), corp, and its business fields in camelCase
    (``userId``/``deptId``/approval fields)."""

    event_id: str
    event_type: str
    born_ms: int
    corp_id: str
    fields: dict[str, Any]

    def legacy(self) -> dict[str, Any]:
        """Format 1 (legacy HTTP, PascalCase envelope, no id)."""
        body: dict[str, Any] = {"EventType": self.event_type, "CorpId": self.corp_id}
        if "userId" in self.fields:
            body["UserId"] = list(self.fields["userId"])
            if "optStaffId" in self.fields:
                body["OptStaffId"] = self.fields["optStaffId"]
        if "deptId" in self.fields:
            body["DeptId"] = list(self.fields["deptId"])
        if self.event_type.startswith("bpms_"):
            body = {"EventType": self.event_type, "corpId": self.corp_id}
            body.update({k: v for k, v in self.fields.items()})
            return body
        if "dataList" in self.fields:  # attendance: legacy ``DataList``
            body["DataList"] = self.fields["dataList"]
        body["TimeStamp"] = str(self.born_ms)
        return body

    def current(self) -> dict[str, Any]:
        """Format 2 (current-doc HTTP push with ``EventTime``/``BizId``/``eventId``)."""
        body: dict[str, Any] = {
            "EventType": self.event_type,
            "EventTime": self.born_ms,
            "CorpId": self.corp_id,
            "BizId": self.event_id,
            "eventId": self.event_id,
            "timeStamp": str(self.born_ms),
        }
        body.update(self.fields)
        return body

    def stream_data(self) -> dict[str, Any]:
        """The ``data`` object of a Stream EVENT frame (camelCase)."""
        data = dict(self.fields)
        if not self.event_type.startswith("bpms_"):
            data["timeStamp"] = str(self.born_ms)
        return data

    def failed_item(self) -> dict[str, Any]:
        """An item of ``get_call_back_failed_result``'s ``failed_list``."""
        data: dict[str, Any] = {"corpid": self.corp_id}
        if "userId" in self.fields:
            data["userid"] = list(self.fields["userId"])
        if "deptId" in self.fields:
            data["deptId"] = list(self.fields["deptId"])
        if "dataList" in self.fields:
            data["dataList"] = self.fields["dataList"]
        key = "callbackData"
        if self.event_type.startswith("bpms_"):
            key = "bpmsCallBackData"
            data.update(self.fields)
        return {"call_back_tag": self.event_type, "event_time": self.born_ms, key: data}


class MutationRefused(BadMutation):
    """A mutation DingTalk itself would refuse (answered 400, e.g. removing the last main
    administrator)."""


class HireBody(MutationBody):
    """``hire``: every field optional (drawn when absent)."""

    userid: UserId | None = None
    dept_id: DeptId | None = None
    name: Name | None = None
    title: Name | None = None


class MoveBody(MutationBody):
    """``move``: a non-leader membership of ``userid`` moves to ``to_dept_id``."""

    userid: UserId | None = None
    to_dept_id: DeptId | None = None


class ModifyBody(MutationBody):
    """``modify``: a new title (and work place) for ``userid``."""

    userid: UserId | None = None
    title: Name | None = None


class UserBody(MutationBody):
    """``leave``, ``rejoin``, ``admin_remove``: who."""

    userid: UserId | None = None


class CreateDepartmentBody(MutationBody):
    """``create_department``: under ``parent_id``, named ``name``."""

    parent_id: DeptId | None = None
    name: Name | None = None


class AdminAddBody(MutationBody):
    """``admin_add``: ``sys_level`` 1 (main) or 2 (sub, the default), a sub-administrator's
    ``dept_ids``."""

    userid: UserId | None = None
    sys_level: Literal[1, 2] | None = None
    dept_ids: Annotated[list[DeptId], Field(min_length=1, max_length=200)] | None = None


#: Most random mutations one ``random`` call makes.
RANDOM_MAX = 1000


class RandomBody(MutationBody):
    """``random``: ``n`` (1..1000) mutations among ``kinds`` (default the contacts kinds)."""

    n: Annotated[StrictInt, Field(ge=1, le=RANDOM_MAX)] = 1
    kinds: (
        Annotated[
            list[
                Literal[
                    "hire",
                    "move",
                    "modify",
                    "leave",
                    "rejoin",
                    "create_department",
                    "admin_add",
                    "admin_remove",
                ]
            ],
            Field(min_length=1),
        ]
        | None
    ) = None


#: The body model of each mutation kind.
BODIES: dict[str, type[MutationBody]] = {
    "hire": HireBody,
    "move": MoveBody,
    "modify": ModifyBody,
    "leave": UserBody,
    "rejoin": UserBody,
    "create_department": CreateDepartmentBody,
    "admin_add": AdminAddBody,
    "admin_remove": UserBody,
}


@dataclass
class Registration:
    """A callback subscription: URL, token, EncodingAESKey, receiver id, tags (empty = all)."""

    url: str
    token: str
    aes_key: str
    receiver_id: str
    tags: list[str] = field(default_factory=list)

    def crypto(self) -> CallbackCrypto:
        return CallbackCrypto(self.token, self.aes_key, self.receiver_id)

    def wants(self, event_type: str) -> bool:
        return not self.tags or event_type in self.tags


@dataclass(eq=False)
class HttpDelivery:
    """One pending HTTP push: the event, attempts so far, and when (sandbox clock, s) it is due."""

    event: SandboxEvent
    due: float
    attempts: int = 0
    not_before: float = 0.0  # real monotonic time (delay/reorder knobs)


@dataclass
class StreamConn:
    """A connected Stream client."""

    conn_id: str
    ws: WebSocket
    dead: bool = False
    closing: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_ping: float = 0.0


@dataclass
class Unacked:
    """A frame sent and not yet acknowledged."""

    message_id: str
    event: SandboxEvent
    conn_id: str
    sent_at: float  # sandbox clock
    redeliveries: int = 0
    retry_at: float | None = None


def _body(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class EventsArea:
    """The ``events`` sandbox area (see the module docstring)."""

    DEFAULT_KNOBS: ClassVar[dict[str, Any]] = {
        "events_format": "legacy",
        "events_drop": 0.0,
        "events_duplicate": 0.0,
        "events_reorder": 0.0,
        "events_reorder_ms": 300.0,
        "events_delay_ms": 0.0,
        "events_http_timeout_ms": 1500.0,
        "events_retry_first_s": 10.0,
        "events_retry_second_s": 30.0,
        "events_failed_list_delay_s": 180.0,
        "events_stream_ticket_ttl_s": 90.0,
        "events_stream_redeliver_s": 60.0,
        "events_stream_max_redeliveries": 3,
        "events_stream_ping_s": 60.0,
        "events_stream_close_after_s": 10.0,
        "events_stream_keep_offline": True,
        "events_bpms_delete": False,
    }

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        #: Extra sandbox knobs (``configure``) with their defaults.
        self.knobs: dict[str, Any] = dict(EventsArea.DEFAULT_KNOBS)
        seed = state.config.seed
        self.rng = random.Random(seed * 7919 + 17)  # mutation choices (deterministic)
        self.channel_rng = random.Random(seed * 7919 + 29)  # drop/duplicate/reorder draws
        self.registration: Registration | None = None
        self.http_queue: list[HttpDelivery] = []
        self.failed: deque[tuple[float, dict[str, Any]]] = deque()
        self.stream_pending: deque[SandboxEvent] = deque()
        self.unacked: dict[str, Unacked] = {}
        self.conns: dict[str, StreamConn] = {}
        self.tickets: dict[str, float] = {}  # ticket → expiry (sandbox clock)
        self.counters: Counter[str] = Counter()
        self.emitted: list[SandboxEvent] = []
        #: Ids of events pushed successfully over HTTP at least once.
        self.delivered_ids: set[str] = set()
        self._last_ms = 0
        self._dispatcher: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        self._inflight: set[asyncio.Task[Any]] = set()
        self._wake: asyncio.Event | None = None
        self._hooked = False

    def _hook_areas(self) -> None:
        """Listen to the approvals area's mutations (areas exist only after every area was
        built, so this runs when the app asks for routes)."""
        if self._hooked:
            return
        self._hooked = True
        approvals = self.state.areas.get("approvals")
        if approvals is not None and hasattr(approvals, "listeners"):
            approvals.listeners.append(self._on_approval)
        # An attendance area that announces punches as ``(event_type, data_item)`` (a
        # ``DataList`` item: userId, checkTime, …) gets them pushed as attendance events.
        attendance = self.state.areas.get("attendance")
        if attendance is not None and hasattr(attendance, "listeners"):
            attendance.listeners.append(self._on_attendance)

    # ==========================================================================================
    # knobs, stats
    # ==========================================================================================
    def knob(self, name: str) -> Any:
        return self.state.area_knobs.get(name, EventsArea.DEFAULT_KNOBS[name])

    def stats(self) -> dict[str, Any]:
        """Counters of the push machinery and the registration (without secrets)."""
        out: dict[str, Any] = dict(sorted(self.counters.items()))
        out["registered_url"] = self.registration.url if self.registration else None
        out["http_pending"] = len(self.http_queue)
        out["failed_list"] = len(self.failed)
        out["stream_connections"] = sum(1 for c in self.conns.values() if not c.dead)
        out["stream_pending"] = len(self.stream_pending)
        out["stream_unacked"] = len(self.unacked)
        return out

    # ==========================================================================================
    # emitting
    # ==========================================================================================
    def _born_ms(self) -> int:
        now = self.state.clock.now_ms()
        self._last_ms = max(now, self._last_ms + 1)
        return self._last_ms

    def emit(self, event_type: str, fields: dict[str, Any]) -> SandboxEvent:
        """Create an event and queue it on both channels (subject to the knobs)."""
        ev = SandboxEvent(
            uuid.uuid4().hex, event_type, self._born_ms(), self.state.app.corp_id, fields
        )
        self.counters["events_emitted"] += 1
        self.emitted.append(ev)
        if len(self.emitted) > MAX_KEPT:
            del self.emitted[: len(self.emitted) - MAX_KEPT]
        self._queue_http(ev)
        self._queue_stream(ev)
        self._ensure_dispatcher()
        return ev

    def _channel_copies(self, channel: str) -> list[float]:
        """Extra real-time delays (s) of each copy to send on ``channel`` (``http``/``stream``):
        [] = dropped."""
        rng = self.channel_rng
        if rng.random() < float(self.knob("events_drop")):
            self.counters[f"{channel}_dropped"] += 1
            return []
        base = float(self.knob("events_delay_ms")) / 1000
        copies = [base]
        if rng.random() < float(self.knob("events_duplicate")):
            self.counters[f"{channel}_duplicated"] += 1
            copies.append(base + rng.random() * 0.05)
        out = []
        for d in copies:
            if rng.random() < float(self.knob("events_reorder")):
                d += rng.random() * float(self.knob("events_reorder_ms")) / 1000
                self.counters[f"{channel}_reordered"] += 1
            out.append(d)
        return out

    def _queue_http(self, ev: SandboxEvent) -> None:
        reg = self.registration
        if reg is None or not reg.wants(ev.event_type):
            return
        now = self.state.clock.now()
        mono = time.monotonic()
        for delay in self._channel_copies("http"):
            self.http_queue.append(HttpDelivery(ev, now, 0, mono + delay))

    def _queue_stream(self, ev: SandboxEvent) -> None:
        live = [c for c in self.conns.values() if not c.dead and not c.closing]
        if not live and not self.knob("events_stream_keep_offline"):
            return
        for delay in self._channel_copies("stream"):
            if delay <= 0:
                self.stream_pending.append(ev)
            else:
                self._later(delay, lambda ev=ev: self.stream_pending.append(ev))
        while len(self.stream_pending) > MAX_KEPT:
            self.stream_pending.popleft()

    def _later(self, delay: float, fn: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            fn()
            return
        loop.call_later(delay, fn)

    # ==========================================================================================
    # the dispatcher (runs on the sandbox's event loop)
    # ==========================================================================================
    def _ensure_dispatcher(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._dispatcher is None or self._dispatcher.done():
            self._wake = asyncio.Event()
            self._dispatcher = loop.create_task(self._dispatch_loop())
        elif self._wake is not None:
            self._wake.set()

    async def _dispatch_loop(self) -> None:
        while True:
            try:
                await self._tick()
            except Exception:  # the dispatcher must not die
                self.counters["dispatcher_errors"] += 1
            assert self._wake is not None
            try:
                await asyncio.wait_for(self._wake.wait(), 0.02)
            except TimeoutError:
                pass
            self._wake.clear()

    async def _tick(self) -> None:
        now = self.state.clock.now()
        mono = time.monotonic()
        # HTTP pushes that are due
        due: list[HttpDelivery] = []
        waiting: list[HttpDelivery] = []
        for d in self.http_queue:
            (due if d.due <= now and d.not_before <= mono else waiting).append(d)
        if due:
            self.http_queue = waiting
            for d in due:
                self._spawn(self._push(d))
        # Stream: pending events to live connections
        live = [c for c in self.conns.values() if not c.dead and not c.closing]
        if live:
            while self.stream_pending:
                ev = self.stream_pending.popleft()
                conn = self.channel_rng.choice(live)
                self._spawn(self._send_event(conn, ev, uuid.uuid4().hex, 0))
            # redeliveries
            redeliver_s = float(self.knob("events_stream_redeliver_s"))
            limit = int(self.knob("events_stream_max_redeliveries"))
            for un in list(self.unacked.values()):
                timed_out = now - un.sent_at >= redeliver_s
                asked = un.retry_at is not None and now >= un.retry_at
                if not (timed_out or asked):
                    continue
                if un.redeliveries >= limit:
                    self.unacked.pop(un.message_id, None)
                    self.counters["stream_given_up"] += 1
                    continue
                conn = self.channel_rng.choice(live)
                self.unacked.pop(un.message_id, None)
                self.counters["stream_redelivered"] += 1
                self._spawn(self._send_event(conn, un.event, un.message_id, un.redeliveries + 1))
            # pings
            ping_s = float(self.knob("events_stream_ping_s"))
            for conn in live:
                if ping_s > 0 and now - conn.last_ping >= ping_s:
                    conn.last_ping = now
                    self._spawn(self._send_ping(conn))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    # -- HTTP push ------------------------------------------------------------------------------
    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=64)
            )
        return self._http

    async def _push(self, d: HttpDelivery) -> None:
        reg = self.registration
        if reg is None:
            return
        ev = d.event
        payload = ev.current() if self.knob("events_format") == "current" else ev.legacy()
        ok = await self._post_encrypted(reg, json.dumps(payload, ensure_ascii=False))
        d.attempts += 1
        self.counters["http_attempts"] += 1
        if ok:
            self.counters["http_delivered"] += 1
            self.delivered_ids.add(ev.event_id)
            return
        self.counters["http_failures"] += 1
        now = self.state.clock.now()
        if d.attempts == 1:
            d.due = now + float(self.knob("events_retry_first_s"))
        elif d.attempts == 2:
            d.due = now + float(self.knob("events_retry_second_s"))
        else:
            visible = now + float(self.knob("events_failed_list_delay_s"))
            self.failed.append((visible, ev.failed_item()))
            self.counters["http_failed_listed"] += 1
            return
        d.not_before = 0.0
        self.http_queue.append(d)

    async def _post_encrypted(self, reg: Registration, plaintext: str) -> bool:
        """POST one encrypted message and check the encrypted ``success`` reply."""
        crypto = reg.crypto()
        ts = str(self.state.clock.now_ms())
        nonce = random_alnum(8)
        enc = crypto.encrypt(plaintext)
        sig = crypto.sign(ts, nonce, enc)
        params = {"signature": sig, "msg_signature": sig, "timestamp": ts, "nonce": nonce}
        timeout = float(self.knob("events_http_timeout_ms")) / 1000
        try:
            resp = await self._client().post(
                reg.url, params=params, json={"encrypt": enc}, timeout=timeout
            )
        except httpx.TimeoutException:
            self.counters["http_fail_timeout"] += 1
            return False
        except httpx.HTTPError:
            self.counters["http_fail_network"] += 1
            return False
        if resp.status_code != 200:
            self.counters["http_fail_status"] += 1
            return False
        try:
            reply = resp.json()
            r_sig = reply["msg_signature"]
            r_ts = str(reply.get("timeStamp") or reply.get("timestamp"))  # either key, EB-72
            r_nonce = str(reply["nonce"])
            r_enc = reply["encrypt"]
            if r_sig != sign(reg.token, r_ts, r_nonce, r_enc):
                return False
            return crypto.decrypt(r_enc) == "success"
        except (ValueError, KeyError, TypeError, CallbackCryptoError):
            return False

    async def check_url(self, reg: Registration) -> bool:
        """Send ``check_url`` to ``reg.url``; True when it answered the encrypted ``success``."""
        return await self._post_encrypted(reg, json.dumps({"EventType": "check_url"}))

    # -- Stream ---------------------------------------------------------------------------------
    async def _send(self, conn: StreamConn, frame: dict[str, Any]) -> bool:
        if conn.dead:
            return False
        try:
            async with conn.lock:
                await conn.ws.send_text(json.dumps(frame, ensure_ascii=False))
            return True
        except Exception:
            self._drop_conn(conn.conn_id)
            return False

    async def _send_event(
        self, conn: StreamConn, ev: SandboxEvent, message_id: str, redeliveries: int
    ) -> None:
        now_ms = self.state.clock.now_ms()
        frame = {
            "specVersion": "1.0",
            "type": "EVENT",
            "headers": {
                "topic": "*",
                "messageId": message_id,
                "contentType": "application/json",
                "time": str(now_ms),
                "appId": self.state.app.agent_id,
                "connectionId": conn.conn_id,
                "eventType": ev.event_type,
                "eventId": ev.event_id,
                "eventCorpId": ev.corp_id,
                "eventBornTime": str(ev.born_ms),
                "eventUnifiedAppId": self.state.app.app_key,
            },
            "data": json.dumps(ev.stream_data(), ensure_ascii=False),
        }
        self.unacked[message_id] = Unacked(
            message_id, ev, conn.conn_id, self.state.clock.now(), redeliveries
        )
        if await self._send(conn, frame):
            self.counters["stream_sent"] += 1

    async def _send_ping(self, conn: StreamConn) -> None:
        await self._send(
            conn,
            {
                "specVersion": "1.0",
                "type": "SYSTEM",
                "headers": {
                    "topic": "ping",
                    "messageId": uuid.uuid4().hex,
                    "contentType": "application/json",
                    "time": str(self.state.clock.now_ms()),
                },
                "data": json.dumps({"opaque": uuid.uuid4().hex[:12]}),
            },
        )
        self.counters["stream_pings"] += 1

    def _drop_conn(self, conn_id: str) -> None:
        conn = self.conns.pop(conn_id, None)
        if conn is not None:
            conn.dead = True

    def _on_ack(self, conn: StreamConn, text: str) -> None:
        try:
            ack = json.loads(text)
            message_id = str((ack.get("headers") or {}).get("messageId") or "")
            code = int(ack.get("code", 0))
            data = ack.get("data")
            parsed = json.loads(data) if isinstance(data, str) and data.strip() else (data or {})
            status = parsed.get("status") if isinstance(parsed, dict) else None
        except (ValueError, TypeError, AttributeError):
            self.counters["stream_bad_frames"] += 1
            return
        un = self.unacked.get(message_id)
        if un is None:
            return  # a ping echo, a late or a repeated ACK
        if code == 200 and status != "LATER":
            self.unacked.pop(message_id, None)
            self.counters["stream_acked"] += 1
        else:
            self.counters["stream_nacked"] += 1
            un.retry_at = self.state.clock.now() + 1.0

    async def serve_ws(self, ws: WebSocket) -> None:
        """The WebSocket endpoint: check the ticket, then deliver frames and read ACKs."""
        ticket = ws.query_params.get("ticket") or ""
        expiry = self.tickets.pop(ticket, None)
        if expiry is None or expiry < self.state.clock.now():
            await ws.close(code=4401)
            self.counters["stream_bad_tickets"] += 1
            return
        await ws.accept()
        conn = StreamConn(uuid.uuid4().hex[:16], ws, last_ping=self.state.clock.now())
        self.conns[conn.conn_id] = conn
        self.counters["stream_connections_opened"] += 1
        self._ensure_dispatcher()
        try:
            while True:
                text = await ws.receive_text()
                if conn.dead:
                    continue  # a silently dead connection hears nothing
                self._on_ack(conn, text)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self._drop_conn(conn.conn_id)

    async def disconnect_all(self) -> int:
        """SYSTEM ``disconnect`` to every live connection, closing each after the knob's delay."""
        n = 0
        close_after = float(self.knob("events_stream_close_after_s"))
        for conn in list(self.conns.values()):
            if conn.dead or conn.closing:
                continue
            conn.closing = True
            await self._send(
                conn,
                {
                    "specVersion": "1.0",
                    "type": "SYSTEM",
                    "headers": {
                        "topic": "disconnect",
                        "messageId": uuid.uuid4().hex,
                        "contentType": "application/json",
                        "time": str(self.state.clock.now_ms()),
                    },
                    "data": json.dumps({"reason": "connection is expired"}),
                },
            )
            n += 1

            async def close_later(c: StreamConn = conn) -> None:
                await asyncio.sleep(close_after)
                self._drop_conn(c.conn_id)
                try:
                    await c.ws.close()
                except Exception:
                    pass

            self._spawn(close_later())
        self.counters["stream_disconnects"] += n
        return n

    def blackhole_all(self) -> int:
        """Make every open connection silently dead (socket left open)."""
        n = 0
        for conn in list(self.conns.values()):
            conn.dead = True
            self.conns.pop(conn.conn_id, None)
            n += 1
        self.counters["stream_blackholed"] += n
        return n

    # ==========================================================================================
    # DingTalk routes
    # ==========================================================================================
    def routes(self) -> list[Route]:
        """``/call_back/*`` (old host) and ``/v1.0/gateway/connections/open`` (new host)."""
        self._hook_areas()
        return [
            Route("/call_back/register_call_back", "oapi", "POST", self._register),
            Route("/call_back/update_call_back", "oapi", "POST", self._update),
            Route("/call_back/get_call_back", "oapi", "GET", self._get_call_back),
            Route("/call_back/delete_call_back", "oapi", "GET", self._delete_call_back),
            Route("/call_back/get_call_back_failed_result", "oapi", "GET", self._failed_result),
            Route(
                "/v1.0/gateway/connections/open", "api", "POST", self._open_connection, auth=False
            ),
        ]

    def _register(self, call: Call) -> dict[str, Any]:
        """``POST /call_back/register_call_back {call_back_tag, token, aes_key, url}`` — one URL
        per app: ``71006`` 回调地址已经存在 while one is registered (update or delete it first)."""
        if self.registration is not None:
            raise OapiError(71006, "回调地址已经存在")
        return self._check_and_store(call)

    def _update(self, call: Call) -> dict[str, Any]:
        """``POST /call_back/update_call_back`` (same body) — ``71007`` 回调地址已不存在 when
        nothing is registered."""
        if self.registration is None:
            raise OapiError(71007, "回调地址已不存在")
        return self._check_and_store(call)

    def _check_and_store(self, call: Call) -> dict[str, Any]:
        """Validate the body, send ``check_url`` and keep the registration (errors-and-limits.md
        §4): ``71008`` for an unknown ``call_back_tag``, ``400050`` for a URL that is not
        http(s), ``400051`` when the URL cannot be reached, ``400054`` when it does not answer
        within ``events_http_timeout_ms``, ``400052`` for a reply that is not the signed JSON,
        ``71009`` when the decrypted reply is not ``success``."""
        data = call.params.data
        url = data.get("url")
        token = data.get("token")
        aes_key = data.get("aes_key")
        tags = data.get("call_back_tag") or []
        if isinstance(tags, str):
            tags = [t.strip() for t in tags.split(",") if t.strip()]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise OapiError(40035, "不合法的参数: call_back_tag")
        for tag in tags:
            if not _known_event_type(tag):
                raise OapiError(71008, f"不允许的回调事件: {tag}")
        if not url or not isinstance(url, str):
            raise OapiError(40035, "不合法的参数: url")
        parsed = urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise OapiError(400050, "无效的url")
        if not isinstance(token, str) or not token.isalnum() or not 3 <= len(token) <= 63:
            raise OapiError(40035, "不合法的参数: token")
        if not isinstance(aes_key, str) or len(aes_key) != 43 or not aes_key.isalnum():
            raise OapiError(900004, "aes key illegal")
        reg = Registration(url, token, aes_key, self.state.app.corp_id, list(tags))
        outcome = _check_url_blocking(reg, float(self.knob("events_http_timeout_ms")) / 1000)
        if outcome != "ok":
            raise OapiError(*CHECK_URL_ERRORS[outcome])
        self.registration = reg
        return {}

    def _get_call_back(self, call: Call) -> dict[str, Any]:
        """``GET /call_back/get_call_back`` — ``71007`` when nothing is registered."""
        reg = self.registration
        if reg is None:
            raise OapiError(71007, "回调地址已不存在")
        return {
            "call_back_tag": reg.tags,
            "token": reg.token,
            "aes_key": reg.aes_key,
            "url": reg.url,
        }

    def _delete_call_back(self, call: Call) -> dict[str, Any]:
        """``GET /call_back/delete_call_back`` — ``71007`` when nothing is registered."""
        if self.registration is None:
            raise OapiError(71007, "回调地址已不存在")
        self.registration = None
        return {}

    def _failed_result(self, call: Call) -> dict[str, Any]:
        now = self.state.clock.now()
        items: list[dict[str, Any]] = []
        keep: deque[tuple[float, dict[str, Any]]] = deque()
        for visible, item in self.failed:
            if visible <= now and len(items) < 200:
                items.append(item)
            else:
                keep.append((visible, item))
        self.failed = keep
        more = any(v <= now for v, _ in keep)
        return {"has_more": more, "failed_list": items}

    def _open_connection(self, call: Call) -> dict[str, Any]:
        body = _body(call.json_body)
        app = self.state.app
        if body.get("clientId") != app.app_key or body.get("clientSecret") != app.app_secret:
            raise ApiError(400, "invalidClientIdOrSecret", "无效的clientId或clientSecret")
        ticket = str(uuid.uuid4())
        now = self.state.clock.now()
        self.tickets = {t: e for t, e in self.tickets.items() if e > now}
        self.tickets[ticket] = now + float(self.knob("events_stream_ticket_ttl_s"))
        url = call.request.url
        scheme = "wss" if url.scheme == "https" else "ws"
        self.counters["stream_tickets"] += 1
        return {"endpoint": f"{scheme}://{url.netloc}/connect", "ticket": ticket}

    # ==========================================================================================
    # control routes
    # ==========================================================================================
    def control_routes(self, app: FastAPI) -> None:
        """Mutations, console-style subscription, Stream disconnect/blackhole, and the WebSocket
        ``/connect`` endpoint (see the module docstring)."""
        self._hook_areas()

        async def body_of(request: Request) -> dict[str, Any]:
            try:
                return _body(await request.json())
            except ValueError:
                return {}

        for kind in ALL_KINDS:

            async def mutate(request: Request, kind: str = kind) -> JSONResponse:
                try:
                    ev = self.mutate(kind, await read_body(request))
                except MutationError as exc:
                    return exc.response()
                return JSONResponse(_event_answer(ev))

            app.add_api_route(f"/sandbox/mutate/contacts/{kind}", mutate, methods=["POST"])

        @app.post("/sandbox/mutate/contacts/random")
        async def mutate_random(request: Request) -> JSONResponse:
            try:
                body = validate(RandomBody, await read_body(request))
            except MutationError as exc:
                return exc.response()
            kinds = list(body.kinds or MUTATION_KINDS)
            events: list[SandboxEvent] = []
            for _ in range(body.n):
                ev = self.mutate_random(kinds)
                if ev is not None:
                    events.append(ev)
                await asyncio.sleep(0)  # let pushes, ACKs and other requests run between
            return JSONResponse({"events": [_event_answer(e) for e in events]})

        @app.post("/sandbox/events/callback")
        async def subscribe(request: Request) -> JSONResponse:
            data = await body_of(request)
            if not data.get("url"):
                self.registration = None
                return JSONResponse({"registered": False})
            receiver = self.state.app.corp_id if data.get("receiver") == "corp_id" else None
            try:
                reg = Registration(
                    str(data["url"]),
                    str(data["token"]),
                    str(data["aes_key"]),
                    receiver or self.state.app.app_key,
                    list(data.get("tags") or []),
                )
                reg.crypto()
            except (KeyError, CallbackCryptoError) as exc:
                return JSONResponse({"error": f"bad subscription: {exc}"}, status_code=400)
            if data.get("check", True) and not await self.check_url(reg):
                return JSONResponse({"error": "check_url was not answered with success"}, 409)
            self.registration = reg
            self._ensure_dispatcher()
            return JSONResponse({"registered": True, "receiver_id": reg.receiver_id})

        @app.post("/sandbox/events/stream/disconnect")
        async def disconnect() -> JSONResponse:
            return JSONResponse({"disconnected": await self.disconnect_all()})

        @app.post("/sandbox/events/stream/blackhole")
        async def blackhole() -> JSONResponse:
            return JSONResponse({"blackholed": self.blackhole_all()})

        @app.get("/sandbox/events/emitted")
        async def emitted() -> JSONResponse:
            return JSONResponse(
                [
                    {
                        "event_id": e.event_id,
                        "event_type": e.event_type,
                        "born_ms": e.born_ms,
                        **e.fields,
                    }
                    for e in self.emitted
                ]
            )

        @app.websocket("/connect")
        async def connect(ws: WebSocket) -> None:
            await self.serve_ws(ws)

    # ==========================================================================================
    # mutations (change the company in place, reindex, emit)
    # ==========================================================================================
    def mutate(self, kind: str, data: dict[str, Any] | None = None) -> SandboxEvent:
        """Apply one mutation of ``kind`` (see the module docstring) with the JSON body
        ``data``. Raises :class:`~dingsync.sandbox.mutations.BadMutation` (400) for a malformed
        body, :class:`~dingsync.sandbox.mutations.UnknownEntity` (404, a ``KeyError``) for an
        unknown id, :class:`~dingsync.sandbox.mutations.MutationConflict` (409, a
        ``ValueError``) when it cannot apply, :class:`MutationRefused` (400) when DingTalk
        would refuse it."""
        if kind not in ALL_KINDS:
            raise KeyError(kind)
        fields = fields_of(validate(BODIES[kind], data or {}))
        fn = getattr(self, f"_m_{kind}")
        with self.state.lock:
            ev_fields, event_type = fn(fields)
            self.state.reindex()
        self.counters[f"mutations_{kind}"] += 1
        return self.emit(event_type, ev_fields)

    def mutate_random(self, kinds: list[str] | None = None) -> SandboxEvent | None:
        """One random mutation among ``kinds`` (default the contacts kinds, weighted towards
        moves and edits; the admin kinds only when named)."""
        weights = {
            "hire": 3,
            "move": 4,
            "modify": 4,
            "leave": 2,
            "rejoin": 1,
            "create_department": 1,
            "admin_add": 1,
            "admin_remove": 1,
        }
        pool = [k for k in (kinds or MUTATION_KINDS) if k in weights]
        for _ in range(5):
            kind = self.rng.choices(pool, weights=[weights[k] for k in pool])[0]
            try:
                return self.mutate(kind, {})
            except (ValueError, KeyError):
                continue
        return None

    # -- helpers
    def _company(self) -> Any:
        return self.state.company

    def _non_root_depts(self) -> list[int]:
        return sorted(d for d in self._company().departments if d != ROOT_DEPT_ID)

    def _movable_users(self) -> list[str]:
        """People who can move or leave without touching leader lists, admins or owners."""
        c = self._company()
        owners = {d.org_dept_owner for d in c.departments.values() if d.org_dept_owner}
        managers = {u.manager_userid for u in c.users.values() if u.manager_userid}
        handovers = {lv.handover_userid for lv in c.leavers.values() if lv.handover_userid}
        return sorted(
            u.userid
            for u in c.users.values()
            if u.userid not in c.admins
            and u.userid != c.boss_userid
            and not any(m.leader for m in u.memberships)
            and u.userid not in owners
            and u.userid not in managers
            and u.userid not in handovers
        )

    def _next_order(self, dept_id: int) -> int:
        orders = [
            m.order
            for u in self._company().users.values()
            for m in u.memberships
            if m.dept_id == dept_id
        ]
        return (max(orders) + 1) if orders else 1

    def _user_fields(self, userid: str, event_type: str) -> tuple[dict[str, Any], str]:
        return {"userId": [userid], "optStaffId": self._company().main_admin_userid}, event_type

    def _dept(self, name: str, dept_id: int) -> int:
        """``dept_id`` if the company has it, else :func:`unknown` (404, 60003)."""
        if dept_id not in self._company().departments:
            raise unknown("department", name, dept_id)
        return dept_id

    def _m_hire(self, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        c = self._company()
        if "dept_id" in data:
            dept_id = self._dept("dept_id", data["dept_id"])
        else:
            dept_id = self.rng.choice(self._non_root_depts() or [ROOT_DEPT_ID])
        n = self.counters["mutations_hire"] + 1
        if "userid" in data:
            userid = data["userid"]
            if userid in c.users:
                raise MutationConflict(f"{userid} is already employed")
            if userid in c.leavers:
                raise MutationConflict(f"{userid} left the company: bring them back with rejoin")
        else:
            userid = f"hire{self.state.config.seed}x{n:05d}"
            while userid in c.users or userid in c.leavers:
                n += 1000
                userid = f"hire{self.state.config.seed}x{n:05d}"
        now_ms = self.state.clock.now_ms()
        mobile = f"139{self.rng.randrange(10**8):08d}"
        user = User(
            userid=userid,
            unionid=uuid.UUID(int=self.rng.getrandbits(128)).hex[:28],
            name=data.get("name") or f"新员工{n}",
            avatar="",
            state_code="86",
            mobile=mobile,
            hide_mobile=False,
            job_number=f"H{n:05d}",
            title=data.get("title") or "工程师",
            hired_date=now_ms,
            active=True,
            admin=False,
            boss=False,
            senior=False,
            real_authed=True,
            exclusive_account=False,
            memberships=[Membership(dept_id, self._next_order(dept_id), False)],
        )
        c.users[userid] = user
        return self._user_fields(userid, "user_add_org")

    def _pick_user(self, data: dict[str, Any]) -> str:
        """``data["userid"]`` (an employee, else 404 60121), or a random movable person."""
        c = self._company()
        if "userid" in data:
            userid = str(data["userid"])
            if userid not in c.users:
                raise unknown("user", "userid", userid)
            return userid
        pool = self._movable_users()
        if not pool:
            raise MutationConflict("nobody can be changed")
        return self.rng.choice(pool)

    def _m_move(self, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        c = self._company()
        userid = self._pick_user(data)
        user = c.users[userid]
        current = {m.dept_id for m in user.memberships}
        if "to_dept_id" in data:
            to = self._dept("to_dept_id", data["to_dept_id"])
            if to in current:
                raise MutationConflict(f"{userid} is already a member of department {to}")
        else:
            choices = [d for d in self._non_root_depts() if d not in current]
            if not choices:
                raise MutationConflict("no department to move to")
            to = self.rng.choice(choices)
        movable = [m for m in user.memberships if not m.leader]
        if not movable:
            raise MutationConflict(f"{userid} holds only leader memberships")
        old = self.rng.choice(movable)
        order = self._next_order(to)
        user.memberships = [m for m in user.memberships if m is not old] + [
            Membership(to, order, False)
        ]
        return self._user_fields(userid, "user_modify_org")

    def _m_modify(self, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        c = self._company()
        userid = self._pick_user(data)
        user = c.users[userid]
        user.title = data.get("title") or (
            self.rng.choice(["高级工程师", "产品经理", "设计师", "运营专员", "销售经理", "架构师"])
            + f"·{self.rng.randrange(1000)}"
        )
        user.work_place = self.rng.choice(["上海", "杭州", "北京", "深圳", None])
        return self._user_fields(userid, "user_modify_org")

    def _m_leave(self, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        c = self._company()
        userid = self._pick_user(data)
        if c.admins.get(userid) == 1 and not any(
            lv == 1 for u, lv in c.admins.items() if u != userid
        ):
            raise MutationRefused("the last main administrator cannot leave; hand it over first")
        # Whoever leaves loses an administrator role and its scope with the account.
        c.admins.pop(userid, None)
        c.admin_scopes.pop(userid, None)
        user = c.users.pop(userid)
        now_ms = self.state.clock.now_ms()
        depts = user.dept_id_list or [ROOT_DEPT_ID]
        c.leavers[userid] = Leaver(
            userid=userid,
            name=user.name,
            state_code=user.state_code,
            mobile=user.mobile,
            leave_time=now_ms,
            leave_reason="leave",
            last_work_day=shanghai_midnight_ms(now_ms),
            dept_list=[LeaverDepartment(d, c.dept_path(d)) for d in depts if d in c.departments],
            main_dept_id=depts[0],
            main_dept_name=c.departments[depts[0]].name,
            reason_type=1,
            reason_memo="家庭原因",
            pre_status=3,
        )
        return self._user_fields(userid, "user_leave_org")

    def _m_rejoin(self, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        c = self._company()
        if "userid" in data:
            userid = str(data["userid"])
            if userid in c.users:
                raise MutationConflict(f"{userid} is employed: only someone who left can rejoin")
            if userid not in c.leavers:
                raise unknown("user", "userid", userid)
        else:
            pool = sorted(u for u in c.leavers if u not in c.users)
            if not pool:
                raise MutationConflict("no leaver to bring back")
            userid = self.rng.choice(pool)
        lv = c.leavers[userid]
        dept_id = lv.main_dept_id if lv.main_dept_id in c.departments else ROOT_DEPT_ID
        taken_mobiles = {u.mobile for u in c.users.values()}
        mobile = (
            lv.mobile if lv.mobile not in taken_mobiles else f"138{self.rng.randrange(10**8):08d}"
        )
        c.users[userid] = User(
            userid=userid,
            unionid=uuid.UUID(int=self.rng.getrandbits(128)).hex[:28],
            name=lv.name,
            avatar="",
            state_code=lv.state_code,
            mobile=mobile,
            hide_mobile=False,
            job_number=None,
            title="返聘",
            hired_date=self.state.clock.now_ms(),
            active=True,
            admin=False,
            boss=False,
            senior=False,
            real_authed=True,
            exclusive_account=False,
            memberships=[Membership(dept_id, self._next_order(dept_id), False)],
        )
        return self._user_fields(userid, "user_add_org")

    def _m_create_department(self, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        c = self._company()
        if "parent_id" in data:
            parent = self._dept("parent_id", data["parent_id"])
        else:
            parent = self.rng.choice(sorted(c.departments))
        dept_id = max(c.departments) + 1
        name = data.get("name") or f"新部门{dept_id}"
        siblings = [d for d in c.departments.values() if d.parent_id == parent]
        if any(d.name == name for d in siblings):
            raise MutationConflict(f"department {parent} already has a sub-department {name}")
        c.departments[dept_id] = Department(
            dept_id=dept_id,
            name=name,
            parent_id=parent,
            order=(max(d.order for d in siblings) + 1) if siblings else 1,
        )
        return {"deptId": [dept_id]}, "org_dept_create"

    def _m_admin_add(self, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """Make ``userid`` an administrator: ``sys_level`` 1 (main, scope ``[1]``) or 2 (sub,
        scope ``dept_ids``: top departments of what they manage). An administrator already is
        given the new level and scope."""
        c = self._company()
        level = int(data.get("sys_level") or 2)
        if "userid" in data:
            userid = str(data["userid"])
            if userid not in c.users:
                raise unknown("user", "userid", userid)
        else:
            pool = sorted(
                u.userid for u in c.users.values() if u.active and u.userid not in c.admins
            )
            if not pool:
                raise MutationConflict("nobody can become an administrator")
            userid = self.rng.choice(pool)
        if level == 1:
            scope = [ROOT_DEPT_ID]
        elif "dept_ids" in data:
            scope = sorted(set(data["dept_ids"]))
            for d in scope:
                self._dept("dept_ids", d)
        else:
            depts = self._non_root_depts()
            scope = sorted(self.rng.sample(depts, min(len(depts), self.rng.randint(1, 3))))
        other_mains = any(lv == 1 for u, lv in c.admins.items() if u != userid)
        if level == 2 and c.admins.get(userid) == 1 and not other_mains:
            raise MutationRefused("the last main administrator cannot become a sub-administrator")
        c.admins[userid] = level
        c.admin_scopes[userid] = scope
        c.users[userid].admin = True
        return {"userId": [userid]}, "org_admin_add"

    def _m_admin_remove(self, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """Take ``userid``'s administrator role (and scope) away; the last main administrator
        cannot be removed (:class:`MutationRefused`)."""
        c = self._company()
        if "userid" in data:
            userid = str(data["userid"])
            if userid not in c.users:
                raise unknown("user", "userid", userid)
            if userid not in c.admins:
                raise MutationConflict(f"{userid} is not an administrator")
        else:
            mains = [u for u, lv in c.admins.items() if lv == 1]
            pool = sorted(u for u, lv in c.admins.items() if lv == 2 or len(mains) > 1)
            if not pool:
                raise MutationConflict("no administrator can be removed")
            userid = self.rng.choice(pool)
        if c.admins[userid] == 1 and not any(lv == 1 for u, lv in c.admins.items() if u != userid):
            raise MutationRefused("the last main administrator cannot be removed")
        del c.admins[userid]
        c.admin_scopes.pop(userid, None)
        c.users[userid].admin = False
        return {"userId": [userid]}, "org_admin_remove"

    # -- approvals (heard from the approvals area) ------------------------------------------------
    def _on_approval(self, event_type: str, inst: Any, change: Any) -> dict[str, Any] | None:
        """An approvals change (:class:`~dingsync.sandbox.approvals.ApprovalChange`) → one
        event of events.md §2.3; answers the emitted event (``None`` when not announced).

        Both kinds carry ``processInstanceId``, ``processCode``, ``title``, ``url``,
        ``businessId``, ``bizCategoryId`` (``""``), ``createTime``, ``type`` and ``staffId``.
        ``bpms_instance_change``: ``staffId`` the originator, ``type`` ``start``, ``finish``
        (with ``result`` and ``finishTime``) or ``terminate`` (``finishTime``, no ``result``).
        ``bpms_task_change``: ``staffId`` the approver, ``taskId`` (Number), ``createTime`` the
        task's; ``finish`` adds ``result``, ``finishTime`` and the approver's ``remark`` if any.
        A deleted instance is announced only when the ``events_bpms_delete`` knob is on, as
        ``type`` ``delete`` (unconfirmed in DingTalk's docs, EB-78)."""
        kind = str(getattr(change, "type", "") or "")
        if kind == "delete" and not self.knob("events_bpms_delete"):
            self.counters["approval_deletes_unannounced"] += 1
            return None
        now = self.state.clock.now_ms()
        pid = inst.process_instance_id
        fields: dict[str, Any] = {
            "processInstanceId": pid,
            "processCode": inst.process_code,
            "title": inst.title,
            "url": f"https://aflow.dingtalk.com/dingtalk/mobile/homepage.htm?procInsId={pid}",
            "businessId": inst.business_id,
            "bizCategoryId": "",
            "createTime": inst.create_ms,
            "type": kind,
            "staffId": inst.originator_userid,
        }
        task = getattr(change, "task", None)
        if event_type == "bpms_task_change" and task is not None:
            fields["url"] += f"&taskId={task['taskid']}"
            fields["createTime"] = task.get("create_time") or inst.create_ms
            fields["staffId"] = task["userid"]
            fields["taskId"] = int(task["taskid"])
            if kind == "finish":
                fields["result"] = change.result or ""
                fields["finishTime"] = task.get("finish_time") or now
                if change.remark:
                    fields["remark"] = change.remark
        elif kind == "finish":
            fields["result"] = change.result or inst.result or ""
            fields["finishTime"] = inst.finish_ms or now
        elif kind == "terminate":
            fields["finishTime"] = inst.finish_ms or now
        self.counters["approval_events"] += 1
        return _event_answer(self.emit(event_type, fields))

    def _on_attendance(self, event_type: str, item: dict[str, Any]) -> dict[str, Any]:
        """A punch of the attendance area → one event with a one-item ``dataList`` (legacy
        ``DataList``); answers the mutation's JSON."""
        data = {"corpId": self.state.app.corp_id, **item}
        self.counters["attendance_events"] += 1
        return _event_answer(self.emit(event_type, {"dataList": [data]}))


def _event_answer(ev: SandboxEvent) -> dict[str, Any]:
    """The JSON a mutation answers: the emitted event's id, type, born time and fields."""
    return {
        "event_id": ev.event_id,
        "event_type": ev.event_type,
        "born_ms": ev.born_ms,
        **ev.fields,
    }


#: Event types ``call_back_tag`` may name (events.md §2), and prefixes of the groups listed by
#: name only (§2.4 ``leave_*``, §2.7); anything else is ``71008``.
KNOWN_EVENT_TYPES = frozenset(
    {
        "user_add_org", "user_modify_org", "user_leave_org", "user_active_org",
        "org_admin_add", "org_admin_remove", "org_dept_create", "org_dept_modify",
        "org_dept_remove", "label_user_change", "label_conf_add", "label_conf_del",
        "label_conf_modify", "org_change", "org_remove", "bpms_instance_change",
        "bpms_task_change", "attendance_check_record", "attendance_schedule_change",
        "attendance_overtime_duration", "attend_group_change", "attend_shift_change",
        "attend_bossCheck_change", "attendance_approve_status_change",
        "attend_user_daily_summary_refresh", "watermark_check_in",
        "attendance_report_column_change", "check_in", "chat_add_member",
        "chat_remove_member", "chat_quit", "chat_update_owner", "chat_update_title",
        "chat_disband", "meetingroom_book", "meetingroom_room_info", "calendar_event_change",
        "todo_task_create", "todo_task_update", "todo_task_delete", "robot_msg_recall",
        "robot_msg_read", "market_service_open", "market_service_close",
    }
)  # fmt: skip
KNOWN_EVENT_PREFIXES = ("leave_", "storage_dentry_", "live_", "edu_", "market_order", "inner_app_")

#: ``check_url`` outcome → (errcode, errmsg) of ``register_call_back``/``update_call_back``.
CHECK_URL_ERRORS: dict[str, tuple[int, str]] = {
    "unreachable": (400051, "url访问异常"),
    "timeout": (400054, "url访问超时"),
    "bad_reply": (400052, "url返回数据错误"),
    "not_success": (71009, "返回文本非success"),
}


def _known_event_type(tag: str) -> bool:
    return tag in KNOWN_EVENT_TYPES or tag.startswith(KNOWN_EVENT_PREFIXES)


def _check_url_blocking(reg: Registration, timeout: float) -> str:
    """``check_url`` for the (synchronous) ``register_call_back`` handler: a blocking POST with a
    short timeout (the receiver runs in another thread or process). Returns ``"ok"`` or a key of
    :data:`CHECK_URL_ERRORS`."""
    crypto = reg.crypto()
    ts = str(int(time.time() * 1000))
    nonce = random_alnum(8)
    enc = crypto.encrypt(json.dumps({"EventType": "check_url"}))
    sig = crypto.sign(ts, nonce, enc)
    try:
        resp = httpx.post(
            reg.url,
            params={"signature": sig, "msg_signature": sig, "timestamp": ts, "nonce": nonce},
            json={"encrypt": enc},
            timeout=timeout,
        )
    except httpx.TimeoutException:
        return "timeout"
    except httpx.HTTPError:
        return "unreachable"
    try:
        if resp.status_code != 200:
            return "bad_reply"
        reply = resp.json()
        r_ts = str(reply.get("timeStamp") or reply.get("timestamp"))  # either key, EB-72
        if reply["msg_signature"] != sign(reg.token, r_ts, str(reply["nonce"]), reply["encrypt"]):
            return "bad_reply"
        plain = crypto.decrypt(reply["encrypt"])
    except (ValueError, KeyError, TypeError, AttributeError, CallbackCryptoError):
        return "bad_reply"
    return "ok" if plain == "success" else "not_success"


__all__ = ["EventsArea", "Registration", "SandboxEvent"]
