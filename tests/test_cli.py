"""The ``dingsync`` command line, run in-process with real sandbox, client and SQLite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dingsync.cli import app
from dingsync.sandbox import SandboxConfig, SandboxServer

runner = CliRunner()

CREDENTIAL_VARS = (
    "DINGTALK_APP_KEY",
    "DINGTALK_APP_SECRET",
    "DINGTALK_CORP_ID",
    "DINGTALK_AGENT_ID",
    "DINGTALK_OAPI_URL",
    "DINGTALK_API_URL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in CREDENTIAL_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # no dingsync.toml, default database under tmp_path


def test_demo_json_summary_matches_the_sandbox(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "demo",
            "--users",
            "120",
            "--seed",
            "3",
            "--qps",
            "0",
            "--latency-ms",
            "0",
            "--jitter-ms",
            "0",
            "--json",
            "--once",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    truth = summary["sandbox_truth"]
    assert summary["status"] == "succeeded"
    for key in (
        "departments",
        "multi_department_users",
        "memberships",
        "admins",
        "leavers",
        "roles",
        "role_members",
    ):
        assert summary[key] == truth[key], key
    assert summary["active_users"] == truth["users"] == 120
    assert summary["api_calls"] == sum(summary["api_calls_by_path"].values()) > 0
    assert (tmp_path / ".dingsync" / "dingsync.db").exists()


def test_sync_without_credentials_says_how_to_set_them() -> None:
    result = runner.invoke(app, ["sync"])
    assert result.exit_code == 2
    out = result.output
    assert "DINGTALK_APP_KEY" in out and "DINGTALK_APP_SECRET" in out
    assert "dingsync demo" in out


def test_sync_and_doctor_against_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    with SandboxServer(SandboxConfig(seed=5, users=80, qps_limit=None)) as sb:
        monkeypatch.setenv("DINGTALK_APP_KEY", sb.app.app_key)
        monkeypatch.setenv("DINGTALK_APP_SECRET", sb.app.app_secret)
        monkeypatch.setenv("DINGTALK_CORP_ID", sb.app.corp_id)
        monkeypatch.setenv("DINGTALK_OAPI_URL", sb.base_url)
        monkeypatch.setenv("DINGTALK_API_URL", sb.base_url)
        doctor = runner.invoke(app, ["doctor"])
        assert doctor.exit_code == 0, doctor.output
        assert "ok" in doctor.output
        assert sb.app.app_secret not in doctor.output

        result = runner.invoke(app, ["sync", "--only", "contacts", "--json"])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["departments"] == sb.stats()["departments"]
        assert summary["active_users"] == 80

        bad = runner.invoke(app, ["sync", "--only", "nosuch"])
        assert bad.exit_code == 2
        assert "unknown entity" in bad.output


def test_doctor_reports_a_wrong_secret_without_printing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with SandboxServer(SandboxConfig(seed=5, users=20, qps_limit=None)) as sb:
        monkeypatch.setenv("DINGTALK_APP_KEY", sb.app.app_key)
        monkeypatch.setenv("DINGTALK_APP_SECRET", "wrong-secret-value-123")
        monkeypatch.setenv("DINGTALK_OAPI_URL", sb.base_url)
        monkeypatch.setenv("DINGTALK_API_URL", sb.base_url)
        result = runner.invoke(app, ["doctor"])
        assert result.exit_code == 1
        assert "failed" in result.output
        assert "wrong-secret-value-123" not in result.output


def test_parse_interval_reads_seconds_and_units() -> None:
    from dingsync.cli import parse_interval

    assert [parse_interval(t) for t in ("900", "90s", "15m", "2h", "1d", "0.5m")] == [
        900,
        90,
        900,
        7200,
        86400,
        30,
    ]
    for bad in ("", "m", "soon", "0", "-5m"):
        with pytest.raises(ValueError, match="--every"):
            parse_interval(bad)


def test_sync_every_repeats_incremental_runs_until_interrupted(tmp_path: Path) -> None:
    """``dingsync sync --incremental --every 1`` in its own process: runs again and again, each
    one recorded, and stops with 130 on SIGINT."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from sqlalchemy import create_engine, text

    db_file = tmp_path / "every.db"
    with SandboxServer(SandboxConfig(seed=5, users=60, qps_limit=None)) as sb:
        env = {
            **os.environ,
            "DINGTALK_APP_KEY": sb.app.app_key,
            "DINGTALK_APP_SECRET": sb.app.app_secret,
            "DINGTALK_CORP_ID": sb.app.corp_id,
            "DINGTALK_OAPI_URL": sb.base_url,
            "DINGTALK_API_URL": sb.base_url,
            "DINGSYNC_DATABASE_URL": f"sqlite:///{db_file}",
        }
        cmd = [sys.executable, "-m", "dingsync.cli", "sync", "--only", "contacts"]
        proc = subprocess.Popen(
            [*cmd, "--incremental", "--every", "1", "--json"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

        def finished_runs() -> int:
            if not db_file.exists():
                return 0
            eng = create_engine(f"sqlite:///{db_file}")
            try:
                with eng.connect() as conn:
                    return int(
                        conn.execute(
                            text("SELECT count(*) FROM sync_runs WHERE status = 'succeeded'")
                        ).scalar()
                        or 0
                    )
            except Exception:  # the schema is being created
                return 0
            finally:
                eng.dispose()

        try:
            deadline = time.monotonic() + 90
            while finished_runs() < 3 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.2)
            assert finished_runs() >= 3, proc.stderr.read() if proc.poll() is not None else ""
        finally:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "next incremental run in" in err
        assert out.count('"status": "succeeded"') >= 3
