"""Deterministic generation of the attendance world from ``(company, seed, days)``
(:func:`generate_attendance`); see the package docstring for what it draws.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from dingsync.sandbox.attendance.world import (
    HOUR_MS,
    LEAVE_TYPES,
    MINUTE_MS,
    OUTCOMES,
    AttendanceWorld,
    CheckPoint,
    FreePunch,
    Group,
    InvalidPunch,
    Leave,
    Overtime,
    PersonDay,
    ShiftClass,
    Trip,
    wall_ms,
)
from dingsync.sandbox.workdays import history_dates, is_rest_day, public_holidays
from dingsync.timeutil import (
    WIRE_TZ,
    local_date,
)

if TYPE_CHECKING:
    from dingsync.sandbox.company import Company


def generate_attendance(company: Company, seed: int, days: int) -> AttendanceWorld:
    """Generate groups, schedules, punches and leave for ``company`` (deterministic)."""
    rng = random.Random(f"dingsync-attendance:{seed}:{days}")
    dates = history_dates(local_date(company.anchor_ms, WIRE_TZ), days)
    holidays = public_holidays(dates)

    fixed = ShiftClass(700001, "A 09:00-18:00", 9 * 60, 18 * 60, 0, 0, 30, 480, 588001)
    flexible = ShiftClass(700002, "弹性 10:00-19:00", 10 * 60, 19 * 60, 0, 30, 60, 480, 588002)
    night = ShiftClass(
        700003, "夜班 23:30-次日07:30", 23 * 60 + 30, 7 * 60 + 30, 1, 0, 30, 480, 588003
    )

    people = sorted(u.userid for u in company.users.values() if u.active)
    order = people[:]
    rng.shuffle(order)
    n_night = max(1, round(len(order) * 0.08)) if len(order) >= 3 else 0
    n_flex = max(1, round(len(order) * 0.30)) if len(order) >= 2 else 0
    g_fixed = Group(600001, "总部考勤组", fixed, [])
    g_flex = Group(600002, "研发弹性考勤组", flexible, [])
    g_night = Group(600003, "夜班考勤组", night, [])
    g_night.members = sorted(order[:n_night])
    g_flex.members = sorted(order[n_night : n_night + n_flex])
    g_fixed.members = sorted(order[n_night + n_flex :])
    groups = [g_fixed, g_flex, g_night]
    for g in groups:
        if g.members:
            g.managers = sorted(rng.sample(g.members, min(2, len(g.members))))
    group_of = {u: g for g in groups for u in g.members}

    ids = {"result": 100_000_000_000, "record": 42_000_000_000, "plan": 145_000_000_000}
    ids.update(approve=2_376_000_000, schedule=56_676_000_000)

    def next_id(kind: str) -> int:
        ids[kind] += 1
        return ids[kind]

    out: list[PersonDay] = []
    forced_night = g_night.members[0] if g_night.members else None
    for userid in people:
        group = group_of[userid]
        shift = group.shift
        first_workday = True
        for day in dates:
            rest = is_rest_day(day, holidays)
            pd = PersonDay(userid, day, group, rest, day in holidays, next_id("schedule"))
            out.append(pd)
            if rest:
                continue
            on_base, off_base = shift.check_times(day)
            draw = rng.random()
            outcome = "normal"
            acc = 0.0
            for name, p in OUTCOMES:
                acc += p
                if draw < acc:
                    outcome = name
                    break
            if userid == forced_night and first_workday:
                outcome = "serious_0030"  # a seriously late punch at 00:30 of the next day
            first_workday = False
            pd.points = _make_points(rng, pd, shift, outcome, on_base, off_base, next_id)
            if outcome in ("leave_full", "leave_half"):
                leave_type = rng.choice(sorted(LEAVE_TYPES))
                hours = shift.work_minutes / 60 if outcome == "leave_full" else 4.0
                end = off_base if outcome == "leave_full" else on_base + 4 * HOUR_MS
                approve = pd.points[0].approve_id or next_id("approve")
                pd.leave = Leave(
                    userid,
                    on_base,
                    end,
                    leave_type,
                    LEAVE_TYPES[leave_type],
                    hours,
                    day,
                    pd.points[0].proc_inst_id or "",
                    approve,
                )
            if rng.random() < 0.02:
                at = on_base + rng.randrange(60, 240) * MINUTE_MS
                pd.invalid.append(InvalidPunch(next_id("record"), at, "需要二次确认"))
    _make_up(random.Random(f"dingsync-attendance-makeup:{seed}:{days}"), out, next_id)
    _trips(random.Random(f"dingsync-attendance-trips:{seed}:{days}"), out, next_id)
    _weekend_trips(random.Random(f"dingsync-attendance-weekend-trips:{seed}:{days}"), out, next_id)
    _overtime(random.Random(f"dingsync-attendance-overtime:{seed}:{days}"), out, next_id)
    _machines(random.Random(f"dingsync-attendance-machines:{seed}:{days}"), g_fixed, out)
    return AttendanceWorld(groups, out, dates)


#: Share of the days with one missing punch whose check point an approved 补卡 fixes.
MAKE_UP_SHARE = 0.4


def _make_up(rng: random.Random, days: list[PersonDay], next_id: Any) -> None:
    """Fix some missing punches by an approved 补卡 request (a separate random stream, so the
    rest of the history is what it was): the ``NotSigned`` check point becomes ``Normal`` at
    its base time, ``sourceType`` APPROVE, with the approval's ids (``make_up``)."""
    for pd in days:
        missing = [p for p in pd.points if p.time_result == "NotSigned"]
        if len(missing) != 1 or len(pd.points) != 2 or rng.random() >= MAKE_UP_SHARE:
            continue
        p = missing[0]
        p.user_ms = p.base_ms
        p.time_result = "Normal"
        p.location_result = "Normal"
        p.source_type = "APPROVE"
        p.record_id = next_id("record")
        p.approve_id = next_id("approve")
        p.proc_inst_id = f"{rng.getrandbits(64):016x}-{rng.getrandbits(32):08x}"
        p.make_up = True


