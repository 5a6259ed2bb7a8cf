"""Aggregate ``py-spy record --format raw`` samples of ``profile_directory.py``.

``python benchmarks/profiles/aggregate.py dir.raw "title"`` prints the share of samples per
category (by the innermost frame's package), per frame inclusive (each function once per
stack) and per line (self). Only the sync counts: stacks outside the event loop (imports) and
those in migrations, the sandbox's reset, the token fetch and the final count are left out.
"""

from __future__ import annotations

import re
import sys
from collections import Counter

#: Frames whose stacks are not the sync's work.
EXCLUDE = {
    "migrate",
    "SandboxProcess.reset",
    "DingTalkClient.get_access_token",
    "create_engine_for",
    "count_summary",
    "Connection.__exit__",
}


def short(frame: str) -> tuple[str, str, str]:
    """``(function, file relative to site-packages/stdlib/src, line)`` of a py-spy frame."""
    m = re.match(r"(.*) \((.*?):(\d+)\)$", frame)
    if not m:
        return frame, frame, ""
    fn, path, line = m.groups()
    for prefix in ("site-packages/", "lib/python3.", "src/"):
        if prefix in path:
            path = path.split(prefix, 1)[1]
            if prefix == "lib/python3.":
                path = path.split("/", 1)[1] if "/" in path else path
    return fn, path, line


def category(frames: list[str]) -> str:
    """What the innermost frame is busy with."""
    files = [short(fr)[1] for fr in frames]
    leaf = files[-1]
    if any("dingsync/store/nul.py" in f for f in files[-3:]):
        return "store:nul-escape"
    if leaf.startswith("sqlalchemy/"):
        return "store:sqlalchemy"
    if "dingsync/store/" in leaf:
        return "store:own"
    if leaf.startswith(("pydantic", "pydantic_core")):
        return "parse:pydantic"
    if leaf.startswith(("json/", "orjson")):
        return "json"
    if leaf.startswith(("aiohttp/", "multidict", "yarl")):
        return "http:aiohttp"
    if leaf.startswith(("asyncio/", "selectors")):
        return "asyncio-loop"
    if "limiter" in leaf or leaf.startswith("limits/"):
        return "limiter"
    if any("dingsync/store/" in f for f in files):
        return "store:other"
    return "other"


def main() -> None:
    path = sys.argv[1]
    title = sys.argv[2] if len(sys.argv) > 2 else path
    total = 0
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    with open(path, encoding="utf-8") as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            n = int(count)
            frames = [fr for fr in stack.split(";") if "(" in fr]
            names = {fr.split(" ")[0] for fr in frames}
            if "BaseEventLoop.run_until_complete" not in names or names & EXCLUDE:
                continue
            total += n
            for key in {" ".join(short(fr)[:2]) for fr in frames}:
                inclusive[key] += n
            fn, file, at = short(frames[-1])
            own[f"{fn} {file}:{at})"] += n
            categories[category(frames)] += n
    print(f"# {title}")
    print(f"samples {total}")
    print("== categories")
    for key, n in categories.most_common():
        print(f"{100 * n / total:5.1f}% {key}")
    print("== inclusive")
    for key, n in inclusive.most_common(60):
        print(f"{100 * n / total:5.1f}% {key}")
    print("== self")
    for key, n in own.most_common(30):
        print(f"{100 * n / total:5.1f}% {key}")


if __name__ == "__main__":
    main()
