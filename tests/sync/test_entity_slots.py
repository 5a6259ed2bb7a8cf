"""The engine's bound on fetches in flight is per entity: units of one entity waiting on their
API (here: on an event) cannot take every slot from another entity's units. With one bound for
the whole run, the directory's department units — two calls each, at 20 QPS, every answer
adding children — filled the slots and held the members' ``user/list`` to a third of its rate
limit until the tree was walked."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Connection, Engine

from dingsync.sandbox import SandboxServer
from dingsync.sync.engine import SyncContext, run_sync
from helpers.sandboxes import make_client


class Blocked:
    """Entity ``blocked``: ``n`` units whose fetch waits until the other entity's unit ran."""

    name = "blocked"

    def __init__(self, n: int, released: asyncio.Event) -> None:
        self.n = n
        self.released = released

    async def run(self, ctx: SyncContext) -> None:
        async def fetch() -> int:
            await self.released.wait()
            return 1

        def write(conn: Connection, data: int) -> None:
            return None

        await ctx.gather(ctx.unit(self.name, str(i), fetch, write) for i in range(self.n))


class Releaser:
    """Entity ``releaser``: one unit, started after the blocked units hold their slots."""

    name = "releaser"

    def __init__(self, released: asyncio.Event) -> None:
        self.released = released

    async def run(self, ctx: SyncContext) -> None:
        await asyncio.sleep(0.05)  # the blocked entity's units are all waiting by now

        async def fetch() -> str:
            self.released.set()
            return "ran"

        def write(conn: Connection, data: str) -> None:
            return None

        await ctx.unit(self.name, "only", fetch, write)


async def test_units_waiting_in_one_entity_leave_slots_to_another(
    sandbox: SandboxServer, engine: Engine
) -> None:
    released = asyncio.Event()
    blocked = Blocked(6, released)
    seen: list[Any] = []
    async with make_client(sandbox) as client:
        # Two slots per entity, six blocked units: with one bound for the run the releaser
        # would wait behind them for ever.
        result = await asyncio.wait_for(
            run_sync(
                client,
                engine,
                sandbox.app.corp_id,
                [_Both(blocked, Releaser(released))],
                concurrency=2,
                on_context=seen.append,
            ),
            timeout=20,
        )
    assert result.status == "succeeded"
    fetched = set(seen[0].fetched)
    assert ("releaser", "only") in fetched
    assert {("blocked", str(i)) for i in range(6)} <= fetched


class _Both:
    """Runs both entities side by side in one run (as the directory runs departments and
    members)."""

    name = "both"

    def __init__(self, *parts: Any) -> None:
        self.parts = parts

    async def run(self, ctx: SyncContext) -> None:
        await ctx.gather(p.run(ctx) for p in self.parts)
