"""``dingsync sync --all`` / ``--corp`` with a third-party suite configured (the environment's
``DINGTALK_SUITE_*``): the companies that authorised it are in the registry, their first sync
is full even with ``--incremental`` (their authorisation asked for it), later ones follow the
flag; a relieved company's ``sync --corp`` exits 4 and ``corps list`` shows it relieved."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from dingsync.cli import app
from dingsync.commands.isv_demo import SuiteReceiver
from dingsync.sandbox.isv import IsvConfig, IsvSandboxServer
from dingsync.store import repo_corps
from dingsync.sync.isv import IsvSettings
from helpers.contacts import assert_db_equals_company

runner = CliRunner()


def until(check: Callable[[], Any], limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not check():
        assert time.monotonic() < deadline, "not within the time limit"
        time.sleep(0.05)


def registry(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return {r["corp_id"]: r for r in repo_corps.list_corps(conn) if r["mode"] == "isv"}


def test_sync_all_runs_the_suite_companies_first_syncs_in_full(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = IsvConfig(seed=41, corps=[(931, 16), (932, 20)], days=1)
    with IsvSandboxServer(cfg) as sb:
        env = {
            "DINGSYNC_DATABASE_URL": db_url,
            "DINGTALK_SUITE_KEY": sb.suite_key,
            "DINGTALK_SUITE_SECRET": sb.suite_secret,
            "DINGTALK_OAPI_URL": sb.base_url,
            "DINGTALK_API_URL": sb.base_url,
            "DINGSYNC_QPS_PER_API": "0",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        for key in ("DINGTALK_APP_KEY", "DINGTALK_APP_SECRET", "DINGTALK_CORP_ID"):
            monkeypatch.delenv(key, raising=False)
        receiver = SuiteReceiver(IsvSettings(), engine, sb.base_url).start()
        try:
            until(lambda: [r["status"] for r in registry(engine).values()] == ["active"] * 2)
            ids = sorted(sb.corps)

            first = runner.invoke(app, ["sync", "--all", "--incremental"])
            assert first.exit_code == 0, first.output
            for corp_id in ids:
                assert f"syncing corp {corp_id} (isv, full)" in first.output
                assert_db_equals_company(engine, corp_id, sb.corps[corp_id].state.company)

            again = runner.invoke(app, ["sync", "--all", "--incremental"])
            assert again.exit_code == 0, again.output
            for corp_id in ids:
                assert f"syncing corp {corp_id} (isv, incremental)" in again.output

            gone = ids[0]
            r = httpx.post(f"{sb.base_url}/sandbox/mutate/isv/relieve", json={"corp_id": gone})
            assert r.status_code == 200, r.text
            until(lambda: registry(engine)[gone]["status"] == "relieved")
            refused = runner.invoke(app, ["sync", "--corp", gone])
            assert refused.exit_code == 4, refused.output
            listed = runner.invoke(app, ["corps", "list", "--json"])
            assert listed.exit_code == 0, listed.output
            rows = json.loads(listed.stdout)
            rows = rows["corps"] if isinstance(rows, dict) else rows
            status = {r["corp_id"]: (r["mode"], r["status"]) for r in rows}
            assert status == {gone: ("isv", "relieved"), ids[1]: ("isv", "active")}
            assert_db_equals_company(engine, gone, sb.corps[gone].state.company)  # kept
        finally:
            receiver.stop()


def test_corps_list_shows_the_companies_not_activated(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A legacy suite: two companies authorise (``tmp_auth_code``), one is activated
    (``get_permanent_code`` → ``activate_suite``), the other is not — ``corps list`` shows that
    one ``unactivated`` (``/service/get_unactive_corp``); a wrong app id is a warning."""
    import asyncio

    from dingsync.store.isv import SuiteTicketStore

    monkeypatch.chdir(tmp_path)
    cfg = IsvConfig(seed=43, corps=[(951, 12), (952, 12)], days=1, authorised=False, flow="legacy")
    with IsvSandboxServer(cfg) as sb:
        env = {
            "DINGSYNC_DATABASE_URL": db_url,
            "DINGTALK_SUITE_KEY": sb.suite_key,
            "DINGTALK_SUITE_SECRET": sb.suite_secret,
            "DINGTALK_OAPI_URL": sb.base_url,
            "DINGTALK_API_URL": sb.base_url,
            "DINGTALK_SUITE_APP_ID": str(sb.suite.suite_id),
            "DINGSYNC_QPS_PER_API": "0",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        for key in ("DINGTALK_APP_KEY", "DINGTALK_APP_SECRET", "DINGTALK_CORP_ID"):
            monkeypatch.delenv(key, raising=False)
        activated, waiting = sorted(sb.corps)
        codes = {}
        for corp_id in (activated, waiting):
            r = httpx.post(f"{sb.base_url}/sandbox/mutate/isv/authorize", json={"corp_id": corp_id})
            assert r.status_code == 200, r.text
            codes[corp_id] = sb.state.areas["events"].emitted[-1].fields["authCode"]
        ticket = httpx.get(f"{sb.base_url}/sandbox/isv").json()["suite_ticket"]
        SuiteTicketStore(engine).offer_sync(sb.suite_key, ticket, int(time.time() * 1000))
        service = IsvSettings().service(engine)

        async def activate_one() -> tuple[list[str], bool]:
            async with service.suite:
                before = await service.suite.get_unactive_corps(sb.suite.suite_id)
                assert before == ([activated, waiting], False)
                await service.activate(codes[activated])  # the legacy activation, one company
                return await service.suite.get_unactive_corps(sb.suite.suite_id)

        assert asyncio.run(activate_one()) == ([waiting], False)

        listed = runner.invoke(app, ["corps", "list", "--json"])
        assert listed.exit_code == 0, listed.output
        rows = {r["corp_id"]: r for r in json.loads(listed.stdout)}
        assert rows[waiting]["status"] == "unactivated" and rows[waiting]["mode"] == "isv"
        assert rows[activated]["status"] == "active"
        table = runner.invoke(app, ["corps", "list"])
        assert table.exit_code == 0 and "unactivated" in table.stdout

        monkeypatch.setenv("DINGTALK_SUITE_APP_ID", "1")
        wrong = runner.invoke(app, ["corps", "list", "--json"])
        assert wrong.exit_code == 0
        assert "get_unactive_corp failed" in wrong.stderr
        assert waiting not in {r["corp_id"] for r in json.loads(wrong.stdout)}
