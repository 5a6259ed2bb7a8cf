"""The directory sync alone, for a sampling profiler (issue 17's profiles in this folder).

``py-spy record -r 500 --format raw -o dir.raw -- .venv/bin/python
benchmarks/profiles/profile_directory.py [users] [rounds]`` from the repository's root: starts
the sandbox in its own process (2,000 people, 200 QPS/API, 30 ms by default), then syncs the
directory ``rounds`` times, each into a new SQLite database, and prints CPU per DingTalk call.
``aggregate.py`` turns the samples into the tables of ``directory-*.txt``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench_directory as bench


def main() -> None:
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    sandbox = bench.SandboxProcess(users, 200.0, 30.0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(rounds):
                url = f"sqlite:///{tmp}/p{r}.db"
                res = asyncio.run(bench._concurrent(sandbox, 200.0, url))
                n = sum(res["calls"].values())
                cpu = res["cpu_s"] * 1000 / n
                wall = res["wall_s"]
                print(f"round {r}: CPU per call {cpu:.3f} ms, wall {wall:.2f} s, {n} calls")
    finally:
        sandbox.close()


if __name__ == "__main__":
    main()
