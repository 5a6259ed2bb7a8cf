"""``dingsync demo --isv --corps N``: the multi-company mode on the sandbox.

A sandbox suite (``dingsync.sandbox.isv``) with ``N`` generated companies (different seeds and
sizes) pushes its first ``suite_ticket`` and one ``org_suite_auth`` per company over Stream;
our Stream consumer (:class:`SuiteReceiver`, a thread of its own, running until the demo ends)
feeds them to :class:`~dingsync.sync.isv.IsvEventProcessor`, which stores the ticket and each
company's authorisation and registers the company in the ``corps`` registry (``mode='isv'``).
Each company whose first full sync its authorisation asked for
(:func:`~dingsync.sync.isv.pending_first_syncs`) is synced through the registry's client
(``SuiteClient.corp_client``: company token, limiter per suite and company), keyed by its
``corp_id``. Then (:func:`serve_isv_demo`) the web service serves every company: each one's
people log in with its ``corpId``; relieving a company in the sandbox
(``/sandbox/mutate/isv/relieve``) refuses its logins at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Engine

from dingsync.config import Settings
from dingsync.sandbox import SandboxConfig
from dingsync.sandbox.isv import IsvConfig, IsvSandboxServer
from dingsync.store import repo
from dingsync.sync.events_stream import StreamConsumer
from dingsync.sync.isv import IsvEventProcessor, IsvSettings, suite_settings
from dingsync.sync.runner import make_entities


class SuiteReceiver:
    """The suite's Stream consumer (tickets, authorisations, the companies' events) on an event
    loop in a daemon thread, from :meth:`start` to :meth:`stop`; ``ready``: the companies
    authorised so far."""

    def __init__(self, settings: IsvSettings, engine: Engine, stream_url: str) -> None:
        assert settings.suite_key and settings.suite_secret
        self.service = settings.service(engine)
        self.ready: set[str] = set()
        self.service.listeners.append(
            lambda c, s, _a: self.ready.add(c) if s == "authorised" else self.ready.discard(c)
        )
        self.processor = IsvEventProcessor(
            self.service, corp_processors=self.service.corp_processors()
        )
        self.consumer = StreamConsumer(
            self.processor, stream_url, settings.suite_key, settings.suite_secret.get_secret_value()
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="isv-receiver", daemon=True
        )
        self._task: Any = None

    def start(self) -> SuiteReceiver:
        async def begin() -> Any:
            return asyncio.create_task(self.consumer.run())

        self._thread.start()
        self._task = asyncio.run_coroutine_threadsafe(begin(), self._loop).result(30)
        return self

    def wait_authorised(self, n: int, timeout_s: float) -> None:
        """Wait until ``n`` companies authorised; ``TimeoutError`` after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while len(self.ready) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.ready)} of {n} companies authorised")
            time.sleep(0.05)

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            await self.processor.wait_idle()
            await self.service.suite.aclose()

        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()


def isv_demo_settings(settings: Settings, sb: IsvSandboxServer, qps: float | None) -> IsvSettings:
    """``settings`` pointed at the sandbox suite ``sb``: its suite key and secret, its URLs."""
    return suite_settings(settings).model_copy(
        update={
            "suite_key": sb.suite_key,
            "suite_secret": SecretStr(sb.suite_secret),
            "oapi_url": sb.base_url,
            "api_url": sb.base_url,
            "login_url": sb.base_url,
            "qps_per_api": qps or 0.0,
        }
    )


def start_isv_sandbox(
    *,
    corps: int = 3,
    seed: int = 42,
    users: int = 40,
    days: int = 7,
    qps: float | None = None,
    latency_ms: float = 0.0,
) -> IsvSandboxServer:
    """A started sandbox suite with ``corps`` companies (stop it with ``.stop()``)."""
    cfg = IsvConfig.with_corps(corps, seed=seed, base_users=users, days=days)
    host = SandboxConfig(seed=seed, users=12, days=1, qps_limit=qps or None, latency_ms=latency_ms)
    return IsvSandboxServer(cfg, host).start()


