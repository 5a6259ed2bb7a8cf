"""``dingsync demo --isv --corps N``: the multi-company mode on the sandbox, skeleton.

A sandbox suite (``dingsync.sandbox.isv``) with ``N`` generated companies (different seeds and
sizes) pushes its first ``suite_ticket`` and one ``org_suite_auth`` per company over Stream;
our Stream consumer feeds them to :class:`~dingsync.sync.isv.IsvEventProcessor`, which stores
the ticket and each company's authorisation (``isv_corp_auth``). Each newly authorised company
is then synced in full with its own company token (``SuiteClient.corp_client``), keyed by its
``corp_id``; the summary lists every company with its counts.

Serving the web API for several companies (login per ``corpId``, the corps registry, ``dingsync
corps``) is the multi-company work of issue #15 this plugs into: it connects
``IsvService.listeners`` and ``take_sync_requests`` to the registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from sqlalchemy import Engine

from dingsync.config import Settings
from dingsync.sandbox import SandboxConfig
from dingsync.sandbox.isv import IsvConfig, IsvSandboxServer
from dingsync.store import repo
from dingsync.sync.engine import run_sync
from dingsync.sync.events_stream import StreamConsumer
from dingsync.sync.isv import IsvEventProcessor, IsvService
from dingsync.sync.runner import make_entities


async def run_isv_demo(
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
    """Authorise and sync ``corps`` sandbox companies; returns ``{suite_key, corps: [{corp_id,
    corp_name, agent_id, admins, status, run_status, counts}], wall_s}``. ``say``: a callable
    for progress lines (``None``: silent). Raises ``TimeoutError`` when the companies are not
    all authorised within ``timeout_s``."""
    started = time.monotonic()
    cfg = IsvConfig.with_corps(corps, seed=seed, base_users=users, days=days)
    host = SandboxConfig(seed=seed, users=12, days=1, qps_limit=qps or None, latency_ms=latency_ms)
    with IsvSandboxServer(cfg, host) as sb:
        if say:
            say(f"sandbox suite {sb.suite_key} at {sb.base_url} with {corps} companies")
        service = IsvService.for_suite(
            engine,
            sb.suite_key,
            sb.suite_secret,
            oapi_url=sb.base_url,
            api_url=sb.base_url,
            qps_per_api=qps or None,
        )
        ready: set[str] = set()
        service.listeners.append(lambda c, s, _a: ready.add(c) if s == "authorised" else None)
        processor = IsvEventProcessor(service)
        consumer = StreamConsumer(processor, sb.base_url, sb.suite_key, sb.suite_secret)
        task = asyncio.create_task(consumer.run())
        try:
            deadline = time.monotonic() + timeout_s
            while len(ready) < corps:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{len(ready)} of {corps} companies authorised")
                await asyncio.sleep(0.05)
            rows = {r["corp_id"]: r for r in service.authorised_corps()}
            out: list[dict[str, Any]] = []
            for corp_id in sorted(service.take_sync_requests()):
                row = rows[corp_id]
                if say:
                    say(f"syncing {row['corp_name']} ({corp_id})")
                result = await run_sync(
                    service.suite.corp_client(corp_id),
                    engine,
                    corp_id,
                    make_entities(None, settings),
                    tz=settings.tz,
                    resume=False,
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
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await processor.wait_idle()
            await service.suite.aclose()
    return {
        "suite_key": sb.suite_key,
        "corps": out,
        "wall_s": round(time.monotonic() - started, 2),
    }


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
