"""DingTalk errors: one exception tree for both API families.

Old family (``oapi``): HTTP 200 with ``errcode``; token errors on ``/topapi`` arrive wrapped in
errcode 88 with the real code in the String ``sub_code``. New family (``api``): HTTP 4xx/5xx with
``{code, message, requestid}``. Both are classified by the *reason*: ``sub_code`` when present,
else ``errcode`` (EB-01/EB-03), so a 90018 wrapped in 88 is still a rate limit.

Messages never carry the app secret or an access token: the client scrubs them before an error is
built, and the error's text is made only from the fields below.
"""

from __future__ import annotations

from typing import Any

#: Old-family reasons that mean "the access token is invalid or expired": drop it, refresh once.
#: A bare 88 (鉴权异常) without a ``sub_code`` is treated the same way.
TOKEN_REASONS = frozenset({"40014", "42001", "40001", "33001", "40000", "41001", "88"})
#: Throttling: per-app per-API QPS (90018), global per-API (90002) and the other 900xx bans.
RATE_LIMIT_REASONS = frozenset(
    {"90018", "90002", "90001", "90003", "90004", "90005", "90006"}
    | {str(c) for c in range(90007, 90015)}
)
QUOTA_REASONS = frozenset({"90020", "Forbidden.AccessDenied.ApiCountLimitForOrg"})
PERMISSION_REASONS = frozenset(
    {
        "60011",
        "43007",
        "50002",
        "50004",
        "60020",
        "Forbidden.AccessDenied.AccessTokenPermissionDenied",
        "Forbidden.AccessDenied.IpNotInWhiteList",
        "noPermission",
    }
)
NOT_FOUND_REASONS = frozenset(
    {
        "60121",
        "33012",
        "60003",
        "33011",
        "830001",
        "invalidParameter.user.notFound",
        "processInstanceNotExist",
        "processInstNotExist",
        "userNotExist",
    }
)
INVALID_ARGUMENT_REASONS = frozenset(
    {
        "22",
        "400002",
        "40003",
        "40009",
        "40018",
        "40035",
        "40036",
        "40068",
        "40069",
        "40104",
        "41041",
        "41100",
        "43001",
        "43002",
        "43004",
        "400043",
        "820001",
        "820005",
        "850012",
        "850015",
        "Missingbody",
        "missingParameter",
        "parameter.error",
    }
)
AUTH_CODE_REASONS = frozenset({"40078", "41026", "40091", "40079"})
CREDENTIALS_REASONS = frozenset(
    {
        "40096",
        "40089",
        "40088",
        "invalidClientIdOrSecret",
        "invalid.client",
        "unauthorized.client",
    }
)
SERVER_REASONS = frozenset(
    {
        "-1",
        "400001",
        "unknownError",
        "server.error",
        "systemBusy",
        "systemError",
        "system.error",
        "system.busy",
        "internalError",
    }
)
#: New-family token codes (HTTP 400 ``InvalidAuthentication``; any 401 that is not a credential
#: error is treated the same way).
NEW_TOKEN_CODES = frozenset({"InvalidAuthentication", "AuthenticationFailed.MissingParameter"})


class DingTalkError(Exception):
    """A DingTalk API call failed.

    ``errcode``: the old-family Number (``88`` for wrapped errors) or the new-family ``code``
    String. ``sub_code``: the real code inside an 88 wrapper (a String), else ``None``.
    ``reason``: ``sub_code`` if present else ``errcode``, as a String — what to match on.
    ``api``: the path called; ``request_id``: DingTalk's request id when it sent one;
    ``http_status``: the HTTP status when it was not 200 (or always, for the new family).
    """

    def __init__(
        self,
        errcode: int | str,
        errmsg: str = "",
        *,
        sub_code: str | None = None,
        api: str | None = None,
        request_id: str | None = None,
        http_status: int | None = None,
    ) -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        self.sub_code = sub_code
        self.api = api
        self.request_id = request_id
        self.http_status = http_status
        super().__init__(self._message())

    @property
    def reason(self) -> str:
        """``sub_code`` when DingTalk sent one, else ``errcode``, as a String."""
        return str(self.sub_code) if self.sub_code not in (None, "") else str(self.errcode)

    def _message(self) -> str:
        code = str(self.errcode)
        if self.sub_code not in (None, ""):
            code = f"{code}/{self.sub_code}"
        parts = [f"[{code}] {self.errmsg}".rstrip()]
        ctx = []
        if self.api:
            ctx.append(f"api={self.api}")
        if self.http_status is not None:
            ctx.append(f"http={self.http_status}")
        if self.request_id:
            ctx.append(f"request_id={self.request_id}")
        if ctx:
            parts.append(f"({', '.join(ctx)})")
        return " ".join(parts)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments do not survive the default Exception pickling (Celery workers).
        kwargs = {
            "sub_code": self.sub_code,
            "api": self.api,
            "request_id": self.request_id,
            "http_status": self.http_status,
        }
        return (_rebuild, (self.__class__, self.errcode, self.errmsg, kwargs))


class TokenError(DingTalkError):
    """Invalid, expired or missing access token (40014, 42001, 40001, 33001, 40000, 41001, bare or
    as 88 ``sub_code``; new family 400 ``InvalidAuthentication`` or 401). The client refreshes
    once and retries once before raising this."""


class RateLimitError(DingTalkError):
    """Throttled: 90018 (per app per API), 90002 (global per API), 90001/90003–90006, new-family
    403 ``Forbidden.AccessDenied.Qps*``/``Qpm*`` or HTTP 429. Retried with backoff first."""


class QuotaExceededError(DingTalkError):
    """Monthly call quota exhausted (90020 / ``Forbidden.AccessDenied.ApiCountLimitForOrg``).
    Never retried: the quota resets next calendar month."""


