"""登录 (login): how people open a console session, in DingTalk and in an ordinary browser.

- ``GET /console/login?next=&reason=&error=`` — the login page. Inside DingTalk (the H5
  micro-app: DingTalk's JSAPI says ``dd.env.platform`` is not ``notInDingTalk``) its script
  asks ``dd.runtime.permission.requestAuthCode({corpId})`` for a login-free code and posts it
  to ``POST /console/login/authcode``; in an ordinary browser it offers 钉钉扫码登录
  (``GET /console/login/dingtalk``). Under ``dingsync demo`` only, one-click demo logins
  (:class:`~dingsync.web.options.DemoLogins`). A visitor with a live session goes straight to
  ``next``.
- ``POST /console/login/authcode`` (JSON ``{authCode, url?, next?}``; other content types are
  refused, so another site cannot post a form here) — the micro-app's login: exactly
  ``POST /api/auth/dingtalk`` (:func:`dingsync.web.login.login`: double-tap window, disabled
  and departed people refused with the same codes), then the session in the cookie. Answers
  ``{"next", "userid", "jsapi"}`` (``jsapi``: the ``dd.config`` values for ``url``) or the
  API's error body.
- ``POST /console/login/recheck`` (JSON ``{authCode}``, CSRF header, a live session) — the
  micro-app's identity re-check on a shared device: every console page opened inside DingTalk
  asks DingTalk for a fresh login-free code once per tab (``static/console/identity.js``) and
  posts it here. The code's person is logged in as by ``/authcode``; the same person as the
  cookie's keeps the old session (the new one is revoked) → ``{"switched": false}``; another
  person → the cookie's session is revoked and the new one set → ``{"switched": true,
  "userid", "next": "/console"}``; a refused code (left, disabled, invalid …) ends the cookie's
  session too (nobody is then known to be at this device) → the API's error body with
  ``login``, the login page showing the error.
- Several companies (``[[apps]]``, a third-party suite): the page takes the company from
  ``corpId`` (the micro-app's home page URL ``…/console/login?corpId=$CORPID$``), else, when
  more than one is active, shows a company picker (links with ``corpId``); the browser login
  and the demo logins then go to that company.
- ``GET /console/login/dingtalk?next=&corpId=`` — the browser login starts: a random
  ``state`` bound to this browser by a short-lived cookie (:data:`STATE_COOKIE`: HttpOnly,
  SameSite=Lax, 10 minutes, path ``/console/login``; the state sent is a hash of the cookie,
  so it cannot be forged without it) and a redirect to DingTalk's login page
  (``{DINGTALK_LOGIN_URL}/oauth2/auth``) with ``redirect_uri`` = ``/console/login/callback``
  on this service; with several companies the company's app is the ``client_id``, its
  ``corpId`` preselected (``scope=openid corpid``) and kept in the state cookie, so the callback
  logs in to that company.
- ``GET /console/login/callback?authCode|code&state`` (or ``?error=&state=``) — checks the state
  (``login.state_invalid``, no session), exchanges the code
  (:func:`dingsync.web.login.oauth_login`: userAccessToken → users/me → getbyunionid → the
  API login's session rules), sets the cookie and redirects to ``next``. Errors are shown on
  the login page with their stable code and HTTP status.
- ``GET /console/login/demo/{key}`` — a demo login (404 unless the app was built with
  ``demo_logins``): a sandbox login code for that person, then the same browser login; a demo
  person of one company of several (``DemoLogin.corp_id`` with ``authcode_url``) logs in as
  the micro-app does in that company.

``next`` is only ever a path of the console on this service (:func:`safe_next`); anything else
becomes ``/console``. The session cookie is the API's session (HttpOnly, Secure over https,
SameSite=Lax, Max-Age = the session's lifetime).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from dingsync.store import repo_sessions
from dingsync.web import sessions
from dingsync.web.console.render import jsapi_src, render
from dingsync.web.console.session import (
    COOKIE,
    LOGIN_PATH,
    CsrfCaller,
    clear_session_cookie,
    set_session_cookie,
)
from dingsync.web.deps import Ctx, caller_for_token
from dingsync.web.errors import ERRORS, WebError
from dingsync.web.login import login, oauth_login
from dingsync.web.options import DemoLogin, DemoLogins
from dingsync.web.routers.auth import parse_login

router = APIRouter(prefix="/console/login", include_in_schema=False)

#: The cookie that binds a browser login's ``state`` to this browser.
STATE_COOKIE = "dingsync_login_state"
#: How long a browser login may take between the redirect to DingTalk and the callback (s).
STATE_TTL_S = 600
#: Where the console starts when ``next`` is missing or not a console path.
HOME = "/console"

#: What the login page says for each code (the API's codes, in the console's words).
MESSAGES: dict[str, str] = {
    "auth.user_not_found": "您不在本组织的通讯录中（已离职，或不在应用的可见范围内），无法登录。",
    "auth.user_disabled": "您的账号已在本系统停用，请联系管理员。",
    "auth.code_invalid": "登录授权码无效、已过期或已被使用，请重新登录。",
    "auth.code_missing": "缺少登录授权码，请重新登录。",
    "auth.token_failed": "无法获取钉钉访问凭证，请管理员检查应用的 AppKey / AppSecret。",
    "auth.dingtalk_unavailable": "钉钉暂时没有响应，请稍后重试。",
    "login.state_invalid": "登录校验失败：登录不是从本页面发起、已使用或已超时，请重新登录。",
    "login.cancelled": "您在钉钉页面取消了登录。",
    "jsapi.url_invalid": "页面地址无效，无法签名 JSAPI。",
    "jsapi.unavailable": "无法获取钉钉 JSAPI 凭证。",
    "request.invalid": "登录请求无效。",
    "corp.inactive": "该企业已停用本应用或已解除授权，暂时无法登录（数据仍保留）。请选择其他企业。",
    "corp.unknown": "没有这个企业（corpId 无效），请从下面的企业中选择。",
}
#: Notices for the ``reason`` a page redirected here with (the session's state).
REASONS: dict[str, str] = {
    "logged_out": "您已退出登录。",
    "session.expired": "登录已过期，请重新登录。",
    "session.invalid": "登录已失效，请重新登录。",
    "session.user_inactive": "您的账号已不在本组织中，登录已失效。",
    "auth.user_disabled": "您的账号已在本系统停用，请联系管理员。",
}


def safe_next(value: str | None) -> str:
    """``value`` when it is a console path on this service (``/console`` or below, not the
    login itself), else :data:`HOME`. An absolute URL, ``//host``, a backslash or a control
    character never passes: an open redirect is a bug."""
    if not value or len(value) > 2048:
        return HOME
    if any(ch in value for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in value):
        return HOME
    try:
        parts = urlsplit(value)
    except ValueError:
        return HOME
    if parts.scheme or parts.netloc or not value.startswith("/"):
        return HOME
    path = parts.path
    if path != HOME and not path.startswith(HOME + "/"):
        return HOME
    segments = unquote(path).split("/")
    if ".." in segments or "." in segments:  # a browser would leave the console
        return HOME
    if path == LOGIN_PATH or path.startswith(LOGIN_PATH + "/"):
        return HOME
    return value


# --------------------------------------------------------------------------------------------
# The state of a browser login
# --------------------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_state(now_s: float, next_url: str, corp_id: str | None = None) -> tuple[str, str]:
    """``(cookie value, state)``: the cookie holds a random nonce, the time, ``next`` and the
    company the login is for (``corp_id``, empty: the default one); the ``state`` sent to
    DingTalk is the hash of the cookie, so only this browser can finish."""
    packed = f"{_b64(next_url.encode())}.{_b64((corp_id or '').encode())}"
    cookie = f"{secrets.token_urlsafe(24)}.{int(now_s)}.{packed}"
    return cookie, state_of(cookie)


def state_of(cookie: str) -> str:
    """The ``state`` of a state cookie (SHA-256, base64url)."""
    return _b64(hashlib.sha256(b"dingsync-login-state|" + cookie.encode()).digest())


def check_state(cookie: str | None, state: str | None, now_s: float) -> str:
    """The ``next`` of a browser login whose ``state`` matches the cookie and is younger than
    :data:`STATE_TTL_S`; raises ``login.state_invalid`` otherwise."""
    if not cookie or not state or not hmac.compare_digest(state_of(cookie), state):
        raise WebError("login.state_invalid")
    try:
        age = now_s - int(cookie.split(".", 2)[1])
    except (ValueError, IndexError) as exc:
        raise WebError("login.state_invalid") from exc
    if not 0 <= age <= STATE_TTL_S:
        raise WebError("login.state_invalid")
    return cookie_next(cookie)


def cookie_next(cookie: str | None) -> str:
    """The ``next`` a state cookie carries (:data:`HOME` when it carries none)."""
    try:
        packed = (cookie or "").split(".")[2]
        return safe_next(_unb64(packed))
    except (ValueError, IndexError, UnicodeDecodeError):
        return HOME


def cookie_corp(cookie: str | None) -> str | None:
    """The company a state cookie's login is for (``None``: the default company)."""
    try:
        packed = (cookie or "").split(".")[3]
        return _unb64(packed) or None
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


