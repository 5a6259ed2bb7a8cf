"""Running the sandbox: ``SandboxServer`` (uvicorn in a daemon thread, for tests and the demo)
and ``run_sandbox`` (blocking, for ``dingsync sandbox``)."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from dingsync.sandbox.app import asgi_app
from dingsync.sandbox.clock import Clock
from dingsync.sandbox.company import Company
from dingsync.sandbox.config import AppCredentials, SandboxConfig
from dingsync.sandbox.state import SandboxState

#: A Stream connection's one-time ticket in a logged path (``/connect?ticket=…``).
_TICKET = re.compile(r"(?<=[?&]ticket=)[^&\s\"]+")


class RedactTickets(logging.Filter):
    """uvicorn logs each accepted WebSocket at INFO with its path and query
    (``… "WebSocket /connect?ticket=<uuid>" [accepted]`` on ``uvicorn.error``): the ticket is
    the Stream connection's credential, so it is logged as ``ticket=***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, str) and "ticket=" in a for a in args):
            record.args = tuple(_TICKET.sub("***", a) if isinstance(a, str) else a for a in args)
        return True


def _redact_tickets() -> None:
    """Put :class:`RedactTickets` on ``uvicorn.error`` (once)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, RedactTickets) for f in logger.filters):
        logger.addFilter(RedactTickets())


def _uvicorn_config(app: Any, host: str, port: int) -> uvicorn.Config:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,  # we send DingTalk's own ``Server`` header
        timeout_graceful_shutdown=2,
        backlog=4096,
    )
    _redact_tickets()  # after the config: it sets uvicorn's loggers up
    return config


class SandboxServer:
    """A sandbox on ``127.0.0.1`` in a daemon thread; use it as a context manager.

    ``port=0`` (default) picks a free port. Attributes: ``base_url`` (``http://127.0.0.1:PORT``,
    serving both DingTalk hosts' paths), ``app`` (``AppCredentials``), ``company`` (the
    generated truth), ``clock``, ``state`` and ``asgi`` (the ASGI application).
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        company: Company | None = None,
        clock: Clock | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        self.state = SandboxState(config or SandboxConfig(), clock=clock, company=company)
        self.asgi = asgi_app(self.state)
        self.host = host
        self.port = port
        self.startup_timeout = startup_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    # -- the contract ------------------------------------------------------------------------
    @property
    def config(self) -> SandboxConfig:
        """The current configuration (knobs included; replaced by ``configure``)."""
        return self.state.config

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` of the running sandbox (both hosts' paths)."""
        return f"http://{self.host}:{self.port}"

    @property
    def app(self) -> AppCredentials:
        """The sandbox app's ``corp_id``, ``agent_id``, ``app_key``, ``app_secret``."""
        return self.state.app

    @property
    def company(self) -> Company:
        """The generated company: the truth to compare synced data against."""
        return self.state.company

    @property
    def clock(self) -> Clock:
        """The clock every expiry reads (``now()``, ``advance(s)``, ``set(t)``)."""
        return self.state.clock

    def configure(self, **knobs: Any) -> dict[str, Any]:
        """Change knobs and run actions, like ``POST /sandbox/config``; returns the config.

        Raises ``ValueError`` for an unknown knob, a fixed field or an invalid value.
        """
        return self.state.configure(knobs)

    def stats(self) -> dict[str, Any]:
        """The same dict as ``GET /sandbox/stats``."""
        return self.state.stats_snapshot()

    def reset_stats(self) -> None:
        """Zero the call counters, like ``POST /sandbox/stats/reset``."""
        self.state.reset_stats()

    def mint_authcode(self, userid: str) -> str:
        """A login code for ``userid``, like ``POST /sandbox/authcode`` (``KeyError`` if the
        person is not in the directory)."""
        return self.state.mint_authcode(userid)

    def invalidate_tokens(self) -> None:
        """Forget every access token (one-shot ``invalidate_tokens`` action)."""
        self.state.invalidate_tokens()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> SandboxServer:
        """Bind, start uvicorn in a daemon thread and wait until it accepts connections."""
        if self._thread is not None:
            return self
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
        # and without it keep-alive calls stall ~40 ms on delayed ACKs.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(4096)
        sock.setblocking(False)
        self._sock = sock
        self.port = sock.getsockname()[1]
        server = uvicorn.Server(_uvicorn_config(self.asgi, self.host, self.port))
        self._server = server
        errors: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(server.serve(sockets=[sock]))
            except BaseException as exc:
                errors.append(exc)

        self._thread = threading.Thread(
            target=run, name=f"dingsync-sandbox-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not server.started:
            if errors or not self._thread.is_alive():
                self._cleanup()
                raise RuntimeError(f"sandbox failed to start: {errors[0] if errors else 'exited'}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("sandbox did not start in time")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop the server and wait (briefly) for its thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = None
        self._thread = None
        self._server = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_sandbox(
    config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 8900
) -> None:
    """Run the sandbox in the foreground until interrupted (``dingsync sandbox``).

    Prints the app credentials, the base URL and the environment variables that point dingsync
    at it (with rich), then serves on ``host:port``.
    """
    from rich.console import Console
    from rich.table import Table

    state = SandboxState(config or SandboxConfig())
    app = state.app
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    base_url = f"http://{shown_host}:{port}"
    counts = state.company.truth_counts()
    console = Console()
    table = Table(title=f"dingsync sandbox — {app.corp_name}", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    rows = [
        ("base URL (oapi + api)", base_url),
        ("DINGTALK_APP_KEY", app.app_key),
        ("DINGTALK_APP_SECRET", app.app_secret),
        ("DINGTALK_CORP_ID", app.corp_id),
        ("DINGTALK_AGENT_ID", app.agent_id),
        ("DINGTALK_OAPI_URL", base_url),
        ("DINGTALK_API_URL", base_url),
        ("DINGTALK_LOGIN_URL", base_url),
        (
            "company",
            f"{counts['users']} people, {counts['departments']} departments, "
            f"{counts['leavers']} leavers (seed {state.config.seed})",
        ),
        (
            "limits",
            f"{state.config.qps_limit or 'no'} QPS per API, latency "
            f"{state.config.latency_ms:g}+{state.config.jitter_ms:g} ms",
        ),
        (
            "control",
            f"{base_url}/sandbox/app · /sandbox/stats · /sandbox/config · "
            "/sandbox/company · POST /sandbox/authcode",
        ),
    ]
    for key, value in rows:
        table.add_row(key, str(value))
    console.print(table)
    console.print("Point dingsync at it:", style="bold")
    for key, value in rows[1:7]:
        console.print(f"export {key}={value}", soft_wrap=True, highlight=False)
    server = uvicorn.Server(_uvicorn_config(asgi_app(state), host, port))
    server.run()
