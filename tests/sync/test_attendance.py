"""Attendance sync over real HTTP into SQLite and PostgreSQL; the monthly summary against the
sandbox's truth; the cross-check; night shifts; incremental re-pulls; resuming; the CLI."""

from __future__ import annotations

import asyncio
import csv
import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from dingsync.cli import app as cli_app
from dingsync.export.attendance import METRICS, monthly_summary
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import db, repo, repo_attendance, repo_audit
from dingsync.store.schema import sync_checkpoints, sync_runs
from dingsync.store.schema_attendance import attendance_records, attendance_results
from dingsync.sync.attendance import AttendanceSync, end_work_date
from dingsync.sync.engine import run_sync
from dingsync.timeutil import WIRE_TZ
from helpers.attendance import DAYS, SEED, area_of, last_work_date, make_client, sync_all

#: Small enough to keep the syncs quick, large enough for every group and outcome.
USERS = 60


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=SEED, users=USERS, days=DAYS, qps_limit=None)) as sb:
        yield sb


def _assert_summary_matches_truth(sb: SandboxServer, engine: Engine) -> None:
    truth = sb.stats()["attendance"]["monthly"]
    corp = sb.app.corp_id
    assert truth
    with engine.connect() as conn:
        for month, people in truth.items():
            summary = monthly_summary(conn, corp, month)
            got = {r.userid: r.metrics for r in summary.rows}
            assert set(got) == set(people), month
            for userid, metrics in people.items():
                for m in METRICS:
                    assert got[userid][m] == pytest.approx(metrics[m]), (month, userid, m)
            assert summary.columns_synced
            assert summary.disagreements == []


def test_sync_stores_everything_and_summary_equals_truth(
    sandbox: SandboxServer, engine: Engine
) -> None:
    result = asyncio.run(sync_all(sandbox, engine, columns=True))
    assert result.status == "succeeded"
    stats = sandbox.stats()["attendance"]
    with engine.connect() as conn:
        counts = repo_attendance.count_summary(conn, sandbox.app.corp_id)
    assert counts["attendance_groups"] == stats["groups"]
    assert counts["attendance_group_members"] == stats["group_members"]
    assert counts["attendance_results"] == stats["results"]
    assert counts["attendance_records"] == stats["records"]
    assert counts["attendance_schedules"] == stats["schedules"]
    assert counts["attendance_leaves"] == stats["leaves"]
    _assert_summary_matches_truth(sandbox, engine)


