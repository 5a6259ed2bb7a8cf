"""Attendance work dates become calendar dates (SQL ``DATE``), as DESIGN §4 says.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29

Until 0008 every ``work_date`` of the attendance tables (``attendance_schedules``,
``attendance_results``, ``attendance_records``, ``attendance_leaves``,
``attendance_column_values``) held the instant 00:00 Asia/Shanghai of the work date as a UTC
timestamp (work date 2026-11-27 → ``2026-11-26 16:00`` UTC), so ``work_date = '2026-11-27'``
found nothing. They are now ``DATE`` columns holding the Asia/Shanghai calendar date; the
conversion adds 8 hours to the stored UTC instant and keeps the date (Asia/Shanghai has been UTC+8
without daylight saving since 1991, and the old rows were written with that fixed offset).

How the old values are stored (``UTCDateTime``) decides the conversion on each backend:

- PostgreSQL: ``timestamptz`` → ``ALTER COLUMN … TYPE date USING ((work_date AT TIME ZONE
  'UTC') + interval '8 hours')::date`` (independent of the session's ``TimeZone``).
- SQLite: naive UTC text ``YYYY-MM-DD HH:MM:SS.ffffff`` → ``date(work_date, '+8 hours')``, then
  the table is rebuilt (batch mode) with the column declared ``DATE``. The column is reflected as
  ``DATE`` already so that the copy does not ``CAST`` (SQLite's ``CAST(… AS DATE)`` is numeric and
  would turn ``'2026-11-27'`` into ``2026``).
- MySQL/MariaDB: naive UTC ``DATETIME(6)`` → ``DATE(DATE_ADD(work_date, INTERVAL 8 HOUR))``,
  then ``MODIFY`` to ``DATE`` (the time part is zero by then, so nothing is truncated).

Downgrade is the exact inverse (00:00 Asia/Shanghai of the date, as a UTC timestamp). Written by
hand to match ``store/schema_attendance.py``; tests/store/test_migrations.py compares and
converts old-style rows on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_COMMENT = "work date: 00:00 Asia/Shanghai of the day (DingTalk's workDate)"
NEW_COMMENT = "work date: the calendar date in Asia/Shanghai (DingTalk's workDate)"

#: (table, work_date nullable, work_date part of the primary key)
TABLES: tuple[tuple[str, bool, bool], ...] = (
    ("attendance_schedules", False, True),
    ("attendance_results", False, False),
    ("attendance_records", True, False),
    ("attendance_leaves", False, False),
    ("attendance_column_values", False, True),
)

_PG_TO_DATE = "((work_date AT TIME ZONE 'UTC') + interval '8 hours')::date"
_PG_TO_TIMESTAMP = "((work_date::timestamp - interval '8 hours') AT TIME ZONE 'UTC')"


def _ts() -> sa.types.TypeEngine[Any]:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _sqlite_rebuild(
    table: str, nullable: bool, primary_key: bool, type_: sa.types.TypeEngine[Any]
) -> None:
    """Rebuild ``table`` with ``work_date`` declared ``type_``, copying the values as they are
    (the reflected column is replaced, so batch mode sees no type change and adds no CAST)."""
    column = sa.Column("work_date", type_, nullable=nullable, primary_key=primary_key)
    with op.batch_alter_table(table, recreate="always", reflect_args=(column,)):
        pass


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, nullable, primary_key in TABLES:
        if dialect == "sqlite":
            op.execute(
                f"UPDATE {table} SET work_date = date(work_date, '+8 hours') "
                "WHERE work_date IS NOT NULL"
            )
            _sqlite_rebuild(table, nullable, primary_key, sa.Date())
            continue
        if dialect in ("mysql", "mariadb"):
            op.execute(
                f"UPDATE {table} SET work_date = DATE(DATE_ADD(work_date, INTERVAL 8 HOUR)) "
                "WHERE work_date IS NOT NULL"
            )
        op.alter_column(
            table,
            "work_date",
            type_=sa.Date(),
            existing_type=_ts(),
            existing_nullable=nullable,
            comment=NEW_COMMENT,
            existing_comment=OLD_COMMENT,
            postgresql_using=_PG_TO_DATE,
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, nullable, primary_key in TABLES:
        if dialect == "sqlite":
            op.execute(
                f"UPDATE {table} SET work_date = "
                "strftime('%Y-%m-%d %H:%M:%S.000000', work_date, '-8 hours') "
                "WHERE work_date IS NOT NULL"
            )
            _sqlite_rebuild(table, nullable, primary_key, sa.DateTime(timezone=True))
            continue
        op.alter_column(
            table,
            "work_date",
            type_=_ts(),
            existing_type=sa.Date(),
            existing_nullable=nullable,
            comment=OLD_COMMENT,
            existing_comment=NEW_COMMENT,
            postgresql_using=_PG_TO_TIMESTAMP,
        )
        if dialect in ("mysql", "mariadb"):
            op.execute(
                f"UPDATE {table} SET work_date = DATE_SUB(work_date, INTERVAL 8 HOUR) "
                "WHERE work_date IS NOT NULL"
            )
