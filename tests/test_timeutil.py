"""The one time module: ms conversions, calendar days per zone, and the range splitters' edges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from dingsync import timeutil as tu
from dingsync.config import Settings

TOKYO = tu.zone("Asia/Tokyo")


def test_to_ms_refuses_naive_and_floors() -> None:
    with pytest.raises(ValueError, match="naive"):
        tu.to_ms(datetime(2026, 1, 1))
    assert tu.to_ms(datetime(1970, 1, 1, 0, 0, 0, 1999, tzinfo=UTC)) == 1
    assert tu.to_ms(datetime(2026, 1, 1, 8, tzinfo=timezone(timedelta(hours=8)))) == (
        tu.to_ms(datetime(2026, 1, 1, tzinfo=UTC))
    )


def test_from_ms_round_trips_and_accepts_numeric_strings() -> None:
    ms = 1_767_225_600_123
    assert tu.to_ms(tu.from_ms(ms)) == ms
    assert tu.from_ms(str(ms)) == tu.from_ms(ms)
    assert tu.from_ms(ms).tzinfo is UTC
    with pytest.raises(TypeError):
        tu.from_ms(True)


def test_calendar_days_follow_the_zone() -> None:
    # 2026-01-01 15:30 UTC is 23:30 in Shanghai and 00:30 on the 2nd in Tokyo.
    ms = tu.to_ms(datetime(2026, 1, 1, 15, 30, tzinfo=UTC))
    assert tu.local_date(ms) == date(2026, 1, 1)
    assert tu.local_date(ms, TOKYO) == date(2026, 1, 2)
    start = tu.day_start_ms(date(2026, 1, 1))
    assert tu.day_end_ms(date(2026, 1, 1)) == start + tu.DAY_MS - 1
    assert tu.midnight_ms(ms) == start
    assert tu.day_start_ms(date(2026, 1, 2), TOKYO) == start + 3_600_000 * 23
    assert tu.day_window_ms(date(2026, 1, 1), date(2026, 1, 2)) == (
        start,
        start + 2 * tu.DAY_MS - 1,
    )


def test_wire_strings_are_gmt8() -> None:
    ms = tu.parse_local("2026-01-05 09:00:00")
    assert tu.format_ms(ms) == "2026-01-05 09:00:00"
    assert tu.from_ms(ms) == datetime(2026, 1, 5, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        tu.parse_local("2026-01-05")


def test_split_ms_edges() -> None:
    assert tu.split_ms(0, 9, 4) == [(0, 3), (4, 7), (8, 9)]
    assert tu.split_ms(0, 7, 4) == [(0, 3), (4, 7)]
    assert tu.split_ms(5, 5, 4) == [(5, 5)]
    assert tu.split_ms(6, 5, 4) == []
    with pytest.raises(ValueError):
        tu.split_ms(0, 1, 0)


@pytest.mark.parametrize("span", [1, 2, 3, 7, 10])
def test_split_ms_covers_every_instant_once(span: int) -> None:
    windows = tu.split_ms(3, 40, span)
    covered = [ms for s, e in windows for ms in range(s, e + 1)]
    assert covered == list(range(3, 41))
    assert all(e - s < span for s, e in windows)


def test_split_dates_edges() -> None:
    d = date(2026, 1, 1)
    assert tu.split_dates(d, d + timedelta(days=9), 7) == [
        (d, d + timedelta(days=6)),
        (d + timedelta(days=7), d + timedelta(days=9)),
    ]
    assert tu.split_dates(d, d - timedelta(days=1), 7) == []
    with pytest.raises(ValueError):
        tu.split_dates(d, d, 0)


def test_split_datetimes_matches_split_ms() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    windows = tu.split_datetimes(start, start + timedelta(days=300), timedelta(days=120))
    assert len(windows) == 3
    assert windows[1][0] - windows[0][1] == timedelta(milliseconds=1)
    assert windows[-1][1] == start + timedelta(days=300)


def test_zone_and_settings() -> None:
    assert tu.zone(None) is tu.SHANGHAI
    with pytest.raises(ValueError, match="unknown timezone"):
        tu.zone("Mars/Olympus")
    assert Settings(DINGSYNC_TIMEZONE="Asia/Tokyo").tz == TOKYO
    with pytest.raises(ValueError):
        Settings(DINGSYNC_TIMEZONE="Mars/Olympus")
