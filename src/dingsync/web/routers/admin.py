"""``/api/admin``: local account status and local roles (main administrator or local
``admin`` role)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dingsync.store import repo_web
from dingsync.store.schema_web import LOCAL_ROLES
from dingsync.web.deps import AdminCaller, Ctx
from dingsync.web.errors import WebError, responses

router = APIRouter(prefix="/api/admin", tags=["admin"])

_ERRORS = ("session.missing", "session.invalid", "session.expired", "forbidden")


@router.get("/users/disabled", summary="Locally disabled accounts", responses=responses(*_ERRORS))
def disabled(ctx: Ctx, caller: AdminCaller) -> dict[str, Any]:
    """Userids disabled locally."""
    with ctx.engine.connect() as conn:
        return {"userids": repo_web.list_disabled(conn, ctx.corp_id)}


def _set_disabled(ctx: Any, userid: str, value: bool) -> dict[str, Any]:
    with ctx.write() as conn:
        known = repo_web.set_local_disabled(conn, ctx.corp_id, userid, value)
        revoked = (
            repo_web.revoke_user_sessions(conn, ctx.corp_id, userid, ctx.now()) if value else 0
        )
    return {"userid": userid, "disabled": value, "known": known, "sessions_revoked": revoked}


@router.post(
    "/users/{userid}/disable",
    summary="Disable an account locally",
    responses=responses(*_ERRORS),
)
def disable(ctx: Ctx, caller: AdminCaller, userid: str) -> dict[str, Any]:
    """The user can no longer log in, whatever DingTalk says; their sessions are revoked."""
    return _set_disabled(ctx, userid, True)


@router.post(
    "/users/{userid}/enable", summary="Enable an account again", responses=responses(*_ERRORS)
)
def enable(ctx: Ctx, caller: AdminCaller, userid: str) -> dict[str, Any]:
    """Lift a local disable."""
    return _set_disabled(ctx, userid, False)


@router.get("/roles", summary="Local role grants", responses=responses(*_ERRORS))
def roles(ctx: Ctx, caller: AdminCaller) -> dict[str, Any]:
    """Every local role grant: ``{userid, role, granted_at, granted_by}``."""
    with ctx.engine.connect() as conn:
        return {"roles": list(LOCAL_ROLES), "grants": repo_web.list_roles(conn, ctx.corp_id)}


@router.put(
    "/roles/{userid}/{role}",
    summary="Grant a local role",
    responses=responses(*_ERRORS, "role.unknown"),
)
def grant(ctx: Ctx, caller: AdminCaller, userid: str, role: str) -> dict[str, Any]:
    """Grant ``hr`` (all attendance, directory export) or ``admin`` (this API, export audit)."""
    if role not in LOCAL_ROLES:
        raise WebError("role.unknown", f"unknown role {role!r}; known: {', '.join(LOCAL_ROLES)}")
    with ctx.write() as conn:
        repo_web.grant_role(conn, ctx.corp_id, userid, role, granted_by=caller.userid)
    return {"userid": userid, "role": role, "granted": True}


@router.delete(
    "/roles/{userid}/{role}",
    summary="Revoke a local role",
    responses=responses(*_ERRORS, "role.unknown"),
)
def revoke(ctx: Ctx, caller: AdminCaller, userid: str, role: str) -> dict[str, Any]:
    """Take a local role away."""
    if role not in LOCAL_ROLES:
        raise WebError("role.unknown", f"unknown role {role!r}; known: {', '.join(LOCAL_ROLES)}")
    with ctx.write() as conn:
        had = repo_web.revoke_role(conn, ctx.corp_id, userid, role)
    return {"userid": userid, "role": role, "revoked": had}
