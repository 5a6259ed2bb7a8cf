"""What DingTalk answers for a path it does not know, per host."""

from __future__ import annotations

from typing import Any

from dingsync.sandbox.call import Call
from dingsync.sandbox.wire import ApiError, OapiError


def topapi_unknown(call: Call) -> dict[str, Any]:
    """Unknown ``/topapi`` path → errcode 22 naming ``dingtalk.oapi.<dotted path>``."""
    rest = call.request.url.path[len("/topapi/") :].strip("/")
    api_name = "dingtalk.oapi." + rest.replace("/", ".")
    sub_msg = f"不合法ApiName，ApiName = {api_name}"
    raise OapiError(22, f"Invalid method[submsg={sub_msg}]", extra={"sub_msg": sub_msg})


def oapi_unknown(call: Call) -> dict[str, Any]:
    """Unknown path on the old host outside ``/topapi`` → ``{"errcode":404,"errmsg":
    "请求的URI地址不存在"}`` (HTTP 200; e.g. ``/oauth2/corpAccessToken`` without ``/v1.0``,
    EB-91)."""
    raise OapiError(404, "请求的URI地址不存在")


def api_unknown(call: Call) -> dict[str, Any]:
    """Unknown ``/v1.0`` path → 404 ``InvalidAction.NotFound``."""
    raise ApiError(
        404,
        "InvalidAction.NotFound",
        "Specified api is not found, please check your url and method.",
    )
