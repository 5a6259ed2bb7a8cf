"""The sandbox against emulator-behaviour.md, row by row (``EB-nn`` in each test's name).

Everything goes over real loopback HTTP to the session sandbox (tests/sandbox/conftest.py);
knobs are restored after each test. Rows about the client are in
tests/dingtalk/test_emulator_behaviour_client.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dingsync.dingtalk.crypto import CallbackCrypto
from dingsync.dingtalk.stream import event_ack, open_connection
from dingsync.sandbox import SandboxConfig, SandboxServer

from .helpers import Ding

GMT8 = timezone(timedelta(hours=8))
DAY_MS = 86_400_000
CJK = re.compile(r"[\u4e00-\u9fff]")


def _v1_token(sb: SandboxServer) -> str:
    app = sb.app
    r = httpx.post(
        f"{sb.base_url}/v1.0/oauth2/accessToken",
        json={"appKey": app.app_key, "appSecret": app.app_secret},
    )
    assert r.status_code == 200, r.text
    return str(r.json()["accessToken"])


def _wire(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _attendance_people(sb: SandboxServer, n: int) -> list[str]:
    area = sb.state.areas["attendance"]
    people = [u for g in area.world.groups for u in g.members]
    assert len(people) >= n
    return sorted(people)[:n]


# =============================================================================================
# Tokens, envelopes, contacts, login
# =============================================================================================
async def test_eb04_access_token_accepts_and_ignores_corp_id(ding: Ding, sb: SandboxServer) -> None:
    app = sb.app
    plain = await ding.http.post(
        "/v1.0/oauth2/accessToken", json={"appKey": app.app_key, "appSecret": app.app_secret}
    )
    for corp_id in (app.corp_id, "dingsomeothercorp0000000000000000"):
        with_corp = await ding.http.post(
            "/v1.0/oauth2/accessToken",
            json={"appKey": app.app_key, "appSecret": app.app_secret, "corpId": corp_id},
        )
        assert with_corp.status_code == 200, with_corp.text
        assert with_corp.json() == plain.json()  # the same token: the field changes nothing
    bad = await ding.http.post(
        "/v1.0/oauth2/accessToken",
        json={"appKey": app.app_key, "appSecret": "wrong", "corpId": app.corp_id},
    )
    assert bad.status_code == 400 and bad.json()["code"] == "invalidClientIdOrSecret"


async def _user_token(ding: Ding, **body: Any) -> httpx.Response:
    app = ding.server.app
    payload = {"clientId": app.app_key, "clientSecret": app.app_secret, **body}
    return await ding.http.post("/v1.0/oauth2/userAccessToken", json=payload)


async def test_eb07_eb22_user_access_token_and_a_bad_or_reused_code(
    ding: Ding, sb: SandboxServer
) -> None:
    userid = sorted(sb.company.users)[0]
    code = sb.mint_authcode(userid)
    # EB-22: a token header (even a bogus one) is not needed and is ignored
    ok = await ding.http.post(
        "/v1.0/oauth2/userAccessToken",
        json={
            "clientId": sb.app.app_key,
            "clientSecret": sb.app.app_secret,
            "code": code,
            "grantType": "authorization_code",
        },
        headers={"x-acs-dingtalk-access-token": "not-a-token"},
    )
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert set(body) == {"accessToken", "refreshToken", "expireIn", "corpId"}
    assert body["expireIn"] == 7200 and body["corpId"] == sb.app.corp_id

    # EB-07: the same code again → HTTP 400 {code, message, requestid}, code invalidParameter
    reused = await _user_token(ding, code=code, grantType="authorization_code")
    assert reused.status_code == 400
    err = reused.json()
    assert set(err) == {"code", "message", "requestid"}
    assert err["code"] == "invalidParameter" and err["requestid"]
    assert reused.headers["x-acs-request-id"] == err["requestid"]
    unknown = await _user_token(ding, code="no-such-code", grantType="authorization_code")
    assert unknown.status_code == 400 and unknown.json()["code"] == "invalidParameter"

    sb.configure(user_code_error="invalid.authCode")  # the code string is configurable
    other = await _user_token(ding, code="no-such-code", grantType="authorization_code")
    assert other.status_code == 400 and other.json()["code"] == "invalid.authCode"

    refreshed = await _user_token(
        ding, refreshToken=body["refreshToken"], grantType="refresh_token"
    )
    assert refreshed.status_code == 200 and refreshed.json()["accessToken"] != body["accessToken"]
    bad_refresh = await _user_token(ding, refreshToken="nope", grantType="refresh_token")
    assert bad_refresh.status_code == 400 and bad_refresh.json()["code"] == "invalid.authCode"
    wrong_app = await ding.http.post(
        "/v1.0/oauth2/userAccessToken",
        json={
            "clientId": sb.app.app_key,
            "clientSecret": "wrong",
            "code": sb.mint_authcode(userid),
            "grantType": "authorization_code",
        },
    )
    assert wrong_app.status_code == 400 and wrong_app.json()["code"] == "invalidClientIdOrSecret"
    form = await ding.http.post("/v1.0/oauth2/userAccessToken", data={"clientId": "x"})
    assert form.status_code == 400 and form.json()["code"] == "Missingbody"


async def test_eb13_list_parent_depts_flat_for_one_department_nested_for_several(
    ding: Ding, sb: SandboxServer
) -> None:
    company = sb.company
    single = next(u for u in company.users.values() if len(u.memberships) == 1)
    several = next(u for u in company.users.values() if len(u.memberships) > 1)
    one = await ding.old_get("/department/list_parent_depts", userId=single.userid)
    assert one["errcode"] == 0 and "request_id" not in one
    assert one["department"] == company.ancestors(single.memberships[0].dept_id)
    assert one["department"][-1] == 1
    many = await ding.old_get("/department/list_parent_depts", userId=several.userid)
    assert many["department"] == [company.ancestors(m.dept_id) for m in several.memberships]
    assert all(isinstance(path, list) and path[-1] == 1 for path in many["department"])
    unknown = await ding.old_get("/department/list_parent_depts", userId="nobody-here")
    assert unknown["errcode"] == 60121


async def test_eb15_get_admin_uses_the_admin_list_key_of_the_sdks(
    ding: Ding, sb: SandboxServer
) -> None:
    # DingTalk's official Java SDK and the Python one read ``admin_list``, not the doc's key
    body = await ding.old_get("/user/get_admin")
    assert body["errcode"] == 0 and "adminList" not in body and "request_id" not in body
    got = {a["userid"]: a["sys_level"] for a in body["admin_list"]}
    assert got == dict(sb.company.admins)
    assert 1 in got.values()  # there is a main administrator


def _sign(algorithm: str, ticket: str, nonce: str, stamp: str, url: str) -> str:
    plain = f"jsapi_ticket={ticket}&noncestr={nonce}&timestamp={stamp}&url={url}"
    return hashlib.new(algorithm, plain.encode()).hexdigest()


async def test_eb17_eb18_dd_config_accepts_sha256_and_sha1_with_an_opaque_timestamp(
    ding: Ding, sb: SandboxServer
) -> None:
    ticket = (await ding.old_get("/get_jsapi_ticket"))["ticket"]
    url = "http://127.0.0.1:8000/app?a=1&name=%E5%BC%A0"
    decoded = "http://127.0.0.1:8000/app?a=1&name=张"

    async def verify(signature: str, stamp: str, page: str = url) -> httpx.Response:
        return await ding.http.post(
            "/sandbox/jsapi/verify",
            json={
                "agentId": sb.app.agent_id,
                "corpId": sb.app.corp_id,
                "timeStamp": stamp,
                "nonceStr": "abcdefgh",
                "signature": signature,
                "url": page + "#/route",
            },
        )

    # EB-18: seconds, milliseconds or any text — only the signed value matters
    for stamp in ("1700000000", "1700000000000", "not-even-a-number"):
        for algorithm in ("sha256", "sha1"):
            r = await verify(_sign(algorithm, ticket, "abcdefgh", stamp, decoded), stamp)
            assert r.status_code == 200 and r.json() == {"ok": True, "algorithm": algorithm}
    raw = await verify(_sign("sha256", ticket, "abcdefgh", "1", url), "1")
    assert raw.status_code == 200  # the query as the browser shows it also passes
    wrong = await verify(_sign("sha256", ticket, "abcdefgh", "1", decoded), "2")
    assert wrong.status_code == 400 and "52013" in wrong.json()["message"]

    sb.configure(jsapi_reject_sha1=True)  # EB-17's knob
    sha1 = await verify(_sign("sha1", ticket, "abcdefgh", "1", decoded), "1")
    assert sha1.status_code == 400 and "签名校验失败" in sha1.json()["message"]
    sha256 = await verify(_sign("sha256", ticket, "abcdefgh", "1", decoded), "1")
    assert sha256.status_code == 200


async def test_eb19_eb27_monthly_quota_counts_non_exempt_apis_only(
    ding: Ding, sb: SandboxServer
) -> None:
    tok = await ding.token()
    sb.reset_stats()
    sb.configure(monthly_quota=2)
    counted = "/topapi/report/template/listbyuserid"
    assert (await ding.top(counted, {}, token=tok))["errcode"] == 0
    failed = await ding.top(counted, {"size": 1000}, token=tok)
    assert failed["errcode"] == 400002  # failed calls do not count
    r = await ding.http.get("/user/get_admin", params={"access_token": tok})  # archived: counts
    assert r.json()["errcode"] == 0
    assert sb.stats()["quota_used"] == 2
    over = await ding.top(counted, {}, token=tok)
    assert over["errcode"] == 90020 and "sub_code" not in over and CJK.search(over["errmsg"])
    archived = await ding.http.get("/user/get_admin", params={"access_token": tok})
    assert archived.json()["errcode"] == 90020
    # v1.0: 403 Forbidden.AccessDenied.ApiCountLimitForOrg (EB-27); {corpId}/token counts
    v1 = await ding.v1(
        "GET",
        "/v1.0/workflow/processes/userVisibilities/templates?maxResults=10&nextToken=0",
        token=tok,
    )
    assert v1.status_code == 403
    assert v1.json()["code"] == "Forbidden.AccessDenied.ApiCountLimitForOrg"
    corp_token = await ding.http.post(
        f"/v1.0/oauth2/{sb.app.corp_id}/token",
        json={
            "client_id": sb.app.app_key,
            "client_secret": sb.app.app_secret,
            "grant_type": "client_credentials",
        },
    )
    assert corp_token.status_code == 403  # EB-19: not on the exempt list
    # exempt: token, contacts, smart HR, login-free
    assert (await ding.top("/topapi/user/listadmin", token=tok))["errcode"] == 0
    assert (await ding.top("/topapi/v2/department/listsub", {"dept_id": 1}, token=tok))[
        "errcode"
    ] == 0
    hrm = await ding.top(
        "/topapi/smartwork/hrm/employee/querydimission", {"offset": 0, "size": 10}, token=tok
    )
    assert hrm["errcode"] == 0
    assert _v1_token(sb)
    gettoken = await ding.http.get(
        "/gettoken", params={"appkey": sb.app.app_key, "appsecret": sb.app.app_secret}
    )
    assert gettoken.json()["errcode"] == 90020  # EB-19: the archived /gettoken counts
    # a new calendar month (Asia/Shanghai) starts from zero
    sb.clock.advance(32 * 86400)
    fresh = _v1_token(sb)
    assert (await ding.top(counted, {}, token=fresh))["errcode"] == 0
    assert sb.stats()["quota_used"] == 1


async def test_eb20_global_per_api_limit_answers_90002_and_bans(
    ding: Ding, sb: SandboxServer
) -> None:
    tok = await ding.token()
    sb.configure(global_qps_limit=2, global_ban_s=1.0, rate_limit_wrapped=True)
    answers = await asyncio.gather(
        *(ding.top("/topapi/user/listadmin", token=tok) for _ in range(5))
    )
    limited = [a for a in answers if a["errcode"] != 0]
    assert len(limited) == 3
    assert all(a["errcode"] == 90002 and "sub_code" not in a for a in limited)  # never wrapped
    assert all("/topapi/user/listadmin" in a["errmsg"] for a in limited)
    banned = await ding.top("/topapi/user/listadmin", token=tok)
    assert banned["errcode"] == 90002  # the ban holds after the burst
    other = await ding.top("/topapi/user/count", {"only_active": True}, token=tok)
    assert other["errcode"] == 0  # per API
    v1 = await asyncio.gather(
        *(ding.v1("POST", "/v1.0/oauth2/jsapiTickets", token=tok) for _ in range(4))
    )
    refused = [r for r in v1 if r.status_code == 403]
    assert refused and all(
        r.json()["code"] == "Forbidden.AccessDenied.QpsLimitForApi" for r in refused
    )
    await asyncio.sleep(2.1)  # the one-second ban is over, the window slid on
    assert (await ding.top("/topapi/user/listadmin", token=tok))["errcode"] == 0
    sb.configure(global_qps_limit=None)
    assert SandboxConfig().global_qps_limit is None  # off by default


async def test_eb25_ip_ban_is_a_json_page_with_http_200_for_five_minutes(
    ding: Ding, sb: SandboxServer
) -> None:
    tok = await ding.token()
    assert SandboxConfig().ip_ban_calls is None  # off by default (DingTalk: 10,000 in 20 s)
    sb.configure(ip_ban_calls=3, ip_ban_window_s=20, ip_ban_s=300)
    for _ in range(3):
        assert (await ding.top("/topapi/user/listadmin", token=tok))["errcode"] == 0
    r = await ding.http.post("/topapi/user/listadmin", params={"access_token": tok}, json={})
    assert r.status_code == 200
    body = r.json()
    assert {k: body[k] for k in ("status", "wait", "source", "punish")} == {
        "status": 1111,
        "wait": 5,
        "source": "x5",
        "punish": "deny",
    }
    assert body["uuid"] and "errcode" not in body
    v1 = await ding.v1("POST", "/v1.0/oauth2/jsapiTickets", token=tok)
    assert v1.status_code == 200 and v1.json()["punish"] == "deny"  # every API, both hosts
    assert (await ding.http.get("/sandbox/stats")).status_code == 200  # control API untouched
    sb.clock.advance(299)
    assert (await ding.http.get("/gettoken")).json()["status"] == 1111
    sb.clock.advance(2)  # five minutes are over
    assert (await ding.top("/topapi/user/listadmin", token=tok))["errcode"] == 0


async def test_eb26_old_family_errmsg_is_chinese(ding: Ding, sb: SandboxServer) -> None:
    tok = await ding.token()
    people = _attendance_people(sb, 1)
    now = datetime.now(GMT8)
    answers = [
        await ding.top("/topapi/v2/user/getuserinfo", {"code": "bad"}, token=tok),  # 40078
        await ding.top("/topapi/v2/user/get", {"userid": "nobody"}, token=tok),  # 60121
        await ding.top("/topapi/v2/department/get", {"dept_id": 999999999}, token=tok),
        await ding.top("/topapi/user/listsimple", {"dept_id": 1, "cursor": -1}, token=tok),
        (await ding.http.get("/gettoken")).json(),  # 40035
        await ding.top(
            "/attendance/list",
            {
                "workDateFrom": "2026/01/01",
                "workDateTo": _wire(now),
                "userIdList": people,
                "offset": 0,
                "limit": 50,
            },
            token=tok,
        ),
        await ding.top("/topapi/report/list", {"cursor": 0, "size": 99}, token=tok),
    ]
    codes = [a["errcode"] for a in answers]
    assert codes == [40078, 60121, 60003, 40068, 40035, 41100, 400002]
    assert all(CJK.search(a["errmsg"]) for a in answers), answers


async def test_eb29_per_path_qps_applies_to_report_attendance_and_approval_apis(
    ding: Ding, sb: SandboxServer
) -> None:
    assert SandboxConfig().qps_limit == 20  # 20 QPS per app per API by default
    tok = await ding.token()
    path = "/topapi/report/template/listbyuserid"
    sb.configure(qps_limit=None, qps_overrides={path: 1, "/topapi/process/listbyuserid": 1})
    reports = await asyncio.gather(*(ding.top(path, {}, token=tok) for _ in range(3)))
    assert sorted(a["errcode"] for a in reports) == [0, 90018, 90018]
    approvals = await asyncio.gather(
        *(
            ding.top("/topapi/process/listbyuserid", {"offset": 0, "size": 10}, token=tok)
            for _ in range(2)
        )
    )
    assert sorted(a["errcode"] for a in approvals) == [0, 90018]
    sb.reset_stats()
    assert sb.stats()["rate_limited"] == {}


# =============================================================================================
# Reports
# =============================================================================================
async def test_eb31_data_scope_knob_omits_people_from_lists_and_refuses_single_user_calls(
    ding: Ding, sb: SandboxServer
) -> None:
    tok = await ding.token()
    company = sb.company
    assert SandboxConfig().data_scope_dept_ids is None  # the whole org by default

    def people_below(dept_id: int) -> set[str]:
        below = {dept_id}
        while True:  # the department and everything under it
            grown = below | {d for d, dep in company.departments.items() if dep.parent_id in below}
            if grown == below:
                break
            below = grown
        return {
            u.userid
            for u in company.users.values()
            if any(m.dept_id in below for m in u.memberships)
        }

    top_id = max((d.dept_id for d in company.children(1)), key=lambda d: len(people_below(d)))
    inside = people_below(top_id)
    outside = sorted(set(company.users) - inside)
    assert inside and outside

    now_ms = int(time.time() * 1000)
    window = {"start_time": now_ms - 20 * DAY_MS, "end_time": now_ms, "size": 20}

    async def authors() -> set[str]:
        seen: set[str] = set()
        cursor = 0
        while True:
            body = await ding.ok(
                "/topapi/report/simplelist", {**window, "cursor": cursor}, token=tok
            )
            seen.update(r["creator_id"] for r in body["result"]["data_list"])
            if not body["result"]["has_more"]:
                return seen
            cursor = body["result"]["next_cursor"]

    everyone = await authors()
    assert everyone - inside  # without a scope, people outside write reports too
    sb.configure(data_scope_dept_ids=[top_id])
    scoped = await authors()
    assert scoped and scoped <= inside

    people = _attendance_people(sb, len(sb.state.areas["attendance"].world.by_user))
    out_people = [u for u in people if u not in inside][:10]
    in_people = [u for u in people if u in inside][:10]
    today = datetime.now(GMT8).replace(hour=0, minute=0, second=0, microsecond=0)
    att = await ding.ok(
        "/attendance/list",
        {
            "workDateFrom": _wire(today - timedelta(days=6)),
            "workDateTo": _wire(today),
            "userIdList": out_people + in_people,
            "offset": 0,
            "limit": 50,
        },
        token=tok,
    )
    assert att["recordresult"] and {r["userId"] for r in att["recordresult"]} <= set(in_people)
    single = await ding.top(
        "/topapi/attendance/getupdatedata",
        {"userid": out_people[0], "work_date": _wire(today - timedelta(days=1))},
        token=tok,
    )
    assert single["errcode"] == 50002
    tpl = await ding.top(
        "/topapi/report/template/getbyname",
        {"userid": outside[0], "template_name": "日报"},
        token=tok,
    )
    assert tpl["errcode"] == 50002

    world = sb.state.areas["approvals"].world
    for t in world.templates:
        body = await ding.ok(
            "/topapi/processinstance/listids",
            {"process_code": t.process_code, "start_time": now_ms - 30 * DAY_MS, "size": 20},
            token=tok,
        )
        assert {world.instances[p].originator_userid for p in body["result"]["list"]} <= inside


async def test_eb32_no_retention_cap_on_reports(ding: Ding, sb: SandboxServer) -> None:
    tok = await ding.token()
    now_ms = int(time.time() * 1000)
    for years in (1, 3):
        end = now_ms - years * 365 * DAY_MS
        body = await ding.top(
            "/topapi/report/list",
            {"start_time": end - 170 * DAY_MS, "end_time": end, "cursor": 0, "size": 20},
            token=tok,
        )
        assert body["errcode"] == 0 and body["result"]["data_list"] == []


async def test_eb39_invalid_cursor_is_40068_on_contacts_400002_elsewhere(
    ding: Ding, sb: SandboxServer
) -> None:
    tok = await ding.token()
    contacts = [
        await ding.top("/topapi/user/listsimple", {"dept_id": 1, "cursor": -1}, token=tok),
        await ding.top("/topapi/user/listsimple", {"dept_id": 1, "cursor": "x"}, token=tok),
        await ding.top(
            "/topapi/smartwork/hrm/employee/querydimission", {"offset": -1, "size": 10}, token=tok
        ),
        await ding.top(
            "/topapi/smartwork/hrm/employee/querydimission",
            {"offset": "abc", "size": 10},
            token=tok,
        ),
    ]
    assert [a["errcode"] for a in contacts] == [40068] * 4
    assert all(a["errmsg"] == "无效的偏移量" for a in contacts)
    missing = await ding.top(
        "/topapi/smartwork/hrm/employee/querydimission", {"size": 10}, token=tok
    )
    assert missing["errcode"] == 400002

    now_ms = int(time.time() * 1000)
    report_window = {"start_time": now_ms - 10 * DAY_MS, "end_time": now_ms, "size": 20}
    first = await ding.ok("/topapi/report/list", {**report_window, "cursor": 0}, token=tok)
    assert first["result"]["data_list"]
    elsewhere = [
        await ding.top("/topapi/report/list", {**report_window, "cursor": 5}, token=tok),
        await ding.top("/topapi/report/list", {**report_window, "cursor": -1}, token=tok),
        await ding.top(
            "/topapi/report/receiver/list",
            {"report_id": first["result"]["data_list"][0]["report_id"], "offset": -1},
            token=tok,
        ),
        await ding.top("/topapi/attendance/getsimplegroups", {"offset": -1}, token=tok),
    ]
    today = datetime.now(GMT8).replace(hour=0, minute=0, second=0, microsecond=0)
    elsewhere.append(
        await ding.top(
            "/attendance/list",
            {
                "workDateFrom": _wire(today - timedelta(days=2)),
                "workDateTo": _wire(today),
                "userIdList": _attendance_people(sb, 2),
                "offset": -1,
                "limit": 50,
            },
            token=tok,
        )
    )
    assert [a["errcode"] for a in elsewhere] == [400002] * 5


# =============================================================================================
# Attendance
# =============================================================================================
async def test_eb41_attendance_list_limit_and_users_capped_at_50(
    ding: Ding, sb: SandboxServer
) -> None:
    tok = await ding.token()
    people = _attendance_people(sb, 51)
    today = datetime.now(GMT8).replace(hour=0, minute=0, second=0, microsecond=0)
    base = {
        "workDateFrom": _wire(today - timedelta(days=6)),
        "workDateTo": _wire(today),
        "offset": 0,
    }
    ok = await ding.top(
        "/attendance/list", {**base, "userIdList": people[:50], "limit": 50}, token=tok
    )
    assert ok["errcode"] == 0 and len(ok["recordresult"]) == 50 and ok["hasMore"] is True
    over = await ding.top(
        "/attendance/list", {**base, "userIdList": people[:50], "limit": 51}, token=tok
    )
    assert over["errcode"] == 400002
    doc_curl = await ding.top(  # the doc's curl sends limit=100 (Q13): still refused
        "/attendance/list", {**base, "userIdList": people[:5], "limit": 100}, token=tok
    )
    assert doc_curl["errcode"] == 400002
    users = await ding.top(
        "/attendance/list", {**base, "userIdList": people, "limit": 50}, token=tok
    )
    assert users["errcode"] == 400002
    record_users = await ding.top(
        "/attendance/listRecord",
        {
            "checkDateFrom": base["workDateFrom"],
            "checkDateTo": base["workDateTo"],
            "userIds": people,
        },
        token=tok,
    )
    assert record_users["errcode"] == 400002


async def test_eb42_malformed_attendance_date_is_41100(ding: Ding, sb: SandboxServer) -> None:
    tok = await ding.token()
    people = _attendance_people(sb, 2)
    good = _wire(datetime.now(GMT8))
    for bad in ("2026/11/01", "2026-11-01", "2026-11-01T09:00:00", "1700000000000"):
        listed = await ding.top(
            "/attendance/list",
            {
                "workDateFrom": bad,
                "workDateTo": good,
                "userIdList": people,
                "offset": 0,
                "limit": 50,
            },
            token=tok,
        )
        recorded = await ding.top(
            "/attendance/listRecord",
            {"checkDateFrom": good, "checkDateTo": bad, "userIds": people},
            token=tok,
        )
        assert listed["errcode"] == 41100 and recorded["errcode"] == 41100, (bad, listed, recorded)


# =============================================================================================
# Approvals
# =============================================================================================
async def test_eb52_listids_accepts_up_to_20_originators(ding: Ding, sb: SandboxServer) -> None:
    tok = await ding.token()
    code = sb.state.areas["approvals"].world.templates[0].process_code
    now_ms = int(time.time() * 1000)
    users = sorted(sb.company.users)[:21]
    window = {"process_code": code, "start_time": now_ms - 20 * DAY_MS, "end_time": now_ms}
    ok = await ding.top(
        "/topapi/processinstance/listids",
        {**window, "userid_list": ",".join(users[:20])},
        token=tok,
    )
    assert ok["errcode"] == 0
    over = await ding.top(
        "/topapi/processinstance/listids", {**window, "userid_list": ",".join(users)}, token=tok
    )
    assert over["errcode"] == 400002


async def test_eb54_listids_returns_every_instance_of_the_org(
    ding: Ding, sb: SandboxServer
) -> None:
    tok = await ding.token()
    world = sb.state.areas["approvals"].world
    now_ms = int(time.time() * 1000)
    start = now_ms - 30 * DAY_MS
    for tpl in world.templates:
        truth = sorted(
            pid
            for pid, inst in world.instances.items()
            if inst.process_code == tpl.process_code and start <= inst.create_ms <= now_ms
        )
        got: list[str] = []
        cursor = 0
        while True:
            body = await ding.ok(
                "/topapi/processinstance/listids",
                {"process_code": tpl.process_code, "start_time": start, "end_time": now_ms,
                 "cursor": cursor, "size": 20},
                token=tok,
            )  # fmt: skip
            got.extend(body["result"]["list"])
            if "next_cursor" not in body["result"]:
                break
            cursor = body["result"]["next_cursor"]
        assert sorted(got) == truth
        originators = {world.instances[p].originator_userid for p in got}
        assert len(originators) == len({world.instances[p].originator_userid for p in truth})


async def test_eb55_historic_permissions_granted_by_default_knob_denies_them(
    ding: Ding, sb: SandboxServer
) -> None:
    tok = await ding.token()
    world = sb.state.areas["approvals"].world
    pid = next(iter(world.instances))
    code = world.instances[pid].process_code
    now_ms = int(time.time() * 1000)
    report_id = sb.state.areas["reports"].world.reports[-1].report_id
    calls = [
        ("/topapi/report/statistics", {"report_id": report_id}),
        ("/topapi/processinstance/get", {"process_instance_id": pid}),
        ("/topapi/processinstance/listids", {"process_code": code, "start_time": now_ms - DAY_MS}),
        ("/topapi/process/listbyuserid", {"offset": 0, "size": 10}),
    ]
    for path, body in calls:
        assert (await ding.top(path, body, token=tok))["errcode"] == 0, path
    sb.configure(historic_permissions_denied=True)
    for path, body in calls:
        denied = await ding.top(path, body, token=tok)
        assert denied["errcode"] == 60011 and denied["errmsg"] == "没有调用该接口的权限", path
    # the current permissions stay granted: v1.0 workflow, report lists
    v1 = await ding.v1("GET", f"/v1.0/workflow/processInstances?processInstanceId={pid}", token=tok)
    assert v1.status_code == 200
    window = {"start_time": now_ms - DAY_MS, "end_time": now_ms, "cursor": 0, "size": 20}
    assert (await ding.top("/topapi/report/list", window, token=tok))["errcode"] == 0
    sb.configure(historic_permissions_denied=False, approvals_v1_denied=True)
    try:
        v1 = await ding.v1(
            "GET", f"/v1.0/workflow/processInstances?processInstanceId={pid}", token=tok
        )
        assert v1.status_code == 403
        assert v1.json()["code"] == "Forbidden.AccessDenied.AccessTokenPermissionDenied"
    finally:
        sb.configure(approvals_v1_denied=False)


# =============================================================================================
# Events
# =============================================================================================
class _Receiver:
    """A bare callback receiver on loopback: decrypts ``check_url`` and replies ``success``
    under the timestamp key ``ts_key`` (``timeStamp`` or ``timestamp``)."""

    def __init__(self, crypto: CallbackCrypto, ts_key: str, good_signature: bool = True) -> None:
        self.crypto = crypto
        self.ts_key = ts_key
        self.good_signature = good_signature
        self.seen: list[str] = []

        async def callback(request: Request) -> JSONResponse:
            q = request.query_params
            body = await request.json()
            ts, nonce = q["timestamp"], q["nonce"]
            self.seen.append(
                self.crypto.decrypt_request(q["msg_signature"], ts, nonce, body["encrypt"])
            )
            reply = self.crypto.success_reply(ts, nonce)
            out = {
                "msg_signature": reply["msg_signature"] if self.good_signature else "0" * 40,
                self.ts_key: reply["timeStamp"],
                "nonce": reply["nonce"],
                "encrypt": reply["encrypt"],
            }
            return JSONResponse(out)

        app = Starlette(routes=[Route("/cb", callback, methods=["POST"])])
        self.server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        )
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/cb"
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])), daemon=True
        )

    def __enter__(self) -> _Receiver:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


TOKEN = "ebTestToken0123456789"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture
def no_callback(sb: SandboxServer) -> Iterator[None]:
    yield
    httpx.post(f"{sb.base_url}/sandbox/events/callback", json={})  # unsubscribe


@pytest.mark.parametrize("ts_key", ["timeStamp", "timestamp"])
def test_eb72_reply_timestamp_key_either_casing_is_accepted(
    sb: SandboxServer, no_callback: None, ts_key: str
) -> None:
    crypto = CallbackCrypto(TOKEN, AES_KEY, sb.app.app_key)
    with _Receiver(crypto, ts_key) as rcv:
        r = httpx.post(
            f"{sb.base_url}/sandbox/events/callback",
            json={"url": rcv.url, "token": TOKEN, "aes_key": AES_KEY, "receiver": "app_key"},
            timeout=10,
        )
        assert r.status_code == 200 and r.json()["registered"] is True, r.text
        assert rcv.seen == ['{"EventType": "check_url"}']
    with _Receiver(crypto, ts_key, good_signature=False) as bad:
        r = httpx.post(
            f"{sb.base_url}/sandbox/events/callback",
            json={"url": bad.url, "token": TOKEN, "aes_key": AES_KEY},
            timeout=10,
        )
        assert r.status_code == 409  # the reply's signature is still checked


def _emitted(sb: SandboxServer) -> list[dict[str, Any]]:
    return list(httpx.get(f"{sb.base_url}/sandbox/events/emitted").json())


def _mutate_approval(sb: SandboxServer, action: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{sb.base_url}/sandbox/mutate/approvals/{action}", json=body)


async def test_eb78_deleting_an_instance_emits_nothing_unless_the_knob_says_so(
    ding: Ding, sb: SandboxServer
) -> None:
    tok = await ding.token()
    submitted = _mutate_approval(sb, "submit").json()
    pid = submitted["process_instance_id"]
    before = len(_emitted(sb))
    gone = _mutate_approval(sb, "delete", process_instance_id=pid)
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    assert len(_emitted(sb)) == before  # not announced by default
    old = await ding.top("/topapi/processinstance/get", {"process_instance_id": pid}, token=tok)
    assert old["errcode"] == 820005
    new = await ding.v1("GET", f"/v1.0/workflow/processInstances?processInstanceId={pid}")
    assert new.status_code == 400 and new.json()["code"] == "processInstanceNotExist"
    now_ms = int(time.time() * 1000)
    ids = await ding.ok(
        "/topapi/processinstance/listids",
        {"process_code": submitted["process_code"], "start_time": now_ms - DAY_MS, "size": 20},
        token=tok,
    )
    assert pid not in ids["result"]["list"]
    assert _mutate_approval(sb, "delete", process_instance_id=pid).status_code == 404

    sb.configure(events_bpms_delete=True)
    try:
        pid2 = _mutate_approval(sb, "submit").json()["process_instance_id"]
        assert _mutate_approval(sb, "delete", process_instance_id=pid2).status_code == 200
        last = _emitted(sb)[-1]
        assert last["event_type"] == "bpms_instance_change"
        assert last["processInstanceId"] == pid2 and last["type"] == "delete"
    finally:
        sb.configure(events_bpms_delete=False)


def test_eb78_terminate_is_announced_as_type_terminate(sb: SandboxServer) -> None:
    pid = _mutate_approval(sb, "submit").json()["process_instance_id"]
    done = _mutate_approval(sb, "terminate", process_instance_id=pid)
    assert done.status_code == 200 and done.json()["status"] == "TERMINATED"
    last = _emitted(sb)[-1]
    assert last["processInstanceId"] == pid and last["type"] == "terminate"
    assert "result" not in last  # absent on terminate (events.md §2.3)
    assert _mutate_approval(sb, "terminate", process_instance_id=pid).status_code == 409


def test_eb79_a_punch_emits_no_schedule_change(sb: SandboxServer) -> None:
    before = len(_emitted(sb))
    r = httpx.post(f"{sb.base_url}/sandbox/mutate/attendance/punch", json={})
    assert r.status_code == 200, r.text
    new = _emitted(sb)[before:]
    assert [e["event_type"] for e in new] == ["attendance_check_record"]


async def test_eb83_unacknowledged_frames_are_redelivered_after_60s_up_to_3_times(
    sb: SandboxServer,
) -> None:
    async with httpx.AsyncClient(base_url=sb.base_url) as http:
        config = (await http.get("/sandbox/config")).json()
    assert config["events_stream_redeliver_s"] == 60
    assert config["events_stream_max_redeliveries"] == 3
    assert config["events_stream_ping_s"] == 60  # EB-84
    assert config["events_http_timeout_ms"] == 1500  # EB-74
    sb.configure(events_stream_ping_s=100_000)
    try:
        async with httpx.AsyncClient() as http:
            conn = await open_connection(http, sb.base_url, sb.app.app_key, sb.app.app_secret)
        async with websockets.connect(conn.url) as ws:

            async def next_event(wait: float = 5.0) -> dict[str, Any]:
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), wait))
                    if frame["type"] == "EVENT":
                        return dict(frame)

            await asyncio.sleep(0.1)  # let events kept from earlier tests arrive first
            while True:
                try:
                    await ws.send(event_ack((await next_event(0.5))["headers"]["messageId"]))
                except TimeoutError:
                    break
            async with httpx.AsyncClient(base_url=sb.base_url) as http:
                r = await http.post("/sandbox/mutate/attendance/punch", json={})
            event_id = r.json()["event_id"]
            first = await next_event()
            assert first["headers"]["eventId"] == event_id
            sb.clock.advance(59)
            with pytest.raises(TimeoutError):
                await next_event(0.3)  # not before 60 s
            for _ in range(3):
                sb.clock.advance(2)
                again = await next_event()
                assert again["headers"]["messageId"] == first["headers"]["messageId"]
                sb.clock.advance(58)
            sb.clock.advance(61)
            with pytest.raises(TimeoutError):
                await next_event(0.5)  # given up after the third redelivery
        assert sb.stats()["events"]["stream_given_up"] >= 1
    finally:
        sb.configure(events_stream_ping_s=60.0)


async def test_eb91_corp_access_token_only_under_v1(ding: Ding, sb: SandboxServer) -> None:
    body = {
        "suiteKey": "suiteFake0000",
        "suiteSecret": "secret",
        "authCorpId": sb.app.corp_id,
        "suiteTicket": "TestSuiteTicket",
    }
    without = await ding.http.post("/oauth2/corpAccessToken", json=body)
    assert without.status_code == 200
    assert without.json() == {"errcode": 404, "errmsg": "请求的URI地址不存在"}
    with_v1 = await ding.http.post("/v1.0/oauth2/corpAccessToken", json=body)
    assert with_v1.status_code == 400 and with_v1.json()["code"] == "invalidSuiteKey"
    with_header = await ding.http.post(
        "/v1.0/oauth2/corpAccessToken",
        json=body,
        headers={"x-acs-dingtalk-access-token": await ding.token()},
    )
    assert with_header.json()["code"] == "invalidSuiteKey"  # the header changes nothing
    missing = await ding.http.post("/v1.0/oauth2/corpAccessToken", json={"suiteKey": "x"})
    assert missing.status_code == 400 and missing.json()["code"].startswith("Missing")
    # other unknown old-host paths answer the same way; /sandbox/* keeps its own 404
    assert (await ding.http.get("/no/such/path")).json()["errcode"] == 404
    assert (await ding.http.get("/sandbox/no-such")).status_code == 404


async def test_eb30_report_windows_reversed_or_over_180_days_are_400002_with_their_reason(
    ding: Ding, sb: SandboxServer
) -> None:
    """``report/list`` and ``simplelist``: a window over 180 days is ``400002`` (EB-30) saying
    so; an ``end_time`` before ``start_time`` is ``400002`` too, saying that instead."""
    tok = await ding.token()
    now_ms = int(time.time() * 1000)
    for path in ("/topapi/report/list", "/topapi/report/simplelist"):
        page = {"cursor": 0, "size": 20}
        wide = await ding.top(
            path, {"start_time": now_ms - 181 * DAY_MS, "end_time": now_ms, **page}, token=tok
        )
        assert wide["errcode"] == 400002 and "180天" in wide["errmsg"], wide
        reversed_ = await ding.top(
            path, {"start_time": now_ms, "end_time": now_ms - DAY_MS, **page}, token=tok
        )
        assert reversed_["errcode"] == 400002, reversed_
        assert "180天" not in reversed_["errmsg"] and "end_time" in reversed_["errmsg"]
        edge = await ding.top(
            path, {"start_time": now_ms - 180 * DAY_MS, "end_time": now_ms, **page}, token=tok
        )
        assert edge["errcode"] == 0, edge
