"""``dingsync events replay`` / ``status`` against the sandbox: a failed inbox row and one from
DingTalk's failed-push list are processed, the secret never printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dingsync.cli import app
from dingsync.dingtalk.models.events import event_from_http
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import db, repo, repo_events

runner = CliRunner()


def test_replay_and_status(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    with SandboxServer(SandboxConfig(seed=9, users=50, qps_limit=None)) as sb:
        for key, value in {
            "DINGTALK_APP_KEY": sb.app.app_key,
            "DINGTALK_APP_SECRET": sb.app.app_secret,
            "DINGTALK_CORP_ID": sb.app.corp_id,
            "DINGTALK_OAPI_URL": sb.base_url,
            "DINGTALK_API_URL": sb.base_url,
            "DINGSYNC_DATABASE_URL": sqlite_url,
        }.items():
            monkeypatch.setenv(key, value)
        engine = db.create_engine_for(sqlite_url)
        db.migrate(engine)
        userid = sorted(sb.company.users)[0]
        ev = event_from_http(
            {"EventType": "user_modify_org", "UserId": [userid], "TimeStamp": "1700000000000"}
        )
        with engine.begin() as conn:
            row_id = repo_events.insert_event(
                conn,
                corp_id=sb.app.corp_id,
                event_id=ev.event_id,
                event_type=ev.event_type,
                source="http",
                payload=ev.to_json(),
            )
            assert row_id is not None
            repo_events.finish_event(conn, row_id, "failed", "boom")
        failed = runner.invoke(app, ["events", "status"])
        assert failed.exit_code == 0, failed.output
        assert "boom" in failed.output
        result = runner.invoke(app, ["events", "replay", "--json"])
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert out["results"] == {"processed": 1}
        assert out["inbox"] == {"processed": 1}
        assert sb.app.app_secret not in result.output
        with engine.connect() as conn:
            row = repo_events.get_event(conn, row_id)
        assert row is not None and row["attempts"] == 1 and row["last_error"] is None
        engine.dispose()


def test_status_without_credentials_reads_the_only_corp(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    for var in ("DINGTALK_APP_KEY", "DINGTALK_APP_SECRET", "DINGTALK_CORP_ID"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DINGSYNC_DATABASE_URL", sqlite_url)
    engine = db.create_engine_for(sqlite_url)
    db.migrate(engine)
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": "dingonlycorp"})
        row_id = repo_events.insert_event(
            conn,
            corp_id="dingonlycorp",
            event_id="e-1",
            event_type="user_add_org",
            source="http",
            payload={"EventType": "user_add_org", "UserId": ["u1"]},
        )
        assert row_id is not None
    result = runner.invoke(app, ["events", "status", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["corp_id"] == "dingonlycorp" and out["inbox"] == {"pending": 1}
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": "dinganother"})
    two = runner.invoke(app, ["events", "status"])
    assert two.exit_code == 2 and "DINGTALK_CORP_ID" in two.output
    engine.dispose()


def test_stream_log_lines_leave_out_the_migrations(tmp_path: Path) -> None:
    """``events stream`` logs at INFO on stderr; the schema migration it runs first is not part
    of that log (alembic's "Context impl SQLiteImpl." and one "Running upgrade" line per
    revision came before its own lines and its errors)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "DINGSYNC_"))}
    done = subprocess.run(
        [sys.executable, "-m", "dingsync.cli", "events", "stream", "--corp", "nope"],
        env={
            **env,
            "DINGTALK_APP_KEY": "dingkey",
            "DINGTALK_APP_SECRET": "s3cret",
            "DINGSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'e.db'}",
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: unknown corp 'nope'"), done.stderr
