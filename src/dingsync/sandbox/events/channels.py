"""The two ways events leave the sandbox: an HTTP callback registration and its deliveries, a
Stream connection and its unacknowledged frames; and the blocking ``check_url`` probe.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import httpx
from fastapi import WebSocket

from dingsync.dingtalk.crypto import CallbackCrypto, CallbackCryptoError, random_alnum, sign
from dingsync.sandbox.events.event import SandboxEvent


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

    def pause_reading(self) -> None:
        """Stop reading the socket: uvicorn's WebSocket protocol (reached through the ASGI
        ``receive`` it handed the endpoint) answers a close or a ping only for bytes it reads.
        Without a transport to pause (another server) the connection merely stays silent."""
        protocol = getattr(getattr(self.ws, "_receive", None), "__self__", None)
        pause = getattr(getattr(protocol, "transport", None), "pause_reading", None)
        if callable(pause):
            pause()


@dataclass
class Unacked:
    """A frame sent and not yet acknowledged."""

    message_id: str
    event: SandboxEvent
    conn_id: str
    sent_at: float  # sandbox clock
    redeliveries: int = 0
    retry_at: float | None = None


#: ``check_url`` outcome → (errcode, errmsg) of ``register_call_back``/``update_call_back``.
CHECK_URL_ERRORS: dict[str, tuple[int, str]] = {
    "unreachable": (400051, "url访问异常"),
    "timeout": (400054, "url访问超时"),
    "bad_reply": (400052, "url返回数据错误"),
    "not_success": (71009, "返回文本非success"),
}


def check_url_blocking(reg: Registration, timeout: float) -> str:
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
