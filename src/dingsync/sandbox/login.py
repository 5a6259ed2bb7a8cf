"""DingTalk's web login and its client, emulated: the login host (``DINGTALK_LOGIN_URL``) on the
sandbox's own port, and a minimal ``window.dd`` for pages that expect to run inside DingTalk.

Browser login (auth-contacts.md §3.1), ``GET /oauth2/auth?redirect_uri&response_type=code&
client_id=<AppKey>&scope=openid&state&prompt=consent``:

- parameters are checked as DingTalk's page does: an unknown ``client_id``, a missing or
  non-http(s) ``redirect_uri``, ``response_type`` other than ``code``, a ``scope`` without
  ``openid`` or ``prompt`` other than ``consent`` is an HTML error page (HTTP 400), never a
  redirect;
- the page stands in for the QR code and the account login: pick a person from the list or
  search (``q``: name, userid, mobile, job number; people who left can sign in to DingTalk
  too, they are found by search). Picking someone (``POST /oauth2/auth``) redirects the browser
  to ``redirect_uri?authCode=<code>&code=<code>&state=<state>`` — both names, the same value
  (Q14) — and 取消 to ``redirect_uri?error=access_denied&state=<state>``;
- for tests and the demo: ``POST /sandbox/oauth/logincode {"userid"}`` →
  ``{"login_code", "expires_in"}`` (single use, ``authcode_ttl_s``), and ``GET /oauth2/auth?…
  &sandbox_login_code=<login_code>`` redirects at once as if that person had scanned the code.

The ``authCode`` is single use and lives ``authcode_ttl_s`` (5 min); ``POST
/v1.0/oauth2/userAccessToken`` exchanges it (``auth.py``), ``getuserinfo`` refuses it (40078,
a code of the wrong kind).

DingTalk client emulator: ``GET /sandbox/dd.js`` defines ``window.dd`` with ``dd.env.platform``,
``dd.ready``, ``dd.error``, ``dd.config`` (checked by ``POST /sandbox/jsapi/verify`` as the
container would), ``dd.getAuthCode`` / ``dd.requestAuthCode`` /
``dd.runtime.permission.requestAuthCode`` (a login-free code from ``POST /sandbox/authcode``).
Whose client it plays: ``?dd_user=<userid>`` on the page's URL (kept in ``sessionStorage`` for
the pages after it) or ``localStorage.dd_user``; with nobody, ``dd.env.platform`` is
``notInDingTalk``, as DingTalk's JSAPI says in an ordinary browser. Each call is logged in
``sessionStorage.dd_emulator_log`` (JSON list) for tests. ``/sandbox/authcode``,
``/sandbox/jsapi/verify``, ``/sandbox/app`` and ``/sandbox/dd.js`` answer CORS (``*``) so a
page on another origin can use them. For tests and the demo only: a real deployment loads
DingTalk's own JSAPI.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from dingsync.sandbox.state import SandboxState

#: The authorize page's parameters that are carried through the person picker.
AUTH_PARAMS = (
    "redirect_uri",
    "response_type",
    "client_id",
    "scope",
    "state",
    "prompt",
    "org_type",
    "corpId",
)
#: ``/sandbox/*`` paths a page on another origin may call (the dd emulator's).
CORS_PATHS = frozenset(
    {"/sandbox/authcode", "/sandbox/jsapi/verify", "/sandbox/app", "/sandbox/dd.js"}
)
#: People listed per page of the picker.
PAGE_SIZE = 30


def check_authorize(state: SandboxState, params: dict[str, str]) -> str | None:
    """Why the authorize request ``params`` is refused (DingTalk shows an error page), or
    ``None``. ``client_id`` is this company's AppKey or a suite it authorises
    (:attr:`SandboxState.oauth_clients`; relieved or stopped: refused)."""
    client_id = params.get("client_id") or ""
    if client_id != state.app.app_key:
        other = state.oauth_clients.get(client_id)
        if other is None:
            return "应用不存在或未授权 (client_id)"
        if not other.allowed():  # a suite this company relieved (or whose app it stopped)
            return "该组织未授权此应用或已停用 (corpId)"
    redirect = params.get("redirect_uri") or ""
    parts = urlsplit(redirect)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "redirect_uri 不合法"
    if params.get("response_type") != "code":
        return "response_type 必须为 code"
    if "openid" not in (params.get("scope") or "").split():
        return "scope 必须包含 openid"
    if params.get("prompt") != "consent":
        return "prompt 必须为 consent"
    return None


def redirect_with(redirect_uri: str, fields: dict[str, str]) -> str:
    """``redirect_uri`` with ``fields`` added to its query (its own query kept)."""
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(fields.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def grant(state: SandboxState, params: dict[str, str], userid: str) -> str:
    """The redirect after ``userid`` signed in: ``authCode`` and ``code`` (one value) and the
    ``state`` echoed (when one was sent)."""
    code = state.mint_authcode(userid, kind="oauth")
    fields = {"authCode": code, "code": code}
    if params.get("state"):
        fields["state"] = params["state"]
    return redirect_with(params["redirect_uri"], fields)


def deny(params: dict[str, str]) -> str:
    """The redirect when the person cancels: ``error=access_denied`` and the ``state``."""
    fields = {"error": "access_denied"}
    if params.get("state"):
        fields["state"] = params["state"]
    return redirect_with(params["redirect_uri"], fields)


def find_people(state: SandboxState, q: str) -> list[dict[str, Any]]:
    """People matching ``q`` (name, userid, mobile, job number; everyone when empty), first
    :data:`PAGE_SIZE`, directory first, then people who left (found by search only)."""
    c = state.company
    q = q.strip().lower()
    out: list[dict[str, Any]] = []
    for user in sorted(c.users.values(), key=lambda u: u.userid):
        hay = " ".join(filter(None, [user.name, user.userid, user.mobile, user.job_number]))
        if q and q not in hay.lower():
            continue
        dept = user.memberships[0].dept_id if user.memberships else None
        dept_name = c.departments[dept].name if dept in c.departments else ""
        out.append(
            {"userid": user.userid, "name": user.name, "dept": dept_name, "title": user.title}
        )
        if len(out) >= PAGE_SIZE:
            return out
    if q:
        for leaver in sorted(c.leavers.values(), key=lambda lv: lv.userid):
            hay = " ".join([leaver.name, leaver.userid, leaver.mobile]).lower()
            if q in hay:
                out.append(
                    {"userid": leaver.userid, "name": leaver.name, "dept": "已离职", "title": None}
                )
                if len(out) >= PAGE_SIZE:
                    break
    return out


_PAGE_CSS = """
body{margin:0;font:14px/1.5 -apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",
sans-serif;background:#f2f4f7;color:#171a1d}
.box{max-width:440px;margin:40px auto;background:#fff;border-radius:12px;
box-shadow:0 4px 24px rgba(0,0,0,.08);padding:28px}
h1{font-size:20px;margin:0 0 4px}.sub{color:#747677;margin:0 0 18px}
.logo{display:inline-block;background:#0089ff;color:#fff;border-radius:8px;padding:2px 10px;
font-weight:600;margin-bottom:12px}
.qr{border:1px dashed #c9ccd0;border-radius:8px;padding:14px;text-align:center;color:#747677;
margin-bottom:16px}
form.search{display:flex;gap:8px;margin-bottom:12px}
input[type=search]{flex:1;padding:8px 10px;border:1px solid #d0d3d6;border-radius:6px}
button{cursor:pointer;border-radius:6px;border:1px solid #d0d3d6;background:#fff;padding:7px 12px}
ul{list-style:none;margin:0;padding:0;max-height:420px;overflow:auto}
li form{margin:0}li button{width:100%;text-align:left;border:0;border-bottom:1px solid #eef0f2;
border-radius:0;padding:10px 4px;display:flex;justify-content:space-between;gap:8px}
li button:hover{background:#f0f7ff}.muted{color:#8f959e;font-size:12px}
.cancel{margin-top:14px;text-align:center}.err{color:#d40000}
"""


def _hidden(params: dict[str, str]) -> str:
    return "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(params[k])}">'
        for k in AUTH_PARAMS
        if k in params
    )


def authorize_page(state: SandboxState, params: dict[str, str], q: str) -> str:
    """The sandbox's stand-in for DingTalk's login page."""
    hidden = _hidden(params)
    rows = []
    for p in find_people(state, q):
        title = f" · {html.escape(p['title'])}" if p.get("title") else ""
        rows.append(
            '<li><form method="post" action="/oauth2/auth">'
            f'{hidden}<input type="hidden" name="userid" value="{html.escape(p["userid"])}">'
            f'<button type="submit" data-userid="{html.escape(p["userid"])}">'
            f"<span>{html.escape(p['name'])}</span>"
            f'<span class="muted">{html.escape(p["dept"])}{title} · {html.escape(p["userid"])}'
            "</span></button></form></li>"
        )
    people = "".join(rows) or '<li class="muted">没有找到匹配的人员</li>'
    corp = html.escape(state.app.corp_name)
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>钉钉登录 · 沙箱</title><style>{_PAGE_CSS}</style></head><body>
<div class="box" data-testid="sandbox-authorize">
<span class="logo">钉钉</span><h1>登录 {corp}</h1>
<p class="sub">沙箱模拟的钉钉扫码登录：选择一位成员代替扫码确认。</p>
<div class="qr">▦ 扫码登录（沙箱中以选择成员代替）</div>
<form class="search" method="get" action="/oauth2/auth">{hidden}
<input type="search" name="q" value="{html.escape(q)}" placeholder="搜索姓名、手机号、工号、userid">
<button type="submit">搜索</button></form>
<ul>{people}</ul>
<form class="cancel" method="post" action="/oauth2/auth">{hidden}
<button type="submit" name="action" value="cancel" data-testid="cancel">取消登录</button></form>
</div></body></html>"""


def error_page(message: str) -> HTMLResponse:
    """DingTalk's login page refusing a malformed request (HTTP 400, no redirect)."""
    body = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>钉钉登录</title>'
        f'<style>{_PAGE_CSS}</style></head><body><div class="box"><h1>无法登录</h1>'
        f'<p class="err" data-testid="sandbox-authorize-error">{html.escape(message)}</p>'
        "</div></body></html>"
    )
    return HTMLResponse(body, status_code=400)


#: The emulator's script (``__BASE__`` and ``__CORP_ID__`` are filled in when served).
DD_JS_FILE = Path(__file__).resolve().parent / "static" / "dd.js"


def dd_js(state: SandboxState, base_url: str) -> str:
    """The emulator's script with this sandbox's URL and corpId baked in."""
    return (
        DD_JS_FILE.read_text(encoding="utf-8")
        .replace("__BASE__", json.dumps(base_url.rstrip("/")))
        .replace("__CORP_ID__", json.dumps(state.app.corp_id))
    )


def add_login_routes(app: FastAPI, state: SandboxState) -> None:
    """Register ``/oauth2/auth`` (GET and POST), ``POST /sandbox/oauth/logincode``,
    ``GET /sandbox/dd.js`` and CORS on :data:`CORS_PATHS` on ``app`` (before the catch-alls)."""

    @app.middleware("http")
    async def cors(request: Request, call_next: Any) -> Response:
        if request.url.path not in CORS_PATHS:
            return await call_next(request)  # type: ignore[no-any-return]
        if request.method == "OPTIONS":
            response: Response = Response(status_code=204)
            response.headers["Access-Control-Allow-Methods"] = "GET, POST"
            response.headers["Access-Control-Allow-Headers"] = "content-type"
        else:
            response = await call_next(request)
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    @app.get("/oauth2/auth")
    async def authorize(request: Request) -> Response:
        params = dict(request.query_params)
        problem = check_authorize(state, params)
        if problem:
            return error_page(problem)
        login_code = params.get("sandbox_login_code")
        if login_code:
            userid = state.consume_authcode(login_code, kinds=("login",))
            if userid is None:
                return error_page("登录码无效、已过期或已使用 (sandbox_login_code)")
            return RedirectResponse(grant(state, params, userid), status_code=302)
        return HTMLResponse(authorize_page(state, params, params.get("q", "")))

    @app.post("/oauth2/auth")
    async def authorize_choice(request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        problem = check_authorize(state, form)
        if problem:
            return error_page(problem)
        if form.get("action") == "cancel":
            return RedirectResponse(deny(form), status_code=302)
        userid = form.get("userid") or ""
        if not state.has_account(userid):
            return error_page("该账号不存在")
        return RedirectResponse(grant(state, form, userid), status_code=302)

    @app.post("/sandbox/oauth/logincode")
    async def login_code(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        userid = body.get("userid") if isinstance(body, dict) else None
        if not isinstance(userid, str) or not userid:
            return JSONResponse({"error": "userid is required"}, status_code=400)
        try:
            code = state.mint_authcode(userid, kind="login")
        except KeyError:
            return JSONResponse(
                {"error": "unknown userid (no DingTalk account)", "userid": userid},
                status_code=404,
            )
        return JSONResponse(
            {
                "login_code": code,
                "userid": userid,
                "expires_in": int(state.config.authcode_ttl_s),
            }
        )

    @app.get("/sandbox/dd.js")
    async def dd_script(request: Request) -> Response:
        return Response(
            dd_js(state, str(request.base_url)),
            media_type="application/javascript; charset=utf-8",
            headers={"Cache-Control": "no-store"},
        )
