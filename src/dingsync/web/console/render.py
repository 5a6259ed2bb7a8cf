"""Rendering console pages: the Jinja2 environment (``web/templates/console/``), its filters
and :func:`render`.

Filters (all times in the company's zone, ``Settings.tz``):

- ``ms_time``: epoch **milliseconds** → ``YYYY-MM-DD HH:MM`` (``—`` for none);
- ``ms_date``: epoch ms → ``YYYY-MM-DD``;
- ``duration_min``: minutes → ``1小时5分`` style;
- ``tojson`` (Jinja's own) for chart options embedded in pages.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from dingsync.store import repo_contacts
from dingsync.timeutil import from_ms
from dingsync.web.console.nav import visible_nav
from dingsync.web.console.session import CSRF_FIELD, CSRF_HEADER, ConsoleSession
from dingsync.web.context import WebContext
from dingsync.web.deps import get_ctx
from dingsync.web.errors import WebError

#: DingTalk's JSAPI, vendored (``static/console/dingtalk-jsapi.min.js``).
JSAPI_SRC = "/console-static/dingtalk-jsapi.min.js"
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def fmt_ms_time(value: Any, tz: tzinfo) -> str:
    """Epoch ms (or an aware datetime) → ``YYYY-MM-DD HH:MM`` in ``tz``; ``—`` for none."""
    if value is None or value == "":
        return "—"
    dt = value if isinstance(value, datetime) else from_ms(int(value))
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def fmt_ms_date(value: Any, tz: tzinfo) -> str:
    """Epoch ms, a date or an ISO date string → ``YYYY-MM-DD``; ``—`` for none."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        return value[:10]
    if isinstance(value, datetime):
        return value.astimezone(tz).date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return from_ms(int(value)).astimezone(tz).date().isoformat()


def fmt_minutes(value: Any) -> str:
    """Minutes → ``X小时Y分`` (``0`` → ``0``; ``None`` → ``—``)."""
    if value is None:
        return "—"
    minutes = round(float(value))
    if minutes == 0:
        return "0"
    hours, rest = divmod(abs(minutes), 60)
    sign = "-" if minutes < 0 else ""
    if hours and rest:
        return f"{sign}{hours}小时{rest}分"
    return f"{sign}{hours}小时" if hours else f"{sign}{rest}分"


def jsapi_src(request: Request) -> str:
    """Where pages load DingTalk's JSAPI from: the vendored copy, or under ``dingsync demo``
    (demo logins on) the sandbox's DingTalk client emulator (``/sandbox/dd.js``)."""
    demo = getattr(request.app.state, "demo_logins", None)
    return f"{demo.sandbox_url.rstrip('/')}/sandbox/dd.js" if demo else JSAPI_SRC


def render(
    request: Request,
    session: ConsoleSession | None,
    template: str,
    *,
    active: str | None = None,
    title: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``console/<template>`` for ``session`` (``None`` on the login and error pages):
    the menu the viewer may use (``nav``, ``active`` marks the current entry), the company's
    name, the viewer, the CSRF token and the filters above."""
    try:
        ctx: WebContext = get_ctx(request)
    except WebError:  # a session of a company no longer served: the page is the default's
        ctx = request.app.state.web
    tz = ctx.settings.tz
    who_name = None
    with ctx.engine.connect() as conn:
        company = ctx.company_name(conn)
        if session is not None:
            user = repo_contacts.get_user(conn, ctx.corp_id, session.userid)
            who_name = (user or {}).get("name")
    base: dict[str, Any] = {
        "request": request,
        "session": session,
        "viewer": session.viewer if session else None,
        "nav": visible_nav(session.viewer) if session else [],
        "active": active,
        "title": title,
        "company": company,
        "who_name": who_name,
        "csrf": session.csrf if session else None,
        "csrf_field": CSRF_FIELD,
        "csrf_header": CSRF_HEADER,
        "fmt_time": lambda v: fmt_ms_time(v, tz),
        "fmt_date": lambda v: fmt_ms_date(v, tz),
        "fmt_minutes": fmt_minutes,
        "today": ctx.today(),
        "jsapi_src": jsapi_src(request),
        "identity": {"corpId": ctx.corp_id, "userid": session.userid} if session else None,
    }
    base.update(context)
    return templates.TemplateResponse(request, f"console/{template}", base, status_code=status_code)
