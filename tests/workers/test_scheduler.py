"""``dingsync scheduler`` + ``dingsync worker`` keep a company in sync on a schedule: beat sends
the entity's incremental run every few seconds (``DINGSYNC_SCHEDULE``, per entity
``DINGSYNC_ENTITY_SCHEDULES``), a worker runs it, a change in DingTalk (someone leaves) reaches the
database without anyone asking, and ``dingsync status --json`` shows each company's work. The
worker runs the prefork pool (``--concurrency 2``)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import db, repo
from dingsync.workers.app import get_app
from dingsync.workers.tasks import done_since
from helpers.cluster import (
    DINGSYNC,
    broker_url,
    flush_redis,
    redis_url,
    require_rabbitmq,
    require_redis,
    wait_until,
    workers,
)
from helpers.contacts import assert_db_equals_company
from helpers.postgres import postgres_schema
from helpers.sandboxes import mutate


@pytest.fixture
def company() -> Iterator[SandboxServer]:
    with SandboxServer(
        SandboxConfig(seed=321, users=30, days=2, corp_id="dingscheduled", qps_limit=20)
    ) as sb:
        yield sb


def _directory_equal(engine: object, sb: SandboxServer) -> bool:
    try:
        assert_db_equals_company(engine, sb.app.corp_id, sb.state.company)  # type: ignore[arg-type]
    except (AssertionError, KeyError):
        return False
    return True


def test_the_scheduler_keeps_a_company_in_sync(company: SandboxServer, tmp_path: Path) -> None:
    require_rabbitmq()
    require_redis()
    flush_redis()
    sb = company
    with postgres_schema() as url:
        env = {
            "DINGSYNC_BROKER_URL": broker_url(),
            "DINGSYNC_REDIS_URL": redis_url(),
            "DINGSYNC_DATABASE_URL": url,
            "DINGTALK_APP_KEY": sb.app.app_key,
            "DINGTALK_APP_SECRET": sb.app.app_secret,
            "DINGTALK_CORP_ID": sb.app.corp_id,
            "DINGTALK_OAPI_URL": sb.base_url,
            "DINGTALK_API_URL": sb.base_url,
            # Every entity off but the directory, which runs incrementally every 3 seconds.
            "DINGSYNC_SCHEDULE": json.dumps({"full_at": None, "incremental_minutes": 0}),
            "DINGSYNC_ENTITY_SCHEDULES": json.dumps(
                {"contacts": {"full_at": "03:00", "incremental_minutes": 0.05}}
            ),
        }
        app = get_app()
        app.conf.broker_url = broker_url()
        app.control.purge()
        engine = db.create_engine_for(url)
        db.migrate(engine)
        since = int(time.time() * 1000) - 1000
        child_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "DINGSYNC_"))},
            **env,
        }
        # A prefork worker (two processes taking tasks): its children open their own database
        # connections (the parent migrated before forking).
        with workers(1, env, tmp_path, args=("--concurrency", "2")) as (worker,):
            beat_log = open(tmp_path / "beat.log", "wb")
            beat = subprocess.Popen(
                [str(DINGSYNC), "scheduler"],
                env=child_env,
                cwd=tmp_path,
                stdout=beat_log,
                stderr=subprocess.STDOUT,
            )
            try:
                wait_until(
                    lambda: done_since(engine, sb.app.corp_id, "contacts", "incremental", since),
                    120,
                    "the first scheduled run",
                )
                assert _directory_equal(engine, sb)
                userid = sorted(sb.state.company.users)[3]
                mutate(sb, "contacts/leave", userid=userid)
                wait_until(lambda: _directory_equal(engine, sb), 120, "the leaver synced")
                with engine.connect() as conn:
                    runs = repo.list_sync_runs(conn, sb.app.corp_id, limit=50)
                assert {r["kind"] for r in runs} == {"incremental"}
                assert len([r for r in runs if r["status"] == "succeeded"]) >= 2
                assert {tuple(r["entities"]) for r in runs} == {("contacts",)}

                status = subprocess.run(
                    [str(DINGSYNC), "status", "--json"],
                    env=child_env,
                    cwd=tmp_path,
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                assert status.returncode == 0, status.stderr
                (shown,) = json.loads(status.stdout)
                assert shown["corp_id"] == sb.app.corp_id
                assert "contacts" in shown["last_success"]
                assert shown["recent"] and shown["recent"][0]["entities"] == ["contacts"]
            finally:
                beat.terminate()
                beat.wait(20)
                beat_log.close()
        text = (tmp_path / "beat.log").read_text()
        assert "Scheduler: Sending due task contacts:incremental" in text, text
        assert sb.app.app_secret not in text + worker.text()
        assert (tmp_path / ".dingsync").is_dir()  # beat's schedule file
        engine.dispose()
