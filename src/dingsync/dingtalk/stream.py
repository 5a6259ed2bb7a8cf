"""DingTalk Stream mode (Stream 模式), the wire side: open a connection, parse frames, build ACKs.

Protocol (events.md §3):

1. ``POST {api}/v1.0/gateway/connections/open`` with ``{clientId, clientSecret, subscriptions,
   ua, localIp}`` (no token) → ``{endpoint, ticket}``; the ticket is single-use and valid 90 s.
2. WebSocket to ``{endpoint}?ticket={quoted ticket}``.
3. Server → client JSON text frames ``{specVersion, type: EVENT|CALLBACK|SYSTEM, headers{topic,
   messageId, contentType, time (String ms), eventType, eventId, eventCorpId, eventBornTime},
   data (JSON *text*)}``.
4. Client → server ACK ``{code, headers{contentType, messageId}, message, data (JSON text)}``:
   EVENT success ``200`` + ``{"status":"SUCCESS"}``, failure ``500`` + ``{"status":"LATER"}``
   (EB-82); SYSTEM ping echoes its ``data``; CALLBACK answers ``{"response": …}``.

The loop that uses these pieces (reconnect, backoff, watchdog, inbox) is
``dingsync.sync.events_stream.StreamConsumer``.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

import httpx

from dingsync.dingtalk.errors import CredentialsError, DingTalkError

OPEN_PATH = "/v1.0/gateway/connections/open"
UA = "dingsync-stream-python/0.1"
#: Subscriptions dingsync asks for: every event (the console chooses which) and SYSTEM frames.
DEFAULT_SUBSCRIPTIONS: tuple[dict[str, str], ...] = ({"type": "EVENT", "topic": "*"},)

EVENT = "EVENT"
CALLBACK = "CALLBACK"
SYSTEM = "SYSTEM"
TOPIC_PING = "ping"
TOPIC_DISCONNECT = "disconnect"


@dataclass(frozen=True)
class StreamConnection:
    """The answer of ``connections/open``: WebSocket ``endpoint`` and single-use ``ticket``."""

    endpoint: str
    ticket: str

    @property
    def url(self) -> str:
        """``{endpoint}?ticket={quoted ticket}`` — what to open the WebSocket on."""
        sep = "&" if "?" in self.endpoint else "?"
        return f"{self.endpoint}{sep}ticket={quote_plus(self.ticket)}"

    def __repr__(self) -> str:  # the ticket is a credential
        return f"StreamConnection(endpoint={self.endpoint!r})"


def _local_ip() -> str:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))  # no packet is sent
            return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"


async def open_connection(
    http: httpx.AsyncClient,
    api_url: str,
    client_id: str,
    client_secret: str,
    *,
    subscriptions: tuple[dict[str, str], ...] | list[dict[str, str]] = DEFAULT_SUBSCRIPTIONS,
    ua: str = UA,
) -> StreamConnection:
    """``POST {api_url}/v1.0/gateway/connections/open`` → :class:`StreamConnection`.

    Raises :class:`~dingsync.dingtalk.errors.CredentialsError` on HTTP 400/401/403 (bad
    AppKey/AppSecret, EB-86) and :class:`~dingsync.dingtalk.errors.DingTalkError` for any other
    failure (status and body text, never the secret) or an empty endpoint/ticket.
    """
    body = {
        "clientId": client_id,
        "clientSecret": client_secret,
        "subscriptions": list(subscriptions),
        "ua": ua,
        "localIp": _local_ip(),
    }
    try:
        resp = await http.post(
            api_url.rstrip("/") + OPEN_PATH,
            json=body,
            headers={"Accept": "application/json"},
        )
    except httpx.HTTPError as exc:
        raise DingTalkError("network", f"{type(exc).__name__}: {exc}", api=OPEN_PATH) from None
    text = resp.text.replace(client_secret, "***") if client_secret else resp.text
    if resp.status_code in (400, 401, 403):
        raise CredentialsError(str(resp.status_code), text[:500], api=OPEN_PATH)
    if resp.status_code != 200:
        raise DingTalkError(str(resp.status_code), text[:500], api=OPEN_PATH)
    try:
        data = resp.json()
    except ValueError:
        raise DingTalkError("invalid_json", text[:500], api=OPEN_PATH) from None
    endpoint = data.get("endpoint") if isinstance(data, dict) else None
    ticket = data.get("ticket") if isinstance(data, dict) else None
    if not endpoint or not ticket:
        raise DingTalkError("empty", "connections/open gave no endpoint or ticket", api=OPEN_PATH)
    return StreamConnection(str(endpoint), str(ticket))


@dataclass
class Frame:
    """One server frame: ``type`` (EVENT/CALLBACK/SYSTEM), ``headers``, ``data`` (the JSON text
    as sent) and ``raw`` (the whole decoded frame)."""

    type: str
    headers: dict[str, Any]
    data: str
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def message_id(self) -> str:
        """``headers.messageId`` (echoed in the ACK)."""
        return str(self.headers.get("messageId") or "")

    @property
    def topic(self) -> str:
        """``headers.topic`` — never route EVENT frames on it (EB-85)."""
        return str(self.headers.get("topic") or "")

    def data_json(self) -> Any:
        """``data`` parsed (``{}`` when empty); raises ``ValueError`` if it is not JSON."""
        return json.loads(self.data) if self.data and self.data.strip() else {}


def parse_frame(text: str | bytes) -> Frame:
    """Decode a server frame; raises ``ValueError`` for anything that is not a JSON object with a
    ``type`` and ``headers``."""
    obj = json.loads(text)
    if not isinstance(obj, dict) or "type" not in obj:
        raise ValueError("not a Stream frame")
    headers = obj.get("headers") or {}
    if not isinstance(headers, dict):
        raise ValueError("frame headers are not an object")
    data = obj.get("data")
    if data is None:
        data_text = ""
    elif isinstance(data, str):
        data_text = data
    else:
        data_text = json.dumps(data, ensure_ascii=False)
    return Frame(str(obj["type"]), headers, data_text, obj)


def _ack(message_id: str, code: int, message: str, data: Any) -> str:
    return json.dumps(
        {
            "code": code,
            "headers": {"contentType": "application/json", "messageId": message_id},
            "message": message,
            "data": data if isinstance(data, str) else json.dumps(data, ensure_ascii=False),
        },
        ensure_ascii=False,
    )


def event_ack(message_id: str, success: bool = True, message: str = "") -> str:
    """ACK of an EVENT frame: ``200`` + ``SUCCESS``, or ``500`` + ``LATER`` to get it again."""
    if success:
        return _ack(message_id, 200, "OK", {"status": "SUCCESS", "message": message or "success"})
    return _ack(message_id, 500, "LATER", {"status": "LATER", "message": message or "later"})


def system_ack(frame: Frame) -> str:
    """ACK of a SYSTEM frame: ``200`` echoing its ``data`` (ping's ``opaque``)."""
    return _ack(frame.message_id, 200, "OK", frame.data or "{}")


def callback_ack(message_id: str, response: Any = None) -> str:
    """ACK of a CALLBACK frame: ``{"response": response}``."""
    return _ack(message_id, 200, "OK", {"response": response})


__all__ = [
    "CALLBACK",
    "DEFAULT_SUBSCRIPTIONS",
    "EVENT",
    "OPEN_PATH",
    "SYSTEM",
    "TOPIC_DISCONNECT",
    "TOPIC_PING",
    "Frame",
    "StreamConnection",
    "callback_ack",
    "event_ack",
    "open_connection",
    "parse_frame",
    "system_ack",
]
