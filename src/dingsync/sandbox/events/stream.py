"""Stream mode: frames sent over the WebSocket connections, acknowledgements, pings,
disconnects and dead (blackholed) connections.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from dingsync.sandbox.events.channels import StreamConn, Unacked
from dingsync.sandbox.events.event import SandboxEvent
from dingsync.sandbox.events.state import EventsState


class StreamPush(EventsState):
    """Stream frames over WebSocket connections."""

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

    async def disconnect_all(self) -> int:
        """SYSTEM ``disconnect`` to every live connection, closing each after the knob's delay.
        Unless ``events_stream_close_handshake`` is set, the socket is no longer read once the
        frame is sent, so a client's close handshake goes unanswered until then (as DingTalk
        may leave it)."""
        n = 0
        close_after = float(self.knob("events_stream_close_after_s"))
        handshake = bool(self.knob("events_stream_close_handshake"))
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
            if not handshake:
                conn.pause_reading()
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
        """Make every open connection silently dead (socket left open): nothing is sent, and
        the socket is no longer read, so WebSocket pings go unanswered like a dead peer's."""
        n = 0
        for conn in list(self.conns.values()):
            conn.dead = True
            self.conns.pop(conn.conn_id, None)
            stop_reading(conn)
            n += 1
        self.counters["stream_blackholed"] += n
        return n


def stop_reading(conn: StreamConn) -> None:
    """Stop reading the connection's socket (:meth:`StreamConn.pause_reading`): no frame, ping
    or close is answered any more, as from a dead peer."""
    conn.pause_reading()
