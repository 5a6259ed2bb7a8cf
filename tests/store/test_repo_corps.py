"""``repo_corps`` on real SQLite and PostgreSQL: two sandbox companies fully synced into one
database; purging one deletes its rows from every company-owned table (its checkpoints and
cached tokens too) and not one row of the other; the append-only export audit stays."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import sqlalchemy as sa

from dingsync.store import repo_audit, repo_corps
from dingsync.store.schema import CORP_STATUSES, sync_checkpoints, sync_runs, token_cache
from dingsync.sync.engine import run_sync
from dingsync.sync.runner import make_entities
from helpers.sandboxes import SandboxPool, SandboxSpec, make_client

SPEC_A = SandboxSpec(seed=31, users=40, days=7)
SPEC_B = SandboxSpec(seed=32, users=25, days=7)


def _sync(engine: sa.Engine, pool: SandboxPool) -> tuple[str, str]:
    a, b = pool.get(SPEC_A), pool.get(SPEC_B)

    async def go() -> None:
        async def one(sb: object) -> None:
            async with make_client(sb) as client:  # type: ignore[arg-type]
                await run_sync(client, engine, client.corp_id or "", make_entities())

        await asyncio.gather(one(a), one(b))

    asyncio.run(go())
    return a.app.corp_id, b.app.corp_id


def _everything(conn: sa.Connection, corp: str) -> dict[str, int]:
    counts = repo_corps.row_counts(conn, corp)
    runs = sa.select(sync_runs.c.id).where(sync_runs.c.corp_id == corp)
    counts["sync_checkpoints"] = conn.execute(
        sa.select(sa.func.count()).where(sync_checkpoints.c.run_id.in_(runs))
    ).scalar_one()
    return counts


def test_purge_deletes_one_company_everywhere_and_nothing_else(
    engine: sa.Engine, sandboxes: SandboxPool
) -> None:
    corp_a, corp_b = _sync(engine, sandboxes)
    tricky = corp_b + "_x"  # a company whose id starts with B's (and holds a LIKE wildcard)
    with engine.begin() as conn:
        for key in (f"k@{corp_a}", f"k@{corp_b}", f"k@{corp_b}:jsapi_ticket", f"k@{tricky}"):
            conn.execute(sa.insert(token_cache).values(cache_key=key, token="t", expires_at=1.0))
        repo_audit.append_export_audit(
            conn,
            {
                "corp_id": corp_b,
                "userid": "someone",
                "created_at": datetime.now(UTC),
                "kind": "users",
                "format": "csv",
                "filters": {},
                "row_count": 0,
                "sha256": "0" * 64,
                "byte_size": 0,
                "client": "cli",
            },
        )
    with engine.connect() as conn:
        before_a = _everything(conn, corp_a)
        before_b = _everything(conn, corp_b)
    # Every area's tables hold rows of both companies: the purge has something to get wrong.
    for table in ("users", "departments", "reports", "attendance_results", "approval_instances"):
        assert before_a.get(table) and before_b.get(table), table
    assert before_b["sync_checkpoints"] > 0

    with engine.begin() as conn:
        deleted = repo_corps.purge_corp(conn, corp_b)
    assert deleted["token_cache"] == 2
    assert {t: n for t, n in deleted.items() if t != "token_cache"} == {
        t: n for t, n in before_b.items() if t not in repo_corps.KEPT_ON_PURGE
    }
    with engine.connect() as conn:
        assert _everything(conn, corp_a) == before_a
        after_b = _everything(conn, corp_b)
        keys = set(conn.execute(sa.select(token_cache.c.cache_key)).scalars())
        assert repo_corps.get_corp(conn, corp_b) is None
        assert repo_corps.get_corp(conn, corp_a) is not None
    assert {t: n for t, n in after_b.items() if n} == {"web_export_audit": 1}
    assert keys == {f"k@{corp_a}", f"k@{tricky}"}


def test_statuses_and_modes_are_checked(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        repo_corps.register_corp(conn, {"corp_id": "c1"})
        row = repo_corps.get_corp(conn, "c1")
        assert row is not None and (row["mode"], row["status"]) == ("internal", "active")
        for status in CORP_STATUSES:
            assert repo_corps.set_status(conn, "c1", status)
            assert repo_corps.get_corp(conn, "c1")["status"] == status  # type: ignore[index]
        assert not repo_corps.set_status(conn, "nobody", "active")
    for bad in ({"corp_id": "c1", "status": "paused"}, {"corp_id": "c1", "mode": "partner"}):
        try:
            with engine.begin() as conn:
                repo_corps.register_corp(conn, bad)
        except repo_corps.UnknownCorpStatus:
            continue
        raise AssertionError(f"{bad} was accepted")
    # The database refuses it too (a check constraint), whatever writes it.
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE corps SET status = 'paused' WHERE corp_id = 'c1'"))
    except sa.exc.IntegrityError:
        pass
    else:
        raise AssertionError("the check constraint let 'paused' in")
