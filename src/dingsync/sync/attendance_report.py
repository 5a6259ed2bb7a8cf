"""DingTalk's own 考勤报表, read live for the cross-check (``dingsync attendance crosscheck``).

:func:`fetch_report` asks DingTalk for its report columns (``POST
/topapi/attendance/getattcolumns``) and, per person, the month's per-day values of the columns
asked for (``POST /topapi/attendance/getcolumnval``, ≤ 20 ids × ≤ 31 days a call) and of the
leave columns by name (``POST /topapi/attendance/getleavetimebynames``, in the leave type's
unit), summed over the range. Nothing is stored: the comparison is
:func:`dingsync.export.attendance_check.compare`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dingsync.dingtalk import DingTalkClient
    from dingsync.dingtalk.models.attendance import ColumnDayValue

#: People fetched at the same time (each is one or two calls; the client paces per API).
CONCURRENCY = 8


@dataclass(frozen=True)
class ReportColumn:
    """A column of DingTalk's report (``getattcolumns``): ``id`` (``None`` for a leave column,
    read by ``name``), ``name``, ``alias``, ``sub_type`` (2: text such as 出勤班次)."""

    id: int | None
    name: str
    alias: str | None
    sub_type: int | None


@dataclass
class DingTalkReport:
    """The report's columns in DingTalk's order, those read (``read``: the columns whose values
    were fetched), and per person the total over the range of each read column by name."""

    columns: list[ReportColumn]
    read: list[ReportColumn] = field(default_factory=list)
    totals: dict[str, dict[str, float]] = field(default_factory=dict)


def _total(values: Iterable[ColumnDayValue]) -> float:
    total = 0.0
    for v in values:
        try:
            total += float(v.value or 0)
        except ValueError:
            return float("nan")
    return total


async def fetch_report(
    client: DingTalkClient,
    userids: Iterable[str],
    start: date,
    end: date,
    *,
    aliases: Collection[str],
    leave_names: Collection[str],
) -> DingTalkReport:
    """DingTalk's report for ``userids`` over ``start..end``: the columns whose ``alias`` is
    in ``aliases`` and the leave columns whose name is in ``leave_names``, summed per person.
    Raises :class:`~dingsync.dingtalk.DingTalkError` when DingTalk refuses (e.g. 智能统计 not
    open)."""
    api = client.attendance
    columns = [
        ReportColumn(c.id, c.name or c.alias or str(c.id), c.alias, c.sub_type)
        for c in await api.list_columns()
    ]
    by_id = [c for c in columns if c.id is not None and c.alias in aliases]
    by_name = [c for c in columns if c.id is None and c.name in leave_names]
    report = DingTalkReport(columns, by_id + by_name)
    names_of = {c.id: c.name for c in by_id}
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(userid: str) -> None:
        async with slots:
            values = (
                await api.get_column_values(
                    userid, [int(c.id) for c in by_id if c.id is not None], start, end
                )
                if by_id
                else []
            )
            leave = (
                await api.get_leave_time_by_names(userid, [c.name for c in by_name], start, end)
                if by_name
                else []
            )
        mine = dict.fromkeys((c.name for c in report.read), 0.0)
        for v in values:
            if v.column_id in names_of:
                mine[names_of[v.column_id]] = _total(v.values)
        for lv in leave:
            mine[lv.name] = _total(lv.values)
        report.totals[userid] = mine

    await asyncio.gather(*(one(u) for u in userids))
    return report
