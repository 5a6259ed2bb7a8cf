"""The sandbox's DingTalk web login (auth-contacts.md §3.1–§3.3) and its client emulator, over
loopback HTTP: the authorize page's checks, the person picker, cancel, login codes for tests,
the OAuth code's kind and single use, wrong client secret, people who left, ``/sandbox/dd.js``
and CORS."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from dingsync.sandbox import SandboxServer

from .helpers import Ding


def _auth_params(sb: SandboxServer, **over: str) -> dict[str, str]:
    params = {
        "redirect_uri": "http://127.0.0.1:9/console/login/callback?keep=1",
        "response_type": "code",
        "client_id": sb.app.app_key,
        "scope": "openid",
        "state": "st-1",
        "prompt": "consent",
    }
    params.update(over)
    return params


def _query(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query)


async def _user_token(ding: Ding, sb: SandboxServer, code: str, **over: str) -> httpx.Response:
    body = {
        "clientId": sb.app.app_key,
        "clientSecret": sb.app.app_secret,
        "code": code,
        "grantType": "authorization_code",
        **over,
    }
    return await ding.http.post("/v1.0/oauth2/userAccessToken", json=body)


@pytest.mark.parametrize(
    ("over", "problem"),
    [
        ({"client_id": "dingnosuchapp"}, "client_id"),
        ({"redirect_uri": ""}, "redirect_uri"),
        ({"redirect_uri": "javascript:alert(1)"}, "redirect_uri"),
        ({"response_type": "token"}, "response_type"),
        ({"scope": "corpid"}, "scope"),
        ({"prompt": "none"}, "prompt"),
    ],
)
async def test_authorize_page_refuses_a_malformed_request(
    ding: Ding, sb: SandboxServer, over: dict[str, str], problem: str
) -> None:
    r = await ding.http.get("/oauth2/auth", params=_auth_params(sb, **over))
    assert r.status_code == 400 and "text/html" in r.headers["content-type"]
    assert problem in r.text and "location" not in r.headers
    # the POST (a person picked) is checked alike
    r = await ding.http.post(
        "/oauth2/auth", data={**_auth_params(sb, **over), "userid": sorted(sb.company.users)[0]}
    )
    assert r.status_code == 400


async def test_picking_a_person_redirects_with_authcode_and_code(
    ding: Ding, sb: SandboxServer
) -> None:
    user = sorted(sb.company.users.values(), key=lambda u: u.userid)[3]
    page = await ding.http.get("/oauth2/auth", params={**_auth_params(sb), "q": user.name})
    assert page.status_code == 200
    assert f'data-userid="{user.userid}"' in page.text
    r = await ding.http.post("/oauth2/auth", data={**_auth_params(sb), "userid": user.userid})
    assert r.status_code == 302
    location = r.headers["location"]
    assert location.startswith("http://127.0.0.1:9/console/login/callback?")
    q = _query(location)
    # the redirect keeps redirect_uri's own query; both names carry one value (Q14)
    assert q["keep"] == ["1"] and q["state"] == ["st-1"]
    assert q["authCode"] == q["code"] and len(q["code"][0]) == 32
    code = q["code"][0]

    # The OAuth code is not a login-free code: getuserinfo refuses it (a code of another kind)
    top = await ding.top("/topapi/v2/user/getuserinfo", {"code": code})
    assert top["errcode"] == 40078
    # …and userAccessToken takes it once.
    wrong = await _user_token(ding, sb, code, clientSecret="not-the-secret")
    assert (wrong.status_code, wrong.json()["code"]) == (400, "invalidClientIdOrSecret")
    ok = await _user_token(ding, sb, code)
    assert ok.status_code == 200, ok.text
    assert set(ok.json()) == {"accessToken", "refreshToken", "expireIn", "corpId"}
    assert ok.json()["corpId"] == sb.app.corp_id
    again = await _user_token(ding, sb, code)
    assert (again.status_code, again.json()["code"]) == (400, "invalidParameter")  # EB-07
    me = await ding.http.get(
        "/v1.0/contact/users/me",
        headers={"x-acs-dingtalk-access-token": ok.json()["accessToken"]},
    )
    assert me.json()["unionId"] == user.unionid
    found = await ding.top("/topapi/user/getbyunionid", {"unionid": user.unionid})
    assert found["result"]["userid"] == user.userid


async def test_an_expired_oauth_code_is_refused(ding: Ding, sb: SandboxServer) -> None:
    userid = sorted(sb.company.users)[5]
    r = await ding.http.post("/oauth2/auth", data={**_auth_params(sb), "userid": userid})
    code = _query(r.headers["location"])["code"][0]
    sb.clock.advance(sb.state.config.authcode_ttl_s + 1)
    expired = await _user_token(ding, sb, code)
    assert expired.status_code == 400


async def test_cancel_redirects_with_access_denied(ding: Ding, sb: SandboxServer) -> None:
    r = await ding.http.post("/oauth2/auth", data={**_auth_params(sb), "action": "cancel"})
    assert r.status_code == 302
    q = _query(r.headers["location"])
    assert q["error"] == ["access_denied"] and q["state"] == ["st-1"] and "code" not in q


async def test_login_codes_for_tests_are_single_use(ding: Ding, sb: SandboxServer) -> None:
    userid = sorted(sb.company.users)[1]
    minted = await ding.http.post("/sandbox/oauth/logincode", json={"userid": userid})
    assert minted.status_code == 200
    login_code = minted.json()["login_code"]
    params = {**_auth_params(sb), "sandbox_login_code": login_code}
    r = await ding.http.get("/oauth2/auth", params=params)
    assert r.status_code == 302 and "authCode=" in r.headers["location"]
    again = await ding.http.get("/oauth2/auth", params=params)
    assert again.status_code == 400 and "sandbox_login_code" in again.text
    unknown = await ding.http.post("/sandbox/oauth/logincode", json={"userid": "nobody"})
    assert unknown.status_code == 404
    assert (await ding.http.post("/sandbox/oauth/logincode", json={})).status_code == 400


async def test_someone_who_left_signs_in_to_dingtalk_but_is_not_in_the_directory(
    ding: Ding, sb: SandboxServer
) -> None:
    leaver = sorted(sb.company.leavers)[0]
    page = await ding.http.get("/oauth2/auth", params={**_auth_params(sb), "q": leaver})
    assert f'data-userid="{leaver}"' in page.text and "已离职" in page.text
    r = await ding.http.post("/oauth2/auth", data={**_auth_params(sb), "userid": leaver})
    code = _query(r.headers["location"])["code"][0]
    token = (await _user_token(ding, sb, code)).json()["accessToken"]
    me = await ding.http.get(
        "/v1.0/contact/users/me", headers={"x-acs-dingtalk-access-token": token}
    )
    assert me.status_code == 200 and me.json()["nick"] == sb.company.leavers[leaver].name
    found = await ding.top("/topapi/user/getbyunionid", {"unionid": me.json()["unionId"]})
    assert found["errcode"] == 60121
    # a login-free code is for people in the directory only
    h5 = await ding.http.post("/sandbox/authcode", json={"userid": leaver})
    assert h5.status_code == 404


async def test_dd_js_is_served_with_this_sandbox_baked_in_and_cors(
    ding: Ding, sb: SandboxServer
) -> None:
    r = await ding.http.get("/sandbox/dd.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    assert r.headers["access-control-allow-origin"] == "*"
    assert f'var BASE = "{sb.base_url}"' in r.text
    assert f'var CORP_ID = "{sb.app.corp_id}"' in r.text
    for name in ("requestAuthCode", "getAuthCode", "notInDingTalk", "/sandbox/jsapi/verify"):
        assert name in r.text
    pre = await ding.http.options(
        "/sandbox/authcode",
        headers={"Origin": "http://127.0.0.1:1", "Access-Control-Request-Method": "POST"},
    )
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "*"
    # a text/plain JSON body (the emulator's simple request) is read
    userid = sorted(sb.company.users)[0]
    minted = await ding.http.post(
        "/sandbox/authcode", content=f'{{"userid": "{userid}"}}', headers={"Origin": "x"}
    )
    assert minted.status_code == 200 and minted.headers["access-control-allow-origin"] == "*"
    # DingTalk's own paths get no CORS header
    tok = await ding.http.get("/gettoken", params={"appkey": "a", "appsecret": "b"})
    assert "access-control-allow-origin" not in tok.headers
