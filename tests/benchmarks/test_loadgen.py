"""``benchmarks/loadgen.py``, the web benchmark's load generator: over real loopback TCP against
a small asyncio HTTP server of the test's own (keep-alive sequences, statuses, a server that
closes, responses it refuses to read) and against the dingsync service itself (logins and
``/healthz`` through the sandbox, SQLite)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from dingsync.sandbox import SandboxServer
from dingsync.store import db
from dingsync.web import create_app
from dingsync.web.options import WebOptions
from dingsync.web.server import WebServer
from helpers.web import _plain_user
from web.conftest import sandbox_settings, sync_directory

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import loadgen


class Server:
    """A tiny HTTP/1.1 server: ``/echo/<n>`` answers 200 with ``n:<connection>:<k>`` (the k-th
    request on that connection), ``/missing`` 404 with a body, ``/empty`` 204, ``/close`` 200
    then closes the connection (``Connection: close``), ``/drop`` closes without an answer,
    ``/chunked`` answers in chunks, ``/split`` sends its answer in three writes; a POST's body
    is echoed back."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[tuple[int, str]] = []
        self.port = 0
        self.handlers: set[asyncio.Task[None]] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        conn = self.connections
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        k = 0
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                k += 1
                lines = head.decode().split("\r\n")
                method, path, _ = lines[0].split(" ")
                headers = dict(line.split(": ", 1) for line in lines[1:] if line)
                body = await reader.readexactly(int(headers.get("Content-Length", "0")))
                self.requests.append((conn, f"{method} {path}"))
                if path == "/drop":
                    return
                if path == "/chunked":
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
                    )
                    continue
                if path == "/empty":
                    writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                    continue
                status = b"404 Not Found" if path == "/missing" else b"200 OK"
                out = body if method == "POST" else f"{path}:{conn}:{k}".encode()
                extra = b"Connection: close\r\n" if path == "/close" else b""
                raw = (
                    b"HTTP/1.1 "
                    + status
                    + b"\r\ncontent-type: text/plain\r\n"
                    + extra
                    + b"Content-Length: "
                    + str(len(out)).encode()
                    + b"\r\n\r\n"
                    + out
                )
                if path == "/split":
                    for part in (raw[:5], raw[5:40], raw[40:]):
                        writer.write(part)
                        await writer.drain()
                        await asyncio.sleep(0.01)
                else:
                    writer.write(raw)
                if path == "/close":
                    await writer.drain()
                    return
        finally:
            writer.close()


@asynccontextmanager
async def serving() -> AsyncIterator[Server]:
    server = Server()
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield server
        # The load generator closed its connections: let every handler see the end.
        if server.handlers:
            await asyncio.wait(server.handlers, timeout=10)


async def test_keep_alive_sequence_statuses_and_bodies() -> None:
    async with serving() as srv:
        requests = [loadgen.get(f"/echo/{i}") for i in range(30)]
        requests += [loadgen.get("/missing"), loadgen.get("/empty"), loadgen.get("/split")]
        requests.append(loadgen.post_json("/echo/post", {"authCode": "abc", "n": 1}))
        got = await loadgen.run("127.0.0.1", srv.port, requests, 3, keep_bodies=True)

    assert got.requests == len(requests) == len(got.latencies_ms)
    assert got.statuses == {200: 32, 404: 1, 204: 1}
    assert got.failures == 2
    assert got.reconnects == 0
    # Three connections, kept alive: every request went over one of them, in order on each.
    assert srv.connections == 3
    assert len(srv.requests) == len(requests)
    per_conn: dict[int, int] = {}
    for i, (status, body) in enumerate(got.responses[:30]):
        path, conn, k = body.decode().split(":")
        assert (status, path) == (200, f"/echo/{i}")
        assert int(k) == per_conn.get(int(conn), 0) + 1
        per_conn[int(conn)] = int(k)
    assert sum(per_conn.values()) == 30 and len(per_conn) == 3
    assert got.responses[30][0] == 404 and got.responses[30][1].startswith(b"/missing:")
    assert got.responses[31] == (204, b"")
    assert got.responses[32][0] == 200 and got.responses[32][1].startswith(b"/split:")
    assert json.loads(got.responses[33][1]) == {"authCode": "abc", "n": 1}
    assert got.wall_s > 0 and got.cpu_s >= 0 and got.per_s > 0


