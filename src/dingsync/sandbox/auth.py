"""Tokens, login and JSAPI: the app's access token on both hosts, a user's access token (OAuth),
login codes (``getuserinfo``) and JSAPI tickets.

Each handler takes a :class:`~dingsync.sandbox.call.Call` and returns the business fields; the
envelope, limits and the token check are ``app.py``'s job.
"""

from __future__ import annotations

from typing import Any

from dingsync.sandbox.call import Call, json_object
from dingsync.sandbox.state import SandboxState
from dingsync.sandbox.wire import ApiError, OapiError


def gettoken(call: Call) -> dict[str, Any]:
    """``GET /gettoken?appkey=&appsecret=`` (or the legacy ``corpid``/``corpsecret``)."""
    state = call.state
    app = state.app
    q = call.query
    if q.get("appkey") or q.get("appsecret"):
        if q.get("appkey") != app.app_key or q.get("appsecret") != app.app_secret:
            raise OapiError(40096, "不合法的appKey或appSecret")
    elif q.get("corpid") or q.get("corpsecret"):
        if q.get("corpid") != app.corp_id or q.get("corpsecret") != app.app_secret:
            raise OapiError(40089, "不合法的corpId或corpSecret")
    else:
        raise OapiError(40035, "缺少参数 corpid or appkey")
    token = state.issue_token(app.app_key)
    return {"access_token": token.value, "expires_in": int(state.config.token_ttl_s)}


