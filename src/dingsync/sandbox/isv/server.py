"""A sandbox hosting a third-party (ISV) suite and its companies on one port.

:class:`IsvSandboxServer` is a :class:`~dingsync.sandbox.server.SandboxServer` whose own app is
the suite: its ``app_key``/``app_secret`` are the suite key/secret, so the Stream gateway
(``connections/open`` with ``clientId`` = suite key) and console-style HTTP subscriptions
(``/sandbox/events/callback``, receiver id = suite key, events.md §1.1) are the suite's
channels, and every ISV event (``suite_ticket``, ``org_suite_auth`` …) goes out there with
``eventCorpId`` naming the company. :class:`IsvASGI` routes each request:

- the ISV endpoints (``handlers.ISV_PATHS``, and ``/v1.0/oauth2/{corpId}/token`` for a company
  of the suite), ``/sandbox/isv/*`` and
  ``/sandbox/mutate/isv/*`` → the suite;
- ``/sandbox/corps/{corp_id}/…`` → that company's own control endpoints
  (``/sandbox/corps/{corp_id}/company`` is the company's ``/sandbox/company``, likewise
  ``…/authcode``, ``…/mutate/contacts/hire`` …; the longer ``…/{corp_id}/sandbox/authcode``
  is still understood);
- any other call whose access token (``access_token`` query or ``x-acs-dingtalk-access-token``)
  a company issued → that company's sandbox (contacts, reports, attendance, approvals …);
- the browser login with the suite key as ``client_id`` (DingTalk's third-party enterprise
  app, auth-contacts.md §3.1–§3.2): ``/oauth2/auth?…&corpId=`` → that company's login page
  (refused there unless it authorises the suite: relieved or app stopped → an error page),
  without ``corpId`` → a list of the authorising companies; ``POST
  /v1.0/oauth2/userAccessToken {clientId: suiteKey, clientSecret: suiteSecret, code}`` → the
  company whose login minted the code (which refuses it once relieved); ``/v1.0/contact/
  users/me`` goes by its user token like any call;
- everything else → the host sandbox (the default single company stays as it was).

Control endpoints: ``GET /sandbox/isv`` (suite key/secret/id, the current ticket, each company's
status), ``POST /sandbox/isv/push_ticket`` (``{"renew": true}``: a new ticket pushed now),
``POST /sandbox/mutate/isv/authorize {corp_id, scope_dept_ids?}``, ``…/change_scope {corp_id,
scope_dept_ids}``, ``…/relieve {corp_id}``, ``…/app {corp_id, action: stop|restore|remove}``;
400 ``400002`` for a malformed body, 404 for an unknown company, 409 (``41030``) to change or
relieve a company that has not authorised the suite, as the other
mutations (``sandbox/mutations.py``). The ticket schedule runs on the sandbox clock: a new
``suite_ticket`` is pushed whenever ``ticket_interval_s`` passed (moving the clock is enough).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse

from dingsync.sandbox.app import Route, SandboxASGI, _Api
from dingsync.sandbox.clock import Clock
from dingsync.sandbox.config import SandboxConfig
from dingsync.sandbox.isv.config import IsvConfig
from dingsync.sandbox.isv.events import IsvEvent
from dingsync.sandbox.isv.handlers import IsvHandlers
from dingsync.sandbox.isv.suite import IsvCorp, IsvSuite
from dingsync.sandbox.login import error_page
from dingsync.sandbox.mutations import (
    MutationConflict,
    MutationError,
    UnknownEntity,
    read_body,
    validate,
)
from dingsync.sandbox.server import SandboxServer

Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]

CORPS_PREFIX = "/sandbox/corps/"
#: DingTalk's browser login page and the code exchange (``sandbox/login.py``, ``auth.py``).
AUTHORIZE_PATH = "/oauth2/auth"
USER_TOKEN_PATH = "/v1.0/oauth2/userAccessToken"


class _CorpBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    corp_id: str


class _AuthorizeBody(_CorpBody):
    scope_dept_ids: list[int] | None = None


class _ScopeBody(_CorpBody):
    scope_dept_ids: list[int] | None


class _AppBody(_CorpBody):
    action: str


class IsvASGI:
    """Routes requests between the suite, its companies and the host (module docstring)."""

    def __init__(self, host: SandboxASGI, suite: IsvSuite) -> None:
        self.host = host
        self.suite = suite
        self.api = _Api(host.state)
        self.routes: dict[str, Route] = {r.path: r for r in IsvHandlers(suite).routes()}
        self.control = _control_app(suite)
        self.unified = IsvHandlers(suite).unified_token_route()
        self._ticker: asyncio.Task[None] | None = None

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        self._ensure_ticker()
        if scope["type"] != "http":
            await self.host(scope, receive, send)
            return
        path: str = scope["path"]
        route = self.routes.get(path)
        if route is not None:
            response = await self.api.handle(route, Request(scope, receive))
            await response(scope, receive, send)
            return
        if path.startswith("/v1.0/oauth2/") and path.endswith("/token"):
            corp_id = path[len("/v1.0/oauth2/") : -len("/token")]
            if corp_id in self.suite.corps:  # the unified token of an authorising company
                scope["path_params"] = {"corpId": corp_id}
                request = Request(scope, receive)
                response = await self.api.handle(self.unified, request, path_key=path)
                await response(scope, receive, send)
                return
        if path == AUTHORIZE_PATH:
            await self._authorize(scope, receive, send)
            return
        if path == USER_TOKEN_PATH and scope.get("method") == "POST":
            await self._user_token(scope, receive, send)
            return
        if path == "/sandbox/isv" or path.startswith(("/sandbox/isv/", "/sandbox/mutate/isv/")):
            await self.control(scope, receive, send)
            return
        if path.startswith(CORPS_PREFIX):
            corp_id, _, rest = path[len(CORPS_PREFIX) :].partition("/")
            corp = self.suite.corps.get(corp_id)
            if corp is None:
                await JSONResponse({"error": f"unknown corp_id {corp_id!r}"}, 404)(
                    scope, receive, send
                )
                return
            inner = dict(scope)
            inner["path"] = "/" + rest if rest.startswith("sandbox/") else "/sandbox/" + rest
            inner["raw_path"] = inner["path"].encode()
            await corp.asgi(inner, receive, send)
            return
        corp = self.suite.corp_of_token(_token_of(scope))
        if corp is not None:
            await corp.asgi(scope, receive, send)
            return
        await self.host(scope, receive, send)

    # -- the browser login with the suite key as client_id ----------------------------------
    async def _authorize(
        self, scope: MutableMapping[str, Any], receive: Receive, send: Send
    ) -> None:
        """``/oauth2/auth`` (GET, and the picker's POST): with ``client_id`` = the suite key, the
        company ``corpId`` names (its own login page, which refuses it unless it authorises the
        suite); no ``corpId``: a list of the authorising companies to choose from; an unknown
        one: an error page. Any other ``client_id`` → the host."""
        body, replay = await _buffer(receive)
        if scope.get("method") == "POST":
            params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        else:
            query = bytes(scope.get("query_string") or b"").decode("latin-1")
            params = dict(parse_qsl(query, keep_blank_values=True))
        if params.get("client_id") != self.suite.suite_key:
            await self.host(scope, replay, send)
            return
        corp_id = params.get("corpId") or ""
        corp = self.suite.corps.get(corp_id)
        if corp is not None:
            await corp.asgi(scope, replay, send)
            return
        if corp_id:
            await error_page("该组织未授权此应用 (corpId)")(scope, replay, send)
            return
        await HTMLResponse(self._org_picker(params))(scope, replay, send)

    def _org_picker(self, params: dict[str, str]) -> str:
        """DingTalk's choice of organisation (``scope=openid corpid`` without ``corpId``): the
        companies that authorise the suite, each a link to the login page with its ``corpId``."""
        rows = []
        for corp in sorted(self.suite.corps.values(), key=lambda c: c.corp_id):
            if not self.suite.token_allowed(corp):
                continue
            href = AUTHORIZE_PATH + "?" + urlencode({**params, "corpId": corp.corp_id})
            name = html.escape(corp.state.company.corp_name)
            rows.append(
                f'<li><a href="{html.escape(href)}" data-corpid="{html.escape(corp.corp_id)}">'
                f"{name}</a></li>"
            )
        items = "".join(rows) or "<li>没有授权此应用的组织</li>"
        return (
            '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            "<title>钉钉登录 · 选择组织</title></head><body>"
            f'<div data-testid="sandbox-orgs"><h1>选择要登录的组织</h1><ul>{items}</ul></div>'
            "</body></html>"
        )

    async def _user_token(
        self, scope: MutableMapping[str, Any], receive: Receive, send: Send
    ) -> None:
        """``POST /v1.0/oauth2/userAccessToken`` with ``clientId`` = the suite key → the company
        whose login minted the code (or issued the refresh token), which checks the suite's
        secret and that it still authorises the suite; anything else → the host."""
        body, replay = await _buffer(receive)
        try:
            data = json.loads(body or b"null")
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("clientId") == self.suite.suite_key:
            code, refresh = data.get("code"), data.get("refreshToken")
            corp = self.suite.corp_of_login_code(
                code if isinstance(code, str) else None,
                refresh if isinstance(refresh, str) else None,
            )
            if corp is not None:
                await corp.asgi(scope, replay, send)
                return
        await self.host(scope, replay, send)

    # -- the ticket schedule (sandbox clock) ---------------------------------------------------
    def _ensure_ticker(self) -> None:
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.get_running_loop().create_task(self._tick_loop())

    async def _tick_loop(self) -> None:
        while True:
            with contextlib.suppress(Exception):  # the schedule must not die
                if self.suite.due():
                    self.suite.push_ticket()
            await asyncio.sleep(0.05)


async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body and a ``receive`` that replays it (for routing on the body)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _token_of(scope: MutableMapping[str, Any]) -> str | None:
    for name, value in scope.get("headers") or ():
        if name == b"x-acs-dingtalk-access-token":
            return bytes(value).decode("latin-1")
    query = bytes(scope.get("query_string") or b"").decode("latin-1")
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == "access_token":
            return value
    return None


def _control_app(suite: IsvSuite) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    def corp_of(corp_id: str) -> IsvCorp:
        corp = suite.corps.get(corp_id)
        if corp is None:
            raise UnknownEntity("corp_id", corp_id, 41030, "企业不存在")
        return corp

    def answer(ev: IsvEvent, corp: IsvCorp) -> JSONResponse:
        return JSONResponse(
            {"event_id": ev.event_id, "event_type": ev.event_type, "born_ms": ev.born_ms,
             "corp_id": corp.corp_id, "status": corp.status, "app_status": corp.app_status}
        )  # fmt: skip

    @app.get("/sandbox/isv")
    async def info() -> JSONResponse:
        return JSONResponse(
            {
                "suite_key": suite.suite_key,
                "suite_secret": suite.suite_secret,
                "suite_id": suite.suite_id,
                "suite_ticket": suite.ticket,
                "test_suite": suite.config.test_suite,
                "flow": suite.config.flow,
                **suite.stats(),
            }
        )

    @app.post("/sandbox/isv/push_ticket")
    async def push_ticket(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            body = {}
        renew = not (isinstance(body, dict) and body.get("renew") is False)
        ev = suite.push_ticket(renew=renew)
        return JSONResponse({"event_id": ev.event_id, "born_ms": ev.born_ms})

    @app.post("/sandbox/mutate/isv/{action}")
    async def mutate(action: str, request: Request) -> JSONResponse:
        try:
            data = await read_body(request)
            if action == "authorize":
                a = validate(_AuthorizeBody, data)
                corp = corp_of(a.corp_id)
                return answer(suite.authorise(corp, a.scope_dept_ids), corp)
            if action == "change_scope":
                s = validate(_ScopeBody, data)
                corp = corp_of(s.corp_id)
                if corp.status != "authorised":
                    raise MutationConflict("the company has not authorised the suite", 41030)
                return answer(suite.change_scope(corp, s.scope_dept_ids), corp)
            if action == "relieve":
                r = validate(_CorpBody, data)
                corp = corp_of(r.corp_id)
                if corp.status != "authorised":
                    raise MutationConflict("the company has not authorised the suite", 41030)
                return answer(suite.relieve(corp), corp)
            if action == "app":
                b = validate(_AppBody, data)
                corp = corp_of(b.corp_id)
                if b.action not in ("stop", "restore", "remove"):
                    raise MutationError(f"unknown app action {b.action!r}")
                return answer(suite.app_action(corp, b.action), corp)
            raise MutationError(f"unknown action {action!r}")
        except MutationError as exc:
            return exc.response()

    return app


class IsvSandboxServer(SandboxServer):
    """A sandbox suite with ``isv.corps`` companies (see the module docstring).

    Attributes besides ``SandboxServer``'s: ``suite`` (:class:`IsvSuite`), ``suite_key``,
    ``suite_secret``, ``corps`` (``corp_id → IsvCorp``: ``.state.company`` is each company's
    truth). ``config`` is the host's (the suite's own app, whose key is the suite key).
    """

    def __init__(
        self,
        isv: IsvConfig | None = None,
        config: SandboxConfig | None = None,
        *,
        clock: Clock | None = None,
        **kw: Any,
    ) -> None:
        isv = isv or IsvConfig()
        base = config or SandboxConfig(seed=isv.seed, users=12, days=1, qps_limit=None)
        base = base.model_copy(update={"app_key": isv.suite_key, "app_secret": isv.suite_secret})
        base = SandboxConfig.model_validate(base.model_dump())
        super().__init__(base, clock=clock, **kw)
        self.suite = IsvSuite(isv, self.state)
        self.asgi = IsvASGI(self.asgi, self.suite)  # type: ignore[assignment]
        self.suite.push_ticket(renew=False)
        if isv.authorised:
            for corp in self.suite.corps.values():
                self.suite.authorise(corp)

    def start(self) -> IsvSandboxServer:
        super().start()
        return self

    def __enter__(self) -> IsvSandboxServer:
        return self.start()

    @property
    def suite_key(self) -> str:
        return self.suite.suite_key

    @property
    def suite_secret(self) -> str:
        return self.suite.suite_secret

    @property
    def corps(self) -> dict[str, IsvCorp]:
        return self.suite.corps

    def corp_url(self, corp_id: str) -> str:
        """``{base_url}/sandbox/corps/{corp_id}``: that company's own control endpoints
        (``…/authcode``, ``…/config``, ``…/mutate/contacts/hire`` …)."""
        return f"{self.base_url}{CORPS_PREFIX}{corp_id}"


def run_isv_sandbox(
    isv: IsvConfig, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 8900
) -> None:
    """Run a sandbox suite in the foreground until interrupted (``dingsync sandbox --isv``):
    prints the suite's credentials, its companies and the variables that point dingsync at
    it, then serves on ``host:port``."""
    import uvicorn
    from rich.console import Console
    from rich.table import Table

    from dingsync.sandbox.server import _uvicorn_config

    sb = IsvSandboxServer(isv, config, host=host, port=port)
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    base_url = f"http://{shown}:{port}"
    console = Console()
    table = Table(title=f"dingsync sandbox — suite {sb.suite_key}")
    for col in ("company", "corpId", "agentId", "people", "status"):
        table.add_column(col)
    for corp in sb.corps.values():
        table.add_row(
            corp.state.company.corp_name,
            corp.corp_id,
            corp.agent_id,
            str(len(corp.state.company.users)),
            corp.status,
        )
    console.print(table)
    console.print(
        f"control: {base_url}/sandbox/isv · POST /sandbox/isv/push_ticket · "
        "POST /sandbox/mutate/isv/{authorize,change_scope,relieve,app} · "
        "/sandbox/corps/{corpId}/{authcode,config,mutate/…}"
    )
    console.print("Point dingsync at it:", style="bold")
    for key, value in (
        ("DINGTALK_SUITE_KEY", sb.suite_key),
        ("DINGTALK_SUITE_SECRET", sb.suite_secret),
        ("DINGTALK_OAPI_URL", base_url),
        ("DINGTALK_API_URL", base_url),
    ):
        console.print(f"export {key}={value}", soft_wrap=True, highlight=False)
    uvicorn.Server(_uvicorn_config(sb.asgi, host, port)).run()