def _unb64(packed: str) -> str:
    return base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)).decode()


def _callback_url(request: Request) -> str:
    ctx = request.app.state.web
    public: str | None = ctx.options.public_url
    if public:
        return public.rstrip("/") + LOGIN_PATH + "/callback"
    return str(request.url_for("console_login_callback"))


def _to_dingtalk(
    request: Request,
    next_url: str,
    extra: dict[str, str] | None = None,
    corp_id: str | None = None,
) -> Response:
    """Redirect to DingTalk's login page with a fresh state bound to this browser; for the
    company ``corp_id`` (its app's ``client_id``, ``corpId`` preselected with the ``openid
    corpid`` scope) when the deployment serves several. Raises ``corp.unknown``."""
    root = request.app.state.web
    ctx = root.for_corp(corp_id)
    cookie, state = new_state(root.clock(), next_url, corp_id if ctx is not root else None)
    if ctx is root and not root.multi:
        url = ctx.client.auth.authorize_url(_callback_url(request), state)
    else:
        url = ctx.client.auth.authorize_url(
            _callback_url(request), state, scope="openid corpid", corp_id=ctx.corp_id
        )
    if extra:
        url += "".join(f"&{k}={quote(v, safe='')}" for k, v in extra.items())
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        STATE_COOKIE,
        cookie,
        max_age=STATE_TTL_S,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
        path=LOGIN_PATH,
    )
    return response