def v1_access_token(call: Call) -> dict[str, Any]:
    """``POST /v1.0/oauth2/accessToken`` with JSON ``{appKey, appSecret}``; an optional
    ``corpId`` (legacy Yida apps) is accepted and ignored (EB-04)."""
    body = json_object(call)
    for name in ("appKey", "appSecret"):
        if not body.get(name):
            raise ApiError(400, f"Missing{name}", f"{name} is mandatory for this action.")
    app = call.state.app
    if body["appKey"] != app.app_key or body["appSecret"] != app.app_secret:
        raise ApiError(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
    token = call.state.issue_token(app.app_key)
    return {"accessToken": token.value, "expireIn": int(call.state.config.token_ttl_s)}


def v1_corp_token(call: Call) -> dict[str, Any]:
    """``POST /v1.0/oauth2/{corpId}/token`` with snake_case JSON (client_credentials)."""
    app = call.state.app
    if call.path_params.get("corpId") != app.corp_id:
        raise ApiError(500, "unknownError", "未知错误")
    body = json_object(call)
    for name in ("client_id", "client_secret", "grant_type"):
        if not body.get(name):
            raise ApiError(400, f"Missing{name}", f"{name} is mandatory for this action.")
    if body["grant_type"] != "client_credentials":
        raise ApiError(400, "unsupported.grant.type", "不支持的grant_type")
    if body["client_id"] != app.app_key or body["client_secret"] != app.app_secret:
        raise ApiError(400, "invalid.client", "无效的clientId或者clientSecret")
    token = call.state.issue_token(app.app_key)
    return {"access_token": token.value, "expires_in": int(call.state.config.token_ttl_s)}


def v1_user_access_token(call: Call) -> dict[str, Any]:
    """``POST /v1.0/oauth2/userAccessToken {clientId, clientSecret, code | refreshToken,
    grantType}`` → ``{accessToken, refreshToken, expireIn, corpId}`` (a *user* token).

    The code is the browser login page's ``authCode`` (``GET /oauth2/auth``, ``sandbox/
    login.py``; someone who left has an account and gets a token too) or a login-free code
    minted by ``POST /sandbox/authcode`` — single use, like DingTalk's. A wrong
    ``clientId``/``clientSecret`` is HTTP 400 ``invalidClientIdOrSecret``; a bad, expired or
    reused code — or an unknown refresh token — is HTTP 400 with the ``code`` of the
    ``user_code_error`` knob (``invalidParameter``, EB-07). No token header is needed and one
    sent is ignored (EB-22).

    A third-party suite's key and secret (``state.oauth_clients``, the ISV sandbox routes the
    call to the company whose code it is) are accepted while the company authorises the suite;
    once relieved (or the app stopped) the exchange is HTTP 400 with the same ``code`` as a bad
    code (the sandbox's choice: DingTalk documents no answer for it)."""
    body = json_object(call)
    for name in ("clientId", "clientSecret", "grantType"):
        if not body.get(name):
            raise ApiError(400, f"Missing{name}", f"{name} is mandatory for this action.")
    state = call.state
    app = state.app
    other = state.oauth_clients.get(body["clientId"])
    if other is not None:  # a suite: its secret, and the company must authorise it now
        if body["clientSecret"] != other.secret:
            raise ApiError(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
    elif body["clientId"] != app.app_key or body["clientSecret"] != app.app_secret:
        raise ApiError(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
    grant = body["grantType"]
    error_code = state.config.user_code_error
    if other is not None and not other.allowed():
        raise ApiError(400, error_code, "该组织未授权此应用或已停用")
    if grant == "authorization_code":
        code = body.get("code")
        if not code:
            raise ApiError(400, "Missingcode", "code is mandatory for this action.")
        userid = state.consume_authcode(str(code), kinds=("oauth", "h5"))
        if userid is None or not state.has_account(userid):
            raise ApiError(400, error_code, "不合法的临时授权码")
    elif grant == "refresh_token":
        refresh = body.get("refreshToken")
        if not refresh:
            raise ApiError(400, "MissingrefreshToken", "refreshToken is mandatory for this action.")
        userid = state.user_of_refresh_token(str(refresh))
        if userid is None or userid not in state.company.users:
            raise ApiError(400, error_code, "refreshToken无效或已过期")
    else:
        raise ApiError(400, "unsupported.grant.type", "不支持的grantType")
    access, refresh_token = state.issue_user_token(userid)
    return {
        "accessToken": access,
        "refreshToken": refresh_token,
        "expireIn": int(state.config.user_token_ttl_s),
        "corpId": app.corp_id,
    }


def v1_corp_access_token(call: Call) -> dict[str, Any]:
    """``POST /v1.0/oauth2/corpAccessToken {suiteKey, suiteSecret, authCorpId, suiteTicket}`` —
    a third-party (ISV) suite's token for an authorising corp. The sandbox hosts no ISV suite,
    so every well-formed request is HTTP 400 ``invalidSuiteKey``, as DingTalk answers a
    made-up key; the path without ``/v1.0`` is unknown (EB-91). A token header is ignored."""
    body = json_object(call)
    for name in ("suiteKey", "suiteSecret", "authCorpId", "suiteTicket"):
        if not body.get(name):
            raise ApiError(400, f"Missing{name}", f"{name} is mandatory for this action.")
    raise ApiError(400, "invalidSuiteKey", "无效的suiteKey")


def _login(call: Call, code: str | None) -> str:
    """The userid behind a login-free code (single use); 40078 when unknown, used, expired or
    of the wrong kind (the browser login page's ``authCode``)."""
    if not code:
        # The archived GET form answers 40091, the v2 POST form 41026 (both 缺少tmp_auth_code).
        raise OapiError(40091 if call.request.method == "GET" else 41026, "缺少tmp_auth_code")
    userid = call.state.consume_authcode(code)
    if userid is None or userid not in call.state.company.users:
        raise OapiError(40078, "不存在的临时授权码")
    return userid


def getuserinfo_v2(call: Call) -> dict[str, Any]:
    """``POST /topapi/v2/user/getuserinfo {code}`` → userid, name, sys, sys_level …"""
    userid = _login(call, call.params.text("code"))
    state = call.state
    user = state.company.users[userid]
    level = state.company.sys_level(userid)
    return {
        "result": {
            "userid": userid,
            "device_id": state.device_id(userid),
            "sys": userid in state.company.admins,
            "sys_level": level,
            "unionid": user.unionid,
            "name": user.name,
        }
    }


def getuserinfo_old(call: Call) -> dict[str, Any]:
    """``GET /user/getuserinfo?code=`` — the archived shape, fields at the top level."""
    userid = _login(call, call.query.get("code"))
    state = call.state
    return {
        "userid": userid,
        "name": state.company.users[userid].name,
        "deviceId": state.device_id(userid),
        "is_sys": userid in state.company.admins,
        "sys_level": state.company.sys_level(userid),
    }


def get_jsapi_ticket(call: Call) -> dict[str, Any]:
    """``GET /get_jsapi_ticket?access_token=`` (``type`` ignored, EB-16)."""
    ticket = call.state.issue_ticket(call.state.app.app_key)
    return {"ticket": ticket.value, "expires_in": _ticket_life(call.state, ticket.expires_at)}


def v1_jsapi_ticket(call: Call) -> dict[str, Any]:
    """``POST /v1.0/oauth2/jsapiTickets`` (header token, no body)."""
    ticket = call.state.issue_ticket(call.state.app.app_key)
    return {"jsapiTicket": ticket.value, "expireIn": _ticket_life(call.state, ticket.expires_at)}


def _ticket_life(state: SandboxState, expires_at: float) -> int:
    return max(0, round(expires_at - state.clock.now()))
