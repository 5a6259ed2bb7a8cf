"""DingTalk HTTP-push receiver: ``POST /callbacks/dingtalk`` (events.md §1.4–§1.6).

DingTalk sends ``POST <url>?signature=S&msg_signature=S&timestamp=<ms>&nonce=<8 chars>`` with
``{"encrypt": "<base64>"}``. This router:

1. takes the signature from ``msg_signature`` or ``signature`` and the timestamp from
   ``timestamp`` or ``timeStamp`` (EB-70, EB-71);
2. verifies the SHA-1 signature (constant time) *before* decrypting, then decrypts and checks the
   receiver id — anything forged or malformed gets a 4xx ``{"errcode": 9000xx, "errmsg": …}``
   and nothing is stored or processed;
3. answers URL-verification events (``check_url``, ``check_*_suite_url``) with ``success``;
4. writes every other event to the inbox (unique on its id) and commits, *then* answers the
   encrypted ``success`` reply ``{msg_signature, timeStamp, nonce, encrypt}`` echoing the
   request's timestamp and nonce (EB-73); processing runs after the reply (EB-74). A duplicate
   delivery is acknowledged and not processed again. If the inbox cannot be written the answer
   is 500, so DingTalk retries.

Wiring: the app sets ``app.state.dingsync_events`` to an :class:`EventsReceiver`; without one the
router builds it on first use from :class:`~dingsync.sync.events.EventsSettings` (environment /
``dingsync.toml``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from dingsync.corps import (
    CorpError,
    CorpInactive,
    build_corp_client,
    configured_apps,
    resolve,
)
from dingsync.dingtalk.crypto import CallbackCrypto, CallbackCryptoError
from dingsync.dingtalk.models.events import CHECK_EVENTS, event_from_http
from dingsync.store import repo_corps
from dingsync.sync.events import EventProcessor, EventsSettings
from dingsync.web.errors import responses
from dingsync.web.models import CallbackError, CallbackReply

log = logging.getLogger(__name__)

router = APIRouter()

PATH = "/callbacks/dingtalk"


@dataclass
class EventsReceiver:
    """What the router needs: the subscription's ``crypto`` and the ``processor`` that stores
    (and, if it has a client, processes) events."""

    crypto: CallbackCrypto
    processor: EventProcessor


_build_lock = asyncio.Lock()


async def _receiver(request: Request) -> EventsReceiver:
    state = request.app.state
    receiver: EventsReceiver | None = getattr(state, "dingsync_events", None)
    if receiver is not None:
        return receiver
    async with _build_lock:
        receiver = getattr(state, "dingsync_events", None)
        if receiver is None:
            receiver = await asyncio.to_thread(receiver_from_settings, _settings())
            state.dingsync_events = receiver
            # Events a stopped service left processing go back to the queue (their lease ended).
            await receiver.processor.requeue_expired()
    return receiver


def _settings() -> EventsSettings:
    """The receiver's settings: :class:`~dingsync.sync.isv.IsvSettings` (the app's, plus a
    third-party suite when ``DINGTALK_SUITE_KEY`` is set)."""
    from dingsync.sync.isv import IsvSettings

    return IsvSettings()


def receiver_from_settings(settings: EventsSettings) -> EventsReceiver:
    """An :class:`EventsReceiver` for the configured app: the database migrated, a client when
    the app credentials are set (else events are stored and left pending) — or, when a
    third-party suite is configured (``IsvSettings.has_suite``), the suite's receiver
    (``dingsync.sync.isv.isv_receiver``: suite key as receiver id, tickets and auth events
    handled). Raises ``ValueError`` when the callback token/key are not configured."""
    from dingsync.sync.isv import IsvSettings, isv_receiver
    from dingsync.sync.runner import build_client, open_database

    if isinstance(settings, IsvSettings) and settings.has_suite:
        crypto, isv_processor = isv_receiver(settings, open_database(settings))
        return EventsReceiver(crypto, isv_processor)
    crypto = settings.callback_crypto()
    engine = open_database(settings)
    client = build_client(settings, engine) if settings.has_credentials else None
    corp_id = settings.corp_id or settings.app_key or "default"
    return EventsReceiver(crypto, EventProcessor(client, engine, corp_id, tz=settings.tz))


def _reject(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"errcode": code, "errmsg": message}, status_code=status)


class RejectionLog:
    """Rate-limited log of refused callbacks: at most one WARNING per ``cause`` every
    ``interval`` seconds, counting the ones held back. Causes and messages never contain the
    token, the key, a signature or the ciphertext."""

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def __call__(self, cause: str, client: str | None) -> bool:
        """Log one refusal (``client``: the peer's address); ``False`` when it was held back."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(cause)
            if last is not None and now - last < self.interval:
                self._held[cause] = self._held.get(cause, 0) + 1
                return False
            self._last[cause] = now
            held = self._held.pop(cause, 0)
        more = f" ({held} more like it since the last line)" if held else ""
        log.warning("callback rejected from %s: %s%s", client or "?", cause, more)
        return True


#: The router's rejection log (one per process).
rejections = RejectionLog()


def _refuse(request: Request, status: int, code: int, message: str, cause: str) -> JSONResponse:
    rejections(cause, request.client.host if request.client else None)
    return _reject(status, code, message)


#: What malformed input can raise besides ``ValueError`` (a non-ASCII value, a deeply nested
#: body): always a 4xx, never a 500 that drops the keep-alive connection.
_MALFORMED = (ValueError, TypeError, RecursionError, UnicodeError)


_CALLBACK_ERROR = {
    "description": "refused, in DingTalk's envelope",
    "content": {"application/json": {"schema": CallbackError.model_json_schema()}},
}


@router.post(
    PATH,
    response_model=CallbackReply,
    responses={
        400: _CALLBACK_ERROR,
        403: _CALLBACK_ERROR,
        404: _CALLBACK_ERROR,
        500: _CALLBACK_ERROR,
    },
)
async def dingtalk_callback(request: Request) -> JSONResponse:
    """Receive one encrypted DingTalk event (see the module docstring for the contract)."""
    try:
        receiver = await _receiver(request)
    except ValueError as exc:
        # No subscription here (e.g. events arrive over Stream mode): nothing to receive or
        # verify, so 404 — never a 5xx, which DingTalk (or a prober) would retry.
        log.warning("callback received, but no callback receiver is configured: %s", exc)
        return _reject(404, 900000, "no callback subscription is configured here")
    return await _receive(request, receiver)


@router.post(
    PATH + "/{corp_id}",
    response_model=CallbackReply,
    responses={
        **responses("request.invalid"),
        400: _CALLBACK_ERROR,
        403: _CALLBACK_ERROR,
        404: _CALLBACK_ERROR,
        500: _CALLBACK_ERROR,
    },
)
async def corp_callback(request: Request, corp_id: str) -> JSONResponse:
    """Receive one encrypted event of the internal app of company ``corp_id`` (an ``[[apps]]``
    entry with ``callback_token`` and ``callback_aes_key``); into the inbox of that company,
    as ``POST /callbacks/dingtalk``. An unknown company is 404, one relieved or stopped 403,
    one without a subscription configured 404."""
    try:
        receiver = await _corp_receiver(request, corp_id)
    except CorpError as exc:
        status = 403 if exc.code == "corp.inactive" else 404
        return _refuse(request, status, 900000, exc.public, f"{exc.code}: {corp_id}")
    except ValueError as exc:
        log.warning("callback for corp %s, but no callback receiver configured: %s", corp_id, exc)
        return _reject(404, 900000, "no callback subscription is configured here")
    return await _receive(request, receiver)


async def _corp_receiver(request: Request, corp_id: str) -> EventsReceiver:
    """The company's receiver, built once per process; its status is checked each time."""
    ctx = request.app.state.web
    with ctx.engine.connect() as conn:
        row = repo_corps.get_corp(conn, corp_id)
    if row is not None and row["status"] != "active":
        raise CorpInactive(corp_id, row["status"])
    state = request.app.state
    receivers: dict[str, EventsReceiver] | None = getattr(state, "dingsync_corp_events", None)
    if receivers is None:
        receivers = state.dingsync_corp_events = {}
    receiver = receivers.get(corp_id)
    if receiver is not None:
        return receiver
    async with _build_lock:
        receiver = receivers.get(corp_id)
        if receiver is None:
            receiver = receiver_for_corp(ctx.settings, ctx.engine, corp_id)
            receivers[corp_id] = receiver
            await receiver.processor.requeue_expired()
    return receiver


def receiver_for_corp(settings: Any, engine: Any, corp_id: str) -> EventsReceiver:
    """The :class:`EventsReceiver` of company ``corp_id``'s internal app: the ``[[apps]]``
    entry's subscription, the company's client and zone, its inbox (``corp_id``). Raises
    :class:`~dingsync.corps.CorpError` for a company not served (or not active), ``ValueError``
    when its entry has no ``callback_token``/``callback_aes_key``."""
    corp = resolve(engine, settings, corp_id)
    app = configured_apps(settings).get(corp_id)
    if app is None or app.callback_token is None or app.callback_aes_key is None:
        raise ValueError(f"[[apps]] of corp {corp_id}: set callback_token and callback_aes_key")
    crypto = CallbackCrypto(
        app.callback_token.get_secret_value(),
        app.callback_aes_key.get_secret_value(),
        app.callback_receiver_id or app.app_key,
    )
    client = build_corp_client(corp, engine)
    return EventsReceiver(crypto, EventProcessor(client, engine, corp_id, tz=corp.settings.tz))


async def _receive(request: Request, receiver: EventsReceiver) -> JSONResponse:
    """Verify, store and acknowledge one pushed event for ``receiver`` (module docstring)."""
    q = request.query_params
    signature = q.get("msg_signature") or q.get("signature")
    timestamp = q.get("timestamp") or q.get("timeStamp")
    nonce = q.get("nonce")
    if not signature or not timestamp or not nonce:
        message = "signature, timestamp and nonce are required"
        return _refuse(request, 400, 900002, message, f"malformed request: {message}")
    try:
        body: Any = json.loads(await request.body())
    except _MALFORMED:
        return _refuse(request, 400, 900001, "body is not JSON", "malformed body: not JSON")
    encrypt = body.get("encrypt") if isinstance(body, dict) else None
    if not isinstance(encrypt, str) or not encrypt:
        return _refuse(request, 400, 900001, "body has no encrypt", "malformed body: no encrypt")
    crypto = receiver.crypto
    try:
        payload = crypto.decrypt_event(signature, timestamp, nonce, encrypt)
        event = event_from_http(payload)
    except CallbackCryptoError as exc:
        status = 403 if exc.code == 900005 else 400
        return _refuse(request, status, exc.code, exc.message, exc.likely_cause)
    except _MALFORMED as exc:
        message = str(exc) if isinstance(exc, ValueError) else "malformed event"
        return _refuse(request, 400, 900001, message, f"malformed event: {message}")
    if event.event_type not in CHECK_EVENTS:
        processor = receiver.processor
        try:
            row_id = await processor.store(event, "http")
        except Exception as exc:  # not stored → not acknowledged: DingTalk retries
            log.error("inbox write failed for %s: %s", event.event_type, type(exc).__name__)
            return _reject(500, 900000, "event could not be stored")
        if row_id is not None:
            processor.schedule(row_id)
    return JSONResponse(crypto.success_reply(timestamp, nonce))


class DemoEvents:
    """Events for ``dingsync demo``: the sandbox pushes its mutations to this web app, through
    an HTTP callback subscription (``channel="http"``) or a Stream mode consumer running in a
    background thread (``channel="stream"``). Made by :func:`attach_demo`; ``stop()`` ends it.
    """

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.stop_event = threading.Event()

    def stop(self) -> None:
        """Stop the background thread (subscription helper or Stream consumer)."""
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(5)


def attach_demo(
    app: Any,
    settings: Any,
    engine: Any,
    sandbox_url: str,
    web_url: str,
    channel: str = "http",
) -> DemoEvents:
    """Wire the demo's web ``app`` to the sandbox at ``sandbox_url`` so that a mutation
    (``POST {sandbox_url}/sandbox/mutate/contacts/hire``) reaches the database within a second.

    ``http``: a fresh token and EncodingAESKey; ``app.state.dingsync_events`` receives with them;
    once ``{web_url}/healthz`` answers, the sandbox is subscribed (console style, AppKey receiver
    id) to ``{web_url}/callbacks/dingtalk``. ``stream``: a :class:`StreamConsumer` in a
    background thread with its own client. ``settings`` carries the sandbox app's credentials.
    """
    import httpx

    from dingsync.dingtalk.crypto import random_alnum
    from dingsync.sync.runner import build_client

    demo = DemoEvents()
    corp_id = settings.corp_id or settings.app_key
    if channel == "stream":
        from dingsync.sync.events_stream import StreamConsumer

        def consume() -> None:
            async def main() -> None:
                stop = asyncio.Event()
                async with build_client(settings, engine) as client:
                    processor = EventProcessor(client, engine, corp_id, tz=settings.tz)
                    consumer = StreamConsumer(
                        processor,
                        settings.api_url,
                        settings.app_key,
                        settings.app_secret.get_secret_value(),
                    )
                    task = asyncio.create_task(consumer.run(stop))
                    await asyncio.to_thread(demo.stop_event.wait)
                    stop.set()
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

            asyncio.run(main())

        demo.thread = threading.Thread(target=consume, name="dingsync-demo-stream", daemon=True)
        demo.thread.start()
        return demo

    token, aes_key = random_alnum(32), random_alnum(43)
    crypto = CallbackCrypto(token, aes_key, settings.app_key)
    app.state.dingsync_events = EventsReceiver(
        crypto, EventProcessor(build_client(settings, engine), engine, corp_id, tz=settings.tz)
    )

    def subscribe() -> None:
        for _ in range(300):
            if demo.stop_event.is_set():
                return
            try:
                httpx.get(f"{web_url}/healthz", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        resp = httpx.post(
            f"{sandbox_url}/sandbox/events/callback",
            json={"url": f"{web_url}{PATH}", "token": token, "aes_key": aes_key},
            timeout=10,
        )
        if resp.status_code != 200:
            log.error("demo: the sandbox did not accept the callback URL: %s", resp.text)

    demo.thread = threading.Thread(target=subscribe, name="dingsync-demo-callback", daemon=True)
    demo.thread.start()
    return demo


__all__ = [
    "PATH",
    "DemoEvents",
    "EventsReceiver",
    "attach_demo",
    "receiver_from_settings",
    "router",
]
