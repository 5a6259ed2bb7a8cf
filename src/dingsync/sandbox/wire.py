"""DingTalk's wire conventions for the sandbox: envelopes, headers, errors, lenient parameters.

Old family (``oapi``): HTTP 200 with ``errcode``; ``request_id`` on ``/topapi`` only;
``Content-Type`` ``application/json;charset=UTF-8`` on ``/topapi`` and ``application/json`` on
the archived paths. New family (``api``, ``/v1.0``): HTTP status with
``{code, requestid, message}`` on error and ``x-acs-request-id``/``x-acs-trace-id`` headers,
``application/json;charset=utf-8``. Every answer says ``Server: DingTalk/1.0.0``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import orjson
from starlette.responses import Response

Family = Literal["topapi", "oapi", "api"]

SERVER = "DingTalk/1.0.0"
CONTENT_TYPES: dict[str, str] = {
    "topapi": "application/json;charset=UTF-8",
    "oapi": "application/json",
    "api": "application/json;charset=utf-8",
}

_INT_TEXT = re.compile(r"^\s*[-+]?\d+\s*$")


class PlainJSON(dict):  # type: ignore[type-arg]
    """An answer body whose every value, at any depth, is a ``str``, an ``int``, a ``bool``,
    ``None``, a plain float (:func:`plain_rows`), or a list or ``str``-keyed dict of those.
    :func:`dumps` encodes it with orjson, whose text is then byte for byte ``json.dumps``'s
    (compact, ``ensure_ascii`` off, the same escapes) at a tenth of the CPU. Floats are what
    the two may write differently: ``json.dumps`` writes ``repr``'s exponent form below 1e-4
    and from 1e16 on (``1e-05`` against orjson's ``0.00001``) and ``NaN``/``Infinity`` (orjson:
    ``null``); between them both write ``repr``'s shortest digits (2.4 M random floats of every
    magnitude compared, none differed). A handler marks a body only when it checked its rows
    (:func:`plain_rows`)."""


#: The classes a :class:`PlainJSON` row's values may have (floats: see :func:`plain_rows`).
PLAIN_LEAVES = frozenset({str, int, bool, float, type(None)})


def plain_rows(rows: list[dict[str, Any]]) -> bool:
    """True when ``rows`` may go into a :class:`PlainJSON` body: flat dicts with ``str`` keys
    whose values are ``str``, ``int``, ``bool``, ``None`` or a float that is zero or finite
    with 1e-4 ≤ |x| < 1e16 (``NaN`` fails every comparison)."""
    leaves: set[type] = set()
    keys: set[type] = set()
    for row in rows:
        if row.__class__ is not dict:
            return False
        leaves.update(map(type, row.values()))
        keys.update(map(type, row))
    if not (leaves <= PLAIN_LEAVES and keys <= {str}):
        return False
    if float in leaves:
        for row in rows:
            for value in row.values():
                if value.__class__ is float and not (value == 0.0 or 1e-4 <= abs(value) < 1e16):
                    return False
    return True


def dumps(body: Any) -> bytes:
    """Compact UTF-8 JSON with Chinese kept as is (orjson for a :class:`PlainJSON` body, unless
    it refuses a value — an int beyond 64 bits —; ``json.dumps`` otherwise)."""
    if body.__class__ is PlainJSON:
        try:
            return orjson.dumps(body)
        except orjson.JSONEncodeError:
            pass
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class OapiError(Exception):
    """An old-family error: ``{"errcode": N, "errmsg": …}`` (HTTP 200).

    With ``sub_code`` it renders DingTalk's 88 wrapper: ``{"errcode":88,"sub_code":"40014",
    "sub_msg":…,"errmsg":"ding talk error[subcode=…,submsg=…]"}``.
    ``extra`` adds top-level fields (e.g. ``success: false``).
    """

    def __init__(
        self,
        errcode: int,
        errmsg: str,
        *,
        sub_code: str | None = None,
        sub_msg: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.sub_code = sub_code
        self.sub_msg = sub_msg
        self.extra = extra or {}

    @classmethod
    def wrapped(cls, sub_code: int | str, sub_msg: str) -> OapiError:
        """The errcode-88 wrapper around a real code (a String ``sub_code``)."""
        return cls(
            88,
            f"ding talk error[subcode={sub_code},submsg={sub_msg}]",
            sub_code=str(sub_code),
            sub_msg=sub_msg,
        )

    def body(self) -> dict[str, Any]:
        """The JSON body (without ``request_id``)."""
        out: dict[str, Any] = {"errcode": self.errcode}
        if self.sub_code is not None:
            out["sub_code"] = self.sub_code
        if self.sub_msg is not None:
            out["sub_msg"] = self.sub_msg
        out["errmsg"] = self.errmsg
        out.update(self.extra)
        return out


class ApiError(Exception):
    """A new-family error: HTTP ``status`` with ``{code, requestid, message}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message


