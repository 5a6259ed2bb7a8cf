"""The client core: transport, token, rate limits, retries and both hosts' envelopes.

API groups (``contacts``, ``auth``) are thin: each method is one endpoint built on
:meth:`DingTalkClient.oapi` / :meth:`DingTalkClient.api`, which own everything hard:

- **Token**: one cached app token per appKey, single-flight refresh, optional shared
  :class:`~dingsync.dingtalk.tokens.TokenStore`; on a token error (40014, 42001, 40001, 33001,
  40000 bare or as 88 ``sub_code``; new-family 400 ``InvalidAuthentication``/401) the token is
  renewed (single flight per token generation: concurrent rejections of one token cause one
  fetch) and the call retried, as long as each retry carries a newer token than the one
  rejected, up to ``max_retries`` renewals caused by the call (at least one; adopting a
  newer token another call fetched is free). DingTalk invalidating
  tokens now and then never fails a call; a token DingTalk keeps handing back and rejecting
  does.
- **Rate limits**: every request waits for a slot of its (app, path) moving window.
- **Retries**: rate-limit codes, -1/400001, 5xx and network failures back off exponentially with
  full jitter, up to ``max_retries``; then the error is raised — a page is never skipped.
  Quota (90020) and IP bans are never retried in a loop; after an IP ban every call fails fast for
  ``ip_ban_cooldown`` seconds.
"""

from __future__ import annotations

import asyncio
import functools
import json as jsonlib
import logging
import random
import re
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Literal

import httpx
import orjson

from dingsync.dingtalk import _http
from dingsync.dingtalk._limiter import PathRateLimiter
from dingsync.dingtalk.errors import (
    DingTalkError,
    IPBannedError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TokenError,
    error_from_api_body,
    error_from_oapi_body,
    is_ip_ban_body,
)
from dingsync.dingtalk.models.auth import AccessToken
from dingsync.dingtalk.tokens import (
    DEFAULT_MIN_MARGIN,
    DEFAULT_REFRESH_MARGIN,
    Fetcher,
    TokenCache,
    TokenStore,
)
from dingsync.dingtalk.tokens import (
    token_key as _token_key,
)

log = logging.getLogger("dingsync.dingtalk")

DEFAULT_OAPI_URL = "https://oapi.dingtalk.com"
DEFAULT_API_URL = "https://api.dingtalk.com"
#: DingTalk's web login host: the OAuth2 authorize page ``/oauth2/auth`` (auth-contacts.md §3.1).
DEFAULT_LOGIN_URL = "https://login.dingtalk.com"

TOKEN_PATH_V1 = "/v1.0/oauth2/accessToken"
USER_AGENT = "dingsync-dingtalk/0.1"
#: Requests in flight at once to one host through aiohttp (``DingTalkClient``'s
#: ``max_in_flight_per_host``).
DEFAULT_IN_FLIGHT_PER_HOST = 64
TOKEN_PATH_GETTOKEN = "/gettoken"

Family = Literal["oapi", "api"]
TokenEndpoint = Literal["v1.0", "gettoken"]
JsapiTicketEndpoint = Literal["v1.0", "legacy"]


