"""The v1.0 contact handlers: user search by keyword and a user's contact card by unionId."""

from __future__ import annotations

import hashlib
from typing import Any

from dingsync.sandbox.call import Call, json_object
from dingsync.sandbox.state import SandboxState
from dingsync.sandbox.wire import ApiError


def v1_users_search(call: Call) -> dict[str, Any]:
    """``POST /v1.0/contact/users/search {queryWord, offset, size, fullMatchField}`` →
    ``{hasMore, totalCount, list: [userid]}``: employees whose name contains ``queryWord``
    (equals it with ``fullMatchField`` 1), in directory order. ``size`` 1..100. A missing
    field is 400 ``Missing<name>``, a bad one 400 ``parameter.error``."""
    body = json_object(call)
    for name in ("queryWord", "offset", "size"):
        if body.get(name) in (None, ""):
            raise ApiError(400, f"Missing{name}", f"{name} is mandatory for this action.")
    word, offset, size = body["queryWord"], body["offset"], body["size"]
    full = body.get("fullMatchField")

    def bad(what: str) -> ApiError:
        return ApiError(400, "parameter.error", f"参数错误: {what}")

    if not isinstance(word, str) or not word.strip():
        raise bad("queryWord")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise bad("offset")
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 100:
        raise bad("size")
    if full not in (None, 0, 1):
        raise bad("fullMatchField")
    word = word.strip()
    users = call.state.company.users.values()
    if full == 1:
        found = [u.userid for u in users if u.name == word]
    else:
        found = [u.userid for u in users if word in u.name]
    return {
        "hasMore": offset + size < len(found),
        "totalCount": len(found),
        "list": found[offset : offset + size],
    }


def _open_id(state: SandboxState, unionid: str) -> str:
    """The app-scoped openId of a person (stable per app and person)."""
    return hashlib.sha256(f"{state.app.app_key}:{unionid}".encode()).hexdigest()[:26]


def v1_contact_user(call: Call) -> dict[str, Any]:
    """``GET /v1.0/contact/users/{unionId}`` with a **user** token (from
    ``/v1.0/oauth2/userAccessToken``) in ``x-acs-dingtalk-access-token``; ``me`` is the token's
    owner. Answers ``nick, avatarUrl, mobile, openId, unionId, email, stateCode`` (Strings;
    ``email`` left out when the person has none; someone who left still has their account:
    ``me`` answers with it, and its unionId is unknown to ``getbyunionid``). No header → 400
    ``AuthenticationFailed.MissingParameter``; an unknown token (an app token too) → 400
    ``InvalidAuthentication``; an expired user token → 400 ``accesstoken.expired``; an unknown
    unionId → 404 ``invalidParameter.user.notFound``."""
    state = call.state
    token = call.request.headers.get("x-acs-dingtalk-access-token")
    if not token:
        raise ApiError(
            400, "AuthenticationFailed.MissingParameter", "缺少参数：x-acs-dingtalk-access-token"
        )
    with state.lock:
        entry = state.user_tokens.get(token)
    if entry is None:
        raise ApiError(400, "InvalidAuthentication", "不合法的access_token")
    owner, expires_at = entry
    if expires_at <= state.clock.now():
        raise ApiError(400, "accesstoken.expired", "用户accessToken过期")
    wanted = str(call.path_params.get("unionId") or "")
    if wanted == "me" and owner not in state.company.users and owner in state.company.leavers:
        leaver = state.company.leavers[owner]
        unionid = state.account_unionid(owner)
        return {
            "nick": leaver.name,
            "avatarUrl": "",
            "mobile": leaver.mobile,
            "openId": _open_id(state, unionid),
            "unionId": unionid,
            "stateCode": leaver.state_code,
        }
    userid = owner if wanted == "me" else state.index.by_unionid.get(wanted)
    user = state.company.users.get(userid) if userid else None
    if user is None:
        raise ApiError(404, "invalidParameter.user.notFound", "找不到该用户")
    body: dict[str, Any] = {
        "nick": user.name,
        "avatarUrl": user.avatar,
        "mobile": user.mobile,
        "openId": _open_id(state, user.unionid),
        "unionId": user.unionid,
        "stateCode": user.state_code,
    }
    if user.email:
        body["email"] = user.email
    return body
