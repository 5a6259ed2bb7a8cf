"""Attendance events name work dates in the company's zone, the same days the attendance sync
stores (``Settings.tz``), so an event refresh and a sync never disagree about a day."""

from __future__ import annotations

from datetime import date

from dingsync import timeutil
from dingsync.dingtalk.models.events import Event
from dingsync.sync.attendance import work_date_of
from dingsync.sync.events import _attendance_spans

TOKYO = timeutil.zone("Asia/Tokyo")
#: 2026-01-01 23:30 in Shanghai = 2026-01-02 00:30 in Tokyo.
LATE_PUNCH_MS = timeutil.parse_local("2026-01-01 23:30:00")


def _check_event(check_time_ms: int) -> Event:
    return Event(
        event_id="e-1",
        event_type="attendance_check_record",
        corp_id="ding-corp",
        event_time_ms=check_time_ms,
        data={"DataList": [{"userId": "u1", "checkTime": check_time_ms}]},
    )


def test_punch_event_days_follow_the_company_zone() -> None:
    event = _check_event(LATE_PUNCH_MS)
    # A punch may close the previous work date (night shift): both days are refreshed.
    assert _attendance_spans(event) == [("u1", date(2025, 12, 31), date(2026, 1, 1))]
    assert _attendance_spans(event, TOKYO) == [("u1", date(2026, 1, 1), date(2026, 1, 2))]


def test_event_work_date_equals_the_syncs_work_date() -> None:
    for tz in (timeutil.SHANGHAI, TOKYO):
        event = Event(
            event_id="e-2",
            event_type="attendance_check_record",
            corp_id="ding-corp",
            event_time_ms=LATE_PUNCH_MS,
            data={"DataList": [{"userId": "u1", "workDate": LATE_PUNCH_MS}]},
        )
        [(_, first, last)] = _attendance_spans(event, tz)
        assert first == last == work_date_of(LATE_PUNCH_MS, tz)