def _clear_state(request: Request, response: Response) -> None:
    response.delete_cookie(
        STATE_COOKIE,
        path=LOGIN_PATH,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
    )


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------
def _demo(request: Request) -> DemoLogins | None:
    return getattr(request.app.state, "demo_logins", None)


def login_page(
    request: Request,
    *,
    next_url: str,
    error: str | None = None,
    reason: str | None = None,
    status_code: int = 200,
    corp_id: str | None = None,
) -> HTMLResponse:
    """The login page, with the error ``error`` (a code of :data:`MESSAGES`) shown;
    ``corp_id``: the company the micro-app's login asks DingTalk for (default: the service's
    default company)."""
    ctx = request.app.state.web
    demo = _demo(request)
    companies = login_companies(ctx) if ctx.multi else []
    active = {c["corp_id"] for c in companies}
    refused = None
    if ctx.multi and corp_id and corp_id not in active:
        # A relieved, stopped or unknown company: say so, naming it (the page then shows the
        # active ones, or the only one, under their own names), and offer those instead.
        problem, refused = _corp_problem(ctx, corp_id)
        error = error or problem
        corp_id = None
    message = None
    if error:
        message = MESSAGES.get(error) or ERRORS.get(error, (0, error))[1]
        if refused and error in ("corp.inactive", "corp.unknown"):
            message = f"{refused}：{message}"
    chosen = corp_id or (companies[0]["corp_id"] if len(companies) == 1 else None)
    if chosen is None and not ctx.multi:
        chosen = ctx.corp_id
    people = list(demo.current()) if demo else []
    if ctx.multi:  # only active companies' demo people; one company chosen: its own
        people = [p for p in people if p.corp_id is None or p.corp_id in active]
    if chosen and ctx.multi:
        people = [p for p in people if p.corp_id in (None, chosen)]
    extra: dict[str, Any] = {}
    if chosen and ctx.multi:
        extra["company"] = (
            next((c["name"] for c in companies if c["corp_id"] == chosen), None) or chosen
        )
    return render(
        request,
        None,
        "login.html",
        title=None,
        status_code=status_code,
        next_url=next_url,
        next_q=quote(next_url, safe=""),
        error=error,
        message=message,
        notice=REASONS.get(reason or ""),
        corp_id=chosen or ctx.corp_id,
        corp_q=quote(chosen, safe="") if chosen and ctx.multi else None,
        companies=companies if ctx.multi and len(companies) > 1 else [],
        picking=ctx.multi and chosen is None,
        demo=demo,
        demo_people=people,
        jsapi_src=jsapi_src(request),
        **extra,
    )


