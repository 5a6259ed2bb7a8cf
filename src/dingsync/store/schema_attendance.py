"""Tables for attendance (考勤): groups, members, managers, schedules, results, punch records,
leave, report column definitions and their per-day values.

Defined on the shared :data:`dingsync.store.schema.metadata`. Every time is an aware UTC
timestamp (DingTalk's epoch ms converted); a work date (``work_date``, DingTalk's ``workDate``)
is a calendar date (SQL ``DATE``) in Asia/Shanghai, so ``work_date = '2026-11-27'`` finds that
day on every backend. ``repo_attendance`` takes and returns ``datetime.date`` work dates.

Migrations: ``migrations/versions/0003_attendance.py`` (tables), ``0009_work_dates.py``
(``work_date`` from a UTC timestamp of 00:00 Asia/Shanghai to ``DATE``),
``0016_leave_types_approvals.py`` (``attendance_leave_types``, ``attendance_approvals``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    Index,
    Integer,
    Table,
)

from dingsync.store.nul import NulSafeString, NulSafeText
from dingsync.store.schema import UTCDateTime, json_type, metadata, utcnow

WORK_DATE = "work date: the calendar date in Asia/Shanghai (DingTalk's workDate)"


def _id(name: str, **kw: object) -> Column[str]:
    return Column(name, NulSafeString(64), **kw)  # type: ignore[arg-type]


def _synced() -> Column[object]:
    return Column("synced_at", UTCDateTime(), nullable=False, default=utcnow)


def _raw() -> Column[object]:
    return Column("raw", json_type(), nullable=True)


attendance_groups = Table(
    "attendance_groups",
    metadata,
    _id("corp_id", primary_key=True),
    Column("group_id", BigInteger, primary_key=True, autoincrement=False),
    Column("group_name", NulSafeString(255)),
    Column("type", NulSafeString(16), comment="FIXED | TURN | NONE"),
    Column("is_default", Boolean),
    Column("member_count", Integer),
    Column("default_class_id", BigInteger),
    _id("owner_user_id"),
    Column("work_day_list", json_type(), comment="7 strings Sunday..Saturday; '0' = rest"),
    _synced(),
    _raw(),
    comment="Attendance groups (考勤组) from getsimplegroups.",
)

attendance_group_members = Table(
    "attendance_group_members",
    metadata,
    _id("corp_id", primary_key=True),
    Column("group_id", BigInteger, primary_key=True, autoincrement=False),
    _id("userid", primary_key=True),
    _synced(),
    Index("ix_attendance_group_members_corp_id_userid", "corp_id", "userid"),
)

attendance_group_managers = Table(
    "attendance_group_managers",
    metadata,
    _id("corp_id", primary_key=True),
    Column("group_id", BigInteger, primary_key=True, autoincrement=False),
    _id("userid", primary_key=True),
    _synced(),
)

attendance_schedules = Table(
    "attendance_schedules",
    metadata,
    _id("corp_id", primary_key=True),
    _id("userid", primary_key=True),
    Column("work_date", Date(), primary_key=True, comment=WORK_DATE),
    Column("check_type", NulSafeString(16), primary_key=True),
    Column("schedule_id", BigInteger),
    Column("group_id", BigInteger),
    Column("shift_id", BigInteger, comment="class id; 0 on rest days"),
    Column("is_rest", Boolean, nullable=False),
    Column("plan_check_time", UTCDateTime()),
    _synced(),
    _raw(),
    Index("ix_attendance_schedules_corp_id_work_date", "corp_id", "work_date"),
    comment="Schedules (排班) from schedule/listbyusers; rest days have is_rest true.",
)

attendance_results = Table(
    "attendance_results",
    metadata,
    _id("corp_id", primary_key=True),
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    _id("userid", nullable=False),
    Column("work_date", Date(), nullable=False, comment=WORK_DATE),
    Column("check_type", NulSafeString(16)),
    Column("time_result", NulSafeString(32)),
    Column("location_result", NulSafeString(32)),
    Column("source_type", NulSafeString(32)),
    Column("group_id", BigInteger),
    Column("plan_id", BigInteger),
    Column("record_id", BigInteger),
    Column("approve_id", BigInteger),
    Column("proc_inst_id", NulSafeString(128)),
    Column("base_check_time", UTCDateTime()),
    Column("user_check_time", UTCDateTime()),
    _synced(),
    _raw(),
    Index("ix_attendance_results_corp_id_userid_work_date", "corp_id", "userid", "work_date"),
    Index("ix_attendance_results_corp_id_work_date", "corp_id", "work_date"),
    comment="Results per check point (/attendance/list), NotSigned rows included.",
)

attendance_records = Table(
    "attendance_records",
    metadata,
    _id("corp_id", primary_key=True),
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    _id("userid", nullable=False),
    Column("user_check_time", UTCDateTime(), nullable=False),
    Column("work_date", Date(), comment=WORK_DATE),
    Column("check_type", NulSafeString(16)),
    Column("time_result", NulSafeString(32)),
    Column("location_result", NulSafeString(32)),
    Column("source_type", NulSafeString(32)),
    Column("is_legal", NulSafeString(1)),
    Column("invalid_record_type", NulSafeString(32)),
    Column("invalid_record_msg", NulSafeText),
    Column("user_address", NulSafeString(255), comment="address, or the time clock's name"),
    Column("user_latitude", Float),
    Column("user_longitude", Float),
    Column("user_accuracy", Float, comment="metres"),
    Column("location_method", NulSafeString(32), comment="MAP, WIFI, ATM …"),
    Column("device_sn", NulSafeString(128), comment="time clock serial number (deviceSN)"),
    Column(
        "outside_remark",
        NulSafeText,
        comment="the remark of a punch outside the allowed range (外勤)",
    ),
    Column("proc_inst_id", NulSafeString(128), comment="the approval of an APPROVE punch (补卡 …)"),
    _synced(),
    _raw(),
    Index(
        "ix_attendance_records_corp_id_userid_user_check_time",
        "corp_id",
        "userid",
        "user_check_time",
    ),
    Index("ix_attendance_records_corp_id_work_date_userid", "corp_id", "work_date", "userid"),
    comment="Every punch (/attendance/listRecord), valid or not.",
)

attendance_leaves = Table(
    "attendance_leaves",
    metadata,
    _id("corp_id", primary_key=True),
    _id("userid", primary_key=True),
    Column("start_time", UTCDateTime(), primary_key=True),
    Column("leave_code", NulSafeString(128), primary_key=True),
    Column("end_time", UTCDateTime(), nullable=False),
    Column("work_date", Date(), nullable=False, comment=WORK_DATE),
    Column("duration_unit", NulSafeString(16)),
    Column("duration_percent", Integer),
    Column("hours", Float),
    _synced(),
    _raw(),
    Index("ix_attendance_leaves_corp_id_work_date_userid", "corp_id", "work_date", "userid"),
    comment="Approved leave (getleavestatus).",
)

attendance_columns = Table(
    "attendance_columns",
    metadata,
    _id("corp_id", primary_key=True),
    Column("column_id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", NulSafeString(255)),
    Column("alias", NulSafeString(128)),
    Column("type", Integer),
    Column("sub_type", Integer),
    Column("status", Integer),
    _synced(),
    _raw(),
    comment="Attendance report (考勤报表) column definitions (getattcolumns).",
)

attendance_column_values = Table(
    "attendance_column_values",
    metadata,
    _id("corp_id", primary_key=True),
    _id("userid", primary_key=True),
    Column("column_id", BigInteger, primary_key=True, autoincrement=False),
    Column("work_date", Date(), primary_key=True, comment=WORK_DATE),
    Column("value", NulSafeString(64)),
    _synced(),
    comment="Per-day report column values (getcolumnval).",
)

attendance_leave_types = Table(
    "attendance_leave_types",
    metadata,
    _id("corp_id", primary_key=True),
    Column("leave_code", NulSafeString(128), primary_key=True, comment="getleavestatus leave_code"),
    Column("leave_name", NulSafeString(255), comment="the name getleavetimebynames takes"),
    Column("leave_view_unit", NulSafeString(16), comment="day | halfDay | hour"),
    Column("day_length", Integer, comment="hours_in_per_day: hours in a leave day × 100"),
    Column("position", Integer, comment="order in DingTalk's list (the report's column order)"),
    _synced(),
    _raw(),
    comment="Leave types (假期类型, vacation/type/list): names and units of the 请假 columns.",
)

attendance_approvals = Table(
    "attendance_approvals",
    metadata,
    _id("corp_id", primary_key=True),
    _id("userid", primary_key=True),
    _id("approve_id", primary_key=True, comment="the approveId results linked to it carry"),
    Column("biz_type", Integer, comment="1 overtime, 2 trip/outing, 3 leave"),
    Column("tag_name", NulSafeString(32), comment="出差 / 外出 / 加班 / 请假"),
    Column("sub_type", NulSafeString(255)),
    Column("begin_time", UTCDateTime(), nullable=False),
    Column("end_time", UTCDateTime(), nullable=False),
    Column("work_date", Date(), nullable=False, comment=WORK_DATE + " of begin_time"),
    Column("duration_unit", NulSafeString(16), comment="DAY | HOUR | …"),
    Column(
        "end_work_date",
        Date(),
        nullable=True,
        comment="work date of end_time (the last day the approval covers)",
    ),
    _synced(),
    _raw(),
    Index("ix_attendance_approvals_corp_id_work_date_userid", "corp_id", "work_date", "userid"),
    comment="Approvals bearing on attendance (/v1.0/attendance/approvals/query): trips, outings.",
)

attendance_holidays = Table(
    "attendance_holidays",
    metadata,
    _id("corp_id", primary_key=True),
    _id("userid", primary_key=True),
    Column("work_date", Date(), primary_key=True, comment=WORK_DATE),
    Column("holiday_name", NulSafeString(255)),
    Column("holiday_type", NulSafeString(32), comment="festival …"),
    _synced(),
    comment="Public holidays of each person's calendar (/v1.0/attendance/holidays).",
)

__all__ = [
    "attendance_approvals",
    "attendance_column_values",
    "attendance_columns",
    "attendance_group_managers",
    "attendance_group_members",
    "attendance_groups",
    "attendance_holidays",
    "attendance_leave_types",
    "attendance_leaves",
    "attendance_records",
    "attendance_results",
    "attendance_schedules",
    "metadata",
]
