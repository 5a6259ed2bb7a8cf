"""Redis as the broker instead of RabbitMQ (``DINGSYNC_BROKER_URL=redis://…``): a worker takes
the directory sync of a company from it and the database ends equal to the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from dingsync.config import AppConfig
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import db
from dingsync.workers.tasks import done_since
from helpers.cluster import DINGSYNC, redis_url, require_redis, wait_until, workers
from helpers.contacts import assert_db_equals_company
from helpers.postgres import postgres_schema


def _broker() -> str:
    """The tests' Redis server, the database after the tests' own (0–15 wrap around)."""
    base, _, number = redis_url().rpartition("/")
    return f"{base}/{(int(number or 0) + 1) % 16}"


def test_a_worker_on_a_redis_broker_syncs_a_company(tmp_path: Path) -> None:
    require_redis()
    import redis

    broker = _broker()
    redis.Redis.from_url(broker).flushdb()
    with (
        SandboxServer(SandboxConfig(seed=77, users=40, days=1, corp_id="dingredisbroker")) as sb,
        postgres_schema() as url,
    ):
        company = AppConfig(
            corp_id=sb.app.corp_id,
            app_key=sb.app.app_key,
            app_secret=sb.app.app_secret,  # type: ignore[arg-type]
            oapi_url=sb.base_url,
            api_url=sb.base_url,
        )
        engine = db.create_engine_for(url)
        db.migrate(engine)
        env = {
            "DINGSYNC_BROKER_URL": broker,
            "DINGSYNC_DATABASE_URL": url,
            "DINGSYNC_APPS": json.dumps(
                [{**company.model_dump(exclude_none=True), "app_secret": sb.app.app_secret}]
            ),
        }
        child_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "DINGSYNC_"))},
            **env,
        }
        since = int(time.time() * 1000) - 1000
        with workers(1, env, tmp_path) as (worker,):
            # A fresh process queues it, as an operator would (`dingsync enqueue`).
            queued = subprocess.run(
                [str(DINGSYNC), "enqueue", "--only", "contacts"],
                env=child_env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert queued.returncode == 0, queued.stderr
            assert sb.app.corp_id in queued.stdout
            wait_until(
                lambda: done_since(engine, sb.app.corp_id, "contacts", "full", since),
                120,
                "the directory synced through the Redis broker",
            )
        assert_db_equals_company(engine, sb.app.corp_id, sb.state.company)
        assert worker.tasks("received")  # the task came through the Redis broker
        engine.dispose()
