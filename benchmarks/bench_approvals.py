"""Benchmark ``approvals``: a full approvals sync against the sandbox in a child process.

Company: ``--users`` people (2,000), ``--days`` of history (90), about ``users × days ×
density`` instances (density 0.111 → ~20k), ``--latency-ms`` per call (30) and the sandbox's
per-API QPS limit (``--qps``; DingTalk's 20 would make 20k detail calls take 1,000 s, so it is
raised to 100 by default to keep the run near four minutes; at 200 a 2-core machine shared with
the sandbox process runs out of CPU before the limit binds). The client is limited to the same
QPS per API. The client's limiter holds a slot until one second after the answer, so its
throughput is ``qps / (1 + latency)`` — 3 % under the bound at 30 ms.

Printed, from one run: API calls per path and in all against the minimum the API shapes
require (one template page, one schema per template, ⌈ids/20⌉ id pages per template window —
at least one — and one detail call per instance); wall time against the rate-limit bound (the
largest calls ÷ QPS over the paths; target ≤ 1.2×); stored rows against the sandbox's truth.

The baseline (same run, same sandbox) is the naive sequential loop (one call at a time), run for
``--naive-seconds`` and extrapolated to the sync's calls.

Usage: ``python benchmarks/run.py approvals -- [--users 2000] [--days 90] [--qps 200]
[--naive-seconds 30] [--skip-naive]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
from bench_directory import SandboxProcess, _client
from figures import Figure, naive_line, naive_projection

from dingsync.store import db, repo_approvals
from dingsync.sync.approvals import ApprovalsSync, history_start, instance_bundle
from dingsync.sync.engine import run_sync


class ApprovalsSandbox(SandboxProcess):
    """``dingsync sandbox --days N`` in a child process, with the approval density knob set."""

    def __init__(self, users: int, days: int, qps: float, latency_ms: float, density: float):
        super().__init__(users, qps, latency_ms, days=days, start_timeout=1800)
        try:
            httpx.post(
                f"{self.base_url}/sandbox/config",
                json={"approvals_per_user_day": density},
                timeout=30,
            ).raise_for_status()
            self.stats()  # generates every area's world now, not during the run
        except BaseException:
            self.close()
            raise


async def _sync(sb: ApprovalsSandbox, qps: float, url: str, days: int) -> dict[str, Any]:
    engine = db.create_engine_for(url)
    db.migrate(engine)
    async with _client(sb, qps) as client:
        await client.get_access_token()
        sb.reset()
        start = time.monotonic()
        result = await run_sync(
            client, engine, sb.app["corp_id"], [ApprovalsSync(history_days=days)]
        )
        wall = time.monotonic() - start
    with engine.connect() as conn:
        stored = repo_approvals.counts(conn, sb.app["corp_id"])
    return {"wall_s": wall, "calls": dict(result.api_calls), "stored": stored}


async def _naive(sb: ApprovalsSandbox, args: argparse.Namespace, url: str) -> dict[str, Any]:
    """The baseline: the loop people write, one call at a time — each template's id pages, then
    each instance, the page written as it comes — for at most ``--naive-seconds``; its wall
    time for the whole sync is extrapolated from its time per call (``elapsed × the sync's
    calls ÷ the loop's calls``)."""
    engine = db.create_engine_for(url)
    db.migrate(engine)
    corp = sb.app["corp_id"]
    async with _client(sb, args.qps) as client:
        await client.get_access_token()
        before = Counter(client.calls)
        started = time.monotonic()
        api = client.approvals
        start = history_start(datetime.now(UTC), args.days)
        for tpl in await api.list_templates():
            await api.get_form_schema(tpl.process_code)
            for w_start, w_end in api.windows(start):
                async for ids in api.iter_window_pages(tpl.process_code, w_start, w_end):
                    insts = [await api.get_instance(i) for i in ids]
                    bundles = [instance_bundle(corp, tpl.process_code, i) for i in insts]
                    with engine.begin() as conn:
                        repo_approvals.store_instances(conn, corp, bundles)
                    if time.monotonic() - started >= args.naive_seconds:
                        break
                if time.monotonic() - started >= args.naive_seconds:
                    break
            if time.monotonic() - started >= args.naive_seconds:
                break
        wall = time.monotonic() - started
        calls = sum((Counter(client.calls) - before).values())
    engine.dispose()
    return {"wall_s": wall, "calls": calls}


def main(argv: list[str] | None = None) -> list[Figure]:
    ap = argparse.ArgumentParser(prog="bench approvals", description=__doc__)
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--density", type=float, default=0.111, help="instances per person per day")
    ap.add_argument("--qps", type=float, default=200.0)
    ap.add_argument("--latency-ms", type=float, default=30.0)
    ap.add_argument("--skip-naive", action="store_true", help="no naive-loop baseline")
    ap.add_argument("--naive-seconds", type=float, default=30.0, help="naive loop's sample")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    if args.days > 120:
        ap.error("--days ≤ 120 (one id window per template keeps the minimum exact)")

    sb = ApprovalsSandbox(args.users, args.days, args.qps, args.latency_ms, args.density)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run = asyncio.run(_sync(sb, args.qps, f"sqlite:///{tmp}/approvals.db", args.days))
            rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            naive = None
            if not args.skip_naive:
                naive = asyncio.run(_naive(sb, args, f"sqlite:///{tmp}/naive.db"))
        truth = sb.stats()["approvals"]
    finally:
        sb.close()

    calls = {p: n for p, n in run["calls"].items() if "oauth2" not in p}
    by_template = truth["by_template"]
    minimum = {
        "/v1.0/workflow/processes/userVisibilities/templates": 1,
        "/v1.0/workflow/forms/schemas/processCodes": truth["templates"],
        "/v1.0/workflow/processes/instanceIds/query": sum(
            max(1, math.ceil(n / 20)) for n in by_template.values()
        )
        + (truth["templates"] - len(by_template)),
        "/v1.0/workflow/processInstances": truth["instances"],
    }
    bound = max(n / args.qps for n in calls.values())
    figures: dict[str, Any] = {
        "users": args.users,
        "days": args.days,
        "instances": truth["instances"],
        "qps_per_api": args.qps,
        "latency_ms": args.latency_ms,
        "wall_s": round(run["wall_s"], 2),
        "bound_s": round(bound, 2),
        "ratio_wall_to_bound": round(run["wall_s"] / bound, 3),
        "api_calls": calls,
        "api_calls_total": sum(calls.values()),
        "api_calls_minimum": sum(minimum.values()),
        "ratio_calls_to_minimum": round(sum(calls.values()) / sum(minimum.values()), 4),
        "stored": run["stored"],
        "truth": {k: truth[k] for k in ("instances", "form_values", "detail_rows", "tasks")},
        "peak_rss_mb": round(rss_mb, 1),
    }
    projection = naive_projection(naive, figures["api_calls_total"], bound)
    if projection is not None:
        figures["naive"] = projection
    rows = [
        Figure(
            f"approvals sync at {args.qps:g} QPS/API, wall ÷ bound",
            "≤ 1.2",
            figures["ratio_wall_to_bound"],
            figures.get("naive", {}).get("ratio_wall_to_bound"),
            figures["ratio_wall_to_bound"] <= 1.2,
            "naive sequential loop, extrapolated" if naive else "",
        )
    ]
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return rows
    print(
        f"approvals sync: {args.users} people, {args.days} days, {truth['instances']} instances, "
        f"{args.qps:g} QPS/API, {args.latency_ms:g} ms"
    )
    for path, n in sorted(calls.items()):
        print(f"  {path:<56} {n:>6} calls (minimum {minimum.get(path, 0):>6})")
    print(
        f"calls {figures['api_calls_total']} vs minimum {figures['api_calls_minimum']}: "
        f"ratio {figures['ratio_calls_to_minimum']}"
    )
    print(
        f"wall {figures['wall_s']} s; rate-limit bound {figures['bound_s']} s; "
        f"ratio {figures['ratio_wall_to_bound']} (target ≤ 1.2)"
    )
    print(f"stored {run['stored']}")
    print(f"truth  {figures['truth']}; peak RSS {figures['peak_rss_mb']} MB")
    if "naive" in figures:
        n = figures["naive"]
        print(naive_line(n))
    return rows


if __name__ == "__main__":
    main()
