"""The events area of a sandbox: DingTalk routes and ``/sandbox/events/*`` and
``/sandbox/mutate/contacts/*`` control routes over the dispatcher.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, WebSocket
from starlette.requests import Request
from starlette.responses import JSONResponse

from dingsync.dingtalk.crypto import CallbackCryptoError
from dingsync.sandbox.app import Route
from dingsync.sandbox.events.bodies import (
    ALL_KINDS,
    MUTATION_KINDS,
    RandomBody,
    json_object_or_empty,
)
from dingsync.sandbox.events.channels import Registration
from dingsync.sandbox.events.contacts import ContactMutations
from dingsync.sandbox.events.event import SandboxEvent, event_answer
from dingsync.sandbox.events.handlers import EventHandlers
from dingsync.sandbox.events.listeners import AreaListeners
from dingsync.sandbox.mutations import (
    MutationError,
    read_body,
    validate,
)


class EventsArea(ContactMutations, EventHandlers, AreaListeners):
    """The ``events`` sandbox area (see the package docstring)."""

    def routes(self) -> list[Route]:
        """``/call_back/*`` (old host) and ``/v1.0/gateway/connections/open`` (new host)."""
        self._hook_areas()
        return [
            Route("/call_back/register_call_back", "oapi", "POST", self._register),
            Route("/call_back/update_call_back", "oapi", "POST", self._update),
            Route("/call_back/get_call_back", "oapi", "GET", self._get_call_back),
            Route("/call_back/delete_call_back", "oapi", "GET", self._delete_call_back),
            Route("/call_back/get_call_back_failed_result", "oapi", "GET", self._failed_result),
            Route(
                "/v1.0/gateway/connections/open", "api", "POST", self._open_connection, auth=False
            ),
        ]

    def control_routes(self, app: FastAPI) -> None:
        """Mutations, console-style subscription, Stream disconnect/blackhole, and the WebSocket
        ``/connect`` endpoint (see the module docstring)."""
        self._hook_areas()

        async def body_of(request: Request) -> dict[str, Any]:
            try:
                return json_object_or_empty(await request.json())
            except ValueError:
                return {}

        for kind in ALL_KINDS:

            async def mutate(request: Request, kind: str = kind) -> JSONResponse:
                try:
                    ev = self.mutate(kind, await read_body(request))
                except MutationError as exc:
                    return exc.response()
                return JSONResponse(event_answer(ev))

            app.add_api_route(f"/sandbox/mutate/contacts/{kind}", mutate, methods=["POST"])

        @app.post("/sandbox/mutate/contacts/random")
        async def mutate_random(request: Request) -> JSONResponse:
            try:
                body = validate(RandomBody, await read_body(request))
            except MutationError as exc:
                return exc.response()
            kinds = list(body.kinds or MUTATION_KINDS)
            events: list[SandboxEvent] = []
            for _ in range(body.n):
                ev = self.mutate_random(kinds)
                if ev is not None:
                    events.append(ev)
                await asyncio.sleep(0)  # let pushes, ACKs and other requests run between
            return JSONResponse({"events": [event_answer(e) for e in events]})

        @app.post("/sandbox/events/callback")
        async def subscribe(request: Request) -> JSONResponse:
            data = await body_of(request)
            if not data.get("url"):
                self.registration = None
                return JSONResponse({"registered": False})
            receiver = self.state.app.corp_id if data.get("receiver") == "corp_id" else None
            try:
                reg = Registration(
                    str(data["url"]),
                    str(data["token"]),
                    str(data["aes_key"]),
                    receiver or self.state.app.app_key,
                    list(data.get("tags") or []),
                )
                reg.crypto()
            except (KeyError, CallbackCryptoError) as exc:
                return JSONResponse({"error": f"bad subscription: {exc}"}, status_code=400)
            if data.get("check", True) and not await self.check_url(reg):
                return JSONResponse({"error": "check_url was not answered with success"}, 409)
            self.registration = reg
            self._ensure_dispatcher()
            return JSONResponse({"registered": True, "receiver_id": reg.receiver_id})

        @app.post("/sandbox/events/stream/disconnect")
        async def disconnect() -> JSONResponse:
            return JSONResponse({"disconnected": await self.disconnect_all()})

        @app.post("/sandbox/events/stream/blackhole")
        async def blackhole() -> JSONResponse:
            return JSONResponse({"blackholed": self.blackhole_all()})

        @app.get("/sandbox/events/emitted")
        async def emitted() -> JSONResponse:
            return JSONResponse(
                [
                    {
                        "event_id": e.event_id,
                        "event_type": e.event_type,
                        "born_ms": e.born_ms,
                        **e.fields,
                    }
                    for e in self.emitted
                ]
            )

        @app.websocket("/connect")
        async def connect(ws: WebSocket) -> None:
            await self.serve_ws(ws)
