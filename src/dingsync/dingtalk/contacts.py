"""Contacts (通讯录): departments, users, admins, leavers and roles — one method per endpoint.

All calls go through the client core (token, per-API rate limit, retries). Paged endpoints
return a :class:`~dingsync.dingtalk.paging.Pager`: ``async for user in
client.contacts.iter_department_users(dept_id)``. Caps are split here, never by callers:
page sizes (100, 50), 50 userids per ``listdimission`` call, 365 days per ``empLeaveRecords``
window. Errors: see :mod:`dingsync.dingtalk.errors` (``NotFoundError`` for 60121/33012/60003,
``PermissionDeniedError`` for 50002/50004/60011/43007, ``InvalidArgumentError`` for
400002/40035/…).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import dingsync.timeutil as timeutil
from dingsync.dingtalk.models.admins import Admin, AdminScope, AuthScopes, LegacyAdminList
from dingsync.dingtalk.models.departments import (
    Department,
    DepartmentBrief,
    LegacyDepartment,
    LegacyDepartmentDetail,
    ParentDeptPath,
)
from dingsync.dingtalk.models.leavers import DimissionInfo, LeaveRecord
from dingsync.dingtalk.models.roles import RoleDetail, RoleGroup, RoleMember
from dingsync.dingtalk.models.users import (
    ContactUserProfile,
    DepartmentUser,
    LegacyUser,
    SimpleUser,
    UnionIdLookup,
    User,
    UserIdByMobile,
)
from dingsync.dingtalk.paging import (
    Marker,
    Page,
    Pager,
    cursor_pager,
    next_token_fetcher,
    offset_pager,
)

if TYPE_CHECKING:
    from dingsync.dingtalk._base import DingTalkClient

#: ``/topapi/v2/user/list`` and ``listsimple`` page size cap.
USER_PAGE_MAX = 100
#: ``/topapi/role/list`` and ``/topapi/role/simplelist`` page size caps.
ROLE_PAGE_MAX = 200
ROLE_MEMBERS_PAGE_MAX = 100
#: ``querydimission`` page size and ``listdimission`` ids-per-call cap.
DIMISSION_MAX = 50
#: ``empLeaveRecords`` ``maxResults`` cap and window span.
LEAVE_RECORDS_MAX = 50
LEAVE_WINDOW = timedelta(days=365)
#: An open window (no ``endTime``) needs ``startTime`` within the last 365 days *by DingTalk's
#: clock*; closer to the limit than this, explicit windows are sent instead.
LEAVE_OPEN_MARGIN = timedelta(days=1)

ENVELOPE_KEYS = frozenset({"errcode", "errmsg", "request_id", "sub_code", "sub_msg"})


def _strip_envelope(body: dict[str, Any]) -> dict[str, Any]:
    """A top-level payload (archived APIs) without the envelope fields."""
    return {k: v for k, v in body.items() if k not in ENVELOPE_KEYS}


def _result(body: dict[str, Any]) -> Any:
    return body.get("result")


def _result_dict(body: dict[str, Any]) -> dict[str, Any]:
    value = body.get("result")
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def iso_utc(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:mm:ssZ`` in UTC (naive datetimes raise ``ValueError``)."""
    return timeutil.format_ms(timeutil.to_ms(moment), "%Y-%m-%dT%H:%M:%SZ", UTC)


