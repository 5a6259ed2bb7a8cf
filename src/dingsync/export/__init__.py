"""Export writers (xlsx/csv) shared by the CLI and the web service, and what both record of a
written file in the export audit."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from types import ModuleType
from typing import Any

from dingsync.timeutil import SHANGHAI


def file_digest(path: str | Path) -> tuple[str, int]:
    """SHA-256 (hex) and size in bytes of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def local(moment: datetime | None, tz: tzinfo = SHANGHAI) -> datetime | None:
    """An instant as naive wall time in the company's zone ``tz`` (what a spreadsheet shows and
    people read in DingTalk); ``None`` stays ``None``. The store's times are UTC: a naive one is
    taken as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz).replace(tzinfo=None)


#: Excel's epoch (the 1900 date system, XlsxWriter's default) and the instants' epochs.
_EXCEL_EPOCH = datetime(1899, 12, 31)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_AWARE_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HOUR_END = timedelta(hours=1) - timedelta(microseconds=1)


_HOUR = timedelta(hours=1)
#: Lengths of SQLite's stored instants (``YYYY-MM-DD HH:MM:SS`` and with ``.ffffff``).
_SQLITE_LENGTHS = (19, 26)


def _sqlite_layout(value: str) -> bool:
    """Whether ``value`` is ``YYYY-MM-DD HH:MM:SS`` or ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    return (
        len(value) in _SQLITE_LENGTHS
        and value[4] == "-"
        and value[7] == "-"
        and value[10] == " "
        and value[13] == ":"
        and value[16] == ":"
        and (len(value) == 19 or value[19] == ".")
        and (value[:4] + value[5:7] + value[8:10] + value[11:13]).isdigit()
        and (value[14:16] + value[17:19] + value[20:]).isdigit()
    )


class WallClock:
    """The store's instants, as the database driver returns them, as wall time in ``tz`` —
    :func:`local` for a whole export column without a ``datetime``/``astimezone`` per value.

    A driver value is SQLite's text (``YYYY-MM-DD HH:MM:SS[.ffffff]``, UTC), a naive UTC
    ``datetime`` (MySQL/MariaDB) or an aware one (PostgreSQL). The zone's UTC offset is
    looked up once per UTC hour (and per value only in an hour where it changes, e.g. a
    daylight-saving switch), then added. ``None`` stays ``None``.

    SQLite's text in an hour whose offset is a whole number of hours throughout (every hour
    of most zones, Asia/Shanghai's always) takes a shorter way still: the wall hour's text
    (``YYYY-MM-DD HH``) and Excel day and seconds are kept per UTC hour, and a value only
    adds its minutes and seconds — the same text and the same serial (the same float
    operations) as the general way, which every other value takes."""

    def __init__(self, tz: tzinfo) -> None:
        self._tz = tz
        self._offsets: dict[Any, timedelta | None] = {}
        #: SQLite's UTC hour text (``YYYY-MM-DD HH``) → its wall hour's text, and → the wall
        #: hour's Excel ``(days, seconds)``: hours with a constant whole-hour offset only.
        self._hour_text: dict[str, str] = {}
        self._hour_serial: dict[str, tuple[int, int]] = {}

    def _offset(self, utc: datetime, key: Any) -> timedelta:
        """UTC offset of ``tz`` at naive UTC ``utc``, cached for its hour ``key`` when the offset
        holds for the whole hour."""
        hour = utc.replace(minute=0, second=0, microsecond=0, tzinfo=UTC)
        first = hour.astimezone(self._tz).utcoffset()
        last = (hour + _HOUR_END).astimezone(self._tz).utcoffset()
        self._offsets[key] = first if first == last else None
        if first == last and first is not None:
            return first
        return utc.replace(tzinfo=UTC).astimezone(self._tz).utcoffset() or timedelta(0)

    def _learn(self, value: str) -> None:
        """Keep the wall hour of SQLite text ``value``'s UTC hour for :meth:`text` and
        :meth:`excel` when that hour's offset is constant and a whole number of hours."""
        key = value[:13]
        if key in self._hour_text or not _sqlite_layout(value):
            return
        hour = datetime.fromisoformat(key + ":00:00")
        self.local(value)  # looks the hour's offset up
        offset = self._offsets.get(key)
        if offset is None or offset % _HOUR:
            return
        wall = hour + offset
        self._hour_text[key] = wall.isoformat(" ")[:13]
        delta = wall - _EXCEL_EPOCH
        if delta.days >= 61:  # past XlsxWriter's rules for January and February 1900
            self._hour_serial[key] = (delta.days, delta.seconds)

    def local(self, value: Any) -> datetime | None:
        """``value`` (a driver's instant, see the class) as naive wall time in ``tz``: the same
        as ``local(instant, tz)``."""
        if value is None:
            return None
        if value.__class__ is str:
            key: Any = value[:13]
            utc = datetime.fromisoformat(value)
        elif value.tzinfo is None:
            utc = value
            key = utc.replace(minute=0, second=0, microsecond=0)
        else:
            utc = _NAIVE_EPOCH + (value - _AWARE_EPOCH)
            key = utc.replace(minute=0, second=0, microsecond=0)
        offset = self._offsets.get(key)
        if offset is None:
            offset = self._offset(utc, key)
        return utc + offset

    def text(self, value: Any) -> str | None:
        """``value`` as ``YYYY-MM-DD HH:MM:SS`` wall time in ``tz`` (seconds truncated, as
        ``strftime``), ``None`` for ``None``."""
        if value.__class__ is str and len(value) in _SQLITE_LENGTHS:
            hour = self._hour_text.get(value[:13])
            if hour is not None:
                return hour + value[13:19]
            self._learn(value)
        wall = self.local(value)
        return None if wall is None else wall.isoformat(" ", "seconds")

    def excel(self, value: Any) -> float | None:
        """``value`` as an Excel serial date-time of its wall time in ``tz`` (days since
        1899-12-31 in the 1900 date system, with Excel's 1900 leap day: exactly XlsxWriter's
        number for that naive datetime), ``None`` for ``None``."""
        if value.__class__ is str and len(value) in _SQLITE_LENGTHS:
            hour = self._hour_serial.get(value[:13])
            if hour is not None:
                days, seconds = hour
                # delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400, then + 1
                seconds += int(value[14:16]) * 60 + int(value[17:19])
                micro = int(value[20:]) if len(value) == 26 else 0
                fast: float = days + (seconds + micro / 1e6) / 86400
                return fast + 1
            self._learn(value)
        wall = self.local(value)
        if wall is None:
            return None
        delta = wall - _EXCEL_EPOCH
        serial: float = delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400
        if serial < 61:  # January and February 1900: XlsxWriter's own rules
            from xlsxwriter.utility import _datetime_to_excel_datetime

            return float(_datetime_to_excel_datetime(wall, False, True))
        return serial + 1


# The area modules import the helpers above, so they come last.
from dingsync.export import approvals, attendance, reports  # noqa: E402

#: The export module of each exportable data area (:data:`dingsync.areas.AREAS` with
#: ``exportable``): its writers (``export_reports``, ``monthly_summary`` + ``write_xlsx`` /
#: ``write_csv``, ``export_approvals``) and statistics.
AREA_EXPORTS: dict[str, ModuleType] = {
    "reports": reports,
    "attendance": attendance,
    "approvals": approvals,
}
