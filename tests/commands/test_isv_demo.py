"""``dingsync demo --isv --corps N`` in-process: a sandbox suite, N companies authorised over
Stream, each synced with its own company token into SQLite, equal to its truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from dingsync.cli import app
from dingsync.sandbox.isv import IsvConfig
from dingsync.store import isv as repo_isv

runner = CliRunner()


def test_demo_isv_authorises_and_syncs_each_company(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "isv.db"
    args = ["demo", "--isv", "--corps", "2", "--users", "60", "--days", "1", "--seed", "5"]
    args += ["--qps", "0", "--latency-ms", "0", "--json", "--database-url", f"sqlite:///{db}"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    cfg = IsvConfig.with_corps(2, seed=5, base_users=30, days=1)
    assert [c["truth_users"] for c in sorted(summary["corps"], key=lambda c: c["truth_users"])] == [
        users for _, users in cfg.corps
    ]
    assert len({c["corp_id"] for c in summary["corps"]}) == 2
    for corp in summary["corps"]:
        assert corp["run_status"] == "succeeded" and corp["status"] == "authorised"
        assert corp["counts"]["active_users"] == corp["truth_users"]
        assert corp["admins"] >= 2 and corp["agent_id"]
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        stored = repo_isv.corp_rows(conn, summary["suite_key"], "authorised")
    engine.dispose()
    assert {r["corp_id"] for r in stored} == {c["corp_id"] for c in summary["corps"]}


def test_sandbox_isv_serves_the_suite(tmp_path: Path) -> None:
    """``dingsync sandbox --isv --corps 2`` in a real process: the suite and its companies."""
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "dingsync.cli", "sandbox", "--isv", "--corps", "2",
           "--users", "40", "--days", "1", "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        info = None
        while time.monotonic() < deadline and info is None:
            try:
                info = httpx.get(f"http://127.0.0.1:{port}/sandbox/isv", timeout=1).json()
            except httpx.HTTPError:
                time.sleep(0.2)
        assert info is not None, "the sandbox did not answer"
        assert len(info["corps"]) == 2
        assert {c["status"] for c in info["corps"].values()} == {"authorised"}
        assert sorted(c["users"] for c in info["corps"].values()) == [20, 30]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert f"export DINGTALK_SUITE_KEY={info['suite_key']}" in out


def test_events_stream_isv_fills_the_isv_tables(tmp_path: Path) -> None:
    """``dingsync events stream --isv`` in a real process against the sandbox suite: the
    ticket and every company's authorisation land in the database."""
    import os
    import subprocess
    import sys
    import time

    from dingsync.sandbox.isv import IsvSandboxServer

    db = tmp_path / "stream.db"
    with IsvSandboxServer(IsvConfig(seed=8, corps=[(971, 20), (972, 22)], days=1)) as sb:
        env = {**os.environ, "DINGTALK_SUITE_KEY": sb.suite_key,
               "DINGTALK_SUITE_SECRET": sb.suite_secret, "DINGTALK_OAPI_URL": sb.base_url,
               "DINGTALK_API_URL": sb.base_url, "DINGSYNC_DATABASE_URL": f"sqlite:///{db}",
               "DINGSYNC_QPS_PER_API": "0"}  # fmt: skip
        env.pop("DINGTALK_APP_KEY", None)
        cmd = [sys.executable, "-m", "dingsync.cli", "events", "stream", "--isv"]
        proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            stored: list[dict[str, object]] = []
            while time.monotonic() < deadline:
                if db.exists():
                    engine = sa.create_engine(f"sqlite:///{db}")
                    try:
                        with engine.connect() as conn:
                            stored = [r for r in repo_isv.corp_rows(conn, sb.suite_key)
                                      if r["auth_scope"] is not None]  # fmt: skip
                    except sa.exc.OperationalError:  # not migrated yet
                        stored = []
                    finally:
                        engine.dispose()
                if len(stored) == 2:
                    break
                time.sleep(0.2)
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=20)
        assert {r["corp_id"] for r in stored} == set(sb.corps), out
        for row in stored:
            company = sb.corps[str(row["corp_id"])].state.company
            assert row["corp_name"] == company.corp_name


