"""Floors of the directory's CPU per DingTalk call, one process, one sandbox (branch dir18).

``.venv/bin/python benchmarks/profiles/directory_floors18.py [rounds]`` from the repository's
root: starts the sandbox in its own process (2,000 people, 200 QPS/API, 30 ms), then in each
round measures process CPU ÷ HTTP requests of

- ``aiohttp``: aiohttp alone, ``POST /topapi/v2/department/get`` (the sync's commonest call)
  over one ``ClientSession``, 24 in flight, the body read and nothing else;
- ``client``: the same calls through ``DingTalkClient.oapi`` (per-path limiter, token,
  retries' bookkeeping, the aiohttp seam, answer decoding), no model;
- ``client+model``: ``client.contacts.get_department`` and the sync's ``_raw`` (pydantic
  validate + dump of the detail);
- ``members``: every department's ``/topapi/v2/user/list`` pages through
  ``iter_department_users(...).to_list()`` and ``_raw`` per person (the sync's member fetch);
- ``sync-no-rows``: the directory sync with ``DirectoryBatch.flush`` a no-op (engine, units,
  rows built and staged, checkpoints and the other writes committed; no department, user or
  membership row written);
- ``sync``: the directory sync (the bench's figure).

Prints best and median per line. Calls of one path at a time (the first three lines, ~530 calls
each) are paced by the limiter like the sync's busiest path.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import bench_directory as bench
import httpx

from dingsync.store import db, repo
from dingsync.sync.contacts import _raw

CALLS = 532


async def _aiohttp_alone(sb: bench.SandboxProcess, token: str) -> float:
    async with aiohttp.ClientSession() as session:
        slots = asyncio.Semaphore(24)
        url = f"{sb.base_url}/topapi/v2/department/get"

        async def one() -> None:
            async with (
                slots,
                session.post(
                    url,
                    params={"access_token": token},
                    data=b'{"dept_id": 1}',
                    headers={"Content-Type": "application/json"},
                ) as response,
            ):
                await response.read()

        await one()  # the connection
        cpu = time.process_time()
        await asyncio.gather(*(one() for _ in range(CALLS)))
        return (time.process_time() - cpu) * 1000 / CALLS


async def _through_client(sb: bench.SandboxProcess, mode: str, dept_ids: list[int]) -> float:
    async with bench._client(sb, 200.0) as client:
        await client.get_access_token()
        slots = asyncio.Semaphore(24)
        before = sum(client.calls.values())

        async def one(dept_id: int) -> None:
            async with slots:
                if mode == "client":
                    await client.oapi(
                        "POST", "/topapi/v2/department/get", json={"dept_id": dept_id}
                    )
                elif mode == "client+model":
                    _raw(await client.contacts.get_department(dept_id))
                else:
                    users = await client.contacts.iter_department_users(dept_id).to_list()
                    [_raw(u) for u in users]

        cpu = time.process_time()
        await asyncio.gather(*(one(d) for d in dept_ids))
        return (time.process_time() - cpu) * 1000 / (sum(client.calls.values()) - before)


def _no_rows(self: repo.DirectoryBatch, conn: Any) -> None:
    self.departments, self.users, self.members, self._conflicts = [], {}, {}, {}


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    names = ["aiohttp", "client", "client+model", "members", "sync-no-rows", "sync"]
    results: dict[str, list[float]] = {name: [] for name in names}
    flush = repo.DirectoryBatch.flush
    sb = bench.SandboxProcess(2000, 200.0, 30.0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(bench._concurrent(sb, 200.0, f"sqlite:///{tmp}/ids.db"))
            engine = db.create_engine_for(f"sqlite:///{tmp}/ids.db")
            with engine.connect() as conn:
                rows = conn.exec_driver_sql("SELECT dept_id FROM departments")
                dept_ids = [int(d) for (d,) in rows]
            engine.dispose()
            same_path = (dept_ids * (CALLS // len(dept_ids) + 1))[:CALLS]
            for round_ in range(rounds):
                token = httpx.post(
                    f"{sb.base_url}/v1.0/oauth2/accessToken",
                    json={"appKey": sb.app["app_key"], "appSecret": sb.app["app_secret"]},
                ).json()["accessToken"]
                results["aiohttp"].append(asyncio.run(_aiohttp_alone(sb, token)))
                for mode in ("client", "client+model"):
                    results[mode].append(asyncio.run(_through_client(sb, mode, same_path)))
                results["members"].append(asyncio.run(_through_client(sb, "members", dept_ids)))
                for name, write in (("sync-no-rows", _no_rows), ("sync", flush)):
                    repo.DirectoryBatch.flush = write  # type: ignore[method-assign]
                    try:
                        url = f"sqlite:///{tmp}/{name}{round_}.db"
                        out = asyncio.run(bench._concurrent(sb, 200.0, url))
                    finally:
                        repo.DirectoryBatch.flush = flush  # type: ignore[method-assign]
                    results[name].append(out["cpu_s"] * 1000 / sum(out["calls"].values()))
    finally:
        sb.close()
    for name in names:
        got = results[name]
        shown = ", ".join(f"{v:.3f}" for v in got)
        print(
            f"{name:<14} CPU per call best {min(got):.3f} ms, "
            f"median {statistics.median(got):.3f} ({shown})"
        )


if __name__ == "__main__":
    main()
