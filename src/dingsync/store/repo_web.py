"""Repositories of the web service: sessions, login-code replay cache, local account status,
local roles, the append-only export audit, and the directory reads the web API needs.

Like :mod:`dingsync.store.repo`, every function takes a :class:`~sqlalchemy.Connection` inside
the caller's transaction and never commits. Secrets are never stored in clear: session tokens
and login codes arrive here already hashed (SHA-256 hex, computed by the caller), and the sealed
token of a login code is opaque bytes. Times are aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, false, func, insert, or_, select, true, update

from dingsync.store.repo import upsert
from dingsync.store.schema import (
    admin_scopes,
    admins,
    corps,
    departments,
    user_departments,
    users,
)
from dingsync.store.schema_web import (
    LOCAL_ROLES,
    web_export_audit,
    web_login_codes,
    web_sessions,
    web_user_roles,
)


# --------------------------------------------------------------------------------------------
# Sessions
# --------------------------------------------------------------------------------------------
def create_session(
    conn: Connection,
    *,
    token_hash: str,
    corp_id: str,
    userid: str,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    """Store a new session (``token_hash``: SHA-256 hex of the bearer token)."""
    conn.execute(
        insert(web_sessions).values(
            token_hash=token_hash,
            corp_id=corp_id,
            userid=userid,
            created_at=created_at,
            expires_at=expires_at,
        )
    )


def get_session(conn: Connection, token_hash: str) -> dict[str, Any] | None:
    """The session row (``token_hash, corp_id, userid, created_at, expires_at, revoked_at``)
    or ``None``; expiry and revocation are for the caller to judge."""
    row = (
        conn.execute(select(web_sessions).where(web_sessions.c.token_hash == token_hash))
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def revoke_session(conn: Connection, token_hash: str, now: datetime) -> bool:
    """Revoke one session; ``True`` if it existed and was not revoked yet."""
    changed = conn.execute(
        update(web_sessions)
        .where(web_sessions.c.token_hash == token_hash, web_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    return bool(changed)


def revoke_user_sessions(conn: Connection, corp_id: str, userid: str, now: datetime) -> int:
    """Revoke every live session of a user (on local disable); returns how many."""
    return int(
        conn.execute(
            update(web_sessions)
            .where(
                web_sessions.c.corp_id == corp_id,
                web_sessions.c.userid == userid,
                web_sessions.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        ).rowcount
    )


def purge_expired(conn: Connection, now: datetime) -> dict[str, int]:
    """Delete replay records and sessions whose ``expires_at`` is before ``now``. Returns
    ``{"login_codes": n, "sessions": n}``."""
    codes = conn.execute(delete(web_login_codes).where(web_login_codes.c.expires_at < now))
    sessions = conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < now))
    return {"login_codes": int(codes.rowcount), "sessions": int(sessions.rowcount)}


# --------------------------------------------------------------------------------------------
# Login-code replay cache (the 60 s double-tap rule)
# --------------------------------------------------------------------------------------------
def remember_login_code(
    conn: Connection,
    *,
    code_hash: str,
    corp_id: str,
    userid: str,
    session_hash: str,
    sealed_token: bytes,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    """Record that the login code ``code_hash`` produced session ``session_hash`` (its token
    sealed with a key derived from the code). A code is recorded once (primary key)."""
    conn.execute(
        insert(web_login_codes).values(
            code_hash=code_hash,
            corp_id=corp_id,
            userid=userid,
            session_hash=session_hash,
            sealed_token=sealed_token,
            created_at=created_at,
            expires_at=expires_at,
        )
    )


def find_login_code(conn: Connection, code_hash: str) -> dict[str, Any] | None:
    """The replay-cache row of a login code, or ``None`` (expiry judged by the caller)."""
    row = (
        conn.execute(select(web_login_codes).where(web_login_codes.c.code_hash == code_hash))
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


# --------------------------------------------------------------------------------------------
# Local account status and roles
# --------------------------------------------------------------------------------------------
def set_local_disabled(conn: Connection, corp_id: str, userid: str, disabled: bool) -> bool:
    """Disable (or enable) ``userid`` locally. A user the store does not know yet gets a stub
    row (``status='inactive'``) so the flag holds when they first log in. Returns ``True``
    when the user was already known."""
    known = (
        conn.execute(
            select(users.c.userid).where(users.c.corp_id == corp_id, users.c.userid == userid)
        ).first()
        is not None
    )
    if known:
        conn.execute(
            update(users)
            .where(users.c.corp_id == corp_id, users.c.userid == userid)
            .values(local_disabled=disabled)
        )
    else:
        upsert(
            conn,
            users,
            [
                {
                    "corp_id": corp_id,
                    "userid": userid,
                    "status": "inactive",
                    "local_disabled": disabled,
                }
            ],
            ["corp_id", "userid"],
        )
    return known


def is_local_disabled(conn: Connection, corp_id: str, userid: str) -> bool:
    """Whether ``userid`` is disabled locally (unknown users are not)."""
    value = conn.execute(
        select(users.c.local_disabled).where(users.c.corp_id == corp_id, users.c.userid == userid)
    ).scalar_one_or_none()
    return bool(value)


def list_disabled(conn: Connection, corp_id: str) -> list[str]:
    """Userids disabled locally, sorted."""
    return list(
        conn.execute(
            select(users.c.userid)
            .where(users.c.corp_id == corp_id, users.c.local_disabled.is_(True))
            .order_by(users.c.userid)
        ).scalars()
    )


def grant_role(
    conn: Connection, corp_id: str, userid: str, role: str, granted_by: str | None = None
) -> None:
    """Grant a local role (one of :data:`LOCAL_ROLES`; ``ValueError`` otherwise). Idempotent."""
    if role not in LOCAL_ROLES:
        raise ValueError(f"unknown role {role!r}; known: {', '.join(LOCAL_ROLES)}")
    upsert(
        conn,
        web_user_roles,
        [{"corp_id": corp_id, "userid": userid, "role": role, "granted_by": granted_by}],
        ["corp_id", "userid", "role"],
        update_columns=[],
    )


def revoke_role(conn: Connection, corp_id: str, userid: str, role: str) -> bool:
    """Take a local role away; ``True`` if the user had it."""
    return bool(
        conn.execute(
            delete(web_user_roles).where(
                web_user_roles.c.corp_id == corp_id,
                web_user_roles.c.userid == userid,
                web_user_roles.c.role == role,
            )
        ).rowcount
    )


def user_roles(conn: Connection, corp_id: str, userid: str) -> list[str]:
    """The local roles of one user, sorted."""
    return list(
        conn.execute(
            select(web_user_roles.c.role)
            .where(web_user_roles.c.corp_id == corp_id, web_user_roles.c.userid == userid)
            .order_by(web_user_roles.c.role)
        ).scalars()
    )


def list_roles(conn: Connection, corp_id: str) -> list[dict[str, Any]]:
    """Every local role grant of ``corp_id``: ``{userid, role, granted_at, granted_by}``."""
    rows = conn.execute(
        select(
            web_user_roles.c.userid,
            web_user_roles.c.role,
            web_user_roles.c.granted_at,
            web_user_roles.c.granted_by,
        )
        .where(web_user_roles.c.corp_id == corp_id)
        .order_by(web_user_roles.c.userid, web_user_roles.c.role)
    ).mappings()
    return [dict(r) for r in rows]


# --------------------------------------------------------------------------------------------
# Export audit (append-only: this module offers no update or delete, and triggers refuse them)
# --------------------------------------------------------------------------------------------
def append_export_audit(conn: Connection, row: Mapping[str, Any]) -> int:
    """Append one audit row and return its id.

    ``row``: ``corp_id``, ``userid`` (who), ``kind``, ``format`` (``xlsx``/``csv``),
    ``filters`` (JSON), ``row_count``, ``sha256`` (hex of the file), ``byte_size``, optional
    ``client`` and ``created_at`` (default now).
    """
    result = conn.execute(insert(web_export_audit).values(**dict(row)))
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0])


def list_export_audit(
    conn: Connection, corp_id: str, *, limit: int = 100, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Audit rows of ``corp_id``, newest first, and the total count."""
    total = int(
        conn.execute(
            select(func.count())
            .select_from(web_export_audit)
            .where(web_export_audit.c.corp_id == corp_id)
        ).scalar_one()
    )
    rows = conn.execute(
        select(web_export_audit)
        .where(web_export_audit.c.corp_id == corp_id)
        .order_by(web_export_audit.c.id.desc())
        .limit(limit)
        .offset(offset)
    ).mappings()
    return [dict(r) for r in rows], total


