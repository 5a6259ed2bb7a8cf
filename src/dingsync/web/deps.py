"""FastAPI dependencies: the context, the caller's session and their :class:`Viewer`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dingsync.store import repo_contacts, repo_sessions
from dingsync.web import rules, sessions
from dingsync.web.context import WebContext
from dingsync.web.errors import WebError

_bearer = HTTPBearer(auto_error=False, description="The session token from the login.")


def get_ctx(request: Request) -> WebContext:
    """The :class:`WebContext` of the request's company: the app's (the default company), or —
    when the deployment serves several companies — that of the company whose session the
    request carries (bearer token or the console's cookie). Which company a login is for comes
    from its body (``corpId``), see :func:`dingsync.web.login.login`."""
    cached: WebContext | None = getattr(request.state, "dingsync_ctx", None)
    if cached is not None:
        return cached
    root: WebContext = request.app.state.web
    ctx = root
    if root.multi:
        token = _request_token(request)
        if token:
            with root.engine.connect() as conn:
                session = repo_sessions.get_session(conn, sessions.token_hash(token))
            if session is not None:
                try:
                    ctx = root.for_corp(session["corp_id"])
                except WebError:  # a company no longer configured: its sessions are void
                    raise WebError("session.invalid") from None
    request.state.dingsync_ctx = ctx
    return ctx


def _request_token(request: Request) -> str | None:
    """The session token a request carries: ``Authorization: Bearer …``, else the console's
    cookie."""
    auth = request.headers.get("authorization") or ""
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    from dingsync.web.console.session import COOKIE

    return request.cookies.get(COOKIE) or None


async def ctx_dependency(request: Request) -> WebContext:
    """:func:`get_ctx` as the routes' dependency. A sync dependency costs a worker-thread hop
    per request (FastAPI runs it in its thread pool) — the largest fixed cost of a login after
    the store (issue 17): here the context is found on the event loop when no database read is
    needed (a deployment of one company, or a request without a session token, such as a
    login), and only a multi-company request with a session reads its company in a worker
    thread."""
    cached: WebContext | None = getattr(request.state, "dingsync_ctx", None)
    if cached is not None:
        return cached
    root: WebContext = request.app.state.web
    if not root.multi or not _request_token(request):
        request.state.dingsync_ctx = root
        return root
    ctx: WebContext = await anyio.to_thread.run_sync(get_ctx, request)
    return ctx


Ctx = Annotated[WebContext, Depends(ctx_dependency)]


@dataclass(frozen=True)
class Caller:
    """An authenticated request: ``userid``, the session's ``token_hash`` and the viewer."""

    userid: str
    token_hash: str
    viewer: rules.Viewer


def current_caller(
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The caller of a session-protected route.

    Raises ``session.missing`` (no bearer token), ``session.invalid`` (unknown or revoked, or
    of another company), ``corp.inactive`` (the company was relieved or stopped),
    ``session.expired``, ``session.user_inactive`` (the person left the organisation or is no
    longer active in the store since the login: ``users.status`` not ``active``),
    ``auth.user_disabled`` (disabled since the login).
    """
    if credentials is None or not credentials.credentials:
        raise WebError("session.missing")
    return caller_for_token(ctx, credentials.credentials)


def caller_for_token(ctx: WebContext, token: str) -> Caller:
    """The caller holding the session ``token`` (a bearer token or the console's cookie).

    Raises ``session.invalid``, ``session.expired``, ``session.user_inactive``,
    ``auth.user_disabled`` as :func:`current_caller` describes.
    """
    digest = sessions.token_hash(token)
    with ctx.engine.connect() as conn:
        session = repo_sessions.get_session(conn, digest)
        if session is None or session["corp_id"] != ctx.corp_id or session["revoked_at"]:
            raise WebError("session.invalid")
        ctx.require_active(conn)
        if session["expires_at"] <= ctx.now():
            raise WebError("session.expired")
        user = repo_contacts.get_user(conn, ctx.corp_id, session["userid"])
        if user is None or user["status"] != "active":
            raise WebError("session.user_inactive")
        viewer = ctx.viewer(conn, session["userid"], user=user)
    if viewer.disabled:
        raise WebError("auth.user_disabled")
    return Caller(session["userid"], digest, viewer)


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def admin_caller(caller: CurrentCaller) -> Caller:
    """A caller allowed to use the admin API (``forbidden`` otherwise)."""
    if not rules.can_administer(caller.viewer):
        raise WebError("forbidden", "only administrators may use this endpoint")
    return caller


AdminCaller = Annotated[Caller, Depends(admin_caller)]
