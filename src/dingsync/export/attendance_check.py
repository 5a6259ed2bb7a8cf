"""The cross-check of our monthly summary against DingTalk's own 考勤报表 (``dingsync attendance
crosscheck``).

:func:`report_request` says what to read of DingTalk's report for a summary (the aliases of the
columns we compute, :data:`~dingsync.export.attendance.COLUMN_ALIASES`, and the names of the
leave types); :func:`dingsync.sync.attendance_report.fetch_report` reads it live (getattcolumns,
getcolumnval, getleavetimebynames); :func:`compare` compares it with the summary cell by cell.
Each (person, column) is one *cell*; a cell agrees when both numbers are within 0.01. DingTalk's
numeric columns we do not compute (a company's custom columns …) are listed as not compared.
People who are no longer active are not checked (DingTalk serves no report data for people who
left). Nothing is written: DingTalk's numbers never replace ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, select

from dingsync.export.attendance import COLUMN_ALIASES, MonthlySummary
from dingsync.store.schema import users

#: Two numbers agree when they differ by less than this (values are tenths or quarter days).
TOLERANCE = 0.01


class ReportColumnLike(Protocol):
    """A column of DingTalk's report (``sync.attendance_report.ReportColumn``)."""

    id: int | None
    name: str
    alias: str | None
    sub_type: int | None


class ReportLike(Protocol):
    """DingTalk's report as read (``sync.attendance_report.DingTalkReport``)."""

    columns: Any
    read: Any
    totals: dict[str, dict[str, float]]


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


def active_people(conn: Connection, corp_id: str, summary: MonthlySummary) -> list[str]:
    """The summary's people still active (DingTalk serves report data only for them)."""
    active = {
        r.userid
        for r in conn.execute(
            select(users.c.userid).where(users.c.corp_id == corp_id, users.c.status == "active")
        )
    }
    return [r.userid for r in summary.rows if r.userid in active]


def report_request(summary: MonthlySummary) -> tuple[set[str], set[str]]:
    """``(aliases, leave names)`` to read of DingTalk's report for ``summary``: the columns we
    compute and the leave types we know by name."""
    names = {c.name for c in summary.leave_columns if c.name != c.leave_code}
    return set(COLUMN_ALIASES), names


def compare(summary: MonthlySummary, report: ReportLike, people: list[str]) -> CrossCheck:
    """Compare ``summary`` with DingTalk's ``report`` for ``people`` (active userids), cell by
    cell: every read column × every person. Columns DingTalk serves that we do not compute
    (not text columns, ``sub_type`` 2) are listed in ``not_compared``."""
    out = CrossCheck(summary.month, summary)
    read = list(report.read)
    read_names = {c.name for c in read}
    out.compared = [c.name for c in read]
    out.not_compared = [
        c.name for c in report.columns if c.name not in read_names and c.sub_type != 2
    ]
    wanted = set(people)
    out.skipped_people = [r.userid for r in summary.rows if r.userid not in wanted]
    leave_by_name = {c.name: c for c in summary.leave_columns}
    for row in summary.rows:
        if row.userid not in wanted:
            continue
        theirs = report.totals.get(row.userid, {})
        for col in read:
            if col.id is not None:
                label = col.name
                ours = row.metrics[COLUMN_ALIASES[str(col.alias)]]
            else:
                leave = leave_by_name[col.name]
                label = leave.label
                ours = row.leave.get(leave.leave_code, 0.0)
            dingtalk = theirs.get(col.name, 0.0)
            out.cells += 1
            if abs(ours - dingtalk) < TOLERANCE:
                out.agree += 1
            else:
                out.disagreements.append(
                    CellDisagreement(row.userid, row.name, label, ours, dingtalk)
                )
    return out
