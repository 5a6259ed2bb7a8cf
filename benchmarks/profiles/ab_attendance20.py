"""``bench attendance`` from two trees, alternating, with the sync's and the sandbox's CPU per
call (issue 17, branch att20).

``python benchmarks/profiles/ab_attendance20.py [--rounds 3] [--tree LABEL=ROOT[:PYTHON] ...]
[-- BENCH_ARGS]`` from the repository's root. Per round and per tree (alternating within the
round; ``--tree main=/work/main --tree att20=.`` by default), a fresh child process of that
tree's interpreter (``ROOT/.venv/bin/python`` unless ``PYTHON`` is given — e.g. a checkout of
a commit without a venv of its own —, cwd ``ROOT``, ``PYTHONPATH=ROOT/src`` so that the child
and its sandbox import that tree's ``dingsync``) runs that tree's
``benchmarks/bench_attendance.py`` (``--skip-naive --json`` plus ``BENCH_ARGS``): its own
sandbox process (that tree's sandbox code), its own SQLite database. The child wraps the
bench's ``run_sync`` so that, around the attendance sync alone (the bench's timed call), it
reads its own process CPU (``time.process_time``) and the sandbox process's (``/proc``).

Printed per run: the load (``/proc/loadavg``, 1-min) at its start, the bench's wall ÷ bound,
the sync's CPU per DingTalk call and the sandbox's CPU per call, in ms; then per tree the
medians. ``--json FILE`` keeps every run's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

MARK = "AB20 "


def child(bench_args: list[str]) -> None:
    """Run this tree's bench with the CPU wrapper; print the bench's JSON then ``MARK`` + ours."""
    sys.path.insert(0, str(Path.cwd() / "benchmarks"))
    import bench_attendance as bench  # this tree's

    measured: dict[str, float] = {}
    sandboxes: list[Any] = []
    original_sandbox = bench.AttendanceSandbox

    class Sandbox(original_sandbox):  # type: ignore[misc,valid-type]
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, **k)
            sandboxes.append(self)

    bench.AttendanceSandbox = Sandbox
    original_run_sync = bench.run_sync
    seen = [0]

    async def run_sync(client: Any, engine: Any, corp: str, syncs: Any, **k: Any) -> Any:
        seen[0] += 1
        if seen[0] != 2:  # the first is the directory (untimed by the bench)
            return await original_run_sync(client, engine, corp, syncs, **k)
        sb = sandboxes[-1]
        cpu, sb_cpu, wall = time.process_time(), sb.cpu_s(), time.monotonic()
        result = await original_run_sync(client, engine, corp, syncs, **k)
        measured["wall_s"] = time.monotonic() - wall
        measured["sync_cpu_s"] = time.process_time() - cpu
        measured["sandbox_cpu_s"] = sb.cpu_s() - sb_cpu
        measured["calls"] = sum(result.api_calls.values())
        return result

    bench.run_sync = run_sync
    bench.main(["--skip-naive", "--json", *bench_args])
    print(MARK + json.dumps(measured), flush=True)


def run_one(label: str, root: Path, python: str, bench_args: list[str]) -> dict[str, Any]:
    load = float(Path("/proc/loadavg").read_text().split()[0])
    out = subprocess.run(
        [python, str(Path(__file__).resolve()), "--child", "--", *bench_args],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root / "src")},
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{label}: {out.stderr[-3000:]}")
    text, _, ours = out.stdout.rpartition(MARK)
    figures = json.loads(text)
    m = json.loads(ours)
    return {
        "label": label,
        "load": load,
        "ratio": figures["ratio_wall_to_bound"],
        "bound_s": figures["bound_s"],
        "calls": m["calls"],
        "sync_ms_per_call": 1000 * m["sync_cpu_s"] / m["calls"],
        "sandbox_ms_per_call": 1000 * m["sandbox_cpu_s"] / m["calls"],
        "stored": figures["stored"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tree", action="append", default=[], help="LABEL=ROOT (repeatable)")
    ap.add_argument("--json", help="file for every run's figures")
    ap.add_argument("bench_args", nargs="*")
    args = ap.parse_args()
    if args.child:
        child(args.bench_args)
        return
    trees = []
    for spec in args.tree or ["main=/work/main", "att20=."]:
        label, _, where = spec.partition("=")
        root, _, python = where.partition(":")
        path = Path(root).resolve()
        trees.append((label, path, python or str(path / ".venv/bin/python")))
    runs: list[dict[str, Any]] = []
    for r in range(args.rounds):
        order = trees if r % 2 == 0 else trees[::-1]
        for label, root, python in order:
            got = run_one(label, root, python, args.bench_args)
            got["round"] = r
            runs.append(got)
            print(
                f"round {r} {label:<8} load {got['load']:5.2f}  wall ÷ bound {got['ratio']:.3f}  "
                f"sync {got['sync_ms_per_call']:.2f} ms/call  "
                f"sandbox {got['sandbox_ms_per_call']:.2f} ms/call  calls {got['calls']}",
                flush=True,
            )
    for label, _, _ in trees:
        mine = [x for x in runs if x["label"] == label]
        print(
            f"{label:<8} median wall ÷ bound {statistics.median(x['ratio'] for x in mine):.3f}  "
            f"sync {statistics.median(x['sync_ms_per_call'] for x in mine):.2f} ms/call  "
            f"sandbox {statistics.median(x['sandbox_ms_per_call'] for x in mine):.2f} ms/call  "
            f"(min–max ratio {min(x['ratio'] for x in mine):.3f}–"
            f"{max(x['ratio'] for x in mine):.3f})"
        )
    stored = {json.dumps(x["stored"], sort_keys=True) for x in runs}
    print("same row counts in every run" if len(stored) == 1 else f"row counts differ: {stored}")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
