"""``dingsync users disable|enable|disabled`` and ``dingsync roles grant|revoke|list``: they act
on the organisation of the database (DINGTALK_CORP_ID only needed when it holds several), never
invent users (a user not synced yet can only be *disabled* in advance, as documented), and warn
before locking out DingTalk's main administrator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from dingsync.cli import app
from dingsync.store import db, repo, repo_local_access
from dingsync.store.schema import users
from dingsync.store.schema_web import web_export_audit

CORP = "ding-corp-cli"


def _flat(output: str) -> str:
    return " ".join(output.split())


@pytest.fixture
def cli_db(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A database holding one organisation (two people, one of them its main administrator),
    the environment without DINGTALK_CORP_ID."""
    monkeypatch.chdir(tmp_path)  # no dingsync.toml around
    monkeypatch.setenv("DINGSYNC_DATABASE_URL", db_url)
    monkeypatch.delenv("DINGTALK_CORP_ID", raising=False)
    engine = db.create_engine_for(db_url)
    db.migrate(engine)
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": CORP, "name": "测试公司"})
        repo.upsert_users(
            conn,
            CORP,
            [
                {"userid": "u-1", "name": "张三", "status": "active"},
                {"userid": "boss-1", "name": "李四", "status": "active"},
            ],
        )
        repo.replace_admins(conn, CORP, [{"userid": "boss-1", "sys_level": 1}], {})
    engine.dispose()
    return db_url


def _user_rows(db_url: str) -> list[tuple[str, str, bool]]:
    engine = db.create_engine_for(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(users.c.corp_id, users.c.userid, users.c.local_disabled).order_by(
                    users.c.corp_id, users.c.userid
                )
            ).all()
    finally:
        engine.dispose()
    return [(r[0], r[1], bool(r[2])) for r in rows]


def test_users_commands_act_on_the_only_organisation(cli_db: str) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["users", "disable", "u-1"])
    assert r.exit_code == 0, r.output
    assert f"u-1: disabled in {CORP}" in _flat(r.output)
    assert runner.invoke(app, ["users", "disabled"]).output.split() == ["u-1"]
    # Nothing was created under another corp ("default", the app key …).
    assert _user_rows(cli_db) == [(CORP, "boss-1", False), (CORP, "u-1", True)]
    r = runner.invoke(app, ["users", "enable", "u-1"])
    assert r.exit_code == 0 and f"u-1: enabled in {CORP}" in _flat(r.output)
    assert runner.invoke(app, ["users", "disabled"]).output.split() == []

    # A user not synced yet may be disabled in advance (docs/web.md), in the right corp …
    r = runner.invoke(app, ["users", "disable", "newbie"])
    assert r.exit_code == 0 and "not synced yet" in _flat(r.output)
    assert (CORP, "newbie", True) in _user_rows(cli_db)
    # … but enabling an unknown user is an error and creates nothing.
    r = runner.invoke(app, ["users", "enable", "nobody"])
    assert r.exit_code == 1 and "no user 'nobody'" in _flat(r.output)
    assert "nobody" not in {u for _c, u, _d in _user_rows(cli_db)}
    # The pre-emptive row is not a synced user: no role for it (README) — but it can be enabled.
    r = runner.invoke(app, ["roles", "grant", "newbie", "hr"])
    assert r.exit_code == 1 and "no user 'newbie'" in _flat(r.output)
    r = runner.invoke(app, ["users", "enable", "newbie"])
    assert r.exit_code == 0 and f"newbie: enabled in {CORP}" in _flat(r.output)


def test_roles_commands_refuse_unknown_users_and_roles(cli_db: str) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["roles", "grant", "ghost", "hr"])
    assert r.exit_code == 1 and "no user 'ghost'" in _flat(r.output)
    bad = runner.invoke(app, ["roles", "grant", "u-1", "root"])
    assert bad.exit_code == 2 and "unknown role" in bad.output
    r = runner.invoke(app, ["roles", "grant", "u-1", "hr"])
    assert r.exit_code == 0 and f"granted hr in {CORP}" in _flat(r.output)
    engine = db.create_engine_for(cli_db)
    try:
        with engine.connect() as conn:
            assert repo_local_access.user_roles(conn, CORP, "u-1") == ["hr"]
            assert repo_local_access.list_roles(conn, CORP)[0]["granted_by"] == "cli"
        listed = runner.invoke(app, ["roles", "list"], env={"COLUMNS": "200"}).output
        assert "u-1" in listed and "hr" in listed
        # Granted at: local time to the second, as `corps list` shows it (not raw UTC with
        # microseconds and +00:00).
        granted = repo_local_access_granted_at(engine)
        assert granted.astimezone().strftime("%Y-%m-%d %H:%M:%S") in listed
        assert "+00:00" not in listed and str(granted) not in listed
        assert "revoked hr" in runner.invoke(app, ["roles", "revoke", "u-1", "hr"]).output
        with engine.connect() as conn:
            assert repo_local_access.user_roles(conn, CORP, "u-1") == []
    finally:
        engine.dispose()
    assert [u for _c, u, _d in _user_rows(cli_db)] == ["boss-1", "u-1"]


