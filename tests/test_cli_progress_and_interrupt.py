"""``dingsync sync`` and ``dingsync demo`` in their own processes, output to a pipe: progress is
plain lines (no bars, no control characters) and Ctrl-C (SIGINT) during the sync ends the run
cleanly — exit 130, one line saying what happened, no traceback and no "Unclosed client
session" / unclosed-socket warning (ResourceWarnings are switched on in the child)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from dingsync.sandbox import SandboxConfig, SandboxServer


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "DINGSYNC_"))}
    return {**env, "PYTHONWARNINGS": "always::ResourceWarning", "COLUMNS": "120", **extra}


def _sandbox_env(sb: SandboxServer, db: Path) -> dict[str, str]:
    return _env(
        {
            "DINGTALK_APP_KEY": sb.app.app_key,
            "DINGTALK_APP_SECRET": sb.app.app_secret,
            "DINGTALK_CORP_ID": sb.app.corp_id,
            "DINGTALK_OAPI_URL": sb.base_url,
            "DINGTALK_API_URL": sb.base_url,
            "DINGSYNC_DATABASE_URL": f"sqlite:///{db}",
        }
    )


class Child:
    """The CLI in a subprocess, stdout and stderr pipes read line by line as they come.
    SIGINT is set back to its default in the child (a test runner started in the background
    of a shell has it ignored, and the child would inherit that)."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dingsync.cli", *args],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.err: list[str] = []
        self.out: list[str] = []
        assert self.proc.stderr is not None and self.proc.stdout is not None
        self._readers = [
            threading.Thread(target=self.err.extend, args=(self.proc.stderr,), daemon=True),
            threading.Thread(target=self.out.extend, args=(self.proc.stdout,), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def wait_for(self, needle: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if any(needle in line for line in self.err):
                return
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} not seen; stderr:\n{''.join(self.err)}")

    def finish(self, timeout: float = 120) -> int:
        code = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(10)
        return code

    @property
    def stderr(self) -> str:
        return "".join(self.err)


def _assert_clean(stderr: str) -> None:
    assert "Unclosed" not in stderr, stderr
    assert "unclosed" not in stderr, stderr  # ResourceWarning: unclosed socket/transport
    assert "Traceback" not in stderr, stderr
    assert "\x1b[" not in stderr, "no terminal control sequences on a pipe"


def test_sync_progress_on_a_pipe_is_plain_lines(tmp_path: Path) -> None:
    """Not a terminal: one line as each area starts and when it is done, not a bar."""
    db = tmp_path / "p.db"
    with SandboxServer(SandboxConfig(seed=5, users=60, days=3, qps_limit=None)) as sb:
        child = Child(["sync"], _sandbox_env(sb, db), tmp_path)
        assert child.finish() == 0, child.stderr
    err = child.stderr
    _assert_clean(err)
    lines = [line for line in err.splitlines() if line.startswith("sync: ")]
    for area in ("departments", "members", "reports", "attendance"):
        assert f"sync: {area} started" in lines, err
        assert any(line.startswith(f"sync: {area} done: ") for line in lines), err
    # A line per step, not a redraw per request (the sync makes hundreds of calls).
    assert len(lines) < 60, err
    assert "status: succeeded" in "".join(child.out)


def test_demo_progress_on_a_pipe_is_plain_lines(tmp_path: Path) -> None:
    child = Child(
        [
            "demo",
            "--once",
            "--users",
            "40",
            "--days",
            "2",
            "--qps",
            "0",
            "--latency-ms",
            "0",
            "--jitter-ms",
            "0",
            "--database-url",
            f"sqlite:///{tmp_path / 'demo.db'}",
        ],
        _env({}),
        tmp_path,
    )
    assert child.finish(180) == 0, child.stderr
    err = child.stderr
    _assert_clean(err)
    assert "sync: departments started" in err and "sync: reports done: " in err, err


def _run_status(db: Path) -> list[str]:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT status FROM sync_runs")).scalars())
    finally:
        engine.dispose()


def test_ctrl_c_during_sync_closes_the_client_and_exits_130(tmp_path: Path) -> None:
    """SIGINT while reports are being fetched (requests in flight): exit 130 with the resume
    hint, the run recorded as interrupted, nothing unclosed."""
    db = tmp_path / "i.db"
    config = SandboxConfig(seed=5, users=60, days=5, qps_limit=None, latency_ms=40)
    with SandboxServer(config) as sb:
        child = Child(["sync"], _sandbox_env(sb, db), tmp_path)
        child.wait_for("sync: reports started")
        time.sleep(0.3)
        child.proc.send_signal(signal.SIGINT)
        code = child.finish()
    err = child.stderr
    assert code == 130, err
    assert "interrupted; run `dingsync sync` again to resume from the checkpoint" in err
    _assert_clean(err)
    assert _run_status(db) == ["interrupted"]


def test_ctrl_c_during_the_demos_sync_exits_130_cleanly(tmp_path: Path) -> None:
    """The demo: SIGINT during its sync stops it (its sandbox too) with one line, exit 130."""
    db = tmp_path / "d.db"
    child = Child(
        [
            "demo",
            "--users",
            "60",
            "--days",
            "5",
            "--qps",
            "0",
            "--latency-ms",
            "40",
            "--jitter-ms",
            "0",
            "--database-url",
            f"sqlite:///{db}",
        ],
        _env({}),
        tmp_path,
    )
    child.wait_for("sync: reports started", timeout=180)
    time.sleep(0.3)
    child.proc.send_signal(signal.SIGINT)
    code = child.finish()
    err = child.stderr
    assert code == 130, err
    assert "interrupted; the demo's sync stopped" in err
    _assert_clean(err)
    assert _run_status(db) == ["interrupted"]


def test_the_demo_says_when_its_port_is_taken(tmp_path: Path) -> None:
    """``demo --port P`` with P held by another process (a demo already on 8000) serves on a
    free port and says so on stdout, so the README's ``http://127.0.0.1:8000`` is not taken
    for this demo's (it was silent: the other service answered there)."""
    import re
    import socket
    import urllib.request

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        child = Child(
            [
                *("demo", "--users", "5", "--days", "1", "--qps", "0"),
                *("--latency-ms", "0", "--jitter-ms", "0", "--port", str(port)),
                *("--database-url", f"sqlite:///{tmp_path / 'demo.db'}"),
            ],
            _env({}),
            tmp_path,
        )
        try:
            child.wait_for("Uvicorn running on", timeout=180)
            served = int(
                re.findall(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", child.stderr)[0]
            )
            out = "".join(child.out)
            assert served != port
            notice = f"port {port} is not free (Address already in use): the web API is served"
            assert f"{notice} on port {served} instead" in out, out
            assert f"web API at http://127.0.0.1:{served} " in out, out
            with urllib.request.urlopen(f"http://127.0.0.1:{served}/healthz", timeout=10) as r:
                assert r.status == 200
        finally:
            child.proc.send_signal(signal.SIGINT)
            child.finish()
    _assert_clean(child.stderr)
