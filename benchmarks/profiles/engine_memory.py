"""Objects left behind by engines opened, used and disposed (the fourth session's memory note).

``python benchmarks/profiles/engine_memory.py [--engines 6] [--database-url URL]``: a sandbox
company (seed 5, 40 people) in this process; per round a new engine (a new SQLite file, or
``URL``), migrated, a contacts + attendance sync through it, disposed and dropped; after
``gc.collect()`` the objects the collector tracks and how many of the rounds' dialects are
still alive. Flat objects and no dialect alive: nothing kept per engine.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import weakref
from pathlib import Path

from sqlalchemy import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engines", type=int, default=6)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    from dingsync.sandbox import SandboxConfig, SandboxServer
    from dingsync.store import db
    from dingsync.sync.attendance import AttendanceSync
    from dingsync.sync.contacts import ContactsSync
    from dingsync.sync.engine import run_sync
    from helpers.sandboxes import make_client

    dialects: list[weakref.ref[object]] = []
    with SandboxServer(SandboxConfig(seed=5, users=40, qps_limit=None)) as sb:
        for i in range(args.engines):
            with tempfile.TemporaryDirectory() as tmp:
                engine = db.create_engine_for(args.database_url or f"sqlite:///{tmp}/x.db")
                db.migrate(engine)

                async def go(engine: Engine = engine) -> None:
                    async with make_client(sb) as client:
                        entities = [ContactsSync(), AttendanceSync()]
                        await run_sync(client, engine, sb.app.corp_id, entities)

                asyncio.run(go())
                dialects.append(weakref.ref(engine.dialect))
                engine.dispose()
                del engine, go
            gc.collect()
            alive = sum(d() is not None for d in dialects)
            print(f"engine {i + 1}: {len(gc.get_objects()):,} objects, {alive} dialects alive")


if __name__ == "__main__":
    main()
