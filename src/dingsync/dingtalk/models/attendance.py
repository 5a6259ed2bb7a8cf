"""Attendance (考勤) payloads (attendance.md). Times are epoch ms unless a field says
``yyyy-MM-dd HH:mm:ss`` (GMT+8); unknown fields are kept."""

from __future__ import annotations

import re
from datetime import date, datetime

from pydantic import Field

from dingsync.dingtalk.models._base import CamelModel, DingTalkModel, LenientList
from dingsync.timeutil import WIRE_TZ

#: DingTalk's attendance wall clock: work dates and date strings are GMT+8.
#: DingTalk's wire zone (GMT+8), from the one time module.
GMT8 = WIRE_TZ


def work_date_of(ms: int | None) -> date | None:
    """Epoch ms of a ``workDate`` (00:00 GMT+8) → the calendar work date."""
    if ms is None:
        return None
    return datetime.fromtimestamp(int(ms) / 1000, GMT8).date()


#: ``yyyy-MM-dd HH:mm:ss`` with every field at its full width in ASCII digits (what DingTalk
#: sends): read by :func:`parse_gmt8` without ``strptime``.
_GMT8_TEXT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})")


def parse_gmt8(text: str | None) -> datetime | None:
    """``yyyy-MM-dd HH:mm:ss`` (GMT+8) → aware datetime; ``None``/``""`` → ``None``.

    What ``datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S")`` reads; a text of exactly
    that shape is read by its fields (~5× faster; schedules carry thousands of distinct plan
    times), anything else — and a field out of range — by ``strptime`` (its value or error)."""
    if not text:
        return None
    text = text.strip()
    match = _GMT8_TEXT.fullmatch(text)
    if match is not None:
        y, mo, d, h, mi, s = map(int, match.groups())
        try:
            return datetime(y, mo, d, h, mi, s, tzinfo=GMT8)
        except ValueError:
            pass
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=GMT8)


class AttendanceResult(CamelModel):
    """One ``/attendance/list`` row: the result of one check point (打卡结果).

    ``record_id`` is absent on ``NotSigned`` rows; ``work_date``, ``base_check_time`` and
    ``user_check_time`` are epoch ms; ``time_result`` is ``Normal``, ``Early``, ``Late``,
    ``SeriousLate``, ``Absenteeism`` or ``NotSigned``.
    """

    id: int
    user_id: str
    work_date: int
    check_type: str
    time_result: str | None = None
    location_result: str | None = None
    group_id: int | None = None
    plan_id: int | None = None
    record_id: int | None = None
    approve_id: int | None = None
    proc_inst_id: str | None = None
    base_check_time: int | None = None
    user_check_time: int | None = None
    source_type: str | None = None
    corp_id: str | None = None

    @property
    def work_day(self) -> date:
        """The work date (Asia/Shanghai) this check point belongs to."""
        day = work_date_of(self.work_date)
        assert day is not None
        return day


class AttendanceRecord(CamelModel):
    """One ``/attendance/listRecord`` punch (打卡详情), valid or not (``is_legal`` Y/N).
    Numbers may arrive as strings (EB-46)."""

    id: int
    user_id: str
    user_check_time: int
    work_date: int | None = None
    check_type: str | None = None
    time_result: str | None = None
    location_result: str | None = None
    source_type: str | None = None
    group_id: int | None = None
    plan_id: int | None = None
    class_id: int | None = None
    base_check_time: int | None = None
    is_legal: str | None = None
    invalid_record_type: str | None = None
    invalid_record_msg: str | None = None
    user_address: str | None = None
    user_latitude: float | None = None
    user_longitude: float | None = None
    user_accuracy: float | None = None
    location_method: str | None = None
    #: The time clock's serial number (DingTalk spells it ``deviceSN``).
    device_sn: str | None = Field(default=None, alias="deviceSN")
    outside_remark: str | None = None
    proc_inst_id: str | None = None
    approve_id: int | None = None


class ShiftTime(DingTalkModel):
    """A check time of a class: ``check_time`` ``1970-01-01 HH:mm:ss``, ``across`` 1 = next day."""

    check_time: str
    check_type: str
    across: int = 0


