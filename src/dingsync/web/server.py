"""Serving the app: :func:`serve` (blocking, ``dingsync serve`` and the demo),
:func:`serve_workers` (``dingsync serve --workers N``: N processes on one socket) and
:class:`WebServer` (uvicorn in a daemon thread on a free port — tests and benchmarks).

Several workers are uvicorn's own process supervisor (``uvicorn.supervisors.Multiprocess``), not
gunicorn: the same server stack as one process, no further dependency, workers started with
``spawn`` (each builds its own engine, DingTalk client and event loop after start — nothing
half-initialised is inherited through ``fork``), a crashed worker is replaced, and SIGTERM/SIGINT
stop them all. Workers that keep dying before they ever served (the app cannot be built, its
start-up fails) stop the service instead of being restarted forever (:class:`WorkerStartupError`).
What the workers share goes through the database (or Redis when configured): the access token
and the JSAPI ticket (one fetch for all, ``DatabaseTokenStore.single_flight``), sessions and the
login-code replay records; each worker keeps its own short-lived caches (the department tree,
``DINGSYNC_WEB_TREE_CACHE_S``).
"""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess


def _config(
    app: FastAPI | Callable[[], FastAPI],
    host: str,
    port: int,
    log_level: str = "warning",
    **extra: object,
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        backlog=4096,
        timeout_keep_alive=30,
        **extra,  # type: ignore[arg-type]
    )


def listen_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on now (``"address already in use"``, a host that
    does not resolve …), or ``None``: a socket is bound there (``SO_REUSEADDR``, as uvicorn
    binds) and closed again at once, so a command can refuse in one line before it starts."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"host {host!r} does not resolve ({exc.strerror})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            return (exc.strerror or str(exc)).lower()
    return None


#: The young generation's threshold while serving (Python's default: 700 allocations).
GC_YOUNG_THRESHOLD = 10_000


def gc_for_serving() -> None:
    """Set the garbage collector up for serving: everything alive now (the imported modules,
    the app, its schemas and routes — objects that live as long as the process) is moved out
    of its reach (:func:`gc.freeze`, after one full collection), and the young generation is
    collected every :data:`GC_YOUNG_THRESHOLD` allocations instead of every 700.

    With 100 requests in flight, hundreds of their objects are alive at any moment: at 700
    the collector ran every few requests, promoting what was in flight, and every full
    collection walked the whole heap again (~180,000 objects, ~0.1 s each). Measured
    in-process at 100 logins in flight (``benchmarks/profiles/login_parts19.py``, issue 17):
    the collector's own time per login went from ~0.1–0.2 ms to under 0.01 ms. Requests' own
    objects are freed by reference counting as before; cycles among them are still collected
    (less often: a few thousand objects at most wait for it). Frozen objects are never
    collected as cycles — none are garbage while the process serves. Called by the processes
    that serve (:func:`serve`, each worker of :func:`serve_workers`), not by
    :func:`~dingsync.web.app.create_app`: tests build many apps in one process."""
    gc.collect()
    gc.freeze()
    _young, *older = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *older)


def serve(app: FastAPI, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Run ``app`` in the foreground until interrupted (the garbage collector set up first:
    :func:`gc_for_serving`)."""
    gc_for_serving()
    uvicorn.Server(_config(app, host, port, log_level)).run()


#: Seconds a worker of :func:`serve_workers` has to answer the supervisor's health check.
WORKER_HEALTHCHECK_S = 60


#: Workers of :func:`serve_workers` that may die in a row before they ever served (built the
#: app and finished its start-up) before the service gives up (:class:`WorkerStartupError`).
WORKER_STARTUP_CRASHES = 5


class WorkerStartupError(RuntimeError):
    """``serve --workers N`` stopped because its workers keep dying before they serve: the
    message says how many died in a row (each worker's own error is on its stderr)."""


class _Supervisor(Multiprocess):
    """uvicorn's supervisor, but workers that die before they ever reported ready are counted:
    :data:`WORKER_STARTUP_CRASHES` in a row (no worker became ready in between) stop the
    service, and so does a worker exiting with uvicorn's own start-up failure code (which
    uvicorn stops on too, silently). A worker that dies after it served is replaced as before.
    After :meth:`run`, ``failure`` says why it stopped (``None``: a signal stopped it)."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets=sockets)
        self.failure: str | None = None
        self._ready: set[int | None] = set()
        self._crashes = 0

    def keep_subprocess_alive(self) -> None:
        """Replace dead workers (uvicorn), then count those that died before they served and
        note the ones that became ready; set ``failure`` and stop when start-up keeps failing."""
        if self.should_exit.is_set():
            return
        before = list(self.processes)
        super().keep_subprocess_alive()
        for process in before:
            if process in self.processes:
                # Not replaced: alive, or uvicorn stopped on its start-up failure code.
                if self.should_exit.is_set() and process.exitcode == STARTUP_FAILURE:
                    self.failure = (
                        f"a worker failed to start (exit code {STARTUP_FAILURE}: its app's "
                        "start-up failed or the socket could not be used)"
                    )
                    return
                continue
            if process.pid not in self._ready:  # died (and was replaced) before it served
                self._crashes += 1
        if self._crashes >= WORKER_STARTUP_CRASHES:
            self.failure = (
                f"{self._crashes} workers in a row died before they served (the app could not "
                "be built or started)"
            )
            self.should_exit.set()
            return
        for process in self.processes:
            if process.pid in self._ready or process.exitcode is not None:
                continue
            if process.is_ready(timeout=1):
                self._ready.add(process.pid)
                self._crashes = 0


def serve_workers(
    factory: Callable[[], FastAPI],
    workers: int,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
) -> None:
    """Run ``workers`` processes serving the app ``factory()`` builds, on one listening socket,
    in the foreground until interrupted (SIGINT/SIGTERM stop every worker).

    ``factory`` is called once in each worker, so it must be picklable (a module-level
    function, or a :func:`functools.partial` of one with picklable arguments): the workers are
    started with ``spawn``. A worker that dies after it served is replaced; workers that keep
    dying before they serve (:data:`WORKER_STARTUP_CRASHES` in a row, or one exiting with
    uvicorn's start-up failure code) stop them all and raise :class:`WorkerStartupError`.
    """
    # The supervisor kills a worker that does not answer its health check within
    # ``timeout_worker_healthcheck`` — including one still importing: uvicorn's 5 s is less than
    # a start-up on a loaded small machine, where the workers would be restarted forever.
    config = _config(
        factory,
        host,
        port,
        log_level,
        factory=True,
        workers=workers,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
    )
    sock = config.bind_socket()
    supervisor = _Supervisor(config, sockets=[sock])
    try:
        supervisor.run()
    finally:
        sock.close()
    if supervisor.failure is not None:
        raise WorkerStartupError(supervisor.failure)


class WebServer:
    """``app`` served by uvicorn in a daemon thread on ``host`` (a free port unless given);
    ``base_url`` once started. Use as a context manager."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT``."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> WebServer:
        """Bind, start and wait until the server accepts connections (and ran its lifespan)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(4096)
        sock.setblocking(False)
        self._sock = sock
        self.port = sock.getsockname()[1]
        server = uvicorn.Server(_config(self.app, self.host, self.port))
        self._server = server
        errors: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(server.serve(sockets=[sock]))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        self._thread = threading.Thread(target=run, name=f"dingsync-web-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if errors or not self._thread.is_alive():
                raise RuntimeError(f"web server failed to start: {errors[:1]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("web server did not start in time")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop the server and wait for its thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


__all__ = ["WebServer", "serve", "serve_workers"]
