"""The sandbox's reports follow its attendance calendar: no daily report (日报, 销售日报) is
written for a public holiday or a weekend of the attendance area's calendar — read over
loopback HTTP from ``/topapi/report/simplelist`` and ``/topapi/attendance/schedule/listbyusers``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dingsync.sandbox import SandboxServer
from dingsync.timeutil import DAY_MS, WIRE_TZ, day_start_ms, local_date

from .helpers import Ding

HALF_DAY_MS = DAY_MS // 2


async def _daily_periods(ding: Ding, tok: str, start: int, end: int) -> dict[str, int]:
    """``{period date: number of daily reports}`` created in ``[start, end]`` (a report counts
    for the Shanghai date of ``create_time − 12 h``)."""
    periods: dict[str, int] = {}
    for template in ("日报", "销售日报"):
        cursor = 0
        while True:
            body: dict[str, Any] = {"start_time": start, "end_time": end, "size": 20}
            body.update(cursor=cursor, template_name=template)
            page = (await ding.ok("/topapi/report/simplelist", body, token=tok))["result"]
            for r in page["data_list"]:
                day = local_date(r["create_time"] - HALF_DAY_MS, WIRE_TZ).isoformat()
                periods[day] = periods.get(day, 0) + 1
            if not page["has_more"]:
                break
            cursor = page["next_cursor"]
    return periods


async def test_no_daily_report_on_the_attendance_calendars_holiday(
    ding: Ding, sb: SandboxServer
) -> None:
    holidays = sb.state.areas["attendance"].world.holidays
    assert holidays, "the generated calendar has a public holiday"
    holiday = holidays[0]
    tok = await ding.token()
    # the attendance area schedules it as a rest day for everyone
    someone = next(iter(sb.state.areas["attendance"].world.by_user))
    admin = next(u for u, level in sb.company.admins.items() if level == 1)
    schedule = await ding.ok(
        "/topapi/attendance/schedule/listbyusers",
        {
            "op_user_id": admin,
            "userids": someone,
            "from_date_time": day_start_ms(holiday, WIRE_TZ),
            "to_date_time": day_start_ms(holiday, WIRE_TZ) + HALF_DAY_MS,
        },
        token=tok,
    )
    assert {row["is_rest"] for row in schedule["result"]} == {"Y"}

    day_before = holiday - timedelta(days=1)  # a Tuesday: a working day
    start = day_start_ms(day_before, WIRE_TZ) + HALF_DAY_MS
    end = day_start_ms(holiday + timedelta(days=1), WIRE_TZ) + HALF_DAY_MS
    periods = await _daily_periods(ding, tok, start, end)
    assert periods.get(day_before.isoformat(), 0) > 10  # people write on working days
    assert holiday.isoformat() not in periods


async def test_daily_reports_only_on_working_days_of_the_calendar(sb: SandboxServer) -> None:
    world = sb.state.areas["reports"].world
    holidays = set(sb.state.areas["attendance"].world.holidays)
    daily = [r for r in world.reports if not world.templates[r.template].weekly]
    assert daily
    days = {local_date(r.create_time - HALF_DAY_MS, WIRE_TZ) for r in daily}
    assert not {d for d in days if d.weekday() >= 5 or d in holidays}
