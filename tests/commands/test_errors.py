"""Commands that read synced data refuse a database with nothing synced (issue #12, rough
edges): run from another directory, ``dingsync export …`` used to create an empty SQLite file
there and write an empty export with exit 0."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dingsync.cli import app
from dingsync.commands.errors import redact_url

runner = CliRunner()

DAYS = ["--from", "2026-11-02", "--to", "2026-11-03"]
READING_COMMANDS = [
    ["export", "reports", "--template", "日报", *DAYS, "-o", "out.xlsx"],
    ["export", "attendance", "--month", "2026-11", "-o", "out.xlsx"],
    ["export", "approvals", "--template", "报销", "-o", "out.xlsx"],
    ["reports", "compliance", "--template", "日报", *DAYS],
    ["reports", "compliance", "--template", "日报", *DAYS, "--format", "csv", "-o", "out.csv"],
    ["attendance", "summary", "--month", "2026-11"],
    ["approvals", "stats"],
    ["contacts", "summary"],
    ["events", "status"],
    ["users", "disabled"],
    ["roles", "list"],
]


@pytest.fixture(autouse=True)
def elsewhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A working directory with no database and no dingsync.toml; no corp configured."""
    monkeypatch.chdir(tmp_path)
    for var in ("DINGSYNC_DATABASE_URL", "DINGTALK_CORP_ID", "DINGTALK_APP_KEY"):
        monkeypatch.delenv(var, raising=False)


def _refusal(result: object, url: str) -> str:
    output = result.output  # type: ignore[attr-defined]
    assert result.exit_code == 2, output  # type: ignore[attr-defined]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]  # type: ignore[attr-defined]
    assert len(errors) == 1, output
    line = errors[0]
    assert "no synced organisation" in line and "DINGSYNC_DATABASE_URL" in line, line
    assert redact_url(url) in line, line
    assert "Traceback" not in output
    return line


@pytest.mark.parametrize("args", READING_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_reading_commands_refuse_a_missing_sqlite_file_without_creating_it(
    tmp_path: Path, args: list[str]
) -> None:
    from dingsync.config import default_database_url

    result = runner.invoke(app, args)
    line = _refusal(result, default_database_url())
    assert "no file" in line, line
    assert sorted(p.name for p in tmp_path.rglob("*")) == [], "nothing created, no empty export"


@pytest.mark.parametrize("args", READING_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_reading_commands_refuse_a_database_with_no_organisation(
    db_url: str, tmp_path: Path, args: list[str]
) -> None:
    assert runner.invoke(app, ["migrate", "--database-url", db_url]).exit_code == 0
    result = runner.invoke(app, [*args, "--database-url", db_url])
    _refusal(result, db_url)
    assert not (tmp_path / "out.xlsx").exists() and not (tmp_path / "out.csv").exists()