def authorise_and_sync(
    settings: IsvSettings,
    engine: Engine,
    sb: IsvSandboxServer,
    receiver: SuiteReceiver,
    *,
    timeout_s: float = 120.0,
    say: Any = None,
) -> list[dict[str, Any]]:
    """Wait for every company of ``sb`` to authorise, then sync in full each one whose first
    sync was asked for, through the registry (``corps.resolve`` → ``build_corp_client``).
    Returns one summary row per company."""
    from dingsync.corps import build_corp_client, resolve, stop_unconfigured
    from dingsync.sync.isv import pending_first_syncs
    from dingsync.sync.runner import sync_once

    for corp_id in stop_unconfigured(engine, settings):
        if say:
            say(
                f"company {corp_id} (internal, e.g. the one-company demo's) has no app in this "
                "mode: marked stopped, its data kept (`dingsync demo` serves it again)"
            )
    receiver.wait_authorised(len(sb.corps), timeout_s)
    rows = {r["corp_id"]: r for r in receiver.service.authorised_corps()}
    out: list[dict[str, Any]] = []
    for corp_id in sorted(pending_first_syncs(engine, settings) & set(rows)):
        row = rows[corp_id]
        if say:
            say(f"syncing {row['corp_name']} ({corp_id})")
        corp = resolve(engine, settings, corp_id)
        result = asyncio.run(
            sync_once(
                corp.settings, engine=engine, client=build_corp_client(corp, engine), resume=False
            )
        )
        with engine.connect() as conn:
            counts = repo.count_summary(conn, corp_id)
            for entity in make_entities():
                if hasattr(entity, "summary"):
                    counts.update(entity.summary(conn, corp_id))
        out.append(
            {
                "corp_id": corp_id,
                "corp_name": row["corp_name"],
                "agent_id": row["agent_id"],
                "admins": len(row["admin_list"] or []),
                "status": row["status"],
                "run_status": result.status,
                "counts": counts,
                "truth_users": len(sb.corps[corp_id].state.company.users),
            }
        )
    return out


def run_isv_demo(
    settings: Settings,
    engine: Engine,
    *,
    corps: int = 3,
    seed: int = 42,
    users: int = 40,
    days: int = 7,
    qps: float | None = None,
    latency_ms: float = 0.0,
    timeout_s: float = 120.0,
    say: Any = None,
) -> dict[str, Any]:
    """Authorise and sync ``corps`` sandbox companies, then stop; returns ``{suite_key, corps:
    [{corp_id, corp_name, agent_id, admins, status, run_status, counts, truth_users}],
    wall_s}``. ``say``: a callable for progress lines (``None``: silent). Raises
    ``TimeoutError`` when the companies are not all authorised within ``timeout_s``."""
    started = time.monotonic()
    sb = start_isv_sandbox(
        corps=corps, seed=seed, users=users, days=days, qps=qps, latency_ms=latency_ms
    )
    try:
        if say:
            say(f"sandbox suite {sb.suite_key} at {sb.base_url} with {corps} companies")
        isv = isv_demo_settings(settings, sb, qps)
        receiver = SuiteReceiver(isv, engine, sb.base_url).start()
        try:
            out = authorise_and_sync(isv, engine, sb, receiver, timeout_s=timeout_s, say=say)
        finally:
            receiver.stop()
    finally:
        sb.stop()
    return {
        "suite_key": sb.suite_key,
        "corps": out,
        "wall_s": round(time.monotonic() - started, 2),
    }


def isv_demo_logins(sb: IsvSandboxServer, engine: Engine) -> Any:
    """The console's one-click demo logins into each company of ``sb`` (employee, HR, the
    administrators, a department head of each), named by the registry."""
    from dingsync.commands.demo_console import company_demo_logins
    from dingsync.store import repo_corps

    with engine.connect() as conn:
        names = {r["corp_id"]: r["name"] for r in repo_corps.list_corps(conn)}
    companies = [
        (corp_id, names.get(corp_id), sb.corp_url(corp_id), corp.state.company)
        for corp_id, corp in sorted(sb.corps.items())
    ]
    return company_demo_logins(sb.base_url, companies, engine)


