"""``dingsync serve --workers 2`` in a child process against the sandbox: logins answered by
both worker processes, sessions valid on either, and one access token and one JSAPI ticket for
all of them (shared through the database)."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from dingsync.sandbox import SandboxServer
from dingsync.store import db
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import run_sync
from helpers.sandboxes import make_client
from helpers.web import _plain_user

TOKEN_PATHS = ("/gettoken", "/v1.0/oauth2/accessToken")
TICKET_PATHS = ("/get_jsapi_ticket", "/v1.0/oauth2/jsapiTickets")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _issued(sb: SandboxServer, paths: tuple[str, ...]) -> int:
    calls = sb.stats()["calls"]
    return sum(int(calls.get(p, 0)) for p in paths)


@pytest.fixture
def served(default_sandbox: SandboxServer, tmp_path: Path) -> Iterator[tuple[str, int, int, int]]:
    """``serve --workers 2`` on a freshly synced SQLite database (empty token cache): its base
    URL, the supervisor's pid, and the tokens and tickets the sandbox had issued before it
    started."""
    sb = default_sandbox
    url = f"sqlite:///{tmp_path / 'dingsync.db'}"
    engine = db.create_engine_for(url)
    db.migrate(engine)

    async def sync() -> None:
        async with make_client(sb) as client:
            await run_sync(client, engine, sb.app.corp_id, [ContactsSync()])

    asyncio.run(sync())
    engine.dispose()
    before = (_issued(sb, TOKEN_PATHS), _issued(sb, TICKET_PATHS))
    port = _free_port()
    env = {
        **os.environ,
        "DINGTALK_APP_KEY": sb.app.app_key,
        "DINGTALK_APP_SECRET": sb.app.app_secret,
        "DINGTALK_CORP_ID": sb.app.corp_id,
        "DINGTALK_AGENT_ID": str(sb.app.agent_id),
        "DINGTALK_OAPI_URL": sb.base_url,
        "DINGTALK_API_URL": sb.base_url,
        "DINGSYNC_DATABASE_URL": url,
        "DINGSYNC_QPS_PER_API": "0",
    }
    env.pop("DINGSYNC_REDIS_URL", None)
    cmd = [sys.executable, "-m", "dingsync.cli", "serve", "--workers", "2", "--port", str(port)]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield base, proc.pid, *before
    finally:
        _stop(proc)


def _worker_of(supervisor: int, local_port: int) -> int | None:
    """The worker process holding the server side of the connection from ``local_port``."""
    for child in psutil.Process(supervisor).children(recursive=True):
        try:
            conns = child.net_connections(kind="tcp")
        except psutil.Error:
            continue
        if any(c.raddr and c.raddr.port == local_port for c in conns):
            return child.pid
    return None


def _request(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: dict[str, str] | None = None,
    token: str | None = None,
) -> tuple[int, dict[str, object]]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=json.dumps(body) if body else None, headers=headers)
    r = conn.getresponse()
    return r.status, json.loads(r.read())


def test_two_workers_share_one_token_and_the_sessions(
    default_sandbox: SandboxServer, served: tuple[str, int, int, int]
) -> None:
    sb = default_sandbox
    base, supervisor, tokens_before, tickets_before = served
    host, port = base.removeprefix("http://").split(":")
    # Open connections until both workers hold one (the kernel hands each new connection to
    # whichever worker accepts first, and the second may still be starting); each connection
    # is served by one worker for its lifetime.
    by_worker: dict[int, http.client.HTTPConnection] = {}
    opened: list[http.client.HTTPConnection] = []
    deadline = time.monotonic() + 120
    try:
        while len(by_worker) < 2 and time.monotonic() < deadline:
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
            opened.append(conn)
            status, _ = _request(conn, "GET", "/healthz")  # accepted and answered
            assert status == 200
            assert conn.sock is not None
            pid = _worker_of(supervisor, conn.sock.getsockname()[1])
            assert pid is not None
            if pid in by_worker:
                conn.close()
                time.sleep(0.05)
            else:
                by_worker[pid] = conn
        assert len(by_worker) == 2, "every connection went to one worker"

        userid = _plain_user(sb.company, 4)
        tokens: dict[int, str] = {}
        for pid, conn in by_worker.items():
            code = httpx.post(f"{sb.base_url}/sandbox/authcode", json={"userid": userid}).json()
            status, body = _request(
                conn,
                "POST",
                "/api/auth/dingtalk",
                {"authCode": code["code"], "url": "https://h5.example.com/app"},
            )
            assert status == 200, body
            assert body["userid"] == userid
            assert body["jsapi"] is not None
            session = body["session"]
            assert isinstance(session, dict)
            tokens[pid] = str(session["token"])
        # A session made by one worker is honoured by the other (sessions live in the database).
        first, second = list(by_worker)
        for made_by, asked in ((first, second), (second, first)):
            status, me = _request(by_worker[asked], "GET", "/api/me", token=tokens[made_by])
            assert status == 200 and me["userid"] == userid
        # A double tap answered by both workers at once: DingTalk refuses the code to the one
        # that asks second, which waits for the other's session (WebOptions.replay_wait_s,
        # which serve --workers sets) — both answer 200 with the same session.
        logins = 2
        for _ in range(6):
            code = httpx.post(f"{sb.base_url}/sandbox/authcode", json={"userid": userid}).json()
            with ThreadPoolExecutor(2) as pool:
                taps = list(
                    pool.map(
                        lambda conn, code=code: _request(
                            conn, "POST", "/api/auth/dingtalk", {"authCode": code["code"]}
                        ),
                        by_worker.values(),
                    )
                )
            assert [status for status, _ in taps] == [200, 200], taps
            sessions = [body["session"] for _, body in taps]
            assert all(isinstance(x, dict) for x in sessions)
            assert len({str(x["token"]) for x in sessions if isinstance(x, dict)}) == 1
            logins += 2
        # /metrics adds up both workers (serve --workers sets PROMETHEUS_MULTIPROC_DIR), so each
        # worker's answer counts every login.
        for conn in by_worker.values():
            conn.request("GET", "/metrics")
            text = conn.getresponse().read().decode()
            counted = [
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("dingsync_login_seconds_count") and 'outcome="ok"' in line
            ]
            assert sum(counted) == logins, text
    finally:
        for conn in opened:
            conn.close()
    # Both workers warmed up and logged in, yet DingTalk issued one token and one ticket: the
    # workers shared them through the database (single flight across processes).
    assert _issued(sb, TOKEN_PATHS) - tokens_before <= 1
    assert _issued(sb, TICKET_PATHS) - tickets_before <= 1


#: ``dingsync serve`` as a script, so that the spawned workers import it as ``__mp_main__``:
#: with ``DINGSYNC_TEST_BREAK_APP`` set, building the app raises in each worker (never in the
#: supervisor, which builds none with ``--workers`` > 1) — a worker that cannot build its app.
SERVE_SCRIPT = """\
import os
import sys

