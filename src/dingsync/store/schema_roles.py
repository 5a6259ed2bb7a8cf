"""Tables for roles (角色): the roles of each role group and who holds them.

Defined on the shared :data:`dingsync.store.schema.metadata`. Keys are DingTalk's ids
(``role_id``, ``userid``) plus ``corp_id``.

``roles``: one row per role of ``/topapi/role/list`` (``roles[].id``), with its group
(``groupId``/``name`` of the list item). ``status`` is ``active`` while DingTalk lists the role
and ``removed`` once a full read of the roles no longer does (never deleted, like departments);
``last_seen_run_id`` is the sync run that last listed it.

``role_members``: one row per (role, member) of ``/topapi/role/simplelist``; ``manage_scopes``
is the member's ``manageScopes`` as ``[{dept_id, name}]`` (``[]`` = the whole company). A role's
members are replaced whenever the role is read: people who no longer hold it are deleted, and so
are all members of a removed role.

Migration: ``migrations/versions/0008_roles.py``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    Table,
)

from dingsync.store.nul import NulSafeString
from dingsync.store.schema import UTCDateTime, json_type, metadata, utcnow

ROLE_STATUSES = ("active", "removed")


def _id(name: str, **kw: Any) -> Column[Any]:
    return Column(name, NulSafeString(64), **kw)


roles = Table(
    "roles",
    metadata,
    _id("corp_id", primary_key=True),
    Column("role_id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", NulSafeString(255)),
    Column("group_id", BigInteger, comment="the role group's groupId"),
    Column("group_name", NulSafeString(255), comment="the role group's name, e.g. 默认"),
    Column("status", NulSafeString(16), nullable=False, default="active"),
    Column("last_seen_run_id", Integer),
    Column("synced_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("raw", json_type(), nullable=True),
    CheckConstraint("status IN ('active', 'removed')", name="status"),
    Index("ix_roles_corp_id_group_id", "corp_id", "group_id"),
    comment="Roles (角色) of /topapi/role/list with their role group.",
)

role_members = Table(
    "role_members",
    metadata,
    _id("corp_id", primary_key=True),
    Column("role_id", BigInteger, primary_key=True, autoincrement=False),
    _id("userid", primary_key=True),
    Column("name", NulSafeString(255)),
    Column(
        "manage_scopes",
        json_type(),
        comment="manageScopes as [{dept_id, name}]; [] = the whole company",
    ),
    Column("synced_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("raw", json_type(), nullable=True),
    ForeignKeyConstraint(
        ["corp_id", "role_id"], ["roles.corp_id", "roles.role_id"], ondelete="CASCADE"
    ),
    Index("ix_role_members_corp_id_userid", "corp_id", "userid"),
    comment="Who holds each role (/topapi/role/simplelist), with the departments they manage.",
)

__all__ = ["ROLE_STATUSES", "metadata", "role_members", "roles"]
