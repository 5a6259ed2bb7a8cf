"""The floor of a login on this stack (issue 17, branch ``login18``): a bare FastAPI endpoint
doing what a fresh-user login does, without dingsync's code — one DingTalk call
(``POST /topapi/v2/user/getuserinfo`` to the same sandbox, over aiohttp as the client does),
one worker-thread hop running the same database round trips on a raw ``sqlite3`` connection
(8 reads by key on the synced database's tables: company status, replay record, user row,
memberships, admin level, admin scope, attendance groups managed, local roles; then one write
transaction with the two inserts: session and replay record) and a JSON answer — next to
``dingsync serve``'s login, each against its own ``GET /healthz``, alternated in one run on the
same sandbox and database.

Both servers run uvicorn with ``dingsync serve``'s settings (httptools, uvloop, no access log).
The figure compared is the same as ``bench_web.py``'s: logins/s at ``--concurrency`` in flight ÷
``/healthz`` req/s of the same service; also the service's CPU per request.

Usage: ``python benchmarks/profiles/bare_login18.py [--rounds 3] [--logins 1500]
[--concurrency 100] [--other PYTHON]`` (``--other``: also another checkout's ``dingsync serve``,
e.g. ``/work/main/.venv/bin/python``). ``python bare_login18.py serve PORT DB SANDBOX_URL KEY
SECRET CORP`` is the bare server itself (started by the first form).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi import Request

#: The reads of a fresh login, by key (what ``_session_if_fresh`` asks, cheapest form).
READS = [
    "SELECT status FROM corps WHERE corp_id = ?",
    "SELECT code_hash FROM web_login_codes WHERE code_hash = ?",
    "SELECT * FROM users WHERE corp_id = ? AND userid = ?",
    "SELECT dept_id, dept_order, is_leader FROM user_departments WHERE corp_id = ? AND userid = ?",
    "SELECT sys_level FROM admins WHERE corp_id = ? AND userid = ?",
    "SELECT dept_id FROM admin_scopes WHERE corp_id = ? AND userid = ?",
    "SELECT group_id FROM attendance_group_managers WHERE corp_id = ? AND userid = ?",
    "SELECT role FROM web_user_roles WHERE corp_id = ? AND userid = ?",
]


def _bare_app(db_path: str, sandbox: str, key: str, secret: str, corp: str) -> Any:
    import aiohttp
    from fastapi import FastAPI

    local = threading.local()
    write_lock = threading.Lock()
    state: dict[str, Any] = {}

    def conn() -> sqlite3.Connection:
        c = getattr(local, "conn", None)
        if c is None:
            c = local.conn = sqlite3.connect(db_path, timeout=30, isolation_level=None)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")
        return c

    def store(userid: str, code_hash: str) -> dict[str, Any]:
        c = conn()
        found = []
        for n, sql in enumerate(READS):
            args: tuple[Any, ...] = (
                (corp,) if n == 0 else (code_hash,) if n == 1 else (corp, userid)
            )
            found.append(c.execute(sql, args).fetchall())
        now = datetime.now(UTC)
        token = secrets.token_urlsafe(32)
        with write_lock:
            c.execute("BEGIN")
            c.execute(
                "INSERT INTO web_sessions (token_hash, corp_id, userid, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (secrets.token_hex(32), corp, userid, now.isoformat(), now.isoformat()),
            )
            c.execute(
                "INSERT INTO web_login_codes (code_hash, corp_id, userid, session_hash,"
                " sealed_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    code_hash,
                    corp,
                    userid,
                    secrets.token_hex(32),
                    b"x" * 60,
                    now.isoformat(),
                    (now + timedelta(seconds=60)).isoformat(),
                ),
            )
            c.execute("COMMIT")
        user = found[2][0] if found[2] else ()
        return {
            "userid": userid,
            "name": user[3] if len(user) > 3 else None,
            "departments": [{"dept_id": d[0], "order": d[1]} for d in found[3]],
            "session": {"token": token, "token_type": "Bearer"},
        }

    app = FastAPI()

    async def _start() -> None:
        session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        params = {"appkey": key, "appsecret": secret}
        async with session.get(f"{sandbox}/gettoken", params=params) as r:
            state["token"] = (await r.json())["access_token"]
        state["session"] = session

    app.router.on_startup.append(_start)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"ok": True, "corp_id": corp}

    @app.post("/api/auth/dingtalk")
    async def login(request: Request) -> dict[str, Any]:
        code = json.loads(await request.body())["authCode"]
        session = state["session"]
        async with session.post(
            f"{sandbox}/topapi/v2/user/getuserinfo?access_token={state['token']}",
            data=json.dumps({"code": code}).encode(),
            headers={"Content-Type": "application/json"},
        ) as r:
            userid = json.loads(await r.read())["result"]["userid"]
        import hashlib

        code_hash = hashlib.sha256(f"bare:{corp}:{code}".encode()).hexdigest()
        return await asyncio.to_thread(store, userid, code_hash)

    return app


class BareProcess:
    """The bare server in a child process (the attributes ``bench_web._logins`` uses)."""

    def __init__(self, sb: Any, db_path: str) -> None:
        import httpx
        from bench_directory import _free_port

        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        app = sb.app
        cmd = [sys.executable, __file__, "serve", str(self.port), db_path, sb.base_url]
        cmd += [app["app_key"], app["app_secret"], app["corp_id"]]
        self.proc = subprocess.Popen(cmd)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.base_url}/healthz", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("bare server did not start")

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def main(argv: list[str]) -> None:
    if argv and argv[0] == "serve":
        import uvicorn

        port, db_path, sandbox, key, secret, corp = argv[1:7]
        app = _bare_app(db_path, sandbox, key, secret, corp)
        uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=int(port),
                log_level="warning",
                access_log=False,
                backlog=4096,
                timeout_keep_alive=30,
            )
        ).run()
        return
    import httpx
    from bench_directory import SandboxProcess
    from bench_web import WebProcess, _logins, _mint, synced_sqlite

    parser = argparse.ArgumentParser(prog="bare_login18")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--logins", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--other", help="another checkout's python: its dingsync serve too")
    args = parser.parse_args(argv)
    sb = SandboxProcess(args.users, 0, 0)
    tmp = tempfile.TemporaryDirectory()
    services: dict[str, Any] = {}
    try:
        db_path = str(Path(tmp.name) / "bench.db")
        _, engine = synced_sqlite(sb, tmp.name)
        engine.dispose()
        services["bare"] = BareProcess(sb, db_path)
        services["this"] = WebProcess(sb, f"sqlite:///{db_path}")
        if args.other:
            services["other"] = WebProcess(sb, f"sqlite:///{db_path}", python=args.other)
        company = httpx.get(f"{sb.base_url}/sandbox/company", timeout=30).json()
        userids = sorted(u["userid"] for u in company["users"])
        pick = [userids[i % len(userids)] for i in range(args.logins)]
        for svc in services.values():  # warm-up
            asyncio.run(_logins(svc, asyncio.run(_mint(sb, pick[:50])), 4))
        results: dict[str, list[dict[str, float]]] = {k: [] for k in services}
        for n in range(args.rounds):
            for name, svc in services.items():
                codes = asyncio.run(_mint(sb, pick))
                cpu = svc.cpu_s()
                busy = asyncio.run(_logins(svc, codes, args.concurrency))
                login_ms = (svc.cpu_s() - cpu) * 1000 / len(codes)
                cpu = svc.cpu_s()
                floor = asyncio.run(_logins(svc, pick, args.concurrency, floor=True))
                healthz_ms = (svc.cpu_s() - cpu) * 1000 / len(pick)
                got = {
                    "logins_per_s": busy["per_s"],
                    "healthz_per_s": floor["per_s"],
                    "ratio": round(busy["per_s"] / max(floor["per_s"], 0.001), 3),
                    "cpu_ms_per_login": round(login_ms, 2),
                    "cpu_ms_per_healthz": round(healthz_ms, 2),
                    "failures": busy["failures"] + floor["failures"],
                    "load": round(os.getloadavg()[0], 1),
                }
                results[name].append(got)
                print(f"round {n + 1} {name}: {got}", flush=True)
        print("median per service:")
        for name, rows in results.items():
            med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
            print(f"  {name}: {med}")
    finally:
        for svc in services.values():
            svc.close()
        sb.close()
        tmp.cleanup()


if __name__ == "__main__":
    main(sys.argv[1:])
