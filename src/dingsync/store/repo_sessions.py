"""Repository of the web service's sessions and its login-code replay cache
(``web_sessions``, ``web_login_codes`` in :mod:`dingsync.store.schema_web`).

Like :mod:`dingsync.store.repo`, every function takes a :class:`~sqlalchemy.Connection` inside
the caller's transaction and never commits. Secrets are never stored in clear: session tokens
and login codes arrive here already hashed (SHA-256 hex, computed by the caller), and the sealed
token of a login code is opaque bytes. Times are aware UTC datetimes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from dingsync.store.prebuilt import DriverSelect, insert_one
from dingsync.store.schema_web import web_login_codes, web_sessions

# Built once (every login and every authenticated request runs them): building a statement
# and its cache key costs more than SQLite takes to answer it. The two inserts and the
# replay record's existence check go through the driver (:mod:`dingsync.store.prebuilt`).
_INSERT_SESSION = insert(web_sessions)
_GET_SESSION = select(web_sessions).where(web_sessions.c.token_hash == bindparam("digest"))
_INSERT_LOGIN_CODE = insert(web_login_codes)
_FIND_LOGIN_CODE = select(web_login_codes).where(web_login_codes.c.code_hash == bindparam("key"))
_LOGIN_CODE_KNOWN = DriverSelect(
    select(web_login_codes.c.code_hash).where(web_login_codes.c.code_hash == bindparam("key"))
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
    insert_one(
        conn,
        _INSERT_SESSION,
        {
            "token_hash": token_hash,
            "corp_id": corp_id,
            "userid": userid,
            "created_at": created_at,
            "expires_at": expires_at,
        },
    )


def get_session(conn: Connection, token_hash: str) -> dict[str, Any] | None:
    """The session row (``token_hash, corp_id, userid, created_at, expires_at, revoked_at``)
    or ``None``; expiry and revocation are for the caller to judge."""
    row = conn.execute(_GET_SESSION, {"digest": token_hash}).mappings().first()
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
    insert_one(
        conn,
        _INSERT_LOGIN_CODE,
        {
            "code_hash": code_hash,
            "corp_id": corp_id,
            "userid": userid,
            "session_hash": session_hash,
            "sealed_token": sealed_token,
            "created_at": created_at,
            "expires_at": expires_at,
        },
    )


def find_login_code(conn: Connection, code_hash: str) -> dict[str, Any] | None:
    """The replay-cache row of a login code, or ``None`` (expiry judged by the caller)."""
    row = conn.execute(_FIND_LOGIN_CODE, {"key": code_hash}).mappings().first()
    return dict(row) if row is not None else None


def login_code_known(conn: Connection, code_hash: str) -> bool:
    """Whether the replay cache holds a row for the login code ``code_hash`` (expired or not)
    — the cheap first look of every login; :func:`find_login_code` reads the row."""
    return _LOGIN_CODE_KNOWN.first(conn, {"key": code_hash}) is not None


__all__ = [
    "create_session",
    "find_login_code",
    "get_session",
    "login_code_known",
    "purge_expired",
    "remember_login_code",
    "revoke_session",
    "revoke_user_sessions",
]
