"""The overtime rule (加班规则) applied to one person-day, by table: each calculation mode, the
起算 start, whole units rounded down, the conversion to 调休 / 加班费; and the rule's text form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dingsync.export.attendance_overtime import (
    DEFAULT_RULE,
    OVERTIME_METRICS,
    DayRule,
    OvertimeRule,
    day_overtime,
    parse_rule,
)

BASE = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai


def at(minutes: int) -> datetime:
    return BASE + timedelta(minutes=minutes)


def off_duty(minutes: int, source: str = "USER", result: str = "Normal") -> dict[str, object]:
    return {
        "check_type": "OffDuty",
        "time_result": result,
        "source_type": source,
        "base_check_time": BASE,
        "user_check_time": at(minutes),
    }


RULE = parse_rule(DEFAULT_RULE)


@pytest.mark.parametrize(
    ("minutes", "source", "want"),
    [
        (59, "USER", 0.0),  # 29 minutes after the 30-minute start: below one unit
        (60, "USER", 0.5),
        (89, "USER", 0.5),
        (90, "USER", 1.0),
        (215, "USER", 3.0),  # 185 → 6 units
        (90, "APPROVE", 0.0),  # fixed by an approval: not a punch of the person's own
        (-10, "USER", 0.0),  # left early
    ],
)
def test_workday_by_punch_after_the_start(minutes: int, source: str, want: float) -> None:
    got = day_overtime("workday", RULE, [off_duty(minutes, source)])
    assert got["overtime_hours"] == want
    assert got["overtime_workday_pay_hours"] == want  # the default rule pays working days
    assert got["overtime_workday_rest_hours"] == 0.0


def test_restday_within_the_approved_period_by_punches() -> None:
    approved = [(at(0), at(240))]
    # Punched in before the approval began and out 50 minutes before it ended: 190 → 3 h.
    got = day_overtime("restday", RULE, punches=[at(-10), at(190)], approvals=approved)
    assert got["overtime_restday_rest_hours"] == 3.0
    assert got["overtime_hours"] == 3.0
    # One punch only: no period to cut to.
    assert day_overtime("restday", RULE, punches=[at(5)], approvals=approved)["overtime_hours"] == 0
    # No approval: nothing, however long the punches.
    assert day_overtime("restday", RULE, punches=[at(0), at(600)])["overtime_hours"] == 0


def test_holiday_by_the_approved_time_and_other_modes() -> None:
    got = day_overtime("holiday", RULE, approvals=[(at(0), at(270))])
    assert got["overtime_holiday_pay_hours"] == 4.5
    rule = OvertimeRule(
        DayRule("approval", 0, 60, "rest"),
        DayRule("punch", 0, 15, "pay"),
        DayRule("approval_punch", 0, 30, "rest"),
    )
    # Working day by approval, hour units, as time off in lieu.
    got = day_overtime("workday", rule, [off_duty(300)], approvals=[(at(0), at(150))])
    assert (got["overtime_hours"], got["overtime_workday_rest_hours"]) == (2.0, 2.0)
    # Rest day by punches: first to last punch, 15-minute units, paid.
    got = day_overtime("restday", rule, punches=[at(0), at(100), at(50)])
    assert got["overtime_restday_pay_hours"] == 1.5
    assert set(got) == set(OVERTIME_METRICS)


def test_rule_text() -> None:
    assert RULE.workday == DayRule("punch", 30, 30, "pay")
    assert RULE.restday == DayRule("approval_punch", 0, 30, "rest")
    assert RULE.holiday == DayRule("approval", 0, 30, "pay")
    for bad, words in [
        ("workday=punch/30/30/pay", "no rule for restday, holiday"),
        (DEFAULT_RULE + "; workday=punch/0/30/pay", "repeated"),
        (DEFAULT_RULE.replace("pay;", "money;"), "want <punch|approval|approval_punch>"),
        (DEFAULT_RULE.replace("/30/30/", "/x/30/"), "whole numbers"),
        (DEFAULT_RULE.replace("/30/30/", "/30/0/"), "unit ≥ 1"),
    ]:
        with pytest.raises(ValueError, match=words):
            parse_rule(bad)


def on_duty(minutes_early: int) -> dict[str, object]:
    base = BASE - timedelta(hours=9)  # 09:00 in Shanghai
    return {
        "check_type": "OnDuty",
        "time_result": "Normal",
        "source_type": "USER",
        "base_check_time": base,
        "user_check_time": base - timedelta(minutes=minutes_early),
    }


OPTIONS = parse_rule(
    "workday=punch/0/30/pay/before:20/deduct:18:00-18:30/min:60/round:up/max:180; "
    "restday=punch/0/60/rest/deduct:12:00-13:00/max:360; holiday=approval/0/15/pay"
)


@pytest.mark.parametrize(
    ("early", "late", "want"),
    [
        (0, 100, 90),  # 18:30..19:40 after the 18:00–18:30 break: 70 → rounded up to 90
        (0, 80, 0),  # 50 minutes after the break: under the 60-minute minimum
        (25, 80, 90),  # 25 early (≥ 20: 上班前加班) + 50 = 75 → 90
        (15, 80, 0),  # 15 early is not 上班前加班
        (40, 400, 180),  # 40 + 370 = 410 → 420, capped at the daily 180
    ],
)
def test_options_before_deduct_minimum_round_up_and_maximum(
    early: int, late: int, want: int
) -> None:
    day = datetime(2026, 11, 20).date()
    got = day_overtime("workday", OPTIONS, [on_duty(early), off_duty(late)], work_date=day)
    assert got["overtime_hours"] == want / 60
    assert got["overtime_workday_pay_hours"] == want / 60


def test_rest_day_options_deduct_lunch_round_down_and_cap() -> None:
    day = datetime(2026, 11, 21).date()
    start = datetime(2026, 11, 21, 1, 50, tzinfo=UTC)  # 09:50 in Shanghai
    got = day_overtime(
        "restday", OPTIONS, punches=[start, start + timedelta(hours=5, minutes=50)], work_date=day
    )
    # 09:50..15:40 is 350 minutes, less the 60-minute lunch: 290 → 4 whole hours, 调休
    assert got["overtime_restday_rest_hours"] == 4.0
    long = day_overtime(
        "restday", OPTIONS, punches=[start, start + timedelta(hours=12)], work_date=day
    )
    assert long["overtime_hours"] == 6.0  # 660 → 600, capped at 360 minutes


def test_option_text_errors_name_the_option() -> None:
    with pytest.raises(ValueError, match="bad option 'round:sideways'"):
        parse_rule(
            "workday=punch/0/30/pay/round:sideways; restday=approval/0/30/rest; "
            "holiday=approval/0/30/pay"
        )
    rule = OPTIONS.workday
    assert (rule.before, rule.minimum, rule.round_up, rule.maximum) == (20, 60, True, 180)
    assert [(a.isoformat(), b.isoformat()) for a, b in rule.deduct] == [("18:00:00", "18:30:00")]
