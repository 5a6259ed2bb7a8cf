"""The DingTalk handlers of the sandbox: one function per API, validating like DingTalk.

Each handler takes a ``Call`` (parsed parameters, query, JSON body, path parameters, state) and
returns the business fields of the answer; it raises ``OapiError``/``ApiError`` for DingTalk's
errors. The envelope, limits, latency, faults and the token check are ``app.py``'s job.
Lookups go through ``state.index`` (precomputed), never a scan of the company.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from dingsync.sandbox.company import DEFAULT_ROLE_GROUP_NAME, ROOT_DEPT_ID
from dingsync.sandbox.state import SandboxState
from dingsync.sandbox.wire import ApiError, OapiError, Params

DAY_S = 86_400

#: Marks a new-family body that was sent but is not JSON (a form body → ``Missingbody``).
NOT_JSON = object()


@dataclass
class Call:
    """One API call as a handler sees it: parameters (old family), JSON body and query (new
    family), path parameters, and the request itself."""

    state: SandboxState
    request: Request
    params: Params
    query: dict[str, str]
    path_params: dict[str, Any] = field(default_factory=dict)
    json_body: Any = None


Handler = Callable[[Call], dict[str, Any]]


def _json_object(call: Call) -> dict[str, Any]:
    """The JSON object body of a new-family call; a form or empty body → 400 ``Missingbody``."""
    body = call.json_body
    if body is None or body is NOT_JSON:
        raise ApiError(400, "Missingbody", "body is mandatory for this action.")
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidParameter", "body must be a JSON object")
    return body


def _iso_utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:?\d{2})?$"
)


def _parse_iso(text: str) -> int:
    """ISO-8601 date *and* time → epoch ms (``2021-01-06T11:47:37Z``, with or without
    seconds/offset; no offset = UTC). A bare date (``2026-01-01``) or other text is
    ``ValueError``."""
    value = text.strip()
    if not _ISO_DATETIME.match(value):
        raise ValueError(f"not an ISO-8601 date-time: {text!r}")
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


_TOKEN_KEY = 0x5DEECE66D


def _encode_token(offset: int) -> str:
    return f"{offset ^ _TOKEN_KEY:016X}"


def _decode_token(token: str) -> int | None:
    if token == "0":
        return 0
    try:
        offset = int(token, 16) ^ _TOKEN_KEY
    except ValueError:
        return None
    return offset if 0 <= offset < 10**7 else None


# =============================================================================================
# Tokens and login
# =============================================================================================
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
    body = _json_object(call)
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
    body = _json_object(call)
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

    The code is a login code minted by ``POST /sandbox/authcode`` (single use, like DingTalk's
    authCode). A bad, expired or reused code — or an unknown refresh token — is HTTP 400 with
    the ``code`` of the ``user_code_error`` knob (``invalidParameter``, EB-07). No token header
    is needed and one sent is ignored (EB-22)."""
    body = _json_object(call)
    for name in ("clientId", "clientSecret", "grantType"):
        if not body.get(name):
            raise ApiError(400, f"Missing{name}", f"{name} is mandatory for this action.")
    state = call.state
    app = state.app
    if body["clientId"] != app.app_key or body["clientSecret"] != app.app_secret:
        raise ApiError(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
    grant = body["grantType"]
    error_code = state.config.user_code_error
    if grant == "authorization_code":
        code = body.get("code")
        if not code:
            raise ApiError(400, "Missingcode", "code is mandatory for this action.")
        userid = state.consume_authcode(str(code))
        if userid is None or userid not in state.company.users:
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
    body = _json_object(call)
    for name in ("suiteKey", "suiteSecret", "authCorpId", "suiteTicket"):
        if not body.get(name):
            raise ApiError(400, f"Missing{name}", f"{name} is mandatory for this action.")
    raise ApiError(400, "invalidSuiteKey", "无效的suiteKey")


def _login(call: Call, code: str | None) -> str:
    """The userid behind a login code (single use); 40078 when unknown, used or expired."""
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


# =============================================================================================
# Users
# =============================================================================================
def _user_or_60121(call: Call, userid: str) -> Any:
    user = call.state.company.users.get(userid)
    if user is None:
        raise OapiError(60121, "找不到该用户")
    return user


def user_get_v2(call: Call) -> dict[str, Any]:
    """``POST /topapi/v2/user/get {userid, language}`` (60121 for unknown or left, EB-08)."""
    userid = call.params.text("userid", required=True, max_len=64)
    call.params.text("language", max_len=6)
    assert userid is not None
    _user_or_60121(call, userid)
    return {"result": call.state.index.user_detail(userid)}


def user_get_old(call: Call) -> dict[str, Any]:
    """``GET /user/get?userid=`` — archived camelCase shape with string maps ``"{1:1}"``."""
    userid = call.params.text("userid", required=True, max_len=64)
    assert userid is not None
    user = _user_or_60121(call, userid)
    index = call.state.index
    roles = [
        {
            "id": r["id"],
            "name": r["name"],
            "groupName": r["group_name"],
            # 101 main admin, 102 sub-admin, 103 负责人, 104 department head; custom roles null
            "type": (
                {"主管理员": 101, "子管理员": 102, "负责人": 103, "主管": 104}.get(r["name"])
                if r["group_name"] == DEFAULT_ROLE_GROUP_NAME
                else None
            ),
        }
        for r in index.roles(user)
    ]
    body: dict[str, Any] = {
        "userid": user.userid,
        "unionid": user.unionid,
        "name": user.name,
        "mobile": user.mobile,
        "stateCode": user.state_code,
        "active": user.active,
        "avatar": user.avatar,
        "department": user.dept_id_list,
        "orderInDepts": "{" + ",".join(f"{m.dept_id}:{m.order}" for m in user.memberships) + "}",
        "isLeaderInDepts": "{"
        + ",".join(f"{m.dept_id}:{str(m.leader).lower()}" for m in user.memberships)
        + "}",
        "isAdmin": user.admin,
        "isBoss": user.boss,
        "isHide": user.hide_mobile,
        "isSenior": user.senior,
        "realAuthed": user.real_authed,
        "jobnumber": user.job_number or "",
        "position": user.title or "",
        "roles": roles,
        "extattr": json.loads(user.extension) if user.extension else {},
        "tags": {},
    }
    optional = {
        "managerUserid": user.manager_userid,
        "hiredDate": user.hired_date,
        "tel": user.telephone,
        "remark": user.remark,
        "workPlace": user.work_place,
        "email": user.email,
        "orgEmail": user.org_email,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


def user_get_admin_old(call: Call) -> dict[str, Any]:
    """``GET /user/get_admin`` — archived; the administrators under the doc sample's key
    ``adminList`` (the SDK's ``admin_list`` is not sent, EB-15): ``[{sys_level, userid}]``."""
    admins = call.state.company.admins
    return {"adminList": [{"sys_level": level, "userid": u} for u, level in admins.items()]}


def _dept_or_60003(call: Call, dept_id: int | None) -> int:
    if dept_id is not None and dept_id < 0:
        # e.g. -7, the home-school contacts (auth-contacts.md §5); the body carries success:false
        raise OapiError(40009, "不合法的部门id", extra={"success": False})
    if dept_id is None or dept_id not in call.state.company.departments:
        raise OapiError(60003, "部门不存在")
    return dept_id


def user_list(call: Call) -> dict[str, Any]:
    """``POST /topapi/v2/user/list {dept_id, cursor, size ≤ 100, order_field}``."""
    p = call.params
    dept_id = _dept_or_60003(call, p.integer("dept_id", required=True, lo=1))
    cursor = p.integer("cursor", required=True, lo=0, hi=100_000)
    size = p.integer("size", required=True, lo=1, hi=100)
    order_field = p.text("order_field")
    if order_field not in (
        None,
        "entry_asc",
        "entry_desc",
        "modify_asc",
        "modify_desc",
        "custom",
    ):
        raise p.bad("order_field")
    p.boolean("contain_access_limit")
    assert cursor is not None and size is not None
    index = call.state.index
    members = index.members[dept_id]
    if order_field in ("entry_asc", "entry_desc"):
        users = call.state.company.users
        members = sorted(
            members,
            key=lambda u: (users[u].hired_date or 0, u),
            reverse=order_field == "entry_desc",
        )
    page = members[cursor : cursor + size]
    result: dict[str, Any] = {
        "has_more": cursor + size < len(members),
        "list": [index.list_item(u, dept_id) for u in page],
    }
    if result["has_more"]:
        result["next_cursor"] = cursor + size
    return {"result": result}


def user_listsimple(call: Call) -> dict[str, Any]:
    """``POST /topapi/user/listsimple {dept_id, cursor, size ≤ 100}`` (40069 for a bad size,
    EB-14; 40068 for a bad cursor, EB-39)."""
    p = call.params
    dept_id = _dept_or_60003(call, p.integer("dept_id", required=True, lo=1))
    cursor = p.integer("cursor", lo=0, code=40068, default=0)
    size = p.integer("size", lo=1, hi=100, code=40069, default=10)
    assert cursor is not None and size is not None
    users = call.state.company.users
    members = call.state.index.members[dept_id]
    page = members[cursor : cursor + size]
    result: dict[str, Any] = {
        "has_more": cursor + size < len(members),
        "list": [{"name": users[u].name, "userid": u} for u in page],
    }
    if result["has_more"]:
        result["next_cursor"] = cursor + size
    return {"result": result}


def user_listid(call: Call) -> dict[str, Any]:
    """``POST /topapi/user/listid {dept_id}`` — every userid of one department, unpaged."""
    dept_id = _dept_or_60003(call, call.params.integer("dept_id", required=True, lo=1))
    return {"result": {"userid_list": list(call.state.index.members[dept_id])}}


def user_count(call: Call) -> dict[str, Any]:
    """``POST /topapi/user/count {only_active}``."""
    only_active = call.params.boolean("only_active", required=True, code=None)
    index = call.state.index
    count = index.active_count if only_active else len(call.state.company.users)
    return {"result": {"count": count}}


def user_listadmin(call: Call) -> dict[str, Any]:
    """``POST /topapi/user/listadmin`` — ``[{userid, sys_level}]``."""
    admins = call.state.company.admins
    return {"result": [{"sys_level": level, "userid": u} for u, level in admins.items()]}


def user_get_admin_scope(call: Call) -> dict[str, Any]:
    """``POST /topapi/user/get_admin_scope {userid}`` — top-level ``dept_ids``."""
    userid = call.params.text("userid", required=True, code=40036)
    assert userid is not None
    if userid not in call.state.company.users:
        raise OapiError(60121, "找不到员工")
    return {"dept_ids": list(call.state.company.admin_scopes.get(userid, []))}


def user_getbymobile(call: Call) -> dict[str, Any]:
    """``POST /topapi/v2/user/getbymobile {mobile}``."""
    mobile = call.params.text("mobile", required=True, max_len=15)
    assert mobile is not None
    userid = call.state.index.by_mobile.get(mobile)
    if userid is None:
        raise OapiError(60121, "未找到该用户")
    result: dict[str, Any] = {"userid": userid}
    if call.params.boolean("support_exclusive_account_search"):
        result["exclusive_account_userid_list"] = []
    return {"result": result}


def user_getbyunionid(call: Call) -> dict[str, Any]:
    """``POST /topapi/user/getbyunionid {unionid}``."""
    unionid = call.params.text("unionid", required=True, max_len=100)
    assert unionid is not None
    userid = call.state.index.by_unionid.get(unionid)
    if userid is None:
        raise OapiError(60121, "找不到该用户")
    return {"result": {"contact_type": 0, "userid": userid}}


# =============================================================================================
# Departments
# =============================================================================================
def _dept_brief(state: SandboxState, dept_id: int) -> dict[str, Any]:
    d = state.company.departments[dept_id]
    return {
        "auto_add_user": d.auto_add_user,
        "create_dept_group": d.create_dept_group,
        "dept_id": d.dept_id,
        "name": d.name,
        "parent_id": d.parent_id,
    }


def dept_listsub(call: Call) -> dict[str, Any]:
    """``POST /topapi/v2/department/listsub {dept_id}`` — ``result`` is an array (EB-09:
    a missing ``dept_id`` means the root)."""
    dept_id = call.params.integer("dept_id", default=ROOT_DEPT_ID)
    dept_id = _dept_or_60003(call, dept_id)
    return {"result": [_dept_brief(call.state, d) for d in call.state.index.children[dept_id]]}


def dept_listsubid(call: Call) -> dict[str, Any]:
    """``POST /topapi/v2/department/listsubid {dept_id}``."""
    dept_id = _dept_or_60003(call, call.params.integer("dept_id", required=True))
    return {"result": {"dept_id_list": list(call.state.index.children[dept_id])}}


def dept_get(call: Call) -> dict[str, Any]:
    """``POST /topapi/v2/department/get {dept_id}`` — every field, empty permit lists as
    ``[]`` (EB-11); no ``parent_id`` on the root."""
    dept_id = _dept_or_60003(call, call.params.integer("dept_id", required=True))
    call.params.text("language", max_len=6)
    d = call.state.company.departments[dept_id]
    result: dict[str, Any] = {
        "auto_add_user": d.auto_add_user,
        "auto_approve_apply": d.auto_approve_apply,
        "brief": d.brief,
        "create_dept_group": d.create_dept_group,
        "dept_id": d.dept_id,
        "dept_manager_userid_list": list(d.dept_manager_userid_list),
        "dept_permits": list(d.dept_permits),
        "from_union_org": False,
        "group_contain_sub_dept": d.group_contain_sub_dept,
        "hide_dept": d.hide_dept,
        "name": d.name,
        "order": d.order,
        "outer_dept": d.outer_dept,
        "outer_permit_depts": list(d.outer_permit_depts),
        "outer_permit_users": list(d.outer_permit_users),
        "user_permits": list(d.user_permits),
    }
    optional = {
        "parent_id": d.parent_id,
        "dept_group_chat_id": d.dept_group_chat_id,
        "org_dept_owner": d.org_dept_owner,
        "source_identifier": d.source_identifier,
    }
    result.update({k: v for k, v in optional.items() if v is not None})
    return {"result": dict(sorted(result.items()))}


def dept_listparentbyuser(call: Call) -> dict[str, Any]:
    """``POST /topapi/v2/department/listparentbyuser {userid}`` — one path per membership
    (EB-12), each from the department up to 1; ``33012`` 无效的USERID for an unknown userid."""
    userid = call.params.text("userid", required=True)
    assert userid is not None
    user = call.state.company.users.get(userid)
    if user is None:  # auth-contacts.md §5.4 lists 33012, not 60121
        raise OapiError(33012, "无效的USERID")
    ancestors = call.state.index.ancestors
    return {
        "result": {
            "parent_list": [
                {"parent_dept_id_list": list(ancestors[m.dept_id])} for m in user.memberships
            ]
        }
    }


def dept_listparentbydept(call: Call) -> dict[str, Any]:
    """``POST /topapi/v2/department/listparentbydept {dept_id}`` — ``[self, …, 1]``."""
    dept_id = _dept_or_60003(call, call.params.integer("dept_id", required=True))
    return {"result": {"parent_id_list": list(call.state.index.ancestors[dept_id])}}


def dept_list_old(call: Call) -> dict[str, Any]:
    """``GET /department/list?id=&fetch_child=`` — archived; recursive listing is sorted by
    id, so children may come before their parents."""
    p = call.params
    dept_id = _dept_or_60003(call, p.integer("id", default=ROOT_DEPT_ID))
    fetch_child = p.boolean("fetch_child", default=True)
    index = call.state.index
    ids = sorted(index.descendants(dept_id)) if fetch_child else index.children[dept_id]
    depts = call.state.company.departments
    out = []
    for d in ids:
        dept = depts[d]
        item: dict[str, Any] = {
            "id": dept.dept_id,
            "name": dept.name,
            "parentid": dept.parent_id,
            "createDeptGroup": dept.create_dept_group,
            "autoAddUser": dept.auto_add_user,
        }
        if dept.source_identifier:
            item["sourceIdentifier"] = dept.source_identifier
        out.append(item)
    return {"department": out}


def dept_list_parent_depts_old(call: Call) -> dict[str, Any]:
    """``GET /department/list_parent_depts?userId=`` — archived; ``department`` is a flat
    ``[dept, …, 1]`` for someone in one department and a list of such lists (one per
    membership) for someone in several (EB-13)."""
    userid = call.params.text("userId", required=True)
    assert userid is not None
    user = _user_or_60121(call, userid)
    ancestors = call.state.index.ancestors
    paths = [list(ancestors[m.dept_id]) for m in user.memberships]
    return {"department": paths[0] if len(paths) == 1 else paths}


def dept_get_old(call: Call) -> dict[str, Any]:
    """``GET /department/get?id=`` — archived camelCase shape, lists joined with ``|``."""
    dept_id = _dept_or_60003(call, call.params.integer("id", required=True))
    d = call.state.company.departments[dept_id]
    body: dict[str, Any] = {
        "id": d.dept_id,
        "name": d.name,
        "order": d.order,
        "createDeptGroup": d.create_dept_group,
        "autoAddUser": d.auto_add_user,
        "autoApproveApply": d.auto_approve_apply,
        "groupContainSubDept": d.group_contain_sub_dept,
        "deptManagerUseridList": "|".join(d.dept_manager_userid_list),
        "outerDept": d.outer_dept,
        "deptHiding": d.hide_dept,
    }
    optional: dict[str, Any] = {
        "parentid": d.parent_id,
        "orgDeptOwner": d.org_dept_owner,
        "deptGroupChatId": d.dept_group_chat_id,
        "sourceIdentifier": d.source_identifier,
        "outerPermitUsers": "|".join(d.outer_permit_users) or None,
        "outerPermitDepts": "|".join(map(str, d.outer_permit_depts)) or None,
        "deptPermits": "|".join(map(str, d.dept_permits)) or None,
        "userPermits": "|".join(d.user_permits) or None,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


def dept_list_ids_old(call: Call) -> dict[str, Any]:
    """``GET /department/list_ids?id=`` — archived; direct children as ``sub_dept_id_list``."""
    dept_id = _dept_or_60003(call, call.params.integer("id", required=True))
    return {"sub_dept_id_list": list(call.state.index.children[dept_id])}


def dept_list_parent_depts_by_dept_old(call: Call) -> dict[str, Any]:
    """``GET /department/list_parent_depts_by_dept?id=`` — archived; ``parentIds`` from the
    department itself up to root 1."""
    dept_id = _dept_or_60003(call, call.params.integer("id", required=True))
    return {"parentIds": list(call.state.index.ancestors[dept_id])}


# =============================================================================================
# Old user APIs (用户管理1.0, archived; GET, query access_token) — auth-contacts.md §6.8
# =============================================================================================
_OLD_ORDERS = (None, "entry_asc", "entry_desc", "modify_asc", "modify_desc", "custom")


def _old_members(call: Call, *, paged: bool) -> tuple[list[str], bool, int]:
    """The members of ``department_id`` for ``/user/simplelist`` and ``/user/listbypage``:
    ``(page of userids, hasMore, dept_id)``. ``size`` ≤ 100; ``simplelist`` pages only when
    both ``offset`` and ``size`` are sent (else every member), ``listbypage`` requires both."""
    p = call.params
    dept_id = _dept_or_60003(call, p.integer("department_id", required=True))
    order = p.text("order")
    if order not in _OLD_ORDERS:
        raise p.bad("order")
    p.text("lang", max_len=6)
    offset = p.integer("offset", required=paged, lo=0, code=40068)
    size = p.integer("size", required=paged, lo=1, hi=100, code=40069)
    members = call.state.index.members[dept_id]
    if order in ("entry_asc", "entry_desc"):
        users = call.state.company.users
        members = sorted(
            members,
            key=lambda u: (users[u].hired_date or 0, u),
            reverse=order == "entry_desc",
        )
    if offset is None or size is None:
        return list(members), False, dept_id
    return members[offset : offset + size], offset + size < len(members), dept_id


def user_simplelist_old(call: Call) -> dict[str, Any]:
    """``GET /user/simplelist?department_id=&offset=&size=&order=&lang=`` — archived;
    ``hasMore``, ``userlist[{userid, name}]``."""
    page, more, _ = _old_members(call, paged=False)
    users = call.state.company.users
    return {"hasMore": more, "userlist": [{"userid": u, "name": users[u].name} for u in page]}


def user_listbypage_old(call: Call) -> dict[str, Any]:
    """``GET /user/listbypage?department_id=&offset=&size=`` (``offset``/``size`` required,
    ``size`` ≤ 100) — archived camelCase user records; ``order`` and ``isLeader`` are those of
    this department; ``department`` every department id."""
    page, more, dept_id = _old_members(call, paged=True)
    users = call.state.company.users
    out = []
    for uid in page:
        u = users[uid]
        m = next(m for m in u.memberships if m.dept_id == dept_id)
        item: dict[str, Any] = {
            "userid": u.userid,
            "unionid": u.unionid,
            "name": u.name,
            "mobile": u.mobile,
            "order": m.order,
            "isLeader": m.leader,
            "isAdmin": u.admin,
            "isBoss": u.boss,
            "isHide": u.hide_mobile,
            "active": u.active,
            "department": u.dept_id_list,
            "position": u.title or "",
            "avatar": u.avatar,
            "jobnumber": u.job_number or "",
            "extattr": json.loads(u.extension) if u.extension else {},
        }
        optional = {
            "tel": u.telephone,
            "workPlace": u.work_place,
            "remark": u.remark,
            "email": u.email,
            "orgEmail": u.org_email,
            "hiredDate": u.hired_date,
        }
        item.update({k: v for k, v in optional.items() if v is not None})
        out.append(item)
    return {"hasMore": more, "userlist": out}


def user_get_dept_member_old(call: Call) -> dict[str, Any]:
    """``GET /user/getDeptMember?deptId=`` — archived; ``userIds`` of one department."""
    dept_id = _dept_or_60003(call, call.params.integer("deptId", required=True))
    return {"userIds": list(call.state.index.members[dept_id])}


def user_get_org_user_count_old(call: Call) -> dict[str, Any]:
    """``GET /user/get_org_user_count?onlyActive=0|1`` — archived; ``count`` (1: activated
    only)."""
    only_active = call.params.integer("onlyActive", required=True, lo=0, hi=1)
    index = call.state.index
    return {"count": index.active_count if only_active else len(call.state.company.users)}


def user_get_by_mobile_old(call: Call) -> dict[str, Any]:
    """``GET /user/get_by_mobile?mobile=`` — archived; ``userid`` (60121 when not found)."""
    mobile = call.params.text("mobile", required=True, max_len=15)
    assert mobile is not None
    userid = call.state.index.by_mobile.get(mobile)
    if userid is None:
        raise OapiError(60121, "找不到该用户")
    return {"userid": userid}


def user_get_userid_by_unionid_old(call: Call) -> dict[str, Any]:
    """``GET /user/getUseridByUnionid?unionid=`` — archived; ``contactType`` (0 employee),
    ``userid`` (60121 for a stranger's unionid)."""
    unionid = call.params.text("unionid", required=True, max_len=100)
    assert unionid is not None
    userid = call.state.index.by_unionid.get(unionid)
    if userid is None:
        raise OapiError(60121, "找不到该用户")
    return {"contactType": 0, "userid": userid}


# =============================================================================================
# New-family contacts: search, a user token's profile
# =============================================================================================
def v1_users_search(call: Call) -> dict[str, Any]:
    """``POST /v1.0/contact/users/search {queryWord, offset, size, fullMatchField}`` →
    ``{hasMore, totalCount, list: [userid]}``: employees whose name contains ``queryWord``
    (equals it with ``fullMatchField`` 1), in directory order. ``size`` 1..100. A missing
    field is 400 ``Missing<name>``, a bad one 400 ``parameter.error``."""
    body = _json_object(call)
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
    ``email`` left out when the person has none). No header → 400
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


# =============================================================================================
# Leavers
# =============================================================================================
def emp_leave_records(call: Call) -> dict[str, Any]:
    """``GET /v1.0/contact/empLeaveRecords?startTime=&endTime=&nextToken=&maxResults=``
    (``maxResults`` ≤ 50, span ≤ 365 days; without ``endTime`` the start must lie within
    the last 365 days). Oldest first; ``nextToken`` is absent on the last page."""
    q = call.query
    now_ms = call.state.clock.now_ms()

    def invalid(what: str) -> ApiError:
        return ApiError(400, "invalidParameter.param.invalid", f"参数错误: {what}")

    try:
        start = _parse_iso(q["startTime"]) if q.get("startTime") else None
        end = _parse_iso(q["endTime"]) if q.get("endTime") else None
    except ValueError:
        raise invalid("startTime/endTime 格式应为 yyyy-MM-ddTHH:mm:ssZ") from None
    if start is None:
        raise ApiError(400, "MissingstartTime", "startTime is mandatory for this action.")
    max_text = q.get("maxResults")
    if not max_text:
        raise ApiError(400, "MissingmaxResults", "maxResults is mandatory for this action.")
    if not max_text.isdigit() or not 1 <= int(max_text) <= 50:
        raise invalid("maxResults 取值范围 1~50")
    max_results = int(max_text)
    if end is None:
        if start < now_ms - 365 * DAY_S * 1000:
            raise invalid("startTime 不能早于365天前")
        end = now_ms
    if end < start or end - start > 365 * DAY_S * 1000:
        raise invalid("时间跨度不能超过365天")
    offset = _decode_token(q.get("nextToken") or "0")
    if offset is None:
        raise ApiError(400, "invalidParameter.cursor.invalid", "无效的nextToken")
    leavers = call.state.leavers_between(start, end)
    page = leavers[offset : offset + max_results]
    body: dict[str, Any] = {
        "records": [
            {
                "userId": lv.userid,
                "name": lv.name,
                "stateCode": lv.state_code,
                "mobile": lv.mobile,
                "leaveTime": _iso_utc(lv.leave_time),
                "leaveReason": lv.leave_reason,
            }
            for lv in page
        ]
    }
    if offset + max_results < len(leavers):
        body = {"nextToken": _encode_token(offset + max_results), **body}
    return body


def querydimission(call: Call) -> dict[str, Any]:
    """``POST /topapi/smartwork/hrm/employee/querydimission {offset, size ≤ 50}`` — leaver
    userids, most recent first; ``next_cursor`` absent on the last page. A malformed or
    negative ``offset`` is ``40068`` 无效的偏移量 like the other contacts APIs (EB-39); a
    missing one ``400002``."""
    p = call.params
    if p.data.get("offset") in (None, ""):
        raise OapiError(p.missing, "缺少参数 offset")
    offset = p.integer("offset", required=True, lo=0, code=40068)
    size = p.integer("size", required=True, lo=1, hi=50)
    assert offset is not None and size is not None
    newest_first = call.state.index.leavers_newest_first
    total = len(newest_first)
    page = [lv.userid for lv in newest_first[offset : offset + size]]
    result: dict[str, Any] = {"data_list": page}
    if offset + size < total:
        result["next_cursor"] = offset + size
    return {"result": result, "success": True}


def listdimission(call: Call) -> dict[str, Any]:
    """``POST /topapi/smartwork/hrm/employee/listdimission {userid_list}`` (≤ 50,
    comma-separated); people who did not leave are left out."""
    userids = call.params.text_list("userid_list", required=True)
    assert userids is not None
    if len(userids) > 50:
        raise call.params.bad("userid_list", detail=" 最多50个")
    leavers = call.state.company.leavers
    result = []
    for uid in userids:
        lv = leavers.get(uid)
        if lv is None:
            continue
        item: dict[str, Any] = {
            "userid": lv.userid,
            "last_work_day": lv.last_work_day,
            "dept_list": [{"dept_id": d.dept_id, "dept_path": d.dept_path} for d in lv.dept_list],
            "reason_memo": lv.reason_memo,
            "reason_type": lv.reason_type,
            "pre_status": lv.pre_status,
            "status": lv.status,
            "main_dept_name": lv.main_dept_name,
            "main_dept_id": lv.main_dept_id,
        }
        if lv.handover_userid:
            item["handover_userid"] = lv.handover_userid
        result.append(item)
    return {"result": result, "success": True}


# =============================================================================================
# Roles (角色) — auth-contacts.md §9; mind the mixed casing
# =============================================================================================
#: ``/topapi/role/list`` and ``/topapi/role/simplelist``: default and largest ``size``.
ROLE_LIST_SIZE = (20, 200)
ROLE_MEMBERS_SIZE = (20, 100)


def role_list(call: Call) -> dict[str, Any]:
    """``POST /topapi/role/list {size ≤ 200, offset}`` → ``result{hasMore, list[{groupId,
    name, roles[{id, name}]}]}`` — role groups, the built-in 默认 first. Paging is effective only
    when *both* ``size`` and ``offset`` are sent; otherwise the first page of 20 is answered.
    A bad ``size`` (< 1 or > 200) is ``40069`` 无效的size, a bad ``offset`` ``40068``
    无效的偏移量 (EB-39)."""
    p = call.params
    offset, size = 0, ROLE_LIST_SIZE[0]
    if p.data.get("size") not in (None, "") and p.data.get("offset") not in (None, ""):
        size = p.integer("size", lo=1, hi=ROLE_LIST_SIZE[1], code=40069) or size
        offset = p.integer("offset", lo=0, code=40068) or 0
    groups = call.state.index.role_group_items()
    return {
        "result": {
            "hasMore": offset + size < len(groups),
            "list": groups[offset : offset + size],
        }
    }


def _role_or_33011(call: Call, name: str) -> int:
    """The role id in parameter ``name``: missing → ``400002``; malformed or unknown →
    ``33011`` 无效的roleId."""
    p = call.params
    if p.data.get(name) in (None, ""):
        raise OapiError(p.missing, f"缺少参数 {name}")
    try:
        role_id = p.integer(name, lo=1)
    except OapiError:
        raise OapiError(33011, "无效的roleId") from None
    if role_id is None or call.state.index.role(role_id) is None:
        raise OapiError(33011, "无效的roleId")
    return role_id


def role_getrole(call: Call) -> dict[str, Any]:
    """``POST /topapi/role/getrole {roleId}`` (camelCase) → top-level ``role{name, groupId}``
    (no ``result``); ``33011`` for an unknown ``roleId``."""
    found = call.state.index.role(_role_or_33011(call, "roleId"))
    assert found is not None
    group, role = found
    return {"role": {"groupId": group.group_id, "name": role.name}}


def role_simplelist(call: Call) -> dict[str, Any]:
    """``POST /topapi/role/simplelist {role_id, size ≤ 100, offset}`` (snake_case ``role_id``)
    → ``result{hasMore, list[{name, userid, manageScopes[{dept_id, name}]}]}``; ``size``
    defaults to 20 and ``offset`` to 0, each on its own. ``manageScopes`` is ``[]`` for a member
    who manages the whole company. ``33011`` for an unknown ``role_id``; ``40069`` / ``40068``
    for a bad ``size`` / ``offset``."""
    p = call.params
    role_id = _role_or_33011(call, "role_id")
    size = p.integer("size", lo=1, hi=ROLE_MEMBERS_SIZE[1], code=40069)
    offset = p.integer("offset", lo=0, code=40068)
    size = size or ROLE_MEMBERS_SIZE[0]
    offset = offset or 0
    members = call.state.index.role_member_items(role_id)
    return {
        "result": {
            "hasMore": offset + size < len(members),
            "list": members[offset : offset + size],
        }
    }


# =============================================================================================
# JSAPI
# =============================================================================================
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


# =============================================================================================
# Fallbacks
# =============================================================================================
def topapi_unknown(call: Call) -> dict[str, Any]:
    """Unknown ``/topapi`` path → errcode 22 naming ``dingtalk.oapi.<dotted path>``."""
    rest = call.request.url.path[len("/topapi/") :].strip("/")
    api_name = "dingtalk.oapi." + rest.replace("/", ".")
    sub_msg = f"不合法ApiName，ApiName = {api_name}"
    raise OapiError(22, f"Invalid method[submsg={sub_msg}]", extra={"sub_msg": sub_msg})


def oapi_unknown(call: Call) -> dict[str, Any]:
    """Unknown path on the old host outside ``/topapi`` → ``{"errcode":404,"errmsg":
    "请求的URI地址不存在"}`` (HTTP 200; e.g. ``/oauth2/corpAccessToken`` without ``/v1.0``,
    EB-91)."""
    raise OapiError(404, "请求的URI地址不存在")


def api_unknown(call: Call) -> dict[str, Any]:
    """Unknown ``/v1.0`` path → 404 ``InvalidAction.NotFound``."""
    raise ApiError(
        404,
        "InvalidAction.NotFound",
        "Specified api is not found, please check your url and method.",
    )
