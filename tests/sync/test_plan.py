"""The incremental shape's pure parts: plans from a watermark and a clock, the watermark shapes
(new and old), and entities built from Settings (no module of sync/ reads the environment)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from dingsync import timeutil
from dingsync.config import Settings
from dingsync.sync.approvals import ApprovalsSync
from dingsync.sync.attendance import AttendanceSync
from dingsync.sync.incremental import Plan, read_watermark
from dingsync.sync.reports import ReportsSync

SH = timeutil.SHANGHAI
TOKYO = timeutil.zone("Asia/Tokyo")
#: 2026-03-10 23:30 in Shanghai = 2026-03-11 00:30 in Tokyo.
LATE = timeutil.day_start_ms(date(2026, 3, 10), SH) + 23 * 3_600_000 + 30 * 60_000


def test_attendance_plan_follows_the_zone_and_the_watermark() -> None:
    entity = AttendanceSync(days=7, recent_days=3)
    full = entity.make_plan("full", None, LATE, SH)
    assert (full.mode, full.start, full.end) == ("full", date(2026, 3, 3), date(2026, 3, 9))
    tokyo = entity.make_plan("full", None, LATE, TOKYO)
    assert tokyo.end == date(2026, 3, 10)  # already the 11th in Tokyo
    inc = entity.make_plan("incremental", {"cursor": "2026-03-08"}, LATE, SH)
    assert (inc.mode, inc.start, inc.end) == ("incremental", date(2026, 3, 6), date(2026, 3, 9))
    legacy = entity.make_plan("incremental", {"end": "2026-03-08", "last_run_start": "x"}, LATE, SH)
    assert legacy == inc  # the old shape is still read
    first = entity.make_plan("incremental", None, LATE, SH)
    assert first.mode == "full"  # no watermark yet: a full run
    old = entity.make_plan("incremental", {"cursor": "2025-01-01"}, LATE, SH)
    assert old.start == date(2026, 3, 9) - timedelta(days=179)  # DingTalk's 180 days


def test_reports_and_approvals_plans() -> None:
    reports = ReportsSync(history_days=2, overlap_minutes=10)
    full = reports.make_plan("full", None, LATE, SH)
    assert full.start == timeutil.day_start_ms(date(2026, 3, 8), SH) and full.end == LATE
    assert reports.make_plan("full", None, LATE, TOKYO).start == timeutil.day_start_ms(
        date(2026, 3, 9), TOKYO
    )
    mark = LATE - 3_600_000
    inc = reports.make_plan("incremental", {"until_ms": mark}, LATE, SH)
    assert (inc.mode, inc.start, inc.watermark) == ("incremental", mark - 600_000, mark)
    approvals = ApprovalsSync(history_days=30)
    app = approvals.make_plan("incremental", {"listed_to_ms": mark}, LATE + 123, SH)
    assert app.end == LATE and app.start == mark - 30 * 60_000
    ancient = approvals.make_plan("incremental", {"cursor": 0}, LATE, SH)
    assert ancient.start == timeutil.day_start_ms(date(2026, 2, 8), SH)  # not before the history
    forced = ApprovalsSync(incremental=False).make_plan("incremental", {"cursor": mark}, LATE, SH)
    assert forced.mode == "full"


def test_plan_round_trips_and_watermark_shapes() -> None:
    plan = Plan("incremental", LATE, date(2026, 3, 1), date(2026, 3, 9), date(2026, 3, 8))
    assert Plan.from_json("date", plan.to_json()) == plan
    assert plan.dates == (date(2026, 3, 1), date(2026, 3, 9))
    assert read_watermark("ms", {"cursor": 5}) == 5
    assert read_watermark("ms", {"listed_to_ms": "7"}) == 7
    assert read_watermark("date", {"cursor": "bad"}) is None
    assert read_watermark("ms", 12) is None  # not a watermark of this shape


def test_entities_from_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no dingsync.toml
    monkeypatch.setenv("DINGSYNC_REPORTS_HISTORY_DAYS", "12")
    monkeypatch.setenv("DINGSYNC_REPORTS_DETAILS", "none")
    monkeypatch.setenv("DINGSYNC_REPORTS_DETAILS_DAYS", "2")
    monkeypatch.setenv("DINGSYNC_REPORTS_WINDOW_DAYS", "3")
    monkeypatch.setenv("DINGSYNC_REPORTS_OVERLAP_MINUTES", "5")
    monkeypatch.setenv("DINGSYNC_ATTENDANCE_DAYS", "31")
    monkeypatch.setenv("DINGSYNC_ATTENDANCE_RECENT_DAYS", "4")
    monkeypatch.setenv("DINGSYNC_ATTENDANCE_COLUMNS", "1")
    monkeypatch.setenv("DINGSYNC_APPROVALS_HISTORY_DAYS", "60")
    settings = Settings()
    reports = ReportsSync.from_settings(settings)
    assert (reports.history_days, reports.details, reports.details_days) == (12, "none", 2)
    assert (reports.window_days, reports.overlap) == (3, 5 * 60_000)
    attendance = AttendanceSync.from_settings(settings)
    assert (attendance.days, attendance.recent_days, attendance.columns) == (31, 4, True)
    assert ApprovalsSync.from_settings(settings).history_days == 60
    # The constructors never read the environment: defaults are the documented ones.
    assert ReportsSync().history_days == 30 and AttendanceSync().days == 7
    monkeypatch.setenv("DINGSYNC_REPORTS_DETAILS", "some")
    with pytest.raises(ValueError):
        Settings()


def test_no_sync_module_reads_the_environment() -> None:
    sync_src = Path(__file__).resolve().parents[2] / "src" / "dingsync" / "sync"
    readers = [p.name for p in sync_src.glob("*.py") if "os.environ" in p.read_text()]
    assert readers == []
