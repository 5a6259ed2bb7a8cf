"""Role (角色) mutations of the sandbox: ``POST /sandbox/mutate/roles/<action>``.

The company's roles are generated with it (:func:`dingsync.sandbox.company._make_roles`) and
served by ``/topapi/role/list``, ``getrole`` and ``simplelist`` (``handlers.py``). The members
of the built-in 默认 roles follow the directory (administrators, the boss, department heads) and
change through the contacts mutations; custom roles change here:

- ``add_role {name, group_name (default 岗位; a new group is created when unknown), members:
  [{userid, dept_ids}]}`` → ``{role_id, group_id}``;
- ``remove_role {role_id}``;
- ``add_member {role_id, userid, dept_ids}`` (``dept_ids`` = the member's ``manageScopes``;
  empty or absent = the whole company; an existing member gets the new scope);
- ``remove_member {role_id, userid}``.

Each changes ``state.company`` in place and calls ``state.reindex()``. An unknown role or
userid raises ``KeyError`` (HTTP 404 with ``errcode`` 33011 / 60121), a change to a built-in 默认
role or a malformed body ``ValueError`` (HTTP 409 / 400). DingTalk's role events
(``label_conf_*``, ``label_user_change``) are not emitted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dingsync.sandbox.company import Role, RoleGroup, RoleMember

if TYPE_CHECKING:
    from dingsync.sandbox.state import SandboxState

ACTIONS = ("add_role", "remove_role", "add_member", "remove_member")


class UnknownId(KeyError):
    """An unknown role (``errcode`` 33011) or userid (60121)."""

    def __init__(self, errcode: int, message: str) -> None:
        super().__init__(message)
        self.errcode = errcode
        self.message = message


def mutate_roles(state: SandboxState, action: str, data: dict[str, Any]) -> dict[str, Any]:
    """Apply one role mutation (see the module docstring) and return what changed."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    with state.lock:
        answer = _ACTIONS[action](state, data)
        state.reindex()
    return answer


def _custom_role(state: SandboxState, data: dict[str, Any]) -> tuple[RoleGroup, Role]:
    try:
        role_id = int(data["role_id"])
    except (KeyError, TypeError, ValueError):
        raise ValueError("role_id (a number) is required") from None
    found = state.company.roles_by_id().get(role_id)
    if found is None:
        raise UnknownId(33011, f"无效的roleId: {role_id}")
    if found[1].builtin is not None:
        raise ValueError(
            f"{found[1].name} is a built-in role: its members follow the directory "
            "(change administrators or department heads instead)"
        )
    return found


def _member(state: SandboxState, data: dict[str, Any]) -> RoleMember:
    userid = data.get("userid")
    if not isinstance(userid, str) or not userid:
        raise ValueError("userid is required")
    if userid not in state.company.users:
        raise UnknownId(60121, f"找不到该用户: {userid}")
    dept_ids = data.get("dept_ids") or []
    if not isinstance(dept_ids, list):
        raise ValueError("dept_ids must be a list of department ids")
    scope = sorted({int(d) for d in dept_ids})
    unknown = [d for d in scope if d not in state.company.departments]
    if unknown:
        raise UnknownId(60003, f"部门不存在: {unknown}")
    return RoleMember(userid, scope)


def _next_id(state: SandboxState) -> int:
    c = state.company
    used = [g.group_id for g in c.role_groups] + [r.role_id for g in c.role_groups for r in g.roles]
    return max(used, default=1_500_000_000) + 1


def _add_role(state: SandboxState, data: dict[str, Any]) -> dict[str, Any]:
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("name is required")
    group_name = data.get("group_name") or "岗位"
    members = [_member(state, m) for m in data.get("members") or []]
    groups = state.company.role_groups
    group = next((g for g in groups if g.name == group_name), None)
    if group is None:
        group = RoleGroup(_next_id(state), str(group_name))
        groups.append(group)
    if any(r.name == name for r in group.roles):
        raise ValueError(f"{group_name} already has a role named {name}")
    role = Role(_next_id(state), name, group.group_id, members=members)
    group.roles.append(role)
    return {"role_id": role.role_id, "group_id": group.group_id, "members": len(members)}


def _remove_role(state: SandboxState, data: dict[str, Any]) -> dict[str, Any]:
    group, role = _custom_role(state, data)
    group.roles.remove(role)
    return {"role_id": role.role_id, "group_id": group.group_id, "removed": True}


def _add_member(state: SandboxState, data: dict[str, Any]) -> dict[str, Any]:
    _, role = _custom_role(state, data)
    member = _member(state, data)
    role.members = [m for m in role.members if m.userid != member.userid] + [member]
    return {"role_id": role.role_id, "userid": member.userid, "dept_ids": member.manage_scopes}


def _remove_member(state: SandboxState, data: dict[str, Any]) -> dict[str, Any]:
    _, role = _custom_role(state, data)
    userid = data.get("userid")
    kept = [m for m in role.members if m.userid != userid]
    if len(kept) == len(role.members):
        raise UnknownId(60121, f"{userid} does not hold role {role.role_id}")
    role.members = kept
    return {"role_id": role.role_id, "userid": userid, "removed": True}


_ACTIONS = {
    "add_role": _add_role,
    "remove_role": _remove_role,
    "add_member": _add_member,
    "remove_member": _remove_member,
}