class ContactsAPI:
    """``client.contacts``: the 通讯录 endpoints of auth-contacts.md §4–§9."""

    def __init__(self, client: DingTalkClient) -> None:
        self._client = client

    # -- departments ---------------------------------------------------------------------------
    async def list_sub_departments(
        self, dept_id: int = 1, *, language: str | None = None
    ) -> list[DepartmentBrief]:
        """Direct child departments (one level). ``POST /topapi/v2/department/listsub``.
        Raises ``NotFoundError`` (60003) for an unknown department."""
        body = await self._client.oapi(
            "POST",
            "/topapi/v2/department/listsub",
            json=_drop_none({"dept_id": dept_id, "language": language}),
        )
        return [DepartmentBrief.model_validate(d) for d in _as_list(_result(body))]

    async def list_sub_department_ids(self, dept_id: int = 1) -> list[int]:
        """Ids of the direct child departments. ``POST /topapi/v2/department/listsubid``
        (not limited by the app's contacts scope)."""
        body = await self._client.oapi(
            "POST", "/topapi/v2/department/listsubid", json={"dept_id": dept_id}
        )
        return [int(d) for d in _as_list(_result_dict(body).get("dept_id_list"))]

    async def get_department(self, dept_id: int, *, language: str | None = None) -> Department:
        """Department detail. ``POST /topapi/v2/department/get``. Raises ``NotFoundError``
        (60003), ``PermissionDeniedError`` (43007)."""
        body = await self._client.oapi(
            "POST",
            "/topapi/v2/department/get",
            json=_drop_none({"dept_id": dept_id, "language": language}),
        )
        return Department.model_validate(_result_dict(body))

    async def list_parent_departments_by_user(self, userid: str) -> list[list[int]]:
        """One path per membership of ``userid``, each from that department up to root 1.
        ``POST /topapi/v2/department/listparentbyuser``."""
        body = await self._client.oapi(
            "POST", "/topapi/v2/department/listparentbyuser", json={"userid": userid}
        )
        paths = [
            ParentDeptPath.model_validate(p)
            for p in _as_list(_result_dict(body).get("parent_list"))
        ]
        return [list(p.parent_dept_id_list) for p in paths]

    async def list_parent_departments_by_dept(self, dept_id: int) -> list[int]:
        """``dept_id`` and its ancestors, the department first and root 1 last.
        ``POST /topapi/v2/department/listparentbydept``."""
        body = await self._client.oapi(
            "POST", "/topapi/v2/department/listparentbydept", json={"dept_id": dept_id}
        )
        return [int(d) for d in _as_list(_result_dict(body).get("parent_id_list"))]

    async def list_departments_legacy(
        self, id: int = 1, fetch_child: bool = True, *, lang: str | None = None
    ) -> list[LegacyDepartment]:
        """Archived ``GET /department/list``: the departments under ``id`` (recursive when
        ``fetch_child``; third-party apps must pass ``False``)."""
        body = await self._client.oapi(
            "GET",
            "/department/list",
            params=_drop_none({"id": id, "fetch_child": fetch_child, "lang": lang}),
        )
        return [LegacyDepartment.model_validate(d) for d in _as_list(body.get("department"))]

    async def get_department_legacy(
        self, id: int, *, lang: str | None = None
    ) -> LegacyDepartmentDetail:
        """Archived ``GET /department/get`` (top-level camelCase; see ``to_department()``)."""
        body = await self._client.oapi(
            "GET", "/department/get", params=_drop_none({"id": id, "lang": lang})
        )
        return LegacyDepartmentDetail.model_validate(_strip_envelope(body))

    # -- users ---------------------------------------------------------------------------------
    def iter_department_users(
        self,
        dept_id: int,
        size: int = USER_PAGE_MAX,
        order_field: str | None = None,
        *,
        contain_access_limit: bool | None = None,
        language: str | None = None,
    ) -> Pager[DepartmentUser]:
        """Every direct member of ``dept_id`` with full fields, cursor-paged (``size`` ≤ 100).
        ``POST /topapi/v2/user/list``. ``order_field``: ``entry_asc``, ``entry_desc``,
        ``modify_asc``, ``modify_desc``, ``custom``. ``dept_order``/``leader`` of each item
        describe the membership in this department. Raises ``PermissionDeniedError`` (50004)."""
        size = _clamp(size, USER_PAGE_MAX)

        async def call(cursor: Marker) -> dict[str, Any]:
            return await self._client.oapi(
                "POST",
                "/topapi/v2/user/list",
                json=_drop_none(
                    {
                        "dept_id": dept_id,
                        "cursor": cursor,
                        "size": size,
                        "order_field": order_field,
                        "contain_access_limit": contain_access_limit,
                        "language": language,
                    }
                ),
            )

        return cursor_pager(call, DepartmentUser.model_validate)

    def iter_department_users_simple(
        self,
        dept_id: int,
        size: int = USER_PAGE_MAX,
        order_field: str | None = None,
        *,
        contain_access_limit: bool | None = None,
        language: str | None = None,
    ) -> Pager[SimpleUser]:
        """``userid`` + ``name`` of every direct member, cursor-paged (``size`` ≤ 100).
        ``POST /topapi/user/listsimple``."""
        size = _clamp(size, USER_PAGE_MAX)

        async def call(cursor: Marker) -> dict[str, Any]:
            return await self._client.oapi(
                "POST",
                "/topapi/user/listsimple",
                json=_drop_none(
                    {
                        "dept_id": dept_id,
                        "cursor": cursor,
                        "size": size,
                        "order_field": order_field,
                        "contain_access_limit": contain_access_limit,
                        "language": language,
                    }
                ),
            )

        return cursor_pager(call, SimpleUser.model_validate)

    async def list_user_ids(self, dept_id: int) -> list[str]:
        """Every userid of one department (direct members, not paged).
        ``POST /topapi/user/listid``."""
        body = await self._client.oapi("POST", "/topapi/user/listid", json={"dept_id": dept_id})
        return [str(u) for u in _as_list(_result_dict(body).get("userid_list"))]

    async def count_users(self, only_active: bool = False) -> int:
        """Employee count (``only_active``: activated DingTalk only).
        ``POST /topapi/user/count``."""
        body = await self._client.oapi(
            "POST", "/topapi/user/count", json={"only_active": only_active}
        )
        return int(_result_dict(body).get("count") or 0)

    async def get_user(self, userid: str, language: str | None = None) -> User:
        """One user's detail. ``POST /topapi/v2/user/get``. Raises ``NotFoundError``
        (60121/33012: unknown, left, not joined), ``PermissionDeniedError`` (50002: outside the
        app's scope)."""
        body = await self._client.oapi(
            "POST",
            "/topapi/v2/user/get",
            json=_drop_none({"userid": userid, "language": language}),
        )
        return User.model_validate(_result_dict(body))

    async def get_user_legacy(self, userid: str, *, lang: str | None = None) -> LegacyUser:
        """Archived ``GET /user/get`` (top-level camelCase, ``"{1:1}"`` string maps); convert
        with ``.to_user()``."""
        body = await self._client.oapi(
            "GET", "/user/get", params=_drop_none({"userid": userid, "lang": lang})
        )
        return LegacyUser.model_validate(_strip_envelope(body))

    async def get_userid_by_mobile(
        self, mobile: str, *, support_exclusive_account_search: bool | None = None
    ) -> UserIdByMobile:
        """On-the-job employee by phone. ``POST /topapi/v2/user/getbymobile`` (internal apps).
        Raises ``NotFoundError`` (60121)."""
        body = await self._client.oapi(
            "POST",
            "/topapi/v2/user/getbymobile",
            json=_drop_none(
                {
                    "mobile": mobile,
                    "support_exclusive_account_search": support_exclusive_account_search,
                }
            ),
        )
        return UserIdByMobile.model_validate(_result_dict(body))

    async def get_userid_by_unionid(self, unionid: str) -> UnionIdLookup:
        """userid (and ``contact_type``) for a unionid. ``POST /topapi/user/getbyunionid``.
        Raises ``NotFoundError`` (60121) for a stranger."""
        body = await self._client.oapi(
            "POST", "/topapi/user/getbyunionid", json={"unionid": unionid}
        )
        return UnionIdLookup.model_validate(_result_dict(body))

    async def get_user_profile(self, user_token: str, union_id: str = "me") -> ContactUserProfile:
        """The profile of a *user* token's owner (``union_id`` ``me``) or of another person by
        unionId: ``GET /v1.0/contact/users/{unionId}`` with the user token from
        :meth:`~dingsync.dingtalk.auth.AuthAPI.get_user_access_token` in
        ``x-acs-dingtalk-access-token`` (not the app token). Returns ``nick``, ``avatar_url``,
        ``mobile``, ``open_id``, ``union_id``, ``email``, ``state_code`` (Strings; no userid:
        map ``union_id`` with :meth:`get_userid_by_unionid`). Raises ``TokenError`` for a user
        token DingTalk refuses (400 ``InvalidAuthentication``; never renewed), ``DingTalkError``
        400 ``accesstoken.expired`` for an expired one, ``NotFoundError`` (404
        ``invalidParameter.user.notFound``) for an unknown unionId."""
        body = await self._client.api(
            "GET", f"/v1.0/contact/users/{quote(union_id, safe='')}", user_token=user_token
        )
        return ContactUserProfile.model_validate(body)

    def search_users(
        self, query_word: str, *, full_match: bool = False, size: int = 50
    ) -> Pager[str]:
        """Userids whose name matches, offset-paged. ``POST /v1.0/contact/users/search``."""

        async def call(offset: int) -> dict[str, Any]:
            payload: dict[str, Any] = {"queryWord": query_word, "offset": offset, "size": size}
            if full_match:
                payload["fullMatchField"] = 1
            return await self._client.api("POST", "/v1.0/contact/users/search", json=payload)

        return offset_pager(call, str, result_key=None, list_key="list", has_more_key="hasMore")

    # -- admins --------------------------------------------------------------------------------
    async def list_admins(self) -> list[Admin]:
        """Administrators with ``sys_level`` (1 main, 2 sub). ``POST /topapi/user/listadmin``.
        Raises ``PermissionDeniedError`` (43007)."""
        body = await self._client.oapi("POST", "/topapi/user/listadmin", json={})
        return [Admin.model_validate(a) for a in _as_list(_result(body))]

    async def list_admins_legacy(self) -> list[Admin]:
        """Administrators from the archived ``GET /user/get_admin`` — the key is ``adminList``
        or ``admin_list`` (EB-15). Prefer :meth:`list_admins`."""
        body = await self._client.oapi("GET", "/user/get_admin")
        return list(LegacyAdminList.model_validate(_strip_envelope(body)).admins)

    async def get_admin_scope(self, userid: str) -> list[int]:
        """Departments a sub-administrator manages. ``POST /topapi/user/get_admin_scope``
        (answer at top level). Raises ``NotFoundError`` (60121)."""
        body = await self._client.oapi(
            "POST", "/topapi/user/get_admin_scope", json={"userid": userid}
        )
        return list(AdminScope.model_validate(_strip_envelope(body)).dept_ids)

    async def get_auth_scopes(self) -> AuthScopes:
        """The app's contacts scope (通讯录权限范围): ``auth_org_scopes.authed_dept`` (department
        ids, each with its sub-departments) and ``authed_user`` (userids authorised one by one);
        the whole company is ``authed_dept: [1]``. ``GET /auth/scopes`` (answer at top level).
        When the scope is limited, department calls outside it answer ``50004``
        (``PermissionDeniedError``): walk the tree from these departments instead of the root."""
        body = await self._client.oapi("GET", "/auth/scopes")
        return AuthScopes.model_validate(_strip_envelope(body))

    # -- leavers -------------------------------------------------------------------------------
    def iter_leave_records(
        self, start: datetime, end: datetime | None = None
    ) -> Pager[LeaveRecord]:
        """Departure records from ``start`` to ``end`` (default: now), ``nextToken``-paged with
        ``maxResults`` 50. ``GET /v1.0/contact/empLeaveRecords``. Times are sent as
        ``YYYY-MM-DDTHH:mm:ssZ`` (UTC; naive datetimes are taken as UTC). Spans over 365 days
        are split into consecutive windows; a record seen at a window boundary is yielded once."""
        windows = _leave_windows(start, end)
        seen: set[tuple[str, str | None]] = set()

        async def fetch(marker: Marker) -> Page[LeaveRecord]:
            index, token = marker
            w_start, w_end = windows[index]

            async def call(next_token: Marker) -> dict[str, Any]:
                return await self._client.api(
                    "GET",
                    "/v1.0/contact/empLeaveRecords",
                    params=_drop_none(
                        {
                            "startTime": iso_utc(w_start),
                            "endTime": iso_utc(w_end) if w_end is not None else None,
                            "nextToken": next_token,
                            "maxResults": LEAVE_RECORDS_MAX,
                        }
                    ),
                )

            page = await next_token_fetcher(call, LeaveRecord.model_validate, list_key="records")(
                token
            )
            fresh = []
            for record in page.items:
                key = (record.user_id, record.leave_time)
                if key not in seen:
                    seen.add(key)
                    fresh.append(record)
            if page.next is not None:
                return Page(fresh, (index, page.next))
            if index + 1 < len(windows):
                return Page(fresh, (index + 1, "0"))
            return Page(fresh, None)

        return Pager(fetch, (0, "0"))

    def iter_dimission_userids(self, size: int = DIMISSION_MAX) -> Pager[str]:
        """Userids of people who left (智能人事), paged by ``offset``/``next_cursor``
        (``size`` ≤ 50). ``POST /topapi/smartwork/hrm/employee/querydimission``."""
        size = _clamp(size, DIMISSION_MAX)

        async def call(offset: Marker) -> dict[str, Any]:
            return await self._client.oapi(
                "POST",
                "/topapi/smartwork/hrm/employee/querydimission",
                json={"offset": offset, "size": size},
            )

        return cursor_pager(call, str, list_key="data_list", has_more_key=None)

    async def list_dimission_infos(self, userids: Iterable[str]) -> list[DimissionInfo]:
        """Dimission details for any number of userids, 50 per call (split here).
        ``POST /topapi/smartwork/hrm/employee/listdimission``."""
        ids = list(dict.fromkeys(userids))
        chunks = [ids[i : i + DIMISSION_MAX] for i in range(0, len(ids), DIMISSION_MAX)]

        async def one(chunk: list[str]) -> list[DimissionInfo]:
            body = await self._client.oapi(
                "POST",
                "/topapi/smartwork/hrm/employee/listdimission",
                json={"userid_list": ",".join(chunk)},
            )
            return [DimissionInfo.model_validate(i) for i in _as_list(_result(body))]

        results = await asyncio.gather(*(one(c) for c in chunks))
        return [info for part in results for info in part]

    # -- roles ---------------------------------------------------------------------------------
    def iter_roles(self, size: int = ROLE_PAGE_MAX) -> Pager[RoleGroup]:
        """Role groups (角色组) with their roles: :class:`RoleGroup` ``{group_id, name, roles:
        [{id, name}]}``, the built-in 默认 group (负责人, 主管, 主管理员, 子管理员) among them.
        ``POST /topapi/role/list``, offset-paged on ``result.hasMore`` (``size`` ≤ 200,
        clamped); ``offset`` and ``size`` are always sent together, since DingTalk ignores
        either alone. Needs ``qyapi_get_department_list``: ``PermissionDeniedError`` (60011,
        43007) without it; ``InvalidArgumentError`` for 40068/40069/400043."""
        size = _clamp(size, ROLE_PAGE_MAX)

        async def call(offset: int) -> dict[str, Any]:
            return await self._client.oapi(
                "POST", "/topapi/role/list", json={"offset": offset, "size": size}
            )

        return offset_pager(call, RoleGroup.model_validate)

    async def get_role(self, role_id: int) -> RoleDetail:
        """One role: :class:`RoleDetail` ``{name, group_id}``. ``POST /topapi/role/getrole``
        (camelCase ``roleId``; the answer's ``role`` is top-level, not under ``result``).
        Raises ``NotFoundError`` for an unknown role (33011 无效的roleId) and
        ``PermissionDeniedError`` without ``qyapi_get_department_member``."""
        body = await self._client.oapi("POST", "/topapi/role/getrole", json={"roleId": role_id})
        role = body.get("role")
        return RoleDetail.model_validate(role if isinstance(role, dict) else {})

    def iter_role_members(
        self, role_id: int, size: int = ROLE_MEMBERS_PAGE_MAX
    ) -> Pager[RoleMember]:
        """Who holds a role: :class:`RoleMember` ``{userid, name, manage_scopes: [{dept_id,
        name}]}`` (no scope = the whole company). ``POST /topapi/role/simplelist`` (snake_case
        ``role_id``), offset-paged on ``result.hasMore`` (``size`` ≤ 100, clamped). Raises
        ``NotFoundError`` for an unknown role (33011) and ``PermissionDeniedError`` without
        ``qyapi_get_department_member``."""
        size = _clamp(size, ROLE_MEMBERS_PAGE_MAX)

        async def call(offset: int) -> dict[str, Any]:
            return await self._client.oapi(
                "POST",
                "/topapi/role/simplelist",
                json={"role_id": role_id, "offset": offset, "size": size},
            )

        return offset_pager(call, RoleMember.model_validate)


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def _clamp(size: int, cap: int) -> int:
    return max(1, min(int(size), cap))


