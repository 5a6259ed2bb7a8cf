"""``GET /api/me/summary`` — the caller's own numbers, for the console's 我的 (issue #13).

Each number comes from the area's own query with the caller as the only person:

- reports sent: ``GET /api/reports?creator=<me>`` (:func:`repo_reports.list_reports` with the
  caller's own scope); received: :func:`repo_reports.received_reports` (reports where the
  caller is a receiver);
- attendance this month so far: the caller's row of ``GET /api/attendance/summary``
  (:func:`dingsync.web.routers.attendance.summary` with ``userid=<me>``);
- approvals originated: ``GET /api/approvals?originator=<me>``; to approve: running instances
  with a running task of the caller (:func:`repo_approvals.waiting_for`).
"""

from __future__ import annotations

from typing import Any

from dingsync.store import repo_approvals, repo_reports, visibility
from dingsync.web.context import WebContext
from dingsync.web.data import jsonable
from dingsync.web.deps import Caller

#: ``time_result`` values counted as late / early / missing / absent.
LATE = ("Late", "SeriousLate")
EARLY = ("Early",)
MISSING = ("NotSigned",)
ABSENT = ("Absenteeism",)


def _count(results: dict[str, int], keys: tuple[str, ...]) -> int:
    return sum(int(results.get(k, 0)) for k in keys)


def summary(ctx: WebContext, caller: Caller, *, latest: int = 5) -> dict[str, Any]:
    """The caller's reports, attendance and approvals (shape: :class:`~dingsync.web.models.
    MySummary`; times epoch ms)."""
    from dingsync.web.routers import attendance

    me = caller.userid
    own = visibility.Visible(owner=me)
    with ctx.engine.connect() as conn:
        sent, sent_total = repo_reports.list_reports(
            conn, ctx.corp_id, own, creator=me, limit=max(latest, 1)
        )
        received, received_total = repo_reports.received_reports(
            conn, ctx.corp_id, me, limit=max(latest, 1)
        )
        originated, originated_total = repo_approvals.list_approvals(
            conn, ctx.corp_id, own, originator=me, limit=max(latest, 1)
        )
        waiting, waiting_total = repo_approvals.waiting_for(
            conn, ctx.corp_id, me, limit=max(latest, 1)
        )
    month = attendance.summary(ctx, caller, userid=me)
    person = next((p for p in month["people"] if p["userid"] == me), None) or {}
    results = {k: int(v) for k, v in (person.get("results") or {}).items()}
    return {
        "reports_sent": {"total": sent_total, "latest": [jsonable(r) for r in sent[:latest]]},
        "reports_received": {
            "total": received_total,
            "latest": [jsonable(r) for r in received[:latest]],
        },
        "attendance": {
            "start_date": month["start_date"],
            "end_date": month["end_date"],
            "days": int(person.get("days", 0)),
            "checks": int(person.get("checks", 0)),
            "late": _count(results, LATE),
            "early": _count(results, EARLY),
            "missing": _count(results, MISSING),
            "absent": _count(results, ABSENT),
            "results": results,
        },
        "approvals_originated": {
            "total": originated_total,
            "latest": [jsonable(r) for r in originated[:latest]],
        },
        "approvals_to_approve": {
            "total": waiting_total,
            "latest": [jsonable(r) for r in waiting[:latest]],
        },
    }