# --------------------------------------------------------------------------------------------
# Directory reads for the web API
# --------------------------------------------------------------------------------------------
def get_user(conn: Connection, corp_id: str, userid: str) -> dict[str, Any] | None:
    """One ``users`` row as a dict, or ``None``."""
    row = (
        conn.execute(select(users).where(users.c.corp_id == corp_id, users.c.userid == userid))
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def user_memberships(conn: Connection, corp_id: str, userid: str) -> list[dict[str, Any]]:
    """A user's memberships: ``{dept_id, dept_order, is_leader}``, by ``dept_id``."""
    ud = user_departments
    rows = conn.execute(
        select(ud.c.dept_id, ud.c.dept_order, ud.c.is_leader)
        .where(ud.c.corp_id == corp_id, ud.c.userid == userid)
        .order_by(ud.c.dept_id)
    ).mappings()
    return [
        {"dept_id": int(r["dept_id"]), "dept_order": r["dept_order"], "is_leader": r["is_leader"]}
        for r in rows
    ]


def replace_user_memberships(
    conn: Connection, corp_id: str, userid: str, rows: Iterable[Mapping[str, Any]]
) -> None:
    """Make ``rows`` (``{dept_id, dept_order, is_leader}``) the complete set of departments of
    ``userid`` (the user row must exist); memberships of other departments are deleted."""
    prepared = [{**dict(r), "corp_id": corp_id, "userid": userid} for r in rows]
    upsert(conn, user_departments, prepared, ["corp_id", "userid", "dept_id"])
    keep = [int(r["dept_id"]) for r in prepared]
    stmt = delete(user_departments).where(
        user_departments.c.corp_id == corp_id, user_departments.c.userid == userid
    )
    if keep:
        stmt = stmt.where(user_departments.c.dept_id.not_in(keep))
    conn.execute(stmt)


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


def department_subtree(conn: Connection, corp_id: str, roots: Iterable[int]) -> set[int]:
    """``roots`` and every synced department below them (any status), from ``departments``."""
    children: dict[int, list[int]] = {}
    for did, parent in conn.execute(
        select(departments.c.dept_id, departments.c.parent_id).where(
            departments.c.corp_id == corp_id
        )
    ):
        if parent is not None:
            children.setdefault(int(parent), []).append(int(did))
    wanted = {int(d) for d in roots}
    stack = list(wanted)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in wanted:
                wanted.add(child)
                stack.append(child)
    return wanted


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
    level = conn.execute(
        select(admins.c.sys_level).where(admins.c.corp_id == corp_id, admins.c.userid == userid)
    ).scalar_one_or_none()
    if level is None:
        return None, []
    scope = conn.execute(
        select(admin_scopes.c.dept_id)
        .where(admin_scopes.c.corp_id == corp_id, admin_scopes.c.userid == userid)
        .order_by(admin_scopes.c.dept_id)
    ).scalars()
    return int(level), [int(d) for d in scope]


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
) -> tuple[list[dict[str, Any]], int]:
    """Users of ``corp_id`` (active only unless ``include_inactive``), by ``userid``, and the
    total count. ``dept_ids``: only members of these departments (``None`` = any);
    ``userids``: only these people (``None`` = anyone); both given → either matches.
    ``name_like``: substring of the name."""
    ud = user_departments
    conditions: list[Any] = [users.c.corp_id == corp_id]
    if not include_inactive:
        conditions.append(users.c.status == "active")
    if name_like:
        conditions.append(users.c.name.contains(name_like, autoescape=True))
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


