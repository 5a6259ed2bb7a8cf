"""概览 in a real browser: the sync runs with their state, the counts per area (the API's
numbers), the event inbox, 立即同步 starting a run that completes against the sandbox, and
partial / failed / running runs explained."""

from __future__ import annotations

import re
import time
from contextlib import ExitStack

import httpx
from sqlalchemy import update

from dingsync.store import repo
from dingsync.store.schema import sync_runs
from dingsync.sync.engine import QUARANTINE
from dingsync.sync.lease import sync_lease
from dingsync.web.console.session import COOKIE
from dingsync.web.overview import STALE_HINT

from .conftest import Console


def _counts(page) -> dict[str, int]:  # type: ignore[no-untyped-def]
    cells = page.locator("[data-count]").evaluate_all(
        "els => els.map(e => [e.dataset.count, e.textContent.trim()])"
    )
    return {k: int(v) for k, v in cells}


def test_overview_shows_the_apis_counts_to_administrators_and_hr(console: Console) -> None:
    for who, name in ((console.main_admin, "main-admin"), (console.hr, "hr")):
        page = console.page_as(who)
        page.goto(f"{console.url}/console/overview")
        api = console.api(who, "/api/admin/overview")
        counts = _counts(page)
        assert counts == {k: api["areas"][k] for k in counts}
        # The same numbers as the areas' own list endpoints.
        assert counts["people"] == console.api(who, "/api/users", limit=1)["total"]
        assert counts["reports"] == console.api(who, "/api/reports", limit=1)["total"]
        assert counts["approvals"] == console.api(who, "/api/approvals", limit=1)["total"]
        days = sum(p["days"] for p in console.api(who, "/api/attendance/summary")["people"])
        assert counts["attendance_days"] == days
        # Scheduled person-days (with a result), named as such: not the 每日统计 rows of
        # /api/attendance/daily and the export (rest days with a punch or leave too).
        label = page.locator("[data-testid=attendance-days-label]").inner_text()
        assert label.startswith("应出勤人天"), label
        assert counts["people"] > 0 and counts["reports"] > 0 and counts["approvals"] > 0
        # The session's first sync is listed as done.
        runs = page.locator("[data-run]")
        assert runs.count() >= 1
        states = runs.evaluate_all("els => els.map(e => e.dataset.state)")
        assert set(states) <= {"done", "partial", "failed", "running", "queued", "interrupted"}
        assert page.locator("[data-testid=inbox]").is_visible()
        inbox = api["inbox"]
        assert int(page.locator("[data-inbox=failed]").inner_text()) == inbox["failed"]
        assert int(page.locator("[data-inbox=pending]").inner_text()) == inbox["pending"]
        # Only administrators have the button (hr reads).
        assert page.locator("[data-testid=sync-now]").count() == (
            1 if who == console.main_admin else 0
        )
        console.shot(page, f"overview-{name}")
        page.context.close()


def test_overview_is_404_for_others(console: Console) -> None:
    for who in (console.employee, console.leader, console.sub_admin):
        cookies = {COOKIE: console.api_token(who)}
        r = httpx.get(f"{console.url}/console/overview", cookies=cookies)
        assert r.status_code == 404, who
        r = httpx.get(
            f"{console.url}/api/admin/overview",
            headers={"Authorization": f"Bearer {console.api_token(who)}"},
        )
        assert r.status_code == 403


