"""User payloads: ``/topapi/v2/user/get``, ``/topapi/v2/user/list`` items, the archived
``/user/get`` camelCase shape (convertible to :class:`User`), and small lookups.

Times are epoch milliseconds (``hired_date``); ``*_at`` properties give aware UTC datetimes.
Fields DingTalk omits when unset (``email``, ``manager_userid``, ``work_place``, …) are ``None``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import Field

from dingsync.dingtalk.models._base import (
    CamelModel,
    DingTalkModel,
    LenientList,
    LenientObject,
    ms_to_datetime,
    parse_dingtalk_map,
)


class DeptOrder(DingTalkModel):
    """``dept_order_list[]``: the user's order inside one department."""

    dept_id: int
    order: int | None = None


class LeaderInDept(DingTalkModel):
    """``leader_in_dept[]``: whether the user heads (主管) one department."""

    dept_id: int
    leader: bool = False


class UserRole(DingTalkModel):
    """``role_list[]``: a role the user holds (``group_name`` = its role group)."""

    id: int | None = None
    name: str | None = None
    group_name: str | None = None


class UnionEmpMap(DingTalkModel):
    """``union_emp_ext.union_emp_map_list[]``: the same person in an associated org."""

    userid: str | None = None
    corp_id: str | None = None


class UnionEmpExt(DingTalkModel):
    """``union_emp_ext``: associated-org identities (only for orgs with associated orgs)."""

    userid: str | None = None
    corp_id: str | None = None
    union_emp_map_list: LenientList[UnionEmpMap] = Field(default_factory=list)


class DeptPosition(DingTalkModel):
    """``dept_position_list[]`` (SDK-declared): per-department title and the main-department
    flag — the only reliable "main department" marker (EB-21)."""

    dept_id: int
    is_main: bool | None = None
    title: str | None = None
    work_place: str | None = None


class UserBase(DingTalkModel):
    """Fields shared by the user detail and the department user-list item."""

    userid: str
    unionid: str | None = None
    name: str | None = None
    avatar: str | None = None
    state_code: str | None = None
    mobile: str | None = None
    hide_mobile: bool | None = None
    telephone: str | None = None
    job_number: str | None = None
    title: str | None = None
    email: str | None = None
    org_email: str | None = None
    work_place: str | None = None
    remark: str | None = None
    dept_id_list: LenientList[int] = Field(default_factory=list)
    extension: str | None = None
    hired_date: int | None = None
    active: bool | None = None
    admin: bool | None = None
    boss: bool | None = None
    exclusive_account: bool | None = None
    exclusive_account_type: str | None = None
    login_id: str | None = None

    @property
    def hired_at(self) -> datetime | None:
        """``hired_date`` (epoch ms) as an aware UTC datetime."""
        return ms_to_datetime(self.hired_date)

    @property
    def extension_dict(self) -> dict[str, Any]:
        """``extension`` (JSON text of custom fields) decoded; ``{}`` when absent or invalid."""
        if not self.extension:
            return {}
        try:
            value = json.loads(self.extension)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


class User(UserBase):
    """``POST /topapi/v2/user/get`` → ``result``: one user's detail.

    ``dept_id_list`` carries no main-department meaning; use :attr:`main_dept_id`.
    """

    manager_userid: str | None = None
    org_email_type: str | None = None
    senior: bool | None = None
    real_authed: bool | None = None
    dept_order_list: LenientList[DeptOrder] = Field(default_factory=list)
    leader_in_dept: LenientList[LeaderInDept] = Field(default_factory=list)
    role_list: LenientList[UserRole] = Field(default_factory=list)
    union_emp_ext: LenientObject[UnionEmpExt | None] = None
    dept_position_list: LenientList[DeptPosition] = Field(default_factory=list)
    extension_i18n: Any = None

    @property
    def main_dept_id(self) -> int | None:
        """The department flagged ``is_main`` in ``dept_position_list``, else ``None``."""
        for pos in self.dept_position_list:
            if pos.is_main:
                return pos.dept_id
        return None

    def order_in(self, dept_id: int) -> int | None:
        """The user's order inside ``dept_id`` (from ``dept_order_list``)."""
        for entry in self.dept_order_list:
            if entry.dept_id == dept_id:
                return entry.order
        return None

    def is_leader_in(self, dept_id: int) -> bool:
        """Whether the user heads ``dept_id`` (from ``leader_in_dept``)."""
        return any(e.leader for e in self.leader_in_dept if e.dept_id == dept_id)


class DepartmentUser(UserBase):
    """``POST /topapi/v2/user/list`` → ``result.list[]``: a member of one department.

    ``dept_order`` and ``leader`` describe the membership in the department that was listed,
    not the person.
    """

    dept_order: int | None = None
    leader: bool | None = None


class SimpleUser(DingTalkModel):
    """``POST /topapi/user/listsimple`` → ``result.list[]``."""

    userid: str
    name: str | None = None


class LegacyRole(CamelModel):
    """Archived ``/user/get`` ``roles[]``: ``type`` 101 main admin, 102 sub-admin, 103 负责人,
    104 department head, 1 default group, 201 project role group, 0 system, None custom."""

    id: int | None = None
    name: str | None = None
    group_name: str | None = None
    type: int | None = None


