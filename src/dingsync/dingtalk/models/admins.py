"""Administrators: ``/topapi/user/listadmin``, ``/topapi/user/get_admin_scope`` and the
archived ``/user/get_admin``."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from dingsync.dingtalk.models._base import DingTalkModel, LenientList

MAIN_ADMIN = 1
SUB_ADMIN = 2


class Admin(DingTalkModel):
    """``POST /topapi/user/listadmin`` → ``result[]``: ``sys_level`` 1 main administrator
    (主管理员), 2 sub-administrator (子管理员)."""

    userid: str
    sys_level: int = 0

    @property
    def is_main(self) -> bool:
        return self.sys_level == MAIN_ADMIN

    @property
    def is_sub(self) -> bool:
        return self.sys_level == SUB_ADMIN


class AdminScope(DingTalkModel):
    """``POST /topapi/user/get_admin_scope`` (top level, no ``result``): the departments a
    sub-administrator manages (sub-departments included by DingTalk's rules)."""

    dept_ids: LenientList[int] = Field(default_factory=list)


class LegacyAdminList(DingTalkModel):
    """Archived ``GET /user/get_admin``: the administrators under ``adminList`` (doc sample) or
    ``admin_list`` (SDK) — both accepted (EB-15); items ``{sys_level, userid}`` (the SDK's
    ``admin_mobile`` is kept in ``raw``)."""

    admins: LenientList[Admin] = Field(
        default_factory=list, validation_alias=AliasChoices("adminList", "admin_list")
    )


class AuthOrgScopes(DingTalkModel):
    """``auth_org_scopes`` of ``GET /auth/scopes``: the departments (``authed_dept``, each with
    everything below it) and the people (``authed_user``) the app's contacts scope
    (通讯录权限范围) covers. The whole company is ``authed_dept: [1]``."""

    authed_dept: LenientList[int] = Field(default_factory=list)
    authed_user: LenientList[str] = Field(default_factory=list)


class AuthScopes(DingTalkModel):
    """``GET /auth/scopes`` (top level, no ``result``): the app's contacts scope and the user
    fields it may read (``auth_user_field``, ``condition_field``)."""

    auth_user_field: LenientList[str] = Field(default_factory=list)
    condition_field: LenientList[str] = Field(default_factory=list)
    auth_org_scopes: AuthOrgScopes = Field(default_factory=AuthOrgScopes)
