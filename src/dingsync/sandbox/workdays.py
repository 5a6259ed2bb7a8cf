"""THE sandbox's company calendar, shared by the areas that generate history: the work dates
before the anchor, the public holiday among them and which dates are rest days.

Every area of one sandbox draws from the same ``(anchor day, days)``, so attendance schedules
rest on exactly the dates no one writes a 日报 (reports). Dates are calendar dates in
Asia/Shanghai.
"""

from __future__ import annotations

from datetime import date, timedelta


def history_dates(anchor_day: date, days: int) -> list[date]:
    """The ``days`` calendar dates before ``anchor_day`` (Asia/Shanghai), oldest first."""
    return [anchor_day - timedelta(days=n) for n in range(days, 0, -1)]


def public_holidays(dates: list[date]) -> frozenset[date]:
    """The public holidays among ``dates``: the first Wednesday (none when there is none)."""
    return frozenset(d for d in dates[:7] if d.weekday() == 2)


def is_rest_day(day: date, holidays: frozenset[date] | set[date] | list[date]) -> bool:
    """Whether ``day`` rests in the calendar: Saturday, Sunday or one of ``holidays``."""
    return day.weekday() >= 5 or day in holidays
