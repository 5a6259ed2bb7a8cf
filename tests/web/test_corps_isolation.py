"""Two companies, one deployment: two sandbox companies (different seeds, sizes and corp ids,
each its own sandbox server) synced into one database (SQLite and PostgreSQL) and served by one
web service configured with both as ``[[apps]]``. Table-driven: for every role of company A,
every list, read and export answers A's rows only; logins pick the company from ``corpId``;
a relieved company's logins and sessions are refused, its sync refuses to run, its data stays.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select

from dingsync.commands.demo_console import pick_people
from dingsync.config import AppConfig, Settings
from dingsync.corps import resolve, sync_registry
from dingsync.sandbox import SandboxServer
from dingsync.store import db, repo_corps, repo_local_access
from dingsync.store.schema_approvals import approval_instances, approval_templates
from dingsync.store.schema_reports import report_templates, reports
from dingsync.sync.lease import CorpNotActive
from dingsync.sync.runner import sync_once
from dingsync.web import create_app
from dingsync.web.options import WebOptions
from dingsync.web.server import WebServer
from helpers.sandboxes import SandboxPool, SandboxSpec
from helpers.web import _error

from .conftest import database_url

#: Company A and company B: different seeds, sizes and (seed-derived) corp ids.
SPEC_A = SandboxSpec(seed=31, users=40, days=7)
SPEC_B = SandboxSpec(seed=32, users=25, days=7)


def _app(sb: SandboxServer, **extra: Any) -> AppConfig:
    return AppConfig(
        app_key=sb.app.app_key,
        app_secret=SecretStr(sb.app.app_secret),
        corp_id=sb.app.corp_id,
        agent_id=str(sb.app.agent_id),
        oapi_url=sb.base_url,
        api_url=sb.base_url,
        login_url=sb.base_url,
        **extra,
    )


def two_corp_settings(a: SandboxServer, b: SandboxServer, url: str) -> Settings:
    """A deployment with no ``DINGTALK_*`` app and both companies as ``[[apps]]`` (B in
    another timezone)."""
    return Settings(
        DINGSYNC_DATABASE_URL=url,
        DINGSYNC_QPS_PER_API=0,
        DINGSYNC_REPORTS_HISTORY_DAYS=7,
        DINGSYNC_APPROVALS_HISTORY_DAYS=7,
        DINGSYNC_APPS=[_app(a), _app(b, timezone="Europe/Berlin")],
    )


@dataclass
class TwoCorps:
    a: SandboxServer
    b: SandboxServer
    settings: Settings
    engine: Engine
    http: httpx.Client

    def login(self, sb: SandboxServer, userid: str, **body: Any) -> httpx.Response:
        r = httpx.post(f"{sb.base_url}/sandbox/authcode", json={"userid": userid})
        r.raise_for_status()
        return self.http.post("/api/auth/dingtalk", json={"authCode": r.json()["code"], **body})

    def token(self, sb: SandboxServer, userid: str) -> str:
        r = self.login(sb, userid, corpId=sb.app.corp_id)
        assert r.status_code == 200, r.text
        return str(r.json()["session"]["token"])


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def two(
    request: pytest.FixtureRequest,
    sandboxes: SandboxPool,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TwoCorps]:
    a, b = sandboxes.get(SPEC_A), sandboxes.get(SPEC_B)
    assert a.app.corp_id != b.app.corp_id
    with database_url(request.param, tmp_path_factory) as url:
        settings = two_corp_settings(a, b, url)
        engine = db.create_engine_for(url)
        db.migrate(engine)
        sync_registry(engine, settings)

        async def sync_both() -> None:  # concurrently: leases, limiters and tokens per company
            await asyncio.gather(
                *(
                    sync_once(resolve(engine, settings, sb.app.corp_id).settings, engine=engine)
                    for sb in (a, b)
                )
            )

        asyncio.run(sync_both())
        hr = pick_people(a.company)["hr"]
        with engine.begin() as conn:
            repo_local_access.grant_role(conn, a.app.corp_id, hr, "hr", granted_by="test")
        app = create_app(settings, engine=engine, options=WebOptions())
        with WebServer(app) as server, httpx.Client(base_url=server.base_url, timeout=60) as http:
            yield TwoCorps(a, b, settings, engine, http)
        engine.dispose()


# --------------------------------------------------------------------------------------------
# The table: roles of A × (lists, reads, exports)
# --------------------------------------------------------------------------------------------
def _roles(company: Any) -> dict[str, str]:
    roles = pick_people(company)
    roles["boss"] = str(company.boss_userid)
    return roles


ROLES = ("employee", "hr", "leader", "sub_admin", "main_admin", "boss")


def _list_routes(http: httpx.Client) -> list[str]:
    """Every GET route of the API without a path parameter (from the OpenAPI document)."""
    spec = http.get("/openapi.json").json()
    return sorted(
        path
        for path, ops in spec["paths"].items()
        if path.startswith("/api/") and "get" in ops and "{" not in path
    )


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif value is not None:
        yield str(value)


def _markers(two: TwoCorps, sb: SandboxServer) -> set[str]:
    """Ids that belong to ``sb``'s company alone: its corp id, userids, report ids and approval
    instance ids."""
    corp = sb.app.corp_id
    with two.engine.connect() as conn:
        report_ids = set(
            conn.execute(select(reports.c.report_id).where(reports.c.corp_id == corp)).scalars()
        )
        instance_ids = set(
            conn.execute(
                select(approval_instances.c.process_instance_id).where(
                    approval_instances.c.corp_id == corp
                )
            ).scalars()
        )
    return {corp} | set(sb.company.users) | report_ids | instance_ids


def _window() -> dict[str, str]:
    today = date.today()
    return {"start_date": (today - timedelta(days=20)).isoformat(), "end_date": today.isoformat()}


@pytest.mark.parametrize("role", ROLES)
def test_every_list_read_and_export_of_a_role_of_A_holds_only_A(two: TwoCorps, role: str) -> None:
    a, b = two.a, two.b
    userid = _roles(a.company)[role]
    token = two.token(a, userid)
    auth = {"Authorization": f"Bearer {token}"}
    b_only = _markers(two, b)
    a_seen: set[str] = set()
    a_markers = _markers(two, a)

    # Lists: every GET route without path parameters, with and without a wide date window.
    routes = _list_routes(two.http)
    assert "/api/users" in routes and "/api/reports" in routes and "/api/approvals" in routes
    for path in routes:
        for params in ({}, _window(), {"month": date.today().strftime("%Y-%m")}):
            r = two.http.get(path, params=params, headers=auth)
            assert r.status_code < 500, (path, r.text)
            found = (
                set(_strings(r.json()))
                if r.headers.get("content-type", "").startswith("application/json")
                else {r.text}
            )
            leaked = {s for s in found for m in b_only if m in s}
            assert not leaked, (role, path, params, sorted(leaked)[:5])
            a_seen |= {m for m in a_markers if m in found}

    # Reads of B's records by id: not found, whatever the role.
    with two.engine.connect() as conn:
        b_report = conn.execute(
            select(reports.c.report_id).where(reports.c.corp_id == b.app.corp_id).limit(1)
        ).scalar_one()
        b_instance = conn.execute(
            select(approval_instances.c.process_instance_id)
            .where(approval_instances.c.corp_id == b.app.corp_id)
            .limit(1)
        ).scalar_one()
    b_user = sorted(u for u, p in b.company.users.items() if p.active)[0]
    for path in (
        f"/api/users/{b_user}",
        f"/api/reports/{b_report}",
        f"/api/approvals/{b_instance}",
        f"/api/approvals/{b_instance}/attachments/any",
    ):
        r = two.http.get(path, headers=auth)
        assert r.status_code in (403, 404), (role, path, r.status_code, r.text)
        assert not {m for m in b_only if m in r.text}, (role, path)

    # Exports of every kind (with A's template names, which B's company may share): only A's.
    exported = 0
    for kind, filters in _export_cases(two):
        r = two.http.post(
            "/api/exports", json={"kind": kind, "format": "csv", "filters": filters}, headers=auth
        )
        if r.status_code == 403:
            assert _error(r) == (403, "export.forbidden")
            continue
        assert r.status_code == 200, (role, kind, r.text)
        cells = {c for row in csv.reader(io.StringIO(r.content.decode("utf-8-sig"))) for c in row}
        leaked = {c for c in cells for m in b_only if m and m in c}
        assert not leaked, (role, kind, sorted(leaked)[:5])
        exported += int(r.headers["X-Export-Rows"])
        a_seen |= a_markers & cells

    # Not vacuous: every role sees some of A (at least themself).
    assert userid in a_seen or (role == "employee" and a_seen), (role, len(a_seen))
    if role == "main_admin":
        assert exported > 0
        assert len(a_seen & set(a.company.users)) > len(b.company.users)


def _export_cases(two: TwoCorps) -> list[tuple[str, dict[str, Any]]]:
    corp = two.a.app.corp_id
    with two.engine.connect() as conn:
        templates = list(
            conn.execute(
                select(report_templates.c.name).where(report_templates.c.corp_id == corp)
            ).scalars()
        )
        codes = list(
            conn.execute(
                select(approval_templates.c.process_code).where(
                    approval_templates.c.corp_id == corp
                )
            ).scalars()
        )
    cases: list[tuple[str, dict[str, Any]]] = [("users", {}), ("users", {"include_inactive": True})]
    cases += [("reports", {"template": t, **_window()}) for t in templates]
    cases += [("approvals", {"process_code": c, **_window()}) for c in codes]
    today = date.today()
    for month in {today.strftime("%Y-%m"), (today - timedelta(days=8)).strftime("%Y-%m")}:
        cases.append(("attendance", {"month": month}))
    return cases


def test_admin_writes_of_A_cannot_reach_B(two: TwoCorps) -> None:
    a, b = two.a, two.b
    token = two.token(a, _roles(a.company)["main_admin"])
    b_user = sorted(u for u, p in b.company.users.items() if p.active)[0]
    r = two.http.post(
        f"/api/admin/users/{b_user}/disable", headers={"Authorization": f"Bearer {token}"}
    )
    # A userid A does not know is disabled in advance — in A's company (docs/web.md), never B's.
    assert r.status_code == 200 and r.json()["known"] is False, r.text
    with two.engine.connect() as conn:
        assert repo_local_access.list_disabled(conn, b.app.corp_id) == []
        assert b_user in repo_local_access.list_disabled(conn, a.app.corp_id)
    b_token = two.token(b, b_user)  # B's person still logs into B
    assert (
        two.http.get("/api/me", headers={"Authorization": f"Bearer {b_token}"}).status_code == 200
    )
    r = two.http.post(
        f"/api/admin/users/{b_user}/enable", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200, r.text


# --------------------------------------------------------------------------------------------
# Login per company
# --------------------------------------------------------------------------------------------
def test_login_takes_the_company_from_corpId(two: TwoCorps) -> None:
    for sb in (two.a, two.b):
        userid = pick_people(sb.company)["employee"]
        r = two.login(sb, userid, corpId=sb.app.corp_id, url="https://h5.example.com/app")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["userid"] == userid
        assert body["company"]["corp_id"] == sb.app.corp_id
        assert body["jsapi"]["corpId"] == sb.app.corp_id
        assert str(body["jsapi"]["agentId"]) == str(sb.app.agent_id)
        me = two.http.get(
            "/api/me", headers={"Authorization": f"Bearer {body['session']['token']}"}
        )
        assert me.status_code == 200 and me.json()["userid"] == userid
        cfg = two.http.get(
            "/api/jsapi/config",
            params={"url": "https://h5.example.com/x"},
            headers={"Authorization": f"Bearer {body['session']['token']}"},
        )
        assert cfg.status_code == 200 and cfg.json()["corpId"] == sb.app.corp_id


def test_a_code_of_one_company_does_not_log_into_the_other(two: TwoCorps) -> None:
    userid = pick_people(two.a.company)["employee"]
    r = two.login(two.a, userid, corpId=two.b.app.corp_id)
    assert _error(r) == (401, "auth.code_invalid")


@pytest.mark.parametrize(
    "body", [{"corpId": "dingnotacompany"}, {}, {"corpId": ""}], ids=["unknown", "none", "empty"]
)
def test_unknown_or_missing_corp_is_a_stable_4xx(two: TwoCorps, body: dict[str, Any]) -> None:
    r = two.login(two.a, pick_people(two.a.company)["employee"], **body)
    assert _error(r) == (400, "corp.unknown")


def test_relieved_company_refuses_logins_sessions_and_sync_and_keeps_its_data(
    two: TwoCorps,
) -> None:
    b = two.b
    corp = b.app.corp_id
    userid = pick_people(b.company)["employee"]
    token = two.token(b, userid)
    with two.engine.connect() as conn:
        before = repo_corps.row_counts(conn, corp)
    with two.engine.begin() as conn:
        assert repo_corps.set_status(conn, corp, "relieved")
    try:
        assert _error(two.login(b, userid, corpId=corp)) == (403, "corp.inactive")
        me = two.http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert _error(me) == (403, "corp.inactive")
        with pytest.raises(CorpNotActive):
            asyncio.run(
                sync_once(
                    resolve(two.engine, two.settings, corp, active=False).settings,
                    engine=two.engine,
                )
            )
        # The configuration does not bring a relieved company back; A is untouched.
        sync_registry(two.engine, two.settings)
        a_token = two.token(two.a, pick_people(two.a.company)["employee"])
        assert (
            two.http.get("/api/me", headers={"Authorization": f"Bearer {a_token}"}).status_code
            == 200
        )
        with two.engine.connect() as conn:
            assert repo_corps.get_corp(conn, corp)["status"] == "relieved"  # type: ignore[index]
            after = repo_corps.row_counts(conn, corp)
        # Kept: every table of B holds what it held (the failed login wrote nothing).
        assert {t: n for t, n in after.items() if t != "web_sessions"} == {
            t: n for t, n in before.items() if t != "web_sessions"
        }
        assert after["users"] == len(b.company.users) or after["users"] > 0
    finally:
        with two.engine.begin() as conn:
            repo_corps.set_status(conn, corp, "active")
    assert two.http.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_each_company_keeps_its_own_timezone_and_tokens(two: TwoCorps) -> None:
    for sb, zone in ((two.a, "Asia/Shanghai"), (two.b, "Europe/Berlin")):
        token = two.token(sb, pick_people(sb.company)["main_admin"])
        r = two.http.get("/api/admin/sync", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        assert r.json()["settings"]["timezone"] == zone
        assert r.json()["settings"]["corp_id"] == sb.app.corp_id
        entities = json.dumps(r.json()["entities"])
        other = two.b if sb is two.a else two.a
        assert other.app.corp_id not in entities
    from dingsync.store.schema import token_cache

    with two.engine.connect() as conn:
        keys = set(conn.execute(select(token_cache.c.cache_key)).scalars())
    for sb in (two.a, two.b):
        assert f"{sb.app.app_key}@{sb.app.corp_id}" in keys


def test_console_micro_app_login_per_company(two: TwoCorps) -> None:
    b = two.b
    page = two.http.get("/console/login", params={"corpId": b.app.corp_id})
    assert page.status_code == 200 and f'"corpId": "{b.app.corp_id}"' in page.text
    unknown = two.http.get("/console/login", params={"corpId": "dingnosuch"})
    assert unknown.status_code == 400 and "corp.unknown" in unknown.text

    userid = pick_people(b.company)["employee"]
    code = httpx.post(f"{b.base_url}/sandbox/authcode", json={"userid": userid}).json()["code"]
    with httpx.Client(base_url=str(two.http.base_url), timeout=60) as browser:
        r = browser.post(
            "/console/login/authcode",
            json={"authCode": code, "corpId": b.app.corp_id, "next": "/console/me"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["userid"] == userid
        me = browser.get("/console/me")
        assert me.status_code == 200
        assert b.company.users[userid].name in me.text
        assert not {u for u in two.a.company.users if u in me.text}
