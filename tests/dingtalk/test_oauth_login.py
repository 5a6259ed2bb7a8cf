"""The client's browser-login calls over loopback against the sandbox (auth-contacts.md §3):
``auth.authorize_url``, ``auth.get_user_access_token``, ``contacts.get_user_profile`` with a
*user* token, ``contacts.get_userid_by_unionid`` — and their errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from dingsync.dingtalk import (
    DEFAULT_LOGIN_URL,
    AuthCodeError,
    CredentialsError,
    DingTalkClient,
    DingTalkError,
    NotFoundError,
    TokenError,
)
from dingsync.sandbox import SandboxServer


def _oauth_code(sb: SandboxServer, userid: str) -> str:
    """Sign in on the sandbox's login page as ``userid`` and return the ``authCode``."""
    params = {
        "redirect_uri": "http://127.0.0.1:9/cb",
        "response_type": "code",
        "client_id": sb.app.app_key,
        "scope": "openid",
        "state": "s",
        "prompt": "consent",
    }
    r = httpx.post(f"{sb.base_url}/oauth2/auth", data={**params, "userid": userid})
    assert r.status_code == 302, r.text
    return parse_qs(urlsplit(r.headers["location"]).query)["authCode"][0]


def test_authorize_url_is_dingtalks_login_page() -> None:
    client = DingTalkClient("dingappkey", "secret")
    assert client.login_url == DEFAULT_LOGIN_URL == "https://login.dingtalk.com"
    url = client.auth.authorize_url("https://hr.example.com/console/login/callback", "xyz")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "login.dingtalk.com",
        "/oauth2/auth",
    )
    assert parse_qs(parts.query) == {
        "redirect_uri": ["https://hr.example.com/console/login/callback"],
        "response_type": ["code"],
        "client_id": ["dingappkey"],
        "scope": ["openid"],
        "state": ["xyz"],
        "prompt": ["consent"],
    }
    other = DingTalkClient("k", "s", login_url="http://127.0.0.1:8900/")
    url = other.auth.authorize_url("http://x/cb", "s", scope="openid corpid", corp_id="dingcorp")
    assert url.startswith("http://127.0.0.1:8900/oauth2/auth?")
    assert parse_qs(urlsplit(url).query)["corpId"] == ["dingcorp"]


async def test_code_to_user_token_to_profile_to_userid(
    sandbox: SandboxServer, sandbox_client: Callable[..., DingTalkClient]
) -> None:
    user = sorted(sandbox.company.users.values(), key=lambda u: u.userid)[2]
    async with sandbox_client() as client:
        token = await client.auth.get_user_access_token(_oauth_code(sandbox, user.userid))
        assert token.corp_id == sandbox.app.corp_id and token.expire_in == 7200
        me = await client.contacts.get_user_profile(token.access_token)
        assert (me.union_id, me.nick, me.mobile) == (user.unionid, user.name, user.mobile)
        found = await client.contacts.get_userid_by_unionid(me.union_id or "")
        assert (found.userid, found.contact_type) == (user.userid, 0)
        # users/me carried the user token, not the app token: no app token was needed for it
        assert client.calls["/v1.0/contact/users/me"] == 1
        # by unionId
        again = await client.contacts.get_user_profile(token.access_token, user.unionid)
        assert again.union_id == user.unionid


async def test_errors_of_the_browser_login_calls(
    sandbox: SandboxServer, sandbox_client: Callable[..., DingTalkClient]
) -> None:
    userid = sorted(sandbox.company.users)[4]
    async with sandbox_client() as client:
        code = _oauth_code(sandbox, userid)
        token = await client.auth.get_user_access_token(code)
        with pytest.raises(AuthCodeError):  # reused
            await client.auth.get_user_access_token(code)
        with pytest.raises(AuthCodeError):  # never issued
            await client.auth.get_user_access_token("nosuchcode")
        with pytest.raises(TokenError) as bad:  # not a user token DingTalk knows
            await client.contacts.get_user_profile("not-a-user-token")
        assert "not-a-user-token" not in str(bad.value)
        with pytest.raises(NotFoundError):
            await client.contacts.get_user_profile(token.access_token, "nosuchunionid")
        with pytest.raises(NotFoundError):  # 60121: a stranger's unionid
            await client.contacts.get_userid_by_unionid("nosuchunionid")
        # an expired user token is a plain DingTalkError (400 accesstoken.expired), never renewed
        sandbox.clock.advance(sandbox.state.config.user_token_ttl_s + 1)
        try:
            with pytest.raises(DingTalkError) as expired:
                await client.contacts.get_user_profile(token.access_token)
            assert expired.value.errcode == "accesstoken.expired"
        finally:
            sandbox.clock.set(time.time())
    async with _wrong_secret(sandbox) as wrong:
        with pytest.raises(CredentialsError):  # not "a bad code": the app's credentials
            await wrong.auth.get_user_access_token(_oauth_code(sandbox, userid))


def _wrong_secret(sb: SandboxServer) -> DingTalkClient:
    return DingTalkClient(
        sb.app.app_key,
        "not-the-secret",
        corp_id=sb.app.corp_id,
        oapi_url=sb.base_url,
        api_url=sb.base_url,
        login_url=sb.base_url,
        qps_per_api=None,
        backoff_base=0.01,
        backoff_max=0.05,
    )
