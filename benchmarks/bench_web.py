"""Benchmark of the web login (``make bench``; ``python benchmarks/run.py web``).

The sandbox (latency 0, no QPS limit) and the web service (``dingsync serve``) each run in their
own process; this process syncs the directory once, mints login codes through
``POST /sandbox/authcode`` and fires logins at ``POST /api/auth/dingtalk``.

Printed, from one run: upstream DingTalk calls per login for a user synced recently and for one
whose stored row is stale (target ≤ 2; the seed's PHP flow makes 4: token, code, user detail,
ticket), the service's CPU per login one at a time (its process CPU ÷ logins; per
``GET /healthz`` as the baseline), p50/p99 latency and throughput at ``--concurrency`` logins
in flight (target p99 < 25 ms at 100), and one-at-a-time latency for comparison; then the same
logins against one worker and against ``serve --workers N`` (``--workers``, default 2) one after
the other on the same database (logins/s ratio: does the service scale with cores).

The load generator of every phase is ``loadgen.py`` (asyncio, keep-alive connections, requests
encoded beforehand: a few hundredths of a ms of its own CPU per request); ``--loadgen httpx``
runs the httpx clients used before instead (~1.2–1.4 ms per request: more than the service's
``/healthz``, so with them ``/healthz`` req/s measured the load generator). Also printed, at
``--concurrency`` in flight: the CPU per request of each process — the service (all its
processes), the sandbox, the load generator (this process) — for the 1-worker and N-worker runs,
and from them the machine's ceiling for the workers figure: cores ÷ the three's CPU per login ÷
one worker's logins/s, the best ``--workers N ÷ 1`` this machine can show whatever the service
does (the service, the sandbox and the load generator share the cores).

Usage: ``python benchmarks/run.py web -- [--users 500] [--logins 1000] [--concurrency 100]
[--workers 2] [--loadgen lean|httpx]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
from bench_directory import SandboxProcess, _free_port, cpu_s_of
from figures import Figure

from dingsync.dingtalk import DingTalkClient
from dingsync.store import db
from dingsync.store.schema import users, utcnow
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import run_sync

SEED_FLOW_CALLS = 4
#: ``serve --workers 2`` ÷ one worker, logins/s: the target on this 2-core machine, where the
#: load generator and the sandbox (Python processes too) share the cores with the workers.
WORKERS_TARGET = 1.2


class WebProcess:
    """``dingsync serve`` in a child process, pointed at the sandbox and the database."""

    def __init__(
        self,
        sb: SandboxProcess,
        database_url: str,
        *,
        workers: int = 1,
        python: str = sys.executable,
    ) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        app = sb.app
        env = {
            **os.environ,
            "DINGTALK_APP_KEY": app["app_key"],
            "DINGTALK_APP_SECRET": app["app_secret"],
            "DINGTALK_CORP_ID": app["corp_id"],
            "DINGTALK_AGENT_ID": str(app["agent_id"]),
            "DINGTALK_OAPI_URL": sb.base_url,
            "DINGTALK_API_URL": sb.base_url,
            "DINGSYNC_DATABASE_URL": database_url,
            "DINGSYNC_QPS_PER_API": "0",
        }
        # ``python``: another checkout's interpreter serves instead (main vs branch, one run).
        cmd = [python, "-m", "dingsync.cli", "serve", "--port", str(self.port)]
        if workers > 1:
            cmd += ["--workers", str(workers)]
        self.log = tempfile.NamedTemporaryFile(prefix="dingsync-bench-web-", suffix=".log")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 240  # a loaded small machine starts slowly
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"web service exited: {self.tail()}")
            try:
                httpx.get(f"{self.base_url}/healthz", timeout=1).raise_for_status()
                if workers > 1:
                    self._wait_workers(workers, deadline)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.proc.terminate()  # the supervisor stops its workers too
        self.proc.wait(30)
        raise RuntimeError(f"web service did not start: {self.tail()}")

    def _wait_workers(self, workers: int, deadline: float) -> None:
        """Wait until ``workers`` distinct worker processes answer (the first to start
        answers ``/healthz`` while the others may still be importing)."""
        import http.client

        import psutil

        seen: set[int] = set()
        while len(seen) < workers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(seen)} of {workers} workers answered")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                assert conn.sock is not None
                local = conn.sock.getsockname()[1]
                for child in psutil.Process(self.proc.pid).children(recursive=True):
                    try:
                        if any(
                            c.raddr and c.raddr.port == local
                            for c in child.net_connections(kind="tcp")
                        ):
                            seen.add(child.pid)
                    except psutil.Error:
                        continue
            finally:
                conn.close()
            time.sleep(0.05)

    def pids(self) -> list[int]:
        """The service's process and its live descendants (the workers of ``--workers N``)."""
        out: list[int] = []
        todo = [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                try:
                    todo += [int(c) for c in task.read_text().split()]
                except OSError:
                    continue
        return out

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the service's processes have used so far."""
        return cpu_s_of(self.pids())

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()

    def tail(self) -> str:
        """The end of the service's output (for failures)."""
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-3000:]


