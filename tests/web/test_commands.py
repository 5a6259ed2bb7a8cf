"""``dingsync users disable|enable|disabled`` and ``dingsync roles grant|revoke|list``."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dingsync.cli import app
from dingsync.store import db, repo_web


def test_users_and_roles_commands(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DINGSYNC_DATABASE_URL", db_url)
    monkeypatch.setenv("DINGTALK_CORP_ID", "corp-cli")
    runner = CliRunner()

    r = runner.invoke(app, ["users", "disable", "u-42"])
    assert r.exit_code == 0, r.output
    assert "u-42: disabled" in r.output
    assert runner.invoke(app, ["users", "disabled"]).output.split() == ["u-42"]
    engine = db.create_engine_for(db_url)
    try:
        with engine.connect() as conn:
            assert repo_web.is_local_disabled(conn, "corp-cli", "u-42")
        assert runner.invoke(app, ["users", "enable", "u-42"]).exit_code == 0
        with engine.connect() as conn:
            assert not repo_web.is_local_disabled(conn, "corp-cli", "u-42")

        assert runner.invoke(app, ["roles", "grant", "u-7", "hr"]).exit_code == 0
        bad = runner.invoke(app, ["roles", "grant", "u-7", "root"])
        assert bad.exit_code == 2 and "unknown role" in bad.output
        with engine.connect() as conn:
            assert repo_web.user_roles(conn, "corp-cli", "u-7") == ["hr"]
        listed = runner.invoke(app, ["roles", "list"], env={"COLUMNS": "200"}).output
        assert "u-7" in listed and "hr" in listed
        assert "revoked hr" in runner.invoke(app, ["roles", "revoke", "u-7", "hr"]).output
        with engine.connect() as conn:
            assert repo_web.user_roles(conn, "corp-cli", "u-7") == []
    finally:
        engine.dispose()


def test_serve_and_demo_are_registered() -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "--port" in r.output and "--host" in r.output
    demo = runner.invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})
    assert "--once" in demo.output and "web API" in demo.output