# --------------------------------------------------------------------------------------------
# Data reads for the web API (reports, attendance, approvals), filtered by a visibility scope
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Visible:
    """Which records a viewer may reach (the store-side form of the web rules' scope): the
    union of ``everything``; records owned by ``owner``; records ``participant`` takes part in;
    records whose owner belongs to one of ``dept_ids``; attendance of ``group_ids``."""

    everything: bool = False
    owner: str | None = None
    participant: str | None = None
    dept_ids: tuple[int, ...] = ()
    group_ids: tuple[int, ...] = ()


def _members_of(corp_id: str, dept_ids: Sequence[int]) -> Any:
    ud = user_departments
    return select(ud.c.userid).where(ud.c.corp_id == corp_id, ud.c.dept_id.in_(sorted(dept_ids)))


def _visible(
    v: Visible,
    corp_id: str,
    owner_col: Any,
    participant: Callable[[str], Any] | None = None,
    group_col: Any = None,
) -> Any:
    """The SQL condition of ``v`` (``false`` when nothing is visible)."""
    if v.everything:
        return true()
    parts: list[Any] = []
    if v.owner is not None:
        parts.append(owner_col == v.owner)
    if v.participant is not None and participant is not None:
        parts.append(participant(v.participant))
    if v.dept_ids:
        parts.append(owner_col.in_(_members_of(corp_id, v.dept_ids)))
    if v.group_ids and group_col is not None:
        parts.append(group_col.in_(sorted(v.group_ids)))
    return or_(*parts) if parts else false()