async def _sync(sb: SandboxProcess, engine: Any) -> None:
    app = sb.app
    async with DingTalkClient(
        app["app_key"],
        app["app_secret"],
        corp_id=app["corp_id"],
        oapi_url=sb.base_url,
        api_url=sb.base_url,
        qps_per_api=None,
    ) as client:
        await run_sync(client, engine, app["corp_id"], [ContactsSync()])


def synced_sqlite(sb: SandboxProcess, folder: str) -> tuple[str, Any]:
    """A SQLite database ``bench.db`` in ``folder``, migrated, with ``sb``'s directory synced
    into it: ``(its URL, its engine)`` (the web benchmarks' and profiles' common start)."""
    url = f"sqlite:///{Path(folder) / 'bench.db'}"
    engine = db.create_engine_for(url)
    db.migrate(engine)
    asyncio.run(_sync(sb, engine))
    return url, engine


def login_setup(sb: SandboxProcess, url: str) -> tuple[Any, list[str]]:
    """The in-process login profiles' start: ``Settings`` of ``sb``'s app on the database
    ``url`` (no QPS limit) and the sandbox company's active userids, sorted."""
    from pydantic import SecretStr

    from dingsync.config import Settings

    a = sb.app
    settings = Settings(
        DINGTALK_APP_KEY=a["app_key"],
        DINGTALK_APP_SECRET=SecretStr(a["app_secret"]),
        DINGTALK_CORP_ID=a["corp_id"],
        DINGTALK_AGENT_ID=str(a["agent_id"]),
        DINGTALK_OAPI_URL=sb.base_url,
        DINGTALK_API_URL=sb.base_url,
        DINGSYNC_DATABASE_URL=url,
        DINGSYNC_QPS_PER_API=0,
    )
    company = httpx.get(f"{sb.base_url}/sandbox/company", timeout=30).json()
    return settings, sorted(u["userid"] for u in company["users"] if u.get("active", True))


async def _mint(sb: SandboxProcess, userids: list[str]) -> list[str]:
    async with httpx.AsyncClient(base_url=sb.base_url, timeout=30) as http:
        sem = asyncio.Semaphore(50)

        async def one(userid: str) -> str:
            async with sem:
                r = await http.post("/sandbox/authcode", json={"userid": userid})
                r.raise_for_status()
                return str(r.json()["code"])

        return list(await asyncio.gather(*(one(u) for u in userids)))


#: The load generator of every load phase: ``"lean"`` (``loadgen.py``: asyncio protocols,
#: requests encoded beforehand, ~0.05 ms of CPU per request) or ``"httpx"`` (the one before
#: ``web19``: 20 clients × 5 connections, ~1.2–1.4 ms per request, more than the service's
#: ``/healthz``), kept to compare (``--loadgen httpx``).
LOADGEN = "lean"

#: Connections per httpx client (``--loadgen httpx``): httpcore's pool does O(connections²)
#: work per request, so one client with 100 connections measures itself, not the service.
CONNECTIONS_PER_CLIENT = 5


