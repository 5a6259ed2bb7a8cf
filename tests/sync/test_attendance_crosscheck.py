"""The cross-check of the monthly summary against DingTalk's own 考勤报表 (getattcolumns,
getcolumnval, getleavetimebynames) over real loopback HTTP, on SQLite and PostgreSQL: every cell
of the sandbox company's months agrees; a corrupted stored row is listed with both values; the
CLI prints the figures and exits 1 on a disagreement. Also the summary's new columns (补卡,
请假 per leave type in its unit) against the sandbox's truth."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import Engine, select, update
from typer.testing import CliRunner

from dingsync.cli import app as cli_app
from dingsync.commands.attendance import crosscheck_month
from dingsync.export.attendance import (
    DAILY_HEADERS,
    METRIC_LABELS,
    RECORD_HEADERS,
    monthly_summary,
    summary_headers,
    write_xlsx,
)
from dingsync.export.attendance_check import CrossCheck
from dingsync.export.attendance_overtime import OVERTIME_LABELS, OVERTIME_METRICS
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.sandbox.attendance import VACATION_TYPES
from dingsync.sandbox.attendance.world import (
    COLUMN_METRIC,
    COLUMNS,
    CUSTOM_COLUMNS,
    leave_in_unit,
)
from dingsync.store.schema_attendance import attendance_records, attendance_results
from dingsync.timeutil import WIRE_TZ
from helpers.attendance import DAYS, SEED, area_of, crosscheck, make_client, sync_all

USERS = 60


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=SEED, users=USERS, days=DAYS, qps_limit=None)) as sb:
        yield sb


def _months(sb: SandboxServer) -> list[str]:
    return sorted(sb.stats()["attendance"]["monthly"])


def test_every_cell_agrees_with_dingtalks_report(sandbox: SandboxServer, engine: Engine) -> None:
    assert asyncio.run(sync_all(sandbox, engine)).status == "succeeded"
    total = 0
    for month in _months(sandbox):
        check = crosscheck(sandbox, engine, month)
        people = len(check.summary.rows)
        assert people > 0
        # Every column we compute that DingTalk serves, and every leave type, is compared.
        leave_labels = [
            f"{n}({'天' if u == 'day' else '小时'})" for n, (_, u) in VACATION_TYPES.items()
        ]
        for name in ("补卡次数", "工作时长", "出差时长", "外出时长", "休息天数", "严重迟到时长"):
            assert name in check.compared
        # 加班: the total and its six splits, in DingTalk's order.
        overtime = [n for n in check.compared if "加班" in n]
        assert overtime == [name for alias, (_, name) in COLUMNS.items() if "overtime" in alias]
        assert len(overtime) == 7
        assert set(VACATION_TYPES) <= set(check.compared)
        # The company's custom columns are DingTalk's to compute: carried, not compared.
        assert check.not_compared == ["餐补次数", "夜班补贴天数"]
        assert check.cells == people * len(check.compared)
        assert check.disagreements == [], check.disagreements[:5]
        assert check.agree == check.cells
        assert check.headline() == f"{check.cells} cells checked, {check.cells} agree"
        assert summary_headers(check.summary)[-len(VACATION_TYPES) :] == leave_labels
        total += check.cells
    assert total >= USERS * 20


#: A rule with every option of DingTalk's 加班规则 the summary models: 上班前加班 (20 minutes
#: early or more), 扣除休息时间 (18:00–18:30 after work, lunch on rest days and holidays),
#: 最小加班时长, 取整 up and down in other units, a daily maximum, and other calculations and
#: conversions per day type than the default.
OTHER_RULE = (
    "workday=punch/0/30/rest/before:20/deduct:18:00-18:30/min:60/round:up/max:180; "
    "restday=punch/0/60/pay/deduct:12:00-13:00/max:360; "
    "holiday=approval_punch/0/15/rest/deduct:12:00-13:00/min:30/round:up"
)


def test_every_cell_agrees_under_another_overtime_rule(
    sandbox: SandboxServer, engine: Engine
) -> None:
    """The sandbox company's 加班规则 set to :data:`OTHER_RULE` (its ``getcolumnval`` and its
    truth follow it) and the same rule configured here: every cell still agrees, the 加班
    columns included, and the figures are not the default rule's."""
    assert asyncio.run(sync_all(sandbox, engine)).status == "succeeded"
    default_totals: dict[str, float] = {}
    for month in _months(sandbox):
        for row in crosscheck(sandbox, engine, month).summary.rows:
            for m in OVERTIME_METRICS:
                default_totals[m] = default_totals.get(m, 0.0) + row.metrics[m]
    sandbox.configure(attendance_overtime_rule=OTHER_RULE)
    try:
        totals: dict[str, float] = {}
        for month in _months(sandbox):

            async def run(month: str = month) -> CrossCheck:
                async with make_client(sandbox) as client:
                    with engine.connect() as conn:
                        check: CrossCheck = await crosscheck_month(
                            conn,
                            client,
                            sandbox.app.corp_id,
                            month,
                            tz=WIRE_TZ,
                            overtime_rule=OTHER_RULE,
                        )
                        return check

            check = asyncio.run(run())
            assert [n for n in check.compared if "加班" in n]
            assert check.disagreements == [], check.disagreements[:5]
            assert check.headline() == f"{check.cells} cells checked, {check.cells} agree"
            truth = sandbox.stats()["attendance"]["monthly"][month]
            for row in check.summary.rows:
                for m in OVERTIME_METRICS:
                    assert row.metrics[m] == pytest.approx(truth[row.userid][m]), (row.userid, m)
                    totals[m] = totals.get(m, 0.0) + row.metrics[m]
    finally:
        sandbox.configure(attendance_overtime_rule=None)
    # The rule moved the figures: workday overtime is 调休 now, rest days are paid.
    assert totals["overtime_workday_rest_hours"] > 0 and totals["overtime_workday_pay_hours"] == 0
    assert default_totals["overtime_workday_pay_hours"] > 0
    assert totals["overtime_restday_pay_hours"] > 0 and totals["overtime_holiday_rest_hours"] > 0
    assert totals["overtime_hours"] != pytest.approx(default_totals["overtime_hours"])


