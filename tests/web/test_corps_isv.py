"""Third-party (ISV) companies through the ``corps`` registry and the web service, over loopback
HTTP: a sandbox suite with 5 companies pushes its ticket and authorisations over Stream; each
company is registered (``mode='isv'``, name, agent id, default timezone), its first full sync
requested, synced with ``SuiteClient.corp_client`` (token and limiter per suite and company)
equal to its truth, and its people log in with its ``corpId``. One relieved → logins and
sessions refused (``corp.inactive``), its sync refused, its data kept; one re-authorised with a
smaller scope → active again, a full sync requested, the next sync follows the scope; the app
stopped → ``stopped``, restored → ``active``. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from dingsync.commands.demo_console import pick_people
from dingsync.commands.isv_demo import SuiteReceiver
from dingsync.corps import build_corp_client, resolve
from dingsync.sandbox.isv import IsvConfig, IsvSandboxServer
from dingsync.store import repo_corps
from dingsync.store.schema import token_cache, users
from dingsync.sync.isv import IsvSettings, pending_first_syncs
from dingsync.sync.lease import CorpNotActive
from dingsync.sync.runner import sync_once
from dingsync.web import create_app
from dingsync.web.options import WebOptions
from dingsync.web.server import WebServer
from helpers.contacts import assert_db_equals_company
from helpers.web import _error


def isv_settings(sb: IsvSandboxServer, url: str) -> IsvSettings:
    return IsvSettings(
        DINGSYNC_DATABASE_URL=url,
        DINGTALK_SUITE_KEY=sb.suite_key,
        DINGTALK_SUITE_SECRET=sb.suite_secret,
        DINGTALK_OAPI_URL=sb.base_url,
        DINGTALK_API_URL=sb.base_url,
        DINGTALK_LOGIN_URL=sb.base_url,
        DINGSYNC_QPS_PER_API=0,
    )


def until(check: Callable[[], Any], limit: float = 30.0) -> Any:
    deadline = time.monotonic() + limit
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"not within {limit}s (last: {last!r})")


def registry(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return {r["corp_id"]: r for r in repo_corps.list_corps(conn) if r["mode"] == "isv"}


def mutate(sb: IsvSandboxServer, kind: str, **body: Any) -> None:
    r = httpx.post(f"{sb.base_url}/sandbox/mutate/isv/{kind}", json=body)
    assert r.status_code == 200, r.text


def sync(engine: Engine, settings: IsvSettings, corp_id: str) -> Any:
    corp = resolve(engine, settings, corp_id, active=False)
    client = build_corp_client(corp, engine)
    return asyncio.run(sync_once(corp.settings, engine=engine, client=client, resume=False))


@pytest.fixture
def suite() -> Iterator[IsvSandboxServer]:
    cfg = IsvConfig(seed=31, corps=[(911, 18), (912, 26), (913, 30), (914, 16), (915, 22)], days=1)
    with IsvSandboxServer(cfg) as sb:
        yield sb


def test_five_isv_companies_registered_synced_served_relieved_and_rescoped(
    engine: Engine, suite: IsvSandboxServer, db_url: str
) -> None:
    sb = suite
    settings = isv_settings(sb, db_url)
    ids = sorted(sb.corps)
    receiver = SuiteReceiver(settings, engine, sb.base_url).start()
    try:
        # the ticket, then five org_suite_auth: five companies in the registry
        until(lambda: len([r for r in registry(engine).values() if r["status"] == "active"]) == 5)
        found = registry(engine)
        assert sorted(found) == ids
        for corp_id, corp in sb.corps.items():
            row = found[corp_id]
            assert row["name"] == corp.state.company.corp_name
            assert row["agent_id"] == str(corp.agent_id)
            assert row["app_key"] == sb.suite_key
            assert row["timezone"] is None  # the deployment's default
        # the authorisations asked for a first full sync of each
        assert pending_first_syncs(engine, settings) == set(ids)
        assert pending_first_syncs(engine, settings) == set(ids)  # due until a sync succeeds

        # each syncs through the registry's client: SuiteClient.corp_client, keyed per company
        for corp_id in ids:
            corp = resolve(engine, settings, corp_id)
            assert corp.mode == "isv" and corp.settings.corp_id == corp_id
            client = build_corp_client(corp, engine)
            assert client.token_key == f"isv:{sb.suite_key}:corp:{corp_id}"
            assert client.limiter.scope == f"{sb.suite_key}@{corp_id}"
            asyncio.run(client.aclose())
            result = sync(engine, settings, corp_id)
            assert result.status == "succeeded", result
            assert_db_equals_company(engine, corp_id, sb.corps[corp_id].state.company)
        assert pending_first_syncs(engine, settings) == set()  # settled by the full syncs

        app = create_app(settings, engine=engine, options=WebOptions())
        with WebServer(app) as server, httpx.Client(base_url=server.base_url, timeout=60) as http:
            # /healthz counts and lists the companies (no default one here, no secrets)
            health = http.get("/healthz").json()
            assert health == {"ok": True, "corp_id": None, "companies": 5, "corps": ids}
            assert sb.suite_secret not in json.dumps(health)

            def login(corp_id: str, userid: str) -> httpx.Response:
                r = httpx.post(
                    f"{sb.base_url}/sandbox/corps/{corp_id}/authcode",
                    json={"userid": userid},
                )
                r.raise_for_status()
                return http.post(
                    "/api/auth/dingtalk",
                    json={
                        "authCode": r.json()["code"],
                        "corpId": corp_id,
                        "url": "https://h5.example.com/app",
                    },
                )

            tokens: dict[str, str] = {}
            for corp_id in ids:
                userid = pick_people(sb.corps[corp_id].state.company)["employee"]
                r = login(corp_id, userid)
                assert r.status_code == 200, r.text
                body = r.json()
                assert body["userid"] == userid
                assert body["company"]["corp_id"] == corp_id
                assert body["jsapi"]["corpId"] == corp_id
                assert str(body["jsapi"]["agentId"]) == str(sb.corps[corp_id].agent_id)
                tokens[corp_id] = body["session"]["token"]
                auth = {"Authorization": f"Bearer {tokens[corp_id]}"}
                me = http.get("/api/me", headers=auth)
                assert me.status_code == 200 and me.json()["userid"] == userid
                cfg = http.get(
                    "/api/jsapi/config", params={"url": "https://h5.example.com/x"}, headers=auth
                )
                assert cfg.status_code == 200 and cfg.json()["corpId"] == corp_id
            # each company's token and JSAPI ticket in the shared cache under its own key
            with engine.connect() as conn:
                keys = set(conn.execute(select(token_cache.c.cache_key)).scalars())
            for corp_id in ids:
                key = f"isv:{sb.suite_key}:corp:{corp_id}"
                assert {key, f"{key}:jsapi_ticket"} <= keys
            # a code of one company does not log into another
            other = pick_people(sb.corps[ids[0]].state.company)["employee"]
            code = httpx.post(
                f"{sb.base_url}/sandbox/corps/{ids[0]}/sandbox/authcode", json={"userid": other}
            ).json()["code"]
            r = http.post("/api/auth/dingtalk", json={"authCode": code, "corpId": ids[1]})
            assert _error(r)[0] == 401

            # one company relieves the suite: relieved, logins and sessions refused, sync
            # refused, data kept
            gone = ids[0]
            with engine.connect() as conn:
                before = repo_corps.row_counts(conn, gone)
            mutate(sb, "relieve", corp_id=gone)
            until(lambda: registry(engine)[gone]["status"] == "relieved")
            userid = pick_people(sb.corps[gone].state.company)["employee"]
            assert _error(login(gone, userid)) == (403, "corp.inactive")
            me = http.get("/api/me", headers={"Authorization": f"Bearer {tokens[gone]}"})
            assert _error(me) == (403, "corp.inactive")
            with pytest.raises(CorpNotActive):
                sync(engine, settings, gone)
            with engine.connect() as conn:
                after = repo_corps.row_counts(conn, gone)
            assert {t: n for t, n in after.items() if t != "web_sessions"} == {
                t: n for t, n in before.items() if t != "web_sessions"
            }
            assert_db_equals_company(engine, gone, sb.corps[gone].state.company)
            # the others are untouched
            still = http.get("/api/me", headers={"Authorization": f"Bearer {tokens[ids[1]]}"})
            assert still.status_code == 200

            # another re-authorises with a smaller contacts scope: active, a full sync asked
            # for, and that sync reads the scope only
            smaller = ids[2]
            corp = sb.corps[smaller]
            company = corp.state.company
            dept = max(
                (d for d in company.departments.values() if d.parent_id == 1),
                key=lambda d: len(corp.state.subtrees([d.dept_id])),
            ).dept_id
            mutate(sb, "relieve", corp_id=smaller)
            until(lambda: registry(engine)[smaller]["status"] == "relieved")
            mutate(sb, "authorize", corp_id=smaller, scope_dept_ids=[dept])
            until(lambda: registry(engine)[smaller]["status"] == "active")
            until(lambda: pending_first_syncs(engine, settings) == {smaller}, limit=10)
            started = datetime.now(UTC)
            assert sync(engine, settings, smaller).status == "succeeded"
            in_scope = {u for u in company.users if corp.state.in_contacts_scope(u)}
            assert in_scope and len(in_scope) < len(company.users)
            with engine.connect() as conn:
                read = set(
                    conn.execute(
                        select(users.c.userid).where(
                            users.c.corp_id == smaller, users.c.synced_at >= started
                        )
                    ).scalars()
                )
            assert read == in_scope
            someone = sorted(in_scope)[0]
            assert login(smaller, someone).status_code == 200

            # the app stopped by the company's administrator: stopped (logins refused), then
            # restored: active
            stopped = ids[3]
            mutate(sb, "app", corp_id=stopped, action="stop")
            until(lambda: registry(engine)[stopped]["status"] == "stopped")
            userid = pick_people(sb.corps[stopped].state.company)["employee"]
            assert _error(login(stopped, userid)) == (403, "corp.inactive")
            mutate(sb, "app", corp_id=stopped, action="restore")
            until(lambda: registry(engine)[stopped]["status"] == "active")
            assert login(stopped, userid).status_code == 200

            # purging the relieved company drops its rows and its token keys, nobody else's
            with engine.begin() as conn:
                deleted = repo_corps.purge_corp(conn, gone)
            assert deleted["users"] == len(sb.corps[gone].state.company.users)
            with engine.connect() as conn:
                keys = set(conn.execute(select(token_cache.c.cache_key)).scalars())
                assert repo_corps.row_counts(conn, gone) == {}
            assert not any(f":corp:{gone}" in k for k in keys)
            assert f"isv:{sb.suite_key}:corp:{ids[1]}" in keys
    finally:
        receiver.stop()
