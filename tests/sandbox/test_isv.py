"""The sandbox suite (``sandbox/isv/``): several generated companies on one port, the ISV
endpoints with DingTalk's errors, the mutations and their events, and ``suite_ticket`` pushes on
the sandbox clock — over real loopback HTTP, with the Stream gateway as the suite's channel."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.sandbox.isv import IsvConfig, IsvSandboxServer, sign_ticket


@pytest.fixture
def suite() -> Iterator[IsvSandboxServer]:
    cfg = IsvConfig(seed=9, corps=[(61, 20), (62, 45), (63, 30)], days=1, authorised=False)
    with IsvSandboxServer(cfg) as sb:
        yield sb


def info(sb: IsvSandboxServer) -> dict[str, Any]:
    return dict(httpx.get(f"{sb.base_url}/sandbox/isv").json())


def post(sb: IsvSandboxServer, path: str, **kw: Any) -> httpx.Response:
    return httpx.post(f"{sb.base_url}{path}", **kw)


def signed(sb: IsvSandboxServer, ticket: str) -> dict[str, str]:
    stamp = str(int(time.time() * 1000))
    return {
        "accessKey": sb.suite_key,
        "timestamp": stamp,
        "suiteTicket": ticket,
        "signature": sign_ticket(sb.suite_secret, stamp, ticket),
    }


def test_companies_differ_and_the_default_sandbox_is_unchanged(suite: IsvSandboxServer) -> None:
    sizes = {len(c.state.company.users) for c in suite.corps.values()}
    assert sizes == {20, 45, 30}
    assert len({c.corp_id for c in suite.corps.values()}) == 3
    names = {c.state.company.corp_name for c in suite.corps.values()}
    assert len(names) == 3
    # each company's control endpoints under /sandbox/corps/{corp_id}/
    for corp_id, corp in suite.corps.items():
        stats = httpx.get(f"{suite.corp_url(corp_id)}/sandbox/stats").json()
        assert stats["users"] == len(corp.state.company.users)
    # the host still answers as a plain single-company sandbox
    app = httpx.get(f"{suite.base_url}/sandbox/app").json()
    assert app["app_key"] == suite.suite_key and app["corp_id"] not in suite.corps
    with SandboxServer(SandboxConfig(seed=61, users=20, days=1)) as plain:
        assert plain.app.corp_id in suite.corps  # same seed → same company as the suite's


def test_suite_token_errors_on_both_hosts(suite: IsvSandboxServer) -> None:
    ticket = info(suite)["suite_ticket"]
    form = {"suite_key": suite.suite_key, "suite_secret": suite.suite_secret}
    ok = post(suite, "/service/get_suite_token", data={**form, "suite_ticket": ticket}).json()
    assert ok["errcode"] == 0 and ok["expires_in"] == 7200
    as_json = post(suite, "/service/get_suite_token", json={**form, "suite_ticket": ticket})
    assert as_json.json()["suite_access_token"] == ok["suite_access_token"]
    assert post(suite, "/service/get_suite_token", data=form).json()["errcode"] == 40085
    wrong = {**form, "suite_secret": "x", "suite_ticket": ticket}
    assert post(suite, "/service/get_suite_token", data=wrong).json()["errcode"] == 40088
    body = {"suiteKey": suite.suite_key, "suiteSecret": suite.suite_secret}
    r = post(suite, "/v1.0/oauth2/suiteAccessToken", json={**body, "suiteTicket": "old"})
    assert (r.status_code, r.json()["code"]) == (400, "invalidSuiteTicket")
    r = post(suite, "/v1.0/oauth2/suiteAccessToken", json={**body, "suiteTicket": ticket})
    assert r.status_code == 200 and r.json()["expireIn"] == 7200


def test_authorise_relieve_and_the_corp_token_errors(suite: IsvSandboxServer) -> None:
    corp_id = next(iter(suite.corps))
    ticket = info(suite)["suite_ticket"]
    body = {"auth_corpid": corp_id}
    # not authorised yet: 41030 / invalidAuthInfo
    r = post(suite, "/service/get_corp_token", params=signed(suite, ticket), json=body)
    assert r.json()["errcode"] == 41030
    v1 = {"suiteKey": suite.suite_key, "suiteSecret": suite.suite_secret,
          "authCorpId": corp_id, "suiteTicket": ticket}  # fmt: skip
    r = post(suite, "/v1.0/oauth2/corpAccessToken", json=v1)
    assert (r.status_code, r.json()["code"]) == (400, "invalidAuthInfo")

    answer = post(suite, "/sandbox/mutate/isv/authorize", json={"corp_id": corp_id}).json()
    assert answer["event_type"] == "org_suite_auth" and answer["status"] == "authorised"
    token = post(suite, "/v1.0/oauth2/corpAccessToken", json=v1).json()["accessToken"]
    users = post(
        suite, f"/topapi/user/count?access_token={token}", json={"only_active": False}
    ).json()
    assert users["result"]["count"] == len(suite.corps[corp_id].state.company.users)
    # the signature must match: another timestamp, same signature → 853004
    params = signed(suite, ticket)
    params["timestamp"] = str(int(params["timestamp"]) + 1)
    r = post(suite, "/service/get_corp_token", params=params, json=body)
    assert r.json()["errcode"] == 853004
    # an outdated ticket → 40085
    post(suite, "/sandbox/isv/push_ticket", json={})
    r = post(suite, "/service/get_corp_token", params=signed(suite, ticket), json=body)
    assert r.json()["errcode"] == 40085

    again = post(suite, "/sandbox/mutate/isv/authorize", json={"corp_id": corp_id}).json()
    assert again["event_type"] == "org_suite_change"
    relieved = post(suite, "/sandbox/mutate/isv/relieve", json={"corp_id": corp_id}).json()
    assert relieved["event_type"] == "org_suite_relieve" and relieved["status"] == "relieved"
    dead = post(suite, f"/topapi/user/count?access_token={token}", json={}).json()
    assert dead["errcode"] in (40014, 88)
    fresh = info(suite)["suite_ticket"]
    r = post(suite, "/service/get_corp_token", params=signed(suite, fresh), json=body)
    assert r.json()["errcode"] == 41030


def test_mutation_errors(suite: IsvSandboxServer) -> None:
    corp_id = next(iter(suite.corps))
    r = post(suite, "/sandbox/mutate/isv/authorize", json={"corp_id": "dingnope"})
    assert r.status_code == 404
    r = post(suite, "/sandbox/mutate/isv/authorize", json={"corp": corp_id})
    assert r.status_code == 400 and r.json()["errcode"] == 400002
    r = post(suite, "/sandbox/mutate/isv/relieve", json={"corp_id": corp_id})
    assert r.status_code == 409  # not authorised: nothing to relieve
    r = post(suite, "/sandbox/mutate/isv/nope", json={"corp_id": corp_id})
    assert r.status_code == 400
    r = post(suite, "/sandbox/mutate/isv/app", json={"corp_id": corp_id, "action": "fly"})
    assert r.status_code == 400


def test_scope_change_limits_the_companys_directory(suite: IsvSandboxServer) -> None:
    corp_id, corp = next(iter(suite.corps.items()))
    company = corp.state.company
    dept = next(d.dept_id for d in company.departments.values() if d.parent_id == 1)
    post(suite, "/sandbox/mutate/isv/authorize", json={"corp_id": corp_id})
    r = post(suite, "/sandbox/mutate/isv/change_scope",
             json={"corp_id": corp_id, "scope_dept_ids": [dept]})  # fmt: skip
    assert r.json()["event_type"] == "org_suite_change"
    scopes = httpx.get(f"{suite.corp_url(corp_id)}/sandbox/config").json()
    assert scopes["contacts_scope_dept_ids"] == [dept]


def test_app_stop_refuses_tokens_and_restore_allows_them(suite: IsvSandboxServer) -> None:
    corp_id = next(iter(suite.corps))
    post(suite, "/sandbox/mutate/isv/authorize", json={"corp_id": corp_id})
    ticket = info(suite)["suite_ticket"]
    body = {"auth_corpid": corp_id}
    stop = post(suite, "/sandbox/mutate/isv/app", json={"corp_id": corp_id, "action": "stop"})
    assert stop.json()["event_type"] == "org_micro_app_stop"
    r = post(suite, "/service/get_corp_token", params=signed(suite, ticket), json=body)
    assert r.json()["errcode"] == 41030
    post(suite, "/sandbox/mutate/isv/app", json={"corp_id": corp_id, "action": "restore"})
    r = post(suite, "/service/get_corp_token", params=signed(suite, ticket), json=body)
    assert r.json()["errcode"] == 0


def test_legacy_flow_permanent_code_and_activation() -> None:
    cfg = IsvConfig(seed=10, corps=[(71, 20)], days=1, authorised=False, flow="legacy")
    with IsvSandboxServer(cfg) as sb:
        corp_id = next(iter(sb.corps))
        ev = post(sb, "/sandbox/mutate/isv/authorize", json={"corp_id": corp_id}).json()
        assert ev["event_type"] == "tmp_auth_code"
        code = sb.state.areas["events"].emitted[-1].fields["authCode"]
        ticket = info(sb)["suite_ticket"]
        form = {"suite_key": sb.suite_key, "suite_secret": sb.suite_secret, "suite_ticket": ticket}
        token = post(sb, "/service/get_suite_token", json=form).json()["suite_access_token"]
        q = {"suite_access_token": token}
        got = post(sb, "/service/get_permanent_code", params=q, json={"tmp_auth_code": code})
        body = got.json()
        assert body["errcode"] == 0 and body["auth_corp_info"]["corpid"] == corp_id
        reused = post(sb, "/service/get_permanent_code", params=q, json={"tmp_auth_code": code})
        assert reused.json()["errcode"] == 40078  # single use
        act = {"suite_key": sb.suite_key, "auth_corpid": corp_id,
               "permanent_code": body["permanent_code"]}  # fmt: skip
        assert post(sb, "/service/activate_suite", params=q, json=act).json()["errcode"] == 0
        assert sb.corps[corp_id].activated
        bad = post(sb, "/service/activate_suite", params={"suite_access_token": "x"}, json=act)
        assert bad.json()["errcode"] == 40014


async def _stream_events(sb: IsvSandboxServer, wanted: int, limit: float = 10) -> list[Any]:
    async with httpx.AsyncClient() as http:
        opened = await http.post(
            f"{sb.base_url}/v1.0/gateway/connections/open",
            json={"clientId": sb.suite_key, "clientSecret": sb.suite_secret,
                  "subscriptions": [{"type": "EVENT", "topic": "*"}]},
        )  # fmt: skip
    assert opened.status_code == 200, opened.text
    url = f"{opened.json()['endpoint']}?ticket={opened.json()['ticket']}"
    frames: list[Any] = []
    async with websockets.connect(url) as ws:
        deadline = time.monotonic() + limit
        while len(frames) < wanted and time.monotonic() < deadline:
            try:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
            except TimeoutError:
                continue
            if frame["type"] != "EVENT":
                continue
            frames.append(frame)
            ack = {"code": 200, "headers": {"messageId": frame["headers"]["messageId"],
                                            "contentType": "application/json"},
                   "message": "OK", "data": json.dumps({"status": "SUCCESS"})}  # fmt: skip
            await ws.send(json.dumps(ack))
    return frames


async def test_tickets_are_pushed_on_the_sandbox_clock_over_stream() -> None:
    cfg = IsvConfig(seed=12, corps=[(81, 20), (82, 25)], days=1, ticket_interval_s=3600)
    with IsvSandboxServer(cfg) as sb:
        # at start: the first ticket, then one org_suite_auth per company (kept for Stream)
        frames = await _stream_events(sb, 3)
        kinds = [f["headers"]["eventType"] for f in frames]
        assert kinds == ["suite_ticket", "org_suite_auth", "org_suite_auth"]
        first = json.loads(frames[0]["data"])["suiteTicket"]
        assert first == info(sb)["suite_ticket"]
        corps = {f["headers"]["eventCorpId"] for f in frames[1:]}
        assert corps == set(sb.corps)
        auth = json.loads(frames[1]["data"])
        assert auth["authCorpInfo"]["corpid"] == frames[1]["headers"]["eventCorpId"]
        assert auth["authScope"]["authOrgScopes"]["authedDept"] == [1]
        # an hour of sandbox clock later a new ticket is pushed; the old one stops working
        sb.clock.advance(3601)
        frames = await _stream_events(sb, 1)
        newer = json.loads(frames[0]["data"])["suiteTicket"]
        assert frames[0]["headers"]["eventType"] == "suite_ticket" and newer != first
        form = {"suite_key": sb.suite_key, "suite_secret": sb.suite_secret}
        old = post(sb, "/service/get_suite_token", data={**form, "suite_ticket": first})
        assert old.json()["errcode"] == 40085
        new = post(sb, "/service/get_suite_token", data={**form, "suite_ticket": newer})
        assert new.json()["errcode"] == 0


def test_unified_app_token_of_an_authorising_company(suite: IsvSandboxServer) -> None:
    corp_id, corp = next(iter(suite.corps.items()))
    body = {"client_id": suite.suite_key, "client_secret": suite.suite_secret,
            "grant_type": "client_credentials"}  # fmt: skip
    r = post(suite, f"/v1.0/oauth2/{corp_id}/token", json=body)
    assert (r.status_code, r.json()["code"]) == (400, "invalidAuthInfo")  # not authorised yet
    post(suite, "/sandbox/mutate/isv/authorize", json={"corp_id": corp_id})
    r = post(suite, f"/v1.0/oauth2/{corp_id}/token", json=body)
    assert r.status_code == 200 and r.json()["expires_in"] == 7200
    token = r.json()["access_token"]
    count = post(suite, f"/topapi/user/count?access_token={token}", json={"only_active": False})
    assert count.json()["result"]["count"] == len(corp.state.company.users)
    bad = post(suite, f"/v1.0/oauth2/{corp_id}/token", json={**body, "client_secret": "x"})
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid.client")
    # the host's own app still has its own unified token
    app = httpx.get(f"{suite.base_url}/sandbox/app").json()
    own = {"client_id": app["app_key"], "client_secret": app["app_secret"],
           "grant_type": "client_credentials"}  # fmt: skip
    assert post(suite, f"/v1.0/oauth2/{app['corp_id']}/token", json=own).status_code == 200


def test_corp_token_by_permanent_code_for_older_suites() -> None:
    cfg = IsvConfig(seed=13, corps=[(72, 20)], days=1)
    with IsvSandboxServer(cfg) as sb:
        corp_id, corp = next(iter(sb.corps.items()))
        form = {"suite_key": sb.suite_key, "suite_secret": sb.suite_secret,
                "suite_ticket": info(sb)["suite_ticket"]}  # fmt: skip
        token = post(sb, "/service/get_suite_token", json=form).json()["suite_access_token"]
        q = {"suite_access_token": token}
        body = {"auth_corpid": corp_id, "permanent_code": corp.permanent_code}
        ok = post(sb, "/service/get_corp_token", params=q, json=body).json()
        assert ok["errcode"] == 0 and ok["access_token"]
        wrong = {**body, "permanent_code": "nope"}
        assert post(sb, "/service/get_corp_token", params=q, json=wrong).json()["errcode"] == 41030
        bad = post(sb, "/service/get_corp_token", params={"suite_access_token": "x"}, json=body)
        assert bad.json()["errcode"] == 40014
