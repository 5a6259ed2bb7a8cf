"""Attendance (考勤): tables of ``dingsync/store/schema_attendance.py``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

Written by hand to match ``store/schema_attendance.py``; tests/store/test_migrations.py compares.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


WORK_DATE = "work date: 00:00 Asia/Shanghai of the day (DingTalk's workDate)"


def _ts() -> sa.types.TypeEngine[Any]:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _id(name: str, nullable: bool = False, **kw: Any) -> sa.Column[Any]:
    return sa.Column(name, sa.String(64), nullable=nullable, **kw)


def _big(name: str, nullable: bool = True, **kw: Any) -> sa.Column[Any]:
    return sa.Column(name, sa.BigInteger(), nullable=nullable, **kw)


def _synced() -> sa.Column[Any]:
    return sa.Column("synced_at", _ts(), nullable=False)


def _raw() -> sa.Column[Any]:
    return sa.Column("raw", _json(), nullable=True)


def upgrade() -> None:
    op.create_table(
        "attendance_groups",
        _id("corp_id"),
        _big("group_id", nullable=False, autoincrement=False),
        sa.Column("group_name", sa.String(255), nullable=True),
        sa.Column("type", sa.String(16), nullable=True, comment="FIXED | TURN | NONE"),
        sa.Column("is_default", sa.Boolean(), nullable=True),
        sa.Column("member_count", sa.Integer(), nullable=True),
        _big("default_class_id"),
        _id("owner_user_id", nullable=True),
        sa.Column(
            "work_day_list",
            _json(),
            nullable=True,
            comment="7 strings Sunday..Saturday; '0' = rest",
        ),
        _synced(),
        _raw(),
        sa.PrimaryKeyConstraint("corp_id", "group_id", name=op.f("pk_attendance_groups")),
        comment="Attendance groups (考勤组) from getsimplegroups.",
    )
    op.create_table(
        "attendance_group_members",
        _id("corp_id"),
        _big("group_id", nullable=False, autoincrement=False),
        _id("userid"),
        _synced(),
        sa.PrimaryKeyConstraint(
            "corp_id", "group_id", "userid", name=op.f("pk_attendance_group_members")
        ),
    )
    op.create_index(
        "ix_attendance_group_members_corp_id_userid",
        "attendance_group_members",
        ["corp_id", "userid"],
    )
    op.create_table(
        "attendance_group_managers",
        _id("corp_id"),
        _big("group_id", nullable=False, autoincrement=False),
        _id("userid"),
        _synced(),
        sa.PrimaryKeyConstraint(
            "corp_id", "group_id", "userid", name=op.f("pk_attendance_group_managers")
        ),
    )
    op.create_table(
        "attendance_schedules",
        _id("corp_id"),
        _id("userid"),
        sa.Column("work_date", _ts(), nullable=False, comment=WORK_DATE),
        sa.Column("check_type", sa.String(16), nullable=False),
        _big("schedule_id"),
        _big("group_id"),
        _big("shift_id", comment="class id; 0 on rest days"),
        sa.Column("is_rest", sa.Boolean(), nullable=False),
        sa.Column("plan_check_time", _ts(), nullable=True),
        _synced(),
        _raw(),
        sa.PrimaryKeyConstraint(
            "corp_id", "userid", "work_date", "check_type", name=op.f("pk_attendance_schedules")
        ),
        comment="Schedules (排班) from schedule/listbyusers; rest days have is_rest true.",
    )
    op.create_index(
        "ix_attendance_schedules_corp_id_work_date",
        "attendance_schedules",
        ["corp_id", "work_date"],
    )
    op.create_table(
        "attendance_results",
        _id("corp_id"),
        _big("id", nullable=False, autoincrement=False),
        _id("userid"),
        sa.Column("work_date", _ts(), nullable=False, comment=WORK_DATE),
        sa.Column("check_type", sa.String(16), nullable=True),
        sa.Column("time_result", sa.String(32), nullable=True),
        sa.Column("location_result", sa.String(32), nullable=True),
        sa.Column("source_type", sa.String(32), nullable=True),
        _big("group_id"),
        _big("plan_id"),
        _big("record_id"),
        _big("approve_id"),
        sa.Column("proc_inst_id", sa.String(128), nullable=True),
        sa.Column("base_check_time", _ts(), nullable=True),
        sa.Column("user_check_time", _ts(), nullable=True),
        _synced(),
        _raw(),
        sa.PrimaryKeyConstraint("corp_id", "id", name=op.f("pk_attendance_results")),
        comment="Results per check point (/attendance/list), NotSigned rows included.",
    )
    op.create_index(
        "ix_attendance_results_corp_id_userid_work_date",
        "attendance_results",
        ["corp_id", "userid", "work_date"],
    )
    op.create_index(
        "ix_attendance_results_corp_id_work_date",
        "attendance_results",
        ["corp_id", "work_date"],
    )
    op.create_table(
        "attendance_records",
        _id("corp_id"),
        _big("id", nullable=False, autoincrement=False),
        _id("userid"),
        sa.Column("user_check_time", _ts(), nullable=False),
        sa.Column("work_date", _ts(), nullable=True, comment=WORK_DATE),
        sa.Column("check_type", sa.String(16), nullable=True),
        sa.Column("time_result", sa.String(32), nullable=True),
        sa.Column("location_result", sa.String(32), nullable=True),
        sa.Column("source_type", sa.String(32), nullable=True),
        sa.Column("is_legal", sa.String(1), nullable=True),
        sa.Column("invalid_record_type", sa.String(32), nullable=True),
        sa.Column("invalid_record_msg", sa.Text(), nullable=True),
        _synced(),
        _raw(),
        sa.PrimaryKeyConstraint("corp_id", "id", name=op.f("pk_attendance_records")),
        comment="Every punch (/attendance/listRecord), valid or not.",
    )
    op.create_index(
        "ix_attendance_records_corp_id_userid_user_check_time",
        "attendance_records",
        ["corp_id", "userid", "user_check_time"],
    )
    op.create_table(
        "attendance_leaves",
        _id("corp_id"),
        _id("userid"),
        sa.Column("start_time", _ts(), nullable=False),
        sa.Column("leave_code", sa.String(128), nullable=False),
        sa.Column("end_time", _ts(), nullable=False),
        sa.Column("work_date", _ts(), nullable=False, comment=WORK_DATE),
        sa.Column("duration_unit", sa.String(16), nullable=True),
        sa.Column("duration_percent", sa.Integer(), nullable=True),
        sa.Column("hours", sa.Float(), nullable=True),
        _synced(),
        _raw(),
        sa.PrimaryKeyConstraint(
            "corp_id", "userid", "start_time", "leave_code", name=op.f("pk_attendance_leaves")
        ),
        comment="Approved leave (getleavestatus).",
    )
    op.create_table(
        "attendance_columns",
        _id("corp_id"),
        _big("column_id", nullable=False, autoincrement=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("alias", sa.String(128), nullable=True),
        sa.Column("type", sa.Integer(), nullable=True),
        sa.Column("sub_type", sa.Integer(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        _synced(),
        _raw(),
        sa.PrimaryKeyConstraint("corp_id", "column_id", name=op.f("pk_attendance_columns")),
        comment="Attendance report (考勤报表) column definitions (getattcolumns).",
    )
    op.create_table(
        "attendance_column_values",
        _id("corp_id"),
        _id("userid"),
        _big("column_id", nullable=False, autoincrement=False),
        sa.Column("work_date", _ts(), nullable=False, comment=WORK_DATE),
        sa.Column("value", sa.String(64), nullable=True),
        _synced(),
        sa.PrimaryKeyConstraint(
            "corp_id",
            "userid",
            "column_id",
            "work_date",
            name=op.f("pk_attendance_column_values"),
        ),
        comment="Per-day report column values (getcolumnval).",
    )


def downgrade() -> None:
    op.drop_table("attendance_column_values")
    op.drop_table("attendance_columns")
    op.drop_table("attendance_leaves")
    op.drop_index("ix_attendance_records_corp_id_userid_user_check_time", "attendance_records")
    op.drop_table("attendance_records")
    op.drop_index("ix_attendance_results_corp_id_work_date", "attendance_results")
    op.drop_index("ix_attendance_results_corp_id_userid_work_date", "attendance_results")
    op.drop_table("attendance_results")
    op.drop_index("ix_attendance_schedules_corp_id_work_date", "attendance_schedules")
    op.drop_table("attendance_schedules")
    op.drop_table("attendance_group_managers")
    op.drop_index("ix_attendance_group_members_corp_id_userid", "attendance_group_members")
    op.drop_table("attendance_group_members")
    op.drop_table("attendance_groups")
