"""通讯录 (Directory): the company as DingTalk shows it to members.

- ``GET /console/directory`` — the department tree with each department's active direct
  members (``GET /api/departments?counts=true``), and the people (``GET /api/users``: paged in
  SQL, ``dept_id`` with its sub-departments, ``search`` by name, job number or a mobile number
  the viewer may see). Mobile numbers exactly as the API shows them to the viewer.
- ``GET /console/directory/users/{userid}`` — one person (``GET /api/users/{userid}``):
  departments with their paths, leader flags, roles, admin level and scope (for
  administrators), job number, title, hired date. 404 as the API answers 404.
- ``GET /console/directory/leavers`` — 离职人员 (``GET /api/leavers``): for those who may export
  the directory (main administrator and ``hr`` all, a sub-administrator their scope); 404
  for everyone else.

Every number and row comes from those router functions, called directly.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dingsync.web import rules
from dingsync.web.console import params
from dingsync.web.console.render import render
from dingsync.web.console.session import ConsoleSession, page_caller
from dingsync.web.deps import Ctx
from dingsync.web.routers import directory as api_directory

router = APIRouter(prefix="/console", include_in_schema=False)

#: People per page.
PAGE_SIZE = 20


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _page(value: str | None, problems: list[str]) -> int:
    """The ``page`` parameter (1 when empty or malformed: then its message in ``problems``)."""
    n = params.collect(problems, lambda: params.integer("页码", value)) or 1
    return max(1, min(n, 10**6))


def _ancestors(tree: dict[str, Any], target: int | None) -> set[int]:
    """Department ids from the root down to ``target`` (opened in the tree)."""
    if target is None:
        return {tree["dept_id"]}

    def walk(node: dict[str, Any], path: list[int]) -> list[int] | None:
        here = [*path, node["dept_id"]]
        if node["dept_id"] == target:
            return here
        for child in node.get("children") or []:
            found = walk(child, here)
            if found:
                return found
        return None

    return set(walk(tree, []) or [tree["dept_id"]])


def _names(tree: dict[str, Any]) -> dict[int, str]:
    out: dict[int, str] = {}

    def walk(node: dict[str, Any]) -> None:
        out[node["dept_id"]] = node.get("name") or str(node["dept_id"])
        for child in node.get("children") or []:
            walk(child)

    walk(tree)
    return out


def may_see_leavers(session: ConsoleSession) -> bool:
    """Whether 离职人员 is for the viewer (the rule of ``GET /api/leavers``)."""
    return not rules.scope(session.viewer, "directory", "export").nothing


@router.get("/directory", response_class=HTMLResponse, name="console_directory")
def directory_page(
    request: Request, ctx: Ctx, session: ConsoleSession = page_caller("directory")
) -> HTMLResponse:
    """The tree and the people (``dept_id``, ``search``, ``page`` query parameters)."""
    query = request.query_params
    raw_dept = (query.get("dept_id") or "").strip()
    dept_id = _int(raw_dept)
    search = (query.get("search") or "").strip()[:64] or None
    problems: list[str] = []
    page = _page(query.get("page"), problems)
    tree = api_directory.departments(ctx, session.caller, counts=True)["tree"]
    names = _names(tree)
    dept_error = None
    if raw_dept and (dept_id is None or dept_id not in names):
        # Not the whole company in its place: say so, and list nobody.
        dept_error = f"部门“{raw_dept[:32]}”不存在，或不在您可查看的通讯录范围内。"
        dept_id = None
    people: dict[str, Any] = {"items": [], "total": 0}
    for _ in range(2 if dept_error is None else 0):
        people = api_directory.users(
            ctx,
            session.caller,
            dept_id=dept_id,
            recursive=True,
            search=search,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
        last = max(1, -(-people["total"] // PAGE_SIZE))
        if page <= last:
            break
        page = last  # a page past the end shows the last page instead
    pages = max(1, -(-people["total"] // PAGE_SIZE))

    def link(**change: Any) -> str:
        query = {"dept_id": dept_id, "search": search, "page": page, **change}
        return "/console/directory?" + urlencode({k: v for k, v in query.items() if v})

    return render(
        request,
        session,
        "directory.html",
        active="directory",
        title="通讯录",
        tree=tree,
        names=names,
        open_ids=_ancestors(tree, dept_id),
        dept_id=dept_id,
        search=search or "",
        people=people,
        page=page,
        pages=pages,
        link=link,
        tab="members",
        leavers_tab=may_see_leavers(session),
        dept_error=dept_error,
        problems=problems,
        may_export=rules.may(session.viewer, "directory", "export"),
    )


@router.get("/directory/users/{userid}", response_class=HTMLResponse, name="console_directory_user")
def person_page(
    request: Request, ctx: Ctx, userid: str, session: ConsoleSession = page_caller("directory")
) -> HTMLResponse:
    """One person, as ``GET /api/users/{userid}`` shows them to the viewer (404 likewise)."""
    person = api_directory.user(ctx, session.caller, userid[:64])
    return render(
        request,
        session,
        "directory_user.html",
        active="directory",
        title=person.get("name") or person["userid"],
        person=person,
    )


@router.get("/directory/leavers", response_class=HTMLResponse, name="console_leavers")
def leavers_page(
    request: Request, ctx: Ctx, session: ConsoleSession = page_caller("directory")
) -> HTMLResponse:
    """离职人员 (``q``: part of the name, ``page``), as ``GET /api/leavers`` (404 likewise)."""
    q = (request.query_params.get("q") or "").strip()[:64] or None
    problems: list[str] = []
    data, page = params.clamped_page(
        lambda offset: api_directory.leavers(
            ctx, session.caller, q=q, limit=PAGE_SIZE, offset=offset
        ),
        _page(request.query_params.get("page"), problems),
        PAGE_SIZE,
    )
    pages = params.last_page(data["total"], PAGE_SIZE)

    def link(**change: Any) -> str:
        query = {"q": q, "page": page, **change}
        return "/console/directory/leavers?" + urlencode({k: v for k, v in query.items() if v})

    return render(
        request,
        session,
        "directory_leavers.html",
        active="directory",
        title="通讯录",
        data=data,
        q=q or "",
        page=page,
        pages=pages,
        link=link,
        tab="leavers",
        leavers_tab=True,
        problems=problems,
    )
