"""The plain login route against FastAPI's, in one process (issue 17, branch ``login20``).

Two apps on the same synced SQLite database and the same sandbox, called directly over ASGI
(no uvicorn, as ``login_parts19.py`` does): one as ``create_app`` makes it (the plain Starlette
route of ``routers.auth.login_route`` matched first), one with that route removed (FastAPI's
``APIRoute`` answers, as on main). Batches of fresh-user logins at ``--concurrency`` in flight
alternate between the two, so the machine's load of the moment weighs on both alike; the
figure is this process's CPU per login (every thread: the worker-thread hop included) per
batch, and the median of the per-pair differences.

Usage: ``python benchmarks/profiles/login_route20.py [--users 300] [--pairs 12]
[--batch 400] [--concurrency 100]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_directory import SandboxProcess
from bench_web import _mint, login_setup, synced_sqlite
from login_parts19 import _asgi_login
from starlette.routing import Route

from dingsync.web.app import create_app


async def _batch(app: Any, codes: list[str], concurrency: int) -> float:
    """CPU ms per login of ``codes`` through ``app``, ``concurrency`` at a time."""
    queue = list(reversed(codes))
    failures = 0

    async def worker() -> None:
        nonlocal failures
        while queue:
            status, _ = await _asgi_login(app, queue.pop())
            failures += status != 200

    cpu = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    took = (time.process_time() - cpu) * 1000 / len(codes)
    assert failures == 0, failures
    return took


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="login_route20")
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--pairs", type=int, default=12)
    parser.add_argument("--batch", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    sb = SandboxProcess(args.users, 0, 0)
    tmp = tempfile.TemporaryDirectory()
    try:
        url, engine = synced_sqlite(sb, tmp.name)
        settings, userids = login_setup(sb, url)
        pick = [userids[i % len(userids)] for i in range(args.batch)]
        # Codes for every batch, minted before any is measured (2 apps × pairs + warm-up).
        batches = [asyncio.run(_mint(sb, pick)) for _ in range(2 * args.pairs + 2)]

        async def run() -> tuple[list[float], list[float]]:
            plain_app = create_app(settings, engine=engine)
            fastapi_app = create_app(settings, engine=engine)
            first = fastapi_app.router.routes[0]
            assert type(first) is Route, "no plain login route: not a login20 checkout"
            fastapi_app.router.routes.pop(0)
            gc.collect()
            gc.freeze()  # as `dingsync serve` does (web/server.py, gc_for_serving)
            gc.set_threshold(10_000, *gc.get_threshold()[1:])
            plain: list[float] = []
            fastapi: list[float] = []
            async with (
                plain_app.router.lifespan_context(plain_app),
                fastapi_app.router.lifespan_context(fastapi_app),
            ):
                await _batch(plain_app, batches[0], args.concurrency)
                await _batch(fastapi_app, batches[1], args.concurrency)
                for n in range(args.pairs):
                    pair = [
                        ("plain", plain_app, plain),
                        ("fastapi", fastapi_app, fastapi),
                    ]
                    if n % 2:
                        pair.reverse()
                    for k, (_name, app, out) in enumerate(pair):
                        out.append(await _batch(app, batches[2 + 2 * n + k], args.concurrency))
                    print(
                        f"  pair {n + 1}: plain {plain[-1]:.3f} ms, FastAPI's {fastapi[-1]:.3f} ms"
                    )
            return plain, fastapi

        plain, fastapi = asyncio.run(run())
        diffs = [f - p for p, f in zip(plain, fastapi, strict=True)]
        print(
            f"CPU per login at {args.concurrency} in flight, median of {args.pairs} batches of "
            f"{args.batch}: plain route {statistics.median(plain):.3f} ms, FastAPI's "
            f"{statistics.median(fastapi):.3f} ms; FastAPI's − plain per pair: median "
            f"{statistics.median(diffs):.3f} ms, plain cheaper in {sum(d > 0 for d in diffs)} "
            f"of {len(diffs)}"
        )
    finally:
        sb.close()
        tmp.cleanup()


if __name__ == "__main__":
    main(sys.argv[1:])
