"""Login (免登), sessions, local disable and JSAPI — service and sandbox over loopback HTTP,
store on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import update

from dingsync.config import Settings
from dingsync.dingtalk import sign_jsapi
from dingsync.dingtalk.jsapi import normalize_jsapi_url
from dingsync.sandbox.company import Company
from dingsync.store import db
from dingsync.store.schema import users, utcnow
from dingsync.web import create_app
from dingsync.web.options import WebOptions
from dingsync.web.server import WebServer
from helpers.web import _error, _plain_user

from .conftest import Web, sandbox_settings

LOGIN_PATHS = ("/topapi/v2/user/getuserinfo", "/topapi/v2/user/get")


def _top(company: Company, dept_id: int) -> int:
    chain = company.ancestors(dept_id)  # [dept, parent, …, 1]
    return chain[-2] if len(chain) > 1 else chain[-1]


def _calls_since(web: Web, before: dict[str, int]) -> dict[str, int]:
    after = web.upstream_calls()
    return {
        p: after.get(p, 0) - before.get(p, 0) for p in after if after.get(p, 0) != before.get(p, 0)
    }


def test_full_login_profile_and_upstream_calls(web: Web) -> None:
    company = web.sb.company
    userid = _plain_user(company, 3)
    person = company.users[userid]

    code = web.authcode(userid)
    before = web.upstream_calls()
    r = web.http.post(
        "/api/auth/dingtalk", json={"authCode": code, "url": "https://h5.example.com/app?x=1"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    calls = _calls_since(web, before)
    # Synced a moment ago: only the code exchange goes upstream (token and ticket are cached).
    assert calls == {"/topapi/v2/user/getuserinfo": 1}

    assert body["userid"] == userid
    assert body["name"] == person.name
    assert body["avatar"] == person.avatar
    assert sorted(d["dept_id"] for d in body["departments"]) == sorted(person.dept_id_list)
    assert body["company"] == {"corp_id": web.sb.app.corp_id, "name": company.corp_name}
    assert sum(d["is_primary"] for d in body["departments"]) == 1
    assert body["primary_department"]["dept_id"] == person.dept_id_list[0]
    tops = {_top(company, d) for d in person.dept_id_list}
    assert {d["dept_id"] for d in body["root_departments"]} == tops
    for dept in body["departments"]:
        assert dept["path"][0]["dept_id"] == 1
        assert dept["path"][-1]["dept_id"] == dept["dept_id"]
        assert dept["name"] == company.departments[dept["dept_id"]].name
        assert dept["root_department"]["dept_id"] == _top(company, dept["dept_id"])
    assert body["roles"] == ["employee"] + (
        ["dept_leader"] if any(m.leader for m in person.memberships) else []
    )
    assert body["permissions"]["reports"]["list"] == ["own", "participant"]
    assert body["permissions"]["admin"] is False
    session = body["session"]
    assert session["token_type"] == "Bearer" and len(session["token"]) >= 40
    assert session["expires_in"] > 3600
    jsapi = body["jsapi"]
    assert jsapi["agentId"] == str(web.sb.app.agent_id)
    assert jsapi["corpId"] == web.sb.app.corp_id
    ticket = web.sb.state.tickets.by_app[web.sb.app.app_key].value
    assert jsapi["signature"] == sign_jsapi(
        ticket, jsapi["nonceStr"], jsapi["timeStamp"], "https://h5.example.com/app?x=1"
    )
    # /api/me with the new session is the same profile.
    me = web.get("/api/me", session["token"]).json()
    assert me["userid"] == userid and me["departments"] == body["departments"]

    # A user whose stored row is stale: code exchange + user detail, and the row is refreshed.
    with web.engine.begin() as conn:
        conn.execute(
            update(users)
            .where(users.c.userid == userid)
            .values(synced_at=utcnow().replace(year=2020), name="stale")
        )
    before = web.upstream_calls()
    r = web.login(userid)
    assert r.status_code == 200, r.text
    assert _calls_since(web, before) == {p: 1 for p in LOGIN_PATHS}
    assert r.json()["name"] == person.name


def test_user_in_three_departments_with_different_roots(web: Web) -> None:
    company = web.sb.company
    userid = next(
        u.userid
        for u in sorted(company.users.values(), key=lambda u: u.userid)
        if u.active and len({_top(company, m.dept_id) for m in u.memberships}) >= 3
    )
    body = web.login(userid).json()
    expected = {_top(company, d) for d in company.users[userid].dept_id_list}
    assert len(expected) >= 3
    assert {d["dept_id"] for d in body["root_departments"]} == expected
    assert len(body["departments"]) == len(company.users[userid].dept_id_list)
    names = {d["dept_id"]: d["name"] for d in body["root_departments"]}
    assert all(names[t] == company.departments[t].name for t in expected)


def test_same_code_twice_within_60_s_gives_the_same_session(web: Web) -> None:
    userid = _plain_user(web.sb.company, 5)
    code = web.authcode(userid)
    first = web.http.post("/api/auth/dingtalk", json={"authCode": code})
    before = web.upstream_calls()
    second = web.http.post("/api/auth/dingtalk", json={"authCode": code})
    assert first.status_code == second.status_code == 200, second.text
    assert first.json()["session"]["token"] == second.json()["session"]["token"]
    # DingTalk is asked first (one store hop per login): it refuses the code it has already
    # exchanged, and the replay record answers.
    assert _calls_since(web, before) == {"/topapi/v2/user/getuserinfo": 1}

    # A real double tap: both requests in flight at once.
    code2 = web.authcode(userid)

    async def tap() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=web.url) as client:
            return list(
                await asyncio.gather(
                    *(client.post("/api/auth/dingtalk", json={"authCode": code2}) for _ in range(3))
                )
            )

    answers = asyncio.run(tap())
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert len({a.json()["session"]["token"] for a in answers}) == 1

    web.clock.advance(61)
    late = web.http.post("/api/auth/dingtalk", json={"authCode": code})
    assert late.status_code == 401
    assert late.json()["error"]["code"] == "auth.code_invalid"


def test_login_failures_have_their_own_codes(web: Web) -> None:
    userid = _plain_user(web.sb.company, 6)
    assert _error(web.http.post("/api/auth/dingtalk", json={})) == (400, "auth.code_missing")
    assert _error(web.http.post("/api/auth/dingtalk", json={"authCode": " "})) == (
        400,
        "auth.code_missing",
    )
    assert _error(web.http.post("/api/auth/dingtalk", json={"authCode": "nope"})) == (
        401,
        "auth.code_invalid",
    )
    # An expired code (DingTalk's codes live 5 minutes).
    code = web.authcode(userid)
    web.sb.clock.advance(301)
    assert _error(web.http.post("/api/auth/dingtalk", json={"authCode": code})) == (
        401,
        "auth.code_invalid",
    )
    bad_url = web.http.post(
        "/api/auth/dingtalk", json={"authCode": web.authcode(userid), "url": "/relative"}
    )
    assert _error(bad_url) == (400, "jsapi.url_invalid")
    # No usable body is a missing code too (not a 422): broken JSON, no body, not JSON, not an
    # object, a code that is not a string, JSON nested too deep.
    for content, ctype in (
        (b"{", "application/json"),
        (b"", "application/json"),
        (b"", None),
        (b"authCode=abc", "application/x-www-form-urlencoded"),
        (b"hello", "text/plain"),
        (b"[]", "application/json"),
        (b'"abc"', "application/json"),
        (b'{"authCode": 123}', "application/json"),
        (b'{"authCode": ["a"]}', "application/json"),
        (b"[" * 100_000, "application/json"),
    ):
        headers = {"content-type": ctype} if ctype else {}
        r = web.http.post("/api/auth/dingtalk", content=content, headers=headers)
        assert _error(r) == (400, "auth.code_missing"), (content[:20], ctype, r.text)
    assert _error(web.http.post("/api/auth/dingtalk", json={"authCode": "a\u0000b"})) == (
        422,
        "request.invalid",
    )
    as_text = {"content-type": "text/plain"}
    for content in (b'{"authCode": "a\\u0000b"}', b'{"authCode": "x", "url": "https://a/\\u0000"}'):
        r = web.http.post("/api/auth/dingtalk", content=content, headers=as_text)
        assert _error(r) == (422, "request.invalid"), r.text


def test_disabled_user_cannot_log_in_and_loses_sessions(web: Web) -> None:
    company = web.sb.company
    admin = company.main_admin_userid
    victim = _plain_user(company, 7)
    admin_token = web.token(admin)
    victim_token = web.token(victim)

    r = web.post(f"/api/admin/users/{victim}/disable", admin_token)
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert r.json()["sessions_revoked"] >= 1
    assert web.get("/api/me", victim_token).status_code == 401
    assert _error(web.login(victim)) == (403, "auth.user_disabled")
    listed = web.get("/api/admin/users/disabled", admin_token).json()["userids"]
    assert victim in listed
    # An employee may not use the admin API.
    other = web.token(_plain_user(company, 8))
    assert _error(web.post(f"/api/admin/users/{victim}/enable", other)) == (403, "forbidden")

    assert web.post(f"/api/admin/users/{victim}/enable", admin_token).json()["disabled"] is False
    assert web.login(victim).status_code == 200


def test_sessions_logout_expiry_and_missing(web: Web) -> None:
    userid = _plain_user(web.sb.company, 9)
    token = web.login(userid).json()["session"]["token"]
    assert web.get("/api/me", token).status_code == 200
    assert _error(web.http.get("/api/me")) == (401, "session.missing")
    assert _error(web.get("/api/me", "not-a-token")) == (401, "session.invalid")
    assert web.post("/api/auth/logout", token).json() == {"revoked": True}
    assert _error(web.get("/api/me", token)) == (401, "session.invalid")

    token = web.login(userid).json()["session"]["token"]
    web.clock.advance(8 * 3600 + 1)
    assert _error(web.get("/api/me", token)) == (401, "session.expired")


def test_jsapi_config_signs_the_normalised_url(web: Web) -> None:
    token = web.token(_plain_user(web.sb.company, 10))
    raw = "https://h5.example.com:8443/app/index.html?name=%E9%92%89%E9%92%89&q=a+b#/route/x?y=1"
    r = web.get("/api/jsapi/config", token, params={"url": raw})
    assert r.status_code == 200, r.text
    cfg = r.json()
    ticket = web.sb.state.tickets.by_app[web.sb.app.app_key].value
    normalised = "https://h5.example.com:8443/app/index.html?name=钉钉&q=a b"
    assert normalize_jsapi_url(raw) == normalised == cfg["url"]
    expected = sign_jsapi(ticket, cfg["nonceStr"], cfg["timeStamp"], normalised, normalize=False)
    assert cfg["signature"] == expected
    assert sign_jsapi(ticket, cfg["nonceStr"], cfg["timeStamp"], raw) == expected
    assert len(cfg["signature"]) == 64 and cfg["algorithm"] == "sha256"
    assert {"agentId", "corpId", "timeStamp", "nonceStr", "signature"} <= set(cfg)
    bad = web.get("/api/jsapi/config", token, params={"url": "ftp://x"})
    assert _error(bad) == (400, "jsapi.url_invalid")
    # Not URLs a page can be at: unbalanced IPv6 brackets, a port that is no number or out of
    # range, whitespace in the host, no host at all.
    for broken in (
        "http://[::1",
        "http://a.example:abc/",
        "http://a.example:99999/",
        "http://a.example:0/",
        "http://a example/",
        "http://:8080/x",
    ):
        r = web.get("/api/jsapi/config", token, params={"url": broken})
        assert _error(r) == (400, "jsapi.url_invalid"), broken
    ipv6 = web.get("/api/jsapi/config", token, params={"url": "http://[::1]:8080/x"})
    assert ipv6.status_code == 200, ipv6.text
    assert _error(web.http.get("/api/jsapi/config", params={"url": raw})) == (
        401,
        "session.missing",
    )


def test_jsapi_worked_example_reproduces() -> None:
    """auth-contacts.md §10.4: the official inputs give the published SHA-1 and the SHA-256."""
    args: tuple[Any, ...] = (
        "zHoQdGJuH0ZDebwo7sLqLzHGUueLmkWCC4RycYgkuvDu3eoROgN5qhwnQLgfzwEXtuR9SDzh6BdhyVngzAjrxV",
        "abcdefgh",
        "1437027269927",
        "http://10.62.53.138:3000/jsapi",
    )
    assert sign_jsapi(*args, "sha1") == "810e6657e9f411e6491b3e97dfaf7660e89eb874"
    assert sign_jsapi(*args) == "f83d09ae579893dd206f49752d49c64ed5b1d495a2d769e9f63ba4d1909f90ed"


def test_token_failures_are_502_with_their_own_code(web: Web, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    engine = db.create_engine_for(url)
    db.migrate(engine)
    wrong = sandbox_settings(web.sb, url).model_copy(
        update={"app_secret": SecretStr("not-the-secret")}
    )
    bare = Settings(DINGSYNC_DATABASE_URL=url)
    try:
        for settings in (wrong, bare):
            app = create_app(settings, engine=engine, options=WebOptions(warm_up=False))
            with WebServer(app) as server:
                r = httpx.post(
                    f"{server.base_url}/api/auth/dingtalk",
                    json={"authCode": web.authcode(_plain_user(web.sb.company, 14))},
                )
            assert _error(r) == (502, "auth.token_failed")
            assert "not-the-secret" not in r.text
    finally:
        engine.dispose()


def test_a_double_tap_across_services_waits_for_the_other_session(
    web: Web, web_db_url: str
) -> None:
    """Two services (or two workers of ``serve --workers N``) on one database: the same code
    posted to both at once is exchanged by one; DingTalk refuses it to the other, which waits
    (``replay_wait_s``) for the first one's session instead of answering 401. A code nobody
    exchanged is still 401 ``auth.code_invalid`` once the wait is over."""
    userid = _plain_user(web.sb.company, 9)
    options = WebOptions(warm_up=False, replay_wait_s=2.0)
    apps = [
        create_app(sandbox_settings(web.sb, web_db_url), engine=web.engine, options=options)
        for _ in range(2)
    ]
    with WebServer(apps[0]) as one, WebServer(apps[1]) as two:

        async def tap(code: str) -> list[httpx.Response]:
            async with httpx.AsyncClient(timeout=30) as client:
                return list(
                    await asyncio.gather(
                        *(
                            client.post(f"{s.base_url}/api/auth/dingtalk", json={"authCode": code})
                            for s in (one, two)
                        )
                    )
                )

        for _ in range(3):
            answers = asyncio.run(tap(web.authcode(userid)))
            assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
            assert len({a.json()["session"]["token"] for a in answers}) == 1
            assert {a.json()["userid"] for a in answers} == {userid}
        forged = httpx.post(f"{two.base_url}/api/auth/dingtalk", json={"authCode": "nope"})
        assert _error(forged) == (401, "auth.code_invalid")
