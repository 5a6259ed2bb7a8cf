"""A lean HTTP/1.1 load generator for the web benchmarks (``bench_web.py`` and the scripts built
on its ``_logins``).

httpx costs ~1.2–1.4 ms of its own CPU per request, more than the service spends on a
``GET /healthz`` (~0.6 ms): on a 2-core machine shared by the load generator, the sandbox and the
service, a figure measured with it is the load generator's. This one is plain asyncio, standard
library only: ``concurrency`` keep-alive connections to the service, requests encoded once
beforehand (:func:`get`, :func:`post_json`), each connection driven from its protocol's
callbacks — a response read completes, the connection sends the next request of the shared list
at once (no task, future or queue per request) — and a minimal response parser: the status line,
the headers up to the blank line and a ``Content-Length`` body. The service never answers the
routes benchmarked here in chunks (FastAPI's JSON responses carry their length; only the
approvals' CSV stream and exports are chunked or files), so a chunked response, or one with
neither length nor an empty body by its status, is a :class:`LoadError` rather than parsed.

:func:`run` returns per-request latency (write of the request → its last byte read), the status
of every response (``failures``: those that are not 200), the wall time and this process's CPU
time over the run. A connection that cannot be opened, breaks, or closes with a request
outstanding raises :class:`LoadError`; one the server closes cleanly after a whole response
(``Connection: close``) is opened again and counted in ``reconnects``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LoadError", "Result", "get", "post_json", "run"]

#: Headers every request carries besides ``Host`` (what a browser-less client would send).
_COMMON = b"User-Agent: dingsync-loadgen\r\nAccept: */*\r\n"
#: Statuses whose responses have no body whatever their headers say (RFC 9110 §6.4.1).
_NO_BODY = {204, 304}


class LoadError(RuntimeError):
    """The load could not be delivered: a connection refused, broken or closed with a request
    in flight, or a response this parser does not read (chunked, no length)."""


def get(path: str, host: str = "127.0.0.1") -> bytes:
    """``GET path`` as bytes on the wire (HTTP/1.1, keep-alive)."""
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n".encode() + _COMMON + b"\r\n"


def post_json(path: str, payload: Any, host: str = "127.0.0.1") -> bytes:
    """``POST path`` with ``payload`` as its JSON body, as bytes on the wire."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
    ).encode()
    return head + _COMMON + b"\r\n" + body


@dataclass
class Result:
    """One run of :func:`run`."""

    requests: int
    #: Responses whose status was not 200.
    failures: int
    statuses: Counter[int]
    #: Milliseconds per request, in the order the responses completed.
    latencies_ms: list[float]
    wall_s: float
    #: CPU seconds (user + system) this process used between the first request and the last
    #: response (``time.process_time``): the load generator's own cost.
    cpu_s: float
    reconnects: int = 0
    #: ``(status, body)`` per request, in request order (``keep_bodies``); empty otherwise.
    responses: list[tuple[int, bytes]] = field(default_factory=list)
    #: ``probe``'s counters after the timed run minus before it (e.g. other processes' CPU).
    probed: dict[str, float] = field(default_factory=dict)

    @property
    def per_s(self) -> float:
        return self.requests / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_s * 1000 / self.requests if self.requests else 0.0


def _header(lower_head: bytes, name: bytes) -> bytes | None:
    """The value of header ``name`` (lower case) in a lower-cased response head, or ``None``."""
    at = lower_head.find(b"\r\n" + name + b":")
    if at < 0:
        return None
    at += len(name) + 3
    end = lower_head.find(b"\r\n", at)
    return lower_head[at : end if end >= 0 else len(lower_head)].strip()


