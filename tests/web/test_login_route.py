"""The micro-app's login served by a plain Starlette route in front of FastAPI's
(``routers.auth.login_route``, issue 17): the same answers, errors and OpenAPI document as
FastAPI's own route — two services on one sandbox and one database over loopback HTTP, one
with the plain route and one without it, store on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Route

from dingsync.web import create_app
from dingsync.web.options import WebOptions
from dingsync.web.routers.auth import dingtalk_login
from dingsync.web.server import WebServer
from helpers.web import _plain_user

from .conftest import Web, sandbox_settings


def _fastapi_only(web: Web, web_db_url: str) -> FastAPI:
    """A service like ``web``'s (same sandbox, database and clock) without the plain route."""
    app = create_app(
        sandbox_settings(web.sb, web_db_url),
        engine=web.engine,
        options=WebOptions(),
        clock=web.clock,
    )
    first = app.router.routes[0]
    assert type(first) is Route and first.path == "/api/auth/dingtalk"
    app.router.routes.pop(0)
    return app


@pytest.fixture
def fastapi_http(web: Web, web_db_url: str) -> Iterator[httpx.Client]:
    app = _fastapi_only(web, web_db_url)
    with WebServer(app) as server, httpx.Client(base_url=server.base_url, timeout=30) as http:
        yield http


def test_the_plain_route_is_matched_first_and_fastapis_stays_documented(
    web: Web, web_db_url: str
) -> None:
    app = create_app(
        sandbox_settings(web.sb, web_db_url),
        engine=web.engine,
        options=WebOptions(),
        clock=web.clock,
    )
    plain = [r for r in app.router.routes if getattr(r, "path", "") == "/api/auth/dingtalk"]
    assert type(plain[0]) is Route and plain[0] is app.router.routes[0]
    assert plain[0].methods == {"POST"} and not plain[0].include_in_schema
    without = _fastapi_only(web, web_db_url)
    document = app.openapi()
    assert document == without.openapi()
    operation = document["paths"]["/api/auth/dingtalk"]["post"]
    assert operation["operationId"] and "200" in operation["responses"]
    assert "401" in operation["responses"] and "400" in operation["responses"]


def test_a_login_answers_the_same_bytes_as_fastapis_route(
    web: Web, fastapi_http: httpx.Client
) -> None:
    for n, url in ((5, None), (6, "https://h5.example.com/app?x=1#frag")):
        userid = _plain_user(web.sb.company, n)
        body: dict[str, str] = {}
        if url is not None:
            body["url"] = url
        plain = web.http.post("/api/auth/dingtalk", json={"authCode": web.authcode(userid), **body})
        fastapi = fastapi_http.post(
            "/api/auth/dingtalk", json={"authCode": web.authcode(userid), **body}
        )
        assert plain.status_code == fastapi.status_code == 200, (plain.text, fastapi.text)
        assert plain.headers["content-type"] == fastapi.headers["content-type"]
        assert plain.headers["content-length"] == str(len(plain.content))
        a, b = plain.json(), fastapi.json()
        for answer in (a, b):  # the token is random, the expiry follows the wall clock
            session = answer["session"]
            token, expires_at = session.pop("token"), session.pop("expires_at")
            assert isinstance(token, str) and len(token) >= 40 and isinstance(expires_at, int)
            assert isinstance(session.pop("expires_in"), int)
            if url is not None:  # the JSAPI signature's nonce and time differ per call
                for key in ("nonceStr", "signature", "timeStamp"):
                    answer["jsapi"].pop(key)
        # The same keys in the same order, the same values.
        assert json.dumps(a) == json.dumps(b)
        # Each session works, and is its own.
        for http, r in ((web.http, plain), (fastapi_http, fastapi)):
            token = r.json()["session"]["token"]
            me = http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200 and me.json()["userid"] == userid
        assert plain.json()["session"]["token"] != fastapi.json()["session"]["token"]


def test_the_same_code_twice_gets_the_same_session_on_the_plain_route(web: Web) -> None:
    code = web.authcode(_plain_user(web.sb.company, 7))
    first = web.http.post("/api/auth/dingtalk", json={"authCode": code})
    again = web.http.post("/api/auth/dingtalk", json={"authCode": code})
    assert first.status_code == again.status_code == 200
    assert first.json()["session"]["token"] == again.json()["session"]["token"]


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"", {"content-type": "application/json"}),
        (b"{}", {"content-type": "application/json"}),
        (b"[1]", {"content-type": "application/json"}),
        (b"not json", {"content-type": "application/json"}),
        (b'{"authCode": 5}', {"content-type": "application/json"}),
        (b'{"authCode": "   "}', {"content-type": "application/json"}),
        (b'{"authCode": "x", "url": 3}', {"content-type": "application/json"}),
        (b'{"authCode": "x", "url": "ftp://h/"}', {"content-type": "application/json"}),
        (b'{"authCode": "x", "corpId": "' + b"c" * 65 + b'"}', {}),
        (b'{"authCode": "x", "corpId": "dingnotours"}', {"content-type": "application/json"}),
        (b'{"authCode": "a\\u0000b"}', {"content-type": "application/json"}),
        (b'{"authCode": "a\x00b"}', {"content-type": "text/plain"}),
        (b'{"authCode": "forged-code"}', {"content-type": "application/json"}),
        (b'{"authCode": "' + b"x" * 600 + b'"}', {"content-type": "application/json"}),
        (b"{" * 100_000, {"content-type": "application/json"}),
    ],
)
def test_refusals_are_the_same_as_fastapis_route(
    web: Web, fastapi_http: httpx.Client, content: bytes, headers: dict[str, str]
) -> None:
    plain = web.http.post("/api/auth/dingtalk", content=content, headers=headers)
    fastapi = fastapi_http.post("/api/auth/dingtalk", content=content, headers=headers)
    assert plain.status_code == fastapi.status_code and plain.status_code >= 400
    assert plain.json() == fastapi.json()
    assert re.fullmatch(r"[a-z_]+\.[a-z_]+", plain.json()["error"]["code"])


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD", "OPTIONS"])
def test_other_methods_on_the_path_are_answered_as_before(
    web: Web, fastapi_http: httpx.Client, method: str
) -> None:
    plain = web.http.request(method, "/api/auth/dingtalk")
    fastapi = fastapi_http.request(method, "/api/auth/dingtalk")
    assert plain.status_code == fastapi.status_code == 405
    assert plain.headers.get("allow") == fastapi.headers.get("allow")
    assert plain.content == fastapi.content


def test_the_plain_route_is_the_one_that_answers(web: Web, web_db_url: str) -> None:
    """Routing picks the plain route (its endpoint lands in the request's scope), and without
    it FastAPI's (``dingtalk_login``) — both answering an empty body with the same refusal."""

    async def post(app: Any) -> tuple[dict[str, Any], int, bytes]:
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/auth/dingtalk",
            "raw_path": b"/api/auth/dingtalk",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return scope, sent[0]["status"], body

    settings = sandbox_settings(web.sb, web_db_url)
    plain_app = create_app(settings, engine=web.engine, options=WebOptions(), clock=web.clock)
    scope, status, body = asyncio.run(post(plain_app))
    plain_route = plain_app.router.routes[0]
    assert isinstance(plain_route, Route)
    assert scope["endpoint"] is plain_route.endpoint and scope["endpoint"] is not dingtalk_login
    scope2, status2, body2 = asyncio.run(post(_fastapi_only(web, web_db_url)))
    assert scope2["endpoint"] is dingtalk_login
    assert status == status2 == 400 and body == body2
    assert json.loads(body)["error"]["code"] == "auth.code_missing"
