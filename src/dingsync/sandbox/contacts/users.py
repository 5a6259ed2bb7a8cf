"""Directory handlers of users: ``/topapi/v2/user/*``, ``/topapi/user/*`` and the archived
``/user/*`` family (details, lists by department, counts, administrators, by mobile/unionid).
"""

from __future__ import annotations

import json
from typing import Any

from dingsync.sandbox.call import Call
from dingsync.sandbox.company import DEFAULT_ROLE_GROUP_NAME
from dingsync.sandbox.contacts.lookup import dept_or_60003, user_or_60121
from dingsync.sandbox.wire import OapiError


def user_get_v2(call: Call) -> dict[str, Any]:
    """``POST /topapi/v2/user/get {userid, language}`` (60121 for unknown or left, EB-08)."""
    userid = call.params.text("userid", required=True, max_len=64)
    call.params.text("language", max_len=6)
    assert userid is not None
    user_or_60121(call, userid)
    if not call.state.in_contacts_scope(userid):  # auth-contacts.md §4.1
        raise OapiError(50002, "员工不在授权范围")
    return {"result": call.state.index.user_detail(userid)}


def user_get_old(call: Call) -> dict[str, Any]:
    """``GET /user/get?userid=`` — archived camelCase shape with string maps ``"{1:1}"``."""
    userid = call.params.text("userid", required=True, max_len=64)
    assert userid is not None
    user = user_or_60121(call, userid)
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
    """``GET /user/get_admin`` — archived; the administrators under the key DingTalk's own SDKs
    read, ``admin_list`` (EB-15; the doc sample's ``adminList`` is not sent):
    ``[{sys_level, userid}]``."""
    admins = call.state.company.admins
    return {"admin_list": [{"sys_level": level, "userid": u} for u, level in admins.items()]}


def user_list(call: Call) -> dict[str, Any]:
    """``POST /topapi/v2/user/list {dept_id, cursor, size ≤ 100, order_field}``."""
    p = call.params
    dept_id = dept_or_60003(call, p.integer("dept_id", required=True, lo=1))
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
    EB-14; 40068 for a bad cursor — below 0 or above 100000, the range §6.1 gives —, EB-39)."""
    p = call.params
    dept_id = dept_or_60003(call, p.integer("dept_id", required=True, lo=1))
    cursor = p.integer("cursor", lo=0, hi=100_000, code=40068, default=0)
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
    """``POST /topapi/user/listid {dept_id}`` — every userid of one department, unpaged; not
    limited by the contacts scope (auth-contacts.md §6.3)."""
    dept_id = dept_or_60003(call, call.params.integer("dept_id", required=True, lo=1), scoped=False)
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


_OLD_ORDERS = (None, "entry_asc", "entry_desc", "modify_asc", "modify_desc", "custom")


def _old_members(call: Call, *, paged: bool) -> tuple[list[str], bool, int]:
    """The members of ``department_id`` for ``/user/simplelist``, ``/user/list`` and
    ``/user/listbypage``: ``(page of userids, hasMore, dept_id)``. ``size`` ≤ 100; ``simplelist``
    and ``list`` page only when both ``offset`` and ``size`` are sent (else every member),
    ``listbypage`` requires both."""
    p = call.params
    dept_id = dept_or_60003(call, p.integer("department_id", required=True))
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
    return _old_details(call, paged=True)


def user_list_old(call: Call) -> dict[str, Any]:
    """``GET /user/list?department_id=&offset=&size=&order=&lang=`` — archived (SDK
    ``dingtalk.oapi.user.list``): the direct members of a department with details, the same
    ``{hasMore, userlist[…]}`` records as ``/user/listbypage``. ``department_id`` required
    (unknown → 60003); ``offset``/``size`` page only when both are sent (like
    ``/user/simplelist``; else every member), ``size`` 1..100 (else 40069), ``offset`` ≥ 0 (else
    40068)."""
    return _old_details(call, paged=False)


def _old_details(call: Call, *, paged: bool) -> dict[str, Any]:
    """The detailed member records of ``/user/listbypage`` (``paged``) and ``/user/list``."""
    page, more, dept_id = _old_members(call, paged=paged)
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
    dept_id = dept_or_60003(call, call.params.integer("deptId", required=True))
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
