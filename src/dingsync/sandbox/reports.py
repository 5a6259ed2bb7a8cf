"""Sandbox area: reports (日志) — templates, generated reports and the ``/topapi/report/*`` APIs.

Generation (:func:`generate_reports`) is pure and deterministic for ``(seed, company, days,
anchor_ms)``; the handlers of :class:`ReportsArea` only read (and, for the mutation route, edit)
the generated :class:`ReportsWorld`.

The world: four templates (日报, 周报, 销售日报 with numeric fields, 项目周报). Every activated
person writes one daily template (销售日报 for people in sales/market departments and one in ten
others, 日报 for the rest) for each working day (Monday–Friday, Asia/Shanghai) of the ``days``
days before ``anchor_ms`` since they were hired, and a 周报 each Friday; about one in six also
writes a 项目周报.
About 8 % are habitual skippers (they miss ~40 % of their days), the rest miss ~3 %; ~8 % of
reports are late (written the next morning), ~5 % were edited later (``modified_time`` after
``create_time``), ~5 % carry images. Receivers are the department head(s) and a few peers;
receivers read most reports, some comment and like.

Submission truth (``stats()["reports"]["submissions"]``) uses the rule documented in
docs/reports.md: a report's period is the Shanghai date (daily templates) or ISO week (weekly
templates, named ``…周报``) of ``create_time − 12 h``; it is late when created after the end of
that day (for weeks: after the end of the week's Friday).

DingTalk behaviour reproduced (reports.md, EB-30/33/34/35/37/39): ``report/list`` and
``simplelist`` page with an opaque ``next_cursor`` (a large number, present on the last page too;
a cursor that was not handed out — e.g. the sum of two — reads past the end, so a client that adds
cursors skips reports), ``size`` ≤ 20 and windows ≤ 180 days (else ``400002``), ascending
creation time, no retention cap on how far back a window may lie (EB-32), the app's data scope
left to the ``data_scope_dept_ids`` knob (EB-31); ``contents[].sort/type`` are Strings
(``"1"``); ``images`` only when the ``report_images`` knob is on (JSON-text strings
``{"image": url}``); comment times are ``yyyy-MM-dd HH:mm:ss`` (GMT+8) strings.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from dingsync.sandbox.wire import Family, OapiError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from dingsync.sandbox.app import Route
    from dingsync.sandbox.company import Company, User
    from dingsync.sandbox.handlers import Call
    from dingsync.sandbox.state import SandboxState

SHANGHAI = timezone(timedelta(hours=8))
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
WINDOW_MAX_MS = 180 * DAY_MS
LIST_SIZE_MAX = 20
USERLIST_SIZE_MAX = 100
COMMENT_SIZE_MAX = 20
TEMPLATE_SIZE_MAX = 100
#: ``late`` cut-off rule: a report belongs to the period of ``create_time − PERIOD_SHIFT_MS``.
PERIOD_SHIFT_MS = 12 * HOUR_MS

ICON = "https://landray.dingtalkapps.com/alid/app/report/images/ico-png/{n}.png"
CREATE_URL = (
    "https://landray.dingtalkapps.com/alid/app/report/createReport_new.html"
    "?skip=0&corpid={corp}&id={code}"
)


@dataclass(frozen=True)
class TemplateField:
    """One template field: ``field_name``, ``sort`` (0-based order) and ``type`` (1 = text)."""

    field_name: str
    sort: int
    type: int = 1
    numeric: bool = False


@dataclass
class Template:
    """A report template: ``name``, ``report_code`` (= getbyname ``id``), fields in order."""

    name: str
    report_code: str
    icon: int
    fields: list[TemplateField]
    weekly: bool = False


@dataclass
class Comment:
    """A comment: author, text, epoch-ms time (served as a GMT+8 string)."""

    userid: str
    content: str
    create_time: int


@dataclass
class Report:
    """One submitted report as ``report/list`` serves it, plus its per-report lists."""

    report_id: str
    template: str
    creator_id: str
    creator_name: str
    dept_name: str
    create_time: int
    modified_time: int
    contents: list[dict[str, str]]
    remark: str = ""
    images: list[str] = field(default_factory=list)
    receivers: list[str] = field(default_factory=list)
    readers: list[str] = field(default_factory=list)
    likers: list[str] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    period: str = ""
    late: bool = False


@dataclass
class ReportsWorld:
    """Templates, reports (ascending ``create_time``), writers per template and the window."""

    templates: dict[str, Template]
    reports: list[Report]
    writers: dict[str, list[str]]
    start_ms: int
    end_ms: int
    by_id: dict[str, Report] = field(default_factory=dict)
    create_times: list[int] = field(default_factory=list)
    hired_day: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        """Rebuild lookups (after the report list changed)."""
        self.reports.sort(key=lambda r: (r.create_time, r.report_id))
        self.by_id = {r.report_id: r for r in self.reports}
        self.create_times = [r.create_time for r in self.reports]


# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------
TEMPLATES: list[tuple[str, int, bool, list[tuple[str, bool]]]] = [
    ("日报", 20, False, [("今日完成工作", False), ("未完成工作", False), ("需协调工作", False),
                          ("备注", False)]),
    ("周报", 22, True, [("本周完成工作", False), ("本周工作总结", False), ("下周工作计划", False),
                         ("需协调与帮助", False)]),
    ("销售日报", 25, False, [("今日拜访客户数", True), ("新增线索数", True),
                              ("签约金额（元）", True), ("今日工作总结", False),
                              ("明日工作计划", False)]),
    ("项目周报", 16, True, [("项目名称", False), ("本周进展", False), ("完成度（%）", True),
                             ("风险与问题", False), ("下周计划", False)]),
]  # fmt: skip

_DONE = [
    "完成{m}模块的接口联调，修复了{n}个缺陷",
    "与{c}沟通需求细节，整理会议纪要并同步给团队",
    "编写{m}的单元测试，覆盖率提升到{p}%",
    "拜访{c}，介绍新版产品方案，对方反馈积极",
    "整理本月{m}数据报表，提交给部门主管审核",
    "参加{m}项目周会，跟进上周遗留问题",
    "完成{n}份合同的审核与归档 📄",
    "优化{m}页面加载速度，首屏时间缩短{p}%",
    "处理客户工单{n}个，全部在当天闭环 ✅",
    "组织新人培训，讲解{m}的使用流程",
]
_TODO = [
    "{m}模块的性能测试还未完成，预计明天完成",
    "等待{c}确认报价单",
    "{m}文档还需补充示例",
    "无",
    "部分缺陷需要下个版本修复",
]
_HELP = ["需要测试同事协助回归{m}", "需要财务确认{c}的付款节点", "无", "", "希望协调会议室资源"]
_PLAN = [
    "继续推进{m}开发，完成联调",
    "回访{c}，推动合同签署",
    "准备季度复盘材料",
    "跟进{n}个重点客户的需求",
    "完成{m}的上线准备工作 🚀",
]
_MODULES = [
    "订单",
    "支付",
    "会员",
    "库存",
    "报表",
    "审批",
    "考勤",
    "客户管理",
    "数据看板",
    "消息推送",
]
_CUSTOMERS = [
    "华东区客户",
    "杭州云帆科技",
    "上海明远贸易",
    "深圳恒信电子",
    "北京智联咨询",
    "成都天府物流",
]
_PROJECTS = ["新零售中台", "智慧园区", "供应链升级", "移动办公二期", "数据治理平台"]
_COMMENTS = [
    "收到，辛苦了 👍",
    "不错",
    "这个问题明天会上讨论一下",
    "注意风险",
    "好的，继续保持！",
    "已阅",
]


def _variants(pool: list[str]) -> list[str]:
    """Every sentence of ``pool`` filled a few ways (fixed, so generation stays cheap)."""
    rng = random.Random(0)
    return [
        text.format(
            m=rng.choice(_MODULES),
            c=rng.choice(_CUSTOMERS),
            n=rng.randint(1, 9),
            p=rng.randint(5, 60),
        )
        for text in pool
        for _ in range(12)
    ]


_FILLED: dict[int, list[str]] = {}


def _fill(rng: random.Random, pool: list[str]) -> str:
    filled = _FILLED.get(id(pool))
    if filled is None:
        filled = _FILLED[id(pool)] = _variants(pool)
    return filled[int(rng.random() * len(filled))]


def _text(rng: random.Random, pool: list[str], lines: int) -> str:
    count = rng.randint(1, lines)
    if count == 1:
        return _fill(rng, pool)
    return "\n".join(f"{i + 1}. {_fill(rng, pool)}" for i in range(count))


def _value(rng: random.Random, tpl: str, fname: str) -> str:
    if fname == "今日拜访客户数":
        return str(rng.randint(0, 8))
    if fname == "新增线索数":
        return str(rng.randint(0, 5))
    if fname == "签约金额（元）":
        return "0" if rng.random() < 0.6 else f"{rng.randint(1, 500) * 100}"
    if fname == "完成度（%）":
        return str(rng.randint(10, 100))
    if fname == "项目名称":
        return rng.choice(_PROJECTS)
    if fname in ("未完成工作",):
        return _fill(rng, _TODO)
    if fname in ("需协调工作", "需协调与帮助", "风险与问题"):
        return _fill(rng, _HELP)
    if fname == "备注":
        return rng.choice(["", "", "今天状态不错 😄", "外出半天", "无"])
    if "计划" in fname:
        return _text(rng, _PLAN, 3)
    return _text(rng, _DONE, 4 if tpl in ("周报", "项目周报") else 3)


def _report_code(seed: int, name: str) -> str:
    return hashlib.md5(f"report-template:{seed}:{name}".encode()).hexdigest()


def _report_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(68):017x}"


def _sh_date(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).date()


def _midnight_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=SHANGHAI).timestamp() * 1000)


def period_of(create_ms: int, weekly: bool) -> tuple[str, bool]:
    """The period a report counts for and whether it is late (the rule in the module doc).

    Daily: ``(YYYY-MM-DD, late)``; weekly: ``(YYYY-MM-DD of that week's Friday, late)``."""
    day = _sh_date(create_ms - PERIOD_SHIFT_MS)
    if weekly:
        day = day + timedelta(days=4 - day.weekday())
    deadline = _midnight_ms(day + timedelta(days=1))
    return day.isoformat(), create_ms >= deadline


def _is_sales(company: Company, user: User) -> bool:
    for m in user.memberships:
        for d in company.ancestors(m.dept_id):
            name = company.departments[d].name
            if "销售" in name or "市场" in name or "商务" in name:
                return True
    return False


def generate_reports(seed: int, company: Company, days: int, anchor_ms: int) -> ReportsWorld:
    """The reports world for ``company`` over the ``days`` days before ``anchor_ms``
    (deterministic). See the module docstring for what is generated."""
    templates: dict[str, Template] = {}
    for name, icon, weekly, fields in TEMPLATES:
        templates[name] = Template(
            name,
            _report_code(seed, name),
            icon,
            [TemplateField(f, i, 1, numeric) for i, (f, numeric) in enumerate(fields)],
            weekly,
        )
    start_ms = anchor_ms - days * DAY_MS
    users = sorted(company.users.values(), key=lambda u: u.userid)
    members: dict[int, list[str]] = {}
    for u in users:
        if u.active:
            for m in u.memberships:
                members.setdefault(m.dept_id, []).append(u.userid)
    writers: dict[str, list[str]] = {name: [] for name in templates}
    reports: list[Report] = []
    hired_day: dict[str, str] = {}
    working = [
        start_ms + i * DAY_MS for i in range(days) if _sh_date(start_ms + i * DAY_MS).weekday() < 5
    ]
    for user in users:
        if not user.active:
            continue
        urng = random.Random(f"{seed}:{user.userid}")
        sales = _is_sales(company, user) or urng.random() < 0.1
        daily = "销售日报" if sales else "日报"
        mine = [daily, "周报"] + (["项目周报"] if urng.random() < 0.17 else [])
        skip_p = 0.4 if urng.random() < 0.08 else 0.03
        first_day = start_ms
        if user.hired_date is not None:
            first_day = max(start_ms, _midnight_ms(_sh_date(user.hired_date)))
        hired_day[user.userid] = _sh_date(first_day).isoformat()
        dept_names = ",".join(company.departments[m.dept_id].name for m in user.memberships)
        peers = _peers(company, user, members)
        for tpl_name in mine:
            tpl = templates[tpl_name]
            own: list[Report] = []
            for day_ms in working:
                if day_ms < first_day:
                    continue
                weekday = _sh_date(day_ms).weekday()
                if tpl.weekly and weekday != 4:
                    continue
                if urng.random() < skip_p:
                    continue
                own.append(_make(urng, tpl, user, dept_names, peers, day_ms, anchor_ms))
            if not own and any(d >= first_day for d in working):
                days_ok = [
                    d
                    for d in working
                    if d >= first_day and (not tpl.weekly or _sh_date(d).weekday() == 4)
                ]
                if days_ok:
                    own.append(_make(urng, tpl, user, dept_names, peers, days_ok[-1], anchor_ms))
            if own:
                writers[tpl_name].append(user.userid)
            reports.extend(own)
    return ReportsWorld(templates, reports, writers, start_ms, anchor_ms, hired_day=hired_day)


def _peers(company: Company, user: User, members: dict[int, list[str]] | None = None) -> list[str]:
    """Default receivers: the heads of the user's departments and up to three colleagues."""
    heads: list[str] = []
    mates: list[str] = []
    for m in user.memberships:
        dept = company.departments[m.dept_id]
        heads.extend(h for h in dept.dept_manager_userid_list if h != user.userid)
        if not heads and dept.parent_id is not None:
            parent = company.departments[dept.parent_id]
            heads.extend(h for h in parent.dept_manager_userid_list if h != user.userid)
    if user.memberships:
        first = user.memberships[0].dept_id
        if members is None:
            ids = [u.userid for u in company.members(first) if u.active]
        else:
            ids = members.get(first, [])
        mates = [u for u in ids if u != user.userid and u not in heads]
    prng = random.Random(user.userid)
    chosen = prng.sample(mates, min(len(mates), prng.randint(0, 3)))
    return list(dict.fromkeys(heads + chosen))


def _make(
    rng: random.Random,
    tpl: Template,
    user: User,
    dept_names: str,
    receivers: list[str],
    day_ms: int,
    anchor_ms: int,
) -> Report:
    if tpl.weekly:
        created = day_ms + 15 * HOUR_MS + rng.randrange(8 * HOUR_MS)
    else:
        created = day_ms + 17 * HOUR_MS + rng.randrange(5 * HOUR_MS)
    if rng.random() < 0.08:
        late = day_ms + DAY_MS + 8 * HOUR_MS + rng.randrange(3 * HOUR_MS)
        if tpl.weekly:
            late += 2 * DAY_MS  # Monday morning
        if late < anchor_ms:
            created = late
    created += rng.randrange(1000)
    modified = created
    if rng.random() < 0.05:
        modified = min(created + rng.randrange(HOUR_MS, 20 * HOUR_MS), anchor_ms - 1)
        modified = max(modified, created)
    contents: list[dict[str, str]] = []
    for f in tpl.fields:
        value = _value(rng, tpl.name, f.field_name)
        if f.field_name == "备注" and rng.random() < 0.3:
            continue  # an optional field left out entirely
        contents.append({"key": f.field_name, "sort": str(f.sort), "type": "1", "value": value})
    images = []
    if rng.random() < 0.05:
        images = [
            json.dumps(
                {"image": f"https://static.dingtalk.com/media/lALP{rng.getrandbits(40):x}.png"}
            )
            for _ in range(rng.randint(1, 3))
        ]
    readers = [r for r in receivers if rng.random() < 0.8]
    likers = [r for r in readers if rng.random() < 0.25]
    comments = [
        Comment(r, rng.choice(_COMMENTS), created + rng.randrange(HOUR_MS, 30 * HOUR_MS))
        for r in readers
        if rng.random() < 0.15
    ]
    period, late_flag = period_of(created, tpl.weekly)
    return Report(
        report_id=_report_id(rng),
        template=tpl.name,
        creator_id=user.userid,
        creator_name=user.name,
        dept_name=dept_names,
        create_time=created,
        modified_time=modified,
        contents=contents,
        images=images,
        receivers=list(receivers),
        readers=readers,
        likers=likers,
        comments=comments,
        period=period,
        late=late_flag,
    )


def submission_truth(world: ReportsWorld) -> dict[str, dict[str, dict[str, str]]]:
    """``{template: {userid: {period: "submitted"|"late"|"missing"}}}`` for every writer of the
    template and every period (working day, or Friday for weekly templates) since hiring."""
    got: dict[tuple[str, str, str], bool] = {}
    for r in world.reports:
        key = (r.template, r.creator_id, r.period)
        got[key] = got.get(key, True) and r.late
    out: dict[str, dict[str, dict[str, str]]] = {}
    days = [
        _sh_date(world.start_ms + i * DAY_MS)
        for i in range((world.end_ms - world.start_ms) // DAY_MS)
    ]
    working = [d for d in days if d.weekday() < 5]
    for name, tpl in world.templates.items():
        periods = [d for d in working if not tpl.weekly or d.weekday() == 4]
        per_user: dict[str, dict[str, str]] = {}
        for userid in world.writers[name]:
            first = world.hired_day[userid]
            row: dict[str, str] = {}
            for d in periods:
                iso = d.isoformat()
                if iso < first:
                    continue
                late = got.get((name, userid, iso))
                row[iso] = "missing" if late is None else ("late" if late else "submitted")
            per_user[userid] = row
        out[name] = per_user
    return out


# ---------------------------------------------------------------------------------------------
# Serving
# ---------------------------------------------------------------------------------------------
def _cursor_base(seed: int) -> int:
    return 2_000_000_000 + (seed * 7_919) % 900_000_000


def _comment_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


class ReportsArea:
    """The reports area of a sandbox (registered in ``sandbox/areas.py``)."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        #: ``report_images``: serve ``images`` on ``report/list`` items that have them (EB-34).
        self.knobs: dict[str, Any] = {"report_images": False}
        self._world: ReportsWorld | None = None
        self._version = 0
        self._stats: tuple[int, dict[str, Any]] | None = None
        self._cache: dict[tuple[Any, ...], list[Report]] = {}
        self.cursor_base = _cursor_base(state.config.seed)
        # Generated now, while the sandbox starts, so that no call (or /sandbox/stats) pays for it.
        self._world = generate_reports(
            state.config.seed, state.company, state.config.days, state.company.anchor_ms
        )

    @property
    def world(self) -> ReportsWorld:
        """The generated world."""
        if self._world is None:
            with self.state.lock:
                if self._world is None:
                    s = self.state
                    self._world = generate_reports(
                        s.config.seed, s.company, s.config.days, s.company.anchor_ms
                    )
        return self._world

    # -- truth -------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Report counts and per-person, per-period submission truth (computed once per
        version of the world: ``/sandbox/stats`` stays cheap)."""
        w = self.world
        with self.state.lock:
            if self._stats is not None and self._stats[0] == self._version:
                return dict(self._stats[1])
            by_tpl = Counter(r.template for r in w.reports)
            stats = {
                "templates": len(w.templates),
                "reports": len(w.reports),
                "reports_by_template": dict(sorted(by_tpl.items())),
                "late_reports": sum(1 for r in w.reports if r.late),
                "edited_reports": sum(1 for r in w.reports if r.modified_time != r.create_time),
                "report_receivers": sum(len(r.receivers) for r in w.reports),
                "report_comments": sum(len(r.comments) for r in w.reports),
                "report_reads": sum(len(r.readers) for r in w.reports),
                "report_likes": sum(len(r.likers) for r in w.reports),
                "window": {"start_ms": w.start_ms, "end_ms": w.end_ms},
                "submissions": submission_truth(w),
            }
            self._stats = (self._version, stats)
            return dict(stats)

    # -- routes ------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        """The ``/topapi/report/*`` routes."""
        from dingsync.sandbox.app import Route

        t: Family = "topapi"
        return [
            Route("/topapi/report/list", t, "POST", self.report_list),
            Route("/topapi/report/simplelist", t, "POST", self.report_simplelist),
            Route("/topapi/report/receiver/list", t, "POST", self.receiver_list),
            Route("/topapi/report/comment/list", t, "POST", self.comment_list),
            Route("/topapi/report/statistics/listbytype", t, "POST", self.listbytype),
            Route("/topapi/report/statistics", t, "POST", self.statistics),
            Route("/topapi/report/template/listbyuserid", t, "POST", self.template_list),
            Route("/topapi/report/template/getbyname", t, "POST", self.template_get),
            Route("/topapi/report/getunreadcount", t, "POST", self.unread_count),
        ]

    def control_routes(self, app: FastAPI) -> None:
        """``POST /sandbox/mutate/reports/edit {report_id?, key?, value?}``: edit one report's
        content (default: the first field of the newest report) and set ``modified_time`` to the
        sandbox clock (at least 1 s after the old value). Answers the edited report."""
        area = self

        @app.post("/sandbox/mutate/reports/edit")
        async def edit(request: Request) -> JSONResponse:
            try:
                body = await request.json()
            except ValueError:
                body = {}
            if not isinstance(body, dict):
                body = {}
            try:
                report = area.edit(body.get("report_id"), body.get("key"), body.get("value"))
            except KeyError as exc:
                return JSONResponse({"error": f"unknown report {exc}"}, status_code=404)
            return JSONResponse(area.item(report, full=True))

    def edit(self, report_id: str | None, key: str | None, value: str | None) -> Report:
        """Edit a report (see :meth:`control_routes`); ``KeyError`` for an unknown id."""
        w = self.world
        with self.state.lock:
            report = w.by_id[report_id] if report_id else w.reports[-1]
            if not report.contents:
                report.contents.append({"key": "备注", "sort": "0", "type": "1", "value": ""})
            target = report.contents[0]
            if key is not None:
                found = [c for c in report.contents if c["key"] == key]
                if not found:
                    raise KeyError(key)
                target = found[0]
            target["value"] = value if value is not None else target["value"] + "（已修改 ✏️）"
            now_ms = int(self.state.clock.now() * 1000)
            report.modified_time = max(now_ms, report.modified_time + 1000)
            self._version += 1
            self._cache.clear()
            return report

    # -- helpers -----------------------------------------------------------------------------
    def item(self, r: Report, *, full: bool) -> dict[str, Any]:
        """A ``data_list`` item of ``report/list`` (``full``) or ``simplelist``."""
        out: dict[str, Any] = {
            "create_time": r.create_time,
            "creator_id": r.creator_id,
            "creator_name": r.creator_name,
            "dept_name": r.dept_name,
            "remark": r.remark,
            "report_id": r.report_id,
            "template_name": r.template,
        }
        if full:
            out["contents"] = [dict(c) for c in r.contents]
            out["modified_time"] = r.modified_time
            if r.images and self.state.area_knobs.get("report_images"):
                out["images"] = list(r.images)
        return out

    def _report(self, call: Call) -> Report:
        rid = call.params.text("report_id", required=True)
        report = self.world.by_id.get(rid or "")
        if report is None:
            raise OapiError(400002, "无效的参数: report_id 不存在")
        return report

    def _select(self, call: Call, *, modified: bool) -> tuple[list[Report], int, int]:
        p = call.params
        start = p.integer("start_time", required=True)
        end = p.integer("end_time", required=True)
        cursor = p.integer("cursor", required=True, lo=0)
        size = p.integer("size", required=True)
        assert start is not None and end is not None and cursor is not None and size is not None
        if size < 1 or size > LIST_SIZE_MAX:
            raise OapiError(400002, f"无效的参数: size 不能超过{LIST_SIZE_MAX}")
        if end < start or end - start > WINDOW_MAX_MS:
            raise OapiError(400002, "无效的参数: 查询时间跨度不能超过180天")
        template = p.text("template_name")
        userid = p.text("userid")
        mstart = p.integer("modified_start_time") if modified else None
        mend = p.integer("modified_end_time") if modified else None
        scope = self.state.data_scope()  # EB-31: out-of-scope authors are left out silently
        scope_key = self.state.config.data_scope_dept_ids
        key = (start, end, template, userid, mstart, mend, tuple(scope_key or ()), scope is None)
        w = self.world
        with self.state.lock:
            selected = self._cache.get(key)
            if selected is None:
                lo = bisect.bisect_left(w.create_times, start)
                hi = bisect.bisect_right(w.create_times, end)
                selected = [
                    r
                    for r in w.reports[lo:hi]
                    if (template is None or r.template == template)
                    and (userid is None or r.creator_id == userid)
                    and (mstart is None or r.modified_time >= mstart)
                    and (mend is None or r.modified_time <= mend)
                    and (scope is None or r.creator_id in scope)
                ]
                if len(self._cache) > 256:
                    self._cache.clear()
                self._cache[key] = selected
        if cursor == 0:
            offset = 0
        elif cursor >= self.cursor_base:
            offset = cursor - self.cursor_base
        else:
            raise OapiError(400002, "无效的参数: cursor")
        return selected, offset, size

    def _page(self, call: Call, *, full: bool) -> dict[str, Any]:
        selected, offset, size = self._select(call, modified=full)
        page = selected[offset : offset + size]
        nxt = min(offset + size, len(selected)) if offset < len(selected) else offset
        return {
            "result": {
                "data_list": [self.item(r, full=full) for r in page],
                "size": size,
                "next_cursor": self.cursor_base + nxt,
                "has_more": offset + size < len(selected),
            }
        }

    # -- handlers ----------------------------------------------------------------------------
    def report_list(self, call: Call) -> dict[str, Any]:
        """``/topapi/report/list``."""
        return self._page(call, full=True)

    def report_simplelist(self, call: Call) -> dict[str, Any]:
        """``/topapi/report/simplelist``."""
        return self._page(call, full=False)

    def _userid_page(self, call: Call, ids: list[str]) -> dict[str, Any]:
        p = call.params
        offset = p.integer("offset", lo=0, default=0)
        size = p.integer("size", default=USERLIST_SIZE_MAX)
        assert offset is not None and size is not None
        if size < 1 or size > USERLIST_SIZE_MAX:
            raise OapiError(400002, f"无效的参数: size 不能超过{USERLIST_SIZE_MAX}")
        result: dict[str, Any] = {
            "userid_list": ids[offset : offset + size],
            "has_more": offset + size < len(ids),
        }
        if result["has_more"]:
            result["next_cursor"] = offset + size
        return {"result": result, "success": True}

    def receiver_list(self, call: Call) -> dict[str, Any]:
        """``/topapi/report/receiver/list``."""
        return self._userid_page(call, list(self._report(call).receivers))

    def listbytype(self, call: Call) -> dict[str, Any]:
        """``/topapi/report/statistics/listbytype`` (type 0 read, 1 comment, 2 like)."""
        report = self._report(call)
        kind = call.params.integer("type", required=True, lo=0, hi=2)
        if kind == 0:
            ids = report.readers
        elif kind == 1:
            ids = list(dict.fromkeys(c.userid for c in report.comments))
        else:
            ids = report.likers
        return self._userid_page(call, list(ids))

    def statistics(self, call: Call) -> dict[str, Any]:
        """Historic ``/topapi/report/statistics``: read/comment/like counts."""
        r = self._report(call)
        return {
            "result": {
                "comment_num": len(r.comments),
                "comment_user_num": len({c.userid for c in r.comments}),
                "like_num": len(r.likers),
                "read_num": len(r.readers),
            },
            "success": True,
        }

    def comment_list(self, call: Call) -> dict[str, Any]:
        """``/topapi/report/comment/list`` (``size`` ≤ 20; times as GMT+8 strings)."""
        report = self._report(call)
        p = call.params
        offset = p.integer("offset", lo=0, default=0)
        size = p.integer("size", default=COMMENT_SIZE_MAX)
        assert offset is not None and size is not None
        if size < 1 or size > COMMENT_SIZE_MAX:
            raise OapiError(400002, f"无效的参数: size 不能超过{COMMENT_SIZE_MAX}")
        page = report.comments[offset : offset + size]
        result: dict[str, Any] = {
            "comments": [
                {
                    "content": c.content,
                    "create_time": _comment_time(c.create_time),
                    "userid": c.userid,
                }
                for c in page
            ],
            "has_more": offset + size < len(report.comments),
        }
        if result["has_more"]:
            result["next_cursor"] = offset + size
        return {"result": result, "success": True}

    def template_list(self, call: Call) -> dict[str, Any]:
        """``/topapi/report/template/listbyuserid`` (``userid`` omitted = every template)."""
        p = call.params
        userid = p.text("userid")
        offset = p.integer("offset", lo=0, default=0)
        size = p.integer("size", default=TEMPLATE_SIZE_MAX)
        assert offset is not None and size is not None
        if size < 1 or size > TEMPLATE_SIZE_MAX:
            raise OapiError(400002, f"无效的参数: size 不能超过{TEMPLATE_SIZE_MAX}")
        w = self.world
        names = list(w.templates)
        if userid is not None:
            if userid not in self.state.company.users:
                raise OapiError(60121, "找不到该用户")
            self.state.require_data_scope(userid)
            names = [n for n in names if userid in w.writers[n]] or names
        corp = self.state.app.corp_id
        items = [
            {
                "icon_url": ICON.format(n=w.templates[n].icon),
                "name": n,
                "report_code": w.templates[n].report_code,
                "url": CREATE_URL.format(corp=corp, code=w.templates[n].report_code),
            }
            for n in names[offset : offset + size]
        ]
        result: dict[str, Any] = {"template_list": items}
        if offset + size < len(names):
            result["next_cursor"] = offset + size
        return {"result": result}

    def template_get(self, call: Call) -> dict[str, Any]:
        """``/topapi/report/template/getbyname`` (``sort``/``type`` as Numbers)."""
        p = call.params
        userid = p.text("userid", required=True)
        name = p.text("template_name", required=True)
        user = self.state.company.users.get(userid or "")
        if user is None:
            raise OapiError(60121, "找不到该用户")
        self.state.require_data_scope(user.userid)
        tpl = self.world.templates.get(name or "")
        if tpl is None:
            raise OapiError(400002, "无效的参数: 模板不存在")
        heads = _peers(self.state.company, user)[:1]
        users = self.state.company.users
        return {
            "result": {
                "id": tpl.report_code,
                "name": tpl.name,
                "fields": [
                    {"field_name": f.field_name, "sort": f.sort, "type": f.type} for f in tpl.fields
                ],
                "default_receivers": [
                    {"user_name": users[h].name, "userid": h} for h in heads if h in users
                ],
                "user_name": user.name,
                "userid": user.userid,
            }
        }

    def unread_count(self, call: Call) -> dict[str, Any]:
        """``/topapi/report/getunreadcount``: reports received in the last 30 days not read."""
        userid = call.params.text("userid", required=True)
        if userid not in self.state.company.users:
            raise OapiError(60121, "找不到该用户")
        self.state.require_data_scope(userid)
        since = int(self.state.clock.now() * 1000) - 30 * DAY_MS
        w = self.world
        lo = bisect.bisect_left(w.create_times, since)
        count = sum(1 for r in w.reports[lo:] if userid in r.receivers and userid not in r.readers)
        return {"count": count}


def utc_ms(moment: datetime) -> int:
    """Aware datetime → epoch ms (helper for tests)."""
    return int(moment.astimezone(UTC).timestamp() * 1000)
