"""Piped output is not cut to 80 columns (issue #12, rough edges: "姓…", "Us…")."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.table import Table
from typer.testing import CliRunner

from dingsync.cli import app
from dingsync.commands.consoles import FullWidthConsole
from dingsync.store import db, repo, repo_local_access

runner = CliRunner()
CORP = "ding-corp-wide"
LONG_USERID = "manager-" + "0123456789" * 5 + "abcdef"  # 64 characters, DingTalk's longest
LONG_NAME = "欧阳" * 16  # 64 cells wide


@pytest.fixture
def wide_db(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """One organisation with a person whose userid (64 characters) was granted ``hr`` by someone
    with a 64-cell name: a roles table far wider than 80 columns; no COLUMNS in the
    environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DINGSYNC_DATABASE_URL", db_url)
    for var in ("DINGTALK_CORP_ID", "COLUMNS"):
        monkeypatch.delenv(var, raising=False)
    engine = db.create_engine_for(db_url)
    db.migrate(engine)
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": CORP, "name": "宽公司"})
        repo.upsert_users(
            conn, CORP, [{"userid": LONG_USERID, "name": LONG_NAME, "status": "active"}]
        )
        repo_local_access.grant_role(conn, CORP, LONG_USERID, "hr", granted_by=LONG_NAME)
    engine.dispose()
    return db_url


def test_piped_tables_print_full_width(wide_db: str) -> None:
    listed = runner.invoke(app, ["roles", "list"])
    assert listed.exit_code == 0, listed.output
    row = [line for line in listed.stdout.splitlines() if LONG_USERID in line]
    assert len(row) == 1 and LONG_NAME in row[0], listed.stdout  # one row, nothing cut
    assert "…" not in listed.stdout
    assert max(len(line) for line in listed.stdout.splitlines()) > 80


def test_full_width_console_keeps_an_explicit_width_and_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = Table("姓名", "UserID")
    table.add_row(LONG_NAME, LONG_USERID)
    out = io.StringIO()
    FullWidthConsole(file=out).print(table)
    assert LONG_NAME in out.getvalue() and "…" not in out.getvalue()
    narrow = io.StringIO()
    FullWidthConsole(file=narrow, width=60).print(table)
    assert max(len(line) for line in narrow.getvalue().splitlines()) <= 60
    monkeypatch.setenv("COLUMNS", "70")
    assert FullWidthConsole(file=io.StringIO()).width == 70
