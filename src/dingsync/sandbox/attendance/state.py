"""The attendance area's live state (world, leave periods, knobs, listeners) and the lookups
its handlers and mutations share.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from dingsync.sandbox.attendance.generator import generate_attendance
from dingsync.sandbox.attendance.wire import dates_between
from dingsync.sandbox.attendance.world import (
    Leave,
    OvertimeDayRule,
    PersonDay,
    parse_overtime_rule,
)

if TYPE_CHECKING:
    from dingsync.sandbox.state import SandboxState


class AttendanceState:
    """Base of :class:`~dingsync.sandbox.attendance.area.AttendanceArea`: its state, truth and
    shared lookups (see the area's docstring for the attributes)."""

    def __init__(self, state: SandboxState) -> None:
        self.knobs: dict[str, Any] = {
            "attendance_corrupt_column": None,
            "attendance_overtime_rule": None,
        }
        self.state = state
        self.world = generate_attendance(state.company, state.config.seed, state.config.days)
        self.leaves: list[Leave] = list(self.world.leaves)
        self._truth: dict[str, Any] | None = None
        self._truth_rule: str | None = None
        #: ``(event_type, DataList item) -> answer | None``, called after each punch.
        self.listeners: list[Callable[[str, dict[str, Any]], dict[str, Any] | None]] = []
        self.rng = random.Random(f"dingsync-attendance-mutations:{state.config.seed}")
        self._ids: dict[str, int] | None = None

    @property
    def corp_id(self) -> str:
        return self.state.app.corp_id

    # -- truth -----------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counts and the monthly truth per person (``monthly[YYYY-MM][userid][metric]``)."""
        if self._truth is None or self._truth_rule != self.overtime_rule_text():
            self._truth_rule = self.overtime_rule_text()
            w = self.world
            days = [d for per in w.by_user.values() for d in per.values()]
            self._truth = {
                "groups": len(w.groups),
                "group_members": sum(len(g.members) for g in w.groups),
                "work_date_from": w.dates[0].isoformat() if w.dates else None,
                "work_date_to": w.dates[-1].isoformat() if w.dates else None,
                "holidays": [d.isoformat() for d in w.holidays],
                "schedules": sum(1 if d.is_rest else len(d.points) for d in days),
                "results": sum(len(d.points) for d in days),
                "records": sum(len(v) for v in w.punches.values()),
                "leaves": len(w.leaves),
                "monthly": w.monthly_truth(self.overtime_rule()),
            }
        return self._truth

    def overtime_rule_text(self) -> str | None:
        """The ``attendance_overtime_rule`` knob (``None``: :data:`OVERTIME_RULE`)."""
        text = self.state.area_knobs.get("attendance_overtime_rule")
        return str(text) if text else None

    def overtime_rule(self) -> dict[str, OvertimeDayRule] | None:
        """The company's overtime rule (加班规则) as the knob sets it, else ``None`` (the
        default :data:`~dingsync.sandbox.attendance.world.OVERTIME_RULE`)."""
        text = self.overtime_rule_text()
        return parse_overtime_rule(text) if text else None

    def _in_scope(self, userids: list[str]) -> list[str]:
        """``userids`` without duplicates and without people outside the app's data scope
        (silently left out, EB-31)."""
        return [u for u in dict.fromkeys(userids) if self.state.in_data_scope(u)]

    def _days(self, userid: str, start: date, end: date) -> list[PersonDay]:
        per = self.world.by_user.get(userid)
        if not per:
            return []
        return [per[d] for d in dates_between(start, end) if d in per]
