"""A tiny scriptable DingTalk over real loopback HTTP (Starlette under uvicorn, in a thread).

For client behaviour the sandbox cannot produce deterministically (exact error sequences, token
error styles, timing). Tests register handlers per (method, path); the token endpoints and the
token checks of both hosts are built in.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

APP_KEY = "dingfakeappkey0001"
APP_SECRET = "FAKE-secret-9f8e7d6c5b4a-DO-NOT-LEAK"


@dataclass
class Req:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    arrived: float = field(default_factory=time.monotonic)


Reply = dict[str, Any] | tuple[int, Any] | tuple[int, Any, dict[str, str]] | Response
Handler = Callable[[Req], Reply | Awaitable[Reply]]


class FakeDingTalk:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    # -- state ---------------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self.handlers: dict[tuple[str, str], Handler] = {}
            self.token_ttl = 7200
            self.token_seq = itertools.count(1)
            self.current_token: str | None = None
            self.current_expires = 0.0
            self.token_requests = 0
            self.token_delay = 0.0
            # how an invalid token is reported on oapi: "wrapped" (88/40014), "bare" (40014),
            # "wrapped42001", "bare42001"
            self.token_error_style = "wrapped"
            self.arrivals: defaultdict[str, list[float]] = defaultdict(list)
            self.requests: list[Req] = []
            self.seen_tokens: list[str] = []

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.handlers[(method.upper(), path)] = handler

    def invalidate_tokens(self) -> None:
        with self._lock:
            self.current_token = None

    def _issue(self) -> tuple[str, int]:
        with self._lock:
            self.token_requests += 1
            now = time.time()
            if self.current_token is None or now >= self.current_expires:
                self.current_token = f"faketoken-{next(self.token_seq)}-{int(now * 1000)}"
            self.current_expires = now + self.token_ttl
            return self.current_token, self.token_ttl

    def _valid(self, token: str | None) -> bool:
        with self._lock:
            return (
                token is not None
                and token == self.current_token
                and time.time() < self.current_expires
            )

    # -- ASGI ----------------------------------------------------------------------------------
    async def endpoint(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        req = Req(
            request.method,
            request.url.path,
            dict(request.query_params),
            body,
            {k.lower(): v for k, v in request.headers.items()},
        )
        with self._lock:
            self.arrivals[req.path].append(req.arrived)
            self.requests.append(req)
        is_api = req.path.startswith("/v1.0/")
        if (req.method, req.path) == ("POST", "/v1.0/oauth2/accessToken"):
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
            if not isinstance(body, dict) or body.get("appSecret") != APP_SECRET:
                return _json(
                    400,
                    {
                        "requestid": "01A08FE7-68C3",
                        "code": "invalidClientIdOrSecret",
                        "message": "无效的clientId或者clientSecret",
                    },
                )
            token, ttl = self._issue()
            return _json(200, {"accessToken": token, "expireIn": ttl})
        if (req.method, req.path) == ("GET", "/gettoken"):
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
            if req.query.get("appsecret") != APP_SECRET:
                return _json(200, {"errcode": 40096, "errmsg": "不合法的appKey或appSecret"})
            token, ttl = self._issue()
            return _json(
                200, {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": ttl}
            )
        handler = self.handlers.get((req.method, req.path))
        token = (
            req.headers.get("x-acs-dingtalk-access-token")
            if is_api
            else req.query.get("access_token")
        )
        if token:
            self.seen_tokens.append(token)
        if handler is None or not getattr(handler, "no_auth", False):
            if not self._valid(token):
                return self._token_error(is_api)
        if handler is None:
            return _json(
                200,
                {"errcode": 22, "errmsg": "Invalid method", "request_id": "fake22"},
            )
        reply = handler(req)
        if inspect.isawaitable(reply):
            reply = await reply
        if isinstance(reply, Response):
            return reply
        if isinstance(reply, dict):
            return _json(200, reply)
        status, payload, *rest = reply
        headers = rest[0] if rest else {}
        if isinstance(payload, str):
            return Response(payload, status_code=status, media_type="text/html", headers=headers)
        return _json(status, payload, headers)

    def _token_error(self, is_api: bool) -> Response:
        if is_api:
            return _json(
                400,
                {
                    "code": "InvalidAuthentication",
                    "requestid": "01A08FE7-CD6B",
                    "message": "不合法的access_token",
                },
            )
        style = self.token_error_style
        code = "42001" if style.endswith("42001") else "40014"
        if style.startswith("wrapped"):
            return _json(
                200,
                {
                    "errcode": 88,
                    "sub_code": code,
                    "sub_msg": "不合法的access_token",
                    "errmsg": f"ding talk error[subcode={code},submsg=不合法的access_token]",
                    "request_id": "faketoken88",
                },
            )
        return _json(200, {"errcode": int(code), "errmsg": "不合法的access_token"})


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


class FakeServer:
    """Runs a :class:`FakeDingTalk` on 127.0.0.1 (free port) in a daemon thread."""

    def __init__(self) -> None:
        self.fake = FakeDingTalk()
        methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
        app = Starlette(routes=[Route("/{path:path}", self.fake.endpoint, methods=methods)])
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
        # proto says TCP; without it Nagle + delayed ACK add ~40 ms to every answer.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> FakeServer:
        self._thread.start()
        deadline = time.time() + 10
        while not self._server.started:
            if time.time() > deadline:
                raise RuntimeError("fake DingTalk did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


def no_auth(handler: Handler) -> Handler:
    """Mark a handler as callable without a token."""
    handler.no_auth = True  # type: ignore[attr-defined]
    return handler
