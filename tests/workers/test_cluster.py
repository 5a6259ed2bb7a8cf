"""The worker cluster for real: RabbitMQ, Redis, PostgreSQL, three ``dingsync worker``
processes and five sandbox companies (each its own app, seed and CorpId, DingTalk's 20 calls per
second per API enforced by the sandbox).

Every company ends equal to its sandbox's truth (directory field by field, reports, approvals);
the sandboxes count no call over a per-API limit (the limiter is shared through Redis, calls in
flight included); a worker SIGKILLed in the middle of a task has that task delivered again to
another worker (acknowledged late), which resumes the run from its checkpoints; the workers'
JSON log lines carry the company and never an app secret; a worker's ``/metrics`` answers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from dingsync.config import AppConfig, Settings
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import db, repo_approvals, repo_reports
from dingsync.store.schema import sync_checkpoints
from dingsync.sync.runner import ENTITY_NAMES
from dingsync.workers.app import get_app
from dingsync.workers.status import company_status
from dingsync.workers.tasks import done_since, enqueue
from helpers.cluster import (
    broker_url,
    flush_redis,
    free_port,
    redis_url,
    require_rabbitmq,
    require_redis,
    wait_until,
    workers,
)
from helpers.contacts import assert_db_equals_company
from helpers.postgres import postgres_schema
from helpers.reports import expected_contents

COMPANIES = 5
DAYS = 4


@pytest.fixture
def companies() -> Iterator[list[SandboxServer]]:
    servers = []
    try:
        for n in range(COMPANIES):
            cfg = SandboxConfig(
                seed=300 + n,
                users=30 + 10 * n,
                days=DAYS,
                corp_id=f"dingcluster{n}",
                qps_limit=20,
                latency_ms=5,
                jitter_ms=10,
            )
            servers.append(SandboxServer(cfg).start())
        yield servers
    finally:
        for sb in servers:
            sb.stop()


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_schema() as url:
        yield url


def _settings(sandboxes: list[SandboxServer], database_url: str) -> Settings:
    return Settings(
        broker_url=broker_url(),
        redis_url=redis_url(),
        database_url=database_url,
        apps=[
            AppConfig(
                corp_id=sb.app.corp_id,
                app_key=sb.app.app_key,
                app_secret=sb.app.app_secret,  # type: ignore[arg-type]
                oapi_url=sb.base_url,
                api_url=sb.base_url,
            )
            for sb in sandboxes
        ],
    )


def _worker_env(settings: Settings) -> dict[str, str]:
    return {
        "DINGSYNC_BROKER_URL": settings.broker_url,
        "DINGSYNC_REDIS_URL": str(settings.redis_url),
        "DINGSYNC_DATABASE_URL": settings.database_url,
        "DINGSYNC_APPS": json.dumps(
            [
                {**c.model_dump(exclude_none=True), "app_secret": c.app_secret.get_secret_value()}
                for c in settings.apps
            ]
        ),
        "DINGSYNC_QPS_PER_API": "20",
        "DINGSYNC_WORKER_BATCH_UNITS": "4",
        "DINGSYNC_REPORTS_HISTORY_DAYS": str(DAYS + 2),
        "DINGSYNC_REPORTS_DETAILS": "all",
        "DINGSYNC_APPROVALS_HISTORY_DAYS": str(DAYS + 2),
        "DINGSYNC_ATTENDANCE_DAYS": "3",
        "DINGSYNC_LOG_FORMAT": "json",
    }


def _all_done(engine: Engine, corps: list[str], since_ms: int) -> bool:
    return all(done_since(engine, c, e, "full", since_ms) for c in corps for e in ENTITY_NAMES)


def _checkpoints(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(sync_checkpoints)).scalar_one())


def _assert_equals_truth(engine: Engine, sb: SandboxServer) -> None:
    corp = sb.app.corp_id
    assert_db_equals_company(engine, corp, sb.state.company)
    world = sb.state.areas["reports"].world
    with engine.connect() as conn:
        stored = repo_reports.load_reports(conn, corp)
        approvals = repo_approvals.counts(conn, corp)
    assert set(stored) == set(world.by_id) and stored, corp
    for truth in world.reports:
        row = stored[truth.report_id]
        assert row["contents"] == expected_contents(truth)
        assert row["receivers"] == sorted(truth.receivers)
        assert [c["content"] for c in row["comments"]] == [c.content for c in truth.comments]
    truth = sb.stats()["approvals"]
    assert approvals["approval_instances"] == truth["instances"] > 0
    assert approvals["approval_form_values"] == truth["form_values"]
    assert approvals["approval_tasks"] == truth["tasks"]
    assert approvals["approval_operation_records"] == truth["operation_records"]


def test_three_workers_sync_five_companies_and_survive_a_sigkill(
    companies: list[SandboxServer], pg_url: str, tmp_path: Path
) -> None:
    require_rabbitmq()
    require_redis()
    flush_redis()
    settings = _settings(companies, pg_url)
    app = get_app(settings)
    app.conf.broker_url = settings.broker_url  # this process may have configured it before
    app.control.purge()
    engine = db.create_engine_for(pg_url)
    db.migrate(engine)
    corps = [sb.app.corp_id for sb in companies]
    ports = [free_port() for _ in range(3)]
    since_ms = int(time.time() * 1000) - 1000

    with workers(3, _worker_env(settings), tmp_path, metrics_ports=ports) as procs:
        assert enqueue(settings, None, "full") == corps

        # Kill a worker in the middle of a task once the sync is well under way.
        wait_until(lambda: _checkpoints(engine) >= 60, 180, "60 checkpoints")
        victim, task_id = wait_until(
            lambda: next(((w, w.in_progress()[0]) for w in procs if w.in_progress()), None),
            60,
            "a worker in the middle of a task",
            every=0.05,
        )
        victim.kill()
        others = [w for w in procs if w is not victim]

        wait_until(lambda: _all_done(engine, corps, since_ms), 420, "every company synced")
        # The killed task was given back by the broker and run again by another worker.
        assert any(task_id in w.tasks("received") for w in others), task_id

        # A worker's /metrics: DingTalk calls by API and outcome, lag per company and entity.
        scraped = [
            httpx.get(f"http://127.0.0.1:{ports[procs.index(w)]}/metrics").text for w in others
        ]
        assert any(
            'dingsync_dingtalk_calls_total{api="/topapi/v2/user/get",outcome="ok"}' in text
            or 'dingsync_dingtalk_calls_total{api="/topapi/report/list",outcome="ok"}' in text
            for text in scraped
        ), scraped
        for text in scraped:
            assert "dingsync_sync_units_total" in text
            for corp in corps:
                assert f'dingsync_sync_lag_seconds{{corp_id="{corp}",entity="reports"}}' in text

        for sb in companies:
            _assert_equals_truth(engine, sb)
            over = sb.stats()["rate_limited"]
            assert sum(over.values()) == 0, (sb.app.corp_id, over)
            status = company_status(engine, sb.app.corp_id)
            assert not status["live"] and set(status["last_success"]) == set(ENTITY_NAMES)

        # JSON log lines, with the company of the batch, and no secret anywhere.
        secrets = [sb.app.app_secret for sb in companies]
        for w in procs:
            text = w.text()
            assert not any(s in text for s in secrets), w.name
            lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
            assert lines, w.name
        logged = [json.loads(x) for w in procs for x in w.text().splitlines() if x.startswith("{")]
        batches = [line for line in logged if " batch " in line["message"]]
        assert {line.get("company") for line in batches} == set(corps)
        assert all(isinstance(line.get("run"), int) for line in batches)
    engine.dispose()
