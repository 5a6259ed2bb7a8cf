"""Handlers of roles (角色): role groups with their roles, one role, a role's members."""

from __future__ import annotations

from typing import Any

from dingsync.sandbox.call import Call
from dingsync.sandbox.wire import OapiError

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