def isv_login_lines(url: str, sb: IsvSandboxServer, engine: Engine) -> list[str]:
    """What the served demo prints: per company, its name, ``corpId``, a person and how they
    log in (a code from that company's sandbox, then our login with its ``corpId``)."""
    from dingsync.commands.demo_console import pick_people
    from dingsync.store import repo_corps

    with engine.connect() as conn:
        names = {r["corp_id"]: r["name"] for r in repo_corps.list_corps(conn)}
    lines = [
        f"web API at {url} (docs: {url}/docs), serving {len(sb.corps)} companies. "
        "Log in like the micro-app does in each company:"
    ]
    for corp_id, corp in sorted(sb.corps.items()):
        someone = pick_people(corp.state.company)["employee"]
        lines += [
            f"  {names.get(corp_id) or corp_id} (corpId {corp_id}):",
            f"     curl -s -X POST {sb.base_url}/sandbox/corps/{corp_id}/authcode "
            f"-H 'content-type: application/json' -d '{{\"userid\": \"{someone}\"}}'",
            f"     curl -s -X POST {url}/api/auth/dingtalk -H 'content-type: application/json' "
            f'-d \'{{"authCode": "<code>", "corpId": "{corp_id}"}}\'',
        ]
    lines += [
        f"then: curl -s {url}/api/me -H 'Authorization: Bearer <session.token>'",
        f"Console: {url}/console — pick a company, then one of its demo logins (sandbox only)",
        "Relieve a company and watch its logins refused (corp.inactive), its data kept:",
        f"     curl -s -X POST {sb.base_url}/sandbox/mutate/isv/relieve "
        f"-H 'content-type: application/json' -d '{{\"corp_id\": \"<corpId>\"}}'",
        "(dingsync corps list shows the registry; Ctrl-C stops)",
    ]
    return lines


def serve_isv_demo(
    settings: Settings,
    engine: Engine,
    port: int,
    *,
    corps: int = 3,
    seed: int = 42,
    users: int = 40,
    days: int = 7,
    qps: float | None = None,
    latency_ms: float = 0.0,
    timeout_s: float = 120.0,
    say: Any = None,
    show: Any = print,
    serve: Any = None,
) -> dict[str, Any]:
    """Authorise, sync and serve ``corps`` sandbox companies on ``127.0.0.1:port`` until
    interrupted (the suite's receiver keeps running: later authorisations, reliefs and the
    companies' events reach the registry and the database). ``show(summary, lines)`` prints
    the summary and the login lines; ``serve(app, port)``: how to serve (default: uvicorn in
    the foreground). Returns the summary once the service stopped."""
    from dingsync.web import create_app
    from dingsync.web.server import serve as serve_foreground

    started = time.monotonic()
    sb = start_isv_sandbox(
        corps=corps, seed=seed, users=users, days=days, qps=qps, latency_ms=latency_ms
    )
    try:
        if say:
            say(f"sandbox suite {sb.suite_key} at {sb.base_url} with {corps} companies")
        isv = isv_demo_settings(settings, sb, qps)
        receiver = SuiteReceiver(isv, engine, sb.base_url).start()
        try:
            out = authorise_and_sync(isv, engine, sb, receiver, timeout_s=timeout_s, say=say)
            summary = {
                "suite_key": sb.suite_key,
                "corps": out,
                "wall_s": round(time.monotonic() - started, 2),
            }
            url = f"http://127.0.0.1:{port}"
            demo = isv_demo_logins(sb, engine)
            show(summary, isv_login_lines(url, sb, engine))
            app = create_app(isv, engine=engine, demo_logins=demo)
            if serve is None:
                serve_foreground(app, host="127.0.0.1", port=port)
            else:
                serve(app, port)
        finally:
            receiver.stop()
    finally:
        sb.stop()
    return summary


def print_isv_summary(summary: dict[str, Any], json_output: bool, console: Any) -> None:
    """The demo's summary: JSON, or one table row per company."""
    import json

    from rich.table import Table

    if json_output:
        console.print_json(json.dumps(summary, ensure_ascii=False, default=str))
        return
    table = Table(title=f"dingsync demo --isv (suite {summary['suite_key']})")
    for col in ("company", "corpId", "agentId", "admins", "sync", "people", "departments",
                "reports", "approvals"):  # fmt: skip
        table.add_column(col)
    for c in summary["corps"]:
        counts = c["counts"]
        table.add_row(
            str(c["corp_name"]),
            str(c["corp_id"]),
            str(c["agent_id"]),
            str(c["admins"]),
            str(c["run_status"]),
            f"{counts.get('active_users', 0)} / {c['truth_users']}",
            str(counts.get("departments", 0)),
            str(counts.get("reports", 0)),
            str(counts.get("approval_instances", counts.get("approvals", 0))),
        )
    console.print(table)
    console.print(
        f"{len(summary['corps'])} companies authorised and synced in {summary['wall_s']} s"
    )
