"""Employees who left: ``/v1.0/contact/empLeaveRecords`` and the 智能人事 dimission APIs."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from dingsync.dingtalk.models._base import (
    CamelModel,
    DingTalkModel,
    LenientList,
    ms_to_datetime,
    parse_iso_datetime,
)


class LeaveRecord(CamelModel):
    """``GET /v1.0/contact/empLeaveRecords`` → ``records[]``. ``leave_time`` is ISO-8601 as sent
    (``2021-01-06T11:47:37Z``); ``leave_reason`` ∈ ``oapi``, ``cancel``, ``leave``, ``unknown``,
    ``delete``."""

    user_id: str
    name: str | None = None
    state_code: str | None = None
    mobile: str | None = None
    leave_time: str | None = None
    leave_reason: str | None = None

    @property
    def leave_at(self) -> datetime | None:
        """``leave_time`` as an aware UTC datetime."""
        return parse_iso_datetime(self.leave_time)


class DimissionDept(DingTalkModel):
    """``dept_list[]`` of a dimission record."""

    dept_id: int | None = None
    dept_path: str | None = None


class DimissionInfo(DingTalkModel):
    """``POST /topapi/smartwork/hrm/employee/listdimission`` → ``result[]``.

    ``last_work_day`` epoch ms; ``pre_status`` 1 待入职, 2 试用, 3 正式; ``status`` 1 待离职,
    2 已离职, 3 未离职, 4 审批中, 5 失效.
    """

    userid: str
    last_work_day: int | None = None
    dept_list: LenientList[DimissionDept] = Field(default_factory=list)
    reason_memo: str | None = None
    reason_type: int | None = None
    pre_status: int | None = None
    handover_userid: str | None = None
    status: int | None = None
    main_dept_name: str | None = None
    main_dept_id: int | None = None

    @property
    def last_work_day_at(self) -> datetime | None:
        return ms_to_datetime(self.last_work_day)
