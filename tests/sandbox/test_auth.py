"""Tokens, token errors on both hosts, login-free codes and JSAPI tickets."""

from __future__ import annotations

import httpx

from dingsync.sandbox import SandboxServer

from .helpers import Ding


async def test_gettoken_and_its_errors(ding: Ding, sb: SandboxServer) -> None:
    app = sb.app
    r = await ding.http.get(
        "/gettoken", params={"appkey": app.app_key, "appsecret": app.app_secret}
    )
    body = r.json()
    assert body["errcode"] == 0 and body["errmsg"] == "ok" and body["expires_in"] == 7200
    assert "request_id" not in body
    assert r.headers["server"] == "DingTalk/1.0.0"
    assert r.headers["content-type"] == "application/json"

    bad = await ding.http.get("/gettoken", params={"appkey": app.app_key, "appsecret": "nope"})
    assert bad.json() == {"errcode": 40096, "errmsg": "不合法的appKey或appSecret"}
    corp = await ding.http.get("/gettoken", params={"corpid": "dingx", "corpsecret": "y"})
    assert corp.json()["errcode"] == 40089
    legacy = await ding.http.get(
        "/gettoken", params={"corpid": app.corp_id, "corpsecret": app.app_secret}
    )
    assert legacy.json()["access_token"] == body["access_token"]
    missing = await ding.http.get("/gettoken")
    assert missing.json() == {"errcode": 40035, "errmsg": "缺少参数 corpid or appkey"}
    assert sb.stats()["token_requests"] == 5


async def test_token_is_reused_extended_and_expires(ding: Ding, sb: SandboxServer) -> None:
    first = await ding.token()
    sb.clock.advance(7000)
    assert await ding.token() == first  # same token, life extended to now + 7200
    sb.clock.advance(7000)  # 14000 s after issue, but 7000 s after the extension
    await ding.ok("/topapi/user/listadmin", token=first)
    sb.clock.advance(7201)
    expired = await ding.top("/topapi/user/listadmin", token=first)
    assert expired["errcode"] == 88 and expired["sub_code"] == "40014"
    fresh = await ding.token()
    assert fresh != first
    await ding.ok("/topapi/user/listadmin", token=fresh)


async def test_topapi_token_errors(ding: Ding, sb: SandboxServer) -> None:
    r = await ding.http.post(
        "/topapi/v2/user/get", params={"access_token": "bad"}, json={"userid": "x"}
    )
    body = r.json()
    assert r.status_code == 200
    assert body["errcode"] == 88
    assert body["sub_code"] == "40014" and isinstance(body["sub_code"], str)
    assert body["sub_msg"] == "不合法的access_token"
    assert body["errmsg"] == "ding talk error[subcode=40014,submsg=不合法的access_token]"
    assert body["request_id"]
    assert r.headers["content-type"] == "application/json;charset=UTF-8"

    tok = await ding.token()
    blank = await ding.http.post(
        "/topapi/v2/user/get",
        json={"userid": "x"},
        headers={"x-acs-dingtalk-access-token": tok},  # the header does not count on topapi
    )
    assert blank.json()["errcode"] == 88 and blank.json()["sub_code"] == "40000"
    # a form body may carry the token
    in_form = await ding.http.post("/topapi/user/listadmin", data={"access_token": tok, "x": "1"})
    assert in_form.json()["errcode"] == 0
    bad_form = await ding.http.post("/topapi/user/listadmin", data={"access_token": "nope"})
    assert bad_form.json()["sub_code"] == "40014"


async def test_expired_token_code_knob(ding: Ding, sb: SandboxServer) -> None:
    tok = await ding.token()
    sb.clock.advance(7300)
    sb.configure(expired_token_code="42001")
    wrapped = await ding.top("/topapi/user/listadmin", token=tok)
    assert wrapped["errcode"] == 88 and wrapped["sub_code"] == "42001"
    sb.configure(expired_token_wrapped=False)
    bare = await ding.top("/topapi/user/listadmin", token=tok)
    assert bare["errcode"] == 42001 and "sub_code" not in bare
    unknown = await ding.top("/topapi/user/listadmin", token="never-issued")
    assert unknown["errcode"] == 88 and unknown["sub_code"] == "40014"


