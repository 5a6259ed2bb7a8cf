"""Console sessions: the API's session (``web_sessions``) in a cookie, and CSRF tokens.

- Cookie :data:`COOKIE` holds the same opaque token the API hands out as a bearer token;
  ``HttpOnly``, ``SameSite=Lax``, ``Secure`` when the request came over https, ``Max-Age`` the
  session's lifetime. The same rules apply as to the API: expiry, revocation, people who left,
  local disabling (:func:`dingsync.web.deps.caller_for_token`).
- A page without a live session redirects to :data:`LOGIN_PATH` (htmx requests get 401 with an
  ``HX-Redirect`` header instead).
- CSRF: :func:`csrf_token` is an HMAC of the session token, so it needs no storage and dies
  with the session. Every state-changing request (POST) must carry it as the form field
  ``csrf_token`` or the header ``X-CSRF-Token`` (:func:`check_csrf`); otherwise 403
  ``csrf.invalid``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response

from dingsync.web.console.nav import NAV_BY_KEY
from dingsync.web.deps import Caller, Ctx, caller_for_token
from dingsync.web.errors import WebError

#: The session cookie's name.
COOKIE = "dingsync_session"
#: The login page.
LOGIN_PATH = "/console/login"
#: Form field and header that carry the CSRF token.
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class LoginRequired(Exception):
    """No live console session: the page redirects to the login (``reason``: the API's error
    code, e.g. ``session.expired``)."""

    def __init__(self, reason: str, next_url: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.next_url = next_url


class PageNotFound(Exception):
    """A console URL this viewer may not use, or that does not exist: an HTML 404."""


@dataclass(frozen=True)
class ConsoleSession:
    """A console request's caller (the API's :class:`~dingsync.web.deps.Caller`) and its
    session ``token`` (for the CSRF token)."""

    caller: Caller
    token: str

    @property
    def viewer(self):  # type: ignore[no-untyped-def]  # rules.Viewer
        return self.caller.viewer

    @property
    def userid(self) -> str:
        return self.caller.userid

    @property
    def csrf(self) -> str:
        return csrf_token(self.token)


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session (hex, 64 characters)."""
    return hmac.new(session_token.encode(), b"dingsync-console-csrf", hashlib.sha256).hexdigest()


def set_session_cookie(request: Request, response: Response, token: str, max_age_s: int) -> None:
    """Put ``token`` in the session cookie of ``response``."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=max(0, int(max_age_s)),
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
        path="/",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    """Remove the session cookie."""
    response.delete_cookie(
        COOKIE, path="/", httponly=True, secure=request.url.scheme == "https", samesite="lax"
    )


def console_session(request: Request, ctx: Ctx) -> ConsoleSession:
    """The console's caller from the cookie. Raises :class:`LoginRequired` when there is no
    cookie or its session is not live (expired, revoked, the person left or is disabled)."""
    token = request.cookies.get(COOKIE)
    next_url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not token:
        raise LoginRequired("session.missing", next_url)
    try:
        caller = caller_for_token(ctx, token)
    except WebError as exc:
        raise LoginRequired(exc.code, next_url) from exc
    return ConsoleSession(caller, token)


ConsoleCaller = Annotated[ConsoleSession, Depends(console_session)]


def page_caller(key: str):  # type: ignore[no-untyped-def]
    """A dependency for the page ``key`` of :data:`~dingsync.web.console.nav.NAV`: the caller,
    or :class:`PageNotFound` (404) when the page is not for them."""
    item = NAV_BY_KEY[key]

    def dependency(session: ConsoleCaller) -> ConsoleSession:
        if not item.allowed(session.viewer):
            raise PageNotFound(key)
        return session

    return Depends(dependency)


async def check_csrf(request: Request, session: ConsoleCaller) -> ConsoleSession:
    """For state-changing routes: the caller, after checking the CSRF token (form field
    :data:`CSRF_FIELD` or header :data:`CSRF_HEADER`). Raises 403 ``csrf.invalid``."""
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, session.csrf):
        raise WebError("csrf.invalid")
    return session


CsrfCaller = Annotated[ConsoleSession, Depends(check_csrf)]
