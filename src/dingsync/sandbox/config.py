"""Sandbox configuration: the company to generate, the app's credentials, and the knobs.

``SandboxConfig`` is what the constructor, ``POST /sandbox/config`` and
``SandboxServer.configure(**knobs)`` share. Company and credential fields are fixed once a
sandbox runs; every other field is a knob that can change at any time.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Fields that define the generated company or the app: fixed for a running sandbox.
FIXED_FIELDS = frozenset(
    {
        "seed",
        "users",
        "days",
        "corp_name",
        "anchor_ms",
        "corp_id",
        "agent_id",
        "app_key",
        "app_secret",
    }
)

#: APIs behind permissions closed to new apps (EB-55): ``historic_permissions_denied`` → 60011.
HISTORIC_PATHS = frozenset(
    {
        "/topapi/report/statistics",
        "/topapi/processinstance/listids",
        "/topapi/processinstance/get",
        "/topapi/process/listbyuserid",
    }
)

#: Permission points of the contacts APIs (auth-contacts.md §11) and of the other areas' read
#: APIs, for ``denied_permissions``.
PERMISSION_PATHS: dict[str, tuple[str, ...]] = {
    "qyapi_base": ("/topapi/v2/user/getuserinfo",),
    "qyapi_get_member": ("/topapi/v2/user/get", "/topapi/user/listid"),
    "qyapi_get_department_list": ("/topapi/v2/department/", "/topapi/role/list"),
    "qyapi_get_department_member": (
        "/topapi/v2/user/list",
        "/topapi/role/getrole",
        "/topapi/role/simplelist",
    ),
    "qyapi_get_member_by_mobile": ("/topapi/v2/user/getbymobile",),
    "qyapi_addresslist_search": ("/v1.0/contact/users/search",),
    "Contact.Common.Read": ("/v1.0/contact/empLeaveRecords",),
    # The other areas' read points (reports.md §0, attendance.md §0, approvals.md §0).
    "qyapi_report_query": ("/topapi/report/",),
    "qyapi_get_attendance_data": (
        "/attendance/list",
        "/attendance/listRecord",
        "/topapi/attendance/getupdatedata",
        "/topapi/attendance/getleavestatus",
    ),
    "qyapi_attendance_group_read": (
        "/topapi/attendance/group/",
        "/topapi/attendance/schedule/listbyusers",
        "/topapi/attendance/schedule/listbyday",
    ),
    "Workflow.Form.Read": (
        "/v1.0/workflow/processes/userVisibilities/templates",
        "/v1.0/workflow/forms/",
    ),
    "Workflow.Instance.Read": (
        "/v1.0/workflow/processes/instanceIds/query",
        "/v1.0/workflow/processInstances",
    ),
}


def permission_denied(path: str, denied: list[str]) -> bool:
    """Whether ``path`` is refused under ``denied_permissions``: an entry is a permission point
    of :data:`PERMISSION_PATHS` (its paths; one ending in ``/`` covers everything below it) or
    an exact API path (that API alone)."""
    for entry in denied:
        if entry == path:
            return True
        for prefix in PERMISSION_PATHS.get(entry, ()):
            if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
                return True
    return False


#: One-shot actions accepted by ``POST /sandbox/config`` / ``configure`` next to the knobs.
ACTIONS = frozenset({"invalidate_tokens", "clock_advance_s", "clock_set", "reset_stats"})

Probability = float


@dataclass(frozen=True)
class AppCredentials:
    """The sandbox app (企业内部应用) as a client is configured with it.

    ``agent_id`` is a numeric string (DingTalk's AgentId, as ``dd.config`` takes it);
    ``corp_name`` is the company's name (the root department's name).
    """

    corp_id: str
    agent_id: str
    app_key: str
    app_secret: str
    corp_name: str = ""


class SandboxConfig(BaseModel):
    """Everything a sandbox is started with; all knobs can be changed while it runs.

    Company (fixed): ``seed``, ``users``, ``corp_name`` (default: generated), ``anchor_ms``
    (epoch ms the generated history is relative to; default today's midnight, Asia/Shanghai).

    App (fixed; ``None`` → derived from ``seed``): ``corp_id``, ``agent_id``, ``app_key``,
    ``app_secret``.

    Latency: each API call sleeps ``latency_ms`` + uniform(0, ``jitter_ms``) milliseconds.

    Rate limit: ``qps_limit`` calls per second per API path (sliding one-second window;
    ``None``/0 = off; DingTalk's standard edition allows 20); ``qps_overrides`` maps a path
    (e.g. ``"/topapi/v2/user/list"``) to its own limit (``None``/0 = off for that path). Over the
    limit the oapi host answers plain errcode ``90018`` (wrapped in 88 when
    ``rate_limit_wrapped``, EB-03), the api host HTTP 403
    ``Forbidden.AccessDenied.QpsLimitForAppkeyAndApi``.

    Token errors: an expired token gives ``expired_token_code`` (``"40014"`` or ``"42001"``,
    EB-02), wrapped in errcode 88 on ``/topapi`` unless ``expired_token_wrapped`` is false.

    Lifetimes (seconds, by the sandbox clock): ``token_ttl_s`` (7200), ``authcode_ttl_s``
    (300), ``jsapi_ticket_ttl_s`` (7200), ``jsapi_ticket_max_s`` (86400, from creation).

    Faults (probabilities 0..1 per call, drawn from a RNG seeded by ``fault_seed``, default
    ``seed``): ``fault_5xx`` (HTTP 500/502/503), ``fault_timeout`` (sleep ``timeout_s`` then
    answer, or drop the connection when ``timeout_action`` is ``"drop"``), ``fault_drop``
    (close the connection without an answer), ``fault_rate_limit`` (a rate-limit answer
    regardless of load), ``fault_token_invalidation`` (all tokens invalidated, so the call gets
    the token error). Faults never touch ``/sandbox/*``, and touch the token endpoints only when
    ``fault_token_endpoints`` is true.

    Limits DingTalk does not publish (all off by default):

    - ``global_qps_limit`` (EB-20): calls per second per API path for *all* callers; over it
      the oapi host answers plain ``90002`` (the api host 403
      ``Forbidden.AccessDenied.QpsLimitForApi``) and the path stays banned for ``global_ban_s``
      seconds (1 s, as a real 90002 message says).
    - ``monthly_quota`` (EB-19, EB-27): successful calls per calendar month (Asia/Shanghai, by
      the sandbox clock) to APIs that are not quota-exempt; over it the oapi host answers
      ``90020`` and the api host 403 ``Forbidden.AccessDenied.ApiCountLimitForOrg``. Token,
      login-free, contacts and smart-HR APIs are exempt; the archived pages,
      ``/v1.0/oauth2/{corpId}/token`` and ``/v1.0/contact/users/search`` count.
    - ``ip_ban_calls`` (EB-25): more than this many calls (all APIs) within ``ip_ban_window_s``
      seconds ban the caller for ``ip_ban_s`` seconds (DingTalk: 10,000 in 20 s, 5 minutes, by
      the sandbox clock); every DingTalk path then answers HTTP 200
      ``{"status":1111,"wait":5,"source":"x5","punish":"deny","uuid":…}``.

    User tokens (``POST /v1.0/oauth2/userAccessToken``): ``user_token_ttl_s`` (7200),
    ``refresh_token_ttl_s`` (30 days); a bad or reused login code answers HTTP 400 with the
    ``code`` given by ``user_code_error`` (``invalidParameter``, EB-07).

    Data scope (EB-31): ``data_scope_dept_ids`` — ``None`` (default) lets the app see the
    whole org's reports, attendance and approvals; a list of department ids restricts it to
    the people in those departments and below: others are silently left out of lists
    (``report/list``, ``/attendance/list``, ``listRecord``, ``listids`` …) and single-user calls
    about them (``getupdatedata``, ``getcolumnval``, ``template/getbyname`` …) answer ``50002``.

    Contacts scope (通讯录权限范围): ``contacts_scope_dept_ids`` — ``None`` (default) lets the
    app read the whole directory; a list limits it to those departments and everything below
    them, plus the people named one by one in ``contacts_scope_userids``. Outside it the
    department calls answer ``50004`` 企业部门不在授权范围 (the root included; ``listsubid`` and
    ``user/listid`` are not limited, as auth-contacts.md §5.2/§6.3 say) and ``user/get`` answers
    ``50002``; ``GET /auth/scopes`` lists the scope as ``auth_org_scopes{authed_dept,
    authed_user}``. ``odd_departments`` maps a department id to the errcode every department
    call about it answers (``60003`` gone — e.g. DingTalk's ``-1`` of 家校通讯录 — or ``50004``
    outside the scope); an id that is not a department of the company is listed by the root's
    ``listsubid``, as DingTalk lists such ids.

    Permissions (EB-55): every permission is granted by default; ``historic_permissions_denied``
    makes the historic (closed to new apps) APIs answer ``60011`` 没有调用该接口的权限 —
    ``/topapi/report/statistics`` and the old approval APIs (``processinstance/listids``,
    ``processinstance/get``, ``process/listbyuserid``); the approvals area's
    ``approvals_v1_denied`` refuses the v1.0 workflow APIs instead (403).
    ``denied_permissions`` lists permission points the app lacks (``qyapi_get_department_list``
    …, :data:`PERMISSION_PATHS`, auth-contacts.md §11) or single API paths (``/topapi/role/list``):
    those APIs answer ``60011`` 没有调用该接口的权限 (the api host 403
    ``Forbidden.AccessDenied.AccessTokenPermissionDenied``).

    ``dd.config`` check (``POST /sandbox/jsapi/verify``, what DingTalk's container does):
    SHA-256 and SHA-1 signatures are both accepted, told apart by length (64 / 40 hex), unless
    ``jsapi_reject_sha1`` (EB-17); ``timeStamp`` is opaque, never checked for freshness (EB-18).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    seed: int = 42
    users: int = Field(300, ge=1)
    #: Days of generated history (reports, attendance, approvals) ending at ``anchor_ms``.
    days: int = Field(30, ge=1)
    corp_name: str | None = None
    anchor_ms: int | None = None

    corp_id: str | None = None
    agent_id: str | None = None
    app_key: str | None = None
    app_secret: str | None = None

    latency_ms: float = Field(0.0, ge=0)
    jitter_ms: float = Field(0.0, ge=0)

    qps_limit: float | None = Field(20.0, ge=0)
    qps_overrides: dict[str, float | None] = Field(default_factory=dict)
    rate_limit_wrapped: bool = False

    expired_token_code: Literal["40014", "42001"] = "40014"
    expired_token_wrapped: bool = True

    token_ttl_s: float = Field(7200.0, gt=0)
    authcode_ttl_s: float = Field(300.0, gt=0)
    jsapi_ticket_ttl_s: float = Field(7200.0, gt=0)
    jsapi_ticket_max_s: float = Field(86400.0, gt=0)

    fault_5xx: Probability = Field(0.0, ge=0, le=1)
    fault_timeout: Probability = Field(0.0, ge=0, le=1)
    fault_drop: Probability = Field(0.0, ge=0, le=1)
    fault_rate_limit: Probability = Field(0.0, ge=0, le=1)
    fault_token_invalidation: Probability = Field(0.0, ge=0, le=1)
    timeout_s: float = Field(5.0, ge=0)
    timeout_action: Literal["answer", "drop"] = "answer"
    fault_token_endpoints: bool = False
    fault_seed: int | None = None

    global_qps_limit: float | None = Field(None, ge=0)
    global_ban_s: float = Field(1.0, ge=0)
    monthly_quota: int | None = Field(None, ge=0)
    ip_ban_calls: int | None = Field(None, ge=1)
    ip_ban_window_s: float = Field(20.0, gt=0)
    ip_ban_s: float = Field(300.0, ge=0)

    user_token_ttl_s: float = Field(7200.0, gt=0)
    refresh_token_ttl_s: float = Field(30 * 86400.0, gt=0)
    user_code_error: str = Field("invalidParameter", min_length=1)

    jsapi_reject_sha1: bool = False

    data_scope_dept_ids: list[int] | None = None
    contacts_scope_dept_ids: list[int] | None = None
    contacts_scope_userids: list[str] = Field(default_factory=list)
    odd_departments: dict[int, Literal[60003, 50004]] = Field(default_factory=dict)
    historic_permissions_denied: bool = False
    denied_permissions: list[str] = Field(default_factory=list)

    @field_validator("agent_id", mode="before")
    @classmethod
    def _agent_id_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @field_validator("qps_overrides", mode="before")
    @classmethod
    def _overrides_none(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("denied_permissions", mode="before")
    @classmethod
    def _denied_none(cls, value: Any) -> Any:
        return [] if value is None else value

    @model_validator(mode="after")
    def _derive_credentials(self) -> SandboxConfig:
        rng = random.Random(f"dingsync-sandbox-app:{self.seed}")
        lower = string.ascii_lowercase + string.digits
        derived = {
            "corp_id": "ding" + "".join(rng.choices("0123456789abcdef", k=32)),
            "agent_id": str(rng.randrange(1_000_000_000, 4_000_000_000)),
            "app_key": "ding" + "".join(rng.choices(lower, k=16)),
            "app_secret": "".join(rng.choices(string.ascii_letters + string.digits + "-_", k=64)),
        }
        for name, value in derived.items():
            if getattr(self, name) is None:
                # object.__setattr__ avoids re-running validation (validate_assignment).
                object.__setattr__(self, name, value)
        return self

    def qps_for(self, path: str) -> float | None:
        """The QPS limit for ``path`` (``None`` = unlimited): 20 per API everywhere by default,
        report/attendance/approval APIs included, overridable per path (EB-29)."""
        limit = self.qps_overrides[path] if path in self.qps_overrides else self.qps_limit
        return limit if limit else None

    def credentials(self, corp_name: str = "") -> AppCredentials:
        """The app's credentials (all derived fields are filled by now)."""
        assert self.corp_id and self.agent_id and self.app_key and self.app_secret
        return AppCredentials(
            corp_id=self.corp_id,
            agent_id=self.agent_id,
            app_key=self.app_key,
            app_secret=self.app_secret,
            corp_name=corp_name,
        )

    def with_knobs(self, knobs: dict[str, Any]) -> SandboxConfig:
        """A new config with ``knobs`` applied (validated); fixed fields may not change.

        Raises ``ValueError`` for an unknown knob or a change to a fixed field.
        """
        unknown = sorted(set(knobs) - set(type(self).model_fields))
        if unknown:
            raise ValueError(f"unknown knob(s): {', '.join(unknown)}")
        fixed = sorted(k for k in knobs if k in FIXED_FIELDS and knobs[k] != getattr(self, k))
        if fixed:
            raise ValueError(f"fixed for a running sandbox: {', '.join(fixed)}")
        data = self.model_dump()
        data.update(knobs)
        return type(self).model_validate(data)
