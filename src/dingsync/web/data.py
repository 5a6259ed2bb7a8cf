"""Helpers shared by the data routers: the rules' scope in the store's terms, day bounds in
the company's zone (``Settings.tz``), and JSON-ready rows (times as epoch ms)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import Query
from sqlalchemy import Connection

from dingsync.store import repo_contacts, visibility
from dingsync.store.schema import to_ms
from dingsync.timeutil import day_end_ms, day_start_ms, from_ms
from dingsync.web import rules
from dingsync.web.context import WebContext
from dingsync.web.errors import WebError

#: The list routes' shared query parameters: a DingTalk userid, a department id and paging.
UserIdQuery = Annotated[str | None, Query(max_length=64)]
DeptIdQuery = Annotated[int | None, Query(ge=1, le=2**62)]
LimitQuery = Annotated[int, Query(ge=1, le=500)]
OffsetQuery = Annotated[int, Query(ge=0, le=10**9)]

#: The values of the enumerated filters, as DingTalk names them (the list routes and the
#: exports take only these: anything else is a 422 ``request.invalid``, not an empty answer).
#: An approval instance's ``status`` (``TERMINATED``: withdrawn 已撤销).
ApprovalStatus = Literal["NEW", "RUNNING", "COMPLETED", "TERMINATED", "CANCELED"]
#: A finished approval instance's ``result``.
ApprovalResult = Literal["agree", "refuse"]
#: An attendance check point's ``timeResult``.
TimeResult = Literal["Normal", "Early", "Late", "SeriousLate", "Absenteeism", "NotSigned"]
#: A punch's ``checkType``.
CheckType = Literal["OnDuty", "OffDuty"]


def visible(scope: rules.Scope) -> visibility.Visible:
    """The rules' :class:`~dingsync.web.rules.Scope` as the store's filter."""
    groups: list[int] = []
    for g in scope.groups:
        try:
            groups.append(int(g))
        except ValueError:
            continue
    return visibility.Visible(
        everything=scope.everything,
        owner=scope.viewer if scope.own else None,
        participant=scope.viewer if scope.participant else None,
        dept_ids=tuple(sorted(scope.depts)),
        group_ids=tuple(sorted(groups)),
    )


def day_bounds(ctx: WebContext, start: date | None, end: date | None) -> tuple[Any, Any]:
    """Calendar days ``start``..``end`` (inclusive, in the company's zone ``Settings.tz``) as
    ``[from, to)`` aware UTC datetimes (``None`` where not given). Raises ``request.invalid``
    when ``end`` is before ``start`` or a day has no UTC time (year 1 or 9999)."""
    tz = ctx.settings.tz
    if start is not None and end is not None and end < start:
        raise WebError("request.invalid", "end_date is before start_date")
    try:
        lo = from_ms(day_start_ms(start, tz)) if start else None
        hi = from_ms(day_end_ms(end, tz) + 1) if end else None
    except (OverflowError, ValueError) as exc:
        raise WebError("request.invalid", "start_date/end_date out of range") from exc
    return lo, hi


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """Datetimes → epoch ms, dates → ``YYYY-MM-DD``; other values as they are."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            out[key] = to_ms(value)
        elif isinstance(value, date):
            out[key] = value.isoformat()
        else:
            out[key] = value
    return out


def dept_filter(ctx: WebContext, conn: Connection, dept_id: int | None) -> list[int] | None:
    """``dept_id`` and its sub-departments (``None`` when no department was asked for)."""
    if dept_id is None:
        return None
    return sorted(ctx.tree(conn).subtree([dept_id]))


def owner_record(
    ctx: WebContext,
    conn: Connection,
    owner: str | None,
    participants: set[str] | frozenset[str] = frozenset(),
    group: str | None = None,
) -> rules.Record:
    """The rules' record for something owned by ``owner``."""
    depts = (
        repo_contacts.memberships_of(conn, ctx.corp_id, [owner]).get(owner, set())
        if owner
        else set()
    )
    return rules.Record(
        owner=owner,
        owner_depts=frozenset(depts),
        participants=frozenset(participants),
        attendance_group=group,
    )
