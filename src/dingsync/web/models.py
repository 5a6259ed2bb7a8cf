"""Response models of the web API: what every route answers, in DingTalk's terms (``userid``,
``dept_id``, ``report_id``, ``process_instance_id``, ``work_date``, …), so the OpenAPI document
is the API's contract.

Units as the API sends them: instants are epoch milliseconds (``int``); ``work_date`` is the
epoch ms of 00:00 of the work date in the company's zone (``Settings.tz``, Asia/Shanghai by
default); plain calendar days (``start_date``) are ``YYYY-MM-DD`` strings in that zone.

Routes declare these with ``response_model_exclude_unset=True`` (see :data:`TYPED`), so a model
never adds a key the route did not send; records keep any further column the store holds
(``extra="allow"``: a column added by a migration shows up without a model change, and is
declared here when the API promises it).
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

Item = TypeVar("Item")

#: Keyword arguments every typed JSON route passes to its decorator with ``response_model=``.
TYPED: dict[str, Any] = {"response_model_exclude_unset": True}


class ApiModel(BaseModel):
    """A JSON object the API answers (further keys allowed and kept as they are)."""

    model_config = ConfigDict(extra="allow")


class Page(ApiModel, Generic[Item]):
    """One page of a list: ``items``, the ``total`` matching, the ``limit`` and ``offset``
    asked."""

    items: list[Item]
    total: int
    limit: int
    offset: int


# --------------------------------------------------------------------------------------------
# meta, auth, jsapi
# --------------------------------------------------------------------------------------------
class Health(ApiModel):
    """``GET /healthz``: ``corp_id`` is the company served (one-company mode) or the default
    company (``null`` when none is configured); with several companies, ``companies`` counts
    the active ones and ``corps`` lists their ids (no names, no secrets)."""

    ok: bool
    corp_id: str | None
    companies: int | None = None
    corps: list[str] | None = None


class JsapiConfig(ApiModel):
    """``dd.config`` values for a page URL (``timeStamp``: epoch ms, as a string)."""

    agentId: str | int | None = None
    corpId: str | None = None
    timeStamp: str | None = None
    nonceStr: str | None = None
    signature: str | None = None


class DepartmentBrief(ApiModel):
    """A department by id and name (``name`` ``None`` when the store does not know it)."""

    dept_id: int
    name: str | None = None


class ProfileDepartment(DepartmentBrief):
    """One department of the caller, with its path from the root and its top department."""

    is_primary: bool
    is_leader: bool
    order: int | None = None
    path: list[DepartmentBrief]
    root_department: DepartmentBrief


class Company(ApiModel):
    """The organisation (``corp_id``, its name when known)."""

    corp_id: str
    name: str | None = None


class Profile(ApiModel):
    """The caller's profile: departments, roles, and per data kind and action what they may
    reach (``"all"``, ``"none"`` or the parts of their scope), plus ``admin``."""

    userid: str | None = None
    name: str | None = None
    avatar: str | None = None
    title: str | None = None
    departments: list[ProfileDepartment]
    primary_department: DepartmentBrief | None = None
    root_department: DepartmentBrief | None = None
    root_departments: list[DepartmentBrief]
    company: Company
    roles: list[str]
    permissions: dict[str, Any]


class Session(ApiModel):
    """A bearer session: ``expires_at`` epoch ms, ``expires_in`` seconds."""

    token: str
    token_type: str
    expires_at: int
    expires_in: int


class LoginResult(Profile):
    """``POST /api/auth/dingtalk``: the profile, the session and (with ``url``) ``jsapi``."""

    session: Session
    jsapi: JsapiConfig | None = None


class Revoked(ApiModel):
    """``POST /api/auth/logout``."""

    revoked: bool


# --------------------------------------------------------------------------------------------
# contacts (directory)
# --------------------------------------------------------------------------------------------
class DepartmentNode(ApiModel):
    """A department of the tree with its children (``has_children`` where the depth ends)."""

    dept_id: int
    name: str | None = None
    parent_id: int | None = None
    order: int | None = None
    children: list[DepartmentNode]
    has_children: bool | None = None
    #: Active people in this department and those below it, each once (DingTalk's
    #: ``member_count``; with ``counts=true``).
    member_count: int | None = None
    #: Active direct members (DingTalk's ``owning_member_count``; with ``counts=true``).
    owning_member_count: int | None = None


class Departments(ApiModel):
    """``GET /api/departments``: the (sub)tree and the count of active departments."""

    tree: DepartmentNode
    count: int


class UserSummary(ApiModel):
    """A person in a directory list (``dept_ids``: their departments)."""

    userid: str
    name: str | None = None
    avatar: str | None = None
    title: str | None = None
    job_number: str | None = None
    status: str | None = None
    local_disabled: bool | None = None
    dept_ids: list[int] = Field(default_factory=list)
    #: The mobile number when the caller may see it (:func:`dingsync.web.rules.can_see_mobile`).
    mobile: str | None = None


class UserDepartment(ApiModel):
    """A membership of a person."""

    dept_id: int
    name: str | None = None
    is_leader: bool
    #: From the company down to this department.
    path: list[DepartmentBrief] = Field(default_factory=list)


class UserRole(ApiModel):
    """A DingTalk role (角色) of a person, with its role group."""

    role_id: int
    name: str | None = None
    group_name: str | None = None


class UserAdmin(ApiModel):
    """A person's administrator level (1 main, 2 sub) and a sub-administrator's scope."""

    level: int
    scope: list[DepartmentBrief] = Field(default_factory=list)


class UserDetail(ApiModel):
    """``GET /api/users/{userid}``."""

    userid: str
    name: str | None = None
    avatar: str | None = None
    title: str | None = None
    job_number: str | None = None
    email: str | None = None
    departments: list[UserDepartment]
    #: When the caller may see it (:func:`dingsync.web.rules.can_see_mobile`).
    mobile: str | None = None
    #: 入职日期, ``YYYY-MM-DD`` in the company's zone, when stored.
    hired_date: str | None = None
    roles: list[UserRole] = Field(default_factory=list)
    #: For administrators (and the person themself): their admin level and scope.
    admin: UserAdmin | None = None


# --------------------------------------------------------------------------------------------
# reports (日志)
# --------------------------------------------------------------------------------------------
class ReportSummary(ApiModel):
    """A report in a list (times epoch ms)."""

    report_id: str
    template_name: str | None = None
    creator_id: str | None = None
    creator_name: str | None = None
    dept_name: str | None = None
    create_time: int | None = None
    modified_time: int | None = None


class ReportContent(ApiModel):
    """One filled-in field of a report, in the template's order. ``state``: ``None`` — the
    value as DingTalk sent it; ``table`` — a table (表格) field, whose content DingTalk's APIs
    do not give (``value`` is its ``[表格]`` placeholder, not the content); ``truncated`` —
    DingTalk cut the text at 1,000 characters and no API gave the rest; ``full`` — cut by
    ``report/list``, completed from ``/v1.0/report/details``."""

    key: str | None = None
    sort: str | int | None = None
    type: str | int | None = None
    value: str | None = None
    state: str | None = None


class ReportComment(ApiModel):
    """A comment on a report (``created_at`` epoch ms)."""

    userid: str | None = None
    content: str | None = None
    created_at: int | None = None


class ReportStatistics(ApiModel):
    """A report's read/comment/like counts (DingTalk's ``report/statistics`` names), from the
    synced lists."""

    read_num: int
    comment_num: int
    comment_user_num: int
    like_num: int


class ReportDetail(ReportSummary):
    """``GET /api/reports/{report_id}``: the report with contents, receivers, comments and
    ``statistics``."""

    contents: list[ReportContent]
    receivers: list[str]
    comments: list[ReportComment]
    statistics: ReportStatistics | None = None


class ReportStatsCounts(ApiModel):
    """Expected periods (working days; weekly templates: weeks) and how they went:
    ``submitted`` on time, ``late``, ``missing``; ``rate`` = (submitted + late) / expected and
    ``on_time_rate`` = submitted / expected (0 when nothing is expected; 4 decimals)."""

    expected: int
    submitted: int
    late: int
    missing: int
    rate: float
    on_time_rate: float


class ReportStatsPerson(ReportStatsCounts):
    """One counted person (``dept``: their departments' names, comma-separated)."""

    userid: str
    name: str
    dept: str


class ReportStatsDepartment(ReportStatsCounts):
    """One department's totals (``people`` counted in it; a person in several departments
    counts in each; ``dept_id`` ``None`` for people without a synced department)."""

    dept_id: int | None = None
    name: str
    people: int


class ReportStatsDay(ApiModel):
    """One person's period: ``day`` ``YYYY-MM-DD`` (company zone; weekly templates: the week's
    last working day) and its ``status``."""

    userid: str
    day: str
    status: Literal["submitted", "late", "missing"]


class ReportRuleUsed(ApiModel):
    """The rule a 日志统计 counted by: ``source`` ``dingtalk`` (the template's 统计规则 synced
    from DingTalk, ``remind_id``; ``windows`` its submit windows, ``must_submit`` how many
    people it names) or ``default`` (dingsync's default rule, docs/reports.md); ``text`` says it
    in one line."""

    source: str
    text: str
    period: str | None = None
    remind_id: int | None = None
    windows: list[str] = Field(default_factory=list)
    must_submit: int | None = None


class ReportStats(ApiModel):
    """``GET /api/reports/stats`` (日志统计): who submitted ``template`` on each expected
    day of ``start_date``..``end_date`` — ``dates`` (every calendar day of the range),
    ``counted_until`` (the last day counted: days from today on are not due yet; ``None`` when
    none is), ``totals`` and ``departments`` over everyone counted, and one page of ``people``
    (``total`` people, ``limit``, ``offset``) with their ``days``."""

    template: str
    weekly: bool
    start_date: str
    end_date: str
    counted_until: str | None = None
    #: The report day of the template's first synced report (``None`` without any): days
    #: before it were never synced.
    first_synced_day: str | None = None
    dates: list[str]
    totals: ReportStatsCounts
    departments: list[ReportStatsDepartment]
    people: list[ReportStatsPerson]
    days: list[ReportStatsDay]
    total: int
    limit: int
    offset: int
    #: The rule counted by (the template's DingTalk 统计规则, else the default rule).
    rule: ReportRuleUsed | None = None


# --------------------------------------------------------------------------------------------
# attendance (考勤)
# --------------------------------------------------------------------------------------------
class AttendanceResult(ApiModel):
    """One ``/attendance/list`` row: ``work_date`` epoch ms of 00:00 of the work date in the
    company's zone (DingTalk's ``workDate``), check times epoch ms."""

    id: int | str
    userid: str
    work_date: int
    check_type: str | None = None
    time_result: str | None = None
    location_result: str | None = None
    source_type: str | None = None
    group_id: int | None = None
    base_check_time: int | None = None
    user_check_time: int | None = None
    proc_inst_id: str | None = None


class AttendancePerson(ApiModel):
    """One person's attendance over the dates asked: ``days`` with a result, ``checks`` and
    the count per ``time_result`` (``Normal``, ``Late``, ``Early``, ``NotSigned``, …)."""

    userid: str
    checks: int
    results: dict[str, int]
    days: int


class AttendanceSummary(ApiModel):
    """``GET /api/attendance/summary`` (dates ``YYYY-MM-DD`` in the company's zone)."""

    start_date: str
    end_date: str
    people: list[AttendancePerson]


class AttendanceMetric(ApiModel):
    """A column of the monthly summary: ``key`` (in each row's ``metrics``) and its 考勤报表
    ``label``."""

    key: str
    label: str


class AttendanceMonthlyRow(ApiModel):
    """One person's month: name, job number, departments (names, comma-separated), attendance
    group, and ``metrics`` (key → number; days, counts, minutes, hours)."""

    userid: str
    name: str
    job_number: str
    departments: str
    group: str
    metrics: dict[str, float]


class AttendanceMonthly(ApiModel):
    """``GET /api/attendance/monthly``: the 考勤报表 monthly summary of ``month`` (``YYYY-MM``,
    work dates ``start_date``..``end_date``), ``metrics`` (the columns, in order) and one page
    of people."""

    month: str
    start_date: str
    end_date: str
    metrics: list[AttendanceMetric]
    items: list[AttendanceMonthlyRow]
    total: int
    limit: int
    offset: int


class AttendanceDeptStat(ApiModel):
    """Late / early / missing checks of the people in one department (and below) who have
    results; ``dept_id`` is the filter's own department for its direct members."""

    dept_id: int
    name: str
    people: int
    late: int
    early: int
    missing: int


class AttendanceDayStat(ApiModel):
    """One work date (``YYYY-MM-DD``): people with a result, attended, absent, late / early /
    missing checks, and ``rate`` = attended / people in percent (``null`` with no people)."""

    date: str
    people: int
    attended: int
    absent: int
    late: int
    early: int
    missing: int
    rate: float | None


class AttendanceStats(ApiModel):
    """``GET /api/attendance/stats``: the console's attendance charts of ``month``."""

    month: str
    start_date: str
    end_date: str
    dept_id: int | None
    by_department: list[AttendanceDeptStat]
    by_day: list[AttendanceDayStat]


class AttendanceCheck(ApiModel):
    """One check point of a day (times epoch ms)."""

    check_type: str | None = None
    time_result: str | None = None
    location_result: str | None = None
    source_type: str | None = None
    base_check_time: int | None = None
    user_check_time: int | None = None


class AttendanceLinkedApproval(ApiModel):
    """An approval linked to a person-day (关联审批单): ``kind`` 请假 / 出差 / 外出 / 加班 / 补卡,
    ``sub_type`` (the leave type's name …), the period (epoch ms; a 补卡's ``begin_time`` is
    the check point it fixes, ``check_type``), DingTalk's ``approve_id`` / ``proc_inst_id``
    when known."""

    kind: str
    sub_type: str = ""
    begin_time: int | None = None
    end_time: int | None = None
    approve_id: str | None = None
    proc_inst_id: str | None = None
    check_type: str | None = None


class AttendanceDay(ApiModel):
    """One person-day (``work_date`` ``YYYY-MM-DD`` in the company's zone): the shift, the
    check points, the day's result (``day_result`` a key of 正常/迟到/…, ``day_label``) and
    the approvals linked to it (``approvals``, 关联审批单)."""

    userid: str
    name: str
    work_date: str
    shift: str | None
    checks: list[AttendanceCheck]
    day_result: str
    day_label: str
    approvals: list[AttendanceLinkedApproval] = []


class AttendancePunch(ApiModel):
    """One punch (``/attendance/listRecord``, 原始记录): time epoch ms, result, DingTalk's
    ``source_type`` (USER app, DING_ATM/ATM time clock, APPROVE approval …), validity, and the
    place when DingTalk sent one: ``address`` (a time clock's name for its punches),
    ``latitude``/``longitude`` (degrees), ``accuracy`` (metres), ``location_method``,
    ``device_sn``; ``outside`` (外勤: outside the allowed range) with its ``outside_remark``;
    ``proc_inst_id`` of an approval's punch (补卡)."""

    id: int | str
    userid: str
    name: str
    user_check_time: int
    work_date: str | None = None
    check_type: str | None = None
    time_result: str | None = None
    location_result: str | None = None
    source_type: str | None = None
    is_legal: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    accuracy: float | None = None
    location_method: str | None = None
    device_sn: str | None = None
    outside: bool = False
    outside_remark: str | None = None
    proc_inst_id: str | None = None


# --------------------------------------------------------------------------------------------
# approvals (审批)
# --------------------------------------------------------------------------------------------
class ApprovalSummary(ApiModel):
    """An approval instance in a list (times epoch ms)."""

    process_instance_id: str
    process_code: str | None = None
    title: str | None = None
    business_id: str | None = None
    originator_userid: str | None = None
    originator_dept_id: str | int | None = None
    originator_dept_name: str | None = None
    status: str | None = None
    result: str | None = None
    create_time: int | None = None
    finish_time: int | None = None


class ApprovalFormValue(ApiModel):
    """One form component's value."""

    component_id: str | None = None
    name: str | None = None
    component_type: str | None = None
    value: str | None = None
    ext_value: str | None = None


class ApprovalTask(ApiModel):
    """One approver's task (times epoch ms)."""

    taskid: str | int | None = None
    userid: str | None = None
    task_status: str | None = None
    task_result: str | None = None
    create_time: int | None = None
    finish_time: int | None = None


class ApprovalOperation(ApiModel):
    """One entry of the operation record (``date`` epoch ms)."""

    userid: str | None = None
    date: int | None = None
    operation_type: str | None = None
    operation_result: str | None = None
    remark: str | None = None


class ApprovalAttachment(ApiModel):
    """One attachment (审批附件): metadata as DingTalk sent it; the file itself comes from
    ``download`` (``GET /api/approvals/{process_instance_id}/attachments/{file_id}``)."""

    file_id: str
    file_name: str | None = None
    file_size: int | None = Field(None, description="bytes")
    file_type: str | None = None
    space_id: str | None = Field(None, description="the approval drive space (审批钉盘空间)")
    source: str = Field(description="form (a DDAttachment field) or comment (an operation record)")
    component_id: str | None = Field(None, description="the form component (source form)")
    record_seq: int | None = Field(
        None, description="position of the operation record in operation_records (comment)"
    )
    userid: str | None = Field(None, description="who attached it")
    download: str = Field(description="path of this service that streams the file")


class ApprovalDetail(ApprovalSummary):
    """``GET /api/approvals/{process_instance_id}``."""

    form_values: list[ApprovalFormValue]
    tasks: list[ApprovalTask]
    operation_records: list[ApprovalOperation]
    cc: list[str]
    attachments: list[ApprovalAttachment] = Field(default_factory=list)


class ApprovalTemplateStats(ApiModel):
    """One template's numbers in ``GET /api/approvals/stats``: ``instances`` created in the
    range, ``running`` (``NEW``/``RUNNING``), ``agree``, ``refuse``, ``finished`` (agree +
    refuse), ``approval_rate`` (agree ÷ finished, 0–1 rounded to 4 places; ``None`` when
    nothing finished)."""

    process_code: str
    name: str
    instances: int
    running: int
    agree: int
    refuse: int
    finished: int
    approval_rate: float | None


class ApprovalCycleBucket(ApiModel):
    """One bar of the cycle-time histogram: instances finished with a decision whose
    ``finish_time − create_time`` is in ``[min_hours, max_hours)`` (``max_hours`` ``None``:
    no upper bound); ``label`` as the chart shows it (``<1小时``, ``1–4小时`` …)."""

    key: str
    label: str
    min_hours: float
    max_hours: float | None
    count: int


class ApprovalStats(ApiModel):
    """``GET /api/approvals/stats``: the filters applied (``start_date``/``end_date``
    ``YYYY-MM-DD`` in the company's zone, ``dept_id``, ``process_code``; ``None`` = not
    given), totals over what the caller may list, per-template numbers (by template name) and
    the cycle-time histogram."""

    start_date: str | None
    end_date: str | None
    dept_id: int | None
    process_code: str | None
    instances: int
    finished: int
    agree: int
    approval_rate: float | None
    templates: list[ApprovalTemplateStats]
    cycle_time: list[ApprovalCycleBucket]


# --------------------------------------------------------------------------------------------
# exports and admin
# --------------------------------------------------------------------------------------------
class ExportKindInfo(ApiModel):
    """An export kind, its filters (name → description) and whether the caller may use it."""

    kind: str
    filters: dict[str, Any]
    allowed: bool


class ExportKinds(ApiModel):
    """``GET /api/exports/kinds``."""

    kinds: list[ExportKindInfo]


class AuditEntry(ApiModel):
    """One export audit row (``created_at`` epoch ms, ``sha256`` hex of the file)."""

    id: int
    userid: str
    kind: str
    format: str
    filters: Any = None
    row_count: int
    sha256: str
    byte_size: int
    client: str | None = None
    created_at: int
    #: The exporter's name (when the store knows them).
    user_name: str | None = None


class DisabledUsers(ApiModel):
    """``GET /api/admin/users/disabled``."""

    userids: list[str]


class DisableResult(ApiModel):
    """A local disable or enable: ``known`` (the store knew the user), sessions revoked."""

    userid: str
    disabled: bool
    known: bool
    sessions_revoked: int


class RoleGrant(ApiModel):
    """A local role grant (``granted_at``: ISO 8601, UTC)."""

    userid: str
    role: str
    granted_at: str | None = None
    granted_by: str | None = None


class RoleGrants(ApiModel):
    """``GET /api/admin/roles``: the local roles there are and every grant."""

    roles: list[str]
    grants: list[RoleGrant]


class RoleChange(ApiModel):
    """A role granted (``granted``) or revoked (``revoked``: whether the user had it)."""

    userid: str
    role: str
    granted: bool | None = None
    revoked: bool | None = None


# --------------------------------------------------------------------------------------------
# DingTalk's event callback
# --------------------------------------------------------------------------------------------
class CallbackReply(ApiModel):
    """The encrypted ``success`` reply DingTalk requires from an event callback."""

    msg_signature: str
    timeStamp: str
    nonce: str
    encrypt: str


class CallbackError(ApiModel):
    """A refused callback, in DingTalk's envelope."""

    errcode: int
    errmsg: str


#: ``responses=`` entry of a file download (``media_types``: the formats it may stream).
def file_response(description: str, *media_types: str) -> dict[str, Any]:
    """An OpenAPI 200 response whose body is a binary file of one of ``media_types``."""
    schema = {"type": "string", "format": "binary"}
    return {"description": description, "content": {m: {"schema": schema} for m in media_types}}


__all__ = [
    "TYPED",
    "ApiModel",
    "ApprovalAttachment",
    "ApprovalCycleBucket",
    "ApprovalDetail",
    "ApprovalFormValue",
    "ApprovalOperation",
    "ApprovalStats",
    "ApprovalSummary",
    "ApprovalTask",
    "ApprovalTemplateStats",
    "AttendanceCheck",
    "AttendanceDay",
    "AttendanceDayStat",
    "AttendanceDeptStat",
    "AttendanceMetric",
    "AttendanceMonthly",
    "AttendanceMonthlyRow",
    "AttendancePerson",
    "AttendancePunch",
    "AttendanceResult",
    "AttendanceStats",
    "AttendanceSummary",
    "AuditEntry",
    "CallbackError",
    "CallbackReply",
    "Company",
    "DepartmentBrief",
    "DepartmentNode",
    "Departments",
    "DisableResult",
    "DisabledUsers",
    "ExportKindInfo",
    "ExportKinds",
    "Health",
    "JsapiConfig",
    "LoginResult",
    "Page",
    "Profile",
    "ProfileDepartment",
    "ReportComment",
    "ReportContent",
    "ReportDetail",
    "ReportSummary",
    "Revoked",
    "RoleChange",
    "RoleGrant",
    "RoleGrants",
    "Session",
    "UserDepartment",
    "UserDetail",
    "UserSummary",
    "file_response",
]


# --------------------------------------------------------------------------------------------
# Console (issue #13): overview, sync, leavers, audit chain, my summary
# --------------------------------------------------------------------------------------------
class SyncUnit(ApiModel):
    """A unit a run skipped (DingTalk would not give it) or quarantined (the database refused
    its data), and why (an errcode or the error)."""

    entity: str
    key: str
    reason: str


class SyncProgress(ApiModel):
    """A running run's progress: ``done`` units, ``expected`` (the units of the last finished
    run of the same kind and entities; ``None`` without one), ``calls`` (DingTalk requests so
    far), ``expected_calls`` (the reference run's; ``None`` without), ``percent`` and
    ``eta_s`` (by calls when both are known, else by units), ``elapsed_s`` (seconds)."""

    done: int
    expected: int | None = None
    calls: int = 0
    expected_calls: int | None = None
    percent: int | None = None
    eta_s: int | None = None
    elapsed_s: int


class SyncRunInfo(ApiModel):
    """One sync run: ``state`` ``running | done | partial | failed | interrupted``; times epoch
    ms; ``api_calls`` the total of DingTalk requests; ``hint`` what to do after a failure."""

    id: int
    kind: str
    entities: list[str]
    status: str
    state: str
    started_at: int | None = None
    finished_at: int | None = None
    wall_ms: int | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    api_calls: int = 0
    error: str | None = None
    hint: str | None = None
    skipped: list[SyncUnit] = Field(default_factory=list)
    quarantined: list[SyncUnit] = Field(default_factory=list)
    progress: SyncProgress | None = None


class AreaCounts(ApiModel):
    """Rows the caller may see per area (the totals of the areas' list endpoints)."""

    people: int
    departments: int
    reports: int
    approvals: int
    attendance_days: int
    attendance_start: str
    attendance_end: str


class InboxHealth(ApiModel):
    """The event inbox: received today (company's zone), failed, pending, oldest pending (epoch
    ms)."""

    received_today: int
    failed: int
    pending: int
    oldest_pending: int | None = None
    by_status: dict[str, int] = Field(default_factory=dict)


class Overview(ApiModel):
    """``GET /api/admin/overview``."""

    runs: list[SyncRunInfo]
    areas: AreaCounts
    inbox: InboxHealth
    sync_running: bool


class SyncStarted(ApiModel):
    """``POST /api/admin/sync``: ``started`` (a new run), ``running`` (one is going)."""

    started: bool
    running: bool
    message: str


class EntityRun(ApiModel):
    """A run as seen from one entity (times epoch ms)."""

    id: int
    kind: str
    status: str
    started_at: int | None = None
    finished_at: int | None = None
    wall_ms: int | None = None
    error: str | None = None


class EntityRuns(ApiModel):
    """One sync entity's latest run and latest successful run."""

    entity: str
    last: EntityRun | None = None
    last_success: EntityRun | None = None


class SyncSchedule(ApiModel):
    """``GET /api/admin/sync``: the last runs per entity and the sync settings in force."""

    entities: list[EntityRuns]
    settings: dict[str, Any]


class AuditChain(ApiModel):
    """``GET /api/exports/audit/verify``: ``rows`` checked, ``ok``, the first broken row's
    ``broken_id`` and ``reason``."""

    ok: bool
    rows: int
    broken_id: int | None = None
    reason: str | None = None


class Leaver(ApiModel):
    """A departure record (离职记录); times epoch ms."""

    userid: str
    name: str | None = None
    leave_time: int | None = None
    last_work_day: int | None = None
    leave_reason: str | None = None
    main_dept_id: int | None = None
    main_dept_name: str | None = None


class MyCount(ApiModel):
    """A count and the latest few items behind it."""

    total: int
    latest: list[dict[str, Any]] = Field(default_factory=list)


class MyAttendance(ApiModel):
    """The caller's attendance over ``start_date``..``end_date``: ``days`` with a result, and
    checks by ``time_result`` (``late``: Late + SeriousLate, ``early``: Early, ``missing``:
    NotSigned, ``absent``: Absenteeism)."""

    start_date: str
    end_date: str
    days: int
    checks: int
    late: int
    early: int
    missing: int
    absent: int
    results: dict[str, int] = Field(default_factory=dict)


class MySummary(ApiModel):
    """``GET /api/me/summary``: my reports sent and received, my attendance this month, my
    approvals originated and waiting for me."""

    reports_sent: MyCount
    reports_received: MyCount
    attendance: MyAttendance
    approvals_originated: MyCount
    approvals_to_approve: MyCount


__all__ += [
    "AreaCounts",
    "AuditChain",
    "EntityRun",
    "EntityRuns",
    "InboxHealth",
    "Leaver",
    "MyAttendance",
    "MyCount",
    "MySummary",
    "Overview",
    "SyncProgress",
    "SyncRunInfo",
    "SyncSchedule",
    "SyncStarted",
    "SyncUnit",
    "UserAdmin",
    "UserRole",
]
