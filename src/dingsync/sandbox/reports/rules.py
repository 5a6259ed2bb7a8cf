"""Report statistics rules (统计规则) of the sandbox world and the statistics DingTalk derives
from them (docs/reports.md, "Statistics rules").

A rule belongs to one template and says *when* a report is due and *who* must submit it:
``period_type`` (1 daily, 2 weekly, 3 monthly), one submit window per due day —
``startDateTime[i]``/``endDateTime[i]`` as ``"<n> HH:mm"`` (``n``: ISO weekday 1–7 for daily and
weekly rules, day of the month for monthly ones; the end is the first such day and time after the
start) — and the people counted (``userIds`` of ``submitStatisticalResults``).

How a report counts (the reading docs/reports.md states; DingTalk does not document it, so it is
an open point): the windows of a person's periods, in time order, each claim the reports created
from their start up to the next window's start; the first claimed report decides — created by the
window's end: on time (``1``), after it: late (``2``); none: missing (``0``). A period is dated on
the (GMT+8) day its window opens; periods before the person was hired are not counted.

This module is the sandbox's own implementation (the product's is
``dingsync.export.report_rules``): the test compares the two.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dingsync.timeutil import WIRE_TZ

#: ``periodType`` values.
DAILY, WEEKLY, MONTHLY = 1, 2, 3
#: ``userIdStatusMap`` values.
MISSING, ON_TIME, LATE = 0, 1, 2


@dataclass(frozen=True)
class StatRule:
    """One statistics rule (``statisticalRules/results`` ``dataList[]``) and its scope."""

    remind_id: int
    template: str
    period_type: int
    starts: tuple[str, ...]
    ends: tuple[str, ...]
    userids: tuple[str, ...]
    creator_id: str

    def wire(self, template_id: str) -> dict[str, object]:
        """The ``dataList[]`` item."""
        return {
            "creatorId": self.creator_id,
            "endDateTime": list(self.ends),
            "modifierId": self.creator_id,
            "periodType": self.period_type,
            "remindId": self.remind_id,
            "startDateTime": list(self.starts),
            "templateId": template_id,
            "toGroups": [],
        }


def _split(entry: str) -> tuple[int, time]:
    day, _, clock = entry.strip().partition(" ")
    hh, _, mm = clock.partition(":")
    return int(day), time(int(hh), int(mm))


def _at(day: date, clock: time) -> int:
    return int(datetime.combine(day, clock, WIRE_TZ).timestamp() * 1000)


def windows(rule: StatRule, first: date, last: date) -> list[tuple[date, int, int]]:
    """``(due day, window start ms, window end ms)`` of every window opening on a day in
    ``[first, last]`` (GMT+8), in time order."""
    pairs = [(_split(s), _split(e)) for s, e in zip(rule.starts, rule.ends, strict=True)]
    out: list[tuple[date, int, int]] = []
    day = first
    while day <= last:
        for (sn, st), (en, et) in pairs:
            if rule.period_type == MONTHLY:
                if day.day != sn:
                    continue
                end_day = day.replace(day=1)
                ahead = day
                while True:  # the first day numbered ``en`` at or after the start
                    if ahead.day == en and (ahead > day or et > st):
                        end_day = ahead
                        break
                    ahead += timedelta(days=1)
            else:
                if day.isoweekday() != sn:
                    continue
                gap = (en - sn) % 7
                if gap == 0 and et <= st:
                    gap = 7
                end_day = day + timedelta(days=gap)
            out.append((day, _at(day, st), _at(end_day, et)))
        day += timedelta(days=1)
    out.sort(key=lambda w: w[1])
    return out


def statuses(
    rule: StatRule,
    created: Iterable[int],
    first: date,
    last: date,
    *,
    hired: date | None = None,
) -> dict[str, int]:
    """``{due day ISO: status}`` of one person for the windows opening in ``[first, last]``,
    from the creation times (ms) of their reports of the rule's template."""
    times = sorted(created)
    # one more window after the range bounds the last period's claim
    spans = windows(rule, first, last + timedelta(days=40))
    out: dict[str, int] = {}
    for i, (due, start, end) in enumerate(spans):
        if due > last:
            break
        if hired is not None and due < hired:
            continue
        nxt = spans[i + 1][1] if i + 1 < len(spans) else None
        lo = bisect.bisect_left(times, start)
        claimed = times[lo] if lo < len(times) and (nxt is None or times[lo] < nxt) else None
        if claimed is None:
            out[due.isoformat()] = MISSING
        else:
            out[due.isoformat()] = ON_TIME if claimed <= end else LATE
    return out
