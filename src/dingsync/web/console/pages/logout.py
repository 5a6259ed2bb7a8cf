"""退出 (logout): ``POST /console/logout`` revokes the session (CSRF-checked) and clears the
cookie, then shows the login page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from dingsync.store import repo_sessions
from dingsync.web.console.session import LOGIN_PATH, CsrfCaller, clear_session_cookie
from dingsync.web.deps import Ctx

router = APIRouter(prefix="/console", include_in_schema=False)


@router.post("/logout", name="console_logout")
def logout(request: Request, ctx: Ctx, session: CsrfCaller) -> RedirectResponse:
    """Revoke the cookie's session (it is refused by the API too from now on) and clear it."""
    with ctx.write() as conn:
        repo_sessions.revoke_session(conn, session.caller.token_hash, ctx.now())
    response = RedirectResponse(LOGIN_PATH + "?reason=logged_out", status_code=303)
    clear_session_cookie(request, response)
    return response
