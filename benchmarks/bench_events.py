"""Benchmark ``events``: mutations in the sandbox → events → our database, over HTTP callbacks
and over Stream mode.

The sandbox runs in its own process (``dingsync sandbox``) with DingTalk's per-API QPS limit and
latency. For each channel: a full directory sync first, then ``--mutations`` random mutations
(hire, move, modify, leave, rejoin, create department) at ``--rate`` per second. Printed per
channel: events processed, DingTalk API calls per changed entity (target ≤ 2; the access token
excluded), and event-to-database latency p50/p99/max (the event's born time in the sandbox to
the moment its refresh was committed; target p99 < 1 s).

Usage: ``python benchmarks/run.py events -- [--mutations 1000] [--rate 15] [--qps 20]``
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_directory import SandboxProcess

from dingsync.dingtalk import DingTalkClient
from dingsync.dingtalk.crypto import CallbackCrypto
from dingsync.dingtalk.models.events import Event
from dingsync.store import db
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import run_sync
from dingsync.sync.events import EventProcessor
from dingsync.sync.events_stream import StreamConsumer
from dingsync.web.routers.callbacks import EventsReceiver, router

TOKEN = "benchToken0123456789abcdefghijkl"
AES_KEY = "BenchAesKey0123456789abcdefghijklmnopqrstuv"


def _client(app: dict[str, Any], base: str, qps: float) -> DingTalkClient:
    return DingTalkClient(
        app["app_key"],
        app["app_secret"],
        corp_id=app["corp_id"],
        oapi_url=base,
        api_url=base,
        qps_per_api=qps or None,
    )


class Recorder:
    """Latency (s) of each processed event and the API calls spent."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: dict[str, int] = {}
        self.target = 0
        self.done = threading.Event()

    def __call__(self, event: Event, status: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if self.target and sum(self.statuses.values()) >= self.target:
            self.done.set()
        if event.event_time_ms:
            self.latencies.append(time.time() - event.event_time_ms / 1000)


async def _mutate(base: str, n: int, rate: float) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        started = time.monotonic()
        for i in range(n):
            await http.post(f"{base}/sandbox/mutate/contacts/random", json={"n": 1})
            lag = started + (i + 1) / rate - time.monotonic()
            if lag > 0:
                await asyncio.sleep(lag)


async def _wait(recorder: Recorder, n: int, limit: float = 60) -> None:
    recorder.target = n
    if sum(recorder.statuses.values()) >= n:
        return
    await asyncio.to_thread(recorder.done.wait, limit)


def _report(channel: str, rec: Recorder, calls: int, n: int, wall: float) -> None:
    lat = sorted(rec.latencies)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")  # noqa: E731
    print(
        f"{channel:>6}: {n} mutations in {wall:.1f} s, processed {rec.statuses}, "
        f"API calls/changed entity {calls / max(n, 1):.2f}, latency p50 {p(0.5) * 1000:.0f} ms, "
        f"p99 {p(0.99) * 1000:.0f} ms, max {lat[-1] * 1000 if lat else 0:.0f} ms, "
        f"mean {statistics.fmean(lat) * 1000 if lat else 0:.0f} ms",
        flush=True,
    )


def _calls(client: DingTalkClient) -> int:
    return sum(v for k, v in client.calls.items() if "token" not in k.lower())


async def bench_stream(sb: SandboxProcess, url: str, n: int, rate: float, qps: float) -> None:
    engine = db.create_engine_for(url)
    db.migrate(engine)
    async with _client(sb.app, sb.base_url, qps) as client:
        await run_sync(client, engine, sb.app["corp_id"], [ContactsSync()])
        before = _calls(client)
        rec = Recorder()
        processor = EventProcessor(client, engine, sb.app["corp_id"])
        processor.on_processed = rec
        consumer = StreamConsumer(processor, sb.base_url, sb.app["app_key"], sb.app["app_secret"])
        task = asyncio.create_task(consumer.run())
        await asyncio.wait_for(consumer.connected.wait(), 10)
        started = time.monotonic()
        await _mutate(sb.base_url, n, rate)
        await _wait(rec, n)
        wall = time.monotonic() - started
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        _report("stream", rec, _calls(client) - before, n, wall)
    engine.dispose()


class _Receiver:
    def __init__(self, crypto: CallbackCrypto, make: Any) -> None:
        self.app = FastAPI()
        self.app.include_router(router)
        self.crypto, self.make = crypto, make
        self.processor: EventProcessor | None = None
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        )
        self.loop: asyncio.AbstractEventLoop | None = None

        def run() -> None:
            async def main() -> None:
                self.loop = asyncio.get_running_loop()
                self.processor = self.make()
                self.app.state.dingsync_events = EventsReceiver(self.crypto, self.processor)
                try:
                    await self.server.serve(sockets=[sock])
                finally:  # the processor's client lives on this loop: closed here
                    await self.processor.client.aclose()

            asyncio.run(main())

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


async def bench_http(sb: SandboxProcess, url: str, n: int, rate: float, qps: float) -> None:
    engine = db.create_engine_for(url)
    db.migrate(engine)
    corp = sb.app["corp_id"]
    async with _client(sb.app, sb.base_url, qps) as client:
        await run_sync(client, engine, corp, [ContactsSync()])
    rec = Recorder()
    holder: dict[str, DingTalkClient] = {}

    def make() -> EventProcessor:
        holder["client"] = _client(sb.app, sb.base_url, qps)
        proc = EventProcessor(holder["client"], engine, corp)
        proc.on_processed = rec
        return proc

    receiver = _Receiver(CallbackCrypto(TOKEN, AES_KEY, sb.app["app_key"]), make)
    http = httpx.AsyncClient(timeout=10)
    try:
        r = await http.post(
            f"{sb.base_url}/sandbox/events/callback",
            json={
                "url": f"http://127.0.0.1:{receiver.port}/callbacks/dingtalk",
                "token": TOKEN,
                "aes_key": AES_KEY,
            },
        )
        r.raise_for_status()
        await asyncio.sleep(0.2)
        before = _calls(holder["client"])
        started = time.monotonic()
        await _mutate(sb.base_url, n, rate)
        await _wait(rec, n)
        wall = time.monotonic() - started
        _report("http", rec, _calls(holder["client"]) - before, n, wall)
        await http.post(f"{sb.base_url}/sandbox/events/callback", json={})
    finally:
        await http.aclose()
        receiver.stop()
    engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_events", description=__doc__)
    parser.add_argument("--mutations", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=15.0, help="mutations per second")
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--qps", type=float, default=20.0, help="per-API QPS (sandbox+client)")
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument("--channels", default="http,stream")
    args = parser.parse_args(argv or [])
    sb = SandboxProcess(args.users, args.qps, args.latency_ms)
    # each channel measures only its own events (no backlog kept for a Stream client, EB-87)
    httpx.post(f"{sb.base_url}/sandbox/config", json={"events_stream_keep_offline": False})
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for channel in args.channels.split(","):
                url = f"sqlite:///{tmp}/{channel}.db"
                bench = bench_http if channel == "http" else bench_stream
                asyncio.run(bench(sb, url, args.mutations, args.rate, args.qps))
    finally:
        sb.close()


if __name__ == "__main__":
    main(sys.argv[1:])