def _make_points(
    rng: random.Random,
    pd: PersonDay,
    shift: ShiftClass,
    outcome: str,
    on_base: int,
    off_base: int,
    next_id: Any,
) -> list[CheckPoint]:
    def punch(check_type: str, base: int, user: int, result: str, minutes: int) -> CheckPoint:
        location = "Outside" if rng.random() < 0.03 else "Normal"
        return CheckPoint(
            next_id("result"),
            next_id("plan"),
            check_type,
            base,
            user,
            result,
            location,
            "USER",
            next_id("record"),
            minutes,
        )

    def missing(check_type: str, base: int) -> CheckPoint:
        return CheckPoint.not_signed(next_id("result"), next_id("plan"), check_type, base)

    def approved(check_type: str, base: int, approve_id: int, proc: str) -> CheckPoint:
        return CheckPoint(
            next_id("result"),
            next_id("plan"),
            check_type,
            base,
            base,
            "Normal",
            "Normal",
            "APPROVE",
            next_id("record"),
            0,
            approve_id,
            proc,
        )

    def on_time() -> CheckPoint:
        early_by = rng.randrange(1, 25)
        if shift.permit_late_minutes:  # flexible: anywhere in the permitted window is normal
            delta = rng.randrange(-20, shift.permit_late_minutes + 1)
        else:
            delta = -early_by
        return punch("OnDuty", on_base, on_base + delta * MINUTE_MS, "Normal", 0)

    def off_time() -> CheckPoint:
        return punch("OffDuty", off_base, off_base + rng.randrange(0, 90) * MINUTE_MS, "Normal", 0)

    if outcome in ("leave_full", "leave_half"):
        approve_id = next_id("approve")
        proc = f"{rng.getrandbits(64):016x}-{rng.getrandbits(32):08x}"
        on = approved("OnDuty", on_base, approve_id, proc)
        off = (
            approved("OffDuty", off_base, approve_id, proc)
            if outcome == "leave_full"
            else off_time()
        )
        return [on, off]
    if outcome == "absent":
        return [missing("OnDuty", on_base), missing("OffDuty", off_base)]
    if outcome == "miss_on":
        return [missing("OnDuty", on_base), off_time()]
    if outcome == "miss_off":
        return [on_time(), missing("OffDuty", off_base)]
    if outcome in ("late", "serious", "serious_0030"):
        permit, serious = shift.permit_late_minutes, shift.serious_late_minutes
        if outcome == "late":
            minutes = rng.randrange(permit + 1, serious)
        elif outcome == "serious":
            minutes = rng.randrange(serious, serious + 90)
        else:
            minutes = 60
        result = "Late" if minutes < serious else "SeriousLate"
        on = punch("OnDuty", on_base, on_base + minutes * MINUTE_MS, result, minutes)
        return [on, off_time()]
    if outcome == "early":
        minutes = rng.randrange(5, 91)
        return [
            on_time(),
            punch("OffDuty", off_base, off_base - minutes * MINUTE_MS, "Early", minutes),
        ]
    return [on_time(), off_time()]


