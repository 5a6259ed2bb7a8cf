"""The cross-check of our monthly summary against DingTalk's own 考勤报表 (``dingsync attendance
crosscheck``).

:func:`crosscheck_month` computes the month's summary from the synced data
(:func:`dingsync.export.attendance.monthly_summary`), then asks DingTalk — live, not the synced
copy — for its report's column values of every person in it:

- ``POST /topapi/attendance/getattcolumns``: the columns; those whose ``alias`` we compute
  (:data:`~dingsync.export.attendance.COLUMN_ALIASES`) are compared, the others are listed as
  not compared (出差, 外出, 加班 … see ``NOT_COMPUTED``);
- ``POST /topapi/attendance/getcolumnval`` per person (≤ 20 ids × ≤ 31 days per call): the
  per-day values, summed over the month;
- ``POST /topapi/attendance/getleavetimebynames`` per person: 请假 per leave type (by the names
  of the leave columns, in the type's unit), compared with ``PersonSummary.leave``.

Each (person, column) is one *cell*; a cell agrees when both numbers are within 0.01. People who
are no longer active are not checked (DingTalk serves no report data for people who left).
Nothing is written: DingTalk's numbers never replace ours.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import TYPE_CHECKING

from sqlalchemy import Connection, select

from dingsync.export.attendance import (
    COLUMN_ALIASES,
    METRIC_LABELS,
    MonthlySummary,
    monthly_summary,
)
from dingsync.store.schema import users
from dingsync.timeutil import SHANGHAI

if TYPE_CHECKING:
    from dingsync.dingtalk import DingTalkClient
    from dingsync.dingtalk.models.attendance import ColumnDayValue

#: Two numbers agree when they differ by less than this (values are tenths or quarter days).
TOLERANCE = 0.01
#: People fetched at the same time (each is one or two calls; the client paces per API).
CONCURRENCY = 8


@dataclass(frozen=True)
class CellDisagreement:
    """One person × column where DingTalk's report and our summary differ."""

    userid: str
    name: str
    column: str
    ours: float
    dingtalk: float


@dataclass
class CrossCheck:
    """The result for a month: cells checked and agreeing, every disagreement, the columns
    compared (DingTalk's names, in its order), DingTalk's columns we do not compute, and the
    people not checked (no longer active)."""

    month: str
    summary: MonthlySummary
    cells: int = 0
    agree: int = 0
    disagreements: list[CellDisagreement] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)
    not_compared: list[str] = field(default_factory=list)
    skipped_people: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every checked cell agrees."""
        return not self.disagreements

    def headline(self) -> str:
        """``"N cells checked, N agree"``."""
        return f"{self.cells} cells checked, {self.agree} agree"


def _total(values: Iterable[ColumnDayValue]) -> float:
    total = 0.0
    for v in values:
        try:
            total += float(v.value or 0)
        except ValueError:
            return float("nan")
    return total


def _active(conn: Connection, corp_id: str) -> set[str]:
    return {
        r.userid
        for r in conn.execute(
            select(users.c.userid).where(users.c.corp_id == corp_id, users.c.status == "active")
        )
    }


async def crosscheck_month(
    conn: Connection,
    client: DingTalkClient,
    corp_id: str,
    month: str,
    dept_id: int | None = None,
    *,
    tz: tzinfo = SHANGHAI,
) -> CrossCheck:
    """Compare ``month``'s summary (``YYYY-MM``; optionally only department ``dept_id`` and
    its sub-departments) with DingTalk's report columns, cell by cell. Raises ``ValueError``
    for a malformed month and :class:`~dingsync.dingtalk.DingTalkError` when DingTalk refuses
    (e.g. 智能统计 not open: ``getattcolumns`` fails)."""
    summary = monthly_summary(conn, corp_id, month, dept_id, tz=tz)
    out = CrossCheck(month, summary)
    api = client.attendance
    columns = await api.list_columns()
    ours_by_leave_name = {c.name: c for c in summary.leave_columns if c.name != c.leave_code}
    compared: list[tuple[int, str, str]] = []  # (column id, DingTalk's name, metric)
    leave_names: list[str] = []
    for c in columns:
        name = c.name or c.alias or str(c.id)
        if c.id is not None and c.alias in COLUMN_ALIASES:
            compared.append((int(c.id), name, COLUMN_ALIASES[c.alias]))
        elif c.id is None and c.name in ours_by_leave_name:
            leave_names.append(c.name)
        elif c.sub_type != 2:  # text columns (出勤班次) are not numbers
            out.not_compared.append(name)
    out.compared = [n for _, n, _ in compared] + leave_names
    active = _active(conn, corp_id)
    people = [r for r in summary.rows if r.userid in active]
    out.skipped_people = [r.userid for r in summary.rows if r.userid not in active]
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(row_index: int) -> list[tuple[str, float, float]]:
        row = people[row_index]
        async with slots:
            values = (
                await api.get_column_values(
                    row.userid, [cid for cid, _, _ in compared], summary.start, summary.end
                )
                if compared
                else []
            )
            leave = (
                await api.get_leave_time_by_names(
                    row.userid, leave_names, summary.start, summary.end
                )
                if leave_names
                else []
            )
        theirs = {v.column_id: _total(v.values) for v in values}
        cells = [
            (name, row.metrics[metric], theirs.get(cid, 0.0)) for cid, name, metric in compared
        ]
        theirs_leave = {lv.name: _total(lv.values) for lv in leave}
        for lname in leave_names:
            col = ours_by_leave_name[lname]
            cells.append(
                (col.label, row.leave.get(col.leave_code, 0.0), theirs_leave.get(lname, 0.0))
            )
        return cells

    results = await asyncio.gather(*(one(i) for i in range(len(people))))
    for row, cells in zip(people, results, strict=True):
        for column, ours, dingtalk in cells:
            out.cells += 1
            if abs(ours - dingtalk) < TOLERANCE:
                out.agree += 1
            else:
                out.disagreements.append(
                    CellDisagreement(row.userid, row.name, column, ours, dingtalk)
                )
    return out


__all__ = ["METRIC_LABELS", "CellDisagreement", "CrossCheck", "crosscheck_month"]