class ShiftSection(DingTalkModel):
    times: LenientList[ShiftTime] = Field(default_factory=list)


class ShiftSetting(DingTalkModel):
    """Lateness thresholds (minutes; -1 = not set) and working minutes of a class."""

    class_setting_id: int | None = None
    permit_late_minutes: int | None = None
    serious_late_minutes: int | None = None
    absenteeism_late_minutes: int | None = None
    work_time_minutes: int | None = None


class ShiftClassInfo(DingTalkModel):
    """A class (班次) of a group."""

    class_id: int
    class_name: str | None = None
    sections: LenientList[ShiftSection] = Field(default_factory=list)
    setting: ShiftSetting | None = None


class AttendanceGroup(DingTalkModel):
    """One ``getsimplegroups`` group (考勤组). ``work_day_list``: 7 strings Sunday..Saturday,
    ``"0"`` = rest, otherwise a class id."""

    group_id: int
    group_name: str | None = None
    type: str | None = None
    is_default: bool | None = None
    member_count: int | None = None
    default_class_id: int | None = None
    owner_user_id: str | None = None
    manager_list: LenientList[str] = Field(default_factory=list)
    work_day_list: LenientList[str] = Field(default_factory=list)
    selected_class: LenientList[ShiftClassInfo] = Field(default_factory=list)


class ScheduleItem(DingTalkModel):
    """One ``schedule/listbyusers`` row (排班). ``work_date`` and ``plan_check_time`` are
    ``yyyy-MM-dd HH:mm:ss`` (GMT+8); ``is_rest`` Y/N; ``shift_id`` 0 on rest days."""

    userid: str
    work_date: str
    check_type: str | None = None
    plan_check_time: str | None = None
    group_id: int | None = None
    id: int | None = None
    shift_id: int | None = None
    shift_version: int | None = None
    is_rest: str | None = None
    approve_id: int | None = None

    @property
    def work_day(self) -> date:
        """The work date as a calendar date."""
        parsed = parse_gmt8(self.work_date)
        assert parsed is not None
        return parsed.date()


class AttendanceColumn(DingTalkModel):
    """A report column (``getattcolumns``). Leave columns come without ``id``."""

    id: int | None = None
    name: str | None = None
    alias: str | None = None
    type: int | None = None
    sub_type: int | None = None
    status: int | None = None


class ColumnDayValue(DingTalkModel):
    """One day's value: ``date`` ``yyyy-MM-dd 00:00:00``, ``value`` a numeric String."""

    date: str
    value: str | None = None


class ColumnValues(DingTalkModel):
    """The per-day values of one column for one user (``getcolumnval``)."""

    column_id: int
    values: list[ColumnDayValue] = Field(default_factory=list)


class LeaveTimeColumn(DingTalkModel):
    """Per-day leave values of one leave name (``getleavetimebynames``)."""

    name: str
    values: list[ColumnDayValue] = Field(default_factory=list)


class LeaveStatus(DingTalkModel):
    """One ``getleavestatus`` item: ``start_time``/``end_time`` epoch ms, ``duration_unit``
    ``percent_day``/``percent_hour``, ``duration_percent`` = duration × 100."""

    userid: str
    start_time: int
    end_time: int
    duration_unit: str | None = None
    duration_percent: int | None = None
    leave_code: str | None = None

    @property
    def hours(self) -> float | None:
        """The duration in hours (a day counted as 8 hours), ``None`` when unknown."""
        if self.duration_percent is None:
            return None
        value = self.duration_percent / 100
        return value * 8 if self.duration_unit == "percent_day" else value

    @property
    def amount(self) -> float | None:
        """The duration in the leave's own unit (days for ``percent_day``, hours for
        ``percent_hour``), ``None`` when unknown."""
        return None if self.duration_percent is None else self.duration_percent / 100


