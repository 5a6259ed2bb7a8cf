"""Every published sample of contacts/ and auth/ (and errors/) parses into our models or errors.

Success samples go through the models the client uses for that endpoint; error samples through
the classification the client applies (``.error_<http status>_…`` files are new-family answers
with that HTTP status). The doc-invalid ``.txt`` twins of user samples parse too (EB-24).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dingsync.dingtalk import errors as E
from dingsync.dingtalk.models import (
    AccessToken,
    Admin,
    AdminScope,
    ContactUserProfile,
    Department,
    DepartmentBrief,
    DepartmentUser,
    JsapiTicket,
    LeaveRecord,
    LegacyDepartment,
    LegacyDepartmentUser,
    LegacyLoginUserInfo,
    LegacyUser,
    LoginUserInfo,
    ParentDeptPath,
    RoleDetail,
    RoleGroup,
    RoleMember,
    SimpleUser,
    SnsUserInfo,
    UnionIdLookup,
    User,
    UserAccessToken,
    UserIdByMobile,
    UserSearchResult,
)

ENVELOPE = ("errcode", "errmsg", "request_id")


def top(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ENVELOPE}


def _department_list(b: dict[str, Any]) -> list[Any]:
    deps = [LegacyDepartment.model_validate(d) for d in b["department"]]
    assert len(deps) == 6 and deps[0].id == 420727358 and deps[0].parentid == 1
    briefs = [d.to_brief() for d in deps]
    assert briefs[1].dept_id == 379661095 and briefs[1].auto_add_user is True
    assert deps[0].source_identifier == "111"
    return deps


def _user_get(b: dict[str, Any]) -> User:
    u = User.model_validate(b["result"])
    assert u.userid == "zhangsan" and u.dept_id_list == [2, 3, 4]
    assert u.boss is True and u.hired_date == 1597573616828
    assert u.hired_at is not None and u.hired_at.year == 2020
    assert u.role_list[0].group_name == "职务" and u.role_list[0].id == 100
    assert u.order_in(2) == 1 and u.is_leader_in(2) and not u.is_leader_in(3)
    assert u.union_emp_ext is not None and u.union_emp_ext.union_emp_map_list[0].userid == "5000"
    assert u.extension_dict == {"爱好": "旅游", "年龄": "24"}
    return u


def _user_list(b: dict[str, Any]) -> list[DepartmentUser]:
    r = b["result"]
    assert r["has_more"] is True and r["next_cursor"] == 10
    users = [DepartmentUser.model_validate(u) for u in r["list"]]
    assert users[0].dept_order == 1 and users[0].leader is True
    return users


def _legacy_user(b: dict[str, Any]) -> LegacyUser:
    lu = LegacyUser.model_validate(top(b))
    u = lu.to_user()
    assert u.userid == lu.userid and u.title == lu.position and u.dept_id_list == lu.department
    assert u.dept_order_list and u.dept_order_list[0].dept_id == 1
    assert u.leader_in_dept and u.leader_in_dept[0].leader is False
    assert "errcode" not in lu.raw()
    return lu


def _leave_records(b: dict[str, Any]) -> list[LeaveRecord]:
    recs = [LeaveRecord.model_validate(r) for r in b["records"]]
    assert recs[0].user_id == "10000" and recs[0].leave_reason == "oapi"
    assert recs[0].leave_at is not None and recs[0].leave_at.isoformat().startswith("2021-01-06")
    assert recs[0].raw()["userId"] == "10000"  # the raw payload keeps DingTalk's names
    return recs


def _getuserinfo(b: dict[str, Any]) -> LoginUserInfo:
    info = LoginUserInfo.model_validate(b["result"])
    assert info.userid == "userid123" and info.sys_level == 1 and info.sys is True
    return info


def _legacy_getuserinfo(b: dict[str, Any]) -> LoginUserInfo:
    legacy = LegacyLoginUserInfo.model_validate(top(b))
    info = legacy.to_login_user_info()
    assert info.userid == "user456" and info.sys_level == 1 and info.device_id == "12drtfxxxxx"
    # EB-06: sys_level as a numeric String parses the same
    again = LegacyLoginUserInfo.model_validate({**top(b), "sys_level": "1"})
    assert again.sys_level == 1
    return info


PARSERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    # contacts
    "contacts/department_list.json": _department_list,
    "contacts/topapi_role_getrole.json": lambda b: RoleDetail.model_validate(b["role"]),
    "contacts/topapi_role_list.json": lambda b: [
        RoleGroup.model_validate(g) for g in b["result"]["list"]
    ],
    "contacts/topapi_role_simplelist.json": lambda b: [
        RoleMember.model_validate(m) for m in b["result"]["list"]
    ],
    "contacts/topapi_smartwork_hrm_employee_querydimission.json": lambda b: [
        str(u) for u in b["result"]["data_list"]
    ],
    "contacts/topapi_user_count.json": lambda b: int(b["result"]["count"]),
    "contacts/topapi_user_get_admin_scope.json": lambda b: AdminScope.model_validate(top(b)),
    "contacts/topapi_user_getbyunionid.json": lambda b: UnionIdLookup.model_validate(b["result"]),
    "contacts/topapi_user_getbyunionid.real_external_contact.json": lambda b: (
        UnionIdLookup.model_validate(b["result"])
    ),
    "contacts/topapi_user_getbyunionid.real_internal.json": lambda b: UnionIdLookup.model_validate(
        b["result"]
    ),
    "contacts/topapi_user_listadmin.json": lambda b: [Admin.model_validate(a) for a in b["result"]],
    "contacts/topapi_user_listid.json": lambda b: list(b["result"]["userid_list"]),
    "contacts/topapi_user_listsimple.json": lambda b: [
        SimpleUser.model_validate(u) for u in b["result"]["list"]
    ],
    "contacts/topapi_v2_department_get.json": lambda b: Department.model_validate(b["result"]),
    "contacts/topapi_v2_department_listparentbydept.json": lambda b: [
        int(d) for d in b["result"]["parent_id_list"]
    ],
    "contacts/topapi_v2_department_listparentbyuser.json": lambda b: [
        ParentDeptPath.model_validate(p) for p in b["result"]["parent_list"]
    ],
    "contacts/topapi_v2_department_listsub.json": lambda b: [
        DepartmentBrief.model_validate(d) for d in b["result"]
    ],
    "contacts/topapi_v2_department_listsubid.json": lambda b: [
        int(d) for d in b["result"]["dept_id_list"]
    ],
    "contacts/topapi_v2_user_get.json": _user_get,
    "contacts/topapi_v2_user_getbymobile.json": lambda b: UserIdByMobile.model_validate(
        b["result"]
    ),
    "contacts/topapi_v2_user_list.json": _user_list,
    "contacts/user_get.json": _legacy_user,
    "contacts/user_get.third_party_app.json": _legacy_user,
    "contacts/user_listbypage.json": lambda b: [
        LegacyDepartmentUser.model_validate(u) for u in b["userlist"]
    ],
    "contacts/v1_contact_empLeaveRecords.json": _leave_records,
    "contacts/v1_contact_users_search.json": lambda b: UserSearchResult.model_validate(b),
    "contacts/v1_contact_users_unionId.json": lambda b: ContactUserProfile.model_validate(b),
    # auth (responses)
    "auth/gettoken.json": lambda b: AccessToken.model_validate(b),
    "auth/v1_oauth2_accessToken.json": lambda b: AccessToken.model_validate(b),
    "auth/v1_oauth2_corpId_token.json": lambda b: AccessToken.model_validate(b),
    "auth/v1_oauth2_userAccessToken.json": lambda b: UserAccessToken.model_validate(b),
    "auth/topapi_v2_user_getuserinfo.json": _getuserinfo,
    "auth/user_getuserinfo.json": _legacy_getuserinfo,
    "auth/sns_getuserinfo_bycode.real.json": lambda b: SnsUserInfo.model_validate(b),
    "auth/get_jsapi_ticket.json": lambda b: JsapiTicket.model_validate(b),
    "auth/v1_oauth2_jsapiTickets.json": lambda b: JsapiTicket.model_validate(b),
}

#: Error samples → the exception class the client raises for them.
ERRORS: dict[str, type[E.DingTalkError]] = {
    "contacts/topapi_user_getbyunionid.error_60121.json": E.NotFoundError,
    "contacts/v1_contact_users_unionId.error_400_InvalidAuthentication.json": E.TokenError,
    "contacts/v1_contact_users_unionId.error_400_MissingParameter_bearer.json": E.TokenError,
    "contacts/v1_contact_users_unionId.error_400_MissingParameter_query_token.json": E.TokenError,
    "auth/gettoken.error_40035.json": E.InvalidArgumentError,
    "auth/gettoken.error_40089.json": E.CredentialsError,
    "auth/gettoken.error_40096.json": E.CredentialsError,
    "auth/get_jsapi_ticket.error_60020.json": E.PermissionDeniedError,
    "auth/topapi_v2_user_getuserinfo.error_40078.json": E.AuthCodeError,
    "auth/topapi_v2_user_getuserinfo.error_40078_en.json": E.AuthCodeError,
    "auth/v1_oauth2_accessToken.error_400_invalidClientIdOrSecret.json": E.CredentialsError,
    "auth/v1_oauth2_corpId_token.error_500_unknownError.json": E.ServerError,
    "errors/ip_ban.json": E.IPBannedError,
    "errors/topapi_unknown_path.error_22.json": E.InvalidArgumentError,
    "errors/user_list.error_90002.json": E.RateLimitError,
}

#: Not a server response: the JSON part of a client-side ``dd.error`` message.
NOT_RESPONSES = {"auth/dd_config.error_52013.json"}

SAMPLE_DIRS = ("contacts", "auth", "errors")


def _load(shared: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((shared / "samples" / name).read_text(encoding="utf-8"))
    return data


def test_every_sample_is_covered(shared_dingtalk: Path) -> None:
    found = {
        f"{d}/{p.name}"
        for d in SAMPLE_DIRS
        for p in (shared_dingtalk / "samples" / d).glob("*.json")
    }
    covered = set(PARSERS) | set(ERRORS) | NOT_RESPONSES
    assert found - covered == set(), "samples without a parser"
    assert covered - found == set(), "parsers for samples that do not exist"


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_success_sample_parses(shared_dingtalk: Path, name: str) -> None:
    body = _load(shared_dingtalk, name)
    assert E.error_from_oapi_body(body) is None, "a success sample must not classify as an error"
    parsed = PARSERS[name](body)
    models = parsed if isinstance(parsed, list) else [parsed]
    for model in models:
        if hasattr(model, "raw"):
            dumped = model.raw()
            assert isinstance(dumped, dict) and dumped, name


def _status_of(name: str) -> int | None:
    m = re.search(r"\.error_(\d{3})_", name)
    return int(m.group(1)) if m else None


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error_sample_classifies(shared_dingtalk: Path, name: str) -> None:
    body = _load(shared_dingtalk, name)
    status = _status_of(name)
    if status is not None:
        err = E.error_from_api_body(status, body, api="/v1.0/x")
        assert err.http_status == status
        assert err.request_id == body.get("requestid")
    else:
        maybe = E.error_from_oapi_body(body, api="/topapi/x")
        assert maybe is not None
        err = maybe
    assert type(err) is ERRORS[name], (name, err)
    assert isinstance(err, E.DingTalkError) and str(err)


def test_unknown_fields_are_kept() -> None:
    u = User.model_validate({"userid": "u1", "brand_new_field": {"x": 1}})
    assert u.raw()["brand_new_field"] == {"x": 1}
    d = Department.model_validate({"dept_id": 5, "future": [1]})
    assert d.raw() == {"dept_id": 5, "future": [1]}


@pytest.mark.parametrize(
    "name",
    [
        "topapi_v2_user_get",
        "topapi_v2_user_list",
        "topapi_v2_user_getbymobile",
        "topapi_user_getbyunionid",
    ],
)
def test_doc_invalid_stringified_twins_parse_the_same(shared_dingtalk: Path, name: str) -> None:
    """EB-24: doc samples stringify numbers/booleans and show arrays as objects or JSON text."""
    folder = shared_dingtalk / "samples" / "contacts"
    typed = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    stringy = json.loads((folder / f"{name}.doc-invalid.txt").read_text(encoding="utf-8"))
    assert E.error_from_oapi_body(stringy) is None  # "errcode": "0" is a success
    model: Any = {
        "topapi_v2_user_get": User,
        "topapi_v2_user_list": DepartmentUser,
        "topapi_v2_user_getbymobile": UserIdByMobile,
        "topapi_user_getbyunionid": UnionIdLookup,
    }[name]

    def items(body: dict[str, Any]) -> list[Any]:
        result = body["result"]
        if name == "topapi_v2_user_list":
            result = result["list"]
        return result if isinstance(result, list) else [result]

    assert [model.model_validate(x).raw() for x in items(stringy)] == [
        model.model_validate(x).raw() for x in items(typed)
    ]


def test_lenient_coercions() -> None:
    u = User.model_validate(
        {
            "userid": 123,
            "dept_id_list": "[7, 8]",
            "active": "false",
            "hired_date": "1600099200000",
            "leader_in_dept": '[{"dept_id": "7", "leader": "true"}]',
            "dept_order_list": {"dept_id": "8", "order": "3"},
        }
    )
    assert u.userid == "123" and u.dept_id_list == [7, 8] and u.active is False
    assert u.hired_date == 1600099200000 and u.is_leader_in(7) and u.order_in(8) == 3
    d = Department.model_validate(
        {"dept_id": "9", "union_dept_ext": {"deptId": 3, "corpId": "c"}, "user_permits": []}
    )
    assert d.union_dept_ext is not None and d.union_dept_ext.dept_id == 3  # EB-10
    assert d.dept_permits == [] and d.user_permits == []  # EB-11: absent or []
