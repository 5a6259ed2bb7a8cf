"""The exports follow the company's zone they are given (``Settings.tz``; the web service and the
CLI pass it): report days, the date range of a report export and the wall times written move
together when the zone is Asia/Tokyo instead of Asia/Shanghai — on real SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert

from dingsync.export import local
from dingsync.export.reports import day_start, export_reports
from dingsync.store import repo
from dingsync.store.schema_reports import reports
from dingsync.timeutil import SHANGHAI

TOKYO = ZoneInfo("Asia/Tokyo")
CORP = "ding_corp_zones"
#: 15:30 UTC on 2026-11-30: 23:30 on the 30th in Shanghai, 00:30 on 1 December in Tokyo.
LATE = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)


def test_day_start_and_wall_time_follow_the_zone() -> None:
    day = date(2026, 12, 1)
    assert day_start(day, SHANGHAI) == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert day_start(day, TOKYO) == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert local(LATE, SHANGHAI) == datetime(2026, 11, 30, 23, 30)
    assert local(LATE, TOKYO) == datetime(2026, 12, 1, 0, 30)
    assert local(None, TOKYO) is None


def _export(engine: Engine, path: Path, day: date, tz: ZoneInfo) -> list[dict[str, str]]:
    with engine.connect() as conn:
        export_reports(conn, CORP, "日报", day, day, path, "csv", tz=tz)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_report_export_days_and_times_follow_the_zone(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": CORP, "name": "时区公司"})
        conn.execute(
            insert(reports).values(
                corp_id=CORP,
                report_id="r-late",
                template_name="日报",
                creator_id="u1",
                create_time=LATE,
                modified_time=LATE,
            )
        )
    nov30, dec1 = date(2026, 11, 30), date(2026, 12, 1)
    out = tmp_path / "r.csv"
    assert [r["日志ID"] for r in _export(engine, out, nov30, SHANGHAI)] == ["r-late"]
    assert _export(engine, out, dec1, SHANGHAI) == []
    assert _export(engine, out, nov30, TOKYO) == []
    (row,) = _export(engine, out, dec1, TOKYO)
    assert (row["日志ID"], row["提交时间"]) == ("r-late", "2026-12-01 00:30:00")