class DingTalkClient:
    """Async client for one DingTalk app credential (AppKey/AppSecret), both API hosts.

    Use as ``async with DingTalkClient(key, secret) as client: …`` (or call :meth:`aclose`).

    - ``qps_per_api``: calls per second per API path (DingTalk's standard edition: 20); ``None``
      or 0 disables the limiter. ``qps_overrides``: per-path values. ``limiter_storage_uri``:
      ``memory://`` (this process) or e.g. ``redis://host:6379`` to share the budget (calls
      in flight included) and the throttle back-off with every process; ``login_reserve``: the
      share of each limit only logins use (``_limiter.login_priority``).
    - ``max_retries`` (server and network errors), ``max_rate_limit_retries`` (rate-limit
      replies, a separate and larger budget), ``backoff_base``, ``backoff_max``: exponential
      backoff with full jitter;
      ``rate_limit_pause`` is added to every rate-limit wait (the docs say ≥ 1 s).
    - ``token_endpoint``: ``"v1.0"`` (``POST /v1.0/oauth2/accessToken``) or ``"gettoken"``
      (``GET /gettoken``); the token is valid on both hosts (EB-05).
    - ``token_refresh_margin``: refresh this long before expiry (10 min), never closer than
      ``token_min_margin`` and never more than half the token's lifetime.
    - ``jsapi_ticket_endpoint``: ``"v1.0"`` (``POST /v1.0/oauth2/jsapiTickets``) or ``"legacy"``
      (``GET /get_jsapi_ticket``); ``jsapi_ticket_fallback`` tries the legacy one when v1.0 is
      refused (not found, no permission, bad argument). A ticket is trusted at most 24 h from its
      first fetch by any process sharing ``token_store`` (the time is stored with it).
    - ``token_clock``: epoch seconds for token and ticket expiry (``time.time``; tests move it).
    - ``token_key`` / ``token_fetcher``: where the access token is cached and how it is
      fetched, when it is not the app's own (``app_key``; ``/v1.0/oauth2/accessToken``) — a
      third-party suite's company token (``dingsync.dingtalk.isv.SuiteClient.corp_client``).
    - ``ip_ban_cooldown``: after an IP-ban answer every call fails fast for this long (0 = off).
    - ``max_connections``: per API path (connections live in small pools, see ``_PoolSet``);
      ``transport``: an httpx transport to use instead of the network (one shared pool).
    - ``timeout``: seconds per HTTP request; a timeout counts as a network error (retried).
    - ``max_in_flight_per_host``: requests in flight at once to one host (``oapi_url``,
      ``api_url``) through aiohttp, every path together (``None``/0: only the per-path bound).
      The connections open to a host never exceed it: without it a burst — the first second of
      a tree walk, when the limiter admits a whole second's calls at once — opened a
      connection per call in flight (~100–170 per 532-call directory sync at 30 ms, each
      ~0.15 ms of CPU with its close) and then kept them idle. A bound of N keeps N ÷ latency
      calls/s reachable: the default 64 at DingTalk's ~50–150 ms is 400–1,300 calls/s per
      host, above the sum of the paths a sync runs at once at 20 QPS each; raise it for more
      paths at once or slower answers (calls wait for a slot after the limiter admitted
      them, outside ``timeout``).
    - ``lean_http``: send the JSON calls through aiohttp (:mod:`dingsync.dingtalk._http`:
      keep-alive connections per host, a fraction of httpx's CPU per call, environment proxies
      honoured) unless a ``transport`` is given or ``http2`` is asked for; httpx otherwise,
      and always for :meth:`stream_get`.
    - ``login_url``: the host of DingTalk's browser login page (``https://login.dingtalk.com``),
      for :meth:`~dingsync.dingtalk.auth.AuthAPI.authorize_url`.
    """

    def __init__(
        self,
        app_key: str,
        app_secret: str,
        *,
        corp_id: str | None = None,
        agent_id: str | None = None,
        oapi_url: str = DEFAULT_OAPI_URL,
        api_url: str = DEFAULT_API_URL,
        login_url: str = DEFAULT_LOGIN_URL,
        token_store: TokenStore | None = None,
        close_token_store: bool = False,
        qps_per_api: float | None = 20.0,
        qps_overrides: dict[str, float | None] | None = None,
        limiter_storage_uri: str = "memory://",
        limiter_margin: float = 0.005,
        login_reserve: float = 0.0,
        max_retries: int = 6,
        max_rate_limit_retries: int = 30,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        rate_limit_pause: float = 1.0,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        http2: bool = False,
        max_connections: int = 64,
        max_pools: int = 64,
        max_in_flight_per_host: int | None = DEFAULT_IN_FLIGHT_PER_HOST,
        lean_http: bool = True,
        token_endpoint: TokenEndpoint = "v1.0",
        token_refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        token_min_margin: float = DEFAULT_MIN_MARGIN,
        jsapi_ticket_endpoint: JsapiTicketEndpoint = "v1.0",
        jsapi_ticket_fallback: bool = True,
        ip_ban_cooldown: float = 300.0,
        token_clock: Callable[[], float] = time.time,
        token_key: str | None = None,
        token_fetcher: Fetcher | None = None,
    ) -> None:
        if not app_key or not app_secret:
            raise ValueError("DingTalkClient needs an app_key and an app_secret")
        _install_log_redaction()
        self.app_key = app_key
        self._app_secret = app_secret
        self.corp_id = corp_id
        self.agent_id = agent_id
        self.oapi_url = oapi_url.rstrip("/")
        self.api_url = api_url.rstrip("/")
        #: Where a browser logs in (``client.auth.authorize_url``); never called by the client.
        self.login_url = login_url.rstrip("/")
        self.max_retries = max(0, int(max_retries))
        self.max_rate_limit_retries = max(0, int(max_rate_limit_retries))
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.rate_limit_pause = rate_limit_pause
        self.token_endpoint: TokenEndpoint = token_endpoint
        self.jsapi_ticket_endpoint: JsapiTicketEndpoint = jsapi_ticket_endpoint
        self.jsapi_ticket_fallback = jsapi_ticket_fallback
        self.ip_ban_cooldown = ip_ban_cooldown
        #: HTTP requests sent per path, retries and token requests included.
        self.calls: Counter[str] = Counter()
        #: HTTP requests sent to the token endpoint.
        self.token_requests = 0
        #: Retries performed per path (rate limits, server and network errors, token refreshes).
        self.retries: Counter[str] = Counter()
        #: Called after every answered (or failed) HTTP request with ``(path, outcome,
        #: seconds)``; ``outcome`` is ``"ok"`` or the error's class name (``RateLimitError``…).
        #: Metrics hang here; an observer must not raise.
        self.observers: list[Callable[[str, str, float], None]] = []
        self._banned_until = 0.0
        self._timeout = timeout
        self._transport = transport
        self._http2 = http2
        self._max_connections = max_connections
        self._max_pools = max_pools
        self._lean: _http.AioHTTP | None = None
        if lean_http and transport is None and not http2:
            self._lean = _http.AioHTTP(
                timeout=timeout,
                ssl_context=_ssl_context,
                user_agent=USER_AGENT,
                limit=max_connections * max_pools,
            )
        #: Requests in flight per path through aiohttp (``max_connections`` each).
        self._lean_slots: dict[str, asyncio.Semaphore] = {}
        #: Requests in flight per host through aiohttp (``max_in_flight_per_host`` each).
        self._host_slots: dict[str, asyncio.Semaphore] = {}
        #: At most this many requests in flight to one host through aiohttp (0: no bound).
        self.max_in_flight_per_host = max(0, int(max_in_flight_per_host or 0))
        # One connection pool per API path: httpcore's pool does O(connections²) work per
        # request, so one big pool caps a client at a few hundred calls/s; per-path pools stay
        # small (a path's concurrency is bounded by its QPS × latency).
        self._pools: dict[str, _PoolSet] = {}
        # A caller-given transport is used as one pool (it would be closed once per pool).
        self._shared_pool = _PoolSet(
            self._new_pool,
            max_connections,
            pool_size=max_connections if transport is not None else _PoolSet.POOL_SIZE,
        )
        self.limiter = PathRateLimiter(
            app_key,
            qps_per_api,
            corp_id=corp_id,
            overrides=qps_overrides,
            storage_uri=limiter_storage_uri,
            margin=limiter_margin,
            login_reserve=login_reserve,
            hold_s=timeout + 1.0,
        )
        #: Where the token lives in the shared store (:func:`~dingsync.dingtalk.tokens.token_key`
        #: unless the caller names it, as a suite's company client does).
        self.token_key = token_key or _token_key(app_key, corp_id)
        self._tokens = TokenCache(
            self.token_key,
            token_fetcher or self._fetch_access_token,
            store=token_store,
            refresh_margin=token_refresh_margin,
            min_margin=token_min_margin,
            clock=token_clock,
        )
        self._token_store = token_store
        self._close_token_store = close_token_store
        self._token_clock = token_clock
        self._token_refresh_margin = token_refresh_margin
        self._token_min_margin = token_min_margin

        from dingsync.dingtalk.approvals import ApprovalsAPI
        from dingsync.dingtalk.attendance import AttendanceAPI
        from dingsync.dingtalk.auth import AuthAPI
        from dingsync.dingtalk.contacts import ContactsAPI
        from dingsync.dingtalk.reports import ReportsAPI

        #: Contacts (通讯录): departments, users, admins, leavers, roles.
        self.contacts = ContactsAPI(self)
        #: Reports (日志): reports, receivers, comments, read/like lists, templates.
        self.reports = ReportsAPI(self)
        #: Attendance (考勤): results, punches, groups, schedules, report columns, leave.
        self.attendance = AttendanceAPI(self)
        #: Approvals (审批): templates, form schemas, instance ids, instances.
        self.approvals = ApprovalsAPI(self)
        #: Login-free code exchange and JSAPI tickets / ``dd.config`` signatures.
        self.auth = AuthAPI(self)

    def __repr__(self) -> str:
        return f"DingTalkClient(app_key={self.app_key!r}, oapi_url={self.oapi_url!r})"

    # -- lifecycle -----------------------------------------------------------------------------
    async def __aenter__(self) -> DingTalkClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections (httpx pools and the aiohttp session), the limiter's
        background task and an owned token store — each of them even when closing an earlier
        one failed or was cancelled (Ctrl-C while a sync unwinds); the first such error is
        raised after all were closed."""
        pools = [self._shared_pool, *self._pools.values()]
        self._pools.clear()
        closers: list[Callable[[], Awaitable[None]]] = [p.aclose for p in pools]
        if self._lean is not None:
            closers.append(self._lean.aclose)
        closers.append(self.limiter.aclose)
        closer = getattr(self._token_store, "aclose", None)
        if self._close_token_store and closer is not None:
            closers.append(closer)
        first: BaseException | None = None
        for close in closers:
            try:
                await close()
            except BaseException as exc:  # re-raised below, after the rest are closed
                first = first or exc
        if first is not None:
            raise first

    @asynccontextmanager
    async def stream_get(self, url: str) -> AsyncIterator[httpx.Response]:
        """``GET`` an absolute URL outside DingTalk's API envelopes — a signed download link
        such as an approval attachment's ``downloadUri`` — streamed: the response is open
        inside the block (read it with ``aiter_bytes``), the caller checks its status. No access
        token, no rate limiter, no retries; the URL is never logged (it carries a signature)."""
        async with self._shared_pool.borrow() as pool, pool.stream("GET", url) as response:
            yield response

    def _new_pool(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=httpx.Timeout(self._timeout),
            transport=self._transport,
            verify=_ssl_context(),
            http2=self._http2,
            limits=httpx.Limits(
                max_connections=self._max_connections,
                max_keepalive_connections=self._max_connections,
            ),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
        )

    def _pool_for(self, path: str) -> _PoolSet:
        pools = self._pools.get(path)
        if pools is not None:
            return pools
        if self._transport is not None or len(self._pools) >= self._max_pools:
            return self._shared_pool  # a given transport is one pool; beyond the cap, share
        pools = self._pools[path] = _PoolSet(self._new_pool, self._max_connections)
        return pools

    # -- token ---------------------------------------------------------------------------------
    async def get_access_token(self) -> str:
        """The app access token (cached; fetched at most once at a time)."""
        return await self._tokens.get()

    async def invalidate_access_token(self, value: str | None = None) -> None:
        """Drop the cached token (only if it is still ``value``, when given)."""
        current = self._tokens.peek()
        target = value if value is not None else (current.value if current else None)
        if target is not None:
            await self._tokens.invalidate(target)

    def _make_cache(self, key: str, fetch: Any, *, max_age: float | None = None) -> TokenCache:
        """A cache like the token's (same store, margins and clock) for another secret (JSAPI
        ticket); ``max_age``: see :class:`TokenCache`."""
        return TokenCache(
            key,
            fetch,
            store=self._token_store,
            refresh_margin=self._token_refresh_margin,
            min_margin=self._token_min_margin,
            clock=self._token_clock,
            max_age=max_age,
        )

    async def _fetch_access_token(self) -> tuple[str, float]:
        # Only appKey/appSecret: the optional ``corpId`` field is never sent (EB-04).
        if self.token_endpoint == "gettoken":
            body = await self.oapi(
                "GET",
                TOKEN_PATH_GETTOKEN,
                params={"appkey": self.app_key, "appsecret": self._app_secret},
                auth=False,
            )
        else:
            body = await self.api(
                "POST",
                TOKEN_PATH_V1,
                json={"appKey": self.app_key, "appSecret": self._app_secret},
                auth=False,
            )
        token = AccessToken.model_validate(body)
        return token.access_token, float(token.expires_in)

    # -- low-level calls -----------------------------------------------------------------------
    async def oapi(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        auth: bool = True,
    ) -> dict[str, Any]:
        """Call the old host (``oapi.dingtalk.com``): token in the ``access_token`` query
        parameter, success iff ``errcode`` is 0 (or absent). Returns the whole decoded body.
        A POST without ``json`` sends ``{}`` (DingTalk rejects an empty body with 40035).
        Raises :class:`~dingsync.dingtalk.errors.DingTalkError` subclasses."""
        if method.upper() == "POST" and json is None:
            json = {}
        return await self._call("oapi", method, path, params=params, json=json, auth=auth)

    async def api(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        auth: bool = True,
        user_token: str | None = None,
    ) -> dict[str, Any]:
        """Call the new host (``api.dingtalk.com``, ``/v1.0/…``): token in the
        ``x-acs-dingtalk-access-token`` header, errors as HTTP 4xx/5xx with ``{code, message,
        requestid}``. Returns the decoded body (``{}`` when empty).

        ``user_token``: send this *user* token (``/v1.0/oauth2/userAccessToken``) in the header
        instead of the app token; a rejected user token is raised (``TokenError``), never
        renewed, and scrubbed from the error's text."""
        if user_token is not None:
            return await self._call(
                "api", method, path, params=params, json=json, auth=False, user_token=user_token
            )
        return await self._call("api", method, path, params=params, json=json, auth=auth)

    async def _call(
        self,
        family: Family,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None,
        json: Any,
        auth: bool,
        user_token: str | None = None,
    ) -> dict[str, Any]:
        attempt = 0
        rate_limited = 0
        renewals = 0
        while True:
            self._check_ban(path)
            token: str | None = None
            retry_after: float | None = None
            sent = 0.0
            try:
                async with self.limiter.slot(path):
                    # Taken once the slot is ours, so the token is as fresh as can be when sent.
                    token = await self._tokens.get() if auth else user_token
                    sent = time.monotonic()
                    status, body, headers = await self._send(
                        family, method, path, params, json, token
                    )
            except httpx.UnsupportedProtocol as exc:
                raise DingTalkError("transport", self._scrub(str(exc), token), api=path) from None
            except httpx.TransportError as exc:
                err: DingTalkError | None = ServerError(
                    "network", f"{type(exc).__name__}: {self._scrub(str(exc), token)}", api=path
                )
            else:
                err = self._classify(family, path, status, body, headers)
                if err is None:
                    self._observe(path, "ok", sent)
                    return body if isinstance(body, dict) else {}
                retry_after = _retry_after(headers)
            assert err is not None
            self._observe(path, type(err).__name__, sent)
            self._scrub_error(err, token)
            if isinstance(err, TokenError) and auth and token is not None:
                budget = max(1, self.max_retries)  # one renewal even when retries are off
                newer, fetched = await self._tokens.renew(token)
                # Adopting a generation another call already fetched costs nothing: only the
                # renewals this call causes count against the budget.
                if newer != token and (not fetched or renewals < budget):
                    renewals += fetched
                    self.retries[path] += 1
                    log.info("dingtalk %s: token rejected (%s); renewed", path, err.reason)
                    continue
                raise err
            if isinstance(err, IPBannedError):
                if self.ip_ban_cooldown > 0:
                    self._banned_until = time.monotonic() + self.ip_ban_cooldown
                raise err
            # Rate-limit replies have their own, larger budget: DingTalk's advice is to wait and
            # never drop the page, and they say nothing about the server's health.
            if isinstance(err, RateLimitError):
                budget, tries = self.max_rate_limit_retries, rate_limited
            else:
                budget, tries = self.max_retries, attempt
            if isinstance(err, RateLimitError | ServerError) and tries < budget:
                delay = self._backoff(tries, err, retry_after)
                if isinstance(err, RateLimitError):
                    rate_limited += 1
                    # Every caller of the path (every process, with a shared limiter) waits.
                    await self.limiter.throttled(path, delay)
                else:
                    attempt += 1
                self.retries[path] += 1
                log.debug(
                    "dingtalk %s: %s; retry %d/%d in %.2fs",
                    path,
                    err.reason,
                    tries + 1,
                    budget,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            raise err

    async def _send(
        self,
        family: Family,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        json: Any,
        token: str | None,
    ) -> tuple[int, Any, Mapping[str, str]]:
        """The client's one HTTP exchange: returns (status, decoded JSON body — ``{}`` when
        empty, ``None`` when not JSON —, headers with ``get`` by lower-case name). Raises
        ``httpx.TransportError`` subclasses (both stacks)."""
        base = self.oapi_url if family == "oapi" else self.api_url
        query = {k: _query_value(v) for k, v in params.items() if v is not None} if params else {}
        headers: dict[str, str] = {}
        if token is not None:
            if family == "oapi":
                query["access_token"] = token
            else:
                headers["x-acs-dingtalk-access-token"] = token
        content: bytes | None = None
        if json is not None:
            content = _dumps(json)
            headers["Content-Type"] = "application/json"
        self.calls[path] += 1
        if path in (TOKEN_PATH_V1, TOKEN_PATH_GETTOKEN) and token is None:
            self.token_requests += 1
        method = method.upper()
        raw: bytes
        response_headers: Mapping[str, str]
        if self._lean is not None:
            slots = self._lean_slots.get(path)
            if slots is None:
                slots = self._lean_slots[path] = asyncio.Semaphore(self._max_connections)
            host_slots = self._host_slots.get(base)
            if host_slots is None and self.max_in_flight_per_host:
                host_slots = asyncio.Semaphore(self.max_in_flight_per_host)
                self._host_slots[base] = host_slots
            async with slots:
                if host_slots is None:
                    status, raw, response_headers = await self._lean.request(
                        method, base, path, query, headers, content
                    )
                else:
                    async with host_slots:
                        status, raw, response_headers = await self._lean.request(
                            method, base, path, query, headers, content
                        )
        else:
            async with self._pool_for(path).borrow() as pool:
                response = await pool.request(
                    method, base + path, params=query or None, content=content, headers=headers
                )
            status, raw, response_headers = (
                response.status_code,
                response.content,
                response.headers,
            )
        body: Any
        if not raw.strip():
            body = {}
        else:
            try:
                body = _loads(raw)  # a NUL stays: the store escapes it (store/nul.py)
            except ValueError:
                body = None  # not JSON: an HTML ban page or a gateway error
        return status, body, response_headers

    def _classify(
        self, family: Family, path: str, status: int, body: Any, headers: Mapping[str, str]
    ) -> DingTalkError | None:
        request_id = headers.get("x-acs-request-id")
        if body is None:
            if status >= 500:
                return ServerError(status, "non-JSON answer", api=path, http_status=status)
            if status == 429:
                return RateLimitError(status, "non-JSON answer", api=path, http_status=status)
            if status == 404:
                return NotFoundError(status, "non-JSON answer", api=path, http_status=status)
            if status in (200, 403):
                # EB-25: an IP ban may be an HTML page instead of DingTalk's envelope.
                return IPBannedError(
                    "ip_ban", "non-JSON answer (IP ban page?)", api=path, http_status=status
                )
            return DingTalkError(status, "non-JSON answer", api=path, http_status=status)
        if not isinstance(body, dict):
            if 200 <= status < 300 and family == "api":
                return None
            return DingTalkError(status, "unexpected answer shape", api=path, http_status=status)
        if is_ip_ban_body(body):
            return IPBannedError(
                "ip_ban", f"IP banned, wait {body.get('wait')}", api=path, http_status=status
            )
        if family == "oapi":
            if "errcode" not in body and status >= 400:
                return error_from_api_body(status, body, api=path, request_id=request_id)
            return error_from_oapi_body(
                body, api=path, http_status=None if status == 200 else status
            )
        if 200 <= status < 300:
            return None
        return error_from_api_body(status, body, api=path, request_id=request_id)

    def _observe(self, path: str, outcome: str, sent: float) -> None:
        took = time.monotonic() - sent if sent else 0.0
        for observer in self.observers:
            try:
                observer(path, outcome, took)
            except Exception:  # metrics must never break a call
                log.debug("call observer failed", exc_info=True)

    def _backoff(self, attempt: int, err: DingTalkError, retry_after: float | None) -> float:
        cap = min(self.backoff_max, self.backoff_base * (2**attempt))
        delay = random.uniform(0, cap)
        if isinstance(err, RateLimitError):
            delay += self.rate_limit_pause
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff_max))
        return delay

    def _check_ban(self, path: str) -> None:
        remaining = self._banned_until - time.monotonic()
        if remaining > 0:
            raise IPBannedError(
                "ip_ban",
                f"calls paused after an IP ban, {remaining:.0f}s left",
                api=path,
            )

    def _scrub(self, text: str, token: str | None = None) -> str:
        secrets = [self._app_secret]
        current = self._tokens.peek()
        if current is not None:
            secrets.append(current.value)
        if token:
            secrets.append(token)
        for secret in secrets:
            if secret and secret in text:
                text = text.replace(secret, "***")
        return text

    def _scrub_error(self, err: DingTalkError, token: str | None) -> None:
        clean = self._scrub(err.errmsg, token)
        if clean != err.errmsg:
            err.errmsg = clean
            err.args = (err._message(),)