def _corp_problem(ctx: Any, corp_id: str) -> tuple[str, str]:
    """``("corp.inactive", its name)`` for a company the registry holds but does not serve now
    (relieved, stopped; the name is the corpId when none is known), else ``("corp.unknown",
    corp_id)`` (at most 64 characters of it)."""
    from dingsync.corps import all_corps

    known = {c.corp_id: c.name for c in all_corps(ctx.engine, ctx.settings)}
    if corp_id in known:
        return "corp.inactive", known[corp_id] or corp_id
    return "corp.unknown", corp_id[:64]


def login_companies(ctx: Any) -> list[dict[str, Any]]:
    """The companies a person may log into on this service (several companies): the active
    ones of the ``corps`` registry that an app serves (a configured internal app or an ISV
    company), ``[{corp_id, name}]`` by name."""
    from dingsync.corps import all_corps

    corps = [c for c in all_corps(ctx.engine, ctx.settings) if c.active]
    out = [{"corp_id": c.corp_id, "name": c.name or c.corp_id} for c in corps]
    return sorted(out, key=lambda c: (str(c["name"]), c["corp_id"]))


@router.get("", name="console_login")
def login_form(
    request: Request,
    ctx: Ctx,
    next: str | None = None,
    reason: str | None = None,
    error: str | None = None,
    corpId: str | None = None,
) -> Response:
    """The login page; a visitor whose cookie holds a live session goes on to ``next``.
    ``corpId``: the company of a deployment serving several (the micro-app's home page URL
    ``…/console/login?corpId=$CORPID$``); one not served is shown as ``corp.unknown``."""
    next_url = safe_next(next)
    corp_id = None
    if corpId:
        try:
            corp_id = ctx.for_corp(corpId).corp_id
        except WebError as exc:
            named = ctx.multi and exc.code in ("corp.unknown", "corp.inactive")
            return login_page(
                request,
                next_url=next_url,
                error=exc.code,
                status_code=exc.status,
                corp_id=corpId if named else None,  # the page names the company refused
            )
    token = request.cookies.get(COOKIE)
    if token and not error:
        try:
            caller_for_token(ctx, token)
        except WebError:
            pass
        else:
            return RedirectResponse(next_url, status_code=303)
    return login_page(
        request,
        next_url=next_url,
        error=error if error in MESSAGES else None,
        reason=reason,
        corp_id=corp_id,
    )


@router.post("/authcode", name="console_login_authcode")
async def login_authcode(request: Request, ctx: Ctx) -> Response:
    """The micro-app's login: a JSON ``{authCode, url?, next?, corpId?}`` → the API login (in
    the company ``corpId`` names, as ``POST /api/auth/dingtalk``) → the cookie."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        err = WebError("request.invalid", "the body must be JSON (Content-Type: application/json)")
        return JSONResponse(err.body(), status_code=err.status)
    raw = await request.body()
    try:
        body = parse_login(raw)
        result = await login(ctx.for_corp(body.corpId), body.authCode, body.url)
    except WebError as exc:
        return JSONResponse(exc.body(), status_code=exc.status)
    try:
        data = json.loads(raw)
        wanted = data.get("next") if isinstance(data, dict) else None
    except ValueError:
        wanted = None
    session = result["session"]
    response = JSONResponse(
        {
            "next": safe_next(wanted if isinstance(wanted, str) else None),
            "userid": result["userid"],
            "jsapi": result.get("jsapi"),
        }
    )
    set_session_cookie(request, response, session["token"], session["expires_in"])
    return response


@router.post("/recheck", name="console_login_recheck")
async def login_recheck(request: Request, ctx: Ctx, current: CsrfCaller) -> Response:
    """The micro-app's identity re-check (see the module docstring): a fresh ``authCode`` from
    DingTalk against the cookie's person."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        err = WebError("request.invalid", "the body must be JSON (Content-Type: application/json)")
        return JSONResponse(err.body(), status_code=err.status)
    try:
        result = await login(ctx, parse_login(await request.body()).authCode, None)
    except WebError as exc:
        with ctx.write() as conn:
            repo_sessions.revoke_session(conn, current.caller.token_hash, ctx.now())
        body = exc.body()
        body["login"] = f"{LOGIN_PATH}?error={quote(exc.code, safe='')}"
        response = JSONResponse(body, status_code=exc.status)
        clear_session_cookie(request, response)
        return response
    fresh = result["session"]
    if result["userid"] == current.userid:
        with ctx.write() as conn:
            repo_sessions.revoke_session(conn, sessions.token_hash(fresh["token"]), ctx.now())
        return JSONResponse({"switched": False, "userid": current.userid})
    with ctx.write() as conn:
        repo_sessions.revoke_session(conn, current.caller.token_hash, ctx.now())
    response = JSONResponse({"switched": True, "userid": result["userid"], "next": HOME})
    set_session_cookie(request, response, fresh["token"], fresh["expires_in"])
    return response