def test_demo_isv_serves_every_company(tmp_path: Path) -> None:
    """``serve_isv_demo`` (what ``dingsync demo --isv --corps 3`` runs without --once): 3
    companies authorised, synced, in the registry, and served — each one's people log in with
    its ``corpId`` through the printed steps."""
    import socket

    import httpx

    from dingsync.commands.isv_demo import serve_isv_demo
    from dingsync.config import Settings
    from dingsync.store import db, repo_corps
    from dingsync.web.console.session import COOKIE
    from dingsync.web.server import WebServer

    url = f"sqlite:///{tmp_path / 'serve.db'}"
    engine = db.create_engine_for(url)
    db.migrate(engine)
    shown: dict[str, object] = {}
    logins: dict[str, int] = {}

    def show(summary: dict[str, object], lines: list[str]) -> None:
        shown["summary"], shown["lines"] = summary, lines

    def serve(app: object, port: int) -> None:
        summary = shown["summary"]
        assert isinstance(summary, dict)
        lines = "\n".join(shown["lines"])  # type: ignore[arg-type]
        with WebServer(app, port=port) as server, httpx.Client(base_url=server.base_url) as http:
            for corp in summary["corps"]:
                corp_id = corp["corp_id"]
                assert f"corpId {corp_id}" in lines
                assert f'"corpId": "{corp_id}"' in lines
                step = next(x for x in lines.splitlines() if f"/sandbox/corps/{corp_id}/" in x)
                sandbox_url = step.split("curl -s -X POST ")[1].split(" ")[0]
                userid = step.split('"userid": "')[1].split('"')[0]
                code = httpx.post(sandbox_url, json={"userid": userid}).json()["code"]
                r = http.post("/api/auth/dingtalk", json={"authCode": code, "corpId": corp_id})
                logins[corp_id] = r.status_code
                assert r.status_code == 200, r.text
                assert r.json()["company"]["corp_id"] == corp_id
            # the console: a company picker, then each company's one-click demo logins
            page = http.get("/console/login").text
            assert 'data-testid="login-companies"' in page
            for corp in summary["corps"]:
                corp_id = corp["corp_id"]
                assert f'data-testid="corp-{corp_id}"' in page
                own = http.get("/console/login", params={"corpId": corp_id}).text
                assert f'data-testid="demo-employee-{corp_id}"' in own
                others = [c["corp_id"] for c in summary["corps"] if c["corp_id"] != corp_id]
                assert not any(f"demo-employee-{o}" in own for o in others)
                with httpx.Client(base_url=server.base_url) as browser:
                    r = browser.get(f"/console/login/demo/employee-{corp_id}")
                    assert r.status_code == 303 and r.headers["location"] == "/console", r.text
                    token = next(v for k, v in browser.cookies.items() if k == COOKIE)
                    me = browser.get("/api/me", headers={"Authorization": f"Bearer {token}"})
                    assert me.status_code == 200 and me.json()["company"]["corp_id"] == corp_id

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    summary = serve_isv_demo(
        Settings(DINGSYNC_DATABASE_URL=url), engine, port, corps=3, users=20, days=1, seed=9,
        show=show, serve=serve,
    )  # fmt: skip
    assert len(summary["corps"]) == 3 and set(logins.values()) == {200}
    for corp in summary["corps"]:
        assert corp["run_status"] == "succeeded"
        assert corp["counts"]["active_users"] == corp["truth_users"]
    with engine.connect() as conn:
        registered = {r["corp_id"]: r for r in repo_corps.list_corps(conn)}
    engine.dispose()
    assert set(logins) == set(registered)
    assert {(r["mode"], r["status"]) for r in registered.values()} == {("isv", "active")}