_SECRET_QUERY = re.compile(r"((?:access_token|appsecret|corpsecret)=)[^&\s\"']+", re.IGNORECASE)


class _RedactSecrets(logging.Filter):
    """Masks ``access_token``/``appsecret`` query values in httpx's request log lines (old-family
    URLs carry the token; ``/gettoken`` the secret)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                _SECRET_QUERY.sub(r"\1***", str(a)) if isinstance(a, httpx.URL | str) else a
                for a in record.args
            )
        return True


@functools.cache
def _install_log_redaction() -> None:
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).addFilter(_RedactSecrets())


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context for every pool: building one loads the CA bundle (~50 ms, blocking)."""
    return httpx.create_ssl_context()


class _PoolSet:
    """Connections of one API path, spread over small httpx pools.

    httpcore's pool scans all its connections (quadratically) and its queue on every request,
    so one pool of 64 connections burns milliseconds of CPU per call; pools of
    ``POOL_SIZE`` behind a semaphore keep that cost flat. Pools are created as load needs them.
    """

    POOL_SIZE = 8

    def __init__(
        self,
        factory: Callable[[], httpx.AsyncClient],
        max_connections: int,
        *,
        pool_size: int = POOL_SIZE,
    ) -> None:
        self._factory = factory
        self._pool_size = max(1, pool_size)
        count = max(1, -(-max_connections // self._pool_size))
        self._pools: list[httpx.AsyncClient | None] = [None] * count
        self._in_use = [0] * count
        self._slots = asyncio.Semaphore(count * self._pool_size)

    @asynccontextmanager
    async def borrow(self) -> AsyncIterator[httpx.AsyncClient]:
        """A pool with a free connection slot (waits when all are busy)."""
        async with self._slots:
            index = next(i for i, n in enumerate(self._in_use) if n < self._pool_size)
            pool = self._pools[index]
            if pool is None:
                pool = self._pools[index] = self._factory()
            self._in_use[index] += 1
            try:
                yield pool
            finally:
                self._in_use[index] -= 1

    async def aclose(self) -> None:
        pools = [p for p in self._pools if p is not None]
        self._pools = [None] * len(self._pools)
        for pool in pools:
            await pool.aclose()


def _dumps(value: Any) -> bytes:
    return jsonlib.dumps(value, ensure_ascii=False).encode()


#: ``bytes.translate`` table of :func:`_loads`' guard: digits → ``0``; what may stand before a
#: JSON number (``:``, ``[``, ``,``, ``-``, whitespace) → ``:``; anything else → a space.
_NUMBER_EDGES = bytes(
    0x30 if 0x30 <= b <= 0x39 else 0x3A if b in b":[,- \t\r\n" else 0x20 for b in range(256)
)
#: 19 digits: the shortest integer orjson may not hold (beyond −2⁶³ … 2⁶⁴−1 it gives a float).
_LONG_DIGITS = b"0" * 19
_LONG_NUMBER = b":" + _LONG_DIGITS


def _loads(raw: bytes) -> Any:
    """DingTalk's answer ``raw`` decoded exactly as ``json.loads`` decodes it — its value, or
    its ``ValueError`` for a body that is not JSON (an HTML ban page, a gateway's error) — at
    a fraction of its CPU.

    orjson decodes the answer unless it may hold an integer orjson cannot: orjson turns one
    beyond 64 bits into a ``float`` (silently: ``2**64`` comes back as ``1.8446744073709552e19``)
    where ``json`` gives the exact ``int``. A run of 19 digits after ``:``, ``[``, ``,``,
    ``-`` or whitespace (one ``bytes.translate`` and a substring search, ~2 µs for a page of
    users; digits inside a string such as a numeric userid are preceded by a quote) sends the
    body to ``json.loads``; so does anything orjson refuses (``NaN``/``Infinity``, a UTF-8 BOM,
    a lone surrogate escape, text that is not JSON)."""
    edges = raw.translate(_NUMBER_EDGES)
    if _LONG_NUMBER in edges or edges.startswith(_LONG_DIGITS):
        return jsonlib.loads(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return jsonlib.loads(raw)


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
