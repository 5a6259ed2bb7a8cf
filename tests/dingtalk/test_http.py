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
from hypothesis import given, settings
from hypothesis import strategies as st

from dingsync.dingtalk import _http
from dingsync.dingtalk._base import _ssl_context

Answer = Callable[[bytes], bytes]


async def _read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One HTTP/1.1 request off ``reader``: ``(head with its blank line, body)`` (the body by
    ``Content-Length``)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head, await reader.readexactly(length) if length else b""


class _Loopback:
    """A raw HTTP/1.1 server on 127.0.0.1 for the client's transport tests: ``async with``
    gives its base URL; subclasses answer in ``_handle``."""

    _server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()


class Server(_Loopback):
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

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        try:
            while True:
                head, body = await _read_request(reader)
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


# -- decoding DingTalk's answers (DingTalkClient._send → _base._loads: orjson, json where needed)
def _same_values(a: object, b: object) -> bool:
    """Equal and of the same types all the way down (``2**64 == 2.0**64`` in Python, so plain
    ``==`` cannot tell an exact integer from orjson's float)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return list(a) == list(b) and all(_same_values(a[k], b[k]) for k in a)
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(_same_values(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and a != a:
        return b != b  # NaN
    return a == b


async def test_answers_with_integers_beyond_64_bits_are_exact() -> None:
    """An answer holding integers orjson cannot hold (beyond −2⁶³ … 2⁶⁴−1) comes back as
    ``json.loads`` gives it, exact ``int`` values and all; a numeric userid string, the 64-bit
    edges, floats, Chinese text and a NUL stay as they were."""
    from dingsync.dingtalk import DingTalkClient

    body = (
        b'{"errcode":0,"errmsg":"ok","result":{"id":18446744073709551616,"neg":'
        b'-9223372036854775809,"edges":[9223372036854775807,-9223372036854775808,'
        b'18446744073709551615],"spaced": 123456789012345678901234567890,'
        b'"userid":"04875394908152022062","f":0.1,"e":1.5e300,'
        b'"name":"\xe5\x88\x98\xe6\x9d\xb0","nul":"a\\u0000b"}}'
    )
    small = b'{"errcode":0,"result":{"dept_id":1,"order":12345678901234567,"f":2.5}}'
    answers = {b"/big": body, b"/small": small}

    def answer(head: bytes) -> bytes:
        path = head.split(b" ", 2)[1].split(b"?")[0]
        data = answers[path]
        return (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(data)).encode()
            + b"\r\n\r\n"
            + data
        )

    async with Server(answer) as base:
        client = DingTalkClient("k", "s", oapi_url=base, api_url=base, qps_per_api=None)
        async with client:
            got = await client.oapi("POST", "/big", auth=False)
            plain = await client.oapi("POST", "/small", auth=False)
    assert got["result"]["id"] == 2**64 and type(got["result"]["id"]) is int
    assert got["result"]["neg"] == -(2**63) - 1 and type(got["result"]["neg"]) is int
    assert _same_values(got, json.loads(body))
    assert got["result"]["userid"] == "04875394908152022062"
    assert got["result"]["nul"] == "a\x00b"
    assert _same_values(plain, json.loads(small))


async def test_answers_that_are_not_json_are_classified_as_before() -> None:
    """A body that is not JSON (an HTML page, cut-off JSON, invalid UTF-8) is ``None`` to the
    classifier, as with ``json.loads``: a 200 page is an IP ban, a 502 a server error; JSON
    orjson refuses but ``json`` reads (``NaN``, a BOM) is read as ``json`` reads it."""
    from dingsync.dingtalk import DingTalkClient, IPBannedError, ServerError

    answers = {
        b"/html": (
            b"200 OK",
            b"<html><body>\xe8\xae\xbf\xe9\x97\xae\xe8\xa2\xab\xe6\x8b\x92</body></html>",
        ),
        b"/cut": (b"502 Bad Gateway", b'{"errcode":0,"result":'),
        b"/bytes": (b"502 Bad Gateway", b"\xff\xfe\x00"),
        b"/nan": (b"200 OK", b'{"errcode":0,"result":{"v":NaN,"w":Infinity}}'),
        b"/bom": (b"200 OK", b'\xef\xbb\xbf{"errcode":0,"result":{"v":1}}'),
    }

    def answer(head: bytes) -> bytes:
        status, data = answers[head.split(b" ", 2)[1].split(b"?")[0]]
        return (
            b"HTTP/1.1 "
            + status
            + b"\r\nContent-Length: "
            + str(len(data)).encode()
            + b"\r\n\r\n"
            + data
        )

    async with Server(answer) as base:
        client = DingTalkClient(
            "k",
            "app-secret-x",
            oapi_url=base,
            api_url=base,
            qps_per_api=None,
            max_retries=0,
            ip_ban_cooldown=0,
        )
        async with client:
            with pytest.raises(IPBannedError):
                await client.oapi("POST", "/html", auth=False)
            for path in ("/cut", "/bytes"):
                with pytest.raises(ServerError) as err:
                    await client.oapi("POST", path, auth=False)
                assert err.value.errmsg == "non-JSON answer" and err.value.http_status == 502
            nan = await client.oapi("POST", "/nan", auth=False)
            bom = await client.oapi("POST", "/bom", auth=False)
    v = nan["result"]["v"]
    assert v != v and nan["result"]["w"] == float("inf")
    assert bom == {"errcode": 0, "result": {"v": 1}}


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**62, max_value=2**70)
    | st.integers(min_value=-(2**70), max_value=-(2**62))
    | st.floats(allow_nan=False)
    | st.text()
    | st.from_regex(r"[0-9]{17,22}", fullmatch=True),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(value=_json_values, ascii_only=st.booleans(), indent=st.sampled_from([None, 1]))
def test_loads_gives_what_json_loads_gives(
    value: object, ascii_only: bool, indent: int | None
) -> None:
    """Whatever JSON DingTalk sends — integers of any size (also at 19–22 digits, the guard's
    edge), floats, any text, numeric strings, spaced or compact — ``_loads`` gives the values
    and types ``json.loads`` gives."""
    from dingsync.dingtalk._base import _loads

    raw = json.dumps(value, ensure_ascii=ascii_only, indent=indent).encode()
    assert _same_values(_loads(raw), json.loads(raw))


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=40) | st.from_regex(rb'\A[\[\]{}:,"0-9 .eE+\-a-z\\]{0,40}\Z'))
def test_loads_fails_where_json_loads_fails(raw: bytes) -> None:
    """Any bytes: ``_loads`` raises ``ValueError`` exactly when ``json.loads`` does, else
    gives its values."""
    from dingsync.dingtalk._base import _loads

    try:
        expected = json.loads(raw)
    except ValueError:
        with pytest.raises(ValueError):
            _loads(raw)
        return
    assert _same_values(_loads(raw), expected)


class SlowServer(_Loopback):
    """Answers every request ``delay`` seconds after it came (``{"errcode": 0}``), keep-alive;
    records the connections made and the most requests it held unanswered at once."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.connections = 0
        self.requests = 0
        self.in_flight = 0
        self.peak = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                await _read_request(reader)
                self.requests += 1
                self.in_flight += 1
                self.peak = max(self.peak, self.in_flight)
                await asyncio.sleep(self.delay)
                self.in_flight -= 1
                writer.write(_json({"errcode": 0, "errmsg": "ok"}))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _burst(client: object, calls: int, paths: int, family: str = "oapi") -> None:
    from dingsync.dingtalk import DingTalkClient

    assert isinstance(client, DingTalkClient)
    send = client.oapi if family == "oapi" else client.api
    await asyncio.gather(
        *(send("POST", f"/topapi/p{i % paths}", json={"i": i}, auth=False) for i in range(calls))
    )


