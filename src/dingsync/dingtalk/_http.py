"""The DingTalk client's JSON calls over aiohttp (behind ``DingTalkClient._send``).

httpx + httpcore spend about 1.5 ms of CPU per request (request/response objects, anyio
streams, the pool's scans, header normalisation); a directory sync makes thousands of small
requests, so that was half its CPU. aiohttp's client (C-accelerated HTTP parser, one
:class:`aiohttp.TCPConnector` keeping connections per host) does the same exchange for a
fraction of it. HTTP is outside what dingsync exists for, so this module is only a seam: it
maps aiohttp's exceptions to httpx's (``ConnectError``, ``ConnectTimeout``, ``ReadTimeout``,
``RemoteProtocolError``, …, all ``httpx.TransportError``) so the client's retry logic is the
same for both stacks, and keeps secrets out of its debug log.

The client falls back to httpx for a caller-given transport (tests), HTTP/2 and
:meth:`~dingsync.dingtalk.DingTalkClient.stream_get`. Proxies from the environment
(``HTTP(S)_PROXY``, ``NO_PROXY``) are honoured: looked up once per host with aiohttp's own
``get_env_proxy_for_url`` (``trust_env=True`` did that and read ``~/.netrc`` in a worker
thread on every request, ~0.4 ms of CPU each, more than the rest of the exchange); answers
compressed with gzip/deflate are decoded by aiohttp. A pooled connection the server closed
while it was idle is dropped by the connector before reuse; one that closes as a request goes
out is resent once by aiohttp for an idempotent method (GET), and surfaces for a POST as
``httpx.RemoteProtocolError``, which the client retries like any network error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx
from aiohttp.helpers import get_env_proxy_for_url
from multidict import CIMultiDictProxy
from yarl import URL

log = logging.getLogger("dingsync.dingtalk.http")

#: Query parameters whose values are never logged (old-family token, ``/gettoken`` secret).
_SECRET_PARAMS = frozenset({"access_token", "appsecret", "corpsecret"})

#: Seconds an idle pooled connection is kept (DingTalk's gateways close theirs later).
KEEPALIVE_S = 30.0

Headers = CIMultiDictProxy[str]
"""Response headers: ``get("retry-after")`` by any case of the name."""


class AioHTTP:
    """Keep-alive HTTP for the client's JSON calls, on one :class:`aiohttp.ClientSession`.

    ``timeout``: seconds for connect + send + whole answer (``httpx.ConnectTimeout`` when the
    connection could not be made in time, ``httpx.ReadTimeout`` otherwise); ``ssl_context``:
    builds the TLS context for ``https`` hosts; ``user_agent``: sent with every request;
    ``limit``: connections open at once over all hosts (the client bounds each API path's
    in-flight requests itself). The session is made on first use, inside the running loop.
    """

    def __init__(
        self,
        *,
        timeout: float,
        ssl_context: Callable[[], ssl.SSLContext],
        user_agent: str,
        limit: int = 1024,
    ) -> None:
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._user_agent = user_agent
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: base URL → (proxy, proxy auth) from the environment, looked up on first use.
        self._proxies: dict[str, tuple[URL | None, aiohttp.BasicAuth | None]] = {}

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._limit,
            limit_per_host=0,
            keepalive_timeout=KEEPALIVE_S,
            ssl=self._ssl_context(),
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            headers={"User-Agent": self._user_agent},
            trust_env=False,  # proxies: see _proxy
            auto_decompress=True,
            raise_for_status=False,
            skip_auto_headers=("Content-Type",),
            # DingTalk's APIs are stateless (the token travels in each request): no cookie
            # is sent or kept, so no jar is filtered and updated per call (~2 % of a login's
            # CPU in the login profile, issue 17).
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        self._proxies.clear()
        self._loop = asyncio.get_running_loop()
        return self._session

    def _proxy(self, base_url: str, url: URL) -> tuple[URL | None, aiohttp.BasicAuth | None]:
        found = self._proxies.get(base_url)
        if found is None:
            try:
                found = get_env_proxy_for_url(url)
            except LookupError:
                found = (None, None)
            self._proxies[base_url] = found
        return found

    async def request(
        self,
        method: str,
        base_url: str,
        path: str,
        query: Mapping[str, Any],
        headers: Mapping[str, str],
        content: bytes | None,
    ) -> tuple[int, bytes, Headers]:
        """``method`` ``base_url + path`` with ``query`` (URL-encoded), extra ``headers`` and
        ``content``; returns (status, body bytes, headers). Raises ``httpx.TransportError``
        subclasses on network failures and timeouts, ``httpx.UnsupportedProtocol`` for a URL
        that is not ``http``/``https``."""
        session = self._session
        if session is None or session.closed or self._loop is not asyncio.get_running_loop():
            if session is not None:  # a session of an earlier event loop: closed, not leaked
                _drop(session)
            session = self._open()  # first use, after aclose, or a new event loop
        target = base_url + path
        if query:
            target += "?" + urlencode(query, doseq=True)
        try:
            url = URL(target, encoded=True)
        except ValueError:  # the message would hold the query (a token)
            raise httpx.UnsupportedProtocol(f"invalid URL for {base_url}{path}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        proxy, proxy_auth = self._proxy(base_url, url)
        try:
            async with session.request(
                method,
                url,
                headers=headers,
                data=content,
                allow_redirects=False,
                proxy=proxy,
                proxy_auth=proxy_auth,
            ) as response:
                body = await response.read()
                status, out = response.status, response.headers
        except aiohttp.ClientError as exc:
            raise _as_httpx(exc) from None
        except TimeoutError:
            raise httpx.ReadTimeout(f"no answer within {self._timeout:g}s") from None
        if log.isEnabledFor(logging.DEBUG):
            shown = {k: "***" if k.lower() in _SECRET_PARAMS else v for k, v in query.items()}
            log.debug(
                'HTTP Request: %s %s "HTTP/1.1 %d"',
                method,
                base_url + path + (f"?{urlencode(shown, doseq=True, safe='*')}" if shown else ""),
                status,
            )
        return status, body, out

    async def aclose(self) -> None:
        """Close the session and every pooled connection — also when the close itself is
        cancelled (a second Ctrl-C) or the session belongs to another, finished event loop:
        then its connections are closed without awaiting (:func:`_drop`), so no "Unclosed
        client session" warning follows when it is collected."""
        session, self._session = self._session, None
        loop, self._loop = self._loop, None
        if session is None or session.closed:
            return
        if loop is not asyncio.get_running_loop():
            _drop(session)
            return
        try:
            await session.close()
            await asyncio.sleep(0)  # let the transports finish closing
        finally:
            if not session.closed:  # cancelled before the close began
                _drop(session)


