"""The cyclic collector's CPU and the TCP connections opened per directory sync (branch dir20).

``.venv/bin/python benchmarks/profiles/gc_connections20.py [rounds] [young]`` from the
repository's root: starts the sandbox in its own process (2,000 people, 200 QPS/API, 30 ms),
then syncs the directory ``rounds`` times, each into a new SQLite database, and prints per sync:
process CPU ÷ DingTalk calls, the collector's thread CPU (measured in :data:`gc.callbacks`, so
the collections of whichever thread ran them — the writer's worker thread included) by
generation, and the connections aiohttp's connector opened. ``young``: a young-generation
threshold set before each sync (e.g. 700, Python's default, to see the collector as it was;
the sync's own ``young_gc_threshold`` leaves a threshold ≥ its 10,000 alone, so 700 is raised
inside ``run_sync`` on a tree that has it — use ``benchmarks/bench_directory.py`` from main's
checkout for main's figures).
"""

from __future__ import annotations

import asyncio
import gc
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp.connector
import bench_directory as bench

_started = [0.0]
_gc_cpu = [0.0, 0.0, 0.0]
_gc_runs = [0, 0, 0]
_opened = [0]


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.thread_time()
    else:
        _gc_cpu[info["generation"]] += time.thread_time() - _started[0]
        _gc_runs[info["generation"]] += 1


_create = aiohttp.connector.TCPConnector._create_connection


async def _counted(self: Any, *args: Any, **kwargs: Any) -> Any:
    _opened[0] += 1
    return await _create(self, *args, **kwargs)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    young = int(sys.argv[2]) if len(sys.argv) > 2 else None
    gc.callbacks.append(_on_gc)
    aiohttp.connector.TCPConnector._create_connection = _counted  # type: ignore[method-assign]
    sandbox = bench.SandboxProcess(2000, 200.0, 30.0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(rounds):
                if young is not None:
                    _y, *older = gc.get_threshold()
                    gc.set_threshold(young, *older)
                _gc_cpu[:], _gc_runs[:], _opened[0] = [0.0, 0.0, 0.0], [0, 0, 0], 0
                res = asyncio.run(bench._concurrent(sandbox, 200.0, f"sqlite:///{tmp}/p{r}.db"))
                n = sum(res["calls"].values())
                by_gen = ", ".join(
                    f"{c} × gen{g} {t * 1000:.1f} ms"
                    for g, (c, t) in enumerate(zip(_gc_runs, _gc_cpu, strict=True))
                )
                print(
                    f"round {r}: CPU per call {res['cpu_s'] * 1000 / n:.3f} ms, {n} calls; "
                    f"GC {sum(_gc_cpu) * 1000 / n:.3f} ms per call ({by_gen}); "
                    f"connections opened {_opened[0]}"
                )
    finally:
        sandbox.close()


if __name__ == "__main__":
    main()
