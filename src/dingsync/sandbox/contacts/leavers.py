"""Handlers of people who left: the v1.0 leave records (ISO-8601 window, DingTalk's token cursor)
and the HRM dimission queries.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from dingsync.sandbox.call import Call
from dingsync.sandbox.wire import ApiError, OapiError
from dingsync.timeutil import (
    DAY_MS,
    format_ms,
    to_ms,
)


def _iso_utc(ms: int) -> str:
    return format_ms(ms, tz=UTC, fmt="%Y-%m-%dT%H:%M:%SZ")


_ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:?\d{2})?$"
)


def _parse_iso(text: str) -> int:
    """ISO-8601 date *and* time → epoch ms (``2021-01-06T11:47:37Z``, with or without
    seconds/offset; no offset = UTC). A bare date (``2026-01-01``) or other text is
    ``ValueError``."""
    value = text.strip()
    if not _ISO_DATETIME.match(value):
        raise ValueError(f"not an ISO-8601 date-time: {text!r}")
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return to_ms(parsed)


_TOKEN_KEY = 0x5DEECE66D


def _encode_token(offset: int) -> str:
    return f"{offset ^ _TOKEN_KEY:016X}"


def _decode_token(token: str) -> int | None:
    if token == "0":
        return 0
    try:
        offset = int(token, 16) ^ _TOKEN_KEY
    except ValueError:
        return None
    return offset if 0 <= offset < 10**7 else None


def emp_leave_records(call: Call) -> dict[str, Any]:
    """``GET /v1.0/contact/empLeaveRecords?startTime=&endTime=&nextToken=&maxResults=``
    (``maxResults`` ≤ 50, span ≤ 365 days; without ``endTime`` the start must lie within
    the last 365 days). Oldest first; ``nextToken`` is absent on the last page."""
    q = call.query
    now_ms = call.state.clock.now_ms()

    def invalid(what: str) -> ApiError:
        return ApiError(400, "invalidParameter.param.invalid", f"参数错误: {what}")

    try:
        start = _parse_iso(q["startTime"]) if q.get("startTime") else None
        end = _parse_iso(q["endTime"]) if q.get("endTime") else None
    except ValueError:
        raise invalid("startTime/endTime 格式应为 yyyy-MM-ddTHH:mm:ssZ") from None
    if start is None:
        raise ApiError(400, "MissingstartTime", "startTime is mandatory for this action.")
    max_text = q.get("maxResults")
    if not max_text:
        raise ApiError(400, "MissingmaxResults", "maxResults is mandatory for this action.")
    if not max_text.isdigit() or not 1 <= int(max_text) <= 50:
        raise invalid("maxResults 取值范围 1~50")
    max_results = int(max_text)
    if end is None:
        if start < now_ms - 365 * DAY_MS:
            raise invalid("startTime 不能早于365天前")
        end = now_ms
    if end < start or end - start > 365 * DAY_MS:
        raise invalid("时间跨度不能超过365天")
    offset = _decode_token(q.get("nextToken") or "0")
    if offset is None:
        raise ApiError(400, "invalidParameter.cursor.invalid", "无效的nextToken")
    leavers = call.state.leavers_between(start, end)
    page = leavers[offset : offset + max_results]
    body: dict[str, Any] = {
        "records": [
            {
                "userId": lv.userid,
                "name": lv.name,
                "stateCode": lv.state_code,
                "mobile": lv.mobile,
                "leaveTime": _iso_utc(lv.leave_time),
                "leaveReason": lv.leave_reason,
            }
            for lv in page
        ]
    }
    if offset + max_results < len(leavers):
        body = {"nextToken": _encode_token(offset + max_results), **body}
    return body


def querydimission(call: Call) -> dict[str, Any]:
    """``POST /topapi/smartwork/hrm/employee/querydimission {offset, size ≤ 50}`` — leaver
    userids, most recent first; ``next_cursor`` absent on the last page. A malformed or
    negative ``offset`` is ``40068`` 无效的偏移量 like the other contacts APIs (EB-39); a
    missing one ``400002``."""
    p = call.params
    if p.data.get("offset") in (None, ""):
        raise OapiError(p.missing, "缺少参数 offset")
    offset = p.integer("offset", required=True, lo=0, code=40068)
    size = p.integer("size", required=True, lo=1, hi=50)
    assert offset is not None and size is not None
    newest_first = call.state.index.leavers_newest_first
    total = len(newest_first)
    page = [lv.userid for lv in newest_first[offset : offset + size]]
    result: dict[str, Any] = {"data_list": page}
    if offset + size < total:
        result["next_cursor"] = offset + size
    return {"result": result, "success": True}


def listdimission(call: Call) -> dict[str, Any]:
    """``POST /topapi/smartwork/hrm/employee/listdimission {userid_list}`` (≤ 50,
    comma-separated); people who did not leave are left out."""
    userids = call.params.text_list("userid_list", required=True)
    assert userids is not None
    if len(userids) > 50:
        raise call.params.bad("userid_list", detail=" 最多50个")
    leavers = call.state.company.leavers
    result = []
    for uid in userids:
        lv = leavers.get(uid)
        if lv is None:
            continue
        item: dict[str, Any] = {
            "userid": lv.userid,
            "last_work_day": lv.last_work_day,
            "dept_list": [{"dept_id": d.dept_id, "dept_path": d.dept_path} for d in lv.dept_list],
            "reason_memo": lv.reason_memo,
            "reason_type": lv.reason_type,
            "pre_status": lv.pre_status,
            "status": lv.status,
            "main_dept_name": lv.main_dept_name,
            "main_dept_id": lv.main_dept_id,
        }
        if lv.handover_userid:
            item["handover_userid"] = lv.handover_userid
        result.append(item)
    return {"result": result, "success": True}