def _created_by(
    corp_id: str,
    time_col: Any,
    person_col: Any,
    start: datetime | None,
    end: datetime | None,
    person: str | None,
    dept_ids: Sequence[int] | None,
) -> list[Any]:
    """The filters reports and approvals share: ``time_col`` in ``[start, end)``,
    ``person_col`` (creator/originator) is ``person`` or a member of one of ``dept_ids``."""
    cond: list[Any] = []
    if start is not None:
        cond.append(time_col >= start)
    if end is not None:
        cond.append(time_col < end)
    if person is not None:
        cond.append(person_col == person)
    if dept_ids is not None:
        cond.append(person_col.in_(_members_of(corp_id, dept_ids)))
    return cond


def report_conditions(
    corp_id: str,
    visible: Visible | None,
    *,
    template: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    creator: str | None = None,
    dept_ids: Sequence[int] | None = None,
) -> list[Any]:
    """SQL conditions on ``reports`` (all must hold): of ``corp_id``, visible to ``visible``
    (``None``: no visibility filter, i.e. everything — the CLI), template name ``template``,
    created in ``[start, end)`` (aware datetimes), by ``creator``, by a member of one of
    ``dept_ids`` (exactly these departments: pass a subtree to include sub-departments).
    The list API and the export writer both use these, so they select the same reports."""
    from dingsync.store.schema_reports import report_receivers, reports

    r = reports

    def received(userid: str) -> Any:
        rr = report_receivers
        return r.c.report_id.in_(
            select(rr.c.report_id).where(rr.c.corp_id == corp_id, rr.c.userid == userid)
        )

    cond: list[Any] = [r.c.corp_id == corp_id]
    if visible is not None:
        cond.append(_visible(visible, corp_id, r.c.creator_id, received))
    if template is not None:
        cond.append(r.c.template_name == template)
    return cond + _created_by(
        corp_id, r.c.create_time, r.c.creator_id, start, end, creator, dept_ids
    )