def _machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy so far, all cores (``/proc/stat``: user,
    nice, system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _probe(web: Any, sb: SandboxProcess | None) -> Any:
    """CPU seconds so far of the service's processes, the sandbox's and the whole machine's,
    for ``loadgen.run``."""

    def probe() -> dict[str, float]:
        out = {"service": float(web.cpu_s()), "machine": _machine_busy_s()}
        if sb is not None:
            out["sandbox"] = sb.cpu_s()
        return out

    return probe


async def _logins(
    web: Any,
    codes: list[str],
    concurrency: int,
    *,
    floor: bool = False,
    sb: SandboxProcess | None = None,
) -> dict[str, Any]:
    """Fire one login per code with ``concurrency`` in flight. ``floor``: send the same number
    of ``GET /healthz`` instead (the service's cheapest route: what the machine, uvicorn and the
    load generator cost before any login work).

    Besides latency and throughput, the CPU each process spent per request over the timed run
    (ms): ``service_cpu_ms`` (all the service's processes), ``sandbox_cpu_ms`` (with ``sb``)
    and ``loadgen_cpu_ms`` (this process)."""
    if LOADGEN == "httpx":
        return await _logins_httpx(web, codes, concurrency, floor=floor, sb=sb)
    if floor:
        requests = [loadgen.get("/healthz")] * len(codes)
    else:
        path = "/api/auth/dingtalk"
        requests = [loadgen.post_json(path, {"authCode": code}) for code in codes]
    got = await loadgen.run(
        "127.0.0.1",
        web.port,
        requests,
        concurrency,
        warmup=loadgen.get("/healthz"),  # open every connection first: no TCP set-up timed
        probe=_probe(web, sb),
    )
    return _summary(got.latencies_ms, got.failures, got.wall_s, got.cpu_s, got.probed)


def _summary(
    latencies: list[float], failures: int, wall: float, cpu: float, probed: dict[str, float]
) -> dict[str, Any]:
    n = len(latencies)
    latencies = sorted(latencies)
    out = {
        "logins": n,
        "failures": failures,
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[max(0, int(n * 0.99) - 1)], 2),
        "max_ms": round(latencies[-1], 2),
        "per_s": round(n / wall, 1),
        "loadgen_cpu_ms": cpu * 1000 / n,
    }
    for name, seconds in probed.items():
        out[f"{name}_cpu_ms"] = seconds * 1000 / n
    if "machine" in probed:  # cores other processes kept busy meanwhile (other sessions …)
        ours = cpu + sum(v for k, v in probed.items() if k != "machine")
        out["others_cores"] = max(0.0, probed["machine"] - ours) / wall
    return out


async def _logins_httpx(
    web: Any,
    codes: list[str],
    concurrency: int,
    *,
    floor: bool = False,
    sb: SandboxProcess | None = None,
) -> dict[str, Any]:
    """:func:`_logins` with httpx clients as the load generator (before ``web19``)."""
    latencies: list[float] = []
    failures = 0
    n_clients = max(1, -(-concurrency // CONNECTIONS_PER_CLIENT))
    per = min(concurrency, CONNECTIONS_PER_CLIENT)
    limits = httpx.Limits(max_connections=per, max_keepalive_connections=per)
    clients = [
        httpx.AsyncClient(base_url=web.base_url, timeout=60, limits=limits)
        for _ in range(n_clients)
    ]
    probe = _probe(web, sb)
    try:
        queue: asyncio.Queue[str] = asyncio.Queue()
        for code in codes:
            queue.put_nowait(code)

        async def worker(http: httpx.AsyncClient) -> None:
            nonlocal failures
            while True:
                try:
                    code = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                if floor:
                    r = await http.get("/healthz")
                else:
                    r = await http.post("/api/auth/dingtalk", json={"authCode": code})
                latencies.append((time.perf_counter() - started) * 1000)
                if r.status_code != 200:
                    failures += 1

        # Open the connections first so that the figures are about logins, not TCP set-up.
        await asyncio.gather(*(c.get("/healthz") for c in clients for _ in range(per)))
        workers = [clients[i % n_clients] for i in range(concurrency)]
        before = probe()
        cpu = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in workers))
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
        after = probe()
    finally:
        for c in clients:
            await c.aclose()
    probed = {k: after[k] - before[k] for k in before}
    return _summary(latencies, failures, wall, cpu, probed)


def _upstream(sb: SandboxProcess) -> int:
    return int(sum(sb.stats()["calls"].values()))


def _cpu_per_login(r: dict[str, Any]) -> float:
    """Service + sandbox + load generator CPU per login of one :func:`_logins` run, ms."""
    return float(r["service_cpu_ms"] + r["sandbox_cpu_ms"] + r["loadgen_cpu_ms"])


