"""Report (日志) payloads: ``/topapi/report/*`` (reports.md).

Times of reports are epoch milliseconds (``create_time``, ``modified_time``); comment times are
``yyyy-MM-dd HH:mm:ss`` strings in GMT+8 (``created_at`` parses them). ``contents[].sort/type``
are Strings in ``report/list`` but Numbers in ``template/getbyname``: both are accepted, and the
content values are kept as strings exactly as sent. Unknown fields are kept (``extra="allow"``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import Field, field_validator

from dingsync.dingtalk.models._base import CamelModel, DingTalkModel, LenientList, ms_to_datetime
from dingsync.timeutil import WIRE_TZ

#: DingTalk's wire zone (GMT+8), from the one time module.
GMT8 = WIRE_TZ


class ReportContent(DingTalkModel):
    """``contents[]``: one template field's value. All four are Strings on the wire; ``value``
    is truncated by DingTalk past 1000 characters. ``type`` is opaque (EB-35)."""

    key: str | None = None
    sort: str | None = None
    type: str | None = None
    value: str | None = None


class Report(DingTalkModel):
    """A ``report/list`` item (full content) or ``simplelist`` item (no ``contents``,
    ``modified_time``). ``dept_name`` may join several names with commas. ``images`` (EB-34):
    strings — usually JSON text ``{"image": url}`` — or objects, kept as sent; see
    :meth:`image_urls`."""

    report_id: str
    template_name: str | None = None
    creator_id: str | None = None
    creator_name: str | None = None
    dept_name: str | None = None
    create_time: int | None = None
    modified_time: int | None = None
    remark: str | None = None
    contents: LenientList[ReportContent] = Field(default_factory=list)
    images: LenientList[Any] = Field(default_factory=list)
    latitude: str | None = None
    longitude: str | None = None

    @property
    def created_at(self) -> datetime | None:
        """``create_time`` as an aware UTC datetime."""
        return ms_to_datetime(self.create_time)

    @property
    def modified_at(self) -> datetime | None:
        """``modified_time`` as an aware UTC datetime."""
        return ms_to_datetime(self.modified_time)

    def image_urls(self) -> list[str]:
        """URLs of ``images``: JSON-text ``{"image": url}``, objects, or plain URLs."""
        urls: list[str] = []
        for item in self.images:
            value: Any = item
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    urls.append(item)
                    continue
            if isinstance(value, dict) and isinstance(value.get("image"), str):
                urls.append(value["image"])
            elif isinstance(value, str):
                urls.append(value)
        return urls


class ReportComment(DingTalkModel):
    """``comment/list`` ``comments[]``: ``create_time`` is a GMT+8 ``yyyy-MM-dd HH:mm:ss``."""

    userid: str | None = None
    content: str | None = None
    create_time: str | None = None

    @property
    def created_at(self) -> datetime | None:
        """``create_time`` (GMT+8 text) as an aware UTC datetime; ``None`` if unparsable."""
        if not self.create_time:
            return None
        try:
            local = datetime.strptime(self.create_time.strip(), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return None
        return local.replace(tzinfo=GMT8).astimezone(UTC)


class ReportTemplateSummary(DingTalkModel):
    """``template/listbyuserid`` ``template_list[]``."""

    name: str
    report_code: str | None = None
    icon_url: str | None = None
    url: str | None = None


class TemplateField(DingTalkModel):
    """``template/getbyname`` ``fields[]`` (``sort``/``type`` Numbers here)."""

    field_name: str
    sort: int = 0
    type: int | None = None

    @field_validator("sort", "type", mode="before")
    @classmethod
    def _int(cls, value: Any) -> Any:
        return (
            int(value) if isinstance(value, str) and value.strip().lstrip("-").isdigit() else value
        )


class DefaultReceiver(DingTalkModel):
    """``default_receivers[]``."""

    userid: str
    user_name: str | None = None


class DefaultConversation(DingTalkModel):
    """``default_received_convs[]``."""

    conversation_id: str
    title: str | None = None


class ReportTemplate(DingTalkModel):
    """``template/getbyname`` result: ``id`` (the template id used to create reports), fields in
    order, default receivers and groups."""

    id: str | None = None
    name: str
    fields: LenientList[TemplateField] = Field(default_factory=list)
    default_receivers: LenientList[DefaultReceiver] = Field(default_factory=list)
    default_received_convs: LenientList[DefaultConversation] = Field(default_factory=list)
    user_name: str | None = None
    userid: str | None = None


class ReportStatistics(DingTalkModel):
    """Historic ``report/statistics`` result: counts."""

    read_num: int = 0
    comment_num: int = 0
    comment_user_num: int = 0
    like_num: int = 0


# ---------------------------------------------------------------------------------------------
# v1.0: statistics rules, submission statistics, report detail (reports.md §11; shapes from
# DingTalk's official v1.0 SDK, semantics read as docs/reports.md "Statistics rules" states)
# ---------------------------------------------------------------------------------------------
#: ``periodType`` of a statistics rule.
PERIOD_DAILY, PERIOD_WEEKLY, PERIOD_MONTHLY = 1, 2, 3
#: ``userIdStatusMap`` values: not submitted, on time, late.
STATUS_MISSING, STATUS_ON_TIME, STATUS_LATE = 0, 1, 2


class ReportStatRule(CamelModel):
    """``GET /v1.0/report/statisticalRules/results`` ``dataList[]``: one statistics rule
    (统计规则) of a template. ``period_type`` 1 daily, 2 weekly, 3 monthly;
    ``start_date_time[i]``/``end_date_time[i]``: the submit window of one due day as
    ``"<n> HH:mm"`` GMT+8 (``n``: ISO weekday 1–7, or day of month for monthly rules; the end
    is the first such moment after the start)."""

    remind_id: int
    template_id: str | None = None
    period_type: int | None = None
    start_date_time: LenientList[str] = Field(default_factory=list)
    end_date_time: LenientList[str] = Field(default_factory=list)
    creator_id: str | None = None
    modifier_id: str | None = None
    to_groups: LenientList[dict[str, Any]] = Field(default_factory=list)


class ReportStatUser(CamelModel):
    """``userMap`` value of ``submitStatisticalResults``."""

    user_id: str | None = None
    name: str | None = None
    dept_id: str | None = None


class SubmitStatistics(CamelModel):
    """``GET /v1.0/report/submitStatisticalResults``: a rule's statistics over a time range.
    ``user_ids``: who must submit; ``user_id_status_map``: ``{userid: {due day "yyyy-MM-dd":
    0 missing | 1 on time | 2 late}}``; ``user_id_count_map``: periods with a report per
    person; ``should_remind_times``: periods in the range."""

    template_name: str | None = None
    user_ids: LenientList[str] = Field(default_factory=list)
    user_map: dict[str, ReportStatUser] = Field(default_factory=dict)
    user_dept_map: dict[str, str] = Field(default_factory=dict)
    user_id_count_map: dict[str, int] = Field(default_factory=dict)
    user_id_status_map: dict[str, dict[str, Any]] = Field(default_factory=dict)
    should_remind_times: int | None = None

    def statuses(self) -> dict[str, dict[str, int]]:
        """``{userid: {due day: status}}`` with the statuses as ints."""
        return {
            u: {d: int(v) for d, v in per.items()} for u, per in self.user_id_status_map.items()
        }


class ReportDetailContent(CamelModel):
    """``/v1.0/report/details`` ``content[]`` (``sort``/``type`` Strings, like ``report/list``)."""

    key: str | None = None
    sort: str | None = None
    type: str | None = None
    value: str | None = None
    images: LenientList[Any] = Field(default_factory=list)


class ReportDetail(CamelModel):
    """``GET /v1.0/report/details``: one report with its ``content``."""

    report_id: str
    template_name: str | None = None
    creator_id: str | None = None
    creator_name: str | None = None
    dept_name: str | None = None
    create_time: int | None = None
    modified_time: int | None = None
    remark: str | None = None
    content: LenientList[ReportDetailContent] = Field(default_factory=list)
