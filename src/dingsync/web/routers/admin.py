"""``/api/admin``: local account status and local roles (main administrator or local
``admin`` role)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.encoders import jsonable_encoder

from dingsync.store import repo_contacts, repo_local_access, repo_sessions
from dingsync.store.schema_web import LOCAL_ROLES
from dingsync.web import overview as status
from dingsync.web import rules
from dingsync.web.deps import AdminCaller, Caller, Ctx, CurrentCaller
from dingsync.web.errors import COMMON_ERRORS, SESSION_ERRORS, WebError, responses
from dingsync.web.models import (
    TYPED,
    DisabledUsers,
    DisableResult,
    Overview,
    RoleChange,
    RoleGrants,
    SyncSchedule,
    SyncStarted,
)

router = APIRouter(prefix="/api/admin", tags=["admin"], responses=responses(*COMMON_ERRORS))

_ERRORS = (*SESSION_ERRORS, "forbidden", "request.invalid")

#: A DingTalk userid as a path parameter: at most the column's 64 characters.
UserId = Annotated[str, Path(min_length=1, max_length=64, description="DingTalk userid")]
#: A local role name as a path parameter.
RoleName = Annotated[str, Path(min_length=1, max_length=32, description="hr or admin")]


def _known(conn: Any, corp_id: str, userid: str, *, allow_stub: bool = False) -> None:
    """``not_found`` unless the store knows ``userid`` as synced from DingTalk (as the CLI's
    ``roles grant`` asks). ``allow_stub``: the row a disable in advance left for a user not
    synced yet counts too (so that disable can be lifted)."""
    if not repo_contacts.known_user(conn, corp_id, userid, allow_stub=allow_stub):
        raise WebError("not_found", f"no user {userid!r} in the store (not synced yet?)")


@router.get(
    "/users/disabled",
    summary="Locally disabled accounts",
    responses=responses(*_ERRORS),
    response_model=DisabledUsers,
    **TYPED,
)
def disabled(ctx: Ctx, caller: AdminCaller) -> dict[str, Any]:
    """Userids disabled locally."""
    with ctx.engine.connect() as conn:
        return {"userids": repo_local_access.list_disabled(conn, ctx.corp_id)}


def _set_disabled(ctx: Any, userid: str, value: bool) -> dict[str, Any]:
    with ctx.write() as conn:
        if not value:
            _known(conn, ctx.corp_id, userid, allow_stub=True)
        known = repo_local_access.set_local_disabled(conn, ctx.corp_id, userid, value)
        revoked = (
            repo_sessions.revoke_user_sessions(conn, ctx.corp_id, userid, ctx.now()) if value else 0
        )
    return {"userid": userid, "disabled": value, "known": known, "sessions_revoked": revoked}


@router.post(
    "/users/{userid}/disable",
    summary="Disable an account locally",
    responses=responses(*_ERRORS, "admin.self_disable", "admin.main_admin_protected"),
    response_model=DisableResult,
    **TYPED,
)
def disable(ctx: Ctx, caller: AdminCaller, userid: UserId) -> dict[str, Any]:
    """The user can no longer log in, whatever DingTalk says; their sessions are revoked. A
    user not synced yet can be disabled in advance (``known: false``). Refused with 409:
    your own account (``admin.self_disable``) and DingTalk's main administrator
    (``admin.main_admin_protected``) — both would lock the organisation out of the admin API;
    the operator's ``dingsync users disable`` can still do it."""
    if userid == caller.userid:
        raise WebError("admin.self_disable")
    with ctx.engine.connect() as conn:
        level, _scope = repo_contacts.admin_info(conn, ctx.corp_id, userid)
    if level == 1:
        raise WebError("admin.main_admin_protected")
    return _set_disabled(ctx, userid, True)


@router.post(
    "/users/{userid}/enable",
    summary="Enable an account again",
    responses=responses(*_ERRORS, "not_found"),
    response_model=DisableResult,
    **TYPED,
)
def enable(ctx: Ctx, caller: AdminCaller, userid: UserId) -> dict[str, Any]:
    """Lift a local disable (404 ``not_found`` for a userid the store does not know)."""
    return _set_disabled(ctx, userid, False)


@router.get(
    "/roles",
    summary="Local role grants",
    responses=responses(*_ERRORS),
    response_model=RoleGrants,
    **TYPED,
)
def roles(ctx: Ctx, caller: AdminCaller) -> dict[str, Any]:
    """Every local role grant: ``{userid, role, granted_at, granted_by}`` (``granted_at``: ISO
    8601 UTC)."""
    with ctx.engine.connect() as conn:
        grants = repo_local_access.list_roles(conn, ctx.corp_id)
    return {"roles": list(LOCAL_ROLES), "grants": jsonable_encoder(grants)}


