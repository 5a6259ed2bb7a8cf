"""Public holidays per person (节假日, for 节假日加班) and where each punch was made (原始记录).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06

``/v1.0/attendance/holidays`` says which rest days are public holidays in a person's calendar:
the overtime rule (加班规则) differs for 工作日 / 休息日 / 节假日. ``/attendance/listRecord`` gives
each punch's place — address, coordinates, accuracy, how it was located, the time clock's serial
number, the remark of a punch outside the allowed range — now kept in columns for the 原始记录
view and export (they were only in ``raw``). Written by hand to match
``store/schema_attendance.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WORK_DATE = "work date: the calendar date in Asia/Shanghai (DingTalk's workDate)"
_PLACES = (
    ("user_address", sa.String(255), "address, or the time clock's name"),
    ("user_latitude", sa.Float(), None),
    ("user_longitude", sa.Float(), None),
    ("user_accuracy", sa.Float(), "metres"),
    ("location_method", sa.String(32), "MAP, WIFI, ATM …"),
    ("device_sn", sa.String(128), "time clock serial number (deviceSN)"),
    ("outside_remark", sa.Text(), "the remark of a punch outside the allowed range (外勤)"),
    ("proc_inst_id", sa.String(128), "the approval of an APPROVE punch (补卡 …)"),
)


def _ts() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "attendance_holidays",
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("userid", sa.String(64), nullable=False),
        sa.Column("work_date", sa.Date(), nullable=False, comment=_WORK_DATE),
        sa.Column("holiday_name", sa.String(255), nullable=True),
        sa.Column("holiday_type", sa.String(32), nullable=True, comment="festival …"),
        sa.Column("synced_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint(
            "corp_id", "userid", "work_date", name=op.f("pk_attendance_holidays")
        ),
        comment="Public holidays of each person's calendar (/v1.0/attendance/holidays).",
    )
    with op.batch_alter_table("attendance_records") as batch:
        for name, type_, comment in _PLACES:
            batch.add_column(sa.Column(name, type_, nullable=True, comment=comment))


def downgrade() -> None:
    with op.batch_alter_table("attendance_records") as batch:
        for name, _, _ in reversed(_PLACES):
            batch.drop_column(name)
    op.drop_table("attendance_holidays")
