"""The web service's stable error codes.

Every failure the service answers is ``{"error": {"code": "<stable code>", "message": "…"}}``
with the HTTP status of :data:`ERRORS`. Codes never change meaning; the table is reproduced in
``docs/web.md``. Messages are for people and never carry secrets.
"""

from __future__ import annotations

from typing import Any

#: code → (HTTP status, default message)
ERRORS: dict[str, tuple[int, str]] = {
    "auth.code_missing": (400, "authCode is missing: pass the code from dd.getAuthCode"),
    "auth.token_failed": (502, "could not obtain the DingTalk access token (check the app key)"),
    "auth.code_invalid": (401, "the authCode is unknown, expired (5 min) or already used"),
    "auth.user_not_found": (403, "DingTalk does not know this user (left, or outside the scope)"),
    "auth.user_disabled": (403, "this account is disabled locally"),
    "auth.dingtalk_unavailable": (502, "DingTalk did not answer the login; try again"),
    "corp.unknown": (400, "this service does not serve that corpId"),
    "corp.inactive": (
        403,
        "the company's app was removed or stopped: its logins and sessions are refused",
    ),
    "login.state_invalid": (
        400,
        "the browser login's state does not match this browser (not started here, already "
        "used or older than 10 minutes): log in again",
    ),
    "login.cancelled": (401, "the login was cancelled on DingTalk's page"),
    "session.missing": (401, "no session: send Authorization: Bearer <token>"),
    "session.invalid": (401, "the session token is unknown or was revoked"),
    "session.expired": (401, "the session has expired: log in again"),
    "session.user_inactive": (
        401,
        "the account is no longer active in the organisation (left or removed); the session "
        "is refused",
    ),
    "jsapi.url_invalid": (400, "url must be an absolute http(s) URL"),
    "jsapi.unavailable": (502, "could not obtain the JSAPI ticket from DingTalk"),
    "request.invalid": (422, "the request is not valid"),
    "request.too_large": (413, "the request body is too large"),
    "method_not_allowed": (405, "this path does not take that HTTP method"),
    "forbidden": (403, "you may not use this endpoint"),
    "not_found": (404, "no such record (or not visible to you)"),
    "attachment.unavailable": (
        502,
        "DingTalk did not give this attachment (no download link, or the file did not come)",
    ),
    "attachment.too_large": (
        413,
        "the attachment is larger than this service streams (DINGSYNC_WEB_MAX_ATTACHMENT_BYTES)",
    ),
    "export.kind_unknown": (400, "unknown export kind"),
    "export.forbidden": (403, "you may not export this kind of data"),
    "role.unknown": (400, "unknown local role"),
    "admin.self_disable": (409, "you may not disable your own account (it would lock you out)"),
    "admin.main_admin_protected": (
        409,
        "the DingTalk main administrator cannot be disabled through the API "
        "(use `dingsync users disable` on the server)",
    ),
    "csrf.invalid": (
        403,
        "the form's CSRF token is missing or wrong: reload the page and try again",
    ),
    "internal": (500, "internal error: the service could not answer this request"),
}


#: What any route may answer whatever it does: a malformed request (422; the service's envelope,
#: not FastAPI's ``HTTPValidationError``), a body over the size limit (413) and an internal
#: error (500).
COMMON_ERRORS = ("request.invalid", "request.too_large", "internal")

#: What a session-protected route may answer about the caller's session.
SESSION_ERRORS = (
    "session.missing",
    "session.invalid",
    "session.expired",
    "session.user_inactive",
    "auth.user_disabled",
    "corp.inactive",
)


class WebError(Exception):
    """A failure with a stable ``code`` (a key of :data:`ERRORS`); ``status`` and the message
    default from the table."""

    def __init__(self, code: str, message: str | None = None, **extra: Any) -> None:
        status, default = ERRORS[code]
        self.code = code
        self.status = status
        self.message = message or default
        self.extra = extra
        super().__init__(f"{code}: {self.message}")

    def body(self) -> dict[str, Any]:
        """The JSON body: ``{"error": {"code", "message", …extra}}``."""
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


#: The error body's OpenAPI shape, for ``responses=`` in the routers.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}


def responses(*codes: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that may fail with ``codes``."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        status, _ = ERRORS[code]
        entry = out.setdefault(
            status,
            {"description": "", "content": {"application/json": {"schema": ERROR_SCHEMA}}},
        )
        entry["description"] = ", ".join(filter(None, [entry["description"], code]))
    return out
