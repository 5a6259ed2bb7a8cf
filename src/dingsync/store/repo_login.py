"""The login's combined reads (issue 17, branch ``login21``): what the store hop of a login
(:func:`dingsync.web.login._session_if_fresh`) used to ask in five separate statements, in
two — each statement costs more in Python around it than SQLite takes to answer it.

- :func:`first_look`: the company's registry status (``corps.status``), whether the replay
  cache holds the login code (``web_login_codes``) and the user's administrator level
  (``admins.sys_level``) — one ``SELECT`` of three scalar subqueries, each a primary-key
  lookup (at most one row), with no ``FROM``: portable to SQLite, PostgreSQL and MariaDB.
- :func:`viewer_grants`: the attendance groups the user manages
  (``attendance_group_managers``) and their local roles (``web_user_roles``) — one
  ``UNION ALL`` of the two, each row tagged with its table.

Both answer exactly what the separate reads answer (:func:`repo_corps.corp_status`,
:func:`repo_sessions.login_code_known`, the level of :func:`repo_contacts.admin_info`,
:func:`repo_attendance.managed_attendance_groups`, :func:`repo_local_access.user_roles`);
``tests/store/test_repo_login.py`` checks it on the three backends. Like the other
repositories, every function takes a connection inside the caller's transaction and never
commits.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import Connection, String, bindparam, cast, literal_column, select, union_all

from dingsync.store.prebuilt import DriverSelect
from dingsync.store.schema import admins, corps, users
from dingsync.store.schema_attendance import attendance_group_managers
from dingsync.store.schema_web import web_login_codes, web_user_roles

_LOOKS = (
    select(corps.c.status)
    .where(corps.c.corp_id == bindparam("corp"))
    .scalar_subquery()
    .label("look_corp_status"),
    select(web_login_codes.c.code_hash)
    .where(web_login_codes.c.code_hash == bindparam("key"))
    .scalar_subquery()
    .label("look_code_hash"),
    select(admins.c.sys_level)
    .where(admins.c.corp_id == bindparam("corp"), admins.c.userid == bindparam("uid"))
    .scalar_subquery()
    .label("look_sys_level"),
)
_FIRST_LOOK = DriverSelect(select(*_LOOKS))
#: The same three with the user's ``users`` row in front (no row when it is not stored: then
#: :data:`_FIRST_LOOK` is asked).
_FIRST_LOOK_WITH_USER = DriverSelect(
    select(users, *_LOOKS).where(
        users.c.corp_id == bindparam("corp"), users.c.userid == bindparam("uid")
    )
)
_USER_KEYS = tuple(c.key for c in users.c)

#: Row tags of :data:`_GRANTS`.
_GROUP, _ROLE = "g", "r"

_GRANTS = DriverSelect(
    union_all(
        select(
            literal_column(f"'{_GROUP}'", String).label("kind"),
            cast(attendance_group_managers.c.group_id, String).label("value"),
        ).where(
            attendance_group_managers.c.corp_id == bindparam("corp"),
            attendance_group_managers.c.userid == bindparam("uid"),
        ),
        select(
            literal_column(f"'{_ROLE}'", String).label("kind"), web_user_roles.c.role.label("value")
        ).where(
            web_user_roles.c.corp_id == bindparam("corp"),
            web_user_roles.c.userid == bindparam("uid"),
        ),
    )
)


class FirstLook(NamedTuple):
    """What :func:`first_look` read."""

    #: ``corps.status`` (``active``, ``relieved``, ``stopped``); ``None``: not registered.
    corp_status: str | None
    #: Whether the replay cache holds a row for the login code (expired or not).
    code_known: bool
    #: ``admins.sys_level`` of the user (1 main, 2 sub-administrator); ``None``: not one.
    admin_level: int | None


def first_look(conn: Connection, corp_id: str, userid: str, code_hash: str | None) -> FirstLook:
    """The company's status, whether the login code ``code_hash`` (``None``: no code, never
    known) is in the replay cache, and the administrator level of ``userid`` — one statement.
    """
    return first_look_and_user(conn, corp_id, userid, code_hash, with_user=False)[0]


def first_look_and_user(
    conn: Connection, corp_id: str, userid: str, code_hash: str | None, *, with_user: bool = True
) -> tuple[FirstLook, dict[str, Any] | None]:
    """:func:`first_look` and the ``users`` row of ``userid`` as
    :func:`repo_contacts.get_user` gives it (``None``: not stored) — one statement for a
    stored user, two for one not stored yet (``with_user=False``: the row is not read)."""
    params = {"corp": corp_id, "uid": userid, "key": code_hash}
    user = None
    row = _FIRST_LOOK_WITH_USER.first(conn, params) if with_user else None
    if row is not None:
        n = len(_USER_KEYS)
        user = dict(zip(_USER_KEYS, row[:n], strict=True))
        row = row[n:]
    else:
        row = _FIRST_LOOK.first(conn, params)
    status, known, level = row if row is not None else (None, None, None)
    look = FirstLook(
        None if status is None else str(status),
        code_hash is not None and known is not None,
        None if level is None else int(level),
    )
    return look, user


def viewer_grants(conn: Connection, corp_id: str, userid: str) -> tuple[list[str], list[str]]:
    """``(attendance group ids as decimal strings, local roles sorted)`` of ``userid`` — one
    statement. The group ids are what :class:`dingsync.web.rules.Viewer` keeps
    (``str(group_id)``), in no particular order."""
    groups: list[str] = []
    roles: list[str] = []
    for kind, value in _GRANTS.execute(conn, {"corp": corp_id, "uid": userid}):
        if kind == _GROUP:
            groups.append(str(int(value)))
        else:
            roles.append(str(value))
    roles.sort()
    return groups, roles


__all__ = ["FirstLook", "first_look", "first_look_and_user", "viewer_grants"]
