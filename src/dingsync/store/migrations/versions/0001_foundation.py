"""Foundation: corps, directory (departments, users, memberships, admins, leavers), sync
bookkeeping (runs, checkpoints, watermarks) and the shared token cache.

Revision ID: 0001
Revises:
Create Date: 2024-11-29

Written by hand to match ``dingsync/store/schema.py`` (tests/store/test_migrations.py compares).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts() -> sa.types.TypeEngine[Any]:
    """schema.UTCDateTime at the database level."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _id(name: str, **kw: Any) -> sa.Column[Any]:
    return sa.Column(name, sa.String(64), **kw)


def upgrade() -> None:
    op.create_table(
        "corps",
        _id("corp_id", nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        _id("agent_id", nullable=True),
        sa.Column("app_key", sa.String(128), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("raw", _json(), nullable=True),
        sa.PrimaryKeyConstraint("corp_id", name=op.f("pk_corps")),
        comment="One row per DingTalk organisation (corpId) we sync.",
    )

    op.create_table(
        "departments",
        _id("corp_id", nullable=False),
        sa.Column("dept_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "parent_id",
            sa.BigInteger(),
            nullable=True,
            comment="NULL for the root department (dept_id 1)",
        ),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column(
            "dept_order",
            sa.BigInteger(),
            nullable=True,
            comment="DingTalk's `order` among siblings",
        ),
        sa.Column("source_identifier", sa.String(255), nullable=True),
        sa.Column("create_dept_group", sa.Boolean(), nullable=True),
        sa.Column("auto_add_user", sa.Boolean(), nullable=True),
        sa.Column("hide_dept", sa.Boolean(), nullable=True),
        sa.Column("outer_dept", sa.Boolean(), nullable=True),
        _id(
            "org_dept_owner",
            nullable=True,
            comment="userid of the department group owner (not its head)",
        ),
        sa.Column(
            "dept_manager_userid_list",
            _json(),
            nullable=True,
            comment="userids of the department heads",
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_seen_run_id", sa.Integer(), nullable=True),
        sa.Column("synced_at", _ts(), nullable=False),
        sa.Column("raw", _json(), nullable=True),
        sa.CheckConstraint("status IN ('active', 'removed')", name=op.f("ck_departments_status")),
        sa.PrimaryKeyConstraint("corp_id", "dept_id", name=op.f("pk_departments")),
    )
    op.create_index(
        "ix_departments_corp_id_parent_id", "departments", ["corp_id", "parent_id"], unique=False
    )

    op.create_table(
        "users",
        _id("corp_id", nullable=False),
        _id("userid", nullable=False),
        _id("unionid", nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("avatar", sa.Text(), nullable=True),
        sa.Column("state_code", sa.String(16), nullable=True),
        sa.Column("mobile", sa.String(32), nullable=True),
        sa.Column("hide_mobile", sa.Boolean(), nullable=True),
        sa.Column("telephone", sa.String(64), nullable=True),
        sa.Column("job_number", sa.String(64), nullable=True),
        sa.Column("title", sa.String(255), nullable=True),
        sa.Column("email", sa.String(255), nullable=True),
        sa.Column("org_email", sa.String(255), nullable=True),
        sa.Column("work_place", sa.String(255), nullable=True),
        sa.Column("remark", sa.Text(), nullable=True),
        _id("manager_userid", nullable=True),
        sa.Column("hired_date", _ts(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=True),
        sa.Column("admin", sa.Boolean(), nullable=True),
        sa.Column("boss", sa.Boolean(), nullable=True),
        sa.Column("senior", sa.Boolean(), nullable=True),
        sa.Column("real_authed", sa.Boolean(), nullable=True),
        sa.Column("exclusive_account", sa.Boolean(), nullable=True),
        sa.Column(
            "extension",
            sa.Text(),
            nullable=True,
            comment="DingTalk's extension attributes, JSON text as sent",
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("left_at", _ts(), nullable=True),
        sa.Column("leave_reason", sa.String(64), nullable=True),
        sa.Column("last_seen_run_id", sa.Integer(), nullable=True),
        sa.Column("synced_at", _ts(), nullable=False),
        sa.Column(
            "local_disabled",
            sa.Boolean(),
            server_default=sa.false(),
            nullable=False,
            comment="disabled locally: may not log in whatever DingTalk says",
        ),
        sa.Column("raw", _json(), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'left', 'inactive')", name=op.f("ck_users_status")
        ),
        sa.PrimaryKeyConstraint("corp_id", "userid", name=op.f("pk_users")),
    )
    op.create_index("ix_users_corp_id_unionid", "users", ["corp_id", "unionid"], unique=False)
    op.create_index("ix_users_corp_id_status", "users", ["corp_id", "status"], unique=False)

    op.create_table(
        "user_departments",
        _id("corp_id", nullable=False),
        _id("userid", nullable=False),
        sa.Column("dept_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "dept_order",
            sa.BigInteger(),
            nullable=True,
            comment="the user's order inside this department",
        ),
        sa.Column("is_leader", sa.Boolean(), nullable=False),
        sa.Column("synced_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(
            ["corp_id", "userid"],
            ["users.corp_id", "users.userid"],
            name=op.f("fk_user_departments_corp_id_userid_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("corp_id", "userid", "dept_id", name=op.f("pk_user_departments")),
    )
    op.create_index(
        "ix_user_departments_corp_id_dept_id",
        "user_departments",
        ["corp_id", "dept_id"],
        unique=False,
    )

    op.create_table(
        "admins",
        _id("corp_id", nullable=False),
        _id("userid", nullable=False),
        sa.Column(
            "sys_level",
            sa.Integer(),
            nullable=False,
            comment="1 main administrator, 2 sub-admin",
        ),
        sa.Column("synced_at", _ts(), nullable=False),
        sa.Column("raw", _json(), nullable=True),
        sa.PrimaryKeyConstraint("corp_id", "userid", name=op.f("pk_admins")),
    )

    op.create_table(
        "admin_scopes",
        _id("corp_id", nullable=False),
        _id("userid", nullable=False),
        sa.Column("dept_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["corp_id", "userid"],
            ["admins.corp_id", "admins.userid"],
            name=op.f("fk_admin_scopes_corp_id_userid_admins"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("corp_id", "userid", "dept_id", name=op.f("pk_admin_scopes")),
        comment="Departments a sub-administrator manages (sub-departments implied).",
    )

    op.create_table(
        "leavers",
        _id("corp_id", nullable=False),
        _id("userid", nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("state_code", sa.String(16), nullable=True),
        sa.Column("mobile", sa.String(32), nullable=True),
        sa.Column("leave_time", _ts(), nullable=True),
        sa.Column(
            "leave_reason",
            sa.String(64),
            nullable=True,
            comment="oapi | cancel | leave | unknown | delete",
        ),
        sa.Column("last_work_day", _ts(), nullable=True),
        sa.Column("main_dept_id", sa.BigInteger(), nullable=True),
        sa.Column("main_dept_name", sa.String(255), nullable=True),
        sa.Column("dept_list", _json(), nullable=True),
        sa.Column(
            "status",
            sa.Integer(),
            nullable=True,
            comment="1 leaving, 2 left, 3 not leaving, 4 in approval, 5 void",
        ),
        sa.Column(
            "pre_status",
            sa.Integer(),
            nullable=True,
            comment="1 pending onboarding, 2 probation, 3 regular",
        ),
        _id("handover_userid", nullable=True),
        sa.Column("reason_type", sa.Integer(), nullable=True),
        sa.Column("reason_memo", sa.Text(), nullable=True),
        sa.Column("synced_at", _ts(), nullable=False),
        sa.Column("raw", _json(), nullable=True),
        sa.PrimaryKeyConstraint("corp_id", "userid", name=op.f("pk_leavers")),
        comment="Departure records (empLeaveRecords and 智能人事 dimission details).",
    )

    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _id("corp_id", nullable=False),
        sa.Column("kind", sa.String(32), nullable=False, comment="full | incremental"),
        sa.Column("entities", _json(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", _ts(), nullable=False),
        sa.Column("finished_at", _ts(), nullable=True),
        sa.Column("wall_ms", sa.BigInteger(), nullable=True),
        sa.Column("counts", _json(), nullable=True),
        sa.Column("api_calls", _json(), nullable=True, comment="HTTP requests per DingTalk path"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'interrupted')",
            name=op.f("ck_sync_runs_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    op.create_index("ix_sync_runs_corp_id_id", "sync_runs", ["corp_id", "id"], unique=False)

    op.create_table(
        "sync_checkpoints",
        sa.Column("run_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("state", _json(), nullable=True),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["sync_runs.id"],
            name=op.f("fk_sync_checkpoints_run_id_sync_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "entity", "key", name=op.f("pk_sync_checkpoints")),
    )

    op.create_table(
        "sync_watermarks",
        _id("corp_id", nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("value", _json(), nullable=True),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("corp_id", "entity", name=op.f("pk_sync_watermarks")),
    )

    op.create_table(
        "token_cache",
        sa.Column("cache_key", sa.String(255), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False, comment="epoch seconds"),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("cache_key", name=op.f("pk_token_cache")),
    )


def downgrade() -> None:
    op.drop_table("token_cache")
    op.drop_table("sync_watermarks")
    op.drop_table("sync_checkpoints")
    op.drop_index("ix_sync_runs_corp_id_id", table_name="sync_runs")
    op.drop_table("sync_runs")
    op.drop_table("leavers")
    op.drop_table("admin_scopes")
    op.drop_table("admins")
    op.drop_index("ix_user_departments_corp_id_dept_id", table_name="user_departments")
    op.drop_table("user_departments")
    op.drop_index("ix_users_corp_id_status", table_name="users")
    op.drop_index("ix_users_corp_id_unionid", table_name="users")
    op.drop_table("users")
    op.drop_index("ix_departments_corp_id_parent_id", table_name="departments")
    op.drop_table("departments")
    op.drop_table("corps")
