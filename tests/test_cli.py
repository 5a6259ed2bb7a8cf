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
    for key in ("departments", "multi_department_users", "memberships", "admins", "leavers"):
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
