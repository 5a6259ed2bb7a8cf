"""Attendance on the wire: the rows the handlers answer (results, punch records, classes) and
the date parameters they read (``yyyy-MM-dd HH:mm:ss`` in GMT+8, epoch ms).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from dingsync.sandbox.attendance.limits import ERR_DATE
from dingsync.sandbox.attendance.world import (
    MACHINE_NAME,
    MACHINE_SN,
    CheckPoint,
    InvalidPunch,
    PersonDay,
    Punch,
    ShiftClass,
    date_ms,
)
from dingsync.sandbox.wire import OapiError
from dingsync.timeutil import WIRE_FORMAT, parse_local


def result_rows(corp_id: str, day: PersonDay) -> list[dict[str, Any]]:
    """The ``/attendance/list`` rows of a person-day (cached on the day)."""
    if day._rows is None:
        rows = []
        for p in day.points:
            row: dict[str, Any] = {
                "checkType": p.check_type,
                "corpId": corp_id,
                "locationResult": p.location_result,
                "baseCheckTime": p.base_ms,
                "groupId": day.group.group_id,
                "timeResult": p.time_result,
                "userId": day.userid,
                "workDate": date_ms(day.work_date),
                "sourceType": p.wire_source,
                "userCheckTime": p.user_ms if p.user_ms is not None else p.base_ms,
                "planId": p.plan_id,
                "id": p.result_id,
            }
            if p.record_id is not None:
                row["recordId"] = p.record_id
            if p.approve_id is not None:
                row["approveId"] = p.approve_id
                row["procInstId"] = p.proc_inst_id
            rows.append(row)
        day._rows = rows
    return day._rows


def punch_place(location_result: str) -> tuple[str, float, float]:
    """``(address, latitude, longitude)`` the sandbox gives a punch with ``location_result``
    (``Outside`` is a customer's site a few km away)."""
    if location_result == "Outside":
        return "浙江省杭州市余杭区", 30.385413, 120.117139
    return "浙江省杭州市", 30.285413, 120.017139


def record_row(corp_id: str, day: PersonDay, item: Punch) -> dict[str, Any]:
    shift = day.group.shift
    if isinstance(item, InvalidPunch):
        return {
            "gmtModified": item.user_ms,
            "userAccuracy": 65,
            "workDate": date_ms(day.work_date),
            "id": item.record_id,
            "invalidRecordType": "Other",
            "corpId": corp_id,
            "userLongitude": 120.017019,
            "gmtCreate": item.user_ms,
            "invalidRecordMsg": item.message,
            "userId": day.userid,
            "userAddress": "浙江省杭州市",
            "userLatitude": 30.285622,
            "sourceType": "USER",
            "userCheckTime": item.user_ms,
            "locationMethod": "MAP",
            "isLegal": "N",
        }
    outside = item.location_result == "Outside"
    address, latitude, longitude = punch_place(item.location_result)
    if isinstance(item, CheckPoint) and item.make_up:
        return {
            "gmtModified": item.user_ms,
            "baseCheckTime": item.base_ms,
            "groupId": day.group.group_id,
            "timeResult": item.time_result,
            "classId": shift.class_id,
            "workDate": date_ms(day.work_date),
            "planId": item.plan_id,
            "id": item.record_id,
            "checkType": item.check_type,
            "planCheckTime": item.base_ms,
            "corpId": corp_id,
            "locationResult": item.location_result,
            "isLegal": "Y",
            "gmtCreate": item.user_ms,
            "userId": day.userid,
            "sourceType": "APPROVE",
            "userCheckTime": item.user_ms,
            "approveId": item.approve_id,
            "procInstId": item.proc_inst_id,
        }
    row: dict[str, Any] = {"gmtModified": item.user_ms}
    if isinstance(item, CheckPoint):
        row["baseCheckTime"] = item.base_ms
    row["groupId"] = day.group.group_id
    row["timeResult"] = item.time_result if isinstance(item, CheckPoint) else "Normal"
    row["userAccuracy"] = 65 if not outside else 120
    if isinstance(item, CheckPoint):
        row["classId"] = shift.class_id
    row["workDate"] = date_ms(day.work_date)
    if isinstance(item, CheckPoint):
        row["planId"] = item.plan_id
    row["id"] = item.record_id
    row["checkType"] = item.check_type
    if isinstance(item, CheckPoint):
        row["planCheckTime"] = item.base_ms
    row.update(
        {
            "corpId": corp_id,
            "locationResult": item.location_result,
            "userLongitude": longitude,
            "isLegal": "Y",
            "gmtCreate": item.user_ms,
            "userId": day.userid,
            "userAddress": address,
            "userLatitude": latitude,
            "sourceType": "USER",
            "userCheckTime": item.user_ms,
            "locationMethod": item.location_method,
            "baseAddress": "浙江省杭州市",
        }
    )
    if item.machine:  # a time clock: its name as the address, no coordinates
        for key in ("userLongitude", "userLatitude", "userAccuracy"):
            del row[key]
        row.update(
            userAddress=MACHINE_NAME,
            sourceType="DING_ATM",
            locationMethod="ATM",
            deviceSN=MACHINE_SN,
            deviceId=MACHINE_SN,
        )
    if outside:
        row["outsideRemark"] = "拜访客户"
    if item.biz_id:
        row["bizId"] = item.biz_id
    if item.device_sn:
        row["deviceSN"] = item.device_sn
    return row


def class_json(shift: ShiftClass) -> dict[str, Any]:
    off = f"1970-01-01 {shift.off_minute // 60:02d}:{shift.off_minute % 60:02d}:00"
    on = f"1970-01-01 {shift.on_minute // 60:02d}:{shift.on_minute % 60:02d}:00"
    return {
        "class_id": shift.class_id,
        "class_name": shift.name,
        "sections": [
            {
                "times": [
                    {"across": 0, "check_time": on, "check_type": "OnDuty"},
                    {"across": shift.across, "check_time": off, "check_type": "OffDuty"},
                ]
            }
        ],
        "setting": {
            "absenteeism_late_minutes": -1,
            "class_setting_id": shift.class_setting_id,
            "is_off_duty_free_check": "N",
            "permit_late_minutes": shift.permit_late_minutes,
            "serious_late_minutes": shift.serious_late_minutes,
            "work_time_minutes": shift.work_minutes,
        },
    }


def parse_wire_date(params: Any, name: str) -> date:
    """A required ``yyyy-MM-dd HH:mm:ss`` (GMT+8) parameter's date part; 41100 otherwise."""
    value = params.data.get(name)
    if value is None or value == "":
        raise OapiError(ERR_DATE, f"时间参数不合法: 缺少{name}")
    try:
        return datetime.strptime(str(value), WIRE_FORMAT).date()
    except ValueError:
        raise OapiError(ERR_DATE, f"时间参数不合法: {name}") from None


def parse_day(params: Any, name: str) -> date:
    """A required date parameter, ``yyyy-MM-dd`` or ``yyyy-MM-dd HH:mm:ss`` (GMT+8; only the
    date part is used: getupdatedata's doc shows the first, its curl and SDK send the second,
    ``listschedule`` likewise); 41100 otherwise."""
    value = params.data.get(name)
    if value is None or value == "":
        raise OapiError(ERR_DATE, f"时间参数不合法: 缺少{name}")
    text = str(value).strip()
    for fmt in (WIRE_FORMAT, "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise OapiError(ERR_DATE, f"时间参数不合法: {name}")


def parse_wire_ms(params: Any, name: str) -> int:
    value = params.data.get(name)
    if value is None or value == "":
        raise OapiError(ERR_DATE, f"时间参数不合法: 缺少{name}")
    try:
        return parse_local(str(value))
    except ValueError:
        raise OapiError(ERR_DATE, f"时间参数不合法: {name}") from None


def dates_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]
