"""The beat schedule follows the ``corps`` registry, not only the configured apps: each entry
(one per entity and kind) is fanned out when due to every active company — configured internal
apps and ISV companies alike, a relieved or stopped one left out — and a company whose full sync
is due (``corps.full_sync_requested_at``) gets a full run of each entity not yet fully synced
since the request; the request is settled once every area had one. Real SQLite and PostgreSQL,
no broker (what the tick sends, not how)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from pydantic import SecretStr

from dingsync.config import AppConfig, EntitySchedule, Settings
from dingsync.store import repo, repo_corps
from dingsync.store.schema import utcnow
from dingsync.workers.schedule import beat_schedule
from dingsync.workers.tasks import due


def _settings() -> Settings:
    app = AppConfig(app_key="key-b", app_secret=SecretStr("secret-b"), corp_id="corp-b")
    return Settings(
        DINGTALK_APP_KEY="key-a",
        DINGTALK_APP_SECRET=SecretStr("secret-a"),
        DINGTALK_CORP_ID="corp-a",
        DINGSYNC_APPS=[app],
        DINGSYNC_SCHEDULE=EntitySchedule(full_at="03:00", incremental_minutes=15),
        DINGSYNC_ENTITY_SCHEDULES={"reports": EntitySchedule(full_at=None, incremental_minutes=0)},
    )


def _isv(conn: sa.Connection, corp_id: str, status: str) -> None:
    repo_corps.register_corp(
        conn, {"corp_id": corp_id, "mode": "isv", "app_key": "suite1", "status": status}
    )


def _full_run(conn: sa.Connection, corp_id: str, entities: list[str]) -> None:
    run_id = repo.start_sync_run(conn, corp_id, "full", entities)
    repo.finish_sync_run(conn, run_id, "succeeded", {}, {}, 1)


def test_the_schedule_is_per_entity_and_names_no_company() -> None:
    entries = beat_schedule(_settings())
    assert "reports:full" not in entries and "reports:incremental" not in entries
    assert entries["contacts:incremental"]["task"] == "dingsync.sync_due"
    assert entries["contacts:incremental"]["args"] == ("contacts", "incremental")
    assert entries["contacts:incremental"]["schedule"] == timedelta(minutes=15)
    assert entries["approvals:full"]["args"] == ("approvals", "full")
    assert not any("corp-" in key for key in entries)


def test_a_tick_goes_to_every_active_company_of_the_registry(engine: sa.Engine) -> None:
    settings = _settings()
    with engine.begin() as conn:
        _isv(conn, "isv-new", "active")
        _isv(conn, "isv-old", "active")
        _isv(conn, "isv-gone", "relieved")
        _isv(conn, "isv-stopped", "stopped")
        assert repo_corps.request_full_sync(conn, "isv-new")
        assert repo_corps.request_full_sync(conn, "isv-gone")  # relieved: never due
        assert not repo_corps.request_full_sync(conn, "isv-unknown")
    assert due(engine, settings, "contacts", "incremental") == [
        ("corp-a", "incremental"),
        ("corp-b", "incremental"),
        ("isv-new", "full"),  # its first full sync is due
        ("isv-old", "incremental"),
    ]
    # the new company's directory had its full run (a run that failed does not count)
    with engine.begin() as conn:
        failed = repo.start_sync_run(conn, "isv-new", "full", ["reports"])
        repo.finish_sync_run(conn, failed, "failed", {}, {}, 1, error="boom")
        _full_run(conn, "isv-new", ["contacts"])
        assert not repo_corps.settle_full_sync(conn, "isv-new")
    assert ("isv-new", "incremental") in due(engine, settings, "contacts", "incremental")
    assert ("isv-new", "full") in due(engine, settings, "reports", "incremental")
    # every area done in full since the request: settled, the company runs as asked
    with engine.begin() as conn:
        _full_run(conn, "isv-new", ["reports", "attendance", "approvals"])
        assert repo_corps.settle_full_sync(conn, "isv-new")
        assert repo_corps.full_syncs_due(conn) == {}
    assert ("isv-new", "incremental") in due(engine, settings, "reports", "incremental")
    # a new request later than those runs makes it due again
    with engine.begin() as conn:
        assert repo_corps.request_full_sync(conn, "isv-new", utcnow() + timedelta(seconds=1))
        assert set(repo_corps.full_syncs_due(conn)) == {"isv-new"}
