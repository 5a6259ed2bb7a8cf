"""Repository of local access overrides: the local ``disabled`` flag of a user (``users.
local_disabled``) and the local roles of the web service (``web_user_roles``:
:data:`~dingsync.store.schema_web.LOCAL_ROLES`, granted here, not by DingTalk — DingTalk's own
roles are :mod:`dingsync.store.repo_roles`).

Like :mod:`dingsync.store.repo`, every function takes a :class:`~sqlalchemy.Connection` inside
the caller's transaction and never commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update

from dingsync.store.prebuilt import DriverSelect
from dingsync.store.repo import upsert
from dingsync.store.schema import users
from dingsync.store.schema_web import LOCAL_ROLES, web_user_roles


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


# Every authenticated request asks these: compiled once, run through the driver.
_LOCAL_DISABLED = DriverSelect(
    select(users.c.local_disabled).where(
        users.c.corp_id == bindparam("corp"), users.c.userid == bindparam("uid")
    )
)
_USER_ROLES = DriverSelect(
    select(web_user_roles.c.role)
    .where(
        web_user_roles.c.corp_id == bindparam("corp"),
        web_user_roles.c.userid == bindparam("uid"),
    )
    .order_by(web_user_roles.c.role)
)


def is_local_disabled(conn: Connection, corp_id: str, userid: str) -> bool:
    """Whether ``userid`` is disabled locally (unknown users are not)."""
    params = {"corp": corp_id, "uid": userid}
    row = _LOCAL_DISABLED.first(conn, params)
    return bool(row is not None and row[0])


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
    return [str(role) for (role,) in _USER_ROLES.execute(conn, {"corp": corp_id, "uid": userid})]


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


__all__ = [
    "grant_role",
    "is_local_disabled",
    "list_disabled",
    "list_roles",
    "revoke_role",
    "set_local_disabled",
    "user_roles",
]