#: Shares of the ordinary days (both check points punched on time) that become a business trip
#: (出差, the whole day) or an outing (外出, the last :data:`OUT_HOURS` hours before off duty).
TRIP_SHARE = 0.02
OUT_SHARE = 0.02
OUT_HOURS = 3


def _trips(rng: random.Random, days: list[PersonDay], next_id: Any) -> None:
    """Turn some ordinary days into approved business trips and outings (a separate random
    stream): the covered check points become ``Normal``/``APPROVE`` at their base time with the
    approval's ids; the punches they replace are not kept."""
    for pd in days:
        if pd.is_rest or pd.leave is not None or len(pd.points) != 2:
            continue
        if any(p.source_type != "USER" or p.time_result != "Normal" for p in pd.points):
            continue
        draw = rng.random()
        if draw >= TRIP_SHARE + OUT_SHARE:
            continue
        kind = "出差" if draw < TRIP_SHARE else "外出"
        on, off = pd.points
        approve_id = next_id("approve")
        proc = f"{rng.getrandbits(64):016x}-{rng.getrandbits(32):08x}"
        covered = [on, off] if kind == "出差" else [off]
        start = on.base_ms if kind == "出差" else off.base_ms - OUT_HOURS * HOUR_MS
        amount = 1.0 if kind == "出差" else float(OUT_HOURS)
        for p in covered:
            p.user_ms = p.base_ms
            p.location_result = "Normal"
            p.source_type = "APPROVE"
            p.minutes = 0
            p.approve_id = approve_id
            p.proc_inst_id = proc
        pd.trip = Trip(pd.userid, kind, start, off.base_ms, pd.work_date, amount, proc, approve_id)


#: Share of the people who go on one business trip over a weekend (Friday to Monday, one
#: approval): at least one when the history has such a weekend.
WEEKEND_TRIP_SHARE = 0.05