def _cpu_split(r: dict[str, Any]) -> str:
    return (
        f"{r['service_cpu_ms']:.2f} / {r['sandbox_cpu_ms']:.2f} / {r['loadgen_cpu_ms']:.2f} "
        f"(sum {_cpu_per_login(r):.2f}); other processes kept {r['others_cores']:.2f} cores busy"
    )


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(prog="bench_web")
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--logins", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument(
        "--workers", type=int, default=2, help="worker processes compared with one (figure)"
    )
    parser.add_argument(
        "--loadgen",
        choices=("lean", "httpx"),
        default="lean",
        help="load generator of every phase: loadgen.py (default) or httpx clients (before)",
    )
    args = parser.parse_args(argv)
    global LOADGEN
    LOADGEN = args.loadgen

    sb = SandboxProcess(args.users, 0, 0)
    web: WebProcess | None = None
    tmp = tempfile.TemporaryDirectory()
    try:
        url, engine = synced_sqlite(sb, tmp.name)
        web = WebProcess(sb, url)
        company = httpx.get(f"{sb.base_url}/sandbox/company", timeout=30).json()
        userids = sorted(u["userid"] for u in company["users"])
        pick = [userids[i % len(userids)] for i in range(args.logins)]

        rows: list[tuple[str, Any]] = []
        # One warm-up login (the service fetched token and ticket at start-up).
        asyncio.run(_logins(web, asyncio.run(_mint(sb, pick[:1])), 1))

        codes = asyncio.run(_mint(sb, pick))
        before = _upstream(sb)
        fresh = asyncio.run(_logins(web, codes, args.concurrency, sb=sb))
        fresh_calls = (_upstream(sb) - before) / args.logins

        with engine.begin() as conn:  # every stored user row stale → the detail is fetched
            conn.execute(update(users).values(synced_at=utcnow().replace(year=2020)))
        stale_n = min(args.logins, len(userids))
        codes = asyncio.run(_mint(sb, userids[:stale_n]))
        before = _upstream(sb)
        stale = asyncio.run(_logins(web, codes, args.concurrency))
        stale_calls = (_upstream(sb) - before) / stale_n

        healthz = asyncio.run(_logins(web, pick, args.concurrency, floor=True, sb=sb))
        codes = asyncio.run(_mint(sb, pick[:200]))
        serial = asyncio.run(_logins(web, codes, 1))
        login_cpu_ms = serial["service_cpu_ms"]
        serial_healthz = asyncio.run(_logins(web, pick[:200], 1, floor=True))
        healthz_cpu_ms = serial_healthz["service_cpu_ms"]
        codes = asyncio.run(_mint(sb, pick[:400]))
        few = asyncio.run(_logins(web, codes, 4))

        # Workers side by side: the same logins at the same concurrency against one worker,
        # then against `serve --workers 2` on the same database (the ratio is the figure).
        codes = asyncio.run(_mint(sb, pick))
        one_worker = asyncio.run(_logins(web, codes, args.concurrency, sb=sb))
        web.close()
        web = None
        web = WebProcess(sb, url, workers=args.workers)
        asyncio.run(_logins(web, asyncio.run(_mint(sb, pick[:20])), 4))  # warm every worker
        codes = asyncio.run(_mint(sb, pick))
        n_workers = asyncio.run(_logins(web, codes, args.concurrency, sb=sb))
        scale = n_workers["per_s"] / max(one_worker["per_s"], 0.001)
        # What this machine allows: its cores ÷ the CPU one login costs all three processes
        # (service, sandbox, load generator — measured with N workers) is the most logins/s it
        # can serve; ÷ one worker's logins/s, the best ``--workers N ÷ 1`` it can show.
        cores = os.cpu_count() or 1
        ceiling = cores / (_cpu_per_login(n_workers) / 1000) / max(one_worker["per_s"], 0.001)
        ceiling_1 = cores / (_cpu_per_login(one_worker) / 1000) / max(one_worker["per_s"], 0.001)
        # The same with only the cores other processes (other sessions on a shared machine) left
        # free during the N-worker run: what explains the measured ratio on a busy machine.
        left = max(0.0, cores - n_workers["others_cores"])
        ceiling_left = left / (_cpu_per_login(n_workers) / 1000) / max(one_worker["per_s"], 0.001)

        rows += [
            ("upstream calls per login, user synced recently", round(fresh_calls, 3)),
            ("upstream calls per login, stale user row", round(stale_calls, 3)),
            ("upstream calls per login, the seed's PHP flow", SEED_FLOW_CALLS),
            ("ratio ours (stale) / seed", round(stale_calls / SEED_FLOW_CALLS, 2)),
            (
                f"{args.concurrency} in flight: p50 / p99 / max ms",
                f"{fresh['p50_ms']} / {fresh['p99_ms']} / {fresh['max_ms']}",
            ),
            (f"{args.concurrency} in flight: logins per second", fresh["per_s"]),
            (
                f"{args.concurrency} in flight, stale rows: p50 / p99 ms",
                f"{stale['p50_ms']} / {stale['p99_ms']}",
            ),
            (
                f"floor: GET /healthz, {args.concurrency} in flight: p50 / p99 ms",
                f"{healthz['p50_ms']} / {healthz['p99_ms']}",
            ),
            (f"floor: GET /healthz, {args.concurrency} in flight: per second", healthz["per_s"]),
            (
                "login p99 ÷ /healthz p99 (same run)",
                round(fresh["p99_ms"] / max(healthz["p99_ms"], 0.001), 1),
            ),
            (
                f"p99 the target needs at {args.concurrency} in flight: logins per second",
                f">= {args.concurrency / 0.025:.0f} (Little's law: in flight ÷ 25 ms)",
            ),
            ("one at a time: p50 / p99 ms", f"{serial['p50_ms']} / {serial['p99_ms']}"),
            ("one at a time: logins per second", serial["per_s"]),
            (
                "one at a time: service CPU per login / per GET /healthz, ms",
                f"{login_cpu_ms:.2f} / {healthz_cpu_ms:.2f}",
            ),
            ("4 in flight: p50 / p99 ms", f"{few['p50_ms']} / {few['p99_ms']}"),
            ("4 in flight: logins per second", few["per_s"]),
            (
                "p99 at concurrency ÷ p50 one at a time",
                round(fresh["p99_ms"] / max(serial["p50_ms"], 0.001), 1),
            ),
            (
                f"{args.concurrency} in flight: logins/s, 1 worker / {args.workers} workers",
                f"{one_worker['per_s']} / {n_workers['per_s']} (× {scale:.2f})",
            ),
            (
                f"{args.concurrency} in flight, 1 worker: CPU per login, service / sandbox / "
                "load generator, ms",
                _cpu_split(one_worker),
            ),
            (
                f"{args.concurrency} in flight, {args.workers} workers: CPU per login, service / "
                "sandbox / load generator, ms",
                _cpu_split(n_workers),
            ),
            (
                f"machine ceiling for {args.workers} workers ÷ 1: {cores} cores ÷ CPU per login "
                f"({args.workers} workers) ÷ 1 worker's logins/s",
                f"× {ceiling:.2f} (with 1 worker's CPU per login: × {ceiling_1:.2f})",
            ),
            (
                f"the same with the cores other processes left during the {args.workers}-worker "
                "run",
                f"× {ceiling_left:.2f} ({left:.2f} cores)",
            ),
            (
                f"{args.concurrency} in flight: service CPU per login / per GET /healthz, ms",
                f"{fresh['service_cpu_ms']:.2f} / {healthz['service_cpu_ms']:.2f} (ratio "
                f"{healthz['service_cpu_ms'] / max(fresh['service_cpu_ms'], 1e-9):.3f}: what "
                "logins ÷ /healthz tends to when the service bounds both; other processes "
                f"kept {fresh['others_cores']:.2f} / {healthz['others_cores']:.2f} cores busy)",
            ),
            (
                f"{args.concurrency} in flight: load generator ({LOADGEN}) CPU per login / per "
                "GET /healthz, ms",
                f"{fresh['loadgen_cpu_ms']:.3f} / {healthz['loadgen_cpu_ms']:.3f}",
            ),
            (
                "load average 1 / 5 / 15 min (at the end)",
                " / ".join(f"{x:.2f}" for x in os.getloadavg()),
            ),
            (
                "failed logins",
                one_worker["failures"]
                + n_workers["failures"]
                + fresh["failures"]
                + stale["failures"]
                + serial["failures"]
                + few["failures"]
                + healthz["failures"],
            ),
        ]
        ratio = fresh["per_s"] / max(healthz["per_s"], 0.001)
        figures = [
            Figure(
                "login one at a time (sandbox latency 0): service CPU per login, ms",
                "≤ 2",
                round(login_cpu_ms, 2),
                round(healthz_cpu_ms, 2),
                login_cpu_ms <= 2,
                "per GET /healthz",
            ),
            Figure(
                f"logins/s at {args.concurrency} in flight ÷ /healthz req/s",
                "≥ 0.4",
                round(ratio, 3),
                healthz["per_s"],
                ratio >= 0.4,
                "/healthz req/s",
            ),
            Figure(
                f"logins/s at {args.concurrency} in flight, serve --workers {args.workers} ÷ "
                "1 worker",
                f"> {WORKERS_TARGET} (scales with cores)",
                round(scale, 2),
                one_worker["per_s"],
                scale > WORKERS_TARGET,
                f"1 worker, logins/s; this machine's ceiling × {ceiling:.2f}, × "
                f"{ceiling_left:.2f} on the cores other processes left",
            ),
        ]
        width = max(len(k) for k, _ in rows)
        print(f"web login: {args.users}-person company, {args.logins} logins, sandbox latency 0")
        for key, value in rows:
            print(f"  {key:<{width}}  {value}")
        print(f"  {'serial /healthz p50 ms (reference)':<{width}}  {serial_healthz['p50_ms']}")
        return figures
    except BaseException:
        if web is not None:
            print(web.tail(), file=sys.stderr)
        raise
    finally:
        if web is not None:
            web.close()
        sb.close()
        tmp.cleanup()


if __name__ == "__main__":
    main(sys.argv[1:])
