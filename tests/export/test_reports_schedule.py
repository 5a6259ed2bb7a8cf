"""Report compliance follows the person's synced attendance schedule (issue #12, rough edges):
a scheduled rest day is not due, a working weekend (调休) is, and days without a synced
schedule fall back to Monday–Friday. The compliance 日期 column is a real date: a date cell
in xlsx, ISO in csv. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
from sqlalchemy import Engine

from dingsync.export.reports import compliance, working_days, write_compliance
from dingsync.store import repo, repo_attendance, repo_reports
from dingsync.timeutil import SHANGHAI

CORP = "ding-corp-schedule"
ALICE, BOB = "u-alice", "u-bob"  # Alice's schedule is synced, Bob's is not
MON = date(2026, 11, 2)  # Monday; the week runs to Sunday 2026-11-08
SAT = MON + timedelta(days=5)


def _schedule(day: date, *, rest: bool) -> list[dict[str, object]]:
    return [
        {"userid": ALICE, "work_date": day, "check_type": check, "shift_id": 0 if rest else 7,
         "is_rest": rest}
        for check in ("OnDuty", "OffDuty")
    ]  # fmt: skip


def _seed(engine: Engine) -> None:
    """Alice: Monday a rest day, Tuesday and Saturday (调休) shifts, nothing synced for
    Wednesday–Friday or Sunday. Both wrote a 日报 on Tuesday evening (before, Monday's)."""
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": CORP, "name": "排班公司"})
        repo.upsert_users(
            conn,
            CORP,
            [
                {"userid": ALICE, "name": "爱丽丝", "status": "active"},
                {"userid": BOB, "name": "鲍勃", "status": "active"},
            ],
        )
        rows = [
            *_schedule(MON, rest=True),
            *_schedule(MON + timedelta(days=1), rest=False),
            *_schedule(SAT, rest=False),
        ]
        repo_attendance.replace_schedules(conn, CORP, [ALICE], MON, SAT, rows)
        evening = datetime(2026, 11, 3, 19, 0, tzinfo=SHANGHAI)
        repo_reports.upsert_reports(
            conn,
            CORP,
            [
                {"report_id": f"r-{u}", "template_name": "日报", "creator_id": u,
                 "creator_name": u, "create_time": evening, "modified_time": evening}
                for u in (ALICE, BOB)
            ],
        )  # fmt: skip


def test_working_days_follow_the_synced_schedule_else_monday_to_friday(engine: Engine) -> None:
    _seed(engine)
    week = MON + timedelta(days=6)
    weekdays = {MON + timedelta(days=n) for n in range(5)}
    with engine.connect() as conn:
        assert working_days(conn, CORP, ALICE, MON, week) == weekdays - {MON} | {SAT}
        assert working_days(conn, CORP, BOB, MON, week) == weekdays
        result = compliance(conn, CORP, "日报", MON, week, today=date(2026, 11, 20))
    statuses = result.statuses()
    assert statuses[ALICE] == {
        "2026-11-03": "submitted",
        "2026-11-04": "missing",
        "2026-11-05": "missing",
        "2026-11-06": "missing",
        "2026-11-07": "missing",  # the working Saturday is due
    }  # Monday, her rest day, is not
    assert statuses[BOB]["2026-11-02"] == "missing" and "2026-11-07" not in statuses[BOB]
    assert result.people[ALICE]["missing"] == 4 and result.people[BOB]["missing"] == 4
    # compliance reads only the days that differ from Monday–Friday, grouped in SQL: the
    # synced schedule without the days that agree with the default
    with engine.connect() as conn:
        full = repo_attendance.scheduled_days_of(conn, CORP, [ALICE, BOB], MON, week)
        off = repo_attendance.schedule_exceptions_of(conn, CORP, [ALICE, BOB], MON, week)
    assert off == {
        u: {d: w for d, w in days.items() if w != (d.weekday() < 5)} for u, days in full.items()
    }
    assert off == {ALICE: {MON: False, SAT: True}}


def test_compliance_dates_are_date_cells_in_xlsx_and_iso_in_csv(
    engine: Engine, tmp_path: Path
) -> None:
    _seed(engine)
    with engine.connect() as conn:
        result = compliance(conn, CORP, "日报", MON, SAT, today=date(2026, 11, 20))
    out = tmp_path / "c.xlsx"
    n = write_compliance(result, out, "xlsx")
    sheet = openpyxl.load_workbook(out)["明细"]
    assert [c.value for c in sheet[1]][3] == "日期"
    cells = [row[3] for row in sheet.iter_rows(min_row=2, max_row=n + 1)]
    assert len(cells) == n == len(result.days)
    assert all(c.is_date and c.number_format == "yyyy-mm-dd" for c in cells), cells
    assert [c.value.date() for c in cells] == [d.day for d in result.days]
    out_csv = tmp_path / "c.csv"
    write_compliance(result, out_csv, "csv")
    with out_csv.open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert [r[3] for r in rows[1:]] == [d.day.isoformat() for d in result.days]
