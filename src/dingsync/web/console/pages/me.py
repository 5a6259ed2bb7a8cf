"""我的 (Me): every employee's home — the micro-app's first page on a phone.

Shows the profile the login returns (:func:`dingsync.web.login.profile_for`): name, job
number, departments with their root department, roles; and the viewer's own numbers from
``GET /api/me/summary`` (:func:`dingsync.web.routers.directory.my_summary`, called directly):
reports sent and received, attendance this month (days, late, early, missing — the same
per-person summary as ``/api/attendance/summary``), approvals originated and waiting for
them, each with the latest few linking to the reports and approvals pages.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dingsync.web.console.render import render
from dingsync.web.console.session import ConsoleSession, page_caller
from dingsync.web.deps import Ctx
from dingsync.web.login import profile_for
from dingsync.web.routers.directory import my_summary

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/me", response_class=HTMLResponse, name="console_me")
def me_page(
    request: Request, ctx: Ctx, session: ConsoleSession = page_caller("me")
) -> HTMLResponse:
    """The viewer's own profile."""
    profile = profile_for(ctx, session.userid)
    summary = my_summary(ctx, session.caller, latest=5)
    return render(
        request, session, "me.html", active="me", title="我的", profile=profile, summary=summary
    )
