"""Role (角色) mutations of the sandbox: ``POST /sandbox/mutate/roles/<action>``.

The company's roles are generated with it (:func:`dingsync.sandbox.company.roles.make_roles`) and
served by ``/topapi/role/list``, ``getrole`` and ``simplelist`` (``contacts/roles.py``). The
members of the built-in 默认 roles follow the directory (administrators, the boss, department
heads) and change through the contacts mutations; custom roles change here:

- ``add_role {name, group_name (default 岗位; a new group is created when unknown), members:
  [{userid, dept_ids}]}`` → ``{role_id, group_id}``;
- ``remove_role {role_id}``;
- ``add_member {role_id, userid, dept_ids}`` (``dept_ids`` = the member's ``manageScopes``;
  empty or absent = the whole company; an existing member gets the new scope);
- ``remove_member {role_id, userid}``.

Each changes ``state.company`` in place and calls ``state.reindex()``. Bodies are validated per
action (:class:`~dingsync.sandbox.mutations.BadMutation`, HTTP 400 ``errcode`` 400002, for a
malformed body or field); an unknown role or userid raises :class:`UnknownId` (HTTP 404 with
``errcode`` 33011 / 60121 / 60003 for a department of ``dept_ids``); a change that cannot apply
— to a built-in 默认 role, a second role of the same name in a group, removing someone who does
not hold the role — :class:`~dingsync.sandbox.mutations.MutationConflict` (HTTP 409). DingTalk's
role events (``label_conf_*``, ``label_user_change``) are not emitted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, StrictInt

from dingsync.sandbox.company import Role, RoleGroup, RoleMember
from dingsync.sandbox.mutations import (
    BadMutation,
    DeptId,
    MutationBody,
    MutationConflict,
    Name,
    UnknownEntity,
    UserId,
    validate,
)

if TYPE_CHECKING:
    from dingsync.sandbox.state import SandboxState

ACTIONS = ("add_role", "remove_role", "add_member", "remove_member")
RoleId = Annotated[StrictInt, Field(gt=0)]
Scope = Annotated[list[DeptId], Field(max_length=200)]


class UnknownId(UnknownEntity):
    """An unknown role (``errcode`` 33011), userid (60121) or department (60003): HTTP 404."""

    def __init__(self, errcode: int, message: str) -> None:
        super().__init__("id", None, errcode, message)
        self.message = message
        self.errmsg = message


class MemberBody(MutationBody):
    """A member: ``userid`` and their ``manageScopes`` ``dept_ids`` (empty = the company)."""

    userid: UserId
    dept_ids: Scope | None = None


class AddRoleBody(MutationBody):
    """``add_role``."""

    name: Name
    group_name: Name | None = None
    members: Annotated[list[MemberBody], Field(max_length=1000)] | None = None


class RoleBody(MutationBody):
    """``remove_role``."""

    role_id: RoleId


class AddMemberBody(MutationBody):
    """``add_member``."""

    role_id: RoleId
    userid: UserId
    dept_ids: Scope | None = None


class RemoveMemberBody(MutationBody):
    """``remove_member``."""

    role_id: RoleId
    userid: UserId


BODIES: dict[str, type[MutationBody]] = {
    "add_role": AddRoleBody,
    "remove_role": RoleBody,
    "add_member": AddMemberBody,
    "remove_member": RemoveMemberBody,
}


def mutate_roles(state: SandboxState, action: str, data: dict[str, Any]) -> dict[str, Any]:
    """Apply one role mutation (see the module docstring) and return what changed. Raises
    :class:`~dingsync.sandbox.mutations.BadMutation` for an unknown action or a malformed
    body, :class:`UnknownId` for an unknown role/userid/department,
    :class:`~dingsync.sandbox.mutations.MutationConflict` when the change cannot apply."""
    if action not in ACTIONS:
        raise BadMutation(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    body = validate(BODIES[action], data).model_dump(exclude_none=True)
    with state.lock:
        answer = _ACTIONS[action](state, body)
        state.reindex()
    return answer


def _custom_role(state: SandboxState, data: dict[str, Any]) -> tuple[RoleGroup, Role]:
    role_id = int(data["role_id"])
    found = state.company.roles_by_id().get(role_id)
    if found is None:
        raise UnknownId(33011, f"无效的roleId: {role_id}")
    if found[1].builtin is not None:
        raise MutationConflict(
            f"{found[1].name} is a built-in role: its members follow the directory "
            "(change administrators or department heads instead)"
        )
    return found


def _member(state: SandboxState, data: dict[str, Any]) -> RoleMember:
    userid = str(data["userid"])
    if userid not in state.company.users:
        raise UnknownId(60121, f"找不到该用户: {userid}")
    scope = sorted(set(data.get("dept_ids") or []))
    unknown = [d for d in scope if d not in state.company.departments]
    if unknown:
        raise UnknownId(60003, f"部门不存在: {unknown}")
    return RoleMember(userid, scope)


def _next_id(state: SandboxState) -> int:
    c = state.company
    used = [g.group_id for g in c.role_groups] + [r.role_id for g in c.role_groups for r in g.roles]
    return max(used, default=1_500_000_000) + 1


def _add_role(state: SandboxState, data: dict[str, Any]) -> dict[str, Any]:
    name = str(data["name"])
    group_name = data.get("group_name") or "岗位"
    members = [_member(state, m) for m in data.get("members") or []]
    groups = state.company.role_groups
    group = next((g for g in groups if g.name == group_name), None)
    if group is None:
        group = RoleGroup(_next_id(state), str(group_name))
        groups.append(group)
    if any(r.name == name for r in group.roles):
        raise MutationConflict(f"{group_name} already has a role named {name}")
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
    userid = data["userid"]
    kept = [m for m in role.members if m.userid != userid]
    if len(kept) == len(role.members):
        if userid not in state.company.users:
            raise UnknownId(60121, f"找不到该用户: {userid}")
        raise MutationConflict(f"{userid} does not hold role {role.role_id}")
    role.members = kept
    return {"role_id": role.role_id, "userid": userid, "removed": True}


_ACTIONS = {
    "add_role": _add_role,
    "remove_role": _remove_role,
    "add_member": _add_member,
    "remove_member": _remove_member,
}
