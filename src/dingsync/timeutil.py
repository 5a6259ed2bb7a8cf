"""Time, in one place: DingTalk's epoch milliseconds, the company's calendar days, range windows.

Every layer (client, store, sync, export, web, sandbox) takes its time conversions from here, so
there is one rule for each question:

- **Instants** are epoch milliseconds (DingTalk's unit) or *aware* datetimes. A naive datetime is
  refused with ``ValueError`` everywhere: its zone would be a guess.
- **Calendar days** (work dates, report days) are ``datetime.date`` values in a zone: the
  company's zone from ``Settings.timezone`` (default Asia/Shanghai), passed in as ``tz``.
  DingTalk's own wire strings (``yyyy-MM-dd HH:mm:ss``) are always GMT+8: :data:`WIRE_TZ`.
- **Windows**: a range is cut by :func:`split_ms` / :func:`split_dates` / :func:`split_datetimes`,
  whose edges are documented once: every window is *inclusive at both ends*, windows are
  consecutive and disjoint (the next starts 1 ms / 1 day after the previous ends), and each
  covers at most ``span`` (so ``end - start < span``). An empty or reversed range has no window.

This module imports nothing of dingsync's, so every package may use it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DAY_MS",
    "DEFAULT_TIMEZONE",
    "SHANGHAI",
    "WIRE_FORMAT",
    "WIRE_TZ",
    "day_end_ms",
    "day_start_ms",
    "day_window_ms",
    "format_ms",
    "from_ms",
    "local_date",
    "midnight_ms",
    "now_ms",
    "parse_local",
    "split_dates",
    "split_datetimes",
    "split_ms",
    "to_ms",
    "today",
    "zone",
]

#: The default company timezone (``Settings.timezone``).
DEFAULT_TIMEZONE = "Asia/Shanghai"
#: Asia/Shanghai: UTC+8 all year (no DST since 1991).
SHANGHAI: ZoneInfo = ZoneInfo(DEFAULT_TIMEZONE)
#: The zone of DingTalk's own date-time strings on the wire (``2026-01-05 09:00:00``): GMT+8.
WIRE_TZ: ZoneInfo = SHANGHAI
#: DingTalk's date-time string format.
WIRE_FORMAT = "%Y-%m-%d %H:%M:%S"
#: Milliseconds in a day (a calendar day of a zone without DST).
DAY_MS = 86_400_000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def zone(name: str | tzinfo | None = None) -> tzinfo:
    """The zone named ``name`` (an IANA name such as ``Asia/Shanghai``), or ``name`` itself when
    it already is a ``tzinfo``; ``None`` → Asia/Shanghai. Raises ``ValueError`` for an unknown
    name."""
    if name is None:
        return SHANGHAI
    if isinstance(name, tzinfo):
        return name
    try:
        return ZoneInfo(str(name).strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown timezone {name!r}: use an IANA name such as Asia/Shanghai"
        ) from exc


def to_ms(moment: datetime) -> int:
    """Aware datetime → epoch milliseconds (sub-millisecond part floored).

    Raises ``ValueError`` for a naive datetime and ``TypeError`` for anything else.
    """
    if not isinstance(moment, datetime):
        raise TypeError(f"to_ms needs an aware datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: give it a timezone")
    return (moment - _EPOCH) // _MS


def from_ms(ms: int | float | str) -> datetime:
    """Epoch milliseconds (a number, or a numeric string as DingTalk's samples send) → aware
    UTC datetime. Raises ``TypeError`` for a bool and ``ValueError`` for a non-numeric string."""
    if isinstance(ms, bool):
        raise TypeError("from_ms needs a number of milliseconds, got a bool")
    value = float(ms) if isinstance(ms, str) else ms
    return _EPOCH + timedelta(milliseconds=value)


def now_ms() -> int:
    """Now, epoch milliseconds."""
    return to_ms(datetime.now(UTC))


def local_date(ms: int | float, tz: tzinfo = SHANGHAI) -> date:
    """The calendar day in ``tz`` of the instant ``ms`` (epoch ms)."""
    return from_ms(ms).astimezone(tz).date()


def today(tz: tzinfo = SHANGHAI, *, now: datetime | None = None) -> date:
    """Today's calendar day in ``tz`` (``now``, aware, stands in for the clock)."""
    moment = now if now is not None else datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return moment.astimezone(tz).date()


#: The calendar days a date filter may name (API, console, CLI): every day of them has a UTC
#: instant in every zone and an Excel date (years 1900 … 9998).
DAY_RANGE = (date(1900, 1, 1), date(9998, 12, 31))


def check_day(day: date, name: str = "date") -> date:
    """``day`` itself when it lies in :data:`DAY_RANGE`; raises ``ValueError`` naming
    ``name`` otherwise (year 1 or 9999 would overflow when turned into instants)."""
    if not DAY_RANGE[0] <= day <= DAY_RANGE[1]:
        raise ValueError(
            f"{name} {day.isoformat()} is out of range ({DAY_RANGE[0]} … {DAY_RANGE[1]})"
        )
    return day


def day_start_ms(day: date, tz: tzinfo = SHANGHAI) -> int:
    """Epoch ms of 00:00:00.000 of ``day`` in ``tz``."""
    return to_ms(datetime.combine(day, time(0), tzinfo=tz))


def day_end_ms(day: date, tz: tzinfo = SHANGHAI) -> int:
    """Epoch ms of the last millisecond of ``day`` in ``tz`` (the next day's start − 1)."""
    return day_start_ms(day + timedelta(days=1), tz) - 1


def day_window_ms(first: date, last: date, tz: tzinfo = SHANGHAI) -> tuple[int, int]:
    """``(start, end)`` epoch ms covering the days ``first..last`` of ``tz``, both inclusive."""
    return day_start_ms(first, tz), day_end_ms(last, tz)


def midnight_ms(ms: int | float, tz: tzinfo = SHANGHAI) -> int:
    """Epoch ms of the midnight in ``tz`` that starts the day of the instant ``ms``."""
    return day_start_ms(local_date(ms, tz), tz)


def format_ms(ms: int | float, fmt: str = WIRE_FORMAT, tz: tzinfo = WIRE_TZ) -> str:
    """Epoch ms as text in ``tz`` (default: DingTalk's ``yyyy-MM-dd HH:mm:ss``, GMT+8)."""
    return from_ms(ms).astimezone(tz).strftime(fmt)


def parse_local(text: str, fmt: str = WIRE_FORMAT, tz: tzinfo = WIRE_TZ) -> int:
    """A local date-time string in ``tz`` (default: DingTalk's GMT+8 wire format) → epoch ms.
    Raises ``ValueError`` when ``text`` does not match ``fmt``."""
    return to_ms(datetime.strptime(text, fmt).replace(tzinfo=tz))


def split_ms(start_ms: int, end_ms: int, span_ms: int) -> list[tuple[int, int]]:
    """``[start_ms, end_ms]`` (epoch ms, both inclusive) cut into consecutive windows.

    Each window ``(s, e)`` is inclusive at both ends with ``e - s < span_ms``; the next starts at
    ``e + 1``. ``end_ms < start_ms`` gives no window. Raises ``ValueError`` for ``span_ms < 1``.
    Example: ``split_ms(0, 9, 4)`` → ``[(0, 3), (4, 7), (8, 9)]``.
    """
    if span_ms < 1:
        raise ValueError("span_ms must be at least 1")
    out: list[tuple[int, int]] = []
    cur = int(start_ms)
    end = int(end_ms)
    while cur <= end:
        stop = min(cur + span_ms - 1, end)
        out.append((cur, stop))
        cur = stop + 1
    return out


def split_dates(first: date, last: date, days: int) -> list[tuple[date, date]]:
    """Calendar days ``first..last`` (inclusive) cut into consecutive windows of at most ``days``
    days, each inclusive: ``(d, d + days - 1), …``. ``last < first`` gives no window. Raises
    ``ValueError`` for ``days < 1``."""
    if days < 1:
        raise ValueError("days must be at least 1")
    out: list[tuple[date, date]] = []
    cur = first
    while cur <= last:
        stop = min(last, cur + timedelta(days=days - 1))
        out.append((cur, stop))
        cur = stop + timedelta(days=1)
    return out


def split_datetimes(
    start: datetime, end: datetime, span: timedelta
) -> list[tuple[datetime, datetime]]:
    """:func:`split_ms` for aware datetimes (results in UTC): inclusive windows covering less
    than ``span`` each, the next starting 1 ms after the previous ends. Naive → ``ValueError``."""
    return [(from_ms(s), from_ms(e)) for s, e in split_ms(to_ms(start), to_ms(end), span // _MS)]
