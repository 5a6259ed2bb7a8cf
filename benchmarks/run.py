"""Run the benchmarks (``make bench``): each ``bench_<name>.py`` here, one after another.

``python benchmarks/run.py``               every benchmark with its defaults (but the opt-in ones)
``python benchmarks/run.py directory``     only some, by name
``python benchmarks/run.py directory -- --users 1000``   arguments after ``--`` go to each

Figures are printed side by side from one run (ratios, not absolute times: machines are noisy).
The run ends with one table (``figures.py``): each figure of issue 17 that the benchmarks run
measured, its target, this run's value and a baseline from the same run.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Benchmarks run only when named (``scale``: a 20,000-person company takes hours at 20 QPS).
OPT_IN = {"scale"}


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main() -> None:
    argv = sys.argv[1:]
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1 :]
    names = argv or [n for n in available() if n not in OPT_IN]
    unknown = [n for n in names if n not in available()]
    if unknown:
        sys.exit(f"unknown benchmark(s) {unknown}; available: {available()}")
    sys.path.insert(0, str(HERE))
    from figures import Figure, table

    rows: list[Figure] = []
    for name in names:
        print(f"=== benchmark: {name} ===", flush=True)
        started = time.monotonic()
        got = importlib.import_module(f"bench_{name}").main(extra)
        rows.extend(r for r in got or [] if isinstance(r, Figure))
        print(f"=== {name} done in {time.monotonic() - started:.1f} s ===\n", flush=True)
    if rows:
        print("=== issue 17 figures (value and baseline from this run) ===")
        print(table(rows), flush=True)


if __name__ == "__main__":
    main()
