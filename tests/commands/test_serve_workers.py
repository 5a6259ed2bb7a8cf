"""``dingsync serve --workers 2`` in a child process against the sandbox: logins answered by
both worker processes, sessions valid on either, and one access token and one JSAPI ticket for
all of them (shared through the database)."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
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
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


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
