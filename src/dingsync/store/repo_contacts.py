"""Read queries of the contacts (通讯录) area: people, memberships, the department tree and
its subtrees, the company's name, administrators — and the two writes the login makes from
DingTalk's own answers (a user's memberships, their administrator level). The sync's bulk
directory writes are in :mod:`dingsync.store.repo`.

Like :mod:`dingsync.store.repo`, every function takes a :class:`~sqlalchemy.Connection` inside
the caller's transaction and never commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, false, func, or_, select

from dingsync.store import visibility
from dingsync.store.prebuilt import DriverSelect
from dingsync.store.repo import keep_former_memberships, upsert
from dingsync.store.schema import (
    admin_scopes,
    admins,
    corps,
    departments,
    leavers,
    synced_user,
    user_departments,
    users,
)
from dingsync.store.schema_roles import role_members, roles

# The statements every login and every authenticated request runs, built once with bind
# parameters ``corp`` and ``uid``: building a statement and its cache key costs more than
# SQLite takes to answer it (issue 17, benchmarks/profiles/README.md).
_GET_USER = DriverSelect(
    select(users).where(users.c.corp_id == bindparam("corp"), users.c.userid == bindparam("uid"))
)
_USER_KEYS = tuple(c.key for c in users.c)
_MEMBERSHIPS = DriverSelect(
    select(user_departments.c.dept_id, user_departments.c.dept_order, user_departments.c.is_leader)
    .where(
        user_departments.c.corp_id == bindparam("corp"),
        user_departments.c.userid == bindparam("uid"),
    )
    .order_by(user_departments.c.dept_id)
)
_ADMIN_LEVEL = DriverSelect(
    select(admins.c.sys_level).where(
        admins.c.corp_id == bindparam("corp"), admins.c.userid == bindparam("uid")
    )
)
_ADMIN_SCOPE = DriverSelect(
    select(admin_scopes.c.dept_id)
    .where(admin_scopes.c.corp_id == bindparam("corp"), admin_scopes.c.userid == bindparam("uid"))
    .order_by(admin_scopes.c.dept_id)
)


def get_user(conn: Connection, corp_id: str, userid: str) -> dict[str, Any] | None:
    """One ``users`` row as a dict, or ``None``."""
    row = _GET_USER.first(conn, {"corp": corp_id, "uid": userid})
    return dict(zip(_USER_KEYS, row, strict=True)) if row is not None else None


def known_user(conn: Connection, corp_id: str, userid: str, *, allow_stub: bool = False) -> bool:
    """Whether ``userid`` is in the store as synced from DingTalk (a ``users`` row with its
    ``raw`` detail or a name). ``allow_stub``: the placeholder row a disable in advance leaves
    for a user not synced yet counts too (so that disable can be lifted). Shared by the admin
    API and the CLI, which refuse roles and enables for anyone else."""
    user = get_user(conn, corp_id, userid)
    if user is None:
        return False
    return allow_stub or user.get("raw") is not None or user.get("name") is not None


def user_memberships(conn: Connection, corp_id: str, userid: str) -> list[dict[str, Any]]:
    """A user's memberships: ``{dept_id, dept_order, is_leader}``, by ``dept_id``."""
    rows = _MEMBERSHIPS.execute(conn, {"corp": corp_id, "uid": userid})
    return [
        {"dept_id": int(dept), "dept_order": order, "is_leader": bool(leader)}
        for dept, order, leader in rows
    ]


def replace_user_memberships(
    conn: Connection, corp_id: str, userid: str, rows: Iterable[Mapping[str, Any]]
) -> None:
    """Make ``rows`` (``{dept_id, dept_order, is_leader}``) the complete set of departments of
    ``userid`` (the user row must exist); memberships of other departments are deleted."""
    prepared = [{**dict(r), "corp_id": corp_id, "userid": userid} for r in rows]
    upsert(conn, user_departments, prepared, ["corp_id", "userid", "dept_id"])
    keep = [int(r["dept_id"]) for r in prepared]
    gone = [user_departments.c.userid == userid]
    if keep:
        gone.append(user_departments.c.dept_id.not_in(keep))
    keep_former_memberships(conn, corp_id, *gone)
    conn.execute(delete(user_departments).where(user_departments.c.corp_id == corp_id, *gone))


