"""The lean HTTP/1.1 client behind ``DingTalkClient._send`` (dingtalk/_http.py), over real
loopback sockets: a small asyncio server that answers the way a test needs (keep-alive,
chunked, gzip, closing idle connections, never answering)."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from dingsync.dingtalk import _http
from dingsync.dingtalk._base import _ssl_context

Answer = Callable[[bytes], bytes]


class Server:
    """Answers each request on a connection with ``answer(request head)``; counts
    connections and requests; ``close_after``: close a connection after that many answers."""

    def __init__(self, answer: Answer, *, close_after: int | None = None) -> None:
        self.answer = answer
        self.close_after = close_after
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
async def lean() -> AsyncIterator[_http.LeanHTTP]:
    client = _http.LeanHTTP(timeout=2.0, ssl_context=_ssl_context, user_agent="test")
    yield client
    await client.aclose()


async def test_keep_alive_reuses_one_connection(lean: _http.LeanHTTP) -> None:
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


async def test_connection_closed_while_idle_is_replaced(lean: _http.LeanHTTP) -> None:
    server = Server(lambda head: _json({"ok": True}), close_after=1)
    async with server as base:
        for _ in range(3):
            await asyncio.sleep(0.05)  # let the server's close arrive
            status, body, _ = await lean.request("GET", base, "/a", {}, {}, None)
            assert status == 200 and json.loads(body) == {"ok": True}
    assert server.connections == 3


async def test_chunked_and_gzip_answers(lean: _http.LeanHTTP) -> None:
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


async def test_body_until_close(lean: _http.LeanHTTP) -> None:
    reply = b'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n{"code":"busy"}'
    async with Server(lambda head: reply, close_after=1) as base:
        status, body, _ = await lean.request("GET", base, "/x", {}, {}, None)
    assert status == 503 and json.loads(body) == {"code": "busy"}


async def test_network_errors_are_httpx_transport_errors(lean: _http.LeanHTTP) -> None:
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


def test_usable_only_without_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert _http.usable("https://oapi.dingtalk.com", "http://127.0.0.1:1")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert not _http.usable("https://oapi.dingtalk.com")
    assert _http.usable("http://127.0.0.1:1")
