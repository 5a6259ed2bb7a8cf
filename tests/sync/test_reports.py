"""Reports sync over real loopback HTTP against the sandbox, into SQLite and PostgreSQL: full
sync equals the sandbox field by field, re-runs are idempotent, incremental runs pick up an edit
with a handful of calls, and per-report details follow the configuration."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine

from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.sandbox.reports import ReportsArea
from dingsync.store import repo, repo_reports
from dingsync.store.schema import from_ms
from dingsync.sync.reports import ReportsSync
from helpers.reports import SANDBOX as SANDBOX
from helpers.reports import expected_contents, sync, window


def _area(sb: SandboxServer) -> ReportsArea:
    found: ReportsArea = sb.state.areas["reports"]
    return found


def _stored(engine: Engine, corp_id: str) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return repo_reports.load_reports(conn, corp_id)


def _same_instant(a: datetime | None, ms: int) -> bool:
    return a is not None and a.astimezone(UTC) == from_ms(ms)


def test_full_sync_equals_the_sandbox(sandbox: SandboxServer, engine: Engine) -> None:
    sandbox.reset_stats()
    result = sync(sandbox, engine, details="all")
    assert result.status == "succeeded"
    corp = sandbox.app.corp_id
    world = _area(sandbox).world
    stored = _stored(engine, corp)
    assert set(stored) == set(world.by_id)
    for truth in world.reports:
        row = stored[truth.report_id]
        assert row["template_name"] == truth.template
        assert row["creator_id"] == truth.creator_id
        assert row["creator_name"] == truth.creator_name
        assert row["dept_name"] == truth.dept_name
        assert _same_instant(row["create_time"], truth.create_time)
        assert _same_instant(row["modified_time"], truth.modified_time)
        # strings exactly as sent, in order; placeholders and cut texts flagged
        assert row["contents"] == expected_contents(truth)
        assert row["receivers"] == sorted(truth.receivers)
        assert row["receivers_synced"] is True
        assert [c["content"] for c in row["comments"]] == [c.content for c in truth.comments]
        assert [c["userid"] for c in row["comments"]] == [c.userid for c in truth.comments]
        # counts from report/statistics (one call), commenters from the comments
        assert (row["read_num"], row["like_num"]) == (len(truth.readers), len(truth.likers))
        assert row["comment_num"] == len(truth.comments)
        assert row["stats"].get(1, []) == sorted({c.userid for c in truth.comments})
    stats = sandbox.stats()["reports"]
    with engine.connect() as conn:
        summary = ReportsSync.summary(conn, corp)
        templates = repo_reports.template_fields(conn, corp, "销售日报")
    assert summary["reports"] == stats["reports"]
    assert summary["report_receivers"] == stats["report_receivers"]
    assert summary["report_comments"] == stats["report_comments"]
    assert summary["report_reads"] == stats["report_reads"]
    assert summary["report_likes"] == stats["report_likes"]
    assert summary["report_templates"] == 4
    assert templates == [f.field_name for f in world.templates["销售日报"].fields]
    # Every report needed exactly one receivers call and one statistics call; comments are
    # listed only for the reports whose statistics count some.
    served = sandbox.stats()["calls"]
    assert served["/topapi/report/receiver/list"] == stats["reports"]
    commented = sum(1 for r in world.reports if r.comments)
    assert 0 < commented < stats["reports"]
    assert served["/topapi/report/comment/list"] == commented
    assert served["/topapi/report/statistics"] == stats["reports"]
    assert "/topapi/report/statistics/listbytype" not in served
    # The detail API only for the reports whose text report/list cut (and there are some).
    cut = [r for r in world.reports if r.full_texts]
    assert cut and served["/v1.0/report/details"] == len(cut)

    # A second full run with details for the last 3 days only: details are read for exactly
    # those reports, and the store ends up the same (idempotent upserts, lists replaced).
    end = window(sandbox)[1]
    recent = [r for r in world.reports if r.create_time >= end - 3 * 86_400_000]
    sandbox.reset_stats()
    again = sync(sandbox, engine, contacts=False, details="recent", details_days=3, until_ms=end)
    assert again.status == "succeeded"
    served = sandbox.stats()["calls"]
    assert served.get("/topapi/report/comment/list", 0) == sum(1 for r in recent if r.comments)
    assert served.get("/topapi/report/statistics", 0) == len(recent)
    assert _strip(_stored(engine, corp)) == _strip(stored)


def _strip(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    volatile = {"synced_at", "last_seen_run_id", "details_synced_at"}
    return {k: {c: v for c, v in row.items() if c not in volatile} for k, row in rows.items()}


def test_incremental_picks_up_an_edit_with_few_calls(engine: Engine) -> None:
    cfg = SandboxConfig(seed=5, users=12, days=10, qps_limit=None)
    with SandboxServer(cfg) as sb:
        corp = sb.app.corp_id
        first = sync(sb, engine, details="none")
        assert first.status == "succeeded"
        before = _strip(_stored(engine, corp))
        with engine.connect() as conn:
            watermark = repo.get_watermark(conn, corp, "reports")
        assert isinstance(watermark, dict) and watermark["cursor"] > 0  # epoch ms

        target = _area(sb).world.reports[len(_area(sb).world.reports) // 2]
        edited = httpx.post(
            f"{sb.base_url}/sandbox/mutate/reports/edit",
            json={"report_id": target.report_id, "value": "修改后的内容 🚀 带表情"},
        ).json()
        sb.reset_stats()
        inc = sync(sb, engine, contacts=False, kind="incremental", details="none")
        assert inc.status == "succeeded"
        calls = sb.stats()["calls"]
        assert calls.get("/topapi/report/list") == 1
        assert calls.get("/topapi/report/receiver/list") == 1
        report_calls = {p: n for p, n in calls.items() if p.startswith("/topapi/")}
        assert sum(report_calls.values()) == 2  # one list page, one receivers call
        assert "/topapi/report/comment/list" not in first.api_calls  # details="none"

        after = _strip(_stored(engine, corp))
        changed = {k for k in after if after[k] != before[k]}
        assert changed == {target.report_id}
        row = after[target.report_id]
        assert row["contents"][0]["value"] == "修改后的内容 🚀 带表情"
        assert _same_instant(row["modified_time"], edited["modified_time"])
        with engine.connect() as conn:
            later = repo.get_watermark(conn, corp, "reports")
        assert later["cursor"] >= watermark["cursor"]


def test_a_report_whose_lists_fail_is_stored_and_marked(engine: Engine) -> None:
    with SandboxServer(SandboxConfig(seed=6, users=8, days=5, qps_limit=None)) as sb:
        world = _area(sb).world
        gone = world.reports[0].report_id
        del world.by_id[gone]  # still listed, but its per-report APIs answer 400002
        result = sync(sb, engine, details="all")
        assert result.status == "succeeded"
        assert result.counts["report_lists_skipped"] == 2  # receivers and details
        stored = _stored(engine, sb.app.corp_id)
        assert set(stored) == {r.report_id for r in world.reports}
        assert stored[gone]["receivers_synced"] is False
        assert stored[gone]["details_synced_at"] is None
        assert all(r["receivers_synced"] for k, r in stored.items() if k != gone)


def test_counts_cover_the_history_and_follow_later_reads(engine: Engine) -> None:
    """By default the read/like/comment lists are read for every report of the history a run
    syncs (not only the last day: the demo showed 0 everywhere on a Sunday), and an incremental
    run re-reads them for the reports of the last ``details_days``, since reads keep coming
    without the report being modified."""
    day = 86_400_000
    with SandboxServer(SandboxConfig(seed=5, users=12, days=14, qps_limit=None)) as sb:
        corp = sb.app.corp_id
        assert sync(sb, engine).status == "succeeded"  # the defaults
        world = _area(sb).world
        stored = _stored(engine, corp)
        for truth in world.reports:
            row = stored[truth.report_id]
            assert row["details_synced_at"] is not None
            assert (row["read_num"], row["like_num"]) == (len(truth.readers), len(truth.likers))
        assert sum(len(r.readers) for r in world.reports) > 0

        now = int(time.time() * 1000)

        def unread(r: Any) -> bool:
            return any(u not in r.readers for u in r.receivers)

        recent = next(r for r in world.reports if r.create_time > now - 5 * day and unread(r))
        old = next(r for r in world.reports if r.create_time < now - 9 * day and unread(r))
        for r in (recent, old):
            answer = httpx.post(
                f"{sb.base_url}/sandbox/mutate/reports/read",
                json={"report_id": r.report_id, "like": True},
            )
            assert answer.status_code == 200
        sb.reset_stats()
        before = int(time.time() * 1000)
        inc = sync(sb, engine, contacts=False, kind="incremental")
        after = int(time.time() * 1000)
        assert inc.status == "succeeded"
        again = _stored(engine, corp)
        # the recent report's new reader and like are there; the old one's wait for a full run
        fresh, stale = again[recent.report_id], again[old.report_id]
        assert (fresh["read_num"], fresh["like_num"]) == (len(recent.readers), len(recent.likers))
        assert stale["read_num"] == stored[old.report_id]["read_num"] == len(old.readers) - 1
        refreshed = inc.counts["report_details_refreshed"]
        newest = [r for r in world.reports if r.create_time >= before - 7 * day]
        oldest = [r for r in world.reports if r.create_time >= after - 7 * day]
        assert len(oldest) <= refreshed <= len(newest) and refreshed > 0
        calls = sb.stats()["calls"]
        assert calls.get("/topapi/report/comment/list", 0) <= refreshed
        assert calls["/topapi/report/statistics"] == refreshed


def test_without_the_historic_statistics_api_the_lists_give_the_counts(engine: Engine) -> None:
    """``report/statistics`` is closed to new apps (EB-55): on its 60011 the sync reads the
    readers and likers (``statistics/listbytype``) instead, and counts them."""
    with SandboxServer(SandboxConfig(seed=6, users=8, days=5, qps_limit=None)) as sb:
        sb.configure(historic_permissions_denied=True)
        assert sync(sb, engine).status == "succeeded"
        world = _area(sb).world
        stored = _stored(engine, sb.app.corp_id)
        for truth in world.reports:
            row = stored[truth.report_id]
            assert row["stats"].get(0, []) == sorted(truth.readers)
            assert row["stats"].get(2, []) == sorted(truth.likers)
            assert (row["read_num"], row["like_num"]) == (len(truth.readers), len(truth.likers))
        calls = sb.stats()["calls"]
        assert calls["/topapi/report/statistics/listbytype"] == 2 * len(world.reports)
        with engine.connect() as conn:
            summary = ReportsSync.summary(conn, sb.app.corp_id)
        assert summary["report_reads"] == sum(len(r.readers) for r in world.reports)


class _Watch:
    """A progress sink that records the reports bar and, at each of its steps, the DingTalk
    calls the running run has stored (``sync_runs.api_calls``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.total = 0
        self.done = 0
        self.stored_calls: list[int] = []
        self.run_id: int | None = None

    def add_total(self, entity: str, n: int) -> None:
        if entity == "reports":
            self.total += n

    def advance(self, entity: str, n: int = 1) -> None:
        if entity != "reports":
            return
        self.done += n
        assert self.run_id is not None
        with self.engine.connect() as conn:
            run = repo.get_sync_run(conn, self.run_id) or {}
        assert run["status"] == "running"
        self.stored_calls.append(sum((run["api_calls"] or {}).values()))


def test_an_incremental_run_shows_its_progress_and_calls_while_it_runs(engine: Engine) -> None:
    """The refresh of the recent reports' details — most of an incremental run's calls — moves
    the reports bar one step per 100 reports (not one step for the whole run), and the running
    run's ``api_calls`` grow in the database (the console's overview reads them) before it
    ends."""
    import asyncio

    from dingsync.sync.engine import SyncContext, run_sync
    from helpers.sandboxes import make_client

    with SandboxServer(SandboxConfig(seed=5, users=30, days=10, qps_limit=None)) as sb:
        corp = sb.app.corp_id
        assert sync(sb, engine).status == "succeeded"
        with engine.connect() as conn:
            recent = len(
                repo_reports.report_ids_created(
                    conn,
                    corp,
                    from_ms(int(time.time() * 1000) - 7 * 86_400_000),
                    from_ms(int(time.time() * 1000) + 86_400_000),
                )
            )
        assert recent > 100  # at least two units of details
        watch = _Watch(engine)

        def seen(ctx: SyncContext) -> None:
            watch.run_id = ctx.run_id
            ctx.CALLS_INTERVAL_S = 0.0  # store the calls with every commit

        async def go() -> Any:
            async with make_client(sb) as client:
                return await run_sync(
                    client,
                    engine,
                    corp,
                    [ReportsSync(since_ms=window(sb)[0])],
                    kind="incremental",
                    progress=watch,
                    on_context=seen,
                )

        result = asyncio.run(go())
    assert result.status == "succeeded"
    assert watch.total >= 3 and watch.done == watch.total  # the changes + 2 or more units
    assert watch.stored_calls[0] > 0
    assert watch.stored_calls == sorted(watch.stored_calls)
    assert watch.stored_calls[-1] > watch.stored_calls[0]
    with engine.connect() as conn:
        final = repo.get_sync_run(conn, result.run_id) or {}
    assert sum(final["api_calls"].values()) >= watch.stored_calls[-1]
