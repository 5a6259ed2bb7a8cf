"""Benchmark (``make bench BENCH_ARGS=cluster``): the worker cluster against the rate-limit
bound, and what the shared Redis limiter costs per call.

Companies (each its own sandbox process, app and CorpId, DingTalk's 20 calls per second per
API and a fixed latency) are synced by 1, 2 and 3 ``dingsync worker`` processes on RabbitMQ,
Redis and PostgreSQL (``dingsync enqueue``, the directory by default). Printed per worker count:
wall time, the bound of the whole job (DingTalk's limits are per company, so with enough
workers the job takes as long as its slowest company: for each company its largest
calls ÷ QPS of one API; the job's bound is the largest of those, and one worker's bound is
their sum), wall ÷ bound, the speed-up over one worker, and calls over any limit (must be 0).
Then the limiter's cost per call with ``memory://`` and ``redis://`` storage (a limit no call
waits for) and their ratio. Then (``--logins``, default on) four processes over one company —
two workers running a full sync, the web service and the event consumer (``dingsync events
stream``): login latency (p50/p99 of ``POST /api/auth/dingtalk``) idle and while the sync
saturates the limits, their ratio, and the token requests DingTalk saw.

Needs RabbitMQ, Redis and PostgreSQL (``DINGSYNC_BENCH_BROKER_URL``,
``DINGSYNC_BENCH_REDIS_URL``, ``DINGSYNC_BENCH_POSTGRES_URL``; defaults: the tests' variables,
then the local servers).

Usage: ``python benchmarks/run.py cluster -- [--companies 5] [--users 2000] [--workers 1,2,3]
[--entities contacts] [--latency-ms 30]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from bench_directory import SandboxProcess

from dingsync.config import AppConfig, Settings
from dingsync.dingtalk._limiter import PathRateLimiter
from dingsync.store import db
from dingsync.workers.app import get_app
from dingsync.workers.tasks import done_since, enqueue

DINGSYNC = Path(sys.executable).with_name("dingsync")


def _env(name: str, test_name: str, default: str) -> str:
    return os.environ.get(name) or os.environ.get(test_name) or default


BROKER = _env(
    "DINGSYNC_BENCH_BROKER_URL", "DINGSYNC_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"
)
REDIS = _env("DINGSYNC_BENCH_REDIS_URL", "DINGSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES = _env(
    "DINGSYNC_BENCH_POSTGRES_URL",
    "DINGSYNC_TEST_POSTGRES_URL",
    "postgresql+psycopg://postgres@127.0.0.1:5432/dingsync_test",
)


def _ensure_database(url: str) -> None:
    """Create ``url``'s database when the server answers and it is missing (a fresh machine has
    only ``postgres``; the tests create theirs the same way)."""
    target = sa.engine.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": target.database},
            ).first()
            if found is None:
                quoted = str(target.database).replace('"', '""')
                conn.execute(sa.text(f'CREATE DATABASE "{quoted}"'))
    finally:
        admin.dispose()


def _schema_url() -> tuple[str, str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    _ensure_database(POSTGRES)
    admin = sa.create_engine(POSTGRES)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    sep = "&" if "?" in POSTGRES else "?"
    return f"{POSTGRES}{sep}options=-csearch_path%3D{schema}", schema


def _drop(schema: str) -> None:
    admin = sa.create_engine(POSTGRES)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def _bound(stats: dict[str, Any], qps: float) -> float:
    """Seconds the busiest API of one company needs at ``qps`` (token calls aside)."""
    calls = {p: n for p, n in stats["calls"].items() if "token" not in p.lower()}
    return max(calls.values()) / qps if calls else 0.0


def run_cluster(
    sandboxes: list[SandboxProcess], workers: int, entities: list[str], qps: float
) -> dict[str, Any]:
    import redis

    redis.Redis.from_url(REDIS).flushdb()
    url, schema = _schema_url()
    engine = db.create_engine_for(url)
    db.migrate(engine)
    companies = [
        AppConfig(
            corp_id=sb.app["corp_id"],
            app_key=sb.app["app_key"],
            app_secret=sb.app["app_secret"],
            oapi_url=sb.base_url,
            api_url=sb.base_url,
        )
        for sb in sandboxes
    ]
    settings = Settings(broker_url=BROKER, redis_url=REDIS, database_url=url, apps=companies)
    app = get_app(settings)
    app.conf.broker_url = BROKER
    app.control.purge()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "DINGSYNC_"))}
    env.update(
        {
            "DINGSYNC_BROKER_URL": BROKER,
            "DINGSYNC_REDIS_URL": REDIS,
            "DINGSYNC_DATABASE_URL": url,
            "DINGSYNC_QPS_PER_API": str(qps),
            "DINGSYNC_LOGIN_RESERVED_SHARE": "0",
            "DINGSYNC_APPS": json.dumps(
                [
                    {
                        **c.model_dump(exclude_none=True),
                        "app_secret": c.app_secret.get_secret_value(),
                    }
                    for c in companies
                ]
            ),
        }
    )
    for sb in sandboxes:
        sb_reset(sb)
    logs = tempfile.mkdtemp(prefix="dingsync-bench-cluster-")
    procs = [
        subprocess.Popen(
            [str(DINGSYNC), "worker", "--name", f"bench{i}@%h"],
            env=env,
            cwd=logs,
            stdout=subprocess.DEVNULL,
            stderr=open(Path(logs) / f"w{i}.log", "wb"),
        )
        for i in range(workers)
    ]
    try:
        deadline = time.monotonic() + 180
        while not all(  # workers migrated and connected before the clock starts
            " ready." in (Path(logs) / f"w{i}.log").read_text(errors="replace")
            for i in range(workers)
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers did not start; logs in {logs}")
            time.sleep(0.2)
        since = int(time.time() * 1000) - 1000
        started = time.monotonic()
        enqueue(settings, None, "full", entities)
        corps = [c.corp_id for c in companies]
        while not all(done_since(engine, c, e, "full", since) for c in corps for e in entities):
            time.sleep(0.2)
        wall = time.monotonic() - started
    finally:
        _stop(procs)
        engine.dispose()
        _drop(schema)
    stats = [sb.stats() for sb in sandboxes]
    return {
        "wall_s": wall,
        "bounds": [_bound(s, qps) for s in stats],
        "over_limit": sum(sum(s["rate_limited"].values()) for s in stats),
    }


def sb_reset(sb: SandboxProcess) -> None:
    import httpx

    httpx.post(f"{sb.base_url}/sandbox/stats/reset", timeout=30)


async def limiter_cost(storage: str, calls: int) -> float:
    """Microseconds per slot (acquire and record) with a limit no call waits for."""
    limiter = PathRateLimiter("bench-app", 1e9, storage_uri=storage)
    async with limiter.slot("/warm"):
        pass
    started = time.perf_counter()
    for i in range(calls):
        async with limiter.slot(f"/topapi/path{i % 8}"):
            pass
    took = time.perf_counter() - started
    await limiter.aclose()
    return took / calls * 1e6


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def logins_under_load(users: int, qps: float, latency_ms: float, logins: int) -> dict[str, Any]:
    """Login latency idle and under a full sync by two workers, all sharing Redis."""
    import httpx
    import redis

    redis.Redis.from_url(REDIS).flushdb()
    sb = SandboxProcess(users, qps, latency_ms, seed=900, days=3)
    url, schema = _schema_url()
    engine = db.create_engine_for(url)
    db.migrate(engine)
    app_env = {
        "DINGTALK_APP_KEY": sb.app["app_key"],
        "DINGTALK_APP_SECRET": sb.app["app_secret"],
        "DINGTALK_CORP_ID": sb.app["corp_id"],
        "DINGTALK_OAPI_URL": sb.base_url,
        "DINGTALK_API_URL": sb.base_url,
        "DINGSYNC_BROKER_URL": BROKER,
        "DINGSYNC_REDIS_URL": REDIS,
        "DINGSYNC_DATABASE_URL": url,
        "DINGSYNC_QPS_PER_API": str(qps),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "DINGSYNC_"))}
    env.update(app_env)
    settings = Settings(
        app_key=sb.app["app_key"],
        app_secret=sb.app["app_secret"],
        corp_id=sb.app["corp_id"],
        broker_url=BROKER,
        redis_url=REDIS,
        database_url=url,
    )
    app = get_app(settings)
    app.conf.broker_url = BROKER
    app.control.purge()
    logs = Path(tempfile.mkdtemp(prefix="dingsync-bench-logins-"))
    port = _free_port()
    procs = [
        subprocess.Popen(
            [str(DINGSYNC), "worker", "--name", f"load{i}@%h"],
            env=env,
            cwd=logs,
            stdout=subprocess.DEVNULL,
            stderr=open(logs / f"w{i}.log", "wb"),
        )
        for i in range(2)
    ]
    for name, cmd in (("serve", ["serve", "--port", str(port)]), ("stream", ["events", "stream"])):
        procs.append(
            subprocess.Popen(
                [str(DINGSYNC), *cmd],
                env=env,
                cwd=logs,
                stdout=subprocess.DEVNULL,
                stderr=open(logs / f"{name}.log", "wb"),
            )
        )
    corp = sb.app["corp_id"]
    service = f"http://127.0.0.1:{port}"

    def login(userid: str) -> float:
        code = httpx.post(f"{sb.base_url}/sandbox/authcode", json={"userid": userid}).json()
        started = time.perf_counter()
        r = httpx.post(f"{service}/api/auth/dingtalk", json={"authCode": code["code"]}, timeout=60)
        took = time.perf_counter() - started
        assert r.status_code == 200, r.text
        return took

    try:
        since = int(time.time() * 1000) - 1000
        enqueue(settings, None, "full", ["contacts"])
        while not done_since(engine, corp, "contacts", "full", since):
            time.sleep(0.2)
        while True:
            try:
                httpx.get(f"{service}/healthz", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        with engine.connect() as conn:
            people = [
                str(u)
                for u in conn.execute(
                    sa.text("SELECT userid FROM users WHERE corp_id = :c AND status = 'active'"),
                    {"c": corp},
                ).scalars()
            ][: 2 * logins]
        idle = [login(u) for u in people[:logins]]
        since = int(time.time() * 1000) - 1000
        enqueue(settings, None, "full", ["contacts", "reports", "attendance"])
        time.sleep(3.0)  # the sync is under way on both workers' APIs
        loaded = [login(u) for u in people[logins:]]
        busy = not done_since(engine, corp, "attendance", "full", since)
        stats = sb.stats()
    finally:
        _stop(procs)
        engine.dispose()
        _drop(schema)
        sb.close()
    token_paths = [p for p in stats["calls"] if "token" in p.lower() and "user" not in p.lower()]
    return {
        "idle": idle,
        "loaded": loaded,
        "still_syncing": busy,
        "token_requests": sum(stats["calls"][p] for p in token_paths),
        "over_limit": sum(stats["rate_limited"].values()),
    }


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """Terminate (a worker's warm shutdown waits for its batch), then kill after 10 s."""
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench cluster")
    parser.add_argument("--companies", type=int, default=3)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--entities", default="contacts")
    parser.add_argument("--qps", type=float, default=20.0)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument("--limiter-calls", type=int, default=3000)
    parser.add_argument("--logins", type=int, default=40, help="logins per phase (0 = skip)")
    parser.add_argument("--only-logins", action="store_true")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",")]
    entities = args.entities.split(",")
    if not args.only_logins:
        _workers_against_the_bound(args, counts, entities)
    if args.logins:
        r = logins_under_load(args.users, args.qps, args.latency_ms, args.logins)
        idle99, load99 = _pct(r["idle"], 0.99), _pct(r["loaded"], 0.99)
        print(
            f"logins (2 workers syncing, the service, the stream consumer; one company, Redis): "
            f"idle p50 {_pct(r['idle'], 0.5) * 1000:.0f} ms p99 {idle99 * 1000:.0f} ms; "
            f"under load p50 {_pct(r['loaded'], 0.5) * 1000:.0f} ms p99 {load99 * 1000:.0f} ms "
            f"(p99 ×{load99 / idle99:.2f}; sync still running at the end: {r['still_syncing']}); "
            f"token requests {r['token_requests']}, over-limit calls {r['over_limit']}"
        )


