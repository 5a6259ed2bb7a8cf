"""The console's error pages: a missing session redirects to the login, a page or record the
viewer may not see is an HTML 404 (never a 403: it does not tell that the record exists), a
:class:`~dingsync.web.errors.WebError` raised by a data function on a console path is shown as
a page with its stable code."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dingsync.web.console import params
from dingsync.web.console.render import render
from dingsync.web.console.session import (
    COOKIE,
    LOGIN_PATH,
    ConsoleSession,
    LoginRequired,
    PageNotFound,
)
from dingsync.web.deps import caller_for_token, get_ctx
from dingsync.web.errors import WebError

#: Console paths (pages answer HTML, not the API's JSON error body).
CONSOLE_PATHS = ("/console",)


def is_console(request: Request) -> bool:
    """Whether ``request`` is for a console page."""
    path = request.url.path
    return any(path == p or path.startswith(p + "/") for p in CONSOLE_PATHS)


def login_redirect(request: Request, reason: str, next_url: str | None) -> Response:
    """303 to the login page (``?next=`` the page asked for, ``&reason=`` the session's error
    code); for htmx requests 401 with ``HX-Redirect`` so the whole page goes there."""
    target = LOGIN_PATH + f"?reason={quote(reason)}"
    if next_url and next_url.startswith("/console") and not next_url.startswith(LOGIN_PATH):
        target += f"&next={quote(next_url, safe='')}"
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _session_or_none(request: Request) -> ConsoleSession | None:
    """The console session of ``request`` when its cookie holds a live one (the error page then
    keeps the menu and the user bar), else ``None``."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return ConsoleSession(caller_for_token(get_ctx(request), token), token)
    except WebError:
        return None


def error_page(request: Request, code: str, status: int, message: str) -> HTMLResponse:
    """An HTML error page with the stable ``code`` (with the viewer's menu when the request has
    a live session; no session details otherwise)."""
    return render(
        request,
        _session_or_none(request),
        "error.html",
        title=f"{status}",
        status_code=status,
        code=code,
        message=message,
        status=status,
    )


def install(app: FastAPI) -> None:
    """Register the console's exception handlers on ``app``."""

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return login_redirect(request, exc.reason, exc.next_url)

    @app.exception_handler(PageNotFound)
    async def _not_found(request: Request, exc: PageNotFound) -> Response:
        return error_page(request, "not_found", 404, "页面不存在，或您没有权限查看。")


#: What a console page says for the service's error codes a console user can meet (the API's
#: messages are English; the console speaks Chinese). Codes not here: :func:`params.zh`.
PAGE_MESSAGES = {
    "csrf.invalid": "页面已过期（可能已在其他标签页重新登录或退出）：请刷新页面后重试。",
    "export.forbidden": "您没有导出此类数据的权限。",
    "export.kind_unknown": "没有这种导出。",
    "corp.inactive": "该企业的应用已停用或被移除，无法登录和使用。",
    "corp.unknown": "本服务不服务该企业（corpId）。",
    "request.too_large": "提交的内容过大。",
    "internal": "服务内部错误，请稍后重试。",
}


def console_web_error(request: Request, exc: WebError) -> Response:
    """A :class:`WebError` on a console path as an HTML page (404 for ``not_found``), its
    message in Chinese (:data:`PAGE_MESSAGES`, else :func:`params.zh`); the code as it is."""
    if exc.code == "not_found":
        return error_page(request, "not_found", 404, "页面不存在，或您没有权限查看。")
    message = PAGE_MESSAGES.get(exc.code) or params.zh(exc)
    return error_page(request, exc.code, exc.status, message)
