"""A full attendance sync after someone left keeps their earlier attendance (their history is
not the window of any active person's chunk, so nothing may delete it). Several people chunks
(130 people, 50 a chunk) and the leaver in a later one, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine, func, select

from dingsync.sandbox import SandboxServer
from dingsync.store.schema import users
from dingsync.store.schema_attendance import attendance_records, attendance_results
from helpers.attendance import SEED, sync_all
from helpers.sandboxes import SandboxSpec, mutate

SANDBOX = SandboxSpec(seed=SEED, users=130, days=30, private=True)


def _rows(engine: Engine, corp: str, userid: str) -> tuple[int, int]:
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(
                select(func.count()).where(t.c.corp_id == corp, t.c.userid == userid)
            ).scalar_one()
            for t in (attendance_results, attendance_records)
        )


def test_a_full_sync_after_someone_left_keeps_their_attendance(
    sandbox: SandboxServer, engine: Engine
) -> None:
    corp = sandbox.app.corp_id
    assert asyncio.run(sync_all(sandbox, engine, days=30)).status == "succeeded"
    with engine.connect() as conn:
        active = [
            r.userid
            for r in conn.execute(
                select(users.c.userid).where(users.c.corp_id == corp).order_by(users.c.userid)
            )
        ]
    # someone with results, in the middle of the first people chunk
    userid = next(u for u in active[60:] if _rows(engine, corp, u)[0] > 0)
    before = _rows(engine, corp, userid)
    mutate(sandbox, "contacts/leave", userid=userid)

    assert asyncio.run(sync_all(sandbox, engine, days=30)).status == "succeeded"
    with engine.connect() as conn:
        status = conn.execute(
            select(users.c.status).where(users.c.corp_id == corp, users.c.userid == userid)
        ).scalar_one()
    assert status in ("left", "inactive")
    assert _rows(engine, corp, userid) == before
