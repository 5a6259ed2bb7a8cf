"""``/api/me``, ``/api/departments`` (tree), ``/api/users``: the directory, filtered by the rules
(``directory`` list/read: every enabled employee)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from dingsync.store import repo_contacts
from dingsync.web import rules
from dingsync.web.context import DepartmentTree
from dingsync.web.deps import Ctx, CurrentCaller
from dingsync.web.errors import COMMON_ERRORS, SESSION_ERRORS, WebError, responses
from dingsync.web.login import profile_for
from dingsync.web.models import TYPED, Departments, Page, Profile, UserDetail, UserSummary

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


def _subtree(tree: DepartmentTree, dept_id: int, depth: int | None) -> dict[str, Any]:
    node = tree.nodes[dept_id]
    out: dict[str, Any] = {
        "dept_id": dept_id,
        "name": node["name"],
        "parent_id": node["parent_id"],
        "order": node["dept_order"],
    }
    kids = tree.children.get(dept_id, [])
    if depth is None or depth > 0:
        out["children"] = [_subtree(tree, k, None if depth is None else depth - 1) for k in kids]
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
) -> dict[str, Any]:
    """The active departments as a nested tree from ``root`` (default the company, id 1),
    children by DingTalk's order; ``depth`` limits the levels returned."""
    if not rules.may(caller.viewer, "directory", "list"):
        raise WebError("not_found")
    with ctx.engine.connect() as conn:
        tree = ctx.tree(conn)
    if root not in tree.nodes:
        raise WebError("not_found", f"no department {root}")
    return {"tree": _subtree(tree, root, depth), "count": len(tree.nodes)}


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
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> dict[str, Any]:
    """Active people by userid, paged: ``items`` (userid, name, avatar, title, job_number,
    dept_ids), ``total``, ``limit``, ``offset``."""
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
            conn, ctx.corp_id, dept_ids=dept_ids, name_like=q, limit=limit, offset=offset
        )
    for item in items:
        item.pop("local_disabled", None)
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
            }
            for m in memberships
        ],
    }
