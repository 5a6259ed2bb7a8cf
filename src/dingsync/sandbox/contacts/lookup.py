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


#: What the department calls answer for an ``odd_departments`` id.
ODD_DEPARTMENT_ERRORS = {60003: "部门不存在", 50004: "企业部门不在授权范围"}


def dept_or_60003(call: Call, dept_id: int | None, *, scoped: bool = True) -> int:
    """``dept_id`` when the app may read it, else DingTalk's errcode: the ``odd_departments``
    knob's, ``40009`` for a negative id, ``60003`` for an unknown one, ``50004`` outside a
    limited contacts scope (unless ``scoped=False``: the calls DingTalk does not limit)."""
    config = call.state.config
    odd = config.odd_departments.get(dept_id) if dept_id is not None else None
    if odd is not None:
        raise OapiError(odd, ODD_DEPARTMENT_ERRORS[odd])
    if dept_id is not None and dept_id < 0:
        # e.g. -7, the home-school contacts (auth-contacts.md §5); the body carries success:false
        raise OapiError(40009, "不合法的部门id", extra={"success": False})
    if dept_id is None or dept_id not in call.state.company.departments:
        raise OapiError(60003, "部门不存在")
    if scoped and config.contacts_scope_dept_ids is not None:
        scope = call.state.contacts_scope()
        if scope is not None and dept_id not in scope:
            raise OapiError(50004, ODD_DEPARTMENT_ERRORS[50004])
    return dept_id