def _workers_against_the_bound(
    args: argparse.Namespace, counts: list[int], entities: list[str]
) -> None:

    sandboxes = [
        SandboxProcess(args.users, args.qps, args.latency_ms, seed=700 + n, days=1)
        for n in range(args.companies)
    ]
    try:
        print(
            f"{args.companies} companies × {args.users} people, {'+'.join(entities)}, "
            f"{args.qps:g} QPS per API, {args.latency_ms:g} ms latency"
        )
        results = {n: run_cluster(sandboxes, n, entities, args.qps) for n in counts}
    finally:
        for sb in sandboxes:
            sb.close()
    bounds = results[counts[0]]["bounds"]
    job_bound, serial_bound = max(bounds), sum(bounds)
    print(
        f"bound of the job: {job_bound:.1f} s (slowest company); "
        f"one at a time: {serial_bound:.1f} s"
    )
    base = results[counts[0]]["wall_s"]
    for n in counts:
        r = results[n]
        print(
            f"  {n} worker(s): wall {r['wall_s']:6.1f} s   "
            f"wall/job bound {r['wall_s'] / job_bound:5.2f}   "
            f"speed-up ×{base / r['wall_s']:.2f}   over-limit calls {r['over_limit']}"
        )
    memory = asyncio.run(limiter_cost("memory://", args.limiter_calls))
    shared = asyncio.run(limiter_cost(REDIS, args.limiter_calls))
    print(
        f"limiter per call: memory {memory:.0f} µs, redis {shared:.0f} µs "
        f"(×{shared / memory:.1f}; against a 30 ms DingTalk call: {shared / 30000:.1%})"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
