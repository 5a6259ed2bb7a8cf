"""Running and recent work per company, as ``dingsync status`` shows it.

A run stored ``running`` is live only while a sync holds the company's lease (a worker's batch,
``dingsync sync`` or the service's 立即同步); between two batches of a worker it is ``queued``
(the row is running, nobody holds the lease for a moment); a row left ``running`` by a process
that died stays so until the next task resumes it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from dingsync.store import repo
from dingsync.sync.lease import sync_running


def _ms(value: Any) -> int | None:
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def company_status(engine: Engine, corp_id: str, *, limit: int = 10) -> dict[str, Any]:
    """``{"corp_id", "live": bool, "running": [run], "recent": [run], "last_success":
    {entity: finished epoch ms}}`` where a run is ``{"id", "kind", "entities", "status",
    "started_at", "finished_at", "units", "api_calls"}`` (``units``: checkpoints committed)."""
    live = sync_running(engine, corp_id)
    with engine.connect() as conn:
        rows = repo.list_sync_runs(conn, corp_id, limit=max(limit, 50))
        runs = []
        for row in rows:
            runs.append(
                {
                    "id": row["id"],
                    "kind": row["kind"],
                    "entities": list(row["entities"] or []),
                    "status": row["status"],
                    "started_at": _ms(row["started_at"]),
                    "finished_at": _ms(row["finished_at"]),
                    "units": repo.count_checkpoints(conn, row["id"])
                    if row["status"] == "running"
                    else None,
                    "api_calls": sum((row["api_calls"] or {}).values()),
                }
            )
    last: dict[str, int] = {}
    for run in runs:
        if run["status"] == "succeeded" and run["finished_at"] is not None:
            for entity in run["entities"]:
                last[entity] = max(last.get(entity, 0), run["finished_at"])
    return {
        "corp_id": corp_id,
        "live": live,
        "running": [r for r in runs if r["status"] == "running"],
        "recent": runs[:limit],
        "last_success": last,
    }