@router.get("/dingtalk", name="console_login_dingtalk")
def login_dingtalk(
    request: Request, next: str | None = None, corpId: str | None = None
) -> Response:
    """Start the browser login: to DingTalk's login page with a state bound to this browser,
    for the company ``corpId`` (several companies: the login page's choice; an unknown or
    inactive one is shown on the login page)."""
    next_url = safe_next(next)
    ctx = request.app.state.web
    try:
        if corpId or ctx.multi:
            company = ctx.for_corp(corpId)
            with ctx.engine.connect() as conn:
                company.require_active(conn)
        return _to_dingtalk(request, next_url, corp_id=corpId)
    except WebError as exc:
        return login_page(request, next_url=next_url, error=exc.code, status_code=exc.status)


@router.get("/callback", name="console_login_callback")
async def login_callback(
    request: Request,
    ctx: Ctx,
    state: str | None = None,
    authCode: str | None = None,
    code: str | None = None,
    error: str | None = None,
) -> Response:
    """DingTalk's redirect back: state, code exchange, the session, then ``next``."""
    cookie = request.cookies.get(STATE_COOKIE)
    try:
        next_url = check_state(cookie, state, ctx.clock())
        if error:
            raise WebError("login.cancelled")
        company = ctx.for_corp(cookie_corp(cookie))  # the company the login was started for
        token, _userid, expires_at, _profile = await oauth_login(company, authCode or code)
    except WebError as exc:
        page = await asyncio.to_thread(
            login_page,
            request,
            next_url=cookie_next(cookie),
            error=exc.code,
            status_code=exc.status,
        )
        _clear_state(request, page)
        return page
    response = RedirectResponse(next_url, status_code=303)
    ttl = max(0, int((expires_at - ctx.now()).total_seconds()))
    set_session_cookie(request, response, token, ttl)
    _clear_state(request, response)
    return response


@router.get("/demo/{key}", name="console_login_demo")
async def login_demo(request: Request, key: str, next: str | None = None) -> Response:
    """A one-click demo login (``dingsync demo`` only): the sandbox's login page picks the
    person through a sandbox login code, then the real browser login runs."""
    demo = _demo(request)
    person = demo.person(key) if demo else None
    if demo is None or person is None:
        raise WebError("not_found")
    if person.corp_id is not None and person.authcode_url is not None:
        return await _demo_in_company(request, person, safe_next(next))
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(
            f"{demo.sandbox_url.rstrip('/')}/sandbox/oauth/logincode",
            json={"userid": person.userid},
        )
    if r.status_code != 200:
        raise WebError("auth.user_not_found")
    login_code = str(r.json()["login_code"])
    return _to_dingtalk(
        request, safe_next(next), {"sandbox_login_code": login_code}, corp_id=person.corp_id
    )


async def _demo_in_company(request: Request, person: DemoLogin, next_url: str) -> Response:
    """A demo login into one company of several (``dingsync demo --isv``): a login-free code
    from that company's sandbox (``POST {authcode_url}``, as ``dd.getAuthCode({corpId})`` gives
    it), then exactly the micro-app's login in that company, and the session in the cookie."""
    ctx = request.app.state.web
    assert person.authcode_url and person.corp_id
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            r = await http.post(person.authcode_url, json={"userid": person.userid})
        if r.status_code != 200:
            raise WebError("auth.user_not_found")
        result = await login(ctx.for_corp(person.corp_id), str(r.json()["code"]), None)
    except WebError as exc:
        return await asyncio.to_thread(
            login_page,
            request,
            next_url=next_url,
            error=exc.code,
            status_code=exc.status,
            corp_id=person.corp_id,
        )
    session = result["session"]
    response = RedirectResponse(next_url, status_code=303)
    set_session_cookie(request, response, session["token"], session["expires_in"])
    return response