def department_tree(conn: Connection, corp_id: str) -> dict[int, dict[str, Any]]:
    """Active departments ``{dept_id: {dept_id, parent_id, name, dept_order}}``."""
    rows = conn.execute(
        select(
            departments.c.dept_id,
            departments.c.parent_id,
            departments.c.name,
            departments.c.dept_order,
        ).where(departments.c.corp_id == corp_id, departments.c.status == "active")
    ).mappings()
    return {
        int(r["dept_id"]): {
            "dept_id": int(r["dept_id"]),
            "parent_id": None if r["parent_id"] is None else int(r["parent_id"]),
            "name": r["name"],
            "dept_order": r["dept_order"],
        }
        for r in rows
    }


def subtree(roots: Iterable[int], children: Mapping[int, Iterable[int]]) -> set[int]:
    """``roots`` and every department below them, by one walk of ``children`` (``{dept_id:
    [child dept ids]}``); ``roots`` are included even when ``children`` does not know them.
    A cycle in the map (a corrupt store) ends the walk instead of looping."""
    seen: set[int] = set()
    stack = [int(d) for d in roots]
    while stack:
        dept = stack.pop()
        if dept in seen:
            continue
        seen.add(dept)
        stack.extend(children.get(dept, ()))
    return seen


def department_subtree(conn: Connection, corp_id: str, roots: Iterable[int]) -> set[int]:
    """``roots`` and every synced department below them (any status), from ``departments``
    (:func:`subtree` over the stored parent map)."""
    children: dict[int, list[int]] = {}
    for did, parent in conn.execute(
        select(departments.c.dept_id, departments.c.parent_id).where(
            departments.c.corp_id == corp_id
        )
    ):
        if parent is not None:
            children.setdefault(int(parent), []).append(int(did))
    return subtree(roots, children)


def corp_name(conn: Connection, corp_id: str) -> str | None:
    """The company's name (``corps.name``, else the root department's), or ``None``."""
    name = conn.execute(select(corps.c.name).where(corps.c.corp_id == corp_id)).scalar()
    if name:
        return str(name)
    root = conn.execute(
        select(departments.c.name).where(
            departments.c.corp_id == corp_id, departments.c.dept_id == 1
        )
    ).scalar()
    return str(root) if root else None


def admin_info(conn: Connection, corp_id: str, userid: str) -> tuple[int | None, list[int]]:
    """``(sys_level, scope dept ids)`` of an administrator; ``(None, [])`` for anyone else."""
    params = {"corp": corp_id, "uid": userid}
    found = _ADMIN_LEVEL.first(conn, params)
    if found is None or found[0] is None:
        return None, []
    return int(found[0]), admin_scope(conn, corp_id, userid)


def admin_scope(conn: Connection, corp_id: str, userid: str) -> list[int]:
    """The scope dept ids of an administrator (``admin_scopes``), by ``dept_id``; ``[]`` for
    anyone else. :func:`admin_info` reads it with the level."""
    return [int(d) for (d,) in _ADMIN_SCOPE.execute(conn, {"corp": corp_id, "uid": userid})]


def set_admin_level(conn: Connection, corp_id: str, userid: str, level: int | None) -> None:
    """Set the ``admins`` level of ``userid`` as getuserinfo reported it at login (1 main, 2
    sub), or drop the row and its scopes (``None``: DingTalk no longer calls them an
    administrator). The next sync's ``replace_admins`` makes the list complete again."""
    if level is None:
        conn.execute(
            delete(admin_scopes).where(
                admin_scopes.c.corp_id == corp_id, admin_scopes.c.userid == userid
            )
        )
        conn.execute(delete(admins).where(admins.c.corp_id == corp_id, admins.c.userid == userid))
        return
    upsert(
        conn,
        admins,
        [{"corp_id": corp_id, "userid": userid, "sys_level": int(level), "raw": None}],
        ["corp_id", "userid"],
        update_columns=["sys_level"],
    )


