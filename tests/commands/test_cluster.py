"""``dingsync enqueue`` without a usable broker or company: one ``error:`` line saying which,
never "unexpected" nor the broker's password (a RabbitMQ that does not answer was reported as
an unexpected OperationalError; no company configured printed "queued full sync of " and
exit 0)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dingsync.cli import app

runner = CliRunner()


@pytest.fixture
def no_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A directory without dingsync.toml and an environment without DINGTALK_*/DINGSYNC_*."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("DINGTALK_", "DINGSYNC_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DINGSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'q.db'}")
    return tmp_path


def test_enqueue_says_the_broker_does_not_answer(
    no_settings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DINGTALK_APP_KEY", "dingkey")
    monkeypatch.setenv("DINGTALK_APP_SECRET", "app-s3cret")
    monkeypatch.setenv("DINGSYNC_BROKER_URL", "amqp://guest:broker-s3cret@127.0.0.1:1//")
    # its own process, as the command runs: ``enqueue`` configures the process's Celery app
    # once, and a pool pointed at port 1 would stay for the worker tests later in this run
    r = subprocess.run(
        [sys.executable, "-m", "dingsync.cli", "enqueue"],
        cwd=no_settings,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = r.stdout + r.stderr
    assert r.returncode == 1, output
    first = output.splitlines()[0]
    assert first.startswith("error: cannot reach the broker amqp://guest:***@127.0.0.1:1//: "), (
        output
    )
    assert "DINGSYNC_BROKER_URL" in output
    assert "unexpected" not in output and "s3cret" not in output


def test_enqueue_without_a_company_is_a_configuration_error(no_settings: Path) -> None:
    r = runner.invoke(app, ["enqueue"])
    assert r.exit_code == 2, r.output
    assert r.output.startswith("error: no active company to queue"), r.output
    assert "DINGTALK_APP_KEY" in r.output and "queued" not in r.output
