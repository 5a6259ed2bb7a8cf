"""Repository of roles (角色): ``roles`` and ``role_members`` (``store/schema_roles.py``).

Like :mod:`dingsync.store.repo`, every function takes a ``Connection`` inside the caller's
transaction, never commits, and writes with set-based idempotent upserts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, delete, select, update

from dingsync.store import repo
from dingsync.store.schema_roles import role_members, roles


def upsert_roles(conn: Connection, corp_id: str, rows: Iterable[repo.Row]) -> int:
    """Insert or update ``roles`` rows of ``corp_id`` (key ``role_id``).

    A row carries ``role_id``, ``name``, ``group_id``, ``group_name``, ``raw`` and normally
    ``status='active'`` and ``last_seen_run_id``; ``synced_at`` defaults to now. Returns the
    number of rows written."""
    return repo.upsert(conn, roles, repo._for_corp(corp_id, rows), ["corp_id", "role_id"])


def replace_role_members(
    conn: Connection, corp_id: str, role_id: int, rows: Iterable[repo.Row]
) -> int:
    """Make ``rows`` the complete membership of role ``role_id`` (which must exist in
    ``roles``: foreign key).

    ``rows``: ``role_members`` dicts (``userid``, ``name``, ``manage_scopes`` as
    ``[{dept_id, name}]`` — ``[]`` for the whole company —, ``raw``, optional ``synced_at``);
    ``corp_id``/``role_id`` are filled in. Members of this role not in ``rows`` are deleted;
    other roles are not touched. Returns the number of members removed."""
    prepared = repo._for_corp(corp_id, rows, role_id=role_id)
    repo.upsert(conn, role_members, prepared, ["corp_id", "role_id", "userid"])
    keep = {r["userid"] for r in prepared}
    existing = conn.execute(
        select(role_members.c.userid).where(
            role_members.c.corp_id == corp_id, role_members.c.role_id == role_id
        )
    ).scalars()
    stale = sorted(set(existing) - keep)
    removed = 0
    for chunk in repo._in_chunks(conn, stale):
        removed += conn.execute(
            delete(role_members).where(
                role_members.c.corp_id == corp_id,
                role_members.c.role_id == role_id,
                role_members.c.userid.in_(chunk),
            )
        ).rowcount
    return removed


def retire_roles(conn: Connection, corp_id: str, listed: Iterable[int]) -> list[int]:
    """Mark every active role of ``corp_id`` whose id is not in ``listed`` (the complete set
    DingTalk lists now) as ``removed`` and delete its members; rows are kept. Returns the ids
    marked, ascending."""
    keep = {int(r) for r in listed}
    active = conn.execute(
        select(roles.c.role_id).where(roles.c.corp_id == corp_id, roles.c.status == "active")
    ).scalars()
    gone = sorted(set(active) - keep)
    retire_role_ids(conn, corp_id, gone)
    return gone


def retire_role_ids(conn: Connection, corp_id: str, role_ids: Sequence[int]) -> None:
    """Mark the roles ``role_ids`` of ``corp_id`` as ``removed`` and delete their members
    (e.g. ``/topapi/role/simplelist`` answered 33011 for them: deleted since the list)."""
    for chunk in repo._in_chunks(conn, sorted({int(r) for r in role_ids})):
        conn.execute(
            delete(role_members).where(
                role_members.c.corp_id == corp_id, role_members.c.role_id.in_(chunk)
            )
        )
        conn.execute(
            update(roles)
            .where(roles.c.corp_id == corp_id, roles.c.role_id.in_(chunk))
            .values(status="removed")
        )


def load_roles(conn: Connection, corp_id: str) -> dict[int, dict[str, Any]]:
    """Every stored role of ``corp_id`` by ``role_id`` (all ``roles`` columns) with
    ``members``: ``{userid: role_members row}``."""
    out: dict[int, dict[str, Any]] = {}
    for row in conn.execute(
        select(roles).where(roles.c.corp_id == corp_id).order_by(roles.c.role_id)
    ).mappings():
        out[int(row["role_id"])] = {**dict(row), "members": {}}
    for row in conn.execute(
        select(role_members)
        .where(role_members.c.corp_id == corp_id)
        .order_by(role_members.c.role_id, role_members.c.userid)
    ).mappings():
        role = out.get(int(row["role_id"]))
        if role is not None:
            role["members"][row["userid"]] = dict(row)
    return out


__all__ = [
    "load_roles",
    "replace_role_members",
    "retire_role_ids",
    "retire_roles",
    "upsert_roles",
]