class _Connection(asyncio.Protocol):
    """One keep-alive connection: at most one request in flight, the next one sent from the
    callback that completes the previous response."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.index = -1  # the request in flight, -1: none
        self.started = 0.0
        self.status = 0
        self.body_at = -1  # where the body starts in ``buf``; -1: headers not read yet
        self.length = 0
        self.close_after = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, index: int) -> None:
        assert self.transport is not None
        self.index = index
        self.started = time.perf_counter()
        self.transport.write(self.run.requests[index])

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if self.index < 0:
            self.run.fail(LoadError(f"{len(buf)} bytes received with no request in flight"))
            return
        if self.body_at < 0:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            try:
                self._head(bytes(buf[:end]))
            except LoadError as exc:
                self.run.fail(exc)
                return
            self.body_at = end + 4
        stop = self.body_at + self.length
        if len(buf) < stop:
            return
        if len(buf) > stop:
            self.run.fail(LoadError(f"{len(buf) - stop} bytes received beyond the response"))
            return
        body = bytes(buf[self.body_at : stop])
        buf.clear()
        index, self.index, self.body_at = self.index, -1, -1
        self.run.done(self, index, self.status, body, time.perf_counter() - self.started)

    def _head(self, head: bytes) -> None:
        if not head.startswith(b"HTTP/1."):
            raise LoadError(f"not an HTTP/1.x response: {head[:60]!r}")
        try:
            self.status = int(head[9:12])
        except ValueError:
            raise LoadError(f"bad status line: {head[:60]!r}") from None
        lower = head.lower()
        if _header(lower, b"transfer-encoding") is not None:
            raise LoadError("chunked (Transfer-Encoding) responses are not read by this parser")
        length = _header(lower, b"content-length")
        if length is not None:
            self.length = int(length)
        elif self.status in _NO_BODY or self.status < 200:
            self.length = 0
        else:
            raise LoadError(f"status {self.status} response without Content-Length")
        self.close_after = _header(lower, b"connection") == b"close"

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.run.lost(self, exc)


class _Run:
    """The shared state of one :func:`run`: its connections, the requests of the current phase
    (warm-up, then the measured one), who sends next, what came back."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.conns: set[_Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.reconnects = 0
        self.phase([], keep_bodies=False)

    def phase(self, requests: Sequence[bytes], *, keep_bodies: bool) -> None:
        """Start counting afresh for ``requests``."""
        self.requests = requests
        self.next = 0
        self.completed = 0
        self.statuses: Counter[int] = Counter()
        self.latencies: list[float] = []
        self.responses: list[tuple[int, bytes]] | None = (
            [(0, b"")] * len(requests) if keep_bodies else None
        )
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def go(self) -> None:
        """Send the phase's requests from every open connection; wait until all are answered."""
        if self.requests:
            for conn in list(self.conns):
                self.start(conn)
            await self.finished

    async def open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(lambda: _Connection(self), self.host, self.port)
        except OSError as exc:
            raise LoadError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        self.conns.add(conn)
        return conn

    def start(self, conn: _Connection) -> None:
        if self.next < len(self.requests):
            self.next += 1
            conn.send(self.next - 1)

    def done(self, conn: _Connection, index: int, status: int, body: bytes, elapsed: float) -> None:
        self.latencies.append(elapsed * 1000)
        self.statuses[status] += 1
        if self.responses is not None:
            self.responses[index] = (status, body)
        self.completed += 1
        if conn.close_after:  # the server closes it: go on over a new connection
            self.conns.discard(conn)
            assert conn.transport is not None
            conn.transport.close()
            self._spawn(self._reopen())
        if self.completed == len(self.requests):
            if not self.finished.done():
                self.finished.set_result(None)
        elif not conn.close_after:
            self.start(conn)

    def lost(self, conn: _Connection, exc: Exception | None) -> None:
        if conn not in self.conns:
            return  # closed by us
        self.conns.discard(conn)
        why = f": {exc!r}" if exc is not None else ""
        if conn.index >= 0:
            self.fail(LoadError(f"connection lost with a request in flight{why}"))
        else:  # closed between two requests (keep-alive timeout): open another
            self._spawn(self._reopen())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _reopen(self) -> None:
        try:
            conn = await self.open()
        except LoadError as exc:
            self.fail(exc)
            return
        self.reconnects += 1
        self.start(conn)

    def fail(self, exc: BaseException) -> None:
        if not self.finished.done():
            self.finished.set_exception(exc)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        conns, self.conns = self.conns, set()
        for conn in conns:
            if conn.transport is not None:
                conn.transport.close()
        await asyncio.sleep(0)  # let the transports call connection_lost before the loop ends


async def run(
    host: str,
    port: int,
    requests: Sequence[bytes],
    concurrency: int,
    *,
    warmup: bytes | None = None,
    keep_bodies: bool = False,
    probe: Callable[[], Mapping[str, float]] | None = None,
) -> Result:
    """Send every request of ``requests`` (bytes from :func:`get` / :func:`post_json`) over
    ``concurrency`` keep-alive connections, each with one request in flight, the next request of
    the list going to whichever connection's response completes first.

    The connections are opened first (and, with ``warmup``, each sends that request once and
    reads its answer) so that the figures are about the requests, not TCP set-up. Raises
    :class:`LoadError` when a connection cannot be opened or breaks, or a response cannot be
    read; a non-200 status is counted in ``failures``, not raised.

    ``probe``: counters read just before the timed run (after the warm-up) and just after it;
    their differences are the result's ``probed`` (the service's and the sandbox's CPU seconds
    over exactly the requests measured)."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    state = _Run(host, port)
    try:
        for _ in range(concurrency):
            await state.open()
        if warmup is not None:
            state.phase([warmup] * concurrency, keep_bodies=False)
            await state.go()
        state.phase(requests, keep_bodies=keep_bodies)
        reconnects = state.reconnects
        before = dict(probe()) if probe is not None else {}
        cpu = time.process_time()
        started = time.perf_counter()
        await state.go()
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
        after = dict(probe()) if probe is not None else {}
    finally:
        await state.close()
    return Result(
        requests=len(requests),
        failures=sum(n for status, n in state.statuses.items() if status != 200),
        statuses=state.statuses,
        latencies_ms=state.latencies,
        wall_s=wall,
        cpu_s=cpu,
        reconnects=state.reconnects - reconnects,
        responses=state.responses or [],
        probed={k: after[k] - before[k] for k in before},
    )
