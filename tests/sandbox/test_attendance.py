"""The generated attendance world: deterministic, realistic mix, leave exposed for approvals."""

from __future__ import annotations

from collections import Counter

from dingsync.sandbox.attendance import (
    METRICS,
    AttendanceArea,
    Leave,
    generate_attendance,
)
from dingsync.sandbox.company import generate_company
from dingsync.sandbox.config import SandboxConfig
from dingsync.sandbox.state import SandboxState

ANCHOR = 1795968000000  # 2026-11-30 00:00 GMT+8


def _world(seed: int) -> object:
    company = generate_company(seed, 150, anchor_ms=ANCHOR)
    return generate_attendance(company, seed, 30)


def test_generation_is_deterministic_per_seed() -> None:
    a, b, c = _world(5), _world(5), _world(6)
    assert a.monthly_truth() == b.monthly_truth()  # type: ignore[attr-defined]
    assert a.monthly_truth() != c.monthly_truth()  # type: ignore[attr-defined]


def test_groups_schedules_and_the_realistic_mix() -> None:
    world = _world(5)
    groups = world.groups  # type: ignore[attr-defined]
    assert [g.shift.across for g in groups] == [0, 0, 1]  # the night shift crosses midnight
    assert groups[1].shift.permit_late_minutes > 0  # the flexible one
    for g in groups:
        assert g.members and set(g.managers) <= set(g.members)
    days = [d for per in world.by_user.values() for d in per.values()]  # type: ignore[attr-defined]
    assert any(d.holiday and d.is_rest and d.work_date.weekday() < 5 for d in days)
    assert any(d.is_rest and d.work_date.weekday() >= 5 for d in days)
    results = Counter(p.time_result for d in days for p in d.points)
    assert {"Normal", "Late", "SeriousLate", "Early", "NotSigned"} <= set(results)
    assert any(p.location_result == "Outside" for d in days for p in d.points)
    assert any(all(p.time_result == "NotSigned" for p in d.points) for d in days if d.points)
    assert any(d.invalid for d in days)
    sources = Counter(p.source_type for d in days for p in d.points)
    assert sources["APPROVE"] and sources["SYSTEM"] and sources["USER"]
    hours = {d.leave.hours for d in days if d.leave}
    assert hours == {4.0, 8.0}  # half and full days


def test_area_exposes_leaves_and_monthly_truth() -> None:
    state = SandboxState(SandboxConfig(seed=9, users=80, anchor_ms=ANCHOR))
    area = state.areas["attendance"]
    assert isinstance(area, AttendanceArea)
    assert area.leaves and all(isinstance(lv, Leave) for lv in area.leaves)
    lv = area.leaves[0]
    assert lv.end_ms > lv.start_ms and lv.leave_type in ("事假", "病假", "年假") and lv.hours > 0
    truth = state.stats_snapshot()["attendance"]
    assert set(truth["monthly"]) == {"2026-10", "2026-11"}
    person = next(iter(truth["monthly"]["2026-11"].values()))
    assert set(person) == set(METRICS)
    assert truth["leaves"] == len(area.leaves)
