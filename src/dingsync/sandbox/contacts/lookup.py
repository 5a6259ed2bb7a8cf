"""Lookups the directory handlers share: a user or a department by id, or DingTalk's errcode."""

from __future__ import annotations

from typing import Any

from dingsync.sandbox.call import Call
from dingsync.sandbox.wire import OapiError


def user_or_60121(call: Call, userid: str) -> Any:
    user = call.state.company.users.get(userid)
    if user is None:
        raise OapiError(60121, "找不到该用户")
    return user


def dept_or_60003(call: Call, dept_id: int | None) -> int:
    if dept_id is not None and dept_id < 0:
        # e.g. -7, the home-school contacts (auth-contacts.md §5); the body carries success:false
        raise OapiError(40009, "不合法的部门id", extra={"success": False})
    if dept_id is None or dept_id not in call.state.company.departments:
        raise OapiError(60003, "部门不存在")
    return dept_id
