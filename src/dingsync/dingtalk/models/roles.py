"""Roles (角色): ``/topapi/role/list``, ``/topapi/role/getrole``, ``/topapi/role/simplelist``.
Mind the mixed casing: camelCase results, ``dept_id`` inside ``manageScopes``."""

from __future__ import annotations

from pydantic import Field

from dingsync.dingtalk.models._base import CamelModel, DingTalkModel, LenientList


class Role(DingTalkModel):
    """A role inside a role group."""

    id: int
    name: str | None = None


class RoleGroup(CamelModel):
    """``/topapi/role/list`` → ``result.list[]``: a role group and its roles."""

    group_id: int | None = None
    name: str | None = None
    roles: LenientList[Role] = Field(default_factory=list)


class RoleDetail(CamelModel):
    """``/topapi/role/getrole`` → top-level ``role``."""

    name: str | None = None
    group_id: int | None = None


class ManageScope(DingTalkModel):
    """``manageScopes[]``: a department a role member manages."""

    dept_id: int | None = None
    name: str | None = None


class RoleMember(CamelModel):
    """``/topapi/role/simplelist`` → ``result.list[]``."""

    userid: str
    name: str | None = None
    manage_scopes: LenientList[ManageScope] = Field(default_factory=list)
