"""Every data area of ``dingsync.areas`` is served by the sandbox (``sandbox/areas.py``): the
directory built in, the others through their area class, each answering its own DingTalk routes
over loopback HTTP (not the unknown-path fallback) and showing its truth in ``/sandbox/stats``."""

from __future__ import annotations

import httpx
import pytest

from dingsync.areas import AREA_NAMES
from dingsync.sandbox import SandboxServer
from dingsync.sandbox.app import Route
from dingsync.sandbox.areas import BUILT_IN, DATA_AREAS, EXTRA_AREAS, unserved


def test_every_area_name_is_wired() -> None:
    assert unserved() == []
    assert set(BUILT_IN) | set(DATA_AREAS) == set(AREA_NAMES)
    assert not set(EXTRA_AREAS) & set(AREA_NAMES), "an extra area must not shadow a data area"


def _token(http: httpx.Client, sb: SandboxServer) -> str:
    body = http.get(
        "/gettoken", params={"appkey": sb.app.app_key, "appsecret": sb.app.app_secret}
    ).json()
    assert body["errcode"] == 0, body
    return str(body["access_token"])


def _is_unknown_path(route: Route, r: httpx.Response) -> bool:
    """The fallback's answers (``fallback.py``): errcode 22 on ``/topapi``, 404 elsewhere on the
    old host, HTTP 404 ``InvalidAction.NotFound`` on ``/v1.0``."""
    if route.family == "api":
        return r.status_code == 404 and r.json().get("code") == "InvalidAction.NotFound"
    body = r.json()
    return body.get("errcode") in (22, 404)


def _call(http: httpx.Client, route: Route, token: str) -> httpx.Response:
    path = route.path.replace("{", "").replace("}", "")  # a path parameter's name as its value
    if route.family == "api":
        headers = {"x-acs-dingtalk-access-token": token}
        return http.request(route.method, path, headers=headers, json={})
    return http.request(route.method, path, params={"access_token": token}, json={})


@pytest.mark.parametrize("name", AREA_NAMES)
def test_each_area_name_is_served_over_http(sb: SandboxServer, name: str) -> None:
    with httpx.Client(base_url=sb.base_url, timeout=30) as http:
        token = _token(http, sb)
        if name in BUILT_IN:  # the directory: app.py serves it from the company
            body = http.post(
                "/topapi/v2/department/listsubid",
                params={"access_token": token},
                json={"dept_id": 1},
            ).json()
            assert body["errcode"] == 0, body
            assert body["result"]["dept_id_list"], "the root department has sub-departments"
            return
        area = sb.state.areas[name]
        assert isinstance(area, DATA_AREAS[name])
        stats = http.get("/sandbox/stats").json()
        assert name in stats, f"{name}'s truth is missing from /sandbox/stats"
        routes = area.routes()
        assert routes, f"{name} serves no DingTalk route"
        for route in routes:
            r = _call(http, route, token)
            assert not _is_unknown_path(route, r), f"{route.method} {route.path}: {r.text}"