class LegacyUser(CamelModel):
    """``GET /user/get`` (archived 2021): top-level camelCase detail with string maps such as
    ``orderInDepts: "{1:1}"``. :meth:`to_user` converts it to the v2 :class:`User`."""

    userid: str
    unionid: str | None = None
    manager_userid: str | None = None
    hired_date: int | None = None
    tel: str | None = None
    remark: str | None = None
    work_place: str | None = None
    name: str | None = None
    position: str | None = None
    mobile: str | None = None
    state_code: str | None = None
    email: str | None = None
    org_email: str | None = None
    is_senior: bool | None = None
    jobnumber: str | None = None
    active: bool | None = None
    avatar: str | None = None
    extattr: LenientObject[dict[str, Any] | None] = None
    roles: LenientList[LegacyRole] = Field(default_factory=list)
    department: LenientList[int] = Field(default_factory=list)
    order_in_depts: str | dict[str, Any] | None = None
    is_admin: bool | None = None
    is_leader_in_depts: str | dict[str, Any] | None = None
    is_hide: bool | None = None
    is_boss: bool | None = None
    real_authed: bool | None = None
    exclusive_account: bool | None = None

    @property
    def orders(self) -> dict[int, Any]:
        """``orderInDepts`` parsed: ``{dept_id: order}``."""
        return parse_dingtalk_map(self.order_in_depts)

    @property
    def leader_flags(self) -> dict[int, bool]:
        """``isLeaderInDepts`` parsed: ``{dept_id: is_leader}``."""
        return {k: bool(v) for k, v in parse_dingtalk_map(self.is_leader_in_depts).items()}

    def to_user(self) -> User:
        """The same person as a v2 :class:`User` (field names per auth-contacts.md §4.2)."""
        data: dict[str, Any] = {
            "userid": self.userid,
            "unionid": self.unionid,
            "name": self.name,
            "avatar": self.avatar,
            "state_code": self.state_code,
            "manager_userid": self.manager_userid,
            "mobile": self.mobile,
            "hide_mobile": self.is_hide,
            "telephone": self.tel,
            "job_number": self.jobnumber,
            "title": self.position,
            "email": self.email,
            "org_email": self.org_email,
            "work_place": self.work_place,
            "remark": self.remark,
            "hired_date": self.hired_date,
            "active": self.active,
            "real_authed": self.real_authed,
            "senior": self.is_senior,
            "admin": self.is_admin,
            "boss": self.is_boss,
            "exclusive_account": self.exclusive_account,
        }
        if self.extattr:
            data["extension"] = json.dumps(self.extattr, ensure_ascii=False)
        if "department" in self.model_fields_set:
            data["dept_id_list"] = list(self.department)
        if self.order_in_depts is not None:
            data["dept_order_list"] = [
                {"dept_id": d, "order": o} for d, o in self.orders.items() if isinstance(o, int)
            ]
        if self.is_leader_in_depts is not None:
            data["leader_in_dept"] = [
                {"dept_id": d, "leader": flag} for d, flag in self.leader_flags.items()
            ]
        if self.roles:
            data["role_list"] = [
                {"id": r.id, "name": r.name, "group_name": r.group_name} for r in self.roles
            ]
        return User.model_validate({k: v for k, v in data.items() if v is not None})


class LegacyDepartmentUser(CamelModel):
    """``GET /user/listbypage`` (archived) → ``userlist[]``."""

    userid: str
    unionid: str | None = None
    order: int | None = None
    mobile: str | None = None
    tel: str | None = None
    work_place: str | None = None
    remark: str | None = None
    is_admin: bool | None = None
    is_boss: bool | None = None
    is_hide: bool | None = None
    is_leader: bool | None = None
    name: str | None = None
    active: bool | None = None
    department: LenientList[int] = Field(default_factory=list)
    position: str | None = None
    email: str | None = None
    org_email: str | None = None
    avatar: str | None = None
    jobnumber: str | None = None
    hired_date: int | None = None
    extattr: LenientObject[dict[str, Any] | None] = None


class UnionIdLookup(DingTalkModel):
    """``POST /topapi/user/getbyunionid`` → ``result``: ``contact_type`` 0 employee, 1 external
    contact."""

    userid: str
    contact_type: int | None = None


class UserIdByMobile(DingTalkModel):
    """``POST /topapi/v2/user/getbymobile`` → ``result``."""

    userid: str | None = None
    exclusive_account_userid_list: LenientList[str] = Field(default_factory=list)


class UserSearchResult(CamelModel):
    """``POST /v1.0/contact/users/search``: one page of matching userids."""

    has_more: bool | None = None
    total_count: int | None = None
    userids: LenientList[str] = Field(default_factory=list, alias="list")


class ContactUserProfile(CamelModel):
    """``GET /v1.0/contact/users/{unionId}`` (user token): the login user's own profile.
    No userid is returned; map ``union_id`` with ``getbyunionid``."""

    nick: str | None = None
    avatar_url: str | None = None
    mobile: str | None = None
    open_id: str | None = None
    union_id: str | None = None
    email: str | None = None
    state_code: str | None = None
