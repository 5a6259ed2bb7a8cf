"""Knobs: QPS limits, latency, fault injection, one-shot actions, stats and the control API."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from dingsync.sandbox import SandboxServer

from .helpers import Ding


async def _burst(ding: Ding, n: int, path: str = "/topapi/user/listadmin") -> list[dict]:
    tok = await ding.token()
    return await asyncio.gather(*(ding.top(path, token=tok) for _ in range(n)))


async def test_qps_limit_answers_90018(ding: Ding, sb: SandboxServer) -> None:
    sb.configure(qps_limit=5)
    sb.reset_stats()
    answers = await _burst(ding, 12)
    limited = [a for a in answers if a["errcode"] == 90018]
    assert len(limited) == 7 and all("sub_code" not in a for a in limited)
    assert all(a["request_id"] for a in limited)
    stats = sb.stats()
    assert stats["rate_limited"] == {"/topapi/user/listadmin": 7}
    assert stats["calls"]["/topapi/user/listadmin"] == 5
    # another API has its own window
    other = await _burst(ding, 5, "/topapi/user/count")
    assert all(a["errcode"] == 400002 for a in other)  # served (missing only_active)
    await asyncio.sleep(1.05)  # the one-second window slides on
    assert all(a["errcode"] == 0 for a in await _burst(ding, 5))


async def test_qps_off_and_overrides(ding: Ding, sb: SandboxServer) -> None:
    sb.configure(qps_limit=None)
    assert all(a["errcode"] == 0 for a in await _burst(ding, 40))
    sb.configure(qps_limit=0)
    assert all(a["errcode"] == 0 for a in await _burst(ding, 40))
    sb.configure(qps_limit=3, qps_overrides={"/topapi/user/listadmin": None})
    assert all(a["errcode"] == 0 for a in await _burst(ding, 20))
    sb.configure(qps_limit=None, qps_overrides={"/topapi/user/listadmin": 2})
    answers = await _burst(ding, 6)
    assert sum(a["errcode"] == 90018 for a in answers) == 4


async def test_qps_wrapped_and_v1(ding: Ding, sb: SandboxServer) -> None:
    tok = await ding.token()
    sb.configure(qps_limit=1, rate_limit_wrapped=True)
    answers = await _burst(ding, 3)
    wrapped = [a for a in answers if a["errcode"] == 88]
    assert len(wrapped) == 2 and all(a["sub_code"] == "90018" for a in wrapped)
    r1, r2 = await asyncio.gather(
        ding.v1("POST", "/v1.0/oauth2/jsapiTickets", token=tok),
        ding.v1("POST", "/v1.0/oauth2/jsapiTickets", token=tok),
    )
    statuses = sorted([r1.status_code, r2.status_code])
    assert statuses == [200, 403]
    limited = r1 if r1.status_code == 403 else r2
    assert limited.json()["code"] == "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"


async def test_latency_and_jitter(ding: Ding, sb: SandboxServer) -> None:
    tok = await ding.token()
    # Lower bounds only: the injected latency must be there; upper bounds would time the
    # machine, not the sandbox.
    sb.configure(latency_ms=1500, jitter_ms=50)
    started = time.perf_counter()
    await ding.ok("/topapi/user/listadmin", token=tok)
    assert time.perf_counter() - started >= 1.5
    started = time.perf_counter()
    await ding.http.get("/sandbox/stats")  # control endpoints are never slowed
    assert time.perf_counter() - started < 1.5


async def test_fault_5xx_spares_tokens_and_control(ding: Ding, sb: SandboxServer) -> None:
    tok = await ding.token()
    sb.configure(fault_5xx=1.0)
    statuses = set()
    for _ in range(12):
        r = await ding.http.post("/topapi/user/listadmin", params={"access_token": tok})
        statuses.add(r.status_code)
    assert statuses <= {500, 502, 503} and len(statuses) >= 2
    assert await ding.token() == tok  # token endpoints are exempt by default
    assert (await ding.http.get("/sandbox/stats")).status_code == 200
    stats = sb.stats()
    assert stats["faults"]["/topapi/user/listadmin"] == 12
    assert stats["faults_by_kind"]["5xx"] == 12
    assert "/topapi/user/listadmin" not in stats["calls"]
    sb.configure(fault_token_endpoints=True)
    r = await ding.http.get(
        "/gettoken", params={"appkey": sb.app.app_key, "appsecret": sb.app.app_secret}
    )
    assert r.status_code >= 500


async def test_fault_rate_limit_and_token_invalidation(ding: Ding, sb: SandboxServer) -> None:
    tok = await ding.token()
    sb.configure(fault_rate_limit=1.0)
    assert (await ding.top("/topapi/user/listadmin", token=tok))["errcode"] == 90018
    v1 = await ding.v1("POST", "/v1.0/oauth2/jsapiTickets", token=tok)
    assert v1.status_code == 403
    sb.configure(fault_rate_limit=0.0, fault_token_invalidation=1.0)
    body = await ding.top("/topapi/user/listadmin", token=tok)
    assert body["errcode"] == 88 and body["sub_code"] == "40014"
    sb.configure(fault_token_invalidation=0.0)
    assert (await ding.top("/topapi/user/listadmin", token=tok))["sub_code"] == "40014"
    fresh = await ding.token()
    assert fresh != tok
    await ding.ok("/topapi/user/listadmin", token=fresh)


async def test_fault_drop_and_timeout(ding: Ding, sb: SandboxServer) -> None:
    tok = await ding.token()
    sb.configure(fault_drop=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        await ding.http.post("/topapi/user/listadmin", params={"access_token": tok})
    sb.configure(fault_drop=0.0, fault_timeout=1.0, timeout_s=0.3)
    started = time.perf_counter()
    body = await ding.top("/topapi/user/listadmin", token=tok)
    assert body["errcode"] == 0 and time.perf_counter() - started >= 0.3
    sb.configure(timeout_action="drop")
    with pytest.raises(httpx.RemoteProtocolError):
        await ding.http.post("/topapi/user/listadmin", params={"access_token": tok})
    async with httpx.AsyncClient(base_url=sb.base_url, timeout=0.1) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            await impatient.post("/topapi/user/listadmin", params={"access_token": tok})
    sb.configure(fault_timeout=0.0)
    await ding.ok("/topapi/user/listadmin", token=tok)  # the server is fine afterwards
    assert sb.stats()["faults_by_kind"] == {"drop": 1, "timeout": 3}


async def test_fault_rates_are_probabilities(ding: Ding, sb: SandboxServer) -> None:
    tok = await ding.token()
    sb.configure(fault_5xx=0.3, fault_seed=123)
    answers = []
    for _ in range(60):
        r = await ding.http.post("/topapi/user/listadmin", params={"access_token": tok})
        answers.append(r.status_code)
    failed = sum(s >= 500 for s in answers)
    assert 8 <= failed <= 32


async def test_config_endpoint_and_actions(ding: Ding, sb: SandboxServer) -> None:
    current = (await ding.http.get("/sandbox/config")).json()
    assert current["qps_limit"] is None and current["users"] == 300
    r = await ding.http.post("/sandbox/config", json={"latency_ms": 5, "qps_limit": 7})
    assert r.status_code == 200 and r.json()["latency_ms"] == 5 and r.json()["qps_limit"] == 7
    assert sb.state.config.qps_limit == 7
    unknown = await ding.http.post("/sandbox/config", json={"nonsense": 1})
    assert unknown.status_code == 400 and "nonsense" in unknown.json()["error"]
    fixed = await ding.http.post("/sandbox/config", json={"users": 10})
    assert fixed.status_code == 400
    invalid = await ding.http.post("/sandbox/config", json={"fault_5xx": 2})
    assert invalid.status_code == 400
    assert sb.state.config.latency_ms == 5  # nothing changed by the refused requests
    round_trip = await ding.http.post("/sandbox/config", json=r.json())  # GET/POST symmetric
    assert round_trip.status_code == 200, round_trip.text
    assert sb.config.qps_limit == 7 and sb.config is sb.state.config

    tok = await ding.token()
    await ding.http.post("/sandbox/config", json={"invalidate_tokens": True})
    assert (await ding.top("/topapi/user/listadmin", token=tok))["sub_code"] == "40014"
    before = sb.clock.now()
    r = await ding.http.post("/sandbox/config", json={"clock_advance_s": 3600})
    assert r.json()["clock_now"] >= before + 3600
    r = await ding.http.post("/sandbox/config", json={"clock_set": 2_000_000_000})
    assert abs(sb.clock.now() - 2_000_000_000) < 5


async def test_stats_and_reset(ding: Ding, sb: SandboxServer) -> None:
    sb.reset_stats()
    tok = await ding.token()
    for _ in range(3):
        await ding.ok("/topapi/v2/department/get", {"dept_id": 1}, token=tok)
    await ding.top("/topapi/v2/nothing/here", token=tok)
    stats = (await ding.http.get("/sandbox/stats")).json()
    truth = sb.company.truth_counts()
    for key, value in truth.items():
        assert stats[key] == value
    assert stats["calls"] == {
        "/gettoken": 1,
        "/topapi/v2/department/get": 3,
        "/topapi/v2/nothing/here": 1,
    }
    assert stats["token_requests"] == 1 and stats["total_calls"] == 5
    reset = (await ding.http.post("/sandbox/stats/reset")).json()
    assert reset["calls"] == {} and reset["token_requests"] == 0
    assert reset["users"] == truth["users"]


async def test_company_endpoint(ding: Ding, sb: SandboxServer) -> None:
    data = (await ding.http.get("/sandbox/company")).json()
    company = sb.company
    assert data["corp_name"] == company.corp_name
    assert len(data["departments"]) == len(company.departments)
    root = next(d for d in data["departments"] if d["dept_id"] == 1)
    assert root["parent_id"] is None and root["name"] == company.corp_name
    user = data["users"][0]
    truth = company.users[user["userid"]]
    assert user["memberships"] == [
        {"dept_id": m.dept_id, "order": m.order, "leader": m.leader} for m in truth.memberships
    ]
    assert {a["userid"]: a["dept_ids"] for a in data["admins"]} == company.admin_scopes
    assert {lv["userid"] for lv in data["leavers"]} == set(company.leavers)


async def test_dingtalk_headers(ding: Ding) -> None:
    tok = await ding.token()
    r = await ding.http.post("/topapi/user/listadmin", params={"access_token": tok})
    assert r.headers["server"] == "DingTalk/1.0.0"
    assert r.headers["content-type"] == "application/json;charset=UTF-8"
    old = await ding.http.get("/user/get", params={"access_token": tok, "userid": "x"})
    assert old.headers["content-type"] == "application/json"
    assert "request_id" not in old.json()
