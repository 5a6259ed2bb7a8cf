"""A lean HTTP/1.1 keep-alive client for DingTalk's JSON calls (behind ``DingTalkClient._send``).

httpx + httpcore spend about 1.5 ms of CPU per request (request/response objects, anyio
streams, the pool's scans, header normalisation, logging); a directory sync makes thousands of
small requests, so that was half its CPU. This client does the one thing ``_send`` needs —
send a request with a small body, read the whole answer — on an :class:`asyncio.Protocol`
with httptools' C parser, reusing connections per origin (scheme, host, port).

It raises httpx's exceptions (``ConnectError``, ``ReadTimeout``, ``RemoteProtocolError``, …,
all ``httpx.TransportError``), so the client's retry logic is the same for both stacks; the
client falls back to httpx for a caller-given transport, HTTP/2, and proxies set in the
environment (see :func:`usable`).

A connection that was idle in the pool and turns out closed before any byte of the answer came
back is retried once on a new connection (the server closed it between requests: the request
was not processed). Answers compressed with gzip/deflate are decoded; the client asks for
none.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import ssl
import urllib.request
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

try:  # a compiled parser; uvicorn[standard] brings it on CPython
    import httptools
except ImportError:  # pragma: no cover - httpx is used instead
    httptools = None  # type: ignore[assignment]

log = logging.getLogger("dingsync.dingtalk.http")

#: Query parameters whose values are never logged (old-family token, ``/gettoken`` secret).
_SECRET_PARAMS = frozenset({"access_token", "appsecret", "corpsecret"})

#: Idle connections kept per origin (more are closed when returned).
MAX_IDLE_PER_ORIGIN = 256


def usable(*base_urls: str) -> bool:
    """Whether the lean client can serve ``base_urls``: httptools is importable, every URL is
    ``http``/``https`` and no proxy for its scheme is set in the environment (httpx honours
    ``HTTP(S)_PROXY``; this client does not)."""
    if httptools is None:
        return False
    proxies = urllib.request.getproxies()
    for url in base_urls:
        scheme = urlsplit(url).scheme
        if scheme not in ("http", "https") or proxies.get(scheme) or proxies.get("all"):
            return False
    return True


class Headers(dict[str, str]):
    """Response headers, names lower-cased (``get("retry-after")``); a repeated header keeps
    its last value."""


class _Origin:
    """One (scheme, host, port): how to connect and the idle connections."""

    __slots__ = ("host", "host_header", "idle", "port", "prefix", "ssl")

    def __init__(self, base_url: str, ssl_context: Callable[[], ssl.SSLContext]) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise httpx.UnsupportedProtocol(f"unsupported URL {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = ssl_context() if parts.scheme == "https" else None
        default = 443 if parts.scheme == "https" else 80
        self.host_header = parts.netloc.rsplit("@", 1)[-1] if parts.port != default else self.host
        self.prefix = parts.path.rstrip("/")
        self.idle: list[_Connection] = []


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: Any = None  # asyncio's or uvloop's (not an asyncio.Transport subclass)
        self.closed = False
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.received = False
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self.framed = False  # Content-Length or chunked: the end is known without a close

    # -- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed HTTP answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.headers_done and not self.complete and not self.framed:
            self.on_message_complete()  # read-until-close body
            return
        self._fail(
            httpx.ReadError(f"connection closed: {exc}")
            if self.received
            else _StaleConnection("connection closed before an answer")
        )

    # -- httptools callbacks -------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        self.headers_done = True
        for name, value in self.headers:
            lower = name.lower()
            if lower == b"content-length" or (
                lower == b"transfer-encoding" and b"chunked" in value.lower()
            ):
                self.framed = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True
        # Only meaningful now: the parser resets once the callback returns.
        self.keep_alive = not self.closed and self._parser.should_keep_alive()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- use ------------------------------------------------------------------------------------
    def _fail(self, exc: Exception) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    async def exchange(self, request: bytes) -> None:
        """Send ``request`` and wait for the whole answer (``status``, ``headers``, ``body``)."""
        assert self.transport is not None
        self._reset()
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        try:
            await self._waiter
        finally:
            self._waiter = None

    def reusable(self) -> bool:
        return not self.closed and self.complete and self.keep_alive

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _StaleConnection(httpx.RemoteProtocolError):
    """A reused connection was closed by the server before it answered (retried once)."""


class LeanHTTP:
    """Keep-alive HTTP/1.1 for the client's JSON calls.

    ``timeout``: seconds for connect + send + whole answer (``httpx.ConnectTimeout`` /
    ``httpx.ReadTimeout`` when exceeded); ``ssl_context``: builds the TLS context of an
    ``https`` origin; ``user_agent``: sent with every request.
    """

    def __init__(
        self,
        *,
        timeout: float,
        ssl_context: Callable[[], ssl.SSLContext],
        user_agent: str,
    ) -> None:
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._user_agent = user_agent
        self._origins: dict[str, _Origin] = {}
        self._all: set[_Connection] = set()

    def _origin(self, base_url: str) -> _Origin:
        origin = self._origins.get(base_url)
        if origin is None:
            origin = self._origins[base_url] = _Origin(base_url, self._ssl_context)
        return origin

    async def request(
        self,
        method: str,
        base_url: str,
        path: str,
        query: dict[str, Any],
        headers: dict[str, str],
        content: bytes | None,
    ) -> tuple[int, bytes, Headers]:
        """``method`` ``base_url + path`` with ``query`` (URL-encoded), extra ``headers`` and
        ``content``; returns (status, body bytes, headers). Raises ``httpx.TransportError``
        subclasses on network failures and timeouts."""
        origin = self._origin(base_url)
        target = origin.prefix + path
        if query:
            target += "?" + urlencode(query, doseq=True)
        lines = [
            f"{method} {target} HTTP/1.1",
            f"Host: {origin.host_header}",
            f"User-Agent: {self._user_agent}",
            "Accept: */*",
        ]
        lines.extend(f"{k}: {v}" for k, v in headers.items())
        if content is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(content or b'')}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "strict")
        request = head + content if content else head
        try:
            async with asyncio.timeout(self._timeout):
                conn = await self._exchange(origin, request)
        except TimeoutError:
            raise httpx.ReadTimeout(f"no answer within {self._timeout:g}s") from None
        status, raw_headers, body = conn.status, conn.headers, b"".join(conn.body)
        if conn.reusable() and len(origin.idle) < MAX_IDLE_PER_ORIGIN:
            origin.idle.append(conn)
        else:
            self._discard(conn)
        out = Headers()
        encoding = b""
        for name, value in raw_headers:
            key = name.decode("latin-1").lower()
            out[key] = value.decode("latin-1")
            if key == "content-encoding":
                encoding = value.lower().strip()
        if encoding and body:
            body = _decode(encoding, body)
        if log.isEnabledFor(logging.DEBUG):
            shown = {k: "***" if k.lower() in _SECRET_PARAMS else v for k, v in query.items()}
            log.debug(
                'HTTP Request: %s %s "HTTP/1.1 %d"',
                method,
                base_url + path + (f"?{urlencode(shown, doseq=True, safe='*')}" if shown else ""),
                status,
            )
        return status, body, out

    async def _exchange(self, origin: _Origin, request: bytes) -> _Connection:
        while origin.idle:
            conn = origin.idle.pop()
            if conn.closed:
                self._discard(conn)
                continue
            try:
                await conn.exchange(request)
                return conn
            except _StaleConnection:
                self._discard(conn)  # closed by the server while idle: try a fresh one
                break
            except BaseException:
                self._discard(conn)
                raise
        conn = await self._connect(origin)
        try:
            await conn.exchange(request)
        except BaseException:
            self._discard(conn)
            raise
        return conn

    async def _connect(self, origin: _Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(
                _Connection,
                origin.host,
                origin.port,
                ssl=origin.ssl,
                server_hostname=origin.host if origin.ssl is not None else None,
            )
        except TimeoutError:
            raise
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"{type(exc).__name__}: {exc}") from None
        self._all.add(conn)
        return conn

    def _discard(self, conn: _Connection) -> None:
        conn.close()
        self._all.discard(conn)

    async def aclose(self) -> None:
        """Close every connection."""
        for origin in self._origins.values():
            origin.idle.clear()
        conns, self._all = self._all, set()
        for conn in conns:
            conn.close()
        await asyncio.sleep(0)  # let the transports finish closing


def _decode(encoding: bytes, body: bytes) -> bytes:
    try:
        if encoding == b"gzip":
            return gzip.decompress(body)
        if encoding == b"deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)  # raw deflate
    except (OSError, zlib.error, EOFError) as exc:
        raise httpx.DecodingError(f"cannot decode {encoding.decode()} body: {exc}") from None
    return body
