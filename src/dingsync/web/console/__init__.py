"""The dingsync console: server-rendered pages for HR, managers, administrators and every
employee, at ``/console`` (issue #13; DESIGN.md §7–§8).

Built on the data API, never beside it: a page calls the same router functions (or the same
``repo_*`` queries with the same :func:`dingsync.web.rules.scope`) that ``/api/…`` answers with,
so the console shows exactly what the API would give the same person. Pages are Jinja2
templates (``web/templates/console/``); htmx does filters, paging and polling; Apache ECharts
draws charts. Both are vendored under ``web/static/console/`` with their licences and served at
:data:`STATIC_PATH` — no CDN, no build step.

Sessions are the API's sessions (``web_sessions``) carried in an HttpOnly cookie
(:mod:`dingsync.web.console.session`); every state-changing form carries a CSRF token.

Where things are:

- :data:`NAV` — the menu: each page's key, label (DingTalk's own console words), path and who
  may see it. A page a viewer may not use is neither in their menu nor reachable (404).
- :data:`PAGE_ROUTERS` — one router per page module under ``console/pages/``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from dingsync.web.console.nav import NAV, NavItem, visible_nav
from dingsync.web.console.pages import (
    approvals,
    attendance,
    directory,
    export,
    export_audit,
    login,
    logout,
    me,
    overview,
    reports,
    settings,
)
from dingsync.web.console.session import ConsoleCaller

#: Where the console lives.
PREFIX = "/console"
#: Where the vendored assets (htmx, ECharts, the console's CSS/JS) are served.
STATIC_PATH = "/console-static"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "console"

#: One router per page module (each with paths under :data:`PREFIX`).
PAGE_ROUTERS: tuple[APIRouter, ...] = (
    overview.router,
    directory.router,
    reports.router,
    attendance.router,
    approvals.router,
    export_audit.router,
    settings.router,
    me.router,
    login.router,
    logout.router,
    export.router,
)

_home = APIRouter(prefix=PREFIX, include_in_schema=False)


@_home.get("", name="console_home")
@_home.get("/", name="console_home_slash")
def home(request: Request, caller: ConsoleCaller) -> RedirectResponse:
    """The first page of the viewer's menu (概览 for administrators, 我的 for employees)."""
    keys = {item.key for item in visible_nav(caller.viewer)}
    target = f"{PREFIX}/overview" if "overview" in keys else f"{PREFIX}/me"
    return RedirectResponse(target, status_code=303)


def add_console(app: FastAPI) -> None:
    """Mount the console on ``app``: its pages, its static assets and its error pages."""
    from dingsync.web.console import errors

    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="console-static")
    app.include_router(_home)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        """The console's icon for browsers that ask for ``/favicon.ico`` (pages link it too)."""
        return FileResponse(
            STATIC_DIR / "favicon.svg",
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    for router in PAGE_ROUTERS:
        app.include_router(router)
    errors.install(app)


__all__ = ["NAV", "PAGE_ROUTERS", "PREFIX", "STATIC_PATH", "NavItem", "add_console"]
