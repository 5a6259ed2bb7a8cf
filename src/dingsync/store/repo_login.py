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

from typing import NamedTuple

from sqlalchemy import Connection, String, bindparam, cast, literal_column, select, union_all

from dingsync.store.prebuilt import DriverSelect
from dingsync.store.schema import admins, corps
from dingsync.store.schema_attendance import attendance_group_managers
from dingsync.store.schema_web import web_login_codes, web_user_roles

_FIRST_LOOK = DriverSelect(
    select(
        select(corps.c.status)
        .where(corps.c.corp_id == bindparam("corp"))
        .scalar_subquery()
        .label("corp_status"),
        select(web_login_codes.c.code_hash)
        .where(web_login_codes.c.code_hash == bindparam("key"))
        .scalar_subquery()
        .label("code_hash"),
        select(admins.c.sys_level)
        .where(admins.c.corp_id == bindparam("corp"), admins.c.userid == bindparam("uid"))
        .scalar_subquery()
        .label("sys_level"),
    )
)

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
    row = _FIRST_LOOK.first(conn, {"corp": corp_id, "uid": userid, "key": code_hash})
    status, known, level = row if row is not None else (None, None, None)
    return FirstLook(
        None if status is None else str(status),
        code_hash is not None and known is not None,
        None if level is None else int(level),
    )


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


__all__ = ["FirstLook", "first_look", "viewer_grants"]