def _leave_windows(start: datetime, end: datetime | None) -> list[tuple[datetime, datetime | None]]:
    """Consecutive windows of at most 365 days on whole seconds (the wire format has no
    fractions, so a window never grows past 365 days by rounding), each ending where the next
    starts (a record on the boundary is yielded once by the caller). Without ``end`` and a
    ``start`` comfortably within the last 365 days: one open window, DingTalk's own default;
    otherwise explicit windows up to ``end`` (default now). Naive datetimes raise
    ``ValueError``."""
    start = _whole_second(start, up=False)
    now = datetime.now(UTC)
    if end is None:
        if now - start <= LEAVE_WINDOW - LEAVE_OPEN_MARGIN:
            return [(start, None)]
        end = now
    end = _whole_second(end, up=True)
    if end <= start:
        return [(start, end)]
    # Whole seconds split by the one splitter: [a, b] inclusive seconds → [a, b + 1) on the wire.
    span = int(LEAVE_WINDOW.total_seconds())
    seconds = timeutil.split_ms(int(start.timestamp()), int(end.timestamp()) - 1, span)
    return [(timeutil.from_ms(a * 1000), timeutil.from_ms((b + 1) * 1000)) for a, b in seconds]


def _whole_second(moment: datetime, *, up: bool) -> datetime:
    moment = timeutil.from_ms(timeutil.to_ms(moment))  # aware UTC; naive → ValueError
    floor = moment.replace(microsecond=0)
    if up and floor != moment:
        return floor + timedelta(seconds=1)
    return floor
