"""Former memberships: the departments a person belonged to when they left.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

A full directory sync takes a leaver out of ``user_departments`` (DingTalk lists them in no
department), which took their attendance, reports and approvals out of every view picked by
department (a department filter, a sub-administrator's scope, the monthly summary's 部门).
Memberships removed from ``user_departments`` are now kept in ``former_memberships``; people who
are not active count in their former departments (``visibility.members_in``). People who
already left are given the departments of their last directory payload (``users.raw``'s
``dept_id_list``) here. Written by hand to match ``store/schema.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from dingsync.store.schema import json_type

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "former_memberships"


def _ts() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    table = op.create_table(
        _TABLE,
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("userid", sa.String(64), nullable=False),
        sa.Column("dept_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "dept_order",
            sa.BigInteger(),
            nullable=True,
            comment="the user's order inside this department",
        ),
        sa.Column("is_leader", sa.Boolean(), nullable=False),
        sa.Column("removed_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(
            ["corp_id", "userid"],
            ["users.corp_id", "users.userid"],
            name=op.f("fk_former_memberships_corp_id_userid_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("corp_id", "userid", "dept_id", name=op.f("pk_former_memberships")),
        comment="Memberships taken out of user_departments: a leaver's count in department views",
    )
    op.create_index(
        "ix_former_memberships_corp_id_dept_id", _TABLE, ["corp_id", "dept_id"], unique=False
    )
    # People who already left: the departments of their last directory payload.
    users = sa.table(
        "users",
        sa.column("corp_id"),
        sa.column("userid"),
        sa.column("status"),
        sa.column("raw", json_type()),
    )
    bind = op.get_bind()
    now = datetime.now(UTC)
    rows = []
    for corp_id, userid, raw in bind.execute(
        sa.select(users.c.corp_id, users.c.userid, users.c.raw).where(users.c.status != "active")
    ):
        depts = raw.get("dept_id_list") if isinstance(raw, dict) else None
        for dept_id in depts if isinstance(depts, list) else []:
            if isinstance(dept_id, int) and not isinstance(dept_id, bool):
                rows.append(
                    {
                        "corp_id": corp_id,
                        "userid": userid,
                        "dept_id": dept_id,
                        "dept_order": None,
                        "is_leader": False,
                        "removed_at": now,
                    }
                )
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_index("ix_former_memberships_corp_id_dept_id", table_name=_TABLE)
    op.drop_table(_TABLE)
