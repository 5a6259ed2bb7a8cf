"""DingTalk (钉钉) API client: tokens, rate limits, retries, paging and typed models.

Knows DingTalk's wire protocol and nothing of dingsync's tables (DESIGN.md §2, §5)::

    async with DingTalkClient(app_key, app_secret) as client:
        async for user in client.contacts.iter_department_users(1):
            ...
"""

from dingsync.dingtalk._base import (
    DEFAULT_API_URL,
    DEFAULT_LOGIN_URL,
    DEFAULT_OAPI_URL,
    DingTalkClient,
)
from dingsync.dingtalk.approvals import ApprovalsAPI
from dingsync.dingtalk.attendance import AttendanceAPI
from dingsync.dingtalk.auth import AuthAPI
from dingsync.dingtalk.contacts import ContactsAPI
from dingsync.dingtalk.errors import (
    AuthCodeError,
    CredentialsError,
    DingTalkError,
    InvalidArgumentError,
    IPBannedError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    TokenError,
)
from dingsync.dingtalk.jsapi import normalize_jsapi_url, sign_jsapi
from dingsync.dingtalk.models import (
    AccessToken,
    Admin,
    AdminScope,
    Department,
    DepartmentBrief,
    DepartmentUser,
    DimissionInfo,
    JsapiConfig,
    JsapiTicket,
    LeaveRecord,
    LegacyDepartment,
    LegacyDepartmentDetail,
    LegacyLoginUserInfo,
    LegacyUser,
    LoginUserInfo,
    RoleDetail,
    RoleGroup,
    RoleMember,
    SimpleUser,
    User,
)
from dingsync.dingtalk.paging import Page, Pager
from dingsync.dingtalk.reports import ReportsAPI
from dingsync.dingtalk.tokens import CachedToken, MemoryTokenStore, TokenStore

#: The API group of each data area (:data:`dingsync.areas.AREA_NAMES`): ``DingTalkClient``
#: binds it as the attribute of the same name (``client.contacts``, ``client.reports`` …).
AREA_APIS: dict[str, type] = {
    "contacts": ContactsAPI,
    "reports": ReportsAPI,
    "attendance": AttendanceAPI,
    "approvals": ApprovalsAPI,
}

__all__ = [
    "AREA_APIS",
    "DEFAULT_API_URL",
    "DEFAULT_LOGIN_URL",
    "DEFAULT_OAPI_URL",
    "AccessToken",
    "Admin",
    "AdminScope",
    "ApprovalsAPI",
    "AttendanceAPI",
    "AuthAPI",
    "AuthCodeError",
    "CachedToken",
    "ContactsAPI",
    "CredentialsError",
    "Department",
    "DepartmentBrief",
    "DepartmentUser",
    "DimissionInfo",
    "DingTalkClient",
    "DingTalkError",
    "IPBannedError",
    "InvalidArgumentError",
    "JsapiConfig",
    "JsapiTicket",
    "LeaveRecord",
    "LegacyDepartment",
    "LegacyDepartmentDetail",
    "LegacyLoginUserInfo",
    "LegacyUser",
    "LoginUserInfo",
    "MemoryTokenStore",
    "NotFoundError",
    "Page",
    "Pager",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitError",
    "ReportsAPI",
    "RoleDetail",
    "RoleGroup",
    "RoleMember",
    "ServerError",
    "SimpleUser",
    "TokenError",
    "TokenStore",
    "User",
    "normalize_jsapi_url",
    "sign_jsapi",
]
