"""Roles (角色): the ``roles`` and ``role_members`` tables of ``dingsync/store/schema_roles.py``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Written by hand to match ``store/schema_roles.py``; tests/store/test_migrations.py compares.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts() -> sa.types.TypeEngine[Any]:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _id(name: str, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.String(64), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "roles",
        _id("corp_id", nullable=False),
        sa.Column("role_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("group_id", sa.BigInteger(), nullable=True, comment="the role group's groupId"),
        sa.Column(
            "group_name",
            sa.String(255),
            nullable=True,
            comment="the role group's name, e.g. 默认",
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_seen_run_id", sa.Integer(), nullable=True),
        sa.Column("synced_at", _ts(), nullable=False),
        sa.Column("raw", _json(), nullable=True),
        sa.CheckConstraint("status IN ('active', 'removed')", name=op.f("ck_roles_status")),
        sa.PrimaryKeyConstraint("corp_id", "role_id", name=op.f("pk_roles")),
        comment="Roles (角色) of /topapi/role/list with their role group.",
    )
    op.create_index("ix_roles_corp_id_group_id", "roles", ["corp_id", "group_id"], unique=False)

    op.create_table(
        "role_members",
        _id("corp_id", nullable=False),
        sa.Column("role_id", sa.BigInteger(), autoincrement=False, nullable=False),
        _id("userid", nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column(
            "manage_scopes",
            _json(),
            nullable=True,
            comment="manageScopes as [{dept_id, name}]; [] = the whole company",
        ),
        sa.Column("synced_at", _ts(), nullable=False),
        sa.Column("raw", _json(), nullable=True),
        sa.ForeignKeyConstraint(
            ["corp_id", "role_id"],
            ["roles.corp_id", "roles.role_id"],
            name=op.f("fk_role_members_corp_id_role_id_roles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("corp_id", "role_id", "userid", name=op.f("pk_role_members")),
        comment="Who holds each role (/topapi/role/simplelist), with the departments they manage.",
    )
    op.create_index(
        "ix_role_members_corp_id_userid", "role_members", ["corp_id", "userid"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_role_members_corp_id_userid", table_name="role_members")
    op.drop_table("role_members")
    op.drop_index("ix_roles_corp_id_group_id", table_name="roles")
    op.drop_table("roles")
