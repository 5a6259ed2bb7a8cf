"""A run in batches of units (what a worker's task does): ``run_sync(..., unit_budget=n)``
stops after ``n`` units with status ``paused``, the row stays ``running`` and the next call
resumes it — every batch commits what it started, no unit is fetched twice, and the last batch
leaves the same data as one uninterrupted run."""

from __future__ import annotations

from sqlalchemy import Engine

from dingsync.sandbox import SandboxServer
from dingsync.store import repo
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import SyncContext, run_sync
from helpers.contacts import assert_db_equals_company
from helpers.sandboxes import make_client


async def test_a_run_in_batches_resumes_without_repeating_a_unit(
    sandbox: SandboxServer, engine: Engine
) -> None:
    corp = sandbox.app.corp_id
    budget = 7
    seen: list[SyncContext] = []
    statuses = []
    async with make_client(sandbox) as client:
        for _ in range(500):
            result = await run_sync(
                client, engine, corp, [ContactsSync()], unit_budget=budget, on_context=seen.append
            )
            statuses.append(result.status)
            if not result.paused:
                break
            with engine.connect() as conn:
                assert (repo.get_sync_run(conn, result.run_id) or {})["status"] == "running"
    assert statuses[-1] == "succeeded" and statuses[:-1] == ["paused"] * (len(statuses) - 1)
    assert len(statuses) > 3  # the directory took several batches
    assert len({ctx.run_id for ctx in seen}) == 1  # each batch resumed the same run
    fetched = [unit for ctx in seen for unit in ctx.fetched]
    assert len(fetched) == len(set(fetched))  # no unit fetched twice
    for ctx in seen[:-1]:
        assert budget <= len(ctx.fetched)  # each batch committed at least its budget
    assert_db_equals_company(engine, corp, sandbox.state.company)
