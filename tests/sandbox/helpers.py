"""A bare DingTalk caller for the sandbox tests (speaks both hosts, no retries, no models)."""

from __future__ import annotations

from typing import Any

import httpx

from dingsync.sandbox import SandboxServer


class Ding:
    """A bare DingTalk caller for tests: token, old-family and new-family calls."""

    def __init__(self, http: httpx.AsyncClient, server: SandboxServer) -> None:
        self.http = http
        self.server = server

    async def token(self) -> str:
        app = self.server.app
        r = await self.http.get(
            "/gettoken", params={"appkey": app.app_key, "appsecret": app.app_secret}
        )
        body = r.json()
        assert body["errcode"] == 0, body
        return str(body["access_token"])

    async def top(
        self,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        form: bool = False,
        token: str | None = None,
    ) -> dict[str, Any]:
        """POST a /topapi call with a JSON (or form) body; returns the parsed body."""
        tok = token or await self.token()
        if form:
            r = await self.http.post(path, params={"access_token": tok}, data=body or {})
        else:
            r = await self.http.post(path, params={"access_token": tok}, json=body or {})
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    async def ok(self, path: str, body: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        data = await self.top(path, body, **kw)
        assert data["errcode"] == 0, data
        return data

    async def old_get(self, path: str, **params: Any) -> dict[str, Any]:
        tok = await self.token()
        r = await self.http.get(path, params={"access_token": tok, **params})
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    async def v1(
        self, method: str, path: str, *, token: str | None = None, **kw: Any
    ) -> httpx.Response:
        tok = token or await self.token()
        headers = {"x-acs-dingtalk-access-token": tok, **kw.pop("headers", {})}
        return await self.http.request(method, path, headers=headers, **kw)