def oapi_response(body: dict[str, Any], family: Family, request_id: str | None) -> Response:
    """An old-family answer (HTTP 200); ``request_id`` is added on ``/topapi``."""
    if family == "topapi" and request_id is not None:
        body = (
            {**body, "request_id": request_id}
            if body.__class__ is not PlainJSON
            else (PlainJSON(body, request_id=request_id))
        )
    return Response(
        dumps(body),
        headers={"Server": SERVER, "Content-Type": CONTENT_TYPES[family]},
    )


def api_response(body: Any, request_id: str, status: int = 200) -> Response:
    """A new-family answer with the ``x-acs-*`` headers."""
    return Response(
        dumps(body),
        status_code=status,
        headers={
            "Server": SERVER,
            "Content-Type": CONTENT_TYPES["api"],
            "x-acs-request-id": request_id,
            "x-acs-trace-id": request_id.replace("-", "").lower()[:30],
        },
    )


def api_error_response(err: ApiError, request_id: str) -> Response:
    """The new-family error body ``{code, requestid, message}`` with its status."""
    body = {"code": err.code, "requestid": request_id, "message": err.message}
    return api_response(body, request_id, err.status)


def gateway_error_response(status: int) -> Response:
    """An HTML gateway error page (what a 502/503 from DingTalk's front end looks like)."""
    reason = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}.get(
        status, "Error"
    )
    html = (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>Tengine</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    return Response(
        html.encode(),
        status_code=status,
        headers={"Server": "Tengine", "Content-Type": "text/html"},
    )


#: errcodes whose errmsg names the parameter itself (errors-and-limits.md §2). Old-family errmsg
#: texts are Chinese throughout (EB-26); clients must match on numbers only.
_FIXED_MESSAGES = {40068: "无效的偏移量", 40069: "无效的size"}


class Params:
    """Lenient reading of old-family parameters, as DingTalk's gateway reads them.

    Values may come from JSON (typed) or a form body / query string (all strings): numbers
    as ``"100"``, booleans as ``"true"``, lists as JSON text ``"[1,2]"`` or comma-separated
    text. ``missing`` and ``invalid`` are the errcodes this API answers for a missing or
    malformed parameter.
    """

    def __init__(
        self, data: dict[str, Any], *, missing: int = 400002, invalid: int = 400002
    ) -> None:
        self.data = data
        self.missing = missing
        self.invalid = invalid

    def _raw(self, name: str, required: bool, code: int | None) -> Any:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise OapiError(code or self.missing, f"缺少参数 {name}")
            return None
        return value

    def bad(self, name: str, code: int | None = None, detail: str = "") -> OapiError:
        """The error for a malformed ``name`` (errmsg as DingTalk's table words it)."""
        errcode = code or self.invalid
        if errcode in _FIXED_MESSAGES:
            return OapiError(errcode, _FIXED_MESSAGES[errcode])
        msg = "不合法的参数" if errcode == 40035 else "无效的参数"
        return OapiError(errcode, f"{msg}: {name}{detail}")

    def text(
        self,
        name: str,
        *,
        required: bool = False,
        max_len: int | None = None,
        code: int | None = None,
    ) -> str | None:
        """A string parameter (numbers are turned into text)."""
        value = self._raw(name, required, code)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.bad(name, code)
        text = str(value)
        if max_len is not None and len(text) > max_len:
            raise self.bad(name, code, f" 长度不能超过{max_len}")
        return text

    def integer(
        self,
        name: str,
        *,
        required: bool = False,
        lo: int | None = None,
        hi: int | None = None,
        code: int | None = None,
        default: int | None = None,
    ) -> int | None:
        """An integer parameter (JSON number or numeric string) within ``lo..hi``."""
        value = self._raw(name, required, code)
        if value is None:
            return default
        if isinstance(value, bool):
            raise self.bad(name, code)
        if isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and _INT_TEXT.match(value):
            number = int(value)
        else:
            raise self.bad(name, code)
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise self.bad(name, code)
        return number

    def boolean(
        self,
        name: str,
        *,
        required: bool = False,
        code: int | None = None,
        default: bool | None = None,
    ) -> bool | None:
        """A boolean parameter: JSON true/false, ``"true"``/``"false"``, 1/0."""
        value = self._raw(name, required, code)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            return value.strip().lower() in ("true", "1")
        raise self.bad(name, code)

    def text_list(
        self, name: str, *, required: bool = False, code: int | None = None
    ) -> list[str] | None:
        """A list of strings: JSON array, JSON-text array, or comma-separated text."""
        value = self._raw(name, required, code)
        if value is None:
            return None
        if isinstance(value, str):
            stripped = value.strip()
            if stripped.startswith("["):
                try:
                    value = json.loads(stripped)
                except ValueError:
                    raise self.bad(name, code) from None
            else:
                return [part.strip() for part in stripped.split(",") if part.strip()]
        if not isinstance(value, list) or any(isinstance(v, bool | dict | list) for v in value):
            raise self.bad(name, code)
        return [str(v) for v in value]
