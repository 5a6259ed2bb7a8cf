"""What every sandbox mutation endpoint (``POST /sandbox/mutate/<area>/<kind>``) shares: reading
and validating the body, and DingTalk-like error answers.

Statuses, the same in every area (contacts, approvals, attendance punches, roles):

- **400** ``{"errcode": 400002, "errmsg": "无效的参数: …", "error": …}`` — the body is not a JSON
  object (an empty body counts as ``{}``), names a field the kind does not take, or a field has
  the wrong type or value (:class:`BadMutation`);
- **404** ``{"errcode", "errmsg", "error"}`` with DingTalk's code for the unknown id — ``60121``
  user, ``60003`` department, ``33011`` role, ``820005`` approval instance, ``830001`` approval
  template (:class:`UnknownEntity`);
- **409** ``{"errcode", "errmsg", "error"}`` — the mutation cannot apply to that entity in its
  current state, e.g. ``rejoin`` of someone employed, approving a finished instance
  (:class:`MutationConflict`; ``errcode`` ``400002``, or ``820005`` 审批单状态异常 for approvals).

``error`` repeats the reason in English for people reading test output.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError
from pydantic import StringConstraints as _Str
from starlette.requests import Request
from starlette.responses import JSONResponse

ERR_PARAM = 400002
ERR_PARAM_MSG = "无效的参数"

#: A DingTalk userid: a non-empty string (surrounding blanks removed), at most 64 characters.
UserId = Annotated[StrictStr, _Str(strip_whitespace=True, min_length=1, max_length=64)]
#: A department id: a positive JSON integer (not a string, float or boolean).
DeptId = Annotated[StrictInt, Field(gt=0)]
#: A name or title: a non-empty string (surrounding blanks removed), at most 64 characters.
Name = Annotated[StrictStr, _Str(strip_whitespace=True, min_length=1, max_length=64)]
#: Free text (a remark): a string of at most 2,000 characters.
Text = Annotated[StrictStr, _Str(max_length=2000)]
#: An opaque id such as a process code or instance id: a non-empty string.
Code = Annotated[StrictStr, _Str(strip_whitespace=True, min_length=1, max_length=128)]


class MutationBody(BaseModel):
    """Base of the per-kind body models: unknown fields are refused (a typo must not turn into
    a random change)."""

    model_config = ConfigDict(extra="forbid")


class MutationError(Exception):
    """An answer other than 200: ``status``, DingTalk-like ``errcode``/``errmsg``, and the
    English ``message``."""

    status = 400

    def __init__(self, message: str, errcode: int = ERR_PARAM, errmsg: str | None = None):
        super().__init__(message)
        self.message = message
        self.errcode = errcode
        self.errmsg = errmsg if errmsg is not None else f"{ERR_PARAM_MSG}: {message}"

    def __str__(self) -> str:
        return self.message

    def response(self) -> JSONResponse:
        """The JSON answer ``{"errcode", "errmsg", "error"}`` with :attr:`status`."""
        return JSONResponse(
            {"errcode": self.errcode, "errmsg": self.errmsg, "error": self.message},
            status_code=self.status,
        )


class BadMutation(MutationError, ValueError):
    """400: a malformed body or field (``errcode`` 400002)."""

    status = 400


class UnknownEntity(MutationError, KeyError):
    """404: an id the company does not have (``errcode`` the entity's DingTalk code)."""

    status = 404

    def __init__(self, name: str, value: Any, errcode: int, errmsg: str) -> None:
        super().__init__(f"unknown {name} {value!r}", errcode, errmsg)
        self.name = name


class MutationConflict(MutationError, ValueError):
    """409: the mutation cannot apply to that entity in its current state."""

    status = 409


#: The 404 of an unknown id, by the kind of id: (errcode, errmsg).
UNKNOWN_CODES: dict[str, tuple[int, str]] = {
    "user": (60121, "找不到该用户"),
    "department": (60003, "部门不存在"),
    "role": (33011, "无效的roleId"),
    "process_instance": (820005, "审批实例不存在"),
    "process_code": (830001, "审批模板不存在"),
}


def unknown(kind: str, name: str, value: Any) -> UnknownEntity:
    """The :class:`UnknownEntity` for an unknown ``value`` of field ``name``; ``kind`` is a key
    of :data:`UNKNOWN_CODES` (``user``, ``department``, ``role``, ``process_instance``,
    ``process_code``)."""
    errcode, errmsg = UNKNOWN_CODES[kind]
    return UnknownEntity(name, value, errcode, errmsg)


async def read_body(request: Request) -> dict[str, Any]:
    """The request's JSON object; an empty body is ``{}``. :class:`BadMutation` for anything
    that is not a JSON object (invalid JSON, an array, a string …)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadMutation("the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise BadMutation(f"the body must be a JSON object, not {type(data).__name__}")
    return data


M = TypeVar("M", bound=BaseModel)


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        msg = str(err.get("msg", "invalid"))
        if err.get("type") == "extra_forbidden":
            msg = "not a field of this mutation"
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


def validate(model: type[M], data: Any) -> M:
    """``model`` validated from ``data`` (a dict); :class:`BadMutation` naming each bad field
    otherwise."""
    if not isinstance(data, dict):
        raise BadMutation("the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadMutation(_describe(exc)) from None


def fields_of(body: BaseModel) -> dict[str, Any]:
    """The fields that were given (``None`` counts as absent)."""
    return body.model_dump(exclude_none=True)


__all__ = [
    "ERR_PARAM",
    "BadMutation",
    "Code",
    "DeptId",
    "MutationBody",
    "MutationConflict",
    "MutationError",
    "Name",
    "Text",
    "UnknownEntity",
    "UserId",
    "fields_of",
    "read_body",
    "unknown",
    "validate",
]
