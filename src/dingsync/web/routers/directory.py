"""``/api/me``, ``/api/departments`` (tree), ``/api/users``: the directory, filtered by the rules
(``directory`` list/read: every enabled employee)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from dingsync.store import repo_contacts
from dingsync.web import rules
from dingsync.web.context import DepartmentTree
from dingsync.web.data import LimitQuery, OffsetQuery, jsonable
from dingsync.web.data import visible as store_visible
from dingsync.web.deps import Ctx, CurrentCaller
from dingsync.web.errors import COMMON_ERRORS, SESSION_ERRORS, WebError, responses
from dingsync.web.login import profile_for
from dingsync.web.models import (
    TYPED,
    Departments,
    Leaver,
    MySummary,
    Page,
    Profile,
    UserDetail,
    UserSummary,
)

router = APIRouter(prefix="/api", tags=["directory"], responses=responses(*COMMON_ERRORS))

_SESSION_ERRORS = SESSION_ERRORS


@router.get(
    "/me",
    summary="The caller's profile",
    responses=responses(*_SESSION_ERRORS),
    response_model=Profile,
    **TYPED,
)
def me(ctx: Ctx, caller: CurrentCaller) -> dict[str, Any]:
    """The same profile as the login answer, without the session and JSAPI parts."""
    return profile_for(ctx, caller.userid)


def member_counts(
    tree: DepartmentTree, memberships: list[tuple[int, str]]
) -> tuple[dict[int, int], dict[int, int]]:
    """``(member_count, owning_member_count)`` per department, as DingTalk's department fields
    mean them (auth-contacts.md): active people in the department or any department below it
    — each person once, however many of its departments they belong to — and active direct
    members. ``memberships``: :func:`repo_contacts.active_memberships`."""
    owning: dict[int, int] = {}
    depts_of: dict[str, set[int]] = {}
    for dept_id, userid in memberships:
        owning[dept_id] = owning.get(dept_id, 0) + 1
        depts_of.setdefault(userid, set()).add(dept_id)
    paths: dict[int, list[int]] = {}
    total: dict[int, int] = {}
    for depts in depts_of.values():
        seen: set[int] = set()
        for dept_id in depts:
            path = paths.get(dept_id)
            if path is None:
                path = paths[dept_id] = tree.path(dept_id) if dept_id in tree.nodes else []
            seen.update(path)
        for dept_id in seen:
            total[dept_id] = total.get(dept_id, 0) + 1
    return total, owning


def _subtree(
    tree: DepartmentTree,
    dept_id: int,
    depth: int | None,
    counts: tuple[dict[int, int], dict[int, int]] | None = None,
) -> dict[str, Any]:
    node = tree.nodes[dept_id]
    out: dict[str, Any] = {
        "dept_id": dept_id,
        "name": node["name"],
        "parent_id": node["parent_id"],
        "order": node["dept_order"],
    }
    if counts is not None:
        out["member_count"] = counts[0].get(dept_id, 0)
        out["owning_member_count"] = counts[1].get(dept_id, 0)
    kids = tree.children.get(dept_id, [])
    if depth is None or depth > 0:
        out["children"] = [
            _subtree(tree, k, None if depth is None else depth - 1, counts) for k in kids
        ]
    else:
        out["children"] = []
        out["has_children"] = bool(kids)
    return out


@router.get(
    "/departments",
    summary="The department tree",
    responses=responses(*_SESSION_ERRORS, "not_found"),
    response_model=Departments,
    **TYPED,
)
def departments(
    ctx: Ctx,
    caller: CurrentCaller,
    root: Annotated[int, Query(ge=1, le=2**62, description="subtree root")] = 1,
    depth: Annotated[int | None, Query(ge=0, le=100, description="levels below root")] = None,
    counts: Annotated[
        bool,
        Query(description="each node's active members, with and without sub-departments"),
    ] = False,
) -> dict[str, Any]:
    """The active departments as a nested tree from ``root`` (default the company, id 1),
    children by DingTalk's order; ``depth`` limits the levels returned; ``counts`` adds each
    node's ``member_count`` (active people in it and its sub-departments, each once — DingTalk's
    ``member_count``) and ``owning_member_count`` (active direct members, DingTalk's
    ``owning_member_count``): :func:`member_counts`."""
    if not rules.may(caller.viewer, "directory", "list"):
        raise WebError("not_found")
    with ctx.engine.connect() as conn:
        tree = ctx.tree(conn)
        pairs = repo_contacts.active_memberships(conn, ctx.corp_id) if counts else None
    members = member_counts(tree, pairs) if pairs is not None else None
    if root not in tree.nodes:
        raise WebError("not_found", f"no department {root}")
    return {"tree": _subtree(tree, root, depth, members), "count": len(tree.nodes)}


@router.get(
    "/users",
    summary="People in the directory",
    responses=responses(*_SESSION_ERRORS),
    response_model=Page[UserSummary],
    **TYPED,
)
def users(
    ctx: Ctx,
    caller: CurrentCaller,
    dept_id: Annotated[int | None, Query(ge=1, le=2**62, description="members of")] = None,
    recursive: Annotated[bool, Query(description="include sub-departments")] = False,
    q: Annotated[str | None, Query(max_length=64, description="part of the name")] = None,
    limit: LimitQuery = 100,
    offset: OffsetQuery = 0,
    search: Annotated[
        str | None,
        Query(
            max_length=64,
            description="part of the name, the job number (工号) or the mobile number (only "
            "numbers the caller may see)",
        ),
    ] = None,
) -> dict[str, Any]:
    """Active people by userid, paged: ``items`` (userid, name, avatar, title, job_number,
    dept_ids, ``mobile`` where the caller may see it — :func:`rules.can_see_mobile`),
    ``total``, ``limit``, ``offset``."""
    scope = rules.scope(caller.viewer, "directory", "list")
    limit = min(limit, ctx.options.max_page_size)
    with ctx.engine.connect() as conn:
        tree = ctx.tree(conn)
        dept_ids: list[int] | None = None
        if dept_id is not None:
            dept_ids = sorted(tree.subtree([dept_id])) if recursive else [dept_id]
        if not scope.everything:
            visible = sorted(scope.depts)
            dept_ids = visible if dept_ids is None else sorted(set(dept_ids) & set(visible))
        items, total = repo_contacts.list_users(
            conn,
            ctx.corp_id,
            dept_ids=dept_ids,
            name_like=q.strip() if q and q.strip() else None,
            limit=limit,
            offset=offset,
            search=search.strip() if search and search.strip() else None,
            mobiles=store_visible(rules.mobile_scope(caller.viewer)),
        )
    for item in items:
        item.pop("local_disabled", None)
        hidden = bool(item.pop("hide_mobile", False))
        record = rules.Record(owner=item["userid"], owner_depts=frozenset(item["dept_ids"]))
        if not rules.can_see_mobile(caller.viewer, record, hidden):
            item["mobile"] = None
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.get(
    "/users/{userid}",
    summary="One person",
    responses=responses(*_SESSION_ERRORS, "not_found"),
    response_model=UserDetail,
    **TYPED,
)
def user(ctx: Ctx, caller: CurrentCaller, userid: str) -> dict[str, Any]:
    """One person of the directory with their departments (404 when unknown or not visible)."""
    with ctx.engine.connect() as conn:
        row = repo_contacts.get_user(conn, ctx.corp_id, userid)
        memberships = repo_contacts.user_memberships(conn, ctx.corp_id, userid) if row else []
        tree = ctx.tree(conn)
    record = rules.Record(owner=userid, owner_depts=frozenset(m["dept_id"] for m in memberships))
    if (
        row is None
        or row["status"] != "active"
        or not rules.can(caller.viewer, "directory", "read", record)
    ):
        raise WebError("not_found")
    with ctx.engine.connect() as conn:
        roles = repo_contacts.user_roles(conn, ctx.corp_id, userid)
        level, scope_roots = repo_contacts.admin_info(conn, ctx.corp_id, userid)
    viewer = caller.viewer
    sees_admin = (
        viewer.userid == userid
        or rules.can_administer(viewer)
        or viewer.sub_admin_scope is not None
    )
    hired = row.get("hired_date")

    def brief(dept_id: int) -> dict[str, Any]:
        return {"dept_id": dept_id, "name": (tree.nodes.get(dept_id) or {}).get("name")}

    return {
        "userid": row["userid"],
        "name": row["name"],
        "avatar": row["avatar"],
        "title": row["title"],
        "job_number": row["job_number"],
        "email": row["org_email"] or row["email"],
        "departments": [
            {
                "dept_id": m["dept_id"],
                "name": (tree.nodes.get(m["dept_id"]) or {}).get("name"),
                "is_leader": bool(m["is_leader"]),
                "path": [brief(d) for d in tree.path(m["dept_id"])],
            }
            for m in memberships
        ],
        "mobile": row["mobile"]
        if rules.can_see_mobile(viewer, record, bool(row.get("hide_mobile")))
        else None,
        "hired_date": hired.astimezone(ctx.settings.tz).date().isoformat() if hired else None,
        "roles": roles,
        "admin": {"level": level, "scope": [brief(d) for d in scope_roots]}
        if level is not None and sees_admin
        else None,
    }


@router.get(
    "/leavers",
    summary="Departure records (离职人员)",
    responses=responses(*_SESSION_ERRORS, "not_found"),
    response_model=Page[Leaver],
    **TYPED,
)
def leavers(
    ctx: Ctx,
    caller: CurrentCaller,
    q: Annotated[str | None, Query(max_length=64, description="part of the name")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: OffsetQuery = 0,
) -> dict[str, Any]:
    """Departure records newest first (times epoch ms), for those who may export the
    directory (:func:`rules.scope` ``directory``/``export``: the main administrator and
    ``hr`` all, a sub-administrator the leavers of their scope); 404 for everyone else."""
    scope = rules.scope(caller.viewer, "directory", "export")
    if scope.nothing:
        raise WebError("not_found")
    with ctx.engine.connect() as conn:
        items, total = repo_contacts.list_leavers(
            conn,
            ctx.corp_id,
            store_visible(scope),
            search=q.strip() if q and q.strip() else None,
            limit=min(limit, ctx.options.max_page_size),
            offset=offset,
        )
    return {"items": [jsonable(i) for i in items], "total": total, "limit": limit, "offset": offset}


@router.get(
    "/me/summary",
    summary="My reports, attendance this month and approvals",
    responses=responses(*_SESSION_ERRORS),
    response_model=MySummary,
    **TYPED,
)
def my_summary(
    ctx: Ctx,
    caller: CurrentCaller,
    latest: Annotated[int, Query(ge=0, le=20, description="latest items of each list")] = 5,
) -> dict[str, Any]:
    """The caller's own numbers (the console's 我的): reports sent and received, attendance
    this month so far (the same per-person summary as ``/api/attendance/summary``), approvals
    originated and waiting for the caller's approval, each with its ``latest`` items."""
    from dingsync.web.me_summary import summary

    return summary(ctx, caller, latest=latest)
