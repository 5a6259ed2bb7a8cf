"""The attendance area's live state (world, leave periods, knobs, listeners) and the lookups
its handlers and mutations share.
"""

from __future__ import annotations

import functools
import random
from collections import OrderedDict
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
from dingsync.sandbox.wire import plain_rows

if TYPE_CHECKING:
    from dingsync.sandbox.state import SandboxState

#: How many windows' answer rows :meth:`AttendanceState._window_rows` keeps (least recently
#: used first out): a sync pages 16–20 windows at a time; each entry is a list of references to
#: rows the person-days keep anyway (≤ 50 people × 7 days × 2 check points).
WINDOW_CACHE_SIZE = 256


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
        #: ``(kind, corp_id, start, end, userids in scope) -> rows`` (:meth:`_window_rows`).
        self._windows: OrderedDict[tuple[Any, ...], tuple[list[dict[str, Any]], bool]] = (
            OrderedDict()
        )

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

    def _window_rows(
        self,
        kind: str,
        userids: list[str],
        start: date,
        end: date,
        build: Callable[[], list[dict[str, Any]]],
    ) -> tuple[list[dict[str, Any]], bool]:
        """The answer rows of ``kind`` (``results``: ``/attendance/list``) for ``userids`` (in
        scope, deduplicated, in request order) over the work dates ``start..end``, and whether
        they are :func:`~dingsync.sandbox.wire.plain_rows`: ``build()`` the first time, then the
        same list (least recently used out beyond :data:`WINDOW_CACHE_SIZE`). A caller pages it
        (``/attendance/list`` asks the same window once per page of 50);
        :meth:`forget_windows` drops every entry when the world changes (a punch). The rows
        are shared: callers must not change them."""
        key = (kind, self.corp_id, start, end, tuple(userids))
        windows = self._windows
        got = windows.get(key)
        if got is None:
            rows = build()
            got = windows[key] = (rows, plain_rows(rows))
            if len(windows) > WINDOW_CACHE_SIZE:
                windows.popitem(last=False)
        else:
            windows.move_to_end(key)
        return got

    def forget_windows(self) -> None:
        """Drop :meth:`_window_rows`' entries (called whenever a person-day changes)."""
        self._windows.clear()

    def _days(self, userid: str, start: date, end: date) -> list[PersonDay]:
        per = self.world.by_user.get(userid)
        if not per:
            return []
        return [per[d] for d in _dates(start, end) if d in per]


@functools.lru_cache(maxsize=256)
def _dates(start: date, end: date) -> tuple[date, ...]:
    """``dates_between(start, end)`` memoised (every user of a window asks the same dates)."""
    return tuple(dates_between(start, end))
