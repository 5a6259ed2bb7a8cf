"""The FastAPI application: :func:`create_app`.

Routers (``web/routers/``): one per data area (:data:`AREA_ROUTERS`: directory — ``/api/me``,
``/api/departments``, ``/api/users`` — for contacts, then reports, attendance, approvals) and the
service's own (:data:`SERVICE_ROUTERS`: auth, jsapi, admin, exports, the events callback).
OpenAPI docs at ``/docs``. Every failure is ``{"error": {"code", "message"}}`` with a stable code
(:mod:`dingsync.web.errors`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

import dingsync.metrics as metrics
from dingsync.config import Settings
from dingsync.dingtalk import DingTalkClient, DingTalkError
from dingsync.web.console import add_console
from dingsync.web.console.errors import console_web_error, error_page, is_console
from dingsync.web.context import WebContext
from dingsync.web.docs import add_docs
from dingsync.web.errors import COMMON_ERRORS, ERRORS, WebError, responses
from dingsync.web.guards import RequestGuard
from dingsync.web.models import TYPED, Health
from dingsync.web.options import DemoLogins, WebOptions, check_demo_logins
from dingsync.web.routers import (
    admin,
    approvals,
    attendance,
    auth,
    callbacks,
    directory,
    exports,
    jsapi,
    reports,
)

log = logging.getLogger("dingsync.web")

#: FastAPI/Starlette HTTP statuses → the stable code answered (see :data:`ERRORS`).
_HTTP_CODES = {
    404: "not_found",
    403: "forbidden",
    401: "session.missing",
    405: "method_not_allowed",
    413: "request.too_large",
}
assert all(code in ERRORS for code in _HTTP_CODES.values())

#: The router of each data area (:data:`dingsync.areas.AREA_NAMES`).
AREA_ROUTERS: dict[str, APIRouter] = {
    "contacts": directory.router,
    "reports": reports.router,
    "attendance": attendance.router,
    "approvals": approvals.router,
}
#: Routers of the service itself: login, JSAPI signing, administration, exports, callbacks.
SERVICE_ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    jsapi.router,
    admin.router,
    exports.router,
    callbacks.router,
)


def _guard_page(scope: Any, code: str, message: str) -> Response | None:
    """The request guard's refusal on a console path: the console's HTML error page (with the
    viewer's menu), not the API's JSON body; ``None`` elsewhere."""
    request = Request(scope)
    if not is_console(request):
        return None
    shown = "请求地址中含有不允许的字符（%00，空字符），请检查链接。"
    return error_page(request, code, 422, shown)


def _documented_order(app: FastAPI, routers: tuple[APIRouter, ...]) -> None:
    """Make ``app``'s OpenAPI document list the paths of ``routers`` first, in that order, then
    the others as generated — the order the document had when the routers were included in
    that order (only the paths' order depends on it)."""
    generate = app.openapi
    first = list(
        dict.fromkeys(str(getattr(route, "path", "")) for r in routers for route in r.routes)
    )

    def openapi() -> dict[str, Any]:
        schema = generate()
        paths = schema.get("paths") or {}
        ordered = [p for p in first if p in paths]
        seen = set(ordered)
        ordered += [p for p in paths if p not in seen]
        if list(paths) != ordered:
            schema["paths"] = {p: paths[p] for p in ordered}
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    client: DingTalkClient | None = None,
    options: WebOptions | None = None,
    clock: Callable[[], float] | None = None,
    demo_logins: DemoLogins | None = None,
) -> FastAPI:
    """The web service for the organisation of ``settings``.

    - ``engine``: the database (default: ``settings.database_url``, migrated to the latest
      revision).
    - ``client``: a DingTalk client to use (default: built from ``settings`` on the server's
      event loop, token and JSAPI ticket shared through the database, closed on shutdown).
    - ``options``: :class:`WebOptions` (default: from ``DINGSYNC_WEB_*``).
    - ``clock``: epoch seconds (default ``time.time``); sessions and the replay window use it.
    - ``demo_logins``: the console's one-click sandbox logins (``dingsync demo`` only);
      ``ValueError`` when ``settings.login_url`` is not that sandbox on a loopback address.
    """
    if demo_logins is not None:
        check_demo_logins(demo_logins, settings.login_url)
    if engine is None:
        from dingsync.sync.runner import open_database

        engine = open_database(settings)
    opts = options or WebOptions()
    kwargs: dict[str, Any] = {"client": client}
    if clock is not None:
        kwargs["clock"] = clock
    ctx = WebContext(settings, engine, opts, **kwargs)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if opts.warm_up and ctx.has_client:
            try:  # the login then finds the token and the ticket in the cache
                await ctx.client.get_access_token()
                await ctx.client.auth.get_jsapi_ticket()
            except DingTalkError as exc:
                log.warning("warm-up failed (the first login will retry): %s", exc)
        try:
            yield
        finally:
            await ctx.aclose()

    app = FastAPI(
        title="dingsync",
        summary="Your DingTalk organisation in your own apps: login, directory, data, exports.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # add_docs serves it from the package
        redoc_url=None,
    )
    add_docs(app)
    app.state.web = ctx
    app.state.demo_logins = demo_logins
    app.add_middleware(RequestGuard, max_body_bytes=opts.max_body_bytes, page=_guard_page)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        """Prometheus text exposition: this process's metrics (every process's on the host
        with ``PROMETHEUS_MULTIPROC_DIR``), sync lag and the event inbox (docs/deploy.md)."""
        import anyio

        body, content_type = await anyio.to_thread.run_sync(
            lambda: metrics.exposition(ctx.engine, [ctx.corp_id], settings.metrics_dir)
        )
        return Response(body, media_type=content_type)

    @app.exception_handler(WebError)
    async def _web_error(request: Request, exc: WebError) -> Response:
        if is_console(request):
            return console_web_error(request, exc)
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        return JSONResponse(WebError("request.invalid", details=details).body(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and is_console(request):
            return error_page(request, "not_found", 404, "页面不存在，或您没有权限查看。")
        if exc.status_code == 405 and is_console(request):
            # A console address typed or bookmarked (GET /console/logout, a form's action) is
            # the console's page, not the API's JSON body.
            page = error_page(request, "method_not_allowed", 405, "此地址不能直接打开。")
            page.headers.update(getattr(exc, "headers", None) or {})
            return page
        # Every answer carries a code of the table (errors.ERRORS): FastAPI's own refusals are
        # mapped onto it (an unparsable body — e.g. JSON nested too deep — is request.invalid).
        code = _HTTP_CODES.get(exc.status_code)
        if code is None:
            code = "internal" if exc.status_code >= 500 else "request.invalid"
        message = None if exc.status_code in (401, 403, 404) else str(exc.detail)
        err = WebError(code, message)
        headers = getattr(exc, "headers", None)
        return JSONResponse(err.body(), status_code=err.status, headers=headers)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if is_console(request):
            # The console's own page (code ``internal``, nothing of the error shown); should
            # that page fail too (the fault may be in what it reads), the JSON body below.
            try:
                return error_page(request, "internal", 500, "服务暂时出错，请稍后再试。")
            except Exception:
                log.exception("the console's error page failed too")
        return JSONResponse(WebError("internal").body(), status_code=500)

    # The login's router is matched first: FastAPI tries the routes one by one, each through
    # its included router's bookkeeping, and the login was behind the data areas' 20 routes
    # (~8 % of a login's samples at 100 in flight, issue 17). Its paths are its own (no other
    # route matches /api/auth/…), so no request is routed differently; the OpenAPI document
    # keeps the documented order (:func:`_documented_order`).
    documented = (*AREA_ROUTERS.values(), *SERVICE_ROUTERS)
    for router in (auth.router, *(r for r in documented if r is not auth.router)):
        app.include_router(router)
    add_console(app)
    _documented_order(app, documented)
    # The micro-app's login as a plain route in front of FastAPI's (same answers and errors,
    # the OpenAPI document from FastAPI's: :func:`auth.login_route`).
    app.router.routes.insert(0, auth.login_route())

    @app.get(
        "/healthz",
        tags=["meta"],
        summary="Liveness",
        response_model=Health,
        responses=responses(*COMMON_ERRORS),
        **TYPED,
    )
    def healthz() -> dict[str, Any]:
        if not ctx.multi:
            return {"ok": True, "corp_id": ctx.corp_id}
        from dingsync.store import repo_corps

        with ctx.engine.connect() as conn:
            active = [r["corp_id"] for r in repo_corps.list_corps(conn) if r["status"] == "active"]
        default = ctx.corp_id if ctx.settings.has_credentials else None
        return {"ok": True, "corp_id": default, "companies": len(active), "corps": active}

    return app
