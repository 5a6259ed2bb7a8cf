"""``dingsync corps list|show|purge``, ``dingsync sync --corp/--all`` and ``dingsync doctor
--corp``: two internal apps in ``dingsync.toml``, each a sandbox company of its own (different
seeds, sizes and corp ids) over real loopback HTTP, one database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from dingsync.cli import app
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import repo_corps

runner = CliRunner()


@pytest.fixture(scope="module")
def companies() -> Iterator[tuple[SandboxServer, SandboxServer]]:
    with (
        SandboxServer(SandboxConfig(seed=41, users=30, days=3, qps_limit=None)) as a,
        SandboxServer(SandboxConfig(seed=42, users=18, days=3, qps_limit=None)) as b,
    ):
        yield a, b


def _toml(a: SandboxServer, b: SandboxServer, *, b_status: str = "active") -> str:
    def app_entry(sb: SandboxServer, extra: str = "") -> str:
        return (
            "[[apps]]\n"
            f'app_key = "{sb.app.app_key}"\n'
            f'app_secret = "{sb.app.app_secret}"\n'
            f'corp_id = "{sb.app.corp_id}"\n'
            f"agent_id = {sb.app.agent_id}\n"
            f'oapi_url = "{sb.base_url}"\n'
            f'api_url = "{sb.base_url}"\n'
            f'login_url = "{sb.base_url}"\n' + extra
        )

    return (
        "qps_per_api = 0\n"
        + app_entry(a, 'name = "Company A"\n')
        + app_entry(b, f'timezone = "Europe/Berlin"\nstatus = "{b_status}"\n')
    )


@pytest.fixture
def deployment(
    companies: tuple[SandboxServer, SandboxServer],
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[SandboxServer, SandboxServer, str]]:
    for var in ("DINGTALK_APP_KEY", "DINGTALK_APP_SECRET", "DINGTALK_CORP_ID"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DINGSYNC_DATABASE_URL", db_url)
    a, b = companies
    (tmp_path / "dingsync.toml").write_text(_toml(a, b), encoding="utf-8")
    yield a, b, db_url


def _json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _counts(url: str, corp: str) -> dict[str, Any]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return repo_corps.row_counts(conn, corp)
    finally:
        engine.dispose()


def test_list_sync_show_stop_and_purge(
    deployment: tuple[SandboxServer, SandboxServer, str], tmp_path: Path
) -> None:
    a, b, url = deployment
    listed = {c["corp_id"]: c for c in _json(runner.invoke(app, ["corps", "list", "--json"]))}
    assert set(listed) == {a.app.corp_id, b.app.corp_id}
    assert listed[a.app.corp_id]["name"] == "Company A"
    assert listed[b.app.corp_id]["timezone"] == "Europe/Berlin"
    assert all(c["mode"] == "internal" and c["status"] == "active" for c in listed.values())
    assert all(c["configured"] and c["users"] == 0 for c in listed.values())

    one = runner.invoke(app, ["sync", "--corp", a.app.corp_id, "--only", "contacts", "--json"])
    summary = json.loads(one.stdout[one.stdout.index("{") :])
    assert one.exit_code == 0, one.output
    assert summary["corp_id"] == a.app.corp_id and summary["active_users"] == 30
    assert _counts(url, b.app.corp_id).get("users", 0) == 0

    every = runner.invoke(app, ["sync", "--all", "--only", "contacts"])
    assert every.exit_code == 0, every.output
    listed = {c["corp_id"]: c for c in _json(runner.invoke(app, ["corps", "list", "--json"]))}
    assert listed[a.app.corp_id]["users"] == len(a.company.users)
    assert listed[b.app.corp_id]["users"] == len(b.company.users)
    assert listed[b.app.corp_id]["last_sync"]["status"] == "succeeded"

    assert runner.invoke(app, ["sync", "--corp", "dingnosuch"]).exit_code == 2
    assert runner.invoke(app, ["sync", "--corp", a.app.corp_id, "--all"]).exit_code == 2

    # B stopped in the configuration: its sync refuses, --all skips it, its data stays.
    (tmp_path / "dingsync.toml").write_text(_toml(a, b, b_status="stopped"), encoding="utf-8")
    b_before = _counts(url, b.app.corp_id)
    stopped = runner.invoke(app, ["sync", "--corp", b.app.corp_id, "--only", "contacts"])
    assert stopped.exit_code == 4 and "stopped" in stopped.output
    every = runner.invoke(app, ["sync", "--all", "--only", "contacts"])
    assert every.exit_code == 0, every.output
    assert f"corp {b.app.corp_id} is stopped" in every.output
    assert _counts(url, b.app.corp_id) == b_before
    shown = _json(runner.invoke(app, ["corps", "show", b.app.corp_id, "--json"]))
    assert shown["status"] == "stopped" and shown["rows"]["users"] == len(b.company.users)
    assert runner.invoke(app, ["corps", "show", "dingnosuch"]).exit_code == 2

    # Purge B: asks first; --yes deletes B's rows from every table and nothing of A's.
    a_before = _counts(url, a.app.corp_id)
    declined = runner.invoke(app, ["corps", "purge", b.app.corp_id], input="n\n")
    assert declined.exit_code == 1 and _counts(url, b.app.corp_id) == b_before
    purged = runner.invoke(app, ["corps", "purge", b.app.corp_id], input="y\n")
    assert purged.exit_code == 0, purged.output
    deleted = json.loads(purged.stdout[purged.stdout.index("{") :])["deleted"]
    assert deleted["users"] == len(b.company.users) and deleted["corps"] == 1
    assert deleted["sync_runs"] == 1 and "sync_checkpoints" in deleted
    assert _counts(url, b.app.corp_id) == {}
    assert _counts(url, a.app.corp_id) == a_before
    assert runner.invoke(app, ["corps", "purge", b.app.corp_id, "--yes"]).exit_code == 2
    # The configuration registers B again (empty, stopped) on the next command.
    listed = {c["corp_id"]: c for c in _json(runner.invoke(app, ["corps", "list", "--json"]))}
    assert listed[b.app.corp_id]["status"] == "stopped" and listed[b.app.corp_id]["users"] == 0


def test_doctor_probes_each_area_and_names_a_missing_permission(
    deployment: tuple[SandboxServer, SandboxServer, str],
) -> None:
    a, b, _url = deployment
    report = _json(runner.invoke(app, ["doctor", "--corp", a.app.corp_id, "--json"]))
    assert report["corp_id"] == a.app.corp_id
    probes = report["probes"]
    assert {p["area"] for p in probes} == {"contacts", "reports", "attendance", "approvals"}
    assert all(p["status"] == "ok" for p in probes), probes

    denied = ["qyapi_report_query", "Workflow.Instance.Read", "qyapi_get_department_member"]
    b.configure(denied_permissions=denied)
    try:
        result = runner.invoke(app, ["doctor", "--corp", b.app.corp_id, "--json"])
        assert result.exit_code == 1, result.output
        probes = json.loads(result.stdout)["probes"]
        missing = {p["permission"] for p in probes if p["status"] == "missing"}
        assert missing == set(denied)
        assert all(p["status"] == "ok" for p in probes if p["permission"] not in denied)
        table = runner.invoke(app, ["doctor", "--corp", b.app.corp_id])
        assert table.exit_code == 1
        assert "grant qyapi_report_query" in table.output.replace("\n", " ") or (
            "qyapi_report_query" in table.output and "missing" in table.output
        )
        assert b.app.app_secret not in table.output
    finally:
        b.configure(denied_permissions=[])
    assert runner.invoke(app, ["doctor", "--corp", "dingnosuch"]).exit_code == 2