class VacationType(DingTalkModel):
    """A leave type the company defines (``vacation/type/list``): ``leave_code``,
    ``leave_name`` (the name ``getleavetimebynames`` takes), ``leave_view_unit`` — ``day``,
    ``halfDay`` or ``hour``, the unit the type is asked for and reported in —
    ``hours_in_per_day`` (hundredths of an hour), ``freedom_leave`` (no balance)."""

    leave_code: str
    leave_name: str
    leave_view_unit: str | None = None
    hours_in_per_day: int | None = None
    biz_type: str | None = None
    freedom_leave: bool | None = None
    paid_leave: bool | None = None
    natural_day_leave: str | bool | None = None
    source: str | None = None
    when_can_leave: str | None = None

    @property
    def by_day(self) -> bool:
        """Reported in days (``day``/``halfDay``) rather than hours."""
        return self.leave_view_unit in ("day", "halfDay")


class AttendanceApproval(CamelModel):
    """One approval that bears on attendance (``POST /v1.0/attendance/approvals/query``):
    ``biz_type`` 1 overtime (加班), 2 business trip / outing (出差 / 外出, ``tag_name``), 3
    leave (请假); ``begin_time``/``end_time`` ``yyyy-MM-dd HH:mm:ss`` GMT+8; ``duration_unit``
    ``DAY``/``HOUR``…; ``approve_id`` is the ``approveId`` results linked to it carry."""

    approve_id: str
    user_id: str
    biz_type: int | None = None
    sub_type: str | None = None
    tag_name: str | None = None
    begin_time: str | None = None
    end_time: str | None = None
    duration_unit: str | None = None
    calculate_model: int | None = None

    @property
    def begin(self) -> datetime | None:
        """``begin_time`` as an aware datetime."""
        return parse_gmt8(self.begin_time)

    @property
    def end(self) -> datetime | None:
        """``end_time`` as an aware datetime."""
        return parse_gmt8(self.end_time)


class UserHoliday(CamelModel):
    """One public holiday of a person's calendar (``POST /v1.0/attendance/holidays``):
    ``work_date`` epoch ms of 00:00 GMT+8 of the day, ``holiday_name``, ``holiday_type``
    (``festival`` …)."""

    work_date: int
    holiday_name: str | None = None
    holiday_type: str | None = None


class UserHolidays(CamelModel):
    """A person's public holidays in the window asked (``result[]`` of
    ``/v1.0/attendance/holidays``)."""

    user_id: str
    holidays: list[UserHoliday] = Field(default_factory=list)


class UpdateData(DingTalkModel):
    """``getupdatedata``'s ``result`` (one user, one day): results, punches, approvals, kept
    as sent (times as ``yyyy-MM-dd HH:mm:ss`` strings; odd keys ``procInst_id``, ``corpId``)."""

    userid: str | None = None
    work_date: str | None = None
    attendance_result_list: list[dict[str, object]] = Field(default_factory=list)
    check_record_list: list[dict[str, object]] = Field(default_factory=list)
    approve_list: list[dict[str, object]] = Field(default_factory=list)


class GroupSummary(DingTalkModel):
    """A group summary (``group/minimalism/list`` and ``group/search`` items)."""

    id: int
    name: str | None = None


class UserGroupClass(DingTalkModel):
    """A class of a person's group (``getusergroup`` ``classes[]``): ``name`` (not
    ``class_name``), check times ``1970-01-01 HH:mm:ss`` with ``across`` 1 = next day."""

    class_id: int
    name: str | None = None
    sections: LenientList[ShiftSection] = Field(default_factory=list)


class UserGroup(DingTalkModel):
    """A person's attendance group (``getusergroup`` ``result``): ``type`` FIXED/TURN/NONE."""

    group_id: int | None = None
    name: str | None = None
    type: str | None = None
    classes: LenientList[UserGroupClass] = Field(default_factory=list)


class DaySchedule(DingTalkModel):
    """One check point of the org-wide schedule of a day (``listschedule`` ``schedules[]``):
    ``plan_check_time`` ``yyyy-MM-dd HH:mm:ss`` GMT+8."""

    plan_id: int
    userid: str
    check_type: str | None = None
    class_id: int | None = None
    class_setting_id: int | None = None
    group_id: int | None = None
    plan_check_time: str | None = None
    approve_id: int | None = None
    changed_check_time: str | None = None