async def test_calls_in_flight_per_host_are_bounded_every_path_together() -> None:
    """``max_in_flight_per_host``: a burst of 60 calls over 3 paths keeps at most that many
    requests at the server at once and opens no more connections than that (each reused);
    every call is answered. The two hosts (``oapi_url``, ``api_url``) are bounded apart."""
    from dingsync.dingtalk import DingTalkClient

    oapi, api = SlowServer(0.02), SlowServer(0.02)
    async with oapi as oapi_url, api as api_url:
        client = DingTalkClient(
            "k",
            "s",
            oapi_url=oapi_url,
            api_url=api_url,
            qps_per_api=None,
            max_in_flight_per_host=4,
        )
        async with client:
            await asyncio.gather(_burst(client, 60, 3), _burst(client, 30, 2, family="api"))
    assert oapi.requests == 60 and api.requests == 30
    assert 1 < oapi.peak <= 4 and 1 < api.peak <= 4
    assert oapi.connections <= 4 and api.connections <= 4
    assert sum(client.calls.values()) == 90


async def test_without_a_host_bound_only_the_path_bound_holds() -> None:
    """``max_in_flight_per_host=None``: the same burst reaches the server as far as each
    path's own bound (``max_connections``) lets it: up to 3 paths × 8 = 24 at once, more
    than one path's bound, a connection each."""
    from dingsync.dingtalk import DingTalkClient

    server = SlowServer(0.05)
    async with server as base:
        client = DingTalkClient(
            "k",
            "s",
            oapi_url=base,
            api_url=base,
            qps_per_api=None,
            max_connections=8,
            max_in_flight_per_host=None,
        )
        async with client:
            await _burst(client, 60, 3)
    assert server.requests == 60
    assert 8 < server.peak <= 24 and server.connections <= 24
