"""``/api/auth``: DingTalk login (免登) and logout."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import ResponseValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response
from starlette.routing import Route

from dingsync.store import repo_sessions
from dingsync.web.deps import Ctx, CurrentCaller, ctx_dependency
from dingsync.web.errors import COMMON_ERRORS, SESSION_ERRORS, WebError, responses
from dingsync.web.login import login
from dingsync.web.models import TYPED, LoginResult, Revoked

router = APIRouter(prefix="/api/auth", tags=["auth"], responses=responses(*COMMON_ERRORS))


class LoginRequest(BaseModel):
    """The micro-app's login: the code from ``dd.getAuthCode`` and, optionally, the page URL to
    sign a ``dd.config`` for."""

    model_config = ConfigDict(extra="ignore")

    authCode: str | None = Field(None, max_length=512, description="from dd.getAuthCode")
    url: str | None = Field(None, max_length=4096, description="page URL for dd.config")
    corpId: str | None = Field(
        None,
        max_length=64,
        description="the company, as passed to dd.getAuthCode({corpId}) (default: the "
        "service's default company)",
    )


def parse_login(raw: bytes) -> LoginRequest:
    """The login body: a JSON object with a string ``authCode`` (and optionally ``url``).
    No body, a body that is not a JSON object, or an ``authCode`` that is not a non-empty
    string is 400 ``auth.code_missing``; a ``url`` that is not a string is 400
    ``jsapi.url_invalid``."""
    try:
        data = json.loads(raw) if raw.strip() else None
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise WebError(
            "auth.code_missing",
            'the body must be a JSON object {"authCode": "<code from dd.getAuthCode>"}',
        )
    try:
        body = LoginRequest.model_validate(data)
    except ValidationError as exc:
        fields = {str(e["loc"][0]) for e in exc.errors() if e.get("loc")}
        if "authCode" in fields or not fields:
            raise WebError(
                "auth.code_missing", "authCode must be a string of 1 to 512 characters"
            ) from exc
        if "corpId" in fields:
            raise WebError(
                "corp.unknown", "corpId must be a string of up to 64 characters"
            ) from exc
        raise WebError("jsapi.url_invalid", "url must be a string (an absolute URL)") from exc
    if "\x00" in (body.authCode or "") + (body.url or "") + (body.corpId or ""):
        # a body sent as text/plain
        raise WebError("request.invalid", "NUL characters are not allowed in JSON strings")
    return body


@router.post(
    "/dingtalk",
    summary="Log in with a DingTalk authCode (免登)",
    responses=responses(
        "auth.code_missing",
        "corp.unknown",
        "corp.inactive",
        "auth.code_invalid",
        "auth.user_not_found",
        "auth.user_disabled",
        "auth.token_failed",
        "auth.dingtalk_unavailable",
        "jsapi.url_invalid",
        "request.invalid",
        "request.too_large",
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": LoginRequest.model_json_schema()}},
        }
    },
    response_model=LoginResult,
    **TYPED,
)
async def dingtalk_login(request: Request) -> dict[str, Any]:
    """Exchange the authCode for a session. Returns userid, name, avatar, departments (with a
    primary one and each one's root department), root departments, company, roles,
    permissions, ``session`` (``token``, ``expires_at`` epoch ms) and ``jsapi`` (the
    ``dd.config`` values when ``url`` was given). The same code again within 60 s returns the
    same session. A missing body, a body that is not a JSON object or no ``authCode`` is 400
    ``auth.code_missing``. ``corpId`` picks the company (the one the micro-app passed to
    ``dd.getAuthCode``; default: the service's default company): one this service does not
    serve is 400 ``corp.unknown``, one relieved or stopped is 403 ``corp.inactive``."""
    # The context is found here rather than declared as the ``Ctx`` dependency: the same
    # function, without FastAPI resolving a dependency per login (its signature inspection and
    # cache key cost more than the lookup itself, issue 17); it adds nothing to the OpenAPI
    # document either way.
    ctx = await ctx_dependency(request)
    body = parse_login(await request.body())
    return await login(ctx.for_corp(body.corpId), body.authCode, body.url)


def _login_answer_json(route: APIRoute, answer: dict[str, Any]) -> bytes:
    """``answer`` checked against the route's response model (``LoginResult``) and serialised
    as FastAPI would (``response_model_exclude_unset``, by alias): the same bytes. An answer
    the model refuses raises :class:`ResponseValidationError`, as FastAPI does (500
    ``internal``)."""
    field = route.response_field
    assert field is not None
    value, errors = field.validate(answer, {}, loc=("response",))
    if errors:
        raise ResponseValidationError(errors=errors, body=answer)
    out: bytes = field.serialize_json(value, by_alias=True, exclude_unset=True)
    return out


def login_route() -> Route:
    """``POST /api/auth/dingtalk`` as a plain Starlette route, for :func:`create_app` to match
    before FastAPI's (issue 17): the same function (:func:`dingtalk_login`), the same answer
    bytes (the route's own response model, :func:`_login_answer_json`), the same errors (a
    :class:`WebError` reaches the app's handler either way); what it skips is FastAPI's
    per-request work around an endpoint that declares nothing for it to solve — the included
    router's matching, the exit stacks, the dependency solver, the generic serialisation
    path. FastAPI's route stays registered, so the OpenAPI document is unchanged (a plain
    route is not part of it) and any other method on the path is answered as before."""
    documented = next(
        r for r in router.routes if isinstance(r, APIRoute) and r.endpoint is dingtalk_login
    )

    async def endpoint(request: Request) -> Response:
        answer = await dingtalk_login(request)
        return Response(_login_answer_json(documented, answer), media_type="application/json")

    return Route(documented.path, endpoint, methods=["POST"], include_in_schema=False)


@router.post(
    "/logout",
    summary="Revoke the current session",
    responses=responses(*SESSION_ERRORS),
    response_model=Revoked,
    **TYPED,
)
def logout(ctx: Ctx, caller: CurrentCaller) -> dict[str, Any]:
    """Revoke the session whose token was sent; it is refused (401) from now on."""
    with ctx.write() as conn:
        repo_sessions.revoke_session(conn, caller.token_hash, ctx.now())
    return {"revoked": True}