def test_disabling_the_main_administrator_warns(cli_db: str) -> None:
    r = CliRunner().invoke(app, ["users", "disable", "boss-1"])
    assert r.exit_code == 0, r.output
    out = _flat(r.output)
    assert "warning" in out and "main administrator" in out and "users enable boss-1" in out
    assert (CORP, "boss-1", True) in _user_rows(cli_db)


def test_several_or_no_organisations_need_dingtalk_corp_id(
    cli_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = db.create_engine_for(cli_db)
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": "ding-other", "name": "另一家"})
        repo.upsert_users(conn, "ding-other", [{"userid": "u-1", "status": "active"}])
    engine.dispose()
    runner = CliRunner()
    for args in (["users", "disable", "u-1"], ["users", "disabled"], ["roles", "list"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        assert "DINGTALK_CORP_ID" in r.output and "ding-other" in _flat(r.output)
    assert not any(d for _c, _u, d in _user_rows(cli_db))
    monkeypatch.setenv("DINGTALK_CORP_ID", "ding-other")
    r = runner.invoke(app, ["users", "disable", "u-1"])
    assert r.exit_code == 0 and "u-1: disabled in ding-other" in _flat(r.output)
    assert ("ding-other", "u-1", True) in _user_rows(cli_db)
    assert (CORP, "u-1", False) in _user_rows(cli_db)

    monkeypatch.delenv("DINGTALK_CORP_ID")
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    r = runner.invoke(app, ["users", "disable", "u-1", "--database-url", empty])
    assert r.exit_code == 2 and "DINGTALK_CORP_ID" in r.output
    assert "no organisation" in _flat(r.output)


def test_serve_and_demo_are_registered() -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "--port" in r.output and "--host" in r.output
    demo = runner.invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})
    assert "--once" in demo.output and "web API" in demo.output


def test_help_shows_docstrings_as_text() -> None:
    """Help is rendered as Markdown: ``[[apps]]`` stays (rich markup would eat it), no
    literal double backticks, and a docstring's paragraph is reflowed (no line broken in the
    middle of a sentence)."""
    runner = CliRunner()
    for args in (["--help"], ["sync", "--help"], ["events", "stream", "--help"]):
        r = runner.invoke(app, args, env={"COLUMNS": "200"})
        assert r.exit_code == 0, r.output
        assert "[[apps]]" in r.output and "[]" not in r.output.replace("[[apps]]", "")
        assert "``" not in r.output
    doctor = runner.invoke(app, ["doctor", "--help"], env={"COLUMNS": "200"})
    assert "exit 2 when credentials are missing" in _flat(doctor.output)
    assert "token; exit 2\n" not in doctor.output


def repo_local_access_granted_at(engine: Any) -> Any:
    """The (only) role grant's stored time, as a timezone-aware datetime."""
    from datetime import UTC

    with engine.connect() as conn:
        at = repo_local_access.list_roles(conn, CORP)[0]["granted_at"]
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


#: Every local command that acts on one organisation, with what it needs besides the corp.
ONE_CORP_COMMANDS = (
    ["users", "disabled"],
    ["users", "disable", "u-1"],
    ["roles", "list"],
    ["roles", "grant", "u-1", "hr"],
    ["contacts", "summary"],
    ["reports", "compliance", "--template", "日报", "--from", "2026-12-01", "--to", "2026-12-07"],
    ["attendance", "summary", "--month", "2026-12"],
    ["approvals", "stats"],
    ["events", "status"],
    ["export", "reports", "--template", "日报", "--from", "2026-12-01", "--to", "2026-12-07"],
    ["export", "attendance", "--month", "2026-12"],
    ["export", "approvals", "--template", "报销", "--from", "2026-12-01", "--to", "2026-12-07"],
)


@pytest.mark.parametrize("args", ONE_CORP_COMMANDS, ids=" ".join)
def test_a_corp_the_database_does_not_hold_is_refused(
    cli_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str]
) -> None:
    """``DINGTALK_CORP_ID`` (or ``--corp-id``) naming an organisation the database does not
    hold — a typo, another deployment's — is exit 2 naming it and the ones held; it read as
    an empty organisation (zero counts, an empty export with its audit row, exit 0) and
    ``users disable`` disabled someone in a company that is not there."""
    out = tmp_path / "out.csv"
    full = [*args, "-o", str(out)] if args[0] == "export" else args
    monkeypatch.setenv("DINGTALK_CORP_ID", "ding-typo")
    runner = CliRunner()
    r = runner.invoke(app, full)
    assert r.exit_code == 2, (full, r.output)
    flat = _flat(r.output)
    assert f"holds no organisation 'ding-typo' (it holds {CORP})" in flat, flat
    assert "DINGTALK_CORP_ID" in flat
    assert not out.exists()
    assert all(corp == CORP for corp, _u, _d in _user_rows(cli_db))
    engine = db.create_engine_for(cli_db)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(web_export_audit)).scalar() == 0
    engine.dispose()
    if "--corp-id" in runner.invoke(app, [*args[:2], "--help"]).output:
        monkeypatch.delenv("DINGTALK_CORP_ID")
        r = runner.invoke(app, [*full, "--corp-id", "ding-typo"])
        assert r.exit_code == 2, (full, r.output)
        assert "holds no organisation 'ding-typo'" in _flat(r.output)