async def test_old_paths_answer_plain_40014(ding: Ding) -> None:
    r = await ding.http.get("/user/get", params={"access_token": "bad", "userid": "x"})
    assert r.json() == {"errcode": 40014, "errmsg": "不合法的access_token"}
    r = await ding.http.get("/get_jsapi_ticket", params={"access_token": "bad"})
    assert r.json()["errcode"] == 40014
    r = await ding.http.get("/department/list")
    assert r.json()["errcode"] == 41001


async def test_v1_access_token_shares_the_token_store(ding: Ding, sb: SandboxServer) -> None:
    app = sb.app
    r = await ding.http.post(
        "/v1.0/oauth2/accessToken", json={"appKey": app.app_key, "appSecret": app.app_secret}
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json;charset=utf-8"
    assert r.headers["x-acs-request-id"]
    body = r.json()
    assert body["expireIn"] == 7200
    assert body["accessToken"] == await ding.token()  # one token for both hosts (EB-05)
    await ding.ok("/topapi/user/listadmin", token=body["accessToken"])

    form = await ding.http.post(
        "/v1.0/oauth2/accessToken", data={"appKey": app.app_key, "appSecret": app.app_secret}
    )
    assert form.status_code == 400 and form.json()["code"] == "Missingbody"
    bad = await ding.http.post(
        "/v1.0/oauth2/accessToken", json={"appKey": app.app_key, "appSecret": "x"}
    )
    assert bad.status_code == 400
    err = bad.json()
    assert err["code"] == "invalidClientIdOrSecret"
    assert err["requestid"] == bad.headers["x-acs-request-id"]
    assert set(err) == {"code", "requestid", "message"}


async def test_v1_corp_token(ding: Ding, sb: SandboxServer) -> None:
    app = sb.app
    body = {
        "client_id": app.app_key,
        "client_secret": app.app_secret,
        "grant_type": "client_credentials",
    }
    r = await ding.http.post(f"/v1.0/oauth2/{app.corp_id}/token", json=body)
    assert r.status_code == 200 and r.json()["access_token"] == await ding.token()
    assert r.json()["expires_in"] == 7200
    other = await ding.http.post("/v1.0/oauth2/dingnotacorp/token", json=body)
    assert other.status_code == 500 and other.json()["code"] == "unknownError"
    grant = await ding.http.post(
        f"/v1.0/oauth2/{app.corp_id}/token", json={**body, "grant_type": "password"}
    )
    assert grant.status_code == 400 and grant.json()["code"] == "unsupported.grant.type"


async def test_v1_header_rules(ding: Ding, sb: SandboxServer) -> None:
    tok = await ding.token()
    path = "/v1.0/contact/empLeaveRecords"
    params = {
        "startTime": "2020-01-01T00:00:00Z",
        "endTime": "2020-06-01T00:00:00Z",
        "maxResults": 10,
    }
    ok = await ding.v1("GET", path, params=params, token=tok)
    assert ok.status_code == 200, ok.text
    in_query = await ding.http.get(path, params={**params, "access_token": tok})
    assert in_query.status_code == 400
    assert in_query.json()["code"] == "AuthenticationFailed.MissingParameter"
    bearer = await ding.http.get(path, params=params, headers={"Authorization": f"Bearer {tok}"})
    assert bearer.status_code == 400
    assert bearer.json()["code"] == "AuthenticationFailed.MissingParameter"
    bad = await ding.v1("GET", path, params=params, token="bad")
    assert bad.status_code == 400 and bad.json()["code"] == "InvalidAuthentication"
    quoted = await ding.v1("GET", path, params=params, token=f'"{tok}"')
    assert quoted.json()["code"] == "InvalidAuthentication"


async def test_login_code_single_use_and_sys_level(ding: Ding, sb: SandboxServer) -> None:
    company = sb.company
    expected = {
        company.main_admin_userid: 1,
        company.sub_admin_userids[0]: 2,
        company.boss_userid: 100,
    }
    plain = next(u for u in company.users if company.sys_level(u) == 0)
    expected[plain] = 0
    for userid, level in expected.items():
        r = await ding.http.post("/sandbox/authcode", json={"userid": userid})
        code = r.json()["code"]
        assert r.json()["authCode"] == code
        body = await ding.ok("/topapi/v2/user/getuserinfo", {"code": code})
        result = body["result"]
        assert result["userid"] == userid and result["sys_level"] == level
        assert result["sys"] is (level in (1, 2))
        assert result["name"] == company.users[userid].name
        again = await ding.top("/topapi/v2/user/getuserinfo", {"code": code})
        assert again == {
            "errcode": 40078,
            "errmsg": "不存在的临时授权码",
            "request_id": again["request_id"],
        }


async def test_login_code_expires_after_five_minutes(ding: Ding, sb: SandboxServer) -> None:
    userid = sb.company.boss_userid
    code = sb.mint_authcode(userid)
    sb.clock.advance(301)
    tok = await ding.token()
    body = await ding.top("/topapi/v2/user/getuserinfo", {"code": code}, token=tok)
    assert body["errcode"] == 40078 and "sub_code" not in body
    young = sb.mint_authcode(userid)
    sb.clock.advance(299)
    assert (await ding.top("/topapi/v2/user/getuserinfo", {"code": young}, token=tok))[
        "errcode"
    ] == 0
    missing = await ding.top("/topapi/v2/user/getuserinfo", {}, token=tok)
    assert missing["errcode"] == 41026
    unknown = await ding.top("/topapi/v2/user/getuserinfo", {"code": "abc"}, token=tok)
    assert unknown["errcode"] == 40078


async def test_authcode_for_unknown_or_left_people_is_404(ding: Ding, sb: SandboxServer) -> None:
    r = await ding.http.post("/sandbox/authcode", json={"userid": "nobody"})
    assert r.status_code == 404 and "error" in r.json()
    leaver = next(iter(sb.company.leavers))
    assert (await ding.http.post("/sandbox/authcode", json={"userid": leaver})).status_code == 404


async def test_old_getuserinfo_shape(ding: Ding, sb: SandboxServer) -> None:
    userid = sb.company.main_admin_userid
    body = await ding.old_get("/user/getuserinfo", code=sb.mint_authcode(userid))
    assert body["errcode"] == 0
    assert body["userid"] == userid and body["is_sys"] is True and body["sys_level"] == 1
    assert body["deviceId"] and "result" not in body and "request_id" not in body


async def test_jsapi_ticket_extension_and_24h_cap(ding: Ding, sb: SandboxServer) -> None:
    first = await ding.old_get("/get_jsapi_ticket", type="jsapi")
    assert first["errcode"] == 0 and first["expires_in"] == 7200 and "request_id" not in first
    v1 = await ding.v1("POST", "/v1.0/oauth2/jsapiTickets")
    assert v1.status_code == 200 and v1.json()["jsapiTicket"] == first["ticket"]
    assert v1.json()["expireIn"] == 7200
    for _ in range(12):  # 12 × 7000 s = 84000 s, each re-fetch extends the same ticket
        sb.clock.advance(7000)
        again = await ding.old_get("/get_jsapi_ticket")
        assert again["ticket"] == first["ticket"]
    assert again["expires_in"] <= 86400 - 84000
    sb.clock.advance(3000)  # past 24 h from creation
    renewed = await ding.old_get("/get_jsapi_ticket")
    assert renewed["ticket"] != first["ticket"] and renewed["expires_in"] == 7200


async def test_sandbox_app_endpoint(ding: Ding, sb: SandboxServer) -> None:
    r = await ding.http.get("/sandbox/app")
    assert r.json() == {
        "corp_id": sb.app.corp_id,
        "agent_id": sb.app.agent_id,
        "app_key": sb.app.app_key,
        "app_secret": sb.app.app_secret,
        "corp_name": sb.company.corp_name,
    }


async def test_credentials_can_be_chosen() -> None:
    from dingsync.sandbox import SandboxConfig

    cfg = SandboxConfig(
        users=20, app_key="dingkey", app_secret="s3cret", corp_id="dingcorp", agent_id=123
    )
    with SandboxServer(cfg) as server:
        assert server.app.agent_id == "123"
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            r = await http.get("/gettoken", params={"appkey": "dingkey", "appsecret": "s3cret"})
            assert r.json()["errcode"] == 0
