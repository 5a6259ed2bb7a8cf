"""Fixtures for the events tests: the sandbox (DingTalk), our callback router mounted on a small
FastAPI app served by uvicorn on loopback (what the sandbox pushes to), and directory checks."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from dingsync.dingtalk.crypto import CallbackCrypto
from dingsync.sandbox.company import Company
from dingsync.store import repo, repo_events
from dingsync.store.schema import from_ms
from dingsync.sync.events import EventProcessor
from dingsync.web.routers.callbacks import EventsReceiver, router
from helpers.sandboxes import DEFAULT
from helpers.sandboxes import make_client as make_client

TOKEN = "dingsyncTestToken0123456789abcde"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


class ReceiverServer:
    """Our callback router on its own FastAPI app, served by uvicorn in a daemon thread.

    ``processor`` is built inside the server's loop by ``make_processor`` (so its client and
    locks belong to that loop); ``base_url`` + ``/callbacks/dingtalk`` is the callback URL.
    """

    def __init__(self, crypto: CallbackCrypto, make_processor: Callable[[], EventProcessor]):
        self.app = FastAPI()
        self.app.include_router(router)
        self.crypto = crypto
        self._make_processor = make_processor
        self.processor: EventProcessor | None = None

        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/callbacks/dingtalk"

    def __enter__(self) -> ReceiverServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        sock.listen(256)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        )
        self._server = server

        def run() -> None:
            async def main() -> None:
                self.loop = asyncio.get_running_loop()
                await server.serve(sockets=[sock])

            asyncio.run(main())

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "receiver did not start"
            time.sleep(0.01)
        self._sock = sock

        async def build() -> None:
            self.processor = self._make_processor()
            self.app.state.dingsync_events = EventsReceiver(self.crypto, self.processor)

        self.run_in_loop(build())
        return self

    def run_in_loop(self, coro: Any, timeout: float = 30) -> Any:
        """Run ``coro`` on the server's loop (where the processor lives) and wait for it."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __exit__(self, *exc: Any) -> None:
        if self.processor is not None and self.processor.client is not None:
            client = self.processor.client
            try:
                self.run_in_loop(self.processor.wait_idle(), 10)
                self.run_in_loop(client.aclose(), 10)
            except Exception:
                pass
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._sock.close()


def wait_for(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


def inbox(engine: Engine, corp_id: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return repo_events.list_events(conn, corp_id)


def _opt(value: Any) -> Any:
    return None if value in ("", None) else value


USER_FIELDS = (
    "unionid name avatar state_code mobile hide_mobile telephone job_number title email "
    "org_email work_place remark active admin boss exclusive_account extension"
).split()


def directory_differences(engine: Engine, corp_id: str, company: Company) -> list[str]:
    """Every difference between our directory and the sandbox's truth, field by field
    (departments, users, memberships, admins and scopes, who left). Empty when equal."""
    with engine.connect() as conn:
        d = repo.load_directory(conn, corp_id)
    out: list[str] = []
    active_depts = {k: v for k, v in d["departments"].items() if v["status"] == "active"}
    if set(active_depts) != set(company.departments):
        out.append(f"departments {set(active_depts) ^ set(company.departments)}")
    for dept_id, dep in company.departments.items():
        row = active_depts.get(dept_id)
        if row is None:
            continue
        for ours, theirs in (
            (row["name"], dep.name),
            (row["parent_id"], dep.parent_id),
            (row["dept_order"], dep.order),
            (sorted(row["dept_manager_userid_list"] or []), sorted(dep.dept_manager_userid_list)),
            (_opt(row["org_dept_owner"]), _opt(dep.org_dept_owner)),
        ):
            if ours != theirs:
                out.append(f"department {dept_id}: {ours!r} != {theirs!r}")
    active = {k: v for k, v in d["users"].items() if v["status"] == "active"}
    if set(active) != set(company.users):
        out.append(f"active users differ: {sorted(set(active) ^ set(company.users))[:10]}")
    for userid, u in company.users.items():
        row = active.get(userid)
        if row is None:
            continue
        for f in USER_FIELDS:
            if _opt(row[f]) != _opt(getattr(u, f)):
                out.append(f"user {userid}.{f}: {row[f]!r} != {getattr(u, f)!r}")
        if row["hired_date"] != from_ms(u.hired_date):
            out.append(f"user {userid}.hired_date")
        expected = {
            m.dept_id: {"dept_order": m.order, "is_leader": m.leader} for m in u.memberships
        }
        if d["memberships"].get(userid) != expected:
            out.append(f"user {userid} memberships {d['memberships'].get(userid)} != {expected}")
    for userid in set(company.leavers) - set(company.users):
        row = d["users"].get(userid)
        if row is not None and row["status"] != "left":
            out.append(f"leaver {userid} is {row['status']}")
        if userid not in d["leavers"]:
            out.append(f"leaver {userid} has no departure record")
    if {k: int(v["sys_level"]) for k, v in d["admins"].items()} != dict(company.admins):
        out.append("admins differ")
    return out


#: The company the receiver modules share (read-only): the default one.
SANDBOX = DEFAULT
