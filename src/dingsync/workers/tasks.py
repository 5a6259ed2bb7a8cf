"""``dingsync.sync_entity``: one batch of units of one entity of one company.

A task message is ``(corp_id, entity, kind, job)`` with ``job = {"id", "queued_ms", "batch",
"then"}``. The task runs the entity through :func:`~dingsync.sync.engine.run_sync` with
``unit_budget = Settings.worker_batch_units``, under the company's sync lease:

- the budget is spent (``paused``): the run stays ``running`` and the task sends its
  continuation (same job, ``batch + 1``), which resumes the run from its checkpoints;
- the entity is done: the task sends the job's next entity (``then``), if any;
- another sync of the company holds the lease: a full run retries later, an incremental one
  is dropped (the next tick of the schedule comes);
- a DingTalk or database failure after the client's retries: retried with back-off, then left
  ``failed`` in ``sync_runs`` (the next task of the same kind resumes it).

Idempotent: a message delivered twice (a worker died after sending the continuation but before
acknowledging, say) finds the entity done since the job was queued, or resumes the same run; the
checkpoints make every unit commit once. Acknowledged late: a worker killed mid-task gives the
message back to the broker and another worker resumes the run (the lease of the dead one goes
with its database connection or file lock).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from celery import Task
from celery.signals import worker_process_init
from sqlalchemy import Engine, select

import dingsync.metrics as metrics
from dingsync.config import Settings, load_settings
from dingsync.corps import Corp, CorpError, build_corp_client, resolve
from dingsync.store.schema import sync_runs
from dingsync.sync.lease import SyncAlreadyRunning
from dingsync.sync.runner import ENTITIES, make_entities, open_database
from dingsync.workers.app import celery_app
from dingsync.workers.companies import active_corps

log = logging.getLogger("dingsync.workers")

Outcome = Literal["done", "paused", "busy", "skipped", "unknown"]

#: Seconds before a full run retries when another sync of the company holds the lease.
BUSY_RETRY_S = 5.0
#: Retries of a batch that failed (DingTalk or the database, after the client's own retries).
FAILURE_RETRIES = 3

_engines: dict[str, Engine] = {}


@dataclass
class Job:
    """What one scheduled or requested sync carries from task to task: ``id``, ``queued_ms``
    (epoch ms; a run of the entity succeeding after it makes the job done), ``batch`` (the
    batch number within the entity) and ``then`` (entities to sync after this one)."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    queued_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    batch: int = 0
    then: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Job:
        if not data:
            return cls()
        return cls(
            id=str(data.get("id") or uuid.uuid4().hex),
            queued_ms=int(data.get("queued_ms") or time.time() * 1000),
            batch=int(data.get("batch") or 0),
            then=[str(e) for e in data.get("then") or []],
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _forked(**_: Any) -> None:
    """A prefork child must not share the parent's database connections (migrated there)."""
    for engine in _engines.values():
        engine.dispose(close=False)


def engine_for(settings: Settings) -> Engine:
    """One migrated engine per database URL in this process."""
    engine = _engines.get(settings.database_url)
    if engine is None:
        engine = _engines[settings.database_url] = open_database(settings)
    return engine


def done_since(engine: Engine, corp_id: str, entity: str, kind: str, since_ms: int) -> bool:
    """Whether a run of exactly ``[entity]`` and ``kind`` for ``corp_id`` started at or after
    ``since_ms`` (epoch ms) and succeeded: the job that asked for it is done."""
    since = datetime.fromtimestamp(since_ms / 1000, UTC)
    with engine.connect() as conn:
        rows = conn.execute(
            select(sync_runs.c.entities, sync_runs.c.started_at).where(
                sync_runs.c.corp_id == corp_id,
                sync_runs.c.kind == kind,
                sync_runs.c.status == "succeeded",
            )
        ).all()
    for entities, started in rows:
        if started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        if list(entities or []) == [entity] and started >= since:
            return True
    return False


def run_batch(settings: Settings, corp_id: str, entity: str, kind: str, job: Job) -> Outcome:
    """Run one batch of ``entity`` of ``corp_id`` (see the module docstring); the outcome.

    Raises what the sync raised (DingTalk or database errors after the client's retries)."""
    engine = engine_for(settings)
    try:
        corp = resolve(engine, settings, corp_id)
    except CorpError as exc:
        log.error("company %s: %s; task dropped", corp_id, exc)
        return "unknown"
    if entity not in ENTITIES:
        log.error("no entity %s; task dropped", entity)
        return "unknown"
    if done_since(engine, corp_id, entity, kind, job.queued_ms):
        return "skipped"
    started = time.monotonic()
    try:
        with metrics.log_context(company=corp_id, job=job.id):
            result = asyncio.run(_batch(corp, engine, entity, kind))
            with metrics.log_context(run=result.run_id):
                log.info("%s batch %d: %s", entity, job.batch, result.status)
    except SyncAlreadyRunning:
        return "busy"
    finally:
        metrics.batch_seconds(entity, time.monotonic() - started)
    return "paused" if result.paused else "done"


async def _batch(corp: Corp, engine: Engine, entity: str, kind: str) -> Any:
    from dingsync.sync.engine import SyncContext, run_sync

    company, corp_id = corp.settings, corp.corp_id
    seen: list[SyncContext] = []
    async with build_corp_client(corp, engine) as client:
        metrics.watch_client(client)
        try:
            result = await run_sync(
                client,
                engine,
                corp_id,
                make_entities([entity], company),
                kind=kind,
                concurrency=company.sync_concurrency,
                tz=company.tz,
                unit_budget=company.worker_batch_units,
                on_context=seen.append,
            )
        finally:
            metrics.record_client(client, {}, 0)
            if seen:
                ctx = seen[0]
                metrics.units(corp_id, entity, "done", len(ctx.fetched) - len(ctx.in_flight))
        return result


@celery_app.task(  # type: ignore[untyped-decorator]
    bind=True,
    name="dingsync.sync_entity",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
)
def sync_entity(
    self: Task, corp_id: str, entity: str, kind: str = "full", job: dict[str, Any] | None = None
) -> str:
    """One batch of ``entity`` of ``corp_id`` (``kind``: ``full`` or ``incremental``); sends
    the continuation or the job's next entity. Returns the outcome's name."""
    settings = load_settings()
    current = Job.from_json(job)
    try:
        outcome = run_batch(settings, corp_id, entity, kind, current)
    except Exception as exc:
        failures = int(self.request.retries or 0)
        metrics.units(corp_id, entity, "failed")
        if failures >= FAILURE_RETRIES:
            log.error("sync of %s %s failed: %s", corp_id, entity, type(exc).__name__)
            raise
        raise self.retry(exc=exc, countdown=30 * (failures + 1)) from None
    if outcome == "busy":
        if kind == "incremental":
            return "busy: dropped (the next tick comes)"
        raise self.retry(countdown=BUSY_RETRY_S)
    if outcome == "paused":
        current.batch += 1
        send(corp_id, entity, kind, current)
    elif outcome in ("done", "skipped") and current.then:
        after = Job(id=current.id, queued_ms=current.queued_ms, then=current.then[1:])
        send(corp_id, current.then[0], kind, after)
    return outcome


def due(engine: Engine, settings: Settings, entity: str, kind: str) -> list[tuple[str, str]]:
    """``[(corp_id, kind)]``: what a scheduled tick of ``entity`` and ``kind`` runs — every
    active company of the ``corps`` registry (configured internal apps, brought in step first,
    and ISV companies), by ``corp_id``; ``full`` for a company whose full sync is due
    (``corps.full_sync_requested_at``) while ``entity`` has had no full run since the request.
    """
    from dingsync.corps import sync_registry
    from dingsync.store import repo_corps

    sync_registry(engine, settings)
    out: list[tuple[str, str]] = []
    with engine.connect() as conn:
        pending = repo_corps.full_syncs_due(conn)
        for corp in active_corps(engine, settings):
            run = kind
            since = pending.get(corp.corp_id)
            if since is not None and entity in repo_corps.full_sync_missing(
                conn, corp.corp_id, since
            ):
                run = "full"
            out.append((corp.corp_id, run))
    return out


@celery_app.task(name="dingsync.sync_due")  # type: ignore[untyped-decorator]
def sync_due(entity: str, kind: str = "incremental") -> list[str]:
    """A beat tick: send ``dingsync.sync_entity`` of ``entity`` for every company :func:`due`
    names. Returns ``["<corp_id>:<kind>"]`` sent."""
    settings = load_settings()
    sent = []
    for corp_id, run in due(engine_for(settings), settings, entity, kind):
        send(corp_id, entity, run, Job())
        sent.append(f"{corp_id}:{run}")
    return sent


def send(corp_id: str, entity: str, kind: str, job: Job) -> None:
    """Queue ``dingsync.sync_entity`` for (``corp_id``, ``entity``) with ``job``."""
    sync_entity.apply_async(args=(corp_id, entity, kind, job.to_json()))


def enqueue(
    settings: Settings,
    corp_ids: list[str] | None,
    kind: str,
    only: list[str] | None = None,
) -> list[str]:
    """Queue a sync of every entity (or those in ``only``; in order: the directory first) of
    each company in ``corp_ids`` (default: every active company of the registry; ``full``
    whatever ``kind`` for one whose full sync is due); returns the companies queued. Raises
    ``KeyError`` naming an unknown company or entity."""
    companies = [corp.corp_id for corp in active_corps(engine_for(settings), settings)]
    wanted = corp_ids or companies
    unknown = [c for c in wanted if c not in companies]
    unknown += [e for e in only or [] if e not in ENTITIES]
    if unknown:
        raise KeyError(", ".join(unknown))
    names = [e for e in ENTITIES if not only or e in only]
    from dingsync.store import repo_corps

    with engine_for(settings).connect() as conn:
        pending = repo_corps.full_syncs_due(conn)
    for corp_id in wanted:  # a company whose full sync is due gets a full run
        run = "full" if corp_id in pending else kind
        send(corp_id, names[0], run, Job(then=names[1:]))
    return wanted