@router.put(
    "/roles/{userid}/{role}",
    summary="Grant a local role",
    responses=responses(*_ERRORS, "role.unknown", "not_found"),
    response_model=RoleChange,
    **TYPED,
)
def grant(ctx: Ctx, caller: AdminCaller, userid: UserId, role: RoleName) -> dict[str, Any]:
    """Grant ``hr`` (all attendance, directory export) or ``admin`` (this API, export audit)
    to a user of the store (404 ``not_found`` for an unknown userid)."""
    if role not in LOCAL_ROLES:
        raise WebError("role.unknown", f"unknown role {role!r}; known: {', '.join(LOCAL_ROLES)}")
    with ctx.write() as conn:
        _known(conn, ctx.corp_id, userid)
        repo_local_access.grant_role(conn, ctx.corp_id, userid, role, granted_by=caller.userid)
    return {"userid": userid, "role": role, "granted": True}


@router.delete(
    "/roles/{userid}/{role}",
    summary="Revoke a local role",
    responses=responses(*_ERRORS, "role.unknown"),
    response_model=RoleChange,
    **TYPED,
)
def revoke(ctx: Ctx, caller: AdminCaller, userid: UserId, role: RoleName) -> dict[str, Any]:
    """Take a local role away."""
    if role not in LOCAL_ROLES:
        raise WebError("role.unknown", f"unknown role {role!r}; known: {', '.join(LOCAL_ROLES)}")
    with ctx.write() as conn:
        had = repo_local_access.revoke_role(conn, ctx.corp_id, userid, role)
    return {"userid": userid, "role": role, "revoked": had}


# --------------------------------------------------------------------------------------------
# Overview and sync (the console's 概览 and 设置 call these same functions)
# --------------------------------------------------------------------------------------------
def may_read_overview(caller: Caller) -> bool:
    """Administrators (:func:`rules.can_administer`) and the local ``hr`` role."""
    return rules.can_administer(caller.viewer) or rules.LOCAL_HR in caller.viewer.local_roles


@router.get(
    "/overview",
    summary="Sync runs, counts per area, event inbox (administrators and hr)",
    responses=responses(*_ERRORS),
    response_model=Overview,
    **TYPED,
)
def overview(ctx: Ctx, caller: CurrentCaller) -> dict[str, Any]:
    """The latest sync runs with their state (``running`` with ``progress``, ``done``,
    ``partial`` with the units ``skipped``/``quarantined`` and why, ``failed`` with ``error``
    and ``hint``), the rows the caller may see per area (the totals of ``/api/users``,
    ``/api/departments``, ``/api/reports``, ``/api/approvals`` and the days of
    ``/api/attendance/summary`` this month) and the event inbox's health. 403 ``forbidden``
    for anyone but administrators and hr."""
    if not may_read_overview(caller):
        raise WebError("forbidden", "only administrators and hr may read the overview")
    return status.overview(ctx, caller)


@router.post(
    "/sync",
    summary="Start an incremental sync now",
    responses=responses(*_ERRORS, "auth.token_failed"),
    response_model=SyncStarted,
    **TYPED,
)
async def start_sync(ctx: Ctx, caller: AdminCaller) -> dict[str, Any]:
    """Start an incremental run of every entity in the service with its DingTalk client;
    answers at once (``started: true``). One sync per corp and database: while one is going
    (this service's, or another process's holding the sync lease) nothing starts and
    ``started`` is ``false`` with ``running: true``. ``GET /api/admin/overview`` shows the run."""
    return await status.SyncStarter.start(ctx, caller.userid)


#: Settings that shape the sync, as ``GET /api/admin/sync`` shows them (no secrets).
SYNC_SETTINGS = (
    "sync_concurrency",
    "qps_per_api",
    "max_retries",
    "timezone",
    "contacts_full_compare_hours",
    "reports_history_days",
    "attendance_days",
    "attendance_recent_days",
    "approvals_history_days",
)


@router.get(
    "/sync",
    summary="Last runs per entity and the sync settings",
    responses=responses(*_ERRORS),
    response_model=SyncSchedule,
    **TYPED,
)
def sync_schedule(ctx: Ctx, caller: AdminCaller) -> dict[str, Any]:
    """Per sync entity its latest run and latest successful run; the sync settings in force
    (``DINGSYNC_*``, no secrets). Runs are scheduled by ``dingsync sync --every`` (or cron)
    and started from the console's 立即同步."""
    settings = {
        name: getattr(ctx.settings, name) for name in SYNC_SETTINGS if hasattr(ctx.settings, name)
    }
    settings["corp_id"] = ctx.corp_id
    settings["has_credentials"] = ctx.has_client
    return {"entities": status.last_runs_per_entity(ctx), "settings": settings}