def list_reports(
    conn: Connection,
    corp_id: str,
    visible: Visible,
    *,
    template: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    creator: str | None = None,
    dept_ids: Sequence[int] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Reports visible to ``visible``, newest first, and the total. ``start``/``end``: creation
    time range ``[start, end)``; ``dept_ids``: creators in these departments."""
    from dingsync.store.schema_reports import reports

    r = reports
    cond = report_conditions(
        corp_id,
        visible,
        template=template,
        start=start,
        end=end,
        creator=creator,
        dept_ids=dept_ids,
    )
    total = int(conn.execute(select(func.count()).select_from(r).where(*cond)).scalar_one())
    rows = conn.execute(
        select(
            r.c.report_id,
            r.c.template_name,
            r.c.creator_id,
            r.c.creator_name,
            r.c.dept_name,
            r.c.create_time,
            r.c.modified_time,
        )
        .where(*cond)
        .order_by(r.c.create_time.desc(), r.c.report_id)
        .limit(limit)
        .offset(offset)
    ).mappings()
    return [dict(x) for x in rows], total


def get_report(conn: Connection, corp_id: str, report_id: str) -> dict[str, Any] | None:
    """One report with ``contents`` (in order), ``receivers`` and ``comments``, or ``None``."""
    from dingsync.store.schema_reports import (
        report_comments,
        report_contents,
        report_receivers,
        reports,
    )

    row = (
        conn.execute(
            select(reports).where(reports.c.corp_id == corp_id, reports.c.report_id == report_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    out = {k: v for k, v in dict(row).items() if k != "raw"}
    key = (report_contents.c.corp_id == corp_id, report_contents.c.report_id == report_id)
    out["contents"] = [
        dict(c)
        for c in conn.execute(
            select(
                report_contents.c.key,
                report_contents.c.sort,
                report_contents.c.type,
                report_contents.c.value,
            )
            .where(*key)
            .order_by(report_contents.c.position)
        ).mappings()
    ]
    out["receivers"] = list(
        conn.execute(
            select(report_receivers.c.userid)
            .where(report_receivers.c.corp_id == corp_id, report_receivers.c.report_id == report_id)
            .order_by(report_receivers.c.userid)
        ).scalars()
    )
    rc = report_comments
    out["comments"] = [
        dict(c)
        for c in conn.execute(
            select(rc.c.userid, rc.c.content, rc.c.created_at)
            .where(rc.c.corp_id == corp_id, rc.c.report_id == report_id)
            .order_by(rc.c.position)
        ).mappings()
    ]
    return out


def _work_date_range(column: Any, start: date | None, end: date | None) -> list[Any]:
    """Conditions for work dates ``start``..``end`` (inclusive) on a ``work_date`` column (a
    ``DATE``: the Asia/Shanghai calendar date, migration 0009)."""
    out: list[Any] = []
    if start is not None:
        out.append(column >= start)
    if end is not None:
        out.append(column <= end)
    return out


def list_attendance_results(
    conn: Connection,
    corp_id: str,
    visible: Visible,
    *,
    start: date | None = None,
    end: date | None = None,
    userid: str | None = None,
    dept_ids: Sequence[int] | None = None,
    time_result: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Attendance results (``/attendance/list`` rows) visible to ``visible``, by work date then
    user, and the total. ``start``/``end``: work dates (Asia/Shanghai calendar dates),
    inclusive; ``work_date`` comes back as a ``datetime.date``, times as aware UTC."""
    from dingsync.store.schema_attendance import attendance_results

    a = attendance_results
    cond: list[Any] = [
        a.c.corp_id == corp_id,
        _visible(visible, corp_id, a.c.userid, group_col=a.c.group_id),
    ]
    cond += _work_date_range(a.c.work_date, start, end)
    if userid is not None:
        cond.append(a.c.userid == userid)
    if dept_ids is not None:
        cond.append(a.c.userid.in_(_members_of(corp_id, dept_ids)))
    if time_result is not None:
        cond.append(a.c.time_result == time_result)
    total = int(conn.execute(select(func.count()).select_from(a).where(*cond)).scalar_one())
    rows = conn.execute(
        select(
            a.c.id,
            a.c.userid,
            a.c.work_date,
            a.c.check_type,
            a.c.time_result,
            a.c.location_result,
            a.c.source_type,
            a.c.group_id,
            a.c.base_check_time,
            a.c.user_check_time,
            a.c.proc_inst_id,
        )
        .where(*cond)
        .order_by(a.c.work_date, a.c.userid, a.c.base_check_time, a.c.id)
        .limit(limit)
        .offset(offset)
    ).mappings()
    return [dict(x) for x in rows], total


def attendance_summary(
    conn: Connection,
    corp_id: str,
    visible: Visible,
    *,
    start: date,
    end: date,
    userid: str | None = None,
    dept_ids: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """Per person, for work dates ``start``..``end`` (Asia/Shanghai calendar dates, inclusive):
    ``days`` (with a result), ``checks`` and the count of each ``time_result`` (``Normal``,
    ``Late``, ``Early``, ``NotSigned``, …)."""
    from dingsync.store.schema_attendance import attendance_results

    a = attendance_results
    cond: list[Any] = [
        a.c.corp_id == corp_id,
        *_work_date_range(a.c.work_date, start, end),
        _visible(visible, corp_id, a.c.userid, group_col=a.c.group_id),
    ]
    if userid is not None:
        cond.append(a.c.userid == userid)
    if dept_ids is not None:
        cond.append(a.c.userid.in_(_members_of(corp_id, dept_ids)))
    out: dict[str, dict[str, Any]] = {}
    for row in conn.execute(
        select(a.c.userid, a.c.time_result, func.count())
        .where(*cond)
        .group_by(a.c.userid, a.c.time_result)
        .order_by(a.c.userid)
    ):
        entry = out.setdefault(row[0], {"userid": row[0], "checks": 0, "results": {}})
        entry["checks"] += int(row[2])
        entry["results"][row[1] or "Unknown"] = int(row[2])
    days: dict[str, int] = {
        str(r[0]): int(r[1])
        for r in conn.execute(
            select(a.c.userid, func.count(a.c.work_date.distinct()))
            .where(*cond)
            .group_by(a.c.userid)
        )
    }
    for userid_, entry in out.items():
        entry["days"] = int(days.get(userid_, 0))
    return list(out.values())


def managed_attendance_groups(conn: Connection, corp_id: str, userid: str) -> list[int]:
    """Attendance groups ``userid`` manages (``attendance_group_managers``; empty when the
    attendance tables are not there)."""
    try:
        from dingsync.store.schema_attendance import attendance_group_managers as m
    except ImportError:  # pragma: no cover - the attendance area has not landed
        return []
    return [
        int(g)
        for g in conn.execute(
            select(m.c.group_id).where(m.c.corp_id == corp_id, m.c.userid == userid)
        ).scalars()
    ]


def approval_conditions(
    corp_id: str,
    visible: Visible | None,
    *,
    process_code: str | None = None,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    originator: str | None = None,
    dept_ids: Sequence[int] | None = None,
) -> list[Any]:
    """SQL conditions on ``approval_instances`` (all must hold): of ``corp_id``, visible to
    ``visible`` — the originator, approvers (``approval_tasks``), cc'd people
    (``approval_cc``), originators in ``visible.dept_ids`` — (``None``: no visibility filter,
    i.e. everything — the CLI), template ``process_code``, ``status`` (``RUNNING``,
    ``COMPLETED``, …), created in ``[start, end)`` (aware datetimes), by ``originator``, by a
    member of one of ``dept_ids`` (exactly these departments: pass a subtree to include
    sub-departments). The list API and the export writer both use these."""
    from dingsync.store.schema_approvals import approval_cc, approval_instances, approval_tasks

    i = approval_instances

    def involved(userid: str) -> Any:
        tasks = select(approval_tasks.c.process_instance_id).where(
            approval_tasks.c.corp_id == corp_id, approval_tasks.c.userid == userid
        )
        cc = select(approval_cc.c.process_instance_id).where(
            approval_cc.c.corp_id == corp_id, approval_cc.c.userid == userid
        )
        return or_(i.c.process_instance_id.in_(tasks), i.c.process_instance_id.in_(cc))

    cond: list[Any] = [i.c.corp_id == corp_id]
    if visible is not None:
        cond.append(_visible(visible, corp_id, i.c.originator_userid, involved))
    if process_code is not None:
        cond.append(i.c.process_code == process_code)
    if status is not None:
        cond.append(i.c.status == status)
    return cond + _created_by(
        corp_id, i.c.create_time, i.c.originator_userid, start, end, originator, dept_ids
    )


def list_approvals(
    conn: Connection,
    corp_id: str,
    visible: Visible,
    *,
    process_code: str | None = None,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    originator: str | None = None,
    dept_ids: Sequence[int] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Approval instances visible to ``visible`` (originator, approvers from ``tasks``, cc'd),
    newest first, and the total."""
    from dingsync.store.schema_approvals import approval_instances

    i = approval_instances
    cond = approval_conditions(
        corp_id,
        visible,
        process_code=process_code,
        status=status,
        start=start,
        end=end,
        originator=originator,
        dept_ids=dept_ids,
    )
    total = int(conn.execute(select(func.count()).select_from(i).where(*cond)).scalar_one())
    rows = conn.execute(
        select(
            i.c.process_instance_id,
            i.c.process_code,
            i.c.title,
            i.c.business_id,
            i.c.originator_userid,
            i.c.originator_dept_id,
            i.c.originator_dept_name,
            i.c.status,
            i.c.result,
            i.c.create_time,
            i.c.finish_time,
        )
        .where(*cond)
        .order_by(i.c.create_time.desc(), i.c.process_instance_id)
        .limit(limit)
        .offset(offset)
    ).mappings()
    return [dict(x) for x in rows], total


def get_approval(conn: Connection, corp_id: str, instance_id: str) -> dict[str, Any] | None:
    """One approval instance with ``form_values``, ``tasks``, ``operation_records``, ``cc``
    (each in DingTalk's order), or ``None``."""
    from dingsync.store.schema_approvals import (
        approval_cc,
        approval_form_values,
        approval_instances,
        approval_operation_records,
        approval_tasks,
    )

    i = approval_instances
    row = (
        conn.execute(
            select(i).where(i.c.corp_id == corp_id, i.c.process_instance_id == instance_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    out = {k: v for k, v in dict(row).items() if k != "raw"}

    def children(table: Any, *cols: str, order: str = "seq") -> list[dict[str, Any]]:
        stmt = (
            select(*(table.c[c] for c in cols))
            .where(table.c.corp_id == corp_id, table.c.process_instance_id == instance_id)
            .order_by(table.c[order])
        )
        return [dict(x) for x in conn.execute(stmt).mappings()]

    out["form_values"] = children(
        approval_form_values, "component_id", "name", "component_type", "value", "ext_value"
    )
    out["tasks"] = children(
        approval_tasks,
        "taskid",
        "userid",
        "task_status",
        "task_result",
        "create_time",
        "finish_time",
    )
    out["operation_records"] = children(
        approval_operation_records,
        "userid",
        "date",
        "operation_type",
        "operation_result",
        "remark",
    )
    out["cc"] = [c["userid"] for c in children(approval_cc, "userid", order="userid")]
    return out


def approval_participants(conn: Connection, corp_id: str, instance_id: str) -> set[str]:
    """Approvers (from ``tasks``) and cc'd people of one instance."""
    from dingsync.store.schema_approvals import approval_cc, approval_tasks

    people: set[str] = set()
    for table in (approval_tasks, approval_cc):
        people.update(
            u
            for u in conn.execute(
                select(table.c.userid).where(
                    table.c.corp_id == corp_id, table.c.process_instance_id == instance_id
                )
            ).scalars()
            if u
        )
    return people


def attendance_group_userids(conn: Connection, corp_id: str, group_ids: Sequence[int]) -> set[str]:
    """Members of the given attendance groups (``attendance_group_members``)."""
    from dingsync.store.schema_attendance import attendance_group_members as m

    if not group_ids:
        return set()
    return set(
        conn.execute(
            select(m.c.userid).where(m.c.corp_id == corp_id, m.c.group_id.in_(sorted(group_ids)))
        ).scalars()
    )


__all__ = [
    "Visible",
    "admin_info",
    "append_export_audit",
    "approval_conditions",
    "approval_participants",
    "attendance_group_userids",
    "attendance_summary",
    "corp_name",
    "create_session",
    "department_subtree",
    "department_tree",
    "find_login_code",
    "get_approval",
    "get_report",
    "get_session",
    "get_user",
    "grant_role",
    "is_local_disabled",
    "list_approvals",
    "list_attendance_results",
    "list_disabled",
    "list_export_audit",
    "list_reports",
    "list_roles",
    "list_users",
    "managed_attendance_groups",
    "memberships_of",
    "purge_expired",
    "remember_login_code",
    "replace_user_memberships",
    "report_conditions",
    "revoke_role",
    "revoke_session",
    "revoke_user_sessions",
    "set_admin_level",
    "set_local_disabled",
    "user_memberships",
    "user_roles",
]