def test_leave_types_make_up_and_leave_days_as_dingtalk_shows_them(
    sandbox: SandboxServer, engine: Engine
) -> None:
    """请假 per type in its unit (年假 in days), 补卡 fixes its check point (counted, not 缺卡),
    出差 days and 外出 hours from the trip approvals, a day under approved leave is neither
    absent nor early."""
    asyncio.run(sync_all(sandbox, engine))
    world = area_of(sandbox).world
    codes = {name: code for name, (code, _) in VACATION_TYPES.items()}
    made_up = trip_days = 0
    overtime: dict[str, float] = {}
    for month in _months(sandbox):
        with engine.connect() as conn:
            summary = monthly_summary(conn, sandbox.app.corp_id, month)
        assert [c.name for c in summary.leave_columns] == list(VACATION_TYPES)
        for row in summary.rows:
            days = [
                d
                for d in world.by_user[row.userid].values()
                if d.work_date.strftime("%Y-%m") == month
            ]
            for name in VACATION_TYPES:
                want = sum(
                    leave_in_unit(d.leave) for d in days if d.leave and d.leave.leave_type == name
                )
                assert row.leave[codes[name]] == pytest.approx(want), (row.userid, name)
            fixed = sum(p.make_up for d in days for p in d.points)
            assert row.metrics["make_up_count"] == fixed
            trips = [d.trip for d in days if d.trip is not None]
            # 出差时长: the work days a trip covers (a trip over a weekend: its Friday and
            # Monday, though its approval's duration is 4 days).
            assert row.metrics["trip_days"] == sum(
                1 for d in days if d.trip and d.trip.kind == "出差" and not d.is_rest
            )
            assert row.metrics["out_hours"] == sum(t.amount for t in trips if t.kind == "外出")
            trip_days += len(trips)
            made_up += fixed
            # 加班 by the rule: as the sandbox's truth, every split.
            truth = sandbox.stats()["attendance"]["monthly"][month].get(row.userid, {})
            for metric in OVERTIME_METRICS:
                assert row.metrics[metric] == pytest.approx(truth.get(metric, 0.0)), metric
                overtime[metric] = overtime.get(metric, 0.0) + row.metrics[metric]
            on_leave = [d for d in days if d.leave is not None]
            assert all(
                not any(
                    p.time_result in ("NotSigned", "Early")
                    for p in d.points
                    if p.source_type == "APPROVE"
                )
                for d in on_leave
            )
    assert made_up > 0 and trip_days > 0
    # Working-day, rest-day and holiday overtime all occur (the sandbox's rule: paid, time off
    # in lieu, paid), and the total is their sum.
    for metric in (
        "overtime_workday_pay_hours",
        "overtime_restday_rest_hours",
        "overtime_holiday_pay_hours",
    ):
        assert overtime[metric] > 0, metric
    assert overtime["overtime_hours"] == pytest.approx(sum(overtime.values()) / 2)
    assert any(lv.leave_type == "年假" for lv in world.leaves)