class IPBannedError(DingTalkError):
    """This server's IP is banned (10,000 calls in 20 s → about 5 minutes). DingTalk answers with
    ``{"status":1111,"punish":"deny",…}`` or an HTML page instead of its envelope (EB-25).
    Never retried in a loop."""


class PermissionDeniedError(DingTalkError):
    """The app lacks the permission point or the target is outside its contacts scope (60011,
    43007, 50002, 50004, 60020, 403 ``AccessTokenPermissionDenied``/``IpNotInWhiteList``)."""


class NotFoundError(DingTalkError):
    """Unknown user, department, role or instance (60121, 33012, 60003, 33011, HTTP 404)."""


class InvalidArgumentError(DingTalkError):
    """DingTalk rejected a parameter (400002, 40035, 40068, 40069, 40009, 41041, 41100, …, new
    family HTTP 400)."""


class AuthCodeError(DingTalkError):
    """A login-free (免登) authCode is unknown, expired (5 min), already used or missing (40078,
    41026, 40091, 40079). Show the user a 4xx, not a 500."""


class ServerError(DingTalkError):
    """DingTalk is busy or failing (-1, 400001, HTTP 5xx) or the network failed (timeouts,
    dropped connections). Retried with backoff first."""


class CredentialsError(DingTalkError):
    """The AppKey/AppSecret pair is wrong (40096, 40089, 400 ``invalidClientIdOrSecret``)."""


def _rebuild(
    cls: type[DingTalkError], errcode: int | str, errmsg: str, kwargs: dict[str, Any]
) -> DingTalkError:
    return cls(errcode, errmsg, **kwargs)


def error_class_for(reason: str, http_status: int | None = None) -> type[DingTalkError]:
    """The exception class for a reason (``sub_code`` or ``errcode`` / new-family ``code``)."""
    if reason in CREDENTIALS_REASONS:
        return CredentialsError
    if reason in TOKEN_REASONS or reason in NEW_TOKEN_CODES:
        return TokenError
    if reason in QUOTA_REASONS:
        return QuotaExceededError
    if reason in RATE_LIMIT_REASONS or _is_new_rate_limit(reason):
        return RateLimitError
    if reason in AUTH_CODE_REASONS:
        return AuthCodeError
    if reason in PERMISSION_REASONS:
        return PermissionDeniedError
    if reason in NOT_FOUND_REASONS:
        return NotFoundError
    if reason in INVALID_ARGUMENT_REASONS:
        return InvalidArgumentError
    if reason in SERVER_REASONS:
        return ServerError
    if http_status is not None:
        if http_status == 401:
            return TokenError
        if http_status == 429:
            return RateLimitError
        if http_status == 403:
            return PermissionDeniedError
        if http_status == 404:
            return NotFoundError
        if http_status >= 500:
            return ServerError
        if http_status == 400 and reason.startswith(("invalidParameter", "missingParameter")):
            return InvalidArgumentError
        if http_status == 400 and reason.startswith("invalid"):
            return InvalidArgumentError
    return DingTalkError


def _is_new_rate_limit(reason: str) -> bool:
    return reason.startswith(("Forbidden.AccessDenied.Qps", "Forbidden.AccessDenied.Qpm"))


def is_ip_ban_body(body: object) -> bool:
    """True for DingTalk's IP-ban reply ``{"status":1111,"punish":"deny",…}`` (EB-25)."""
    if not isinstance(body, dict):
        return False
    if body.get("punish") == "deny":
        return True
    return str(body.get("status")) == "1111" and "errcode" not in body and "code" not in body


def error_from_oapi_body(
    body: dict[str, Any], *, api: str | None = None, http_status: int | None = None
) -> DingTalkError | None:
    """Classify an old-family answer; ``None`` when it is a success (``errcode`` 0 or absent)."""
    if is_ip_ban_body(body):
        return IPBannedError(
            "ip_ban", f"IP banned, wait {body.get('wait')}", api=api, http_status=http_status
        )
    raw = body.get("errcode", 0)
    try:
        errcode: int | str = int(raw)
    except (TypeError, ValueError):
        errcode = str(raw)
    if errcode == 0:
        if http_status is not None and http_status >= 400:
            cls = error_class_for(str(http_status), http_status)
            return cls(http_status, "HTTP error", api=api, http_status=http_status)
        return None
    sub = body.get("sub_code")
    sub_code = str(sub) if sub not in (None, "") else None
    errmsg = str(body.get("sub_msg") or body.get("errmsg") or "")
    reason = sub_code or str(errcode)
    cls = error_class_for(reason, http_status)
    return cls(
        errcode,
        errmsg,
        sub_code=sub_code,
        api=api,
        request_id=_str_or_none(body.get("request_id")),
        http_status=http_status,
    )


def error_from_api_body(
    http_status: int,
    body: dict[str, Any] | None,
    *,
    api: str | None = None,
    request_id: str | None = None,
) -> DingTalkError:
    """Classify a new-family error (HTTP 4xx/5xx with ``{code, message, requestid}``)."""
    body = body or {}
    if is_ip_ban_body(body):
        return IPBannedError(
            "ip_ban", f"IP banned, wait {body.get('wait')}", api=api, http_status=http_status
        )
    code = str(body.get("code") or "") or str(http_status)
    message = str(body.get("message") or body.get("errmsg") or "")
    cls = error_class_for(code, http_status)
    return cls(
        code,
        message,
        api=api,
        request_id=_str_or_none(body.get("requestid") or body.get("requestId")) or request_id,
        http_status=http_status,
    )


def _str_or_none(value: object) -> str | None:
    return None if value in (None, "") else str(value)
