"""Request guards applied before any route runs: :class:`RequestGuard` (pure ASGI).

- **Body size**: a request whose body is larger than ``max_body_bytes`` (default 1 MiB,
  ``DINGSYNC_WEB_MAX_BODY_BYTES``) is answered 413 ``request.too_large`` — at once when
  ``Content-Length`` says so, else as soon as the streamed body passes the limit — so a huge
  body is never buffered or parsed, before or after login.
- **NUL characters**: a NUL (``\\x00``, ``%00``, ``\\u0000``) in the path, the query string or a
  string (key or value) of a JSON body is answered 422 ``request.invalid``. PostgreSQL cannot
  store or compare text with NUL (the query would fail with a 500) and on SQLite it would be
  stored as junk, so no such value reaches a route. A page path (the console) gets its HTML
  error page instead of the JSON body when the guard is given ``page``.

FastAPI (0.115+) has its own ``max_body_size`` (``AppBodyLimitMiddleware`` is always in its
stack) but it is unlimited unless the app is created with a size, and its 413 body is not the
service's error shape; the guard does not depend on the FastAPI version.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dingsync.web.errors import WebError

#: Default body limit in bytes (1 MiB): logins and export requests are a few hundred bytes.
DEFAULT_MAX_BODY_BYTES = 1 << 20


class BodyTooLarge(Exception):
    """The streamed request body passed the limit (turned into 413 ``request.too_large``)."""


def _error(code: str, message: str | None = None, **extra: Any) -> JSONResponse:
    err = WebError(code, message, **extra)
    return JSONResponse(err.body(), status_code=err.status)


def _nul_in_query(query: bytes) -> bool:
    return b"\x00" in query or b"%00" in query


def _nul_path(value: Any, loc: list[Any]) -> list[Any] | None:
    """The location of the first string (key or value) holding a NUL in a parsed JSON value."""
    stack: list[tuple[Any, list[Any]]] = [(value, loc)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    return [*where, key]
                stack.append((child, [*where, key]))
        elif isinstance(item, list):
            stack.extend((child, [*where, i]) for i, child in enumerate(item))
    return None


def json_nul_location(body: bytes) -> list[Any] | None:
    """Where a JSON ``body`` holds a NUL in a string (``["body", …]``), else ``None``. Bodies
    that are not valid JSON are left to the route's own validation."""
    lowered = body.lower()
    if b"\\u0000" not in lowered and b"\x00" not in body:
        return None  # the fast path: no NUL can be in there
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return ["body"] if b"\x00" in body else None
    return _nul_path(parsed, ["body"])


class RequestGuard:
    """ASGI middleware: body size limit and NUL rejection (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        page: Callable[[Scope, str, str], Response | None] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        #: ``page(scope, code, message)``: the answer for a path that is a web page rather than
        #: the API (the console's HTML error page), or ``None`` for the API's JSON body.
        self.page = page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for part, nul in (
            ("path", "\x00" in scope.get("path", "")),
            ("query", _nul_in_query(scope.get("query_string", b"").lower())),
        ):
            if nul:
                msg = f"NUL characters are not allowed in the {part}"
                answer = self.page(scope, "request.invalid", msg) if self.page else None
                if answer is None:
                    answer = _error("request.invalid", msg, details=[{"loc": [part], "msg": msg}])
                await answer(scope, receive, send)
                return
        limit = self.max_body_bytes
        length = _content_length(scope)
        if length is not None and length > limit:
            await self._too_large(scope, receive, send)
            return
        content_type = _header(scope, b"content-type").lower()
        if b"json" in content_type:
            # JSON bodies are small (≤ the limit): read them here, look for NUL, replay them.
            try:
                body = await _read_body(receive, limit)
            except BodyTooLarge:
                await self._too_large(scope, receive, send)
                return
            where = json_nul_location(body)
            if where is not None:
                msg = "NUL characters are not allowed in JSON strings"
                detail = [{"loc": where, "msg": msg}]
                await _error("request.invalid", msg, details=detail)(scope, receive, send)
                return
            await self.app(scope, _replay(body, receive), send)
            return
        await self.app(scope, _limited(receive, limit), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"the request body is larger than {self.max_body_bytes} bytes"
        response = _error("request.too_large", message, limit=self.max_body_bytes)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return b""


def _content_length(scope: Scope) -> int | None:
    raw = _header(scope, b"content-length")
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # http.disconnect from here on

    return replay


def _limited(receive: Receive, limit: int) -> Receive:
    size = 0

    async def limited() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                from starlette.exceptions import HTTPException

                raise HTTPException(413, f"the request body is larger than {limit} bytes")
        return message

    return limited


__all__ = ["DEFAULT_MAX_BODY_BYTES", "RequestGuard", "json_nul_location"]
