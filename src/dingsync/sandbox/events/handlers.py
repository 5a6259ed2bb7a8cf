"""DingTalk routes of events: ``/call_back/*_call_back``, ``get_call_back_failed_result``,
``/v1.0/gateway/connections/open`` and the Stream WebSocket endpoint.
"""

from __future__ import annotations

import uuid
from collections import deque
from typing import Any
from urllib.parse import urlsplit

from fastapi import WebSocket, WebSocketDisconnect

from dingsync.sandbox.call import Call
from dingsync.sandbox.events.bodies import json_object_or_empty
from dingsync.sandbox.events.channels import (
    CHECK_URL_ERRORS,
    Registration,
    StreamConn,
    check_url_blocking,
)
from dingsync.sandbox.events.dispatch import Dispatcher
from dingsync.sandbox.events.event import known_event_type
from dingsync.sandbox.events.stream import stop_reading
from dingsync.sandbox.wire import ApiError, OapiError


class EventHandlers(Dispatcher):
    """Callback registration and Stream connections."""

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
            if not known_event_type(tag):
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
        outcome = check_url_blocking(reg, float(self.knob("events_http_timeout_ms")) / 1000)
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
        body = json_object_or_empty(call.json_body)
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
                    stop_reading(conn)  # receiving may have resumed the reads: pause again
                    continue  # a silently dead connection hears nothing
                self._on_ack(conn, text)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self._drop_conn(conn.conn_id)
