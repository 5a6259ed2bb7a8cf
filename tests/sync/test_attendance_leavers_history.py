"""Leavers keep their attendance history, end to end, on SQLite and PostgreSQL.

Full sync (directory and attendance), someone leaves, full sync again, then an incremental one:
every attendance table is compared row by row before and after (nothing of the leaver's earlier
days is deleted), and the views that pick people by department still include the leaver for
the days they were employed — the department filter of the attendance list, summary and
monthly export, and a sub-administrator's scope. The full directory sync takes the leaver out
of every department; before the fix it took their attendance out of every department view
with them (the monthly summary of the whole company's root department lost them).
"""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, select

from dingsync.export.attendance import monthly_summary
from dingsync.sandbox import SandboxServer
from dingsync.store import repo_attendance
from dingsync.store.schema import user_departments, users
from dingsync.store.schema_attendance import (
    attendance_column_values,
    attendance_leaves,
    attendance_records,
    attendance_results,
    attendance_schedules,
)
from dingsync.store.visibility import Visible
from helpers.attendance import SEED, sync_all
from helpers.sandboxes import SandboxSpec, mutate

SANDBOX = SandboxSpec(seed=SEED, users=60, days=30, private=True)
TABLES = (
    attendance_results,
    attendance_records,
    attendance_schedules,
    attendance_leaves,
    attendance_column_values,
)
#: Written by every sync: not part of what must survive.
STAMPS = {"synced_at", "updated_at", "created_at"}


def _snapshot(engine: Engine, corp: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every attendance row of the company, per table, without the sync's own stamps."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for t in TABLES:
            cols = [c for c in t.c if c.name not in STAMPS]
            rows = conn.execute(select(*cols).where(t.c.corp_id == corp)).all()
            out[t.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def _of(snapshot: dict[str, list[tuple[Any, ...]]], userid: str) -> dict[str, list[Any]]:
    idx = {t.name: [c.name for c in t.c if c.name not in STAMPS].index("userid") for t in TABLES}
    return {name: [r for r in rows if r[idx[name]] == userid] for name, rows in snapshot.items()}


def _views(engine: Engine, corp: str, userid: str, dept_id: int) -> dict[str, Any]:
    """What the department views show of ``userid``'s attendance."""
    with engine.connect() as conn:
        dates = sorted(
            set(
                conn.execute(
                    select(attendance_results.c.work_date).where(
                        attendance_results.c.corp_id == corp,
                        attendance_results.c.userid == userid,
                    )
                ).scalars()
            )
        )
        start, end = dates[0], dates[-1]
        everyone = Visible(everything=True)
        listed, total = repo_attendance.list_attendance_results(
            conn, corp, everyone, start=start, end=end, userid=userid, dept_ids=[dept_id], limit=500
        )
        summary = repo_attendance.attendance_summary(
            conn, corp, everyone, start=start, end=end, dept_ids=[dept_id]
        )
        scoped, scoped_total = repo_attendance.list_attendance_results(
            conn, corp, Visible(dept_ids=(dept_id,)), start=start, end=end, userid=userid,
            limit=500,
        )  # fmt: skip
        months = sorted({d.strftime("%Y-%m") for d in dates})
        monthly = [
            [
                (r.userid, r.departments, r.metrics)
                for r in monthly_summary(conn, corp, m, dept_id=dept_id).rows
                if r.userid == userid
            ]
            for m in months
        ]
    return {
        "list": (total, sorted(r["id"] for r in listed)),
        "summary": [s for s in summary if s["userid"] == userid],
        "scope": (scoped_total, sorted(r["id"] for r in scoped)),
        "monthly": monthly,
    }


def test_a_leaver_keeps_attendance_rows_and_department_views(
    sandbox: SandboxServer, engine: Engine
) -> None:
    corp = sandbox.app.corp_id
    assert asyncio.run(sync_all(sandbox, engine, columns=True)).status == "succeeded"
    before = _snapshot(engine, corp)
    with engine.connect() as conn:
        counts = conn.execute(
            select(attendance_results.c.userid, sa.func.count())
            .where(attendance_results.c.corp_id == corp)
            .group_by(attendance_results.c.userid)
        ).all()
        # someone with attendance who is not the main administrator (the sync's operator)
        userid = next(
            u for u, n in sorted(counts) if n > 0 and u != sandbox.company.main_admin_userid
        )
        dept_id = min(
            conn.execute(
                select(user_departments.c.dept_id).where(
                    user_departments.c.corp_id == corp, user_departments.c.userid == userid
                )
            ).scalars()
        )
    views = _views(engine, corp, userid, dept_id)
    assert views["list"][0] > 0 and views["summary"] and all(views["monthly"])
    assert views["scope"] == views["list"]

    mutate(sandbox, "contacts/leave", userid=userid)
    assert asyncio.run(sync_all(sandbox, engine, columns=True)).status == "succeeded"
    with engine.connect() as conn:
        status = conn.execute(
            select(users.c.status).where(users.c.corp_id == corp, users.c.userid == userid)
        ).scalar_one()
    assert status in ("left", "inactive")
    after_full = _snapshot(engine, corp)
    assert _of(after_full, userid) == _of(before, userid)
    assert any(_of(before, userid).values())
    assert _views(engine, corp, userid, dept_id) == views

    result = asyncio.run(sync_all(sandbox, engine, columns=True, kind="incremental"))
    assert result.status == "succeeded"
    assert _of(_snapshot(engine, corp), userid) == _of(before, userid)
    assert _views(engine, corp, userid, dept_id) == views
