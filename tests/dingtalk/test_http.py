"""The aiohttp seam behind ``DingTalkClient._send`` (dingtalk/_http.py), over real loopback
sockets: a small asyncio server that answers the way a test needs (keep-alive, chunked, gzip,
closing idle connections, closing without answering, never answering)."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import socket
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from dingsync.dingtalk import _http
from dingsync.dingtalk._base import _ssl_context

Answer = Callable[[bytes], bytes]


class Server:
    """Answers each request on a connection with ``answer(request head)``; counts
    connections and requests; ``close_after``: close a connection after that many answers."""

    def __init__(
        self, answer: Answer, *, close_after: int | None = None, drop_nth: int | None = None
    ) -> None:
        self.answer = answer
        self.close_after = close_after
        #: Close the connection without answering the request with this index (0-based).
        self.drop_nth = drop_nth
        self.connections = 0
        self.requests: list[bytes] = []
        self._server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                self.requests.append(head + body)
                if self.drop_nth is not None and len(self.requests) - 1 == self.drop_nth:
                    break
                reply = self.answer(head)
                if reply:
                    writer.write(reply)
                    await writer.drain()
                else:
                    await asyncio.sleep(3600)  # never answer
                served += 1
                if self.close_after is not None and served >= self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()


def _json(body: object, *, extra: bytes = b"") -> bytes:
    data = json.dumps(body).encode()
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + extra
        + b"Content-Length: "
        + str(len(data)).encode()
        + b"\r\n\r\n"
        + data
    )


@pytest.fixture
async def lean() -> AsyncIterator[_http.AioHTTP]:
    client = _http.AioHTTP(timeout=2.0, ssl_context=_ssl_context, user_agent="test")
    yield client
    await client.aclose()


async def test_keep_alive_reuses_one_connection(lean: _http.AioHTTP) -> None:
    server = Server(lambda head: _json({"errcode": 0, "n": 1}, extra=b"X-Acs-Request-Id: r1\r\n"))
    async with server as base:
        for i in range(5):
            status, body, headers = await lean.request(
                "POST", base, "/topapi/x", {"access_token": "t", "i": i}, {}, b"{}"
            )
            assert status == 200 and json.loads(body) == {"errcode": 0, "n": 1}
            assert headers.get("x-acs-request-id") == "r1"
    assert server.connections == 1 and len(server.requests) == 5
    first = server.requests[0]
    assert first.startswith(b"POST /topapi/x?access_token=t&i=0 HTTP/1.1\r\n")
    assert b"\r\nContent-Length: 2\r\n" in first and first.endswith(b"{}")


async def test_connection_closed_while_idle_is_replaced(lean: _http.AioHTTP) -> None:
    server = Server(lambda head: _json({"ok": True}), close_after=1)
    async with server as base:
        for _ in range(3):
            await asyncio.sleep(0.05)  # let the server's close arrive
            status, body, _ = await lean.request("GET", base, "/a", {}, {}, None)
            assert status == 200 and json.loads(body) == {"ok": True}
    assert server.connections == 3


async def test_chunked_and_gzip_answers(lean: _http.AioHTTP) -> None:
    packed = gzip.compress(json.dumps({"list": list(range(1000))}).encode())
    chunks = b"".join(
        f"{len(packed[i : i + 700]):x}\r\n".encode() + packed[i : i + 700] + b"\r\n"
        for i in range(0, len(packed), 700)
    )
    reply = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
        + chunks
        + b"0\r\n\r\n"
    )
    async with Server(lambda head: reply) as base:
        status, body, headers = await lean.request("GET", base, "/big", {}, {}, None)
    assert status == 200 and json.loads(body) == {"list": list(range(1000))}
    assert headers["content-encoding"] == "gzip"


async def test_body_until_close(lean: _http.AioHTTP) -> None:
    reply = b'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n{"code":"busy"}'
    async with Server(lambda head: reply, close_after=1) as base:
        status, body, _ = await lean.request("GET", base, "/x", {}, {}, None)
    assert status == 503 and json.loads(body) == {"code": "busy"}


async def test_network_errors_are_httpx_transport_errors(lean: _http.AioHTTP) -> None:
    server = Server(lambda head: b"")
    async with server as base:
        port = int(base.rsplit(":", 1)[1])
        with pytest.raises(httpx.ReadTimeout):
            await lean.request("GET", base, "/slow", {}, {}, None)
    with pytest.raises(httpx.ConnectError):
        await lean.request("GET", f"http://127.0.0.1:{port}", "/gone", {}, {}, None)
    with pytest.raises(httpx.UnsupportedProtocol):
        await lean.request("GET", "ftp://127.0.0.1", "/x", {}, {}, None)
    garbage = Server(lambda head: b"NOT HTTP AT ALL\r\n\r\n")
    async with garbage as base:
        with pytest.raises(httpx.RemoteProtocolError):
            await lean.request("GET", base, "/x", {}, {}, None)


async def test_connection_closed_as_a_request_goes_out(lean: _http.AioHTTP) -> None:
    """The server closed a pooled connection on receiving the next request (its idle close
    raced the request): aiohttp resends an idempotent GET once on a new connection itself; a
    POST surfaces as ``RemoteProtocolError``, which DingTalkClient retries as a network error."""
    server = Server(lambda head: _json({"ok": True}), drop_nth=1)
    async with server as base:
        await lean.request("GET", base, "/a", {}, {}, None)
        status, body, _ = await lean.request("GET", base, "/a", {}, {}, None)
        assert status == 200 and json.loads(body) == {"ok": True}
        assert server.connections == 2 and len(server.requests) == 3
    posted = Server(lambda head: _json({"ok": True}), drop_nth=1)
    async with posted as base:
        await lean.request("POST", base, "/p", {}, {}, b"{}")
        with pytest.raises(httpx.RemoteProtocolError):
            await lean.request("POST", base, "/p", {}, {}, b"{}")
        status, _, _ = await lean.request("POST", base, "/p", {}, {}, b"{}")
        assert status == 200 and posted.connections == 2


async def test_secrets_never_in_log_or_errors(
    lean: _http.AioHTTP, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = Server(lambda head: _json({"errcode": 0}))
    async with server as base:
        query = {"appkey": "k", "appsecret": "s3cr3t-app", "access_token": "t0k3n-abc"}
        await lean.request("GET", base, "/gettoken", query, {}, None)
    assert b"appsecret=s3cr3t-app" in server.requests[0]  # sent, as DingTalk wants
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "/gettoken?appkey=k&appsecret=***&access_token=***" in logged
    assert "s3cr3t" not in logged and "t0k3n" not in logged
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(httpx.ConnectError) as err:
        await lean.request("GET", dead, "/gettoken", query, {}, None)
    assert "s3cr3t" not in str(err.value) and "t0k3n" not in str(err.value)
    garbage = Server(lambda head: b"HTTP/1.1 abc\r\n\r\n")
    async with garbage as base:
        with pytest.raises(httpx.RemoteProtocolError) as err:
            await lean.request("GET", base, "/x", query, {}, None)
    assert "s3cr3t" not in str(err.value) and "t0k3n" not in str(err.value)


async def test_environment_proxy_is_honoured(
    lean: _http.AioHTTP, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``HTTP_PROXY`` sends the request to the proxy with the absolute URL (trust_env)."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    proxy = Server(lambda head: _json({"via": "proxy"}))
    async with proxy as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        status, body, _ = await lean.request(
            "GET", "http://oapi.dingtalk.invalid", "/v1/x", {"a": 1}, {}, None
        )
    assert status == 200 and json.loads(body) == {"via": "proxy"}
    assert proxy.requests[0].startswith(b"GET http://oapi.dingtalk.invalid/v1/x?a=1 HTTP/1.1")


def test_a_new_event_loop_gets_a_new_session() -> None:
    """One client used by two ``asyncio.run`` calls (a CLI doing two steps) still works."""
    client = _http.AioHTTP(timeout=2.0, ssl_context=_ssl_context, user_agent="test")

    async def once() -> int:
        async with Server(lambda head: _json({"ok": True})) as base:
            status, _, _ = await client.request("GET", base, "/a", {}, {}, None)
        return status

    assert asyncio.run(once()) == 200
    assert asyncio.run(once()) == 200
    asyncio.run(client.aclose())


def test_a_session_of_an_earlier_loop_is_closed_not_leaked() -> None:
    """The session a finished ``asyncio.run`` left is closed when a new loop opens its own,
    and ``aclose`` from another loop closes it too (aiohttp warned "Unclosed client session"
    for the dropped one when it was collected)."""
    client = _http.AioHTTP(timeout=2.0, ssl_context=_ssl_context, user_agent="test")

    async def once() -> None:
        async with Server(lambda head: _json({"ok": True})) as base:
            await client.request("GET", base, "/a", {}, {}, None)

    asyncio.run(once())
    first = client._session
    assert first is not None and not first.closed
    asyncio.run(once())
    assert first.closed  # dropped for the new loop's session, and closed
    second = client._session
    assert second is not None and second is not first and not second.closed

    async def close_elsewhere() -> None:
        await client.aclose()

    asyncio.run(close_elsewhere())  # a third loop: the second loop's session is closed anyway
    assert second.closed and client._session is None


async def test_aclose_cancelled_before_it_closes_still_closes_the_session() -> None:
    """A cancellation landing as ``aclose`` begins (a second Ctrl-C while a sync unwinds)
    leaves no open session behind."""
    client = _http.AioHTTP(timeout=2.0, ssl_context=_ssl_context, user_agent="test")
    async with Server(lambda head: _json({"ok": True})) as base:
        await client.request("GET", base, "/a", {}, {}, None)
    session = client._session
    assert session is not None

    original = session.close

    async def cancelled_close() -> None:
        raise asyncio.CancelledError

    session.close = cancelled_close  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        await client.aclose()
    assert session.closed
    session.close = original  # type: ignore[method-assign]


async def test_the_client_closes_everything_even_when_one_close_fails() -> None:
    """``DingTalkClient.aclose`` closes the aiohttp session even when closing an httpx pool
    before it raised (then raises that error)."""
    from dingsync.dingtalk import DingTalkClient

    client = DingTalkClient("k", "s", oapi_url="http://127.0.0.1:9", api_url="http://127.0.0.1:9")
    lean = client._lean
    assert lean is not None
    async with Server(lambda head: _json({"ok": True})) as base:
        await lean.request("GET", base, "/a", {}, {}, None)
    session = lean._session
    assert session is not None

    async def broken() -> None:
        raise asyncio.CancelledError

    client._shared_pool.aclose = broken  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        await client.aclose()
    assert session.closed