if __name__ == "__mp_main__" and os.environ.get("DINGSYNC_TEST_BREAK_APP"):
    import dingsync.web

    def broken(*args, **kwargs):
        raise RuntimeError("the app cannot be built (test)")

    dingsync.web.create_app = broken

if __name__ == "__main__":
    from dingsync.cli import main

    sys.exit(main())
"""


def _start_serve(tmp_path: Path, *, broken: bool) -> tuple[subprocess.Popen[bytes], int, Path]:
    """``serve --workers 2`` on an empty SQLite database in a child process: the process, its
    port and its log (stdout and stderr)."""
    script = tmp_path / "serve_script.py"
    script.write_text(SERVE_SCRIPT)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DINGTALK_", "DINGSYNC_", "PROMETHEUS_"))
    }
    env["DINGSYNC_DATABASE_URL"] = f"sqlite:///{tmp_path / 'dingsync.db'}"
    if broken:
        env["DINGSYNC_TEST_BREAK_APP"] = "1"
    port = _free_port()
    log = tmp_path / "serve.log"
    cmd = [sys.executable, str(script), "serve", "--workers", "2", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
    return proc, port, log


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _workers(supervisor: int) -> set[int]:
    """The live worker processes of ``supervisor`` (not multiprocessing's resource tracker)."""
    found = set()
    for child in psutil.Process(supervisor).children():
        try:
            if "spawn_main" in " ".join(child.cmdline()) and child.status() != "zombie":
                found.add(child.pid)
        except psutil.Error:
            continue
    return found


def test_workers_that_cannot_build_the_app_stop_the_service(tmp_path: Path) -> None:
    """Before: the supervisor restarted them forever. Now: WORKER_STARTUP_CRASHES of them in a
    row stop the service with one error line and exit 1."""
    from dingsync.web.server import WORKER_STARTUP_CRASHES

    proc, _port, log = _start_serve(tmp_path, broken=True)
    try:
        code = proc.wait(150)
    except subprocess.TimeoutExpired:
        _stop(proc)
        pytest.fail(f"workers that cannot start were restarted forever:\n{log.read_text()}")
    text = log.read_text()
    assert code == 1, text
    assert text.count("RuntimeError: the app cannot be built (test)") >= WORKER_STARTUP_CRASHES
    errors = [line for line in text.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, text
    said = re.fullmatch(
        r"error: the workers do not start: (\d+) workers in a row died before they served "
        r"\(the app could not be built or started\)",
        errors[0],
    )
    assert said is not None, text
    # Both workers die in one round: the count may pass the limit by one.
    assert WORKER_STARTUP_CRASHES <= int(said[1]) <= WORKER_STARTUP_CRASHES + 1


def test_workers_that_crash_after_serving_are_restarted(tmp_path: Path) -> None:
    """More workers than WORKER_STARTUP_CRASHES killed, each after it served: each is replaced
    and the service goes on answering."""
    from dingsync.web.server import WORKER_STARTUP_CRASHES

    proc, port, log = _start_serve(tmp_path, broken=False)
    killed: set[int] = set()
    try:
        deadline = time.monotonic() + 240
        while len(killed) <= WORKER_STARTUP_CRASHES:
            # Wait until each of the two live workers has answered a request (it is serving).
            served: set[int] = set()
            while True:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                live = _workers(proc.pid) - killed
                if len(live) == 2 and live <= served:
                    break
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                try:
                    status, _ = _request(conn, "GET", "/healthz")
                    assert status == 200
                    assert conn.sock is not None
                    pid = _worker_of(proc.pid, conn.sock.getsockname()[1])
                    if pid is not None:
                        served.add(pid)
                except (OSError, http.client.HTTPException):
                    time.sleep(0.2)
                finally:
                    conn.close()
            time.sleep(2)  # the supervisor checks its workers every 0.5 s
            for pid in live:
                os.kill(pid, 9)
            killed |= live
        status = 0
        while status != 200:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code
            except httpx.HTTPError:
                time.sleep(0.2)
        assert not killed & _workers(proc.pid)
    finally:
        _stop(proc)
    assert "error:" not in log.read_text()
