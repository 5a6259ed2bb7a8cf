"""Service CPU of a fresh-user login, in-process, by part (issue 17, branch ``login19``).

``dingsync``'s ASGI app is called directly (no uvicorn, no socket on the service side: what
is left is the app's own work, the DingTalk call over aiohttp to a sandbox in its own process
and the worker-thread hop) with ``--concurrency`` logins in flight; the figure is this
process's CPU (``time.process_time``: every thread) per login. Then the parts of a login
alone, in a loop: the store hop (``_session_if_fresh``), the profile's ``permissions``, the
response model's validation and serialisation, the request guard.

Usage: ``python benchmarks/profiles/login_parts19.py [--users 300] [--logins 2000]
[--concurrency 100] [--repeat 3]``. Compare checkouts by running each one's interpreter with
this file (``/work/main/.venv/bin/python benchmarks/profiles/login_parts19.py``): the sandbox
and the synced database are made afresh each run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_directory import SandboxProcess
from bench_web import _mint, login_setup, synced_sqlite

from dingsync.web import login as login_mod
from dingsync.web import sessions
from dingsync.web.app import create_app


async def _asgi_login(app: Any, code: str) -> tuple[int, bytes]:
    body = json.dumps({"authCode": code}).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/auth/dingtalk",
        "raw_path": b"/api/auth/dingtalk",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"accept", b"*/*"),
            (b"user-agent", b"login_parts19"),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def _run_logins(app: Any, codes: list[str], concurrency: int) -> tuple[float, int]:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for c in codes:
        queue.put_nowait(c)
    failures = 0

    async def worker() -> None:
        nonlocal failures
        while True:
            try:
                code = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            status, _ = await _asgi_login(app, code)
            failures += status != 200

    cpu = time.process_time()
    GC_TIME.clear()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    took = (time.process_time() - cpu) * 1000 / len(codes)
    gc_ms = {gen: round(s * 1000 / len(codes), 4) for gen, s in sorted(GC_TIME.items())}
    print(f"  CPU/login {took:.3f} ms; garbage collection per login by generation, ms: {gc_ms}")
    return took, failures


#: Seconds spent in the garbage collector per generation (``gc.callbacks``).
GC_TIME: dict[int, float] = {}
_GC_START: list[float] = [0.0]


def _gc_callback(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _GC_START[0] = time.thread_time()
    else:
        gen = info["generation"]
        GC_TIME[gen] = GC_TIME.get(gen, 0.0) + time.thread_time() - _GC_START[0]


gc.callbacks.append(_gc_callback)


def _loop_ms(fn: Any, n: int) -> float:
    fn()
    cpu = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - cpu) * 1000 / n


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="login_parts19")
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--logins", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() before the logins")
    parser.add_argument("--gc-threshold", type=int, default=0, help="gc.set_threshold(N)")
    parser.add_argument(
        "--cprofile", type=int, default=0, help="also print cProfile's top N of the store hop"
    )
    parser.add_argument(
        "--callers",
        default="",
        help="with --cprofile: also who called these functions (comma-separated names)",
    )
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
        pick = [userids[i % len(userids)] for i in range(args.logins)]
        codes = [asyncio.run(_mint(sb, pick)) for _ in range(args.repeat)]
        warm = asyncio.run(_mint(sb, pick[:100]))

        async def logins() -> list[tuple[float, int]]:
            app = create_app(settings, engine=engine)
            if args.freeze:
                gc.collect()
                gc.freeze()
            if args.gc_threshold:
                gc.set_threshold(args.gc_threshold, *gc.get_threshold()[1:])
            out = []
            async with app.router.lifespan_context(app):
                await _run_logins(app, warm, 10)
                for batch in codes:
                    out.append(await _run_logins(app, batch, args.concurrency))
                if args.cprofile:  # the event loop's side of one more batch (not the hop)
                    import cProfile
                    import pstats

                    extra = await asyncio.to_thread(lambda: asyncio.run(_mint(sb, pick)))
                    prof = cProfile.Profile()
                    prof.enable()
                    await _run_logins(app, extra, args.concurrency)
                    prof.disable()
                    pstats.Stats(prof).sort_stats("tottime").print_stats(args.cprofile)
                    pstats.Stats(prof).sort_stats("cumulative").print_stats(args.cprofile)
                    for name in filter(None, args.callers.split(",")):
                        pstats.Stats(prof).print_callers(name)
            return out

        runs = asyncio.run(logins())
        print(
            f"in-process login CPU at {args.concurrency} in flight, ms: "
            + " / ".join(f"{ms:.3f}" for ms, _ in runs)
            + f" (median {statistics.median(ms for ms, _ in runs):.3f}; "
            f"failures {sum(f for _, f in runs)})"
        )

        # The parts, one at a time in a loop.
        app = create_app(settings, engine=engine)
        ctx = app.state.web
        n = 1000
        counter = iter(range(10**9))

        def hop() -> None:
            code = f"parts-{next(counter)}"
            key = sessions.code_hash(ctx.corp_id, code)
            out = login_mod._session_if_fresh(ctx, pick[next(counter) % len(pick)], (code, key), 0)
            assert isinstance(out, tuple), out

        print(f"store hop (_session_if_fresh), ms: {_loop_ms(hop, n):.4f}")
        if args.cprofile > 1000:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.runcall(lambda: [hop() for _ in range(n)])
            pstats.Stats(prof).sort_stats("tottime").print_stats(args.cprofile)
            pstats.Stats(prof).sort_stats("cumulative").print_stats(args.cprofile)
        outcome = login_mod._session_if_fresh(ctx, pick[0], None, 0)
        assert isinstance(outcome, tuple)
        with engine.connect() as conn:
            viewer = ctx.viewer(conn, pick[0])
        print(f"permissions(viewer), ms: {_loop_ms(lambda: login_mod.permissions(viewer), n):.4f}")
        body = asyncio.run(login_mod._answer(ctx, outcome, None))
        from dingsync.web.routers import auth as auth_router

        route = next(r for r in auth_router.router.routes if r.path.endswith("/dingtalk"))
        field = route.response_field

        def respond() -> None:
            value, errors = field.validate(body, {}, loc=("response",))
            assert not errors
            field.serialize_json(value, exclude_unset=True, by_alias=True)

        print(f"response model validate + dump_json, ms: {_loop_ms(respond, n):.4f}")
        size = len(field.serialize_json(field.validate(body, {})[0], exclude_unset=True))
        print(f"login answer: {size} bytes")
    finally:
        sb.close()
        tmp.cleanup()


if __name__ == "__main__":
    main(sys.argv[1:])