def test_corrupted_stored_row_is_a_listed_disagreement(
    sandbox: SandboxServer, engine: Engine
) -> None:
    asyncio.run(sync_all(sandbox, engine))
    t = attendance_results
    with engine.begin() as conn:
        row = conn.execute(
            select(t.c.id, t.c.userid, t.c.work_date, t.c.base_check_time, t.c.user_check_time)
            .where(
                t.c.corp_id == sandbox.app.corp_id,
                t.c.check_type == "OnDuty",
                t.c.time_result == "Normal",
                t.c.source_type == "USER",
            )
            .order_by(t.c.id)
            .limit(1)
        ).one()
        conn.execute(
            update(t)
            .where(t.c.corp_id == sandbox.app.corp_id, t.c.id == row.id)
            .values(time_result="Late")
        )
    month = row.work_date.strftime("%Y-%m")
    check = crosscheck(sandbox, engine, month)
    # One more late arrival; its minutes too when the punch was after the base time (a
    # flexible shift's permitted lateness).
    minutes = max(0, round((row.user_check_time - row.base_check_time).total_seconds() / 60))
    expected = [(row.userid, "迟到次数", 1.0)] + (
        [(row.userid, "迟到时长", float(minutes))] if minutes else []
    )
    assert [(d.userid, d.column, d.ours - d.dingtalk) for d in check.disagreements] == expected
    assert check.agree == check.cells - len(expected)
    # The CLI prints both values and the figures, and exits 1.
    result = CliRunner().invoke(
        cli_app,
        [
            "attendance",
            "crosscheck",
            "--month",
            month,
            "--database-url",
            str(engine.url.render_as_string(hide_password=False)),
        ],
        env={
            "DINGTALK_APP_KEY": sandbox.app.app_key,
            "DINGTALK_APP_SECRET": sandbox.app.app_secret,
            "DINGTALK_CORP_ID": sandbox.app.corp_id,
            "DINGTALK_OAPI_URL": sandbox.base_url,
            "DINGTALK_API_URL": sandbox.base_url,
            "COLUMNS": "250",
        },
    )
    assert result.exit_code == 1, result.output
    d = check.disagreements[0]
    assert f"({row.userid}) 迟到次数: ours {d.ours:g}, DingTalk {d.dingtalk:g}" in result.output
    assert f"{check.cells} cells checked, {check.agree} agree" in result.output
    assert "加班总时长, 工作日加班转调休" in result.output  # compared, in DingTalk's order
    assert "not compared (we do not compute them): 餐补次数, 夜班补贴天数" in result.output
    assert METRIC_LABELS["make_up_count"] == "补卡次数"
    # Re-synced, the month agrees again (the corrupted row is replaced).
    asyncio.run(sync_all(sandbox, engine, contacts=False))
    assert crosscheck(sandbox, engine, month).ok


def test_month_must_be_valid(sandbox: SandboxServer, engine: Engine) -> None:
    with pytest.raises(ValueError, match="2026-11"):
        crosscheck(sandbox, engine, "2026/11")