def test_sync_now_starts_a_run_that_completes_and_the_page_shows_it(console: Console) -> None:
    admin = console.main_admin
    with console.engine.connect() as conn:
        before = repo.last_sync_run(conn, console.corp_id)
    assert before is not None
    page = console.page_as(admin)
    page.goto(f"{console.url}/console/overview")
    page.click("[data-testid=sync-now]")
    page.wait_for_url("**/console/overview?sync=*")
    assert page.url.endswith("sync=started"), page.url
    # The new run is listed; the page polls while it runs, then shows it done.
    deadline = time.monotonic() + 90
    while True:
        with console.engine.connect() as conn:
            last = repo.last_sync_run(conn, console.corp_id)
        assert last is not None and last["id"] > before["id"]
        if last["status"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert last["status"] == "succeeded", last
    assert last["kind"] == "incremental"
    row = page.locator(f"[data-run='{last['id']}']")
    row.wait_for(timeout=20_000)
    ended = f"[data-run='{last['id']}']"
    page.wait_for_selector(f"{ended}[data-state=done], {ended}[data-state=partial]", timeout=20_000)
    console.shot(page, "overview-after-sync")
    # the "started" banner went with the sync; a sub-second run reads "<1 秒", never "0 秒"
    page.wait_for_selector("#live[data-running=false]")
    assert page.locator("[data-testid=sync-message]").count() == 0
    took = page.locator(f"{ended} td.num").first.inner_text()
    assert not re.search(r"(?<!\d)0 秒", took) and ("秒" in took or "分" in took), took
    # A second click while a sync holds the lease says it is running, and starts nothing.
    with sync_lease(console.engine, console.corp_id):
        page.goto(f"{console.url}/console/overview")
        page.click("[data-testid=sync-now]")
        page.wait_for_url("**/console/overview?sync=*")
        assert page.url.endswith("sync=running")
        assert "正在进行" in page.locator("[data-testid=sync-message]").inner_text()
    with console.engine.connect() as conn:
        assert repo.last_sync_run(conn, console.corp_id)["id"] == last["id"]  # type: ignore[index]
    # Without the CSRF token: refused.
    r = httpx.post(
        f"{console.url}/console/overview/sync", cookies={COOKIE: console.api_token(admin)}
    )
    assert r.status_code == 403
    # HR may read the overview but not start a sync.
    hr_cookies = {COOKIE: console.api_token(console.hr)}
    csrf = re.search(
        r'name="csrf-token" content="([0-9a-f]+)"',
        httpx.get(f"{console.url}/console/overview", cookies=hr_cookies).text,
    )
    assert csrf is not None
    r = httpx.post(
        f"{console.url}/console/overview/sync",
        cookies=hr_cookies,
        data={"csrf_token": csrf.group(1)},
    )
    assert r.status_code == 404
    page.context.close()


def test_partial_failed_and_running_runs_are_explained(console: Console) -> None:
    """A run that skipped a department and quarantined a unit is 部分完成 with both and why; a
    failed run shows its error and what to do; a running run its progress, an ETA, and the
    page polls."""
    corp = console.corp_id
    with console.engine.begin() as conn:
        partial = repo.start_sync_run(conn, corp, "full", ["approvals"])
        repo.save_checkpoint(conn, partial, "departments", "424242", {"skipped": "60003"})
        repo.save_checkpoint(
            conn,
            partial,
            QUARANTINE,
            "approvals:page#3",
            {"entity": "approvals", "key": "page#3", "reason": "DataError: NUL in text"},
        )
        repo.finish_sync_run(conn, partial, "succeeded", {}, {}, 1200)
        failed = repo.start_sync_run(conn, corp, "full", ["approvals"])
        repo.finish_sync_run(
            conn, failed, "failed", {}, {}, 800, "DingTalkError: 40089 invalid appkey or appsecret"
        )
        reference = repo.start_sync_run(conn, corp, "full", ["reports"])
        for n in range(10):
            repo.save_checkpoint(conn, reference, "reports", f"u{n}", None)
        repo.finish_sync_run(conn, reference, "succeeded", {}, {}, 10_000)
        running = repo.start_sync_run(conn, corp, "full", ["reports"])
        for n in range(4):
            repo.save_checkpoint(conn, running, "reports", f"u{n}", None)
    held = ExitStack()
    try:
        held.enter_context(sync_lease(console.engine, corp))  # the live run holds the lock
        page = console.page_as(console.main_admin)
        page.goto(f"{console.url}/console/overview")
        row = page.locator(f"[data-run='{partial}']")
        assert row.get_attribute("data-state") == "partial"
        row.locator("summary").click()
        text = row.inner_text()
        assert "424242" in text and "60003" in text and "page#3" in text and "NUL" in text
        row = page.locator(f"[data-run='{failed}']")
        assert row.get_attribute("data-state") == "failed"
        assert "40089" in row.inner_text() and "DINGTALK_APP_KEY" in row.inner_text()
        row = page.locator(f"[data-run='{running}']")
        assert row.get_attribute("data-state") == "running"
        progress = row.locator("[data-testid=progress]").inner_text()
        assert "4 / 约 10" in progress and "40%" in progress and "预计还需" in progress
        live = page.locator("#live")
        assert live.get_attribute("hx-trigger") == "every 3s"
        api = {r["id"]: r for r in console.api(console.main_admin, "/api/admin/overview")["runs"]}
        assert api[running]["progress"]["done"] == 4 and api[running]["progress"]["expected"] == 10
        assert api[partial]["skipped"] == [
            {"entity": "departments", "key": "424242", "reason": "60003"}
        ]
        console.shot(page, "overview-states")
        # Calls, which the rate limit paces, measure a run better than its units (an
        # incremental run's many quick units come first): when the reference recorded its calls
        # and the running run has stored some, the share and the ETA follow them.
        with console.engine.begin() as conn:
            conn.execute(
                update(sync_runs)
                .where(sync_runs.c.id == reference)
                .values(api_calls={"/topapi/report/list": 1000})
            )
            repo.set_sync_run_calls(conn, running, {"/topapi/report/list": 250})
        api = {r["id"]: r for r in console.api(console.main_admin, "/api/admin/overview")["runs"]}
        assert api[running]["api_calls"] == 250
        got = api[running]["progress"]
        assert (got["calls"], got["expected_calls"], got["percent"]) == (250, 1000, 25)
        page.reload()
        progress = page.locator(f"[data-run='{running}'] [data-testid=progress]").inner_text()
        assert "接口调用 250 / 约 1000" in progress and "25%" in progress, progress
        # When the run ends, the polling page shows it without a reload.
        with console.engine.begin() as conn:
            repo.finish_sync_run(conn, running, "succeeded", {}, {}, 9000)
        page.wait_for_selector(f"[data-run='{running}'][data-state=done]", timeout=15_000)
        assert page.locator("#live").get_attribute("hx-trigger") is None
        page.context.close()
    finally:
        held.close()
        with console.engine.begin() as conn:
            conn.execute(
                update(sync_runs)
                .where(sync_runs.c.id == running, sync_runs.c.status == "running")
                .values(status="interrupted")
            )


def test_a_run_left_running_by_a_dead_process_is_interrupted(console: Console) -> None:
    """A run stored as running while no sync holds the corp's lock was left by a process that
    died: the overview says 已中断 with what to do, and does not poll for ever."""
    corp = console.corp_id
    with console.engine.begin() as conn:
        stale = repo.start_sync_run(conn, corp, "incremental", ["reports"])
    try:
        runs = {r["id"]: r for r in console.api(console.main_admin, "/api/admin/overview")["runs"]}
        assert runs[stale]["state"] == "interrupted"
        assert runs[stale]["hint"] == STALE_HINT
        page = console.page_as(console.main_admin)
        page.goto(f"{console.url}/console/overview")
        row = page.locator(f"[data-run='{stale}']")
        assert row.get_attribute("data-state") == "interrupted"
        assert page.locator("#live").get_attribute("hx-trigger") is None
        page.context.close()
    finally:
        with console.engine.begin() as conn:
            conn.execute(
                update(sync_runs)
                .where(sync_runs.c.id == stale, sync_runs.c.status == "running")
                .values(status="interrupted")
            )


def test_a_workers_run_between_batches_is_queued(console: Console) -> None:
    """A worker's run whose batch ended (stored running with the batch's end, as
    ``run_sync(..., unit_budget=…)`` leaves it) while no sync holds the lease is 排队中 — its
    next batch is queued — not 已中断."""
    corp = console.corp_id
    with console.engine.begin() as conn:
        paused = repo.start_sync_run(conn, corp, "full", ["approvals"])
        repo.save_checkpoint(conn, paused, "approvals", "u0", None)
        repo.finish_sync_run(conn, paused, "running", {}, {}, 1200)
    try:
        runs = {r["id"]: r for r in console.api(console.main_admin, "/api/admin/overview")["runs"]}
        assert runs[paused]["state"] == "queued" and runs[paused]["hint"] is None
        page = console.page_as(console.main_admin)
        page.goto(f"{console.url}/console/overview")
        row = page.locator(f"[data-run='{paused}']")
        assert row.get_attribute("data-state") == "queued"
        assert row.locator("[data-testid=run-state]").inner_text() == "排队中"
        page.context.close()
    finally:
        with console.engine.begin() as conn:
            conn.execute(
                update(sync_runs)
                .where(sync_runs.c.id == paused, sync_runs.c.status == "running")
                .values(status="interrupted")
            )