async def test_one_connection_serves_requests_one_after_another() -> None:
    async with serving() as srv:
        got = await loadgen.run(
            "127.0.0.1",
            srv.port,
            [loadgen.get(f"/echo/{i}") for i in range(5)],
            1,
            warmup=loadgen.get("/warm"),
            keep_bodies=True,
            probe=lambda: {"served": len(srv.requests)},
        )
    assert srv.connections == 1
    assert srv.requests == [(1, "GET /warm")] + [(1, f"GET /echo/{i}") for i in range(5)]
    # The warm-up is not counted; the connection's request count goes on after it.
    assert [b for _, b in got.responses] == [f"/echo/{i}:1:{i + 2}".encode() for i in range(5)]
    assert got.requests == 5 and got.statuses == {200: 5}
    # ``probe`` is read after the warm-up and after the last response: the timed requests only.
    assert got.probed == {"served": 5}


async def test_connection_close_is_followed_by_a_new_connection() -> None:
    async with serving() as srv:
        requests = [loadgen.get("/echo/a"), loadgen.get("/close"), loadgen.get("/echo/b")]
        got = await loadgen.run("127.0.0.1", srv.port, requests, 1, keep_bodies=True)
    assert got.statuses == {200: 3} and got.reconnects == 1
    assert srv.connections == 2
    assert got.responses[2][1] == b"/echo/b:2:1"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/drop", "connection lost with a request in flight"),
        ("/chunked", "chunked"),
    ],
)
async def test_broken_connection_and_unreadable_response_raise(path: str, message: str) -> None:
    async with serving() as srv:
        requests = [loadgen.get("/echo/1"), loadgen.get(path), loadgen.get("/echo/2")]
        with pytest.raises(loadgen.LoadError, match=message):
            await loadgen.run("127.0.0.1", srv.port, requests, 1)


async def test_refused_connection_raises() -> None:
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    with pytest.raises(loadgen.LoadError, match="cannot connect"):
        await loadgen.run("127.0.0.1", port, [loadgen.get("/")], 2)


def test_logins_and_healthz_against_the_service(
    default_sandbox: SandboxServer, sqlite_url: str
) -> None:
    """The dingsync service itself: real logins (codes minted through the sandbox) and
    ``/healthz`` at 4 in flight; an unknown code is refused (non-200, counted, the connection
    kept)."""
    sb = default_sandbox
    engine = db.create_engine_for(sqlite_url)
    db.migrate(engine)
    sync_directory(sb, engine)
    app = create_app(sandbox_settings(sb, sqlite_url), engine=engine, options=WebOptions())
    userids = [_plain_user(sb.company, i) for i in range(6)]
    codes = []
    for userid in userids:
        r = httpx.post(f"{sb.base_url}/sandbox/authcode", json={"userid": userid})
        r.raise_for_status()
        codes.append(r.json()["code"])
    path = "/api/auth/dingtalk"
    requests = [loadgen.post_json(path, {"authCode": c}) for c in codes]
    requests += [loadgen.get("/healthz")] * 5
    requests += [loadgen.post_json(path, {"authCode": "no-such-code"})]
    try:
        with WebServer(app) as server:
            got = asyncio.run(
                loadgen.run(
                    "127.0.0.1",
                    server.port,
                    requests,
                    4,
                    warmup=loadgen.get("/healthz"),
                    keep_bodies=True,
                )
            )
    finally:
        engine.dispose()
    for userid, (status, body) in zip(userids, got.responses[:6], strict=True):
        assert status == 200, body
        answer = json.loads(body)
        assert answer["userid"] == userid and answer["session"]["token"]
    for status, body in got.responses[6:11]:
        assert status == 200 and json.loads(body)["ok"] is True
    assert got.responses[11][0] in (400, 401, 403)
    assert got.failures == 1 and got.reconnects == 0