def test_daily_rows_link_their_approvals_and_the_workbook_keeps_types(
    sandbox: SandboxServer, engine: Engine, tmp_path: Path
) -> None:
    """每日统计's 关联审批单: every leave (with its type's name), trip, outing, 补卡 and overtime
    (on a rest day: a row of its own) of the sandbox's history is on its day, nothing else is;
    原始记录 lists every stored punch of the month with its source; the workbook keeps numbers
    as numbers (the 加班 columns included) and dates as dates."""
    asyncio.run(sync_all(sandbox, engine))
    world = area_of(sandbox).world
    kinds_seen: set[str] = set()
    sources: set[str] = set()
    for month in _months(sandbox):
        with engine.connect() as conn:
            summary = monthly_summary(conn, sandbox.app.corp_id, month, with_records=True)
            stored = [
                r
                for r in conn.execute(select(attendance_records))
                if r.work_date and r.work_date.strftime("%Y-%m") == month
            ]
        for row in summary.daily:
            day = world.by_user[row.userid][row.work_date]
            want = []
            if day.leave is not None:
                want.append(f"请假({day.leave.leave_type})")
            if day.trip is not None:
                want.append(day.trip.kind)
            if day.overtime is not None:  # a rest day's row: no check points, 休息
                want.append("加班")
                assert (row.on_duty_result, row.off_duty_result) == ("休息", "休息")
            want += [
                "补卡 " + ("上班" if p.check_type == "OnDuty" else "下班")
                for p in day.points
                if p.make_up
            ]
            # "请假(事假) 09:00–18:00", "补卡 下班 次日 07:30": the kind and what it fixes.
            words = [part.split(" ") for part in row.approvals.split("；") if part]
            got = [" ".join(w[:2]) if w[0] == "补卡" else w[0] for w in words]
            assert sorted(got) == sorted(want), (row.userid, row.work_date, row.approvals)
            kinds_seen |= {w[:2] for w in want}
        path = write_xlsx(summary, tmp_path / f"{month}.xlsx")
        book = openpyxl.load_workbook(path)
        sheet = book["每日统计"]
        headers = [c.value for c in sheet[2]]
        assert headers == DAILY_HEADERS and headers[-1] == "关联审批单"
        assert all(isinstance(r[2].value, datetime) for r in sheet.iter_rows(min_row=3))
        monthly = book["月度汇总"]
        head = [c.value for c in monthly[3]]
        at = head.index("加班总时长(小时)")
        assert head[at : at + 7] == [OVERTIME_LABELS[m] for m in OVERTIME_METRICS]
        for r in monthly.iter_rows(min_row=4):
            values = [c.value for c in r[at : at + 7]]
            assert all(isinstance(v, int | float) for v in values), values
            assert values[0] == pytest.approx(sum(values[1:]))
        punches = book["原始记录"]
        assert [c.value for c in punches[2]] == RECORD_HEADERS
        rows = list(punches.iter_rows(min_row=3, values_only=True))
        assert len(rows) == len(stored) > 0
        for r in rows:
            assert isinstance(r[2], datetime) and isinstance(r[3], datetime)
            assert r[8] is None or isinstance(r[8], float)
            sources.add(str(r[6]))
        with_place = [r for r in rows if r[8] is not None]
        assert with_place and all(isinstance(r[9], float) for r in with_place)
    assert {"请假", "出差", "外出", "补卡", "加班"} <= kinds_seen
    assert {"用户打卡", "钉钉考勤机", "审批"} <= sources


def test_custom_columns_are_carried_with_dingtalks_values(
    sandbox: SandboxServer, engine: Engine, tmp_path: Path
) -> None:
    """The company's custom columns (自定义列) of getattcolumns, synced with the report columns,
    are the summary's last columns with DingTalk's values (the sandbox's truth), in the API's
    order and the workbook as numbers; without synced columns there are none."""
    asyncio.run(sync_all(sandbox, engine))
    month = _months(sandbox)[0]
    with engine.connect() as conn:
        assert monthly_summary(conn, sandbox.app.corp_id, month).dingtalk_columns == []
    asyncio.run(sync_all(sandbox, engine, columns=True))
    custom = {COLUMNS[a][0]: COLUMNS[a][1] for a in CUSTOM_COLUMNS}
    metric = {COLUMNS[a][0]: COLUMN_METRIC[a] for a in CUSTOM_COLUMNS}
    for month in _months(sandbox):
        truth = sandbox.stats()["attendance"]["monthly"][month]
        with engine.connect() as conn:
            summary = monthly_summary(conn, sandbox.app.corp_id, month)
        assert [(c.column_id, c.name) for c in summary.dingtalk_columns] == list(custom.items())
        assert summary_headers(summary)[-2:] == list(custom.values())
        assert summary.disagreements == []
        seen = 0.0
        for row in summary.rows:
            for cid, m in metric.items():
                assert row.dingtalk[cid] == pytest.approx(truth[row.userid][m]), (row.userid, m)
                seen += row.dingtalk[cid]
        assert seen > 0
        book = openpyxl.load_workbook(write_xlsx(summary, tmp_path / f"{month}.xlsx"))
        sheet = book["月度汇总"]
        assert [c.value for c in sheet[3]][-2:] == list(custom.values())
        for r in sheet.iter_rows(min_row=4, values_only=True):
            assert all(isinstance(v, int | float) for v in r[-2:]), r