def _drop(session: aiohttp.ClientSession) -> None:
    """Close ``session`` without awaiting: its connector's transports closed now (aiohttp's
    ``BaseConnector._close``, the synchronous part of ``close()``; a transport of a closed
    event loop is left to the loop's own end) and the session detached from it, so
    ``session.closed`` holds and aiohttp does not warn about it when it is collected."""
    connector = session.connector
    if connector is not None and not connector.closed:
        with contextlib.suppress(Exception):
            connector._close()
    session.detach()


def _as_httpx(exc: aiohttp.ClientError) -> httpx.TransportError:
    """httpx's exception for aiohttp's ``exc`` (the message carries no URL: it may hold a
    token in its query)."""
    what = f"{type(exc).__name__}: {_message(exc)}"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(what)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(what)
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return httpx.ProxyError(what)
    if isinstance(exc, aiohttp.ClientConnectorError):  # DNS, refused, TLS handshake
        return httpx.ConnectError(what)
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(what)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(what)
    if isinstance(exc, aiohttp.ClientResponseError):  # a malformed status line or headers
        return httpx.RemoteProtocolError(what)
    if isinstance(exc, aiohttp.ClientOSError):
        return httpx.ReadError(what)
    return httpx.NetworkError(what)


def _message(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{exc.status} {exc.message}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port}: {exc.os_error}"
    if isinstance(exc, aiohttp.InvalidURL):
        return "invalid URL"
    return str(exc)
