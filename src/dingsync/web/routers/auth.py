"""``/api/auth``: DingTalk login (免登) and logout."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from dingsync.store import repo_web
from dingsync.web.deps import Ctx, CurrentCaller
from dingsync.web.errors import responses
from dingsync.web.login import login

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginRequest(BaseModel):
    """The micro-app's login: the code from ``dd.getAuthCode`` and, optionally, the page URL to
    sign a ``dd.config`` for."""

    model_config = ConfigDict(extra="ignore")

    authCode: str | None = Field(None, max_length=512, description="from dd.getAuthCode")
    url: str | None = Field(None, max_length=4096, description="page URL for dd.config")


@router.post(
    "/dingtalk",
    summary="Log in with a DingTalk authCode (免登)",
    responses=responses(
        "auth.code_missing",
        "auth.code_invalid",
        "auth.user_not_found",
        "auth.user_disabled",
        "auth.token_failed",
        "auth.dingtalk_unavailable",
        "jsapi.url_invalid",
        "request.invalid",
    ),
)
async def dingtalk_login(body: LoginRequest, ctx: Ctx) -> dict[str, Any]:
    """Exchange the authCode for a session. Returns userid, name, avatar, departments (with a
    primary one and each one's root department), root departments, company, roles,
    permissions, ``session`` (``token``, ``expires_at`` epoch ms) and ``jsapi`` (the
    ``dd.config`` values when ``url`` was given). The same code again within 60 s returns the
    same session."""
    return await login(ctx, body.authCode, body.url)


@router.post(
    "/logout",
    summary="Revoke the current session",
    responses=responses("session.missing", "session.invalid", "session.expired"),
)
def logout(ctx: Ctx, caller: CurrentCaller) -> dict[str, Any]:
    """Revoke the session whose token was sent; it is refused (401) from now on."""
    with ctx.write() as conn:
        repo_web.revoke_session(conn, caller.token_hash, ctx.now())
    return {"revoked": True}