def _weekend_trips(rng: random.Random, days: list[PersonDay], next_id: Any) -> None:
    """Some people go on one approved business trip (出差) from a Friday's on-duty time to the
    next Monday's off-duty time (a separate random stream, drawn after :func:`_trips`): one
    approval, ``durationUnit`` DAY and ``duration`` the natural days it spans (4.0; DingTalk's
    trip form counts the days between its begin and end, rest days included); both work days'
    check points become ``Normal``/``APPROVE`` with its ids and every day it spans (the rest
    days too) carries it (``approve_list`` of ``getupdatedata``). 出差时长 counts the work days
    it covers (:func:`~dingsync.sandbox.attendance.world.day_metrics`): a rest day is 休息."""
    by_user: dict[str, dict[Any, PersonDay]] = {}
    for pd in days:
        by_user.setdefault(pd.userid, {})[pd.work_date] = pd

    def ordinary(pd: PersonDay | None) -> bool:
        return (
            pd is not None
            and not pd.is_rest
            and pd.leave is None
            and pd.trip is None
            and len(pd.points) == 2
            and all(p.source_type == "USER" and p.time_result == "Normal" for p in pd.points)
        )

    def free_rest(pd: PersonDay | None) -> bool:
        return pd is not None and pd.is_rest and not pd.holiday and pd.overtime is None

    spans: list[list[PersonDay]] = []
    for userid in sorted(by_user):
        per = by_user[userid]
        for day in sorted(per):
            window = [per.get(day + timedelta(days=n)) for n in range(4)]
            if day.weekday() == 4 and ordinary(window[0]) and ordinary(window[3]):
                if free_rest(window[1]) and free_rest(window[2]):
                    spans.append([x for x in window if x is not None])
    if not spans:
        return
    people = sorted({s[0].userid for s in spans})
    chosen = set(rng.sample(people, max(1, round(len(people) * WEEKEND_TRIP_SHARE))))
    for userid in sorted(chosen):
        span = rng.choice([s for s in spans if s[0].userid == userid])
        fri, mon = span[0], span[-1]
        approve_id = next_id("approve")
        proc = f"{rng.getrandbits(64):016x}-{rng.getrandbits(32):08x}"
        for p in (*fri.points, *mon.points):
            p.user_ms = p.base_ms
            p.location_result = "Normal"
            p.source_type = "APPROVE"
            p.minutes = 0
            p.approve_id = approve_id
            p.proc_inst_id = proc
        trip = Trip(
            userid,
            "出差",
            fri.points[0].base_ms,
            mon.points[1].base_ms,
            fri.work_date,
            float(len(span)),
            proc,
            approve_id,
        )
        for pd in span:
            pd.trip = trip


#: Shares of the rest days and of the public holidays on which someone works approved overtime
#: (加班, a separate random stream), punching in a little before the approved start and out
#: around its end (sometimes well before it: the rest day's rule then counts less).
REST_OVERTIME_SHARE = 0.05
HOLIDAY_OVERTIME_SHARE = 0.2


def _overtime(rng: random.Random, days: list[PersonDay], next_id: Any) -> None:
    """Approved overtime on some rest days and holidays with the day's two punches (valid
    punches without a check point, as DingTalk keeps punches on a rest day)."""
    for pd in days:
        if not pd.is_rest:
            continue
        share = HOLIDAY_OVERTIME_SHARE if pd.holiday else REST_OVERTIME_SHARE
        if rng.random() >= share:
            continue
        start = wall_ms(pd.work_date, 10 * 60 + rng.choice((0, 30, 60)))
        hours = rng.choice((2.0, 3.0, 4.0, 4.5, 6.0, 8.0))
        end = start + int(hours * HOUR_MS)
        proc = f"{rng.getrandbits(64):016x}-{rng.getrandbits(32):08x}"
        pd.overtime = Overtime(pd.userid, start, end, pd.work_date, hours, proc, next_id("approve"))
        punch_in = start - rng.randrange(0, 20) * MINUTE_MS
        punch_out = end + rng.randrange(-50, 40) * MINUTE_MS
        for at, kind in ((punch_in, "OnDuty"), (punch_out, "OffDuty")):
            biz = f"{rng.getrandbits(64):016x}"
            pd.extra.append(FreePunch(next_id("record"), at, kind, "Normal", biz))


#: Share of 总部考勤组 who punch on its time clock (钉钉考勤机) instead of in the app.
MACHINE_SHARE = 0.3


def _machines(rng: random.Random, group: Group, days: list[PersonDay]) -> None:
    """Some of ``group``'s members punch on the group's time clock (a separate random stream):
    their punches in the allowed place become time-clock punches (``sourceType`` DING_ATM); a
    punch outside it stays an app punch."""
    users = {u for u in group.members if rng.random() < MACHINE_SHARE}
    for pd in days:
        if pd.userid not in users:
            continue
        for p in pd.points:
            if p.source_type == "USER" and p.location_result == "Normal":
                p.machine = True
        for x in pd.extra:
            if isinstance(x, FreePunch) and x.location_result == "Normal":
                x.machine = True
