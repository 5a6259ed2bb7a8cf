"""The one incremental shape, end to end against the sandbox over loopback HTTP:

- a sync of reports, attendance and approvals killed at seeded random points and resumed ends
  equal to an uninterrupted sync (itself equal to the sandbox), and the resumed attempt redoes
  only units that were in flight at the kill (every DingTalk call is attributed to its unit);
- a run resumed after midnight keeps its frozen plan: no unit is planned under a new date;
- with 1 % of calls invalidating the access token, a sync completes in its first attempt;
- the company's zone (``Settings.tz``) moves report windows and work dates consistently.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from dingsync import timeutil
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import db, repo, repo_approvals, repo_attendance, repo_reports
from dingsync.store.schema import metadata, sync_checkpoints
from dingsync.sync.approvals import ApprovalsSync
from dingsync.sync.attendance import AttendanceSync
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import CURRENT_UNIT, SyncContext, SyncEntity, SyncResult, run_sync
from dingsync.sync.reports import ReportsSync
from helpers.sandboxes import make_client as shared_make_client

SEED = 23
USERS = 40
DAYS = 5
KILL_POINTS = 12
TOKEN_PATHS = ("/v1.0/oauth2/accessToken", "/gettoken")
#: Columns that differ between two syncs of the same data.
VOLATILE = {"synced_at", "last_seen_run_id", "details_synced_at", "updated_at"}
AREA_TABLES = ("report", "attendance_", "approval_")
TOKYO = timeutil.zone("Asia/Tokyo")


class CountingTransport(httpx.AsyncBaseTransport):
    """Loopback transport that counts every request by the sync unit it belongs to."""

    def __init__(self, kill_after: int | None = None) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.by_unit: Counter[tuple[str, str] | None] = Counter()
        self.total = 0
        self.kill_after = kill_after
        self.reached = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path not in TOKEN_PATHS:
            self.by_unit[CURRENT_UNIT.get()] += 1
            self.total += 1
            if self.total == self.kill_after:
                self.reached.set()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def make_client(sb: SandboxServer, transport: httpx.AsyncBaseTransport | None = None) -> Any:
    """The shared client factory, with ``transport`` (the call counter) when given."""
    return shared_make_client(sb, transport=transport)


def last_work_date(sb: SandboxServer) -> date:
    return date.fromisoformat(sb.stats()["attendance"]["work_date_to"])


def entities() -> list[SyncEntity]:
    """Reports (details for all), attendance and approvals over the sandbox's history."""
    return [
        ReportsSync(history_days=DAYS + 1, details="all"),
        AttendanceSync(days=3),
        ApprovalsSync(),
    ]


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the reports, attendance and approvals tables, volatile columns left out."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if not table.name.startswith(AREA_TABLES):
                continue
            cols = [c for c in table.columns if c.name not in VOLATILE]
            rows = conn.execute(select(*cols)).all()
            out[table.name] = sorted(tuple(map(repr, r)) for r in rows)
    return out


def new_engine(path: Path) -> Engine:
    engine = db.create_engine_for(f"sqlite:///{path}")
    db.migrate(engine)
    return engine


@dataclass
class Attempt:
    """One attempt of a sync run: its result (``None`` when killed) and what it fetched."""

    result: SyncResult | None
    transport: CountingTransport
    fetched: list[tuple[str, str]] = field(default_factory=list)
    in_flight_at_kill: set[tuple[str, str]] = field(default_factory=set)


async def attempt(
    sb: SandboxServer,
    engine: Engine,
    *,
    now_ms: int,
    kill_after: int | None = None,
    tz: Any = None,
    ents: list[SyncEntity] | None = None,
) -> Attempt:
    """One sync attempt at the frozen clock ``now_ms``; cancelled after ``kill_after`` calls."""
    transport = CountingTransport(kill_after)
    seen: list[SyncContext] = []
    out = Attempt(None, transport)
    async with make_client(sb, transport) as client:
        task = asyncio.create_task(
            run_sync(
                client,
                engine,
                sb.app.corp_id,
                ents if ents is not None else entities(),
                clock=lambda: now_ms,
                tz=tz,
                on_context=seen.append,
            )
        )
        reached = asyncio.ensure_future(transport.reached.wait())
        await asyncio.wait([task, reached], return_when=asyncio.FIRST_COMPLETED)
        reached.cancel()
        started = 0
        if not task.done():
            out.in_flight_at_kill = set(seen[0].in_flight)
            started = len(seen[0].fetched)
            task.cancel()
        try:
            out.result = await task
        except asyncio.CancelledError:
            out.result = None
    out.fetched = list(seen[0].fetched)
    if out.result is None:
        # Units started while the cancellation travelled down the task tree were in flight at
        # the kill too (a process dies the same way: whatever had started is lost).
        out.in_flight_at_kill |= set(out.fetched[started:])
    return out


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=SEED, users=USERS, days=DAYS, qps_limit=None)) as sb:
        sb.configure(approvals_per_user_day=0.03)
        yield sb


