"""``/metrics`` of a prefork worker (``dingsync worker --concurrency 2``): its children do the
tasks and count the DingTalk calls and sync units in prometheus_client's multiprocess files (the
directory :func:`dingsync.config.metrics_directory` makes and exports before the children are
forked); the parent's ``/metrics`` port adds them up. Real RabbitMQ (its own vhost), the
company's data in MariaDB."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from dingsync.config import AppConfig, Settings
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import db
from dingsync.workers.app import get_app
from dingsync.workers.tasks import done_since, enqueue
from helpers.cluster import broker_url, free_port, require_rabbitmq, wait_until, workers
from helpers.mariadb import migrated_mariadb_url


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of metric ``name`` in an exposition, by their sorted labels."""
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def test_a_prefork_workers_metrics_add_up_its_childrens_counters(tmp_path: Path) -> None:
    require_rabbitmq()
    url = migrated_mariadb_url()
    with SandboxServer(SandboxConfig(seed=91, users=30, days=1, corp_id="dingprefork")) as sb:
        company = AppConfig(
            corp_id=sb.app.corp_id,
            app_key=sb.app.app_key,
            app_secret=sb.app.app_secret,  # type: ignore[arg-type]
            oapi_url=sb.base_url,
            api_url=sb.base_url,
        )
        settings = Settings(broker_url=broker_url(), database_url=url, apps=[company])
        app = get_app(settings)
        app.conf.broker_url = settings.broker_url  # this process may have configured it before
        app.control.purge()
        engine = db.create_engine_for(url)
        env = {
            "DINGSYNC_BROKER_URL": settings.broker_url,
            "DINGSYNC_DATABASE_URL": url,
            "DINGSYNC_APPS": json.dumps(
                [{**company.model_dump(exclude_none=True), "app_secret": sb.app.app_secret}]
            ),
            "DINGSYNC_QPS_PER_API": "0",
            "DINGSYNC_WORKER_BATCH_UNITS": "2",  # many small tasks, for both children
            "TMPDIR": str(tmp_path),  # where metrics_directory() makes its directory
        }
        port = free_port()
        since = int(time.time() * 1000) - 1000
        with workers(1, env, tmp_path, [port], ("--concurrency", "2")) as (worker,):
            assert enqueue(settings, None, "full", only=["contacts"]) == [sb.app.corp_id]
            wait_until(
                lambda: done_since(engine, sb.app.corp_id, "contacts", "full", since),
                180,
                "the directory synced by the prefork worker",
            )
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
            (directory,) = tmp_path.glob("dingsync-metrics-*")
            writers = {int(p.stem.rsplit("_", 1)[1]) for p in directory.glob("counter_*.db")}
        engine.dispose()

    # The tasks ran in the children (other pids than the worker's own), which wrote the
    # counters the parent's /metrics shows.
    assert worker.tasks("succeeded")
    assert writers - {worker.proc.pid}, writers
    # Every call the company's sandbox served, counted by API, is in the parent's /metrics.
    calls = _samples(text, "dingsync_dingtalk_calls_total")
    ok = {dict(k)["api"]: int(v) for k, v in calls.items() if dict(k)["outcome"] == "ok"}
    served = sb.stats()["calls"]
    assert ok == served, (ok, served)
    units = _samples(text, "dingsync_sync_units_total")
    assert any(dict(k)["corp_id"] == sb.app.corp_id and v > 0 for k, v in units.items()), units
