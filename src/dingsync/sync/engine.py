"""The one shape every synced entity fills in: plan, fetch, write with a checkpoint, remember.

A sync run is a row in ``sync_runs``. Each entity is a :class:`SyncEntity` whose ``run`` uses the
:class:`SyncContext` for the parts that must not be written twice: the frozen plan and the
watermark (:meth:`SyncContext.plan`, :meth:`SyncContext.advance_watermark`, for entities built
on :class:`~dingsync.sync.incremental.IncrementalEntity`), the checkpointed unit of work
(:meth:`SyncContext.unit`), the serialised database writer, bounded concurrency, progress and
counters. The run's clock (``clock``, epoch ms) and the company's zone (``tz``) are injected, so
tests can move time.

A unit of work is *fetch → write in one transaction together with its checkpoint*. If the process
dies, the next run with the same kind resumes the same ``run_id`` and skips every unit whose
checkpoint is stored, so there are no duplicates (upserts are keyed by DingTalk ids) and no gaps.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DataError, StatementError

import dingsync.timeutil as timeutil
from dingsync.dingtalk import DingTalkClient
from dingsync.dingtalk.paging import Page, Pager
from dingsync.store import repo, repo_corps
from dingsync.sync.incremental import (
    PLAN_KEY,
    WATERMARK_KEY,
    IncrementalEntity,
    Plan,
    encode_cursor,
    read_watermark,
)
from dingsync.sync.lease import CorpNotActive, sync_lease

T = TypeVar("T")
D = TypeVar("D")

#: Checkpoint namespace of quarantined units: key ``"<entity>:<unit key>"``, state
#: ``{"entity", "key", "reason"}`` (:meth:`SyncContext.unit`, :func:`quarantined_units`).
QUARANTINE = "!quarantine"

#: The ``(entity, key)`` of the unit whose fetch is running in this task (and the tasks it
#: starts), else ``None``: lets a transport attribute each DingTalk call to its unit.
CURRENT_UNIT: ContextVar[tuple[str, str] | None] = ContextVar("dingsync_unit", default=None)


class BatchDone(Exception):
    """Raised by :meth:`SyncContext.unit` when the attempt's ``unit_budget`` is spent: the run
    stops, stays ``running`` and the next attempt (a worker's next task) resumes it."""


class Staging(Protocol):
    """Rows several units of one write batch gather, written by :meth:`flush` with one
    statement per table (see :meth:`SyncContext.staging`)."""

    def flush(self, conn: Connection) -> None:
        """Write what was gathered inside the batch's transaction."""


S = TypeVar("S", bound=Staging)


class _Staged:
    """A queued write that only gathers rows into the batch's :class:`Staging` buffers."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Connection], Any]) -> None:
        self.fn = fn

    def __call__(self, conn: Connection) -> Any:
        return self.fn(conn)


class ProgressSink(Protocol):
    """Where progress goes (a rich progress bar on a terminal, nothing elsewhere)."""

    def add_total(self, entity: str, n: int) -> None: ...

    def advance(self, entity: str, n: int = 1) -> None: ...


class NullProgress:
    """Progress sink that shows nothing (tests, non-terminal output)."""

    def add_total(self, entity: str, n: int) -> None:
        return None

    def advance(self, entity: str, n: int = 1) -> None:
        return None


class SyncEntity(Protocol):
    """An entity the engine can sync. ``name`` is its checkpoint namespace."""

    name: str

    async def run(self, ctx: SyncContext) -> None:
        """Plan the units of work and run each through ``ctx.unit``."""


@dataclass
class SyncContext:
    """Everything an entity needs during one run.

    ``client`` is the DingTalk client, ``engine`` our database, ``run_id`` the ``sync_runs`` row.
    ``done`` holds, per entity, the checkpoints already stored for this run (loaded at start, so a
    resumed run skips them). ``clock`` gives "now" in epoch ms (only plans read it); ``tz`` is
    the company's zone (work dates and report days). ``in_flight`` holds the ``(entity, key)``
    of units being fetched or committed right now and ``fetched`` every unit whose fetch
    started in this attempt (what a kill loses, and what a resume repeats). ``unit_budget``:
    most units this attempt starts (a worker's batch); the next one waits for the units in
    flight to commit, then raises :class:`BatchDone`.
    """

    client: DingTalkClient
    engine: Engine
    corp_id: str
    run_id: int
    concurrency: int = 256
    progress: ProgressSink = field(default_factory=NullProgress)
    counts: Counter[str] = field(default_factory=Counter)
    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    clock: Callable[[], int] = timeutil.now_ms
    tz: tzinfo = timeutil.SHANGHAI
    in_flight: set[tuple[str, str]] = field(default_factory=set)
    fetched: list[tuple[str, str]] = field(default_factory=list)
    unit_budget: int | None = None
    #: The run's DingTalk calls so far per path (all attempts), or ``None``: when given, the
    #: writer stores them in ``sync_runs.api_calls`` with the units it commits, at most every
    #: :attr:`CALLS_INTERVAL_S`, so a running run's calls can be read (the console's overview).
    live_calls: Callable[[], dict[str, int]] | None = None
    _slots: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    _pending: list[tuple[Callable[[Connection], Any], asyncio.Future[Any]]] = field(
        default_factory=list
    )
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _idle: asyncio.Event = field(default_factory=asyncio.Event)
    _writer: asyncio.Task[None] | None = None
    _closing: bool = False
    _inline_writes: bool = False
    _checkpoints: list[tuple[str, str, Any]] | None = None
    _staged: dict[Any, Staging] | None = None
    _last_commit: float = 0.0
    _batch_time: datetime | None = None
    _calls_stored_at: float | None = None

    #: Most queued writes committed together in one transaction.
    WRITE_BATCH = 256
    #: Seconds between two commits while writes keep coming (group commit): a write queued
    #: after a quiet spell, or while no other unit is in flight, commits at once; a stream of
    #: units commits this often, each transaction holding whatever was queued meanwhile
    #: (fewer commits and, through :meth:`staging`, fewer statements per unit).
    WRITE_INTERVAL_S = 0.025
    #: Seconds between two stores of the running run's calls (:attr:`live_calls`).
    CALLS_INTERVAL_S = 1.0

    def __post_init__(self) -> None:
        self._inline_writes = self.engine.dialect.name == "sqlite"

    def _entity_slots(self, entity: str) -> asyncio.Semaphore:
        """The bound on ``entity``'s fetches in flight (:attr:`concurrency` per entity). The
        client's per-API limiter does the real pacing; this only caps memory and sockets. It is
        one bound per entity, not one for the run: units queued on one API's limiter hold their
        slots while they wait, so a shared bound let an entity that discovers work faster than
        its API allows (the directory's departments, two calls each at 20 QPS, each answer
        adding children) fill every slot and starve the others (the members' ``user/list`` ran
        at a third of its limit until the tree was walked: 20,000 people took 1.45 × the
        rate-limit bound)."""
        slots = self._slots.get(entity)
        if slots is None:
            slots = self._slots[entity] = asyncio.Semaphore(self.concurrency)
        return slots

    # -- checkpoints -------------------------------------------------------------------------
    def load_done(self, entity: str) -> dict[str, Any]:
        """Checkpoints stored for ``entity`` in this run: ``{key: state}``."""
        if entity not in self.done:
            with self.engine.connect() as conn:
                self.done[entity] = dict(repo.load_checkpoints(conn, self.run_id, entity))
        return self.done[entity]

    def is_done(self, entity: str, key: str) -> bool:
        return key in self.load_done(entity)

    # -- plan and watermark ------------------------------------------------------------------
    async def plan(self, entity: IncrementalEntity) -> Plan:
        """``entity``'s frozen plan in this run: read back when stored, else made from the run's
        kind, the stored watermark and ``clock()`` and committed before any unit runs."""
        stored = self.load_done(entity.name).get(PLAN_KEY)
        if isinstance(stored, dict):
            return Plan.from_json(entity.cursor, stored)

        def read(conn: Connection) -> tuple[Any, str]:
            run = repo.get_sync_run(conn, self.run_id) or {}
            return repo.get_watermark(conn, self.corp_id, entity.name), str(run.get("kind"))

        watermark, kind = await self.write(read)
        plan = entity.make_plan(kind, watermark, self.clock(), self.tz)
        await self.commit_unit(entity.name, PLAN_KEY, lambda conn: None, plan.to_json())
        return plan

    async def advance_watermark(self, entity: IncrementalEntity, plan: Plan) -> None:
        """Store ``plan.end`` as ``entity``'s watermark ``{"cursor": …}`` — never moving it
        backwards (a narrow backfill keeps a later watermark) — once per run."""
        if self.is_done(entity.name, WATERMARK_KEY):
            return

        def write(conn: Connection) -> None:
            last = read_watermark(
                entity.cursor, repo.get_watermark(conn, self.corp_id, entity.name)
            )
            end = plan.end if last is None else max(plan.end, last)  # type: ignore[type-var,unused-ignore]
            repo.set_watermark(conn, self.corp_id, entity.name, {"cursor": encode_cursor(end)})

        await self.commit_unit(entity.name, WATERMARK_KEY, write, encode_cursor(plan.end))

    # -- the writer --------------------------------------------------------------------------
    def write_soon(self, fn: Callable[[Connection], T]) -> asyncio.Future[T]:
        """Queue ``fn(conn)`` for the single writer and return a future of its result.

        Writes run in the order they were queued, off the event loop; whatever is queued when
        the writer gets to it is committed together in one transaction (group commit), so a
        unit is never half-written and a later unit never lands before an earlier one (a
        parent department is always stored before a child discovered through it).
        """
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((fn, fut))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_loop(), name="dingsync-writer")
        self._wake.set()
        return fut

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(conn)`` through the writer and wait for its commit."""
        return await self.write_soon(fn)

    def staging(self, kind: Callable[..., S], *args: Any) -> S:
        """The current write batch's buffer ``kind(*args)`` (made on first use). Only for the
        ``write`` of a unit queued with ``staged=True``: its rows are gathered there and
        written by the buffer's ``flush`` in the same transaction — before the first write of
        the batch that is not staged, else before the checkpoints — so units of one batch
        share one statement per table."""
        staged = self._staged
        if staged is None:
            raise RuntimeError("staging() is only available inside a staged unit's write")
        buffer = staged.get((kind, args))
        if buffer is None:
            buffer = staged[(kind, args)] = kind(*args)
        return buffer  # type: ignore[return-value]

    def write_time(self) -> datetime:
        """The time of the write batch running now (aware, UTC; one per transaction, so the
        rows' ``synced_at`` of a batch are one value, converted once for the driver); the
        clock's time outside a batch."""
        return self._batch_time or datetime.now(UTC)

    @staticmethod
    def _flush(conn: Connection, staged: dict[Any, Staging]) -> None:
        while staged:
            staged.pop(next(iter(staged))).flush(conn)

    def _calls_due(self, now: float) -> dict[str, int] | None:
        """The run's calls to store with the next batch (read on the event loop, where the
        client counts them), or ``None`` when they were stored less than
        :attr:`CALLS_INTERVAL_S` ago (``now``: the loop's clock)."""
        if self.live_calls is None:
            return None
        last = self._calls_stored_at
        if last is not None and now - last < self.CALLS_INTERVAL_S:
            return None
        self._calls_stored_at = now
        return self.live_calls()

    def _run_batch(
        self, batch: list[Callable[[Connection], Any]], calls: dict[str, int] | None = None
    ) -> list[Any]:
        # The units' checkpoints are collected and written together at the end of the
        # transaction (one statement per batch instead of one per unit); so are the rows of
        # staged units (one statement per table), flushed before any other write.
        checkpoints: list[tuple[str, str, Any]] = []
        staged: dict[Any, Staging] = {}
        self._checkpoints, self._staged = checkpoints, staged
        self._batch_time = datetime.now(UTC)
        try:
            with self.engine.begin() as conn:
                results = []
                for fn in batch:
                    if staged and not isinstance(fn, _Staged):
                        self._flush(conn, staged)
                    results.append(fn(conn))
                self._flush(conn, staged)
                if checkpoints:
                    repo.save_checkpoints(conn, self.run_id, checkpoints)
                if calls is not None:
                    repo.set_sync_run_calls(conn, self.run_id, calls)
                return results
        finally:
            self._checkpoints, self._staged, self._batch_time = None, None, None

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            wait = self._last_commit + self.WRITE_INTERVAL_S - loop.time()
            if wait > 0 and not self._closing and len(self.in_flight) > 1:
                # Group commit: let the other units in flight queue theirs (a lone write — a
                # plan, the final marks — does not wait).
                await asyncio.sleep(wait)
            while self._pending:
                batch = self._pending[: self.WRITE_BATCH]
                del self._pending[: self.WRITE_BATCH]
                try:
                    fns = [fn for fn, _ in batch]
                    calls = self._calls_due(loop.time())
                    if self._inline_writes:
                        # SQLite releases the GIL on every row it steps; from a thread, each
                        # release waits for the busy event loop to hand the GIL back (a convoy
                        # that made writes ~30x slower). Local and quick: run it here.
                        results = self._run_batch(fns, calls)
                    else:
                        results = await asyncio.to_thread(self._run_batch, fns, calls)
                except Exception as exc:  # the batch rolled back: none of it is stored
                    if len(batch) == 1:
                        if not batch[0][1].done():
                            batch[0][1].set_exception(exc)
                        continue
                    # One bad write must not fail the others committed with it: redo each in
                    # its own transaction, so only the bad one fails.
                    self._pending[:0] = [(fn, fut) for fn, fut in batch[1:]]
                    batch = batch[:1]
                    try:
                        results = await asyncio.to_thread(self._run_batch, [batch[0][0]])
                    except Exception as one:
                        if not batch[0][1].done():
                            batch[0][1].set_exception(one)
                        continue
                self._last_commit = loop.time()
                for (_, fut), result in zip(batch, results, strict=True):
                    if not fut.done():
                        fut.set_result(result)
            if self._closing:
                return

    async def close(self) -> None:
        """Stop the writer once everything queued is committed (or failed).

        Waits for a transaction already running in the writer's thread, so that when a run
        returns — even cancelled — the database holds exactly the checkpoints it reports.
        """
        writer = self._writer
        if writer is None:
            return
        self._closing = True
        self._wake.set()
        await asyncio.shield(writer)
        self._writer = None
        self._closing = False

    def _queue_unit(
        self,
        entity: str,
        key: str,
        write: Callable[[Connection], None],
        state: Any,
        staged: bool = False,
    ) -> asyncio.Future[None]:
        def _both(conn: Connection) -> None:
            write(conn)
            if self._checkpoints is not None:
                self._checkpoints.append((entity, key, state))
            else:
                repo.save_checkpoint(conn, self.run_id, entity, key, state)

        return self.write_soon(_Staged(_both) if staged else _both)

    async def commit_unit(
        self, entity: str, key: str, write: Callable[[Connection], None], state: Any = None
    ) -> None:
        """Write a unit's rows and its checkpoint in the same transaction."""
        await self._queue_unit(entity, key, write, state)
        self.load_done(entity)[key] = state

    def start_fetch(
        self, entity: str, key: str, fetch: Callable[[], Awaitable[T]]
    ) -> asyncio.Task[T]:
        """Start the fetch of unit ``(entity, key)`` now, ahead of its :meth:`unit` (whose
        ``fetch`` then awaits the task): from now on the unit counts as fetched and in flight,
        and its calls are attributed to it. For a unit whose checkpoint is not stored."""
        unit = (entity, key)
        self.in_flight.add(unit)
        self.fetched.append(unit)
        context = contextvars.copy_context()
        context.run(CURRENT_UNIT.set, unit)
        return asyncio.create_task(_as_coro(fetch()), context=context)

    async def unit(
        self,
        entity: str,
        key: str,
        fetch: Callable[[], Awaitable[T]],
        write: Callable[[Connection, T], None],
        state: Callable[[T], Any] | None = None,
        then: Callable[[T], None] | None = None,
        staged: bool = False,
    ) -> T | None:
        """Fetch then commit one unit of work unless its checkpoint exists (then ``None``).

        ``fetch`` runs under the concurrency bound; a failure propagates (after the client's own
        retries) and nothing of the unit is written, so the unit is retried on resume.
        ``then(data)`` runs as soon as the data is fetched and the commit queued, before the
        commit is awaited (e.g. to start fetching children while the parent is written).
        ``staged``: ``write`` only gathers rows into :meth:`staging` buffers (it may also
        run statements that do not depend on rows other units gathered).
        """
        if self.is_done(entity, key):
            return None
        if self.unit_budget is not None and len(self.fetched) >= self.unit_budget:
            # Let the units in flight commit (cancelling them would lose their work, and a
            # budget smaller than what an entity starts at once would never progress).
            while self.in_flight:
                self._idle.clear()
                await self._idle.wait()
            raise BatchDone(f"{len(self.fetched)} units")
        unit = (entity, key)
        if unit not in self.in_flight:  # else started by start_fetch
            self.in_flight.add(unit)
            self.fetched.append(unit)
        try:
            token = CURRENT_UNIT.set(unit)
            try:
                async with self._entity_slots(entity):
                    data = await fetch()
            finally:
                CURRENT_UNIT.reset(token)
            st = state(data) if state else None
            committed = self._queue_unit(
                entity, key, lambda conn: write(conn, data), st, staged=staged
            )
            if then is not None:
                then(data)
            try:
                await committed
            except (DataError, StatementError) as exc:
                if not is_data_error(exc):
                    raise
                await self._quarantine(entity, key, st, exc)
        finally:
            self.in_flight.discard(unit)
            if not self.in_flight:
                self._idle.set()
        self.load_done(entity)[key] = st
        return data

    async def _quarantine(self, entity: str, key: str, state: Any, exc: BaseException) -> None:
        """Put a unit the database refuses for its data aside: its checkpoint is stored
        (without its rows) so that later units and entities run, and a ``QUARANTINE``
        checkpoint records why. A data error repeats on every retry, so retrying only blocks;
        the next run tries the unit again."""
        reason = f"{exc.__class__.__name__}: {getattr(exc, 'orig', None) or exc}"[:1000]

        def mark(conn: Connection) -> None:
            repo.save_checkpoint(conn, self.run_id, entity, key, state)
            repo.save_checkpoint(
                conn,
                self.run_id,
                QUARANTINE,
                f"{entity}:{key}",
                {"entity": entity, "key": key, "reason": reason},
            )

        await self.write(mark)
        self.counts["quarantined_units"] += 1

    async def page_units(
        self,
        entity: str,
        prefix: str,
        pager: Pager[T],
        fetch: Callable[[Page[T]], Awaitable[D]],
        write: Callable[[Connection, D], None],
        *,
        slots: asyncio.Semaphore | None = None,
        then: Callable[[D], None] | None = None,
    ) -> None:
        """One unit per page of ``pager``: list the page, ``fetch(page)`` what hangs off its
        items, ``write`` both with the checkpoint ``{prefix}#{n}`` = ``{"next": marker,
        "items": n}``.

        Pages are listed one after another (each needs the previous page's marker), while the
        units of listed pages fetch and commit concurrently (``slots`` bounds how many are in
        flight; the listing waits for a free one). A resumed run lists no committed page again:
        it walks the stored markers to the first page without a checkpoint and goes on from
        there — so a kill costs at most the units in flight. ``then(data)`` runs after a unit
        committed (counts, progress). The first failure (after the client's retries) is raised
        once the units in flight have finished or failed.
        """
        done = self.load_done(entity)
        marker = pager.first
        n = 0
        loop = asyncio.get_running_loop()
        async with asyncio.TaskGroup() as tg:
            while True:
                key = f"{prefix}#{n}"
                stored = done.get(key)
                if isinstance(stored, dict):
                    marker = stored.get("next")
                    if marker is None:
                        return
                    n += 1
                    continue
                if slots is not None:
                    await slots.acquire()
                listed: asyncio.Future[Page[T]] = loop.create_future()
                tg.create_task(self._page_unit(entity, key, listed, fetch, write, slots, then))
                unit = CURRENT_UNIT.set((entity, key))  # the listing call belongs to the unit
                try:
                    page = await pager.page(marker)
                except Exception as exc:  # the unit raises it inside the task group
                    listed.set_exception(exc)
                    return
                finally:
                    CURRENT_UNIT.reset(unit)
                listed.set_result(page)
                if page.next is None:
                    return
                marker = page.next
                n += 1

    async def _page_unit(
        self,
        entity: str,
        key: str,
        listed: asyncio.Future[Page[T]],
        fetch: Callable[[Page[T]], Awaitable[D]],
        write: Callable[[Connection, D], None],
        slots: asyncio.Semaphore | None,
        then: Callable[[D], None] | None,
    ) -> None:
        async def fetch_page() -> tuple[Page[T], D]:
            page = await listed
            return page, await fetch(page)

        try:
            got = await self.unit(
                entity,
                key,
                fetch_page,
                lambda conn, got: write(conn, got[1]),
                state=lambda got: {"next": got[0].next, "items": len(got[0].items)},
            )
        finally:
            if slots is not None:
                slots.release()
        if got is not None and then is not None:
            then(got[1])

    async def gather(self, coros: Iterable[Awaitable[Any]]) -> list[Any]:
        """Run coroutines concurrently; the first failure cancels the rest and is raised."""
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(_as_coro(c)) for c in coros]
        return [t.result() for t in tasks]


async def _as_coro(aw: Awaitable[T]) -> T:
    return await aw


def is_data_error(exc: BaseException) -> bool:
    """True when the database refused a write for the data in it (a value it cannot store),
    which retrying cannot mend: SQLAlchemy's ``DataError`` (PostgreSQL ``22…``, e.g. a NUL
    character in text or JSONB), or a value the driver or a column type could not bind."""
    if isinstance(exc, DataError):
        return True
    if isinstance(exc, StatementError) and isinstance(exc.orig, (ValueError, TypeError)):
        return True
    return False


def quarantined_units(conn: Connection, run_id: int) -> list[dict[str, Any]]:
    """The units run ``run_id`` put aside for a data error: ``[{"entity", "key", "reason"}]``,
    by entity and key."""
    stored = repo.load_checkpoints(conn, run_id, QUARANTINE)
    return [dict(stored[k]) for k in sorted(stored) if isinstance(stored[k], dict)]


def root_cause(exc: BaseException) -> BaseException:
    """The first leaf of nested exception groups (what actually went wrong), else ``exc``."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


@dataclass
class SyncResult:
    """Outcome of a run: ``counts`` per entity kind (all attempts of a resumed run),
    ``api_calls`` per DingTalk path and ``wall_s`` of this attempt; the ``sync_runs`` row adds
    up every attempt."""

    run_id: int
    status: str
    resumed: bool
    counts: dict[str, int]
    api_calls: dict[str, int]
    wall_s: float
    error: str | None = None
    quarantined: list[dict[str, Any]] = field(default_factory=list)

    @property
    def paused(self) -> bool:
        """The attempt stopped after its ``unit_budget``: the run goes on in the next one."""
        return self.status == "paused"


#: The young generation's threshold while a sync runs (Python's default: 700 allocations).
SYNC_GC_YOUNG_THRESHOLD = 10_000
#: Syncs of this process inside :func:`young_gc_threshold`, and the threshold they replaced.
_gc_paced: list[int] = [0, 0]


@contextlib.contextmanager
def young_gc_threshold(young: int = SYNC_GC_YOUNG_THRESHOLD) -> Iterator[None]:
    """Collect the young generation every ``young`` allocations (when Python's threshold is
    lower) while the block runs, then put the threshold back (the outermost of nested or
    concurrent syncs restores it; a threshold set meanwhile by someone else is left alone).

    A sync keeps thousands of container objects alive at any moment (answers, models, rows
    staged for the next write batch, aiohttp's and asyncio's per-call objects): at 700 the
    cyclic collector ran ~100 times per 532-call directory sync, promoting what was in flight,
    and about every other sync a full collection walked the whole heap again — measured by
    thread CPU in :mod:`gc`'s callbacks (branch ``dir20``, ``benchmarks/profiles/README.md``)
    0.08–0.28 ms of the ~0.8–0.9 ms per DingTalk call; at 10,000: 4–5 young collections,
    0.02–0.08 ms. Objects are still freed by reference counting as before; cycles among them
    wait for fewer, larger collections (a few thousand objects at most). Nothing is frozen
    (:func:`gc.freeze` cannot be undone for one caller: the web service freezes its own heap,
    :func:`~dingsync.web.server.gc_for_serving`)."""
    if _gc_paced[0] == 0:
        current, *older = gc.get_threshold()
        if current == 0 or current >= young:  # collection off, or already as lax
            _gc_paced[1] = 0
        else:
            _gc_paced[1] = current
            gc.set_threshold(young, *older)
    _gc_paced[0] += 1
    try:
        yield
    finally:
        _gc_paced[0] -= 1
        if _gc_paced[0] == 0 and _gc_paced[1]:
            current, *older = gc.get_threshold()
            if current == young:
                gc.set_threshold(_gc_paced[1], *older)
            _gc_paced[1] = 0


async def run_sync(
    client: DingTalkClient,
    engine: Engine,
    corp_id: str,
    entities: list[SyncEntity],
    *,
    kind: str = "full",
    concurrency: int = 256,
    progress: ProgressSink | None = None,
    resume: bool = True,
    clock: Callable[[], int] | None = None,
    tz: tzinfo | None = None,
    on_context: Callable[[SyncContext], None] | None = None,
    unit_budget: int | None = None,
) -> SyncResult:
    """Run ``entities`` one after another as one sync run, resuming an unfinished run if any.

    ``clock``: "now" in epoch ms for new plans (default the wall clock); ``tz``: the company's
    zone (default Asia/Shanghai; ``Settings.tz``); ``on_context``: called with the run's
    :class:`SyncContext` before any entity runs (tests watch ``in_flight`` through it).
    ``unit_budget``: start at most this many units in this attempt, then stop with status
    ``paused`` (the row stays ``running``; the next call resumes it — a worker's batch).

    Records a ``sync_runs`` row: status ``running`` while it works, then ``succeeded``, ``failed``
    (error text without secrets) or ``interrupted`` (cancelled, e.g. Ctrl-C). Raises what an entity
    raised after recording the failure, and :class:`~dingsync.sync.lease.SyncAlreadyRunning`
    (before doing anything) when another sync of ``corp_id`` holds this database's sync lease,
    :class:`~dingsync.sync.lease.CorpNotActive` (before doing anything) when the company is
    registered as ``relieved`` or ``stopped`` (``corps.status``; its data is kept).
    """
    with sync_lease(engine, corp_id), young_gc_threshold():
        with engine.connect() as conn:
            registered = repo_corps.get_corp(conn, corp_id)
        if registered is not None and registered["status"] != "active":
            raise CorpNotActive(corp_id, registered["status"])
        return await _run_sync(
            client,
            engine,
            corp_id,
            entities,
            kind=kind,
            concurrency=concurrency,
            progress=progress,
            resume=resume,
            clock=clock,
            tz=tz,
            on_context=on_context,
            unit_budget=unit_budget,
        )


async def _run_sync(
    client: DingTalkClient,
    engine: Engine,
    corp_id: str,
    entities: list[SyncEntity],
    *,
    kind: str,
    concurrency: int,
    progress: ProgressSink | None,
    resume: bool,
    clock: Callable[[], int] | None,
    tz: tzinfo | None,
    on_context: Callable[[SyncContext], None] | None,
    unit_budget: int | None = None,
) -> SyncResult:
    names = [e.name for e in entities]
    started = time.monotonic()
    calls_before = Counter(client.calls)
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": corp_id})
        run_id = repo.find_resumable_run(conn, corp_id, kind, names) if resume else None
        resumed = run_id is not None
        if run_id is None:
            run_id = repo.start_sync_run(conn, corp_id, kind, names)
        # A resumed run's record covers all its attempts: start from what earlier ones did.
        earlier = repo.get_sync_run(conn, run_id) if resumed else None
    earlier_counts: Counter[str] = Counter((earlier or {}).get("counts") or {})
    earlier_calls: Counter[str] = Counter((earlier or {}).get("api_calls") or {})
    ctx = SyncContext(
        client=client,
        engine=engine,
        corp_id=corp_id,
        run_id=run_id,
        concurrency=concurrency,
        progress=progress or NullProgress(),
        clock=clock or timeutil.now_ms,
        tz=tz or timeutil.SHANGHAI,
        unit_budget=unit_budget,
        live_calls=lambda: dict(Counter(client.calls) - calls_before + earlier_calls),
    )
    ctx.counts.update(earlier_counts)
    if on_context is not None:
        on_context(ctx)

    def finish(status: str, error: str | None) -> SyncResult:
        this_attempt = Counter(client.calls) - calls_before
        wall = time.monotonic() - started
        with engine.begin() as conn:
            repo.finish_sync_run(
                conn,
                run_id,
                status=status,
                counts=dict(ctx.counts),
                api_calls=dict(this_attempt + earlier_calls),
                wall_ms=int(wall * 1000) + int((earlier or {}).get("wall_ms") or 0),
                error=error,
            )
            if status == "succeeded" and kind == "full":
                # A due full sync (newly authorised company) is settled once every area had one.
                repo_corps.settle_full_sync(conn, corp_id)
            quarantined = quarantined_units(conn, run_id)
        return SyncResult(
            run_id,
            status,
            resumed,
            dict(ctx.counts),
            dict(this_attempt),
            wall,
            error,
            quarantined,
        )

    try:
        try:
            # Every plan is frozen when the run starts (not when its entity's turn comes), so
            # an attempt resumed later — after midnight, say — reads back the same ranges.
            for entity in entities:
                if isinstance(entity, IncrementalEntity):
                    await ctx.plan(entity)
            for entity in entities:
                await entity.run(ctx)
        finally:
            await ctx.close()
    except asyncio.CancelledError:
        await asyncio.shield(asyncio.to_thread(finish, "interrupted", "cancelled"))
        raise
    except BaseException as exc:
        cause = root_cause(exc)
        if isinstance(cause, BatchDone):
            # Still running as far as anyone reading the row can tell: the next batch resumes.
            result = await asyncio.shield(asyncio.to_thread(finish, "running", None))
            result.status = "paused"
            return result
        msg = f"{cause.__class__.__name__}: {cause}"
        await asyncio.shield(asyncio.to_thread(finish, "failed", msg[:2000]))
        if cause is not exc and isinstance(cause, Exception):
            raise cause from None  # the task group's wrapper says nothing useful
        raise
    return await asyncio.to_thread(finish, "succeeded", None)
