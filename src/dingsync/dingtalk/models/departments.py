"""Department payloads: ``/topapi/v2/department/get``, ``listsub`` items and the archived
``/department/list`` / ``/department/get`` camelCase shapes. The root department is id 1."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field

from dingsync.dingtalk.models._base import CamelModel, DingTalkModel, LenientList, LenientObject


class DepartmentBrief(DingTalkModel):
    """``POST /topapi/v2/department/listsub`` → ``result[]``: a direct child, basic fields."""

    dept_id: int
    name: str | None = None
    parent_id: int | None = None
    create_dept_group: bool | None = None
    auto_add_user: bool | None = None
    from_union_org: bool | None = None
    source_identifier: str | None = None
    tags: str | None = None
    ext: str | None = None


class UnionDeptExt(DingTalkModel):
    """``union_dept_ext``: the table says ``deptId``/``corpId``, the sample ``dept_id``/``corp_id``
    (EB-10) — both accepted."""

    dept_id: int | None = Field(None, validation_alias=AliasChoices("dept_id", "deptId"))
    corp_id: str | None = Field(None, validation_alias=AliasChoices("corp_id", "corpId"))


class Department(DingTalkModel):
    """``POST /topapi/v2/department/get`` → ``result``: one department's detail.

    ``org_dept_owner`` is the department *group owner*; the heads (部门主管) are
    ``dept_manager_userid_list``. ``member_count`` includes sub-departments. Empty permit lists
    may be absent or ``[]`` (EB-11).
    """

    dept_id: int
    name: str | None = None
    parent_id: int | None = None
    source_identifier: str | None = None
    create_dept_group: bool | None = None
    auto_add_user: bool | None = None
    auto_approve_apply: bool | None = None
    tags: str | None = None
    from_union_org: bool | None = None
    order: int | None = None
    dept_group_chat_id: str | None = None
    group_contain_sub_dept: bool | None = None
    org_dept_owner: str | None = None
    dept_manager_userid_list: LenientList[str] = Field(default_factory=list)
    outer_dept: bool | None = None
    outer_permit_depts: LenientList[int] = Field(default_factory=list)
    outer_permit_users: LenientList[str] = Field(default_factory=list)
    hide_dept: bool | None = None
    dept_permits: LenientList[int] = Field(default_factory=list)
    user_permits: LenientList[str] = Field(default_factory=list)
    code: str | None = None
    member_count: int | None = None
    owning_member_count: int | None = None
    union_dept_ext: LenientObject[UnionDeptExt | None] = None
    brief: str | None = None
    telephone: str | None = None
    extention: str | None = None  # (sic) DingTalk's spelling


class LegacyDepartment(CamelModel):
    """``GET /department/list`` (archived) → ``department[]``."""

    id: int
    name: str | None = None
    parentid: int | None = None
    create_dept_group: bool | None = None
    auto_add_user: bool | None = None
    source_identifier: str | None = None
    is_from_union_org: bool | None = None

    def to_brief(self) -> DepartmentBrief:
        """The same department in the v2 ``listsub`` shape."""
        data: dict[str, Any] = {
            "dept_id": self.id,
            "name": self.name,
            "parent_id": self.parentid,
            "create_dept_group": self.create_dept_group,
            "auto_add_user": self.auto_add_user,
            "source_identifier": self.source_identifier,
            "from_union_org": self.is_from_union_org,
        }
        return DepartmentBrief.model_validate({k: v for k, v in data.items() if v is not None})


def _split_bar(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [part for part in str(value).split("|") if part]


class LegacyDepartmentDetail(CamelModel):
    """``GET /department/get`` (archived): top-level camelCase detail; userid lists are joined
    with ``|``."""

    id: int
    name: str | None = None
    order: int | None = None
    parentid: int | None = None
    source_identifier: str | None = None
    create_dept_group: bool | None = None
    auto_add_user: bool | None = None
    auto_approve_apply: bool | None = None
    group_contain_sub_dept: bool | None = None
    org_dept_owner: str | None = None
    dept_group_chat_id: str | None = None
    dept_manager_userid_list: str | list[str] | None = None
    outer_dept: bool | None = None
    outer_permit_users: str | list[str] | None = None
    outer_permit_depts: str | list[int] | None = None
    dept_hiding: bool | None = None
    dept_permits: str | list[int] | None = None
    user_permits: str | list[str] | None = None

    def to_department(self) -> Department:
        """The same department in the v2 :class:`Department` shape."""
        data: dict[str, Any] = {
            "dept_id": self.id,
            "name": self.name,
            "order": self.order,
            "parent_id": self.parentid,
            "source_identifier": self.source_identifier,
            "create_dept_group": self.create_dept_group,
            "auto_add_user": self.auto_add_user,
            "auto_approve_apply": self.auto_approve_apply,
            "group_contain_sub_dept": self.group_contain_sub_dept,
            "org_dept_owner": self.org_dept_owner,
            "dept_group_chat_id": self.dept_group_chat_id,
            "outer_dept": self.outer_dept,
            "hide_dept": self.dept_hiding,
        }
        for name in ("dept_manager_userid_list", "outer_permit_users", "user_permits"):
            if name in self.model_fields_set:
                data[name] = _split_bar(getattr(self, name))
        for name in ("outer_permit_depts", "dept_permits"):
            if name in self.model_fields_set:
                data[name] = [int(v) for v in _split_bar(getattr(self, name))]
        return Department.model_validate({k: v for k, v in data.items() if v is not None})


class ParentDeptPath(DingTalkModel):
    """``listparentbyuser`` → ``result.parent_list[]``: one membership's path up to root 1."""

    parent_dept_id_list: LenientList[int] = Field(default_factory=list)
