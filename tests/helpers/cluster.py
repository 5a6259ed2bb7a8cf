"""The cluster's services for the tests: RabbitMQ (``DINGSYNC_TEST_BROKER_URL``, default the
local server's vhost ``dingsync_test``) and Redis (``DINGSYNC_TEST_REDIS_URL``, default
``redis://127.0.0.1:6379/15``), probed once; missing ones skip (fail under ``CI=true``, where
``.ci/run`` starts them) — and the worker processes the tests start and stop."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/dingsync_test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
DINGSYNC = Path(sys.executable).with_name("dingsync")


def broker_url() -> str:
    return os.environ.get("DINGSYNC_TEST_BROKER_URL", DEFAULT_BROKER_URL)


def redis_url() -> str:
    return os.environ.get("DINGSYNC_TEST_REDIS_URL", DEFAULT_REDIS_URL)


def _require(problem: str | None) -> None:
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {problem}")
        pytest.skip(problem)


def require_rabbitmq() -> None:
    """Skip (fail under CI) unless the broker accepts a connection on its vhost."""
    from kombu import Connection

    url = broker_url()
    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        parts = urlsplit(url)
        _require(f"RabbitMQ not usable at {parts.hostname}:{parts.port}{parts.path}: {exc!r}")


def require_redis() -> None:
    """Skip (fail under CI) unless Redis answers PING."""
    import redis

    try:
        redis.Redis.from_url(redis_url(), socket_connect_timeout=3).ping()
    except Exception as exc:
        _require(f"Redis not reachable at {redis_url()}: {exc.__class__.__name__}")


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(redis_url()).flushdb()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Worker:
    """A ``dingsync worker`` subprocess whose log goes to ``log``."""

    def __init__(
        self, name: str, env: dict[str, str], cwd: Path, args: tuple[str, ...] = ()
    ) -> None:
        self.name = name
        self.log = cwd / f"{name}.log"
        self._out = open(self.log, "wb")
        self.proc = subprocess.Popen(
            [str(DINGSYNC), "worker", "--name", f"{name}@test", *args],
            env=env,
            cwd=cwd,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def tasks(self, what: str) -> list[str]:
        """Ids of sync tasks this worker logged as ``received``, ``succeeded``, ``retry``…"""
        return re.findall(r"dingsync\.sync_entity\[([0-9a-f-]+)\] " + what, self.text())

    def in_progress(self) -> list[str]:
        """Tasks received and not (yet) finished, oldest first."""
        finished = (
            set(self.tasks("succeeded")) | set(self.tasks("retry")) | set(self.tasks("raised"))
        )
        return [t for t in self.tasks("received") if t not in finished]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._out.close()


@contextmanager
def workers(
    n: int,
    env: dict[str, Any],
    cwd: Path,
    metrics_ports: list[int] | None = None,
    args: tuple[str, ...] = (),
) -> Iterator[list[Worker]]:
    """``n`` worker subprocesses with ``env`` (over a copy of this environment without any
    ``DINGTALK_``/``DINGSYNC_`` variable) and ``args`` (``("--concurrency", "2")``), worker
    ``i`` serving ``/metrics`` on ``metrics_ports[i]`` when given; stopped on exit."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "DINGSYNC_"))}
    base.update({k: str(v) for k, v in env.items()})
    started = []
    for i in range(n):
        own = dict(base)
        if metrics_ports:
            own["DINGSYNC_WORKER_METRICS_PORT"] = str(metrics_ports[i])
        started.append(Worker(f"w{i}", own, cwd, args))
    try:
        yield started
    finally:
        for w in started:
            w.stop()


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)