@pytest.fixture(scope="module")
def now_ms(sandbox: SandboxServer) -> int:
    """A fixed "now": 12:00 (Shanghai) of the day after the sandbox's last work date."""
    day = last_work_date(sandbox) + timedelta(days=1)
    return timeutil.day_start_ms(day) + 12 * 3_600_000


@pytest.fixture(scope="module")
def directory(sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding the synced directory (copied for every test database)."""
    path = tmp_path_factory.mktemp("dir") / "contacts.db"
    engine = new_engine(path)

    async def go() -> None:
        async with make_client(sandbox) as client:
            await run_sync(client, engine, sandbox.app.corp_id, [ContactsSync()])

    asyncio.run(go())
    engine.dispose()
    return path


def fresh(directory: Path, path: Path) -> Engine:
    path.write_bytes(directory.read_bytes())
    return new_engine(path)


@dataclass
class Reference:
    """The module's sandbox, its synced directory, the frozen "now", and an uninterrupted sync
    (``clean``) with its store (``expected``)."""

    sandbox: SandboxServer
    directory: Path
    now_ms: int
    expected: dict[str, list[tuple[Any, ...]]]
    clean: Attempt

    def fresh(self, path: Path) -> Engine:
        """A new database at ``path`` holding the synced directory."""
        return fresh(self.directory, path)


@pytest.fixture(scope="module")
def reference(
    sandbox: SandboxServer, directory: Path, now_ms: int, tmp_path_factory: pytest.TempPathFactory
) -> Reference:
    """An uninterrupted sync (checked against the sandbox) and its store."""
    engine = fresh(directory, tmp_path_factory.mktemp("ref") / "ref.db")
    clean = asyncio.run(attempt(sandbox, engine, now_ms=now_ms))
    assert clean.result is not None and clean.result.status == "succeeded"
    corp = sandbox.app.corp_id
    world = sandbox.state.areas["reports"].world
    with engine.connect() as conn:
        stored = repo_reports.load_reports(conn, corp)
    assert set(stored) == set(world.by_id)
    for truth in world.reports:
        row = stored[truth.report_id]
        assert row["receivers"] == sorted(truth.receivers)
        assert [c["content"] for c in row["comments"]] == [c.content for c in truth.comments]
    with engine.connect() as conn:
        attendance = repo_attendance.count_summary(conn, corp)
        approvals = repo_approvals.counts(conn, corp)
    assert attendance["attendance_results"] > 0 and approvals["approval_instances"] > 0
    return Reference(sandbox, directory, now_ms, dump(engine), clean)


def test_killed_at_random_points_resumes_to_the_same_store(
    reference: Reference, tmp_path: Path
) -> None:
    sandbox, now_ms, expected, clean = (
        reference.sandbox,
        reference.now_ms,
        reference.expected,
        reference.clean,
    )
    total = clean.transport.total
    rng = random.Random(SEED)
    points = sorted(rng.sample(range(1, total), KILL_POINTS))
    figures = []
    for n, kill_after in enumerate(points):
        engine = reference.fresh(tmp_path / f"k{n}.db")
        first = asyncio.run(attempt(sandbox, engine, now_ms=now_ms, kill_after=kill_after))
        assert first.result is None, f"the run ended before {kill_after} calls"
        resumed = asyncio.run(attempt(sandbox, engine, now_ms=now_ms))
        assert resumed.result is not None and resumed.result.status == "succeeded"
        assert resumed.result.resumed
        assert dump(engine) == expected, f"killed after {kill_after} calls"
        # Only units in flight at the kill are fetched again ...
        repeated = set(first.fetched) & set(resumed.fetched)
        assert repeated <= first.in_flight_at_kill
        # ... every call belongs to a unit, and the calls made twice are exactly the first
        # attempt's calls for the units it lost.
        assert first.transport.by_unit.get(None, 0) == 0
        assert resumed.transport.by_unit.get(None, 0) == 0
        repeated_calls = sum(first.transport.by_unit[u] for u in repeated)
        extra = first.transport.total + resumed.transport.total - total
        assert repeated_calls == extra
        figures.append((kill_after, len(first.in_flight_at_kill), len(repeated), repeated_calls))
        engine.dispose()
    print(f"\n{total} calls uninterrupted; (kill after, in flight, units redone, calls redone):")
    print(figures)


def test_resumed_after_midnight_repeats_nothing(reference: Reference, tmp_path: Path) -> None:
    sandbox, now_ms, expected, clean = (
        reference.sandbox,
        reference.now_ms,
        reference.expected,
        reference.clean,
    )
    day = timeutil.local_date(now_ms)
    before_midnight = timeutil.day_end_ms(day) - 60_000
    engine = reference.fresh(tmp_path / "midnight.db")
    kill_after = clean.transport.total // 2
    first = asyncio.run(attempt(sandbox, engine, now_ms=before_midnight, kill_after=kill_after))
    assert first.result is None
    after_midnight = before_midnight + 120_000  # the next day
    resumed = asyncio.run(attempt(sandbox, engine, now_ms=after_midnight))
    assert resumed.result is not None and resumed.result.status == "succeeded"
    repeated = set(first.fetched) & set(resumed.fetched)
    assert repeated <= first.in_flight_at_kill
    # The plan was frozen before midnight: the attendance range still ends the day before
    # ``day`` (a fresh plan would end on ``day``) and no unit key names another date.
    with engine.connect() as conn:
        watermark = repo.get_watermark(conn, sandbox.app.corp_id, "attendance")
        keys = conn.execute(
            select(sync_checkpoints.c.key).where(sync_checkpoints.c.entity == "attendance")
        ).scalars()
        chunk_keys = [k for k in keys if k.startswith("chunk:")]
    assert watermark == {"cursor": (day - timedelta(days=1)).isoformat()}
    assert chunk_keys and not [k for k in chunk_keys if day.isoformat() in k]
    assert len(set(first.fetched) | set(resumed.fetched)) == len(set(clean.fetched))
    assert dump(engine) == expected


def test_one_percent_token_invalidation_completes_first_time(
    reference: Reference, tmp_path: Path
) -> None:
    sandbox, now_ms, expected = reference.sandbox, reference.now_ms, reference.expected
    engine = reference.fresh(tmp_path / "tokens.db")
    sandbox.reset_stats()
    sandbox.configure(fault_token_invalidation=0.01)
    try:
        run = asyncio.run(attempt(sandbox, engine, now_ms=now_ms))
    finally:
        sandbox.configure(fault_token_invalidation=0.0)
    assert run.result is not None and run.result.status == "succeeded"
    assert not run.result.resumed
    assert dump(engine) == expected
    # The sandbox invalidated the tokens (counted, not guessed: how often 1 % fires depends on
    # how many calls the run needs); each invalidation cost at most one more token (single
    # flight), never the run.
    stats = sandbox.stats()
    invalidated = stats["faults_by_kind"].get("token_invalidation", 0)
    assert invalidated >= 1, "the fault never fired: the run proves nothing"
    assert 2 <= stats["token_requests"] <= 1 + invalidated, stats


def test_company_zone_moves_report_windows_and_work_dates(
    reference: Reference, tmp_path: Path
) -> None:
    """At 23:30 in Shanghai it is already tomorrow in Tokyo: "yesterday" (attendance's last
    work date) and the report history's first midnight follow the company's zone."""
    sandbox, now_ms = reference.sandbox, reference.now_ms
    world = sandbox.state.areas["reports"].world
    history = 2
    # The day whose 23:30 the syncs run at: the latest one whose first history day has
    # reports before 23:00 — the hour Tokyo's history leaves out (a Sunday may have none).
    day = timeutil.local_date(now_ms)
    for back in range(7):
        first_day = timeutil.day_start_ms(day - timedelta(days=back + history))
        if any(first_day <= r.create_time < first_day + 23 * 3_600_000 for r in world.reports):
            day -= timedelta(days=back)
            break
    late = timeutil.day_start_ms(day) + 23 * 3_600_000 + 30 * 60_000
    got: dict[str, tuple[set[str], Any]] = {}
    for name, tz in (("shanghai", timeutil.SHANGHAI), ("tokyo", TOKYO)):
        engine = reference.fresh(tmp_path / f"{name}.db")
        ents: list[SyncEntity] = [ReportsSync(history_days=history), AttendanceSync(days=2)]
        run = asyncio.run(attempt(sandbox, engine, now_ms=late, tz=tz, ents=ents))
        assert run.result is not None and run.result.status == "succeeded"
        today = timeutil.today(tz, now=timeutil.from_ms(late))
        first = timeutil.day_start_ms(today - timedelta(days=history), tz)
        with engine.connect() as conn:
            stored = set(repo_reports.load_reports(conn, sandbox.app.corp_id))
            watermark = repo.get_watermark(conn, sandbox.app.corp_id, "attendance")
            windows = [
                k
                for k in conn.execute(
                    select(sync_checkpoints.c.key).where(
                        sync_checkpoints.c.entity == "reports",
                        sync_checkpoints.c.key.like("w:%#0"),
                    )
                ).scalars()
            ]
        assert stored == {r.report_id for r in world.reports if first <= r.create_time <= late}
        assert watermark == {"cursor": (today - timedelta(days=1)).isoformat()}
        # every window but the first starts at a midnight of the zone
        starts = sorted(int(k.split(":")[1]) for k in windows)
        assert starts[0] == first
        assert all(timeutil.midnight_ms(s, tz) == s for s in starts)
        got[name] = (stored, watermark)
        engine.dispose()
    assert got["tokyo"][1] != got["shanghai"][1]  # Tokyo's yesterday is Shanghai's today
    assert got["tokyo"][0] != got["shanghai"][0]
