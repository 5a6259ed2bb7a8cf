"""Query parameters of the console's pages, read one way on every page.

A page's filters come from a form (text), so they are read here rather than declared as typed
FastAPI parameters: an empty field means "not given", and a malformed one is
``request.invalid`` with a message in the console's language naming the field. Dates must lie
in years :data:`~dingsync.web.export_kinds.MONTH_YEARS` (the day windows around them must
exist: a year-1 day is refused, not a 500).
"""

from __future__ import annotations

from datetime import date

from dingsync.web.errors import WebError
from dingsync.web.export_kinds import MONTH_YEARS


def text(value: str | None, limit: int = 255) -> str | None:
    """A parameter as given, stripped and cut to ``limit`` characters; ``None`` when empty."""
    value = (value or "").strip()
    return value[:limit] or None


def day(label: str, value: str | None) -> date | None:
    """``YYYY-MM-DD`` → a date (``None`` when empty). Raises ``request.invalid`` for anything
    else or a year outside :data:`MONTH_YEARS`."""
    raw = text(value, 32)
    if raw is None:
        return None
    try:
        found = date.fromisoformat(raw)
    except ValueError as exc:
        raise WebError("request.invalid", f"{label}不是日期（YYYY-MM-DD）：{raw}") from exc
    if not MONTH_YEARS[0] <= found.year <= MONTH_YEARS[1]:
        raise WebError(
            "request.invalid", f"{label}超出范围（{MONTH_YEARS[0]}–{MONTH_YEARS[1]} 年）：{raw}"
        )
    return found


def integer(label: str, value: str | None, *, low: int = 1) -> int | None:
    """A whole number in ``low`` … 2**62 (``None`` when empty). Raises ``request.invalid``
    otherwise."""
    raw = text(value, 32)
    if raw is None:
        return None
    try:
        number = int(raw)
    except ValueError as exc:
        raise WebError("request.invalid", f"{label}不是数字：{raw}") from exc
    if not low <= number <= 2**62:
        raise WebError("request.invalid", f"{label}超出范围（≥ {low}）：{raw}")
    return number