def list_users(
    conn: Connection,
    corp_id: str,
    *,
    dept_ids: Sequence[int] | None = None,
    userids: Sequence[str] | None = None,
    name_like: str | None = None,
    include_inactive: bool = False,
    limit: int = 100,
    offset: int = 0,
    search: str | None = None,
    mobiles: visibility.Visible | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Users of ``corp_id`` (active only unless ``include_inactive``), by ``userid``, and the
    total count. ``dept_ids``: only members of these departments (``None`` = any);
    ``userids``: only these people (``None`` = anyone); both given → either matches.
    ``name_like``: substring of the name. ``search``: substring of the name, the job number
    (工号) or the mobile number — a mobile only where it is not hidden (``hide_mobile``) or
    its owner is in ``mobiles`` (whose hidden numbers the caller sees; ``None``: nobody's).
    Rows carry ``mobile`` and ``hide_mobile`` for the caller to mask."""
    ud = user_departments
    conditions: list[Any] = [users.c.corp_id == corp_id, synced_user()]
    if not include_inactive:
        conditions.append(users.c.status == "active")
    if name_like:
        conditions.append(users.c.name.contains(name_like, autoescape=True))
    if search:
        open_mobile = or_(users.c.hide_mobile.is_(None), users.c.hide_mobile == false())
        if mobiles is not None:
            open_mobile = or_(open_mobile, visibility.visible_to(mobiles, corp_id, users.c.userid))
        conditions.append(
            or_(
                users.c.name.contains(search, autoescape=True),
                users.c.job_number.contains(search, autoescape=True),
                and_(users.c.mobile.contains(search, autoescape=True), open_mobile),
            )
        )
    who: list[Any] = []
    if dept_ids is not None:
        members = select(ud.c.userid).where(
            ud.c.corp_id == corp_id, ud.c.dept_id.in_(sorted(set(dept_ids)))
        )
        who.append(users.c.userid.in_(members))
    if userids is not None:
        who.append(users.c.userid.in_(sorted(set(userids))))
    if who:
        conditions.append(or_(*who))
    where = and_(*conditions)
    total = int(conn.execute(select(func.count()).select_from(users).where(where)).scalar_one())
    rows = conn.execute(
        select(
            users.c.userid,
            users.c.name,
            users.c.avatar,
            users.c.title,
            users.c.job_number,
            users.c.status,
            users.c.local_disabled,
            users.c.mobile,
            users.c.hide_mobile,
        )
        .where(where)
        .order_by(users.c.userid)
        .limit(limit)
        .offset(offset)
    ).mappings()
    out = [dict(r) for r in rows]
    if out:
        depts: dict[str, list[int]] = {}
        for m in conn.execute(
            select(ud.c.userid, ud.c.dept_id)
            .where(ud.c.corp_id == corp_id, ud.c.userid.in_([r["userid"] for r in out]))
            .order_by(ud.c.userid, ud.c.dept_id)
        ):
            depts.setdefault(m.userid, []).append(int(m.dept_id))
        for r in out:
            r["dept_ids"] = depts.get(r["userid"], [])
    return out, total


def memberships_of(conn: Connection, corp_id: str, userids: Sequence[str]) -> dict[str, set[int]]:
    """``{userid: {dept_id, …}}`` for the given people (absent when they have none)."""
    ud = user_departments
    out: dict[str, set[int]] = {}
    unique = sorted(set(userids))
    for start in range(0, len(unique), 900):
        chunk = unique[start : start + 900]
        for m in conn.execute(
            select(ud.c.userid, ud.c.dept_id).where(ud.c.corp_id == corp_id, ud.c.userid.in_(chunk))
        ):
            out.setdefault(m.userid, set()).add(int(m.dept_id))
    return out


def names_of(conn: Connection, corp_id: str, userids: Sequence[str]) -> dict[str, str | None]:
    """``{userid: name}`` of the given people the store knows."""
    out: dict[str, str | None] = {}
    unique = sorted(set(userids))
    for start in range(0, len(unique), 900):
        chunk = unique[start : start + 900]
        for r in conn.execute(
            select(users.c.userid, users.c.name).where(
                users.c.corp_id == corp_id, users.c.userid.in_(chunk)
            )
        ):
            out[r.userid] = r.name
    return out


def member_counts(conn: Connection, corp_id: str) -> dict[int, int]:
    """``{dept_id: active direct members}`` (one GROUP BY over the memberships)."""
    ud = user_departments
    rows = conn.execute(
        select(ud.c.dept_id, func.count())
        .select_from(
            ud.join(users, and_(users.c.corp_id == ud.c.corp_id, users.c.userid == ud.c.userid))
        )
        .where(ud.c.corp_id == corp_id, users.c.status == "active")
        .group_by(ud.c.dept_id)
    )
    return {int(d): int(n) for d, n in rows}


def active_memberships(conn: Connection, corp_id: str) -> list[tuple[int, str]]:
    """``(dept_id, userid)`` of every membership of an active person (for counts that include
    sub-departments, where a person in several departments of one subtree counts once)."""
    ud = user_departments
    rows = conn.execute(
        select(ud.c.dept_id, ud.c.userid)
        .select_from(
            ud.join(users, and_(users.c.corp_id == ud.c.corp_id, users.c.userid == ud.c.userid))
        )
        .where(ud.c.corp_id == corp_id, users.c.status == "active")
    )
    return [(int(d), str(u)) for d, u in rows]


def user_roles(conn: Connection, corp_id: str, userid: str) -> list[dict[str, Any]]:
    """A person's active DingTalk roles (角色): ``{role_id, name, group_name}`` by group and
    name."""
    rows = conn.execute(
        select(roles.c.role_id, roles.c.name, roles.c.group_name)
        .select_from(
            role_members.join(
                roles,
                and_(
                    roles.c.corp_id == role_members.c.corp_id,
                    roles.c.role_id == role_members.c.role_id,
                ),
            )
        )
        .where(
            role_members.c.corp_id == corp_id,
            role_members.c.userid == userid,
            roles.c.status == "active",
        )
        .order_by(roles.c.group_name, roles.c.name, roles.c.role_id)
    ).mappings()
    return [{**dict(r), "role_id": int(r["role_id"])} for r in rows]


def list_leavers(
    conn: Connection,
    corp_id: str,
    visible: visibility.Visible,
    *,
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Departure records (离职记录) of ``corp_id`` visible to ``visible`` (``everything``, or
    leavers whose main department — or, while the store still holds it, a membership — is in
    ``visible.dept_ids``), newest departure first, and the total. ``search``: part of the
    name."""
    lv = leavers
    cond: list[Any] = [lv.c.corp_id == corp_id]
    if not visible.everything:
        parts: list[Any] = []
        if visible.dept_ids:
            parts.append(lv.c.main_dept_id.in_(list(visible.dept_ids)))
            parts.append(lv.c.userid.in_(visibility.members_in(corp_id, visible.dept_ids)))
        cond.append(or_(*parts) if parts else false())
    if search:
        cond.append(lv.c.name.contains(search, autoescape=True))
    total = int(conn.execute(select(func.count()).select_from(lv).where(*cond)).scalar_one())
    rows = conn.execute(
        select(
            lv.c.userid,
            lv.c.name,
            lv.c.leave_time,
            lv.c.last_work_day,
            lv.c.leave_reason,
            lv.c.main_dept_id,
            lv.c.main_dept_name,
        )
        .where(*cond)
        .order_by(lv.c.leave_time.desc(), lv.c.userid)
        .limit(limit)
        .offset(offset)
    ).mappings()
    return [dict(r) for r in rows], total


__all__ = [
    "active_memberships",
    "admin_info",
    "corp_name",
    "department_subtree",
    "department_tree",
    "get_user",
    "known_user",
    "list_users",
    "memberships_of",
    "replace_user_memberships",
    "set_admin_level",
    "subtree",
    "user_memberships",
]