@pytest.fixture(scope="module")
def synced(sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A SQLite database with the directory and the whole attendance history synced."""
    url = f"sqlite:///{tmp_path_factory.mktemp('att') / 'att.db'}"
    eng = db.create_engine_for(url)
    db.migrate(eng)
    asyncio.run(sync_all(sandbox, eng, columns=True))
    yield eng
    eng.dispose()


def test_night_shift_punch_after_midnight_belongs_to_the_previous_work_date(
    sandbox: SandboxServer, synced: Engine
) -> None:
    world = area_of(sandbox).world
    night = world.groups_by_id[600003]
    userid = night.members[0]
    first = next(d for d in sorted(world.by_user[userid]) if not world.by_user[userid][d].is_rest)
    punch = datetime.combine(first + timedelta(days=1), datetime.min.time(), WIRE_TZ) + timedelta(
        minutes=30
    )
    corp = sandbox.app.corp_id
    with synced.connect() as conn:
        row = (
            conn.execute(
                select(attendance_results).where(
                    attendance_results.c.corp_id == corp,
                    attendance_results.c.userid == userid,
                    attendance_results.c.check_type == "OnDuty",
                    attendance_results.c.user_check_time == punch.astimezone(UTC),
                )
            )
            .mappings()
            .one()
        )
        assert row["work_date"] == first and type(row["work_date"]) is date
        assert row["time_result"] == "SeriousLate"
        record = (
            conn.execute(
                select(attendance_records).where(
                    attendance_records.c.corp_id == corp,
                    attendance_records.c.userid == userid,
                    attendance_records.c.user_check_time == punch.astimezone(UTC),
                )
            )
            .mappings()
            .one()
        )
        assert record["work_date"] == first and type(record["work_date"]) is date
        summary = monthly_summary(conn, corp, first.strftime("%Y-%m"))
    day = next(d for d in summary.daily if d.userid == userid and d.work_date == first)
    assert day.on_duty_time == "次日 00:30"
    assert day.on_duty_result == "严重迟到"


def test_corrupted_column_is_flagged(sandbox: SandboxServer, synced: Engine) -> None:
    world = area_of(sandbox).world
    userid = sorted(world.by_user)[3]
    workday = next(d for d in sorted(world.by_user[userid]) if not world.by_user[userid][d].is_rest)
    sandbox.configure(
        attendance_corrupt_column={
            "userid": userid,
            "alias": "late_minute",
            "date": workday.isoformat(),
            "delta": 7,
        }
    )
    try:  # re-read only the corrupted day
        asyncio.run(sync_all(sandbox, synced, contacts=False, columns=True, days=1, end=workday))
    finally:
        sandbox.configure(attendance_corrupt_column=None)
    with synced.connect() as conn:
        summary = monthly_summary(conn, sandbox.app.corp_id, workday.strftime("%Y-%m"))
    assert [(d.userid, d.metric, d.dingtalk - d.ours) for d in summary.disagreements] == [
        (userid, "late_minutes", 7.0)
    ]
    # Our figure stays the one computed from the punches, not DingTalk's column.
    truth = sandbox.stats()["attendance"]["monthly"][workday.strftime("%Y-%m")][userid]
    row = next(r for r in summary.rows if r.userid == userid)
    assert row.metrics["late_minutes"] == truth["late_minutes"]
    asyncio.run(sync_all(sandbox, synced, contacts=False, columns=True, days=1, end=workday))
    with synced.connect() as conn:
        again = monthly_summary(conn, sandbox.app.corp_id, workday.strftime("%Y-%m"))
    assert again.disagreements == []


def test_incremental_repulls_the_last_days(sandbox: SandboxServer, synced: Engine) -> None:
    """A result DingTalk rewrote (a correction) within the last days is replaced; calls stay
    within the re-pulled window."""
    world = area_of(sandbox).world
    end = last_work_date(sandbox)
    userid = sorted(world.by_user)[5]
    day = next(
        end - timedelta(days=n)
        for n in range(3)
        if not world.by_user[userid][end - timedelta(days=n)].is_rest
    )
    pd = world.by_user[userid][day]
    point = pd.points[0]
    old = (point.result_id, point.time_result, point.minutes, point.user_ms, pd._rows)
    point.result_id += 10**9  # DingTalk re-computed the check point: a new row id
    point.time_result, point.minutes, point.user_ms = "Normal", 0, point.base_ms
    pd._rows = None
    try:

        async def go() -> object:
            async with make_client(sandbox) as client:
                return await run_sync(
                    client,
                    synced,
                    sandbox.app.corp_id,
                    [AttendanceSync(days=DAYS, end=end, recent_days=3)],
                    kind="incremental",
                    resume=False,
                )

        result = asyncio.run(go())
        with synced.connect() as conn:
            ids = {
                r.id
                for r in conn.execute(
                    select(attendance_results.c.id).where(
                        attendance_results.c.userid == userid,
                        attendance_results.c.work_date == day,
                    )
                )
            }
            wm = repo.get_watermark(conn, sandbox.app.corp_id, "attendance")
        assert point.result_id in ids and old[0] not in ids
        # 3 recent days: one date window per user chunk, no more.
        chunks = -(-len(world.by_user) // 50)
        assert result.api_calls.get("/topapi/attendance/schedule/listbyusers") == chunks  # type: ignore[attr-defined]
        assert wm == {"cursor": end.isoformat()}  # the latest synced work date
    finally:
        point.result_id, point.time_result, point.minutes, point.user_ms, pd._rows = old
        asyncio.run(sync_all(sandbox, synced, contacts=False, columns=True, days=3, end=end))


def test_interrupted_sync_resumes_without_duplicates(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    eng = db.create_engine_for(f"sqlite:///{tmp_path / 'r.db'}")
    db.migrate(eng)
    corp = sandbox.app.corp_id
    end = last_work_date(sandbox)
    asyncio.run(sync_all(sandbox, eng, days=1))  # the directory

    async def attempt(**kw: object) -> object:
        async with make_client(sandbox, **kw) as client:
            return await run_sync(client, eng, corp, [AttendanceSync(days=DAYS, end=end)])

    async def interrupted() -> None:
        """Cancel the run (Ctrl-C) once some chunks are committed."""
        task = asyncio.create_task(attempt())
        while True:
            await asyncio.sleep(0.05)
            with eng.connect() as conn:
                done = conn.execute(
                    select(func.count())
                    .select_from(sync_checkpoints)
                    .where(
                        sync_checkpoints.c.run_id
                        == select(func.max(sync_runs.c.id)).scalar_subquery(),
                        sync_checkpoints.c.entity == "attendance",
                        sync_checkpoints.c.key.like("chunk:%"),
                    )
                ).scalar_one()
            if done >= 2 or task.done():
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    sandbox.configure(latency_ms=40.0)
    try:
        asyncio.run(interrupted())
    finally:
        sandbox.configure(latency_ms=0.0)
    with eng.connect() as conn:
        partial = conn.execute(select(func.count()).select_from(attendance_results)).scalar_one()
    result = asyncio.run(attempt())
    assert result.resumed and result.status == "succeeded"  # type: ignore[attr-defined]
    # Committed chunks were not fetched again: fewer schedule calls than chunks.
    chunks = -(-len(area_of(sandbox).world.by_user) // 50) * -(-DAYS // 7)
    calls = result.api_calls.get("/topapi/attendance/schedule/listbyusers", 0)  # type: ignore[attr-defined]
    assert calls <= chunks - 2
    with eng.connect() as conn:
        total = conn.execute(select(func.count()).select_from(attendance_results)).scalar_one()
    assert total == sandbox.stats()["attendance"]["results"]
    assert 0 <= partial < total
    eng.dispose()


def test_working_days(sandbox: SandboxServer, synced: Engine) -> None:
    world = area_of(sandbox).world
    userid = sorted(world.by_user)[0]
    days = world.by_user[userid]
    start, end = min(days), max(days)
    with synced.connect() as conn:
        got = repo_attendance.working_days(conn, sandbox.app.corp_id, userid, start, end)
        none = repo_attendance.working_days(conn, sandbox.app.corp_id, "nobody", start, end)
        before = repo_attendance.working_days(
            conn, sandbox.app.corp_id, userid, date(2000, 1, 1), date(2000, 1, 31)
        )
    assert got == {d for d, pd in days.items() if not pd.is_rest}
    assert world.holidays and not (set(world.holidays) & got)
    assert none is None and before is None


def test_cli_summary_and_export(sandbox: SandboxServer, synced: Engine, tmp_path: Path) -> None:
    url = synced.url.render_as_string(hide_password=False)
    month = last_work_date(sandbox).strftime("%Y-%m")
    runner = CliRunner()
    common = ["--month", month, "--database-url", url, "--corp-id", sandbox.app.corp_id]
    out_csv = tmp_path / "s.csv"
    res = runner.invoke(
        cli_app, ["attendance", "summary", *common, "--format", "csv", "-o", str(out_csv)]
    )
    assert res.exit_code == 0, res.output
    with out_csv.open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    truth = sandbox.stats()["attendance"]["monthly"][month]
    assert rows[0][:2] == ["姓名", "考勤组"] and len(rows) - 1 == len(truth)
    # The file `attendance summary` wrote is audited like `export attendance`'s.
    with synced.connect() as conn:
        (audit, *_), audited = repo_audit.list_export_audit(conn, sandbox.app.corp_id)
    assert (audit["kind"], audit["format"], audit["client"]) == ("attendance", "csv", "cli")
    assert audit["filters"]["requested"] == {"month": month}
    assert audit["filters"]["files"][0]["name"] == "s.csv"
    assert audit["row_count"] == len(truth)
    assert audit["sha256"] == hashlib.sha256(out_csv.read_bytes()).hexdigest()
    said = " ".join(res.output.split())
    assert f"export audit #{audit['id']}" in said
    # A csv holds the 月度汇总 rows only: the message says just that (no 每日统计 count).
    assert f"({len(truth)} people; export audit" in said and "每日统计" not in said
    res = runner.invoke(cli_app, ["attendance", "summary", *common])  # a table: not audited
    assert res.exit_code == 0, res.output
    with synced.connect() as conn:
        assert repo_audit.list_export_audit(conn, sandbox.app.corp_id, limit=1)[1] == audited
    # Without --format the file's suffix picks it; a table is never "written" to a file.
    by_suffix = tmp_path / "by-suffix.csv"
    res = runner.invoke(cli_app, ["attendance", "summary", *common, "-o", str(by_suffix)])
    assert res.exit_code == 0 and by_suffix.read_bytes() == out_csv.read_bytes(), res.output
    table_to_file = tmp_path / "table.csv"
    res = runner.invoke(
        cli_app,
        ["attendance", "summary", *common, "--format", "table", "-o", str(table_to_file)],
    )
    assert res.exit_code == 2 and not table_to_file.exists(), res.output
    out_xlsx = tmp_path / "s.xlsx"
    res = runner.invoke(cli_app, ["export", "attendance", *common, "-o", str(out_xlsx)])
    assert res.exit_code == 0, res.output
    assert f"({len(truth)} people, " in res.output and " 每日统计 rows; " in res.output
    import openpyxl

    wb = openpyxl.load_workbook(out_xlsx)
    assert wb.sheetnames == ["月度汇总", "每日统计", "原始记录", "核对差异"]
    assert wb["月度汇总"].max_row == 3 + len(truth)
    assert [wb["每日统计"].cell(2, c).value for c in (5, 6)] == ["班次", "上班打卡时间"]
    assert wb["原始记录"].cell(2, 7).value == "打卡来源" and wb["原始记录"].max_row > 2
    # The CLI export is audited like the web's (DESIGN.md §7): who, kind, filters, rows, hash.
    with synced.connect() as conn:
        audit = repo_audit.list_export_audit(conn, sandbox.app.corp_id, limit=1)[0][0]
    assert audit["client"] == "cli" and audit["userid"].startswith("cli:")
    assert audit["kind"] == "attendance" and audit["format"] == "xlsx"
    assert audit["row_count"] == len(truth) and audit["filters"]["requested"] == {"month": month}
    assert audit["sha256"] == hashlib.sha256(out_xlsx.read_bytes()).hexdigest()
    assert audit["byte_size"] == out_xlsx.stat().st_size
    assert f"export audit #{audit['id']}" in " ".join(res.output.split())
    res = runner.invoke(cli_app, ["attendance", "summary", *common])
    assert res.exit_code == 0 and "考勤月度汇总" in res.output
    dept = runner.invoke(cli_app, ["attendance", "summary", *common, "--dept", "999999999"])
    assert dept.exit_code == 2 and "no department 999999999" in " ".join(dept.output.split())
    bad = runner.invoke(cli_app, ["attendance", "summary", *common[2:], "--month", "2026-13"])
    assert bad.exit_code == 2


@pytest.mark.parametrize(
    ("begin", "end", "last"),
    [
        ("2026-11-06 09:00", "2026-11-09 18:00", "2026-11-09"),  # Friday to Monday
        ("2026-11-17 23:30", "2026-11-18 07:30", "2026-11-17"),  # a night shift's one day
        ("2026-11-06 23:30", "2026-11-10 07:30", "2026-11-09"),  # a night shift, Fri..Mon
        ("2026-11-18 15:00", "2026-11-18 18:00", "2026-11-18"),  # an outing
        ("2026-11-21 16:00", "2026-11-22 00:00", "2026-11-21"),  # overtime to midnight
    ],
)
def test_an_approvals_last_work_date(begin: str, end: str, last: str) -> None:
    """``attendance_approvals.end_work_date``: the work date an approval ends on (GMT+8)."""

    def at(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=WIRE_TZ)

    assert end_work_date(at(begin), at(end), WIRE_TZ) == date.fromisoformat(last)
