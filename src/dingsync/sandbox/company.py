"""The generated company: departments, people, leaders, administrators and leavers.

Pure data and pure generation — no HTTP, no clock. ``generate_company(seed, users)`` is
deterministic for ``(seed, users, corp_name, anchor_ms)``; the handlers in ``app.py`` serve this
structure and tests compare what a client synced against it field by field.

Field names follow DingTalk's own vocabulary (``/topapi/v2/department/get``,
``/topapi/v2/user/get``, the 智能人事 dimission APIs), so ``Department.order`` is the wire
``order``, ``User.hired_date`` the wire ``hired_date`` (epoch **ms**) and so on. Optional fields
that DingTalk omits when unset are ``None`` here.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from faker import Faker

ROOT_DEPT_ID = 1
SHANGHAI = timezone(timedelta(hours=8))
DAY_MS = 86_400_000

#: ``leaveReason`` values of ``/v1.0/contact/empLeaveRecords``.
LEAVE_REASONS = ("oapi", "cancel", "leave", "unknown", "delete")

#: The built-in role group 默认 and its four roles (ids as in DingTalk's published role samples,
#: ``contacts/topapi_role_list.json``). Their members follow the company (see
#: :meth:`Company.role_members`); custom roles hold their members themselves.
DEFAULT_ROLE_GROUP_ID = 1507113577
DEFAULT_ROLE_GROUP_NAME = "默认"
ROLE_MAIN_ADMIN_ID = 1507113578
ROLE_SUB_ADMIN_ID = 1507113579
ROLE_OWNER_ID = 1507113580
ROLE_HEAD_ID = 1507113581
#: Built-in role kinds: 主管理员, 子管理员, 负责人 (the boss), 主管 (department heads).
BUILTIN_ROLES: tuple[tuple[int, str, str], ...] = (
    (ROLE_OWNER_ID, "负责人", "owner"),
    (ROLE_HEAD_ID, "主管", "head"),
    (ROLE_MAIN_ADMIN_ID, "主管理员", "main_admin"),
    (ROLE_SUB_ADMIN_ID, "子管理员", "sub_admin"),
)


# ---------------------------------------------------------------------------------------------
# The structure
# ---------------------------------------------------------------------------------------------
@dataclass
class Department:
    """One department, as ``/topapi/v2/department/get`` describes it.

    ``parent_id`` is ``None`` only for the root (``dept_id`` 1, named after the company);
    ``order`` is the position among siblings (listings sort by it);
    ``dept_manager_userid_list`` holds the department heads (部门主管), who are members of the
    department with ``leader`` set on their membership; ``org_dept_owner`` is the department
    *group* owner (not the head). Permit lists are empty unless ``hide_dept``/``outer_dept``.
    """

    dept_id: int
    name: str
    parent_id: int | None
    order: int
    dept_manager_userid_list: list[str] = field(default_factory=list)
    create_dept_group: bool = False
    auto_add_user: bool = False
    auto_approve_apply: bool = False
    group_contain_sub_dept: bool = False
    dept_group_chat_id: str | None = None
    org_dept_owner: str | None = None
    hide_dept: bool = False
    dept_permits: list[int] = field(default_factory=list)
    user_permits: list[str] = field(default_factory=list)
    outer_dept: bool = False
    outer_permit_depts: list[int] = field(default_factory=list)
    outer_permit_users: list[str] = field(default_factory=list)
    source_identifier: str | None = None
    brief: str = ""


@dataclass
class Membership:
    """A user's place in one department: ``order`` within it (``dept_order``) and whether the
    user heads it (``leader``)."""

    dept_id: int
    order: int
    leader: bool = False


@dataclass
class User:
    """A person currently in the directory (``/topapi/v2/user/get`` fields).

    ``hired_date`` is epoch **ms** (``None`` = not set); ``avatar`` may be ``""`` (default
    avatar); ``None`` optional fields are omitted on the wire. ``memberships`` lists every
    department with its order and leader flag; ``dept_id_list``/``dept_order_list``/
    ``leader_in_dept`` are derived from it. ``admin`` is true for the main and the
    sub-administrators (see ``Company.admins``).
    """

    userid: str
    unionid: str
    name: str
    avatar: str
    state_code: str
    mobile: str
    hide_mobile: bool
    job_number: str | None
    title: str | None
    hired_date: int | None
    active: bool
    admin: bool
    boss: bool
    senior: bool
    real_authed: bool
    exclusive_account: bool
    memberships: list[Membership] = field(default_factory=list)
    telephone: str | None = None
    email: str | None = None
    org_email: str | None = None
    work_place: str | None = None
    remark: str | None = None
    manager_userid: str | None = None
    extension: str | None = None

    @property
    def dept_id_list(self) -> list[int]:
        """Department ids in membership order (no "main department" meaning, EB-21)."""
        return [m.dept_id for m in self.memberships]

    @property
    def dept_order_list(self) -> list[dict[str, int]]:
        """``[{dept_id, order}]`` as in ``/topapi/v2/user/get``."""
        return [{"dept_id": m.dept_id, "order": m.order} for m in self.memberships]

    @property
    def leader_in_dept(self) -> list[dict[str, Any]]:
        """``[{dept_id, leader}]`` as in ``/topapi/v2/user/get``."""
        return [{"dept_id": m.dept_id, "leader": m.leader} for m in self.memberships]

    def membership(self, dept_id: int) -> Membership | None:
        """The membership in ``dept_id``, or ``None``."""
        for m in self.memberships:
            if m.dept_id == dept_id:
                return m
        return None


@dataclass
class LeaverDepartment:
    """A department a leaver was in: id and its path of names (``研发中心-前端开发部``)."""

    dept_id: int
    dept_path: str


@dataclass
class Leaver:
    """Someone who left: no longer in the directory (``/topapi/v2/user/get`` → 60121), served by
    ``/v1.0/contact/empLeaveRecords`` and the 智能人事 dimission APIs.

    ``leave_time`` and ``last_work_day`` are epoch **ms** (the API of records renders
    ``leave_time`` as ISO-8601 UTC); ``leave_reason`` ∈ ``LEAVE_REASONS``; ``status`` 2 = left
    (已离职); ``pre_status`` 2 probation / 3 regular; ``dept_list`` are the last departments,
    the first of them the main one (``main_dept_id``/``main_dept_name``).
    """

    userid: str
    name: str
    state_code: str
    mobile: str
    leave_time: int
    leave_reason: str
    last_work_day: int
    dept_list: list[LeaverDepartment]
    main_dept_id: int
    main_dept_name: str
    reason_type: int
    reason_memo: str
    pre_status: int
    status: int = 2
    handover_userid: str | None = None


@dataclass
class RoleMember:
    """A member of a role (``/topapi/role/simplelist`` item): ``manage_scopes`` are the
    ``dept_id``s the member manages in that role (``manageScopes``); empty = the whole company,
    as DingTalk shows a scope-less member."""

    userid: str
    manage_scopes: list[int] = field(default_factory=list)


@dataclass
class Role:
    """A role (角色) inside a role group. ``builtin`` names the kind of a 默认 role
    (``owner`` 负责人, ``head`` 主管, ``main_admin`` 主管理员, ``sub_admin`` 子管理员), whose
    members are derived from the company; a custom role (``builtin`` ``None``) lists its
    ``members``."""

    role_id: int
    name: str
    group_id: int
    builtin: str | None = None
    members: list[RoleMember] = field(default_factory=list)


@dataclass
class RoleGroup:
    """A role group (角色组) and its roles, in ``/topapi/role/list`` order."""

    group_id: int
    name: str
    roles: list[Role] = field(default_factory=list)


@dataclass
class Company:
    """The whole truth of one generated organisation.

    ``departments`` by ``dept_id`` (root = 1); ``users`` by ``userid`` (current people, active
    or not yet activated); ``leavers`` by ``userid``; ``admins`` maps userid → ``sys_level``
    (1 main administrator, 2 sub-administrator, exactly what ``/topapi/user/listadmin``
    returns); ``admin_scopes`` maps each administrator's userid → the ``dept_ids`` that
    ``/topapi/user/get_admin_scope`` returns (``[1]`` for the main administrator;
    sub-departments are included implicitly, not listed); ``boss_userid`` is the boss (老板).
    ``anchor_ms`` is the epoch-ms instant the company's history was generated relative to.
    ``role_groups``: the role groups (the built-in 默认 first, then custom groups such as 职务
    and 岗位) with their roles; see :meth:`role_members` for who holds each role.
    """

    seed: int
    corp_name: str
    anchor_ms: int
    departments: dict[int, Department]
    users: dict[str, User]
    leavers: dict[str, Leaver]
    admins: dict[str, int]
    admin_scopes: dict[str, list[int]]
    boss_userid: str
    role_groups: list[RoleGroup] = field(default_factory=list)

    # -- derived views (computed on demand; the fields above are the truth) ------------------
    @property
    def main_admin_userid(self) -> str:
        """The main administrator (sys_level 1)."""
        return next(u for u, level in self.admins.items() if level == 1)

    @property
    def sub_admin_userids(self) -> list[str]:
        """Sub-administrators (sys_level 2)."""
        return [u for u, level in self.admins.items() if level == 2]

    def sys_level(self, userid: str) -> int:
        """``sys_level`` of the login APIs: 1 main admin, 2 sub-admin, 100 boss, 0 others."""
        level = self.admins.get(userid)
        if level:
            return level
        return 100 if userid == self.boss_userid else 0

    # -- roles -------------------------------------------------------------------------------
    def roles_by_id(self) -> dict[int, tuple[RoleGroup, Role]]:
        """Every role by ``role_id`` with its group."""
        return {r.role_id: (g, r) for g in self.role_groups for r in g.roles}

    def role_members(self, role: Role) -> list[RoleMember]:
        """Who holds ``role`` now, in ``/topapi/role/simplelist`` order.

        Built-in 默认 roles follow the company: 主管理员 = the main administrator(s) and
        子管理员 = the sub-administrators (scope = their ``admin_scopes``), both as listadmin
        says; 负责人 = the boss (老板), whole company; 主管 = the department heads (scope = the
        departments they head), sorted by userid. A custom role's members are those still in
        the directory, with scopes narrowed to departments that still exist."""
        depts = self.departments
        if role.builtin == "main_admin":
            return [RoleMember(u, []) for u, level in self.admins.items() if level == 1]
        if role.builtin == "sub_admin":
            return [
                RoleMember(u, [d for d in self.admin_scopes.get(u, []) if d in depts])
                for u, level in self.admins.items()
                if level == 2
            ]
        if role.builtin == "owner":
            return [RoleMember(self.boss_userid, [])] if self.boss_userid in self.users else []
        if role.builtin == "head":
            return [
                RoleMember(u.userid, [m.dept_id for m in u.memberships if m.leader])
                for u in sorted(self.users.values(), key=lambda x: x.userid)
                if any(m.leader for m in u.memberships)
            ]
        return [
            RoleMember(m.userid, [d for d in m.manage_scopes if d in depts])
            for m in role.members
            if m.userid in self.users
        ]

    def roles_of_users(self) -> dict[str, list[tuple[RoleGroup, Role]]]:
        """``userid → [(group, role), …]`` for everyone holding a role (the ``role_list`` of
        ``/topapi/v2/user/get``): 主管理员/子管理员 first, then 负责人, 主管 and custom roles."""
        rank = {"main_admin": 0, "sub_admin": 1, "owner": 2, "head": 3}
        out: dict[str, list[tuple[RoleGroup, Role]]] = {}
        for group in self.role_groups:
            for role in group.roles:
                for m in self.role_members(role):
                    out.setdefault(m.userid, []).append((group, role))
        for held in out.values():
            held.sort(key=lambda gr: rank.get(gr[1].builtin or "", 4))
        return out

    def children(self, dept_id: int) -> list[Department]:
        """Direct children sorted by ``(order, dept_id)`` (an O(n) scan; handlers use indexes)."""
        kids = [d for d in self.departments.values() if d.parent_id == dept_id]
        return sorted(kids, key=lambda d: (d.order, d.dept_id))

    def ancestors(self, dept_id: int) -> list[int]:
        """``[dept_id, parent, …, 1]`` — the shape of ``listparentbydept``."""
        chain = [dept_id]
        parent = self.departments[dept_id].parent_id
        while parent is not None:
            chain.append(parent)
            parent = self.departments[parent].parent_id
        return chain

    def depth(self, dept_id: int) -> int:
        """Levels below the root (root 0, its children 1, …)."""
        return len(self.ancestors(dept_id)) - 1

    def max_depth(self) -> int:
        """The deepest department's ``depth``."""
        return max(self.depth(d) for d in self.departments)

    def dept_path(self, dept_id: int) -> str:
        """Names from the root's child down to ``dept_id`` joined by ``-`` (root → its name)."""
        chain = self.ancestors(dept_id)
        names = [self.departments[d].name for d in reversed(chain) if d != ROOT_DEPT_ID]
        return "-".join(names) if names else self.departments[dept_id].name

    def members(self, dept_id: int) -> list[User]:
        """Direct members of ``dept_id`` sorted by ``(order, userid)`` (an O(users) scan)."""
        found = [(u.membership(dept_id), u) for u in self.users.values()]
        return [u for m, u in sorted(((m, u) for m, u in found if m), key=_member_key)]

    def truth_counts(self) -> dict[str, int]:
        """Counts that ``GET /sandbox/stats`` reports as the company truth."""
        users = self.users.values()
        return {
            "departments": len(self.departments),
            "users": len(self.users),
            "active_users": sum(1 for u in users if u.active),
            "inactive_users": sum(1 for u in users if not u.active),
            "multi_department_users": sum(1 for u in users if len(u.memberships) > 1),
            "memberships": sum(len(u.memberships) for u in users),
            "admins": len(self.admins),
            "sub_admins": sum(1 for level in self.admins.values() if level == 2),
            "leavers": len(self.leavers),
            "role_groups": len(self.role_groups),
            "roles": sum(len(g.roles) for g in self.role_groups),
            "role_members": sum(
                len(self.role_members(r)) for g in self.role_groups for r in g.roles
            ),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready truth (``GET /sandbox/company``): lists sorted by id, every field kept."""
        users = []
        for u in sorted(self.users.values(), key=lambda x: x.userid):
            row = asdict(u)
            row["dept_id_list"] = u.dept_id_list
            row["sys_level"] = self.sys_level(u.userid)
            users.append(row)
        return {
            "seed": self.seed,
            "corp_name": self.corp_name,
            "anchor_ms": self.anchor_ms,
            "boss_userid": self.boss_userid,
            "departments": [asdict(self.departments[d]) for d in sorted(self.departments)],
            "users": users,
            "admins": [
                {"userid": u, "sys_level": level, "dept_ids": list(self.admin_scopes.get(u, []))}
                for u, level in sorted(self.admins.items(), key=lambda kv: (kv[1], kv[0]))
            ],
            "leavers": [asdict(self.leavers[u]) for u in sorted(self.leavers)],
            "role_groups": self.roles_truth(),
            "counts": self.truth_counts(),
        }

    def roles_truth(self) -> list[dict[str, Any]]:
        """Role groups as ``GET /sandbox/company`` shows them: ``[{group_id, name, roles:
        [{role_id, name, builtin, members: [{userid, name, manage_scopes: [{dept_id, name}]}]}]}]``
        in ``/topapi/role/list`` order, members as ``/topapi/role/simplelist`` lists them."""
        out = []
        for g in self.role_groups:
            roles = []
            for r in g.roles:
                members = [
                    {
                        "userid": m.userid,
                        "name": self.users[m.userid].name,
                        "manage_scopes": [
                            {"dept_id": d, "name": self.departments[d].name}
                            for d in m.manage_scopes
                        ],
                    }
                    for m in self.role_members(r)
                ]
                roles.append(
                    {"role_id": r.role_id, "name": r.name, "builtin": r.builtin, "members": members}
                )
            out.append({"group_id": g.group_id, "name": g.name, "roles": roles})
        return out


def _member_key(pair: tuple[Membership | None, User]) -> tuple[int, str]:
    m, u = pair
    assert m is not None
    return (m.order, u.userid)


# ---------------------------------------------------------------------------------------------
# Name material
# ---------------------------------------------------------------------------------------------
_THEMES: dict[str, list[str]] = {
    "研发中心": [
        "前端开发部",
        "后端开发部",
        "移动开发部",
        "测试部",
        "运维部",
        "数据平台部",
        "算法部",
        "架构部",
        "信息安全部",
    ],
    "产品中心": ["产品一部", "产品二部", "用户体验部", "设计部", "产品运营部"],
    "销售中心": [
        "华东销售部",
        "华南销售部",
        "华北销售部",
        "华中销售部",
        "西南销售部",
        "西北销售部",
        "东北销售部",
        "大客户部",
        "渠道部",
    ],
    "市场中心": ["品牌部", "市场推广部", "公关部", "活动策划部", "新媒体部"],
    "运营中心": ["用户运营部", "内容运营部", "商家运营部", "数据运营部"],
    "客户服务中心": ["售前支持部", "售后服务部", "客户成功部", "呼叫中心"],
    "财务中心": ["会计部", "资金部", "税务部", "审计部", "预算管理部"],
    "人力资源中心": ["招聘部", "培训发展部", "薪酬福利部", "员工关系部", "组织发展部"],
    "行政中心": ["行政部", "采购部", "后勤保障部", "法务部"],
    "供应链中心": ["计划部", "仓储物流部", "质量管理部", "生产部", "采购管理部"],
}
_TEAMS: dict[str, list[str]] = {
    "前端开发部": ["Web组", "小程序组", "基础组件组", "可视化组"],
    "后端开发部": ["交易组", "用户组", "支付组", "消息组", "搜索组"],
    "移动开发部": ["iOS组", "Android组", "跨端组"],
    "测试部": ["功能测试组", "自动化测试组", "性能测试组"],
    "运维部": ["系统运维组", "DBA组", "SRE组"],
    "数据平台部": ["数据仓库组", "数据开发组", "BI组"],
    "算法部": ["推荐算法组", "NLP组", "视觉算法组"],
    "架构部": ["中间件组", "基础架构组"],
    "设计部": ["视觉设计组", "交互设计组"],
    "用户体验部": ["用户研究组", "体验设计组"],
    "招聘部": ["社会招聘组", "校园招聘组"],
    "会计部": ["总账组", "应收组", "应付组"],
    "仓储物流部": ["华东仓", "华南仓", "华北仓"],
    "呼叫中心": ["热线一组", "热线二组", "在线客服组"],
    "新媒体部": ["短视频组", "公众号组"],
}
_REGIONS: dict[str, list[str]] = {
    "华东销售部": ["上海", "杭州", "南京", "苏州", "宁波", "合肥", "济南", "青岛"],
    "华南销售部": ["广州", "深圳", "厦门", "福州", "南宁", "海口"],
    "华北销售部": ["北京", "天津", "石家庄", "太原", "呼和浩特"],
    "华中销售部": ["武汉", "长沙", "郑州", "南昌"],
    "西南销售部": ["成都", "重庆", "昆明", "贵阳"],
    "西北销售部": ["西安", "兰州", "银川", "乌鲁木齐"],
    "东北销售部": ["沈阳", "大连", "长春", "哈尔滨"],
}
_TITLES: dict[str, list[str]] = {
    "研发中心": [
        "前端工程师",
        "高级前端工程师",
        "Java开发工程师",
        "高级Java工程师",
        "Go开发工程师",
        "测试工程师",
        "运维工程师",
        "算法工程师",
        "数据工程师",
        "架构师",
        "技术专家",
    ],
    "产品中心": ["产品经理", "高级产品经理", "产品助理", "UI设计师", "交互设计师", "用户研究员"],
    "销售中心": ["销售代表", "销售经理", "客户经理", "大客户经理", "渠道经理", "销售助理"],
    "市场中心": ["市场专员", "品牌经理", "公关专员", "新媒体运营", "活动策划"],
    "运营中心": ["运营专员", "用户运营", "内容运营", "数据分析师"],
    "客户服务中心": ["客服专员", "客户成功经理", "售后工程师", "技术支持工程师"],
    "财务中心": ["会计", "出纳", "财务经理", "税务专员", "审计专员"],
    "人力资源中心": ["招聘专员", "HRBP", "培训专员", "薪酬专员", "人事专员"],
    "行政中心": ["行政专员", "前台", "采购专员", "法务专员"],
    "供应链中心": ["计划专员", "仓库管理员", "质检员", "物流专员", "生产主管"],
}
_HOBBIES = ["旅游", "读书", "跑步", "羽毛球", "摄影", "篮球", "游泳", "音乐", "围棋", "烘焙"]
_REMARKS = ["外包", "实习生", "返聘", "兼职", "试用期", "驻场"]
_LEAVE_MEMOS = {
    1: "家庭原因",
    2: "个人发展",
    3: "薪资待遇",
    4: "合同到期不续签",
    5: "协商解除",
    6: "身体原因",
    7: "工作地点变动",
    8: "其他",
}
_CN_DIGITS = "零一二三四五六七八九"
_ALNUM = string.ascii_letters + string.digits


def _cn_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 23 → 二十三 (enough for sibling ordinals)."""
    if n < 10:
        return _CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else _CN_DIGITS[tens]
    return head + "十" + ("" if ones == 0 else _CN_DIGITS[ones])


def _stem(name: str) -> str:
    for suffix in ("中心", "分部", "部", "组"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------
@dataclass
class _Node:
    index: int
    name: str
    parent: int | None
    level: int
    theme: str
    children: list[int] = field(default_factory=list)


def default_anchor_ms(now: datetime | None = None) -> int:
    """Midnight (Asia/Shanghai) of today, epoch ms: the default anchor of generated history."""
    now = now or datetime.now(UTC)
    local = now.astimezone(SHANGHAI)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(midnight.timestamp() * 1000)


def generate_company(
    seed: int = 42,
    users: int = 300,
    *,
    corp_name: str | None = None,
    anchor_ms: int | None = None,
) -> Company:
    """Generate a company of ``users`` current people, deterministically for the arguments.

    About one department per 12 people in a tree at least 4 levels below the root; about
    10 % of people in 2–3 departments (at least one in exactly 3); heads for most departments;
    one boss; one main administrator and 2–5 sub-administrators with scopes; ~3 % not yet
    activated; ~3 % (at least 2) leavers who are *not* in ``users``. ``anchor_ms`` (epoch ms,
    default: today's midnight in Asia/Shanghai) is the "now" of the history: hire dates lie
    before it and leave times within the 360 days before it. ``corp_name`` defaults to a Faker
    zh_CN company name. At least one department has a smaller ``dept_id`` than its parent.
    """
    if users < 1:
        raise ValueError("users must be at least 1")
    rng = random.Random(seed)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    anchor = default_anchor_ms() if anchor_ms is None else int(anchor_ms)
    name = corp_name or fake.company()

    nodes = _build_tree(rng, max(6, round(users / 12) + 1))
    departments, theme_of = _make_departments(rng, nodes, name)

    people = _make_people(rng, fake, users, anchor, theme_of)
    _place_people(rng, people, departments, theme_of)
    user_map = {u.userid: u for u in people}

    boss = people[0]
    boss.boss = True
    boss.senior = True
    boss.title = rng.choice(["CEO", "总经理", "董事长", "创始人"])
    admins, scopes = _pick_admins(rng, people, departments)
    for uid in admins:
        user_map[uid].admin = True
    _deactivate_some(rng, people, admins)
    _set_managers(rng, people, departments)
    _fill_department_details(rng, departments, user_map)

    taken_ids = set(user_map)
    taken_mobiles = {u.mobile for u in people}
    leavers = _make_leavers(
        rng,
        fake,
        max(2, round(users * 0.03)),
        anchor,
        departments,
        people,
        taken_ids,
        taken_mobiles,
    )
    company = Company(
        seed=seed,
        corp_name=name,
        anchor_ms=anchor,
        departments=departments,
        users=user_map,
        leavers={lv.userid: lv for lv in leavers},
        admins=admins,
        admin_scopes=scopes,
        boss_userid=boss.userid,
    )
    for lv in company.leavers.values():
        for ld in lv.dept_list:
            ld.dept_path = company.dept_path(ld.dept_id)
    company.role_groups = _make_roles(seed, people, departments)
    return company


def _build_tree(rng: random.Random, total: int) -> list[_Node]:
    """A department tree of ``total`` nodes (root included), at least 4 levels below the root."""
    root = _Node(0, "", None, 0, "")
    nodes = [root]
    names_under: dict[int, set[str]] = {0: set()}

    def add(parent: _Node, name: str, theme: str) -> _Node:
        node = _Node(len(nodes), name, parent.index, parent.level + 1, theme)
        nodes.append(node)
        parent.children.append(node.index)
        names_under[parent.index].add(name)
        names_under[node.index] = set()
        return node

    def child_name(parent: _Node) -> str:
        taken = names_under[parent.index]
        if parent.level == 1:
            pool = [n for n in _THEMES[parent.theme] if n not in taken]
            if pool:
                return rng.choice(pool)
            return _fresh(taken, lambda k: f"{_stem(parent.name)}{_cn_number(k)}部")
        if parent.level == 2:
            if parent.name in _REGIONS:
                pool = [f"{c}分部" for c in _REGIONS[parent.name] if f"{c}分部" not in taken]
            else:
                pool = [n for n in _TEAMS.get(parent.name, []) if n not in taken]
            if pool:
                return rng.choice(pool)
            stem = _stem(parent.name)
            if stem[-1] in _CN_DIGITS:
                stem += "部"  # 产品二部 → 产品二部一组, not 产品二一组
            return _fresh(taken, lambda k: f"{stem}{_cn_number(k)}组")
        if parent.name.endswith("分部"):
            return _fresh(taken, lambda k: f"销售{_cn_number(k)}组")
        if parent.level == 3:
            return _fresh(taken, lambda k: f"第{_cn_number(k)}小组")
        return _fresh(taken, lambda k: f"专项{_cn_number(k)}组")

    themes = list(_THEMES)
    rng.shuffle(themes)
    first_level = min(len(themes), max(2, round((total - 1) ** 0.5)), total - 4)
    for theme in themes[:first_level]:
        add(root, theme, theme)
    # A chain that guarantees depth 4 (root → centre → department → team → sub-team).
    node = nodes[1]
    for _ in range(3):
        node = add(node, child_name(node), node.theme)
    level_weight = {1: 3.0, 2: 2.0, 3: 0.8, 4: 0.1}
    while len(nodes) < total:
        candidates = [n for n in nodes if n.level in level_weight]
        weights = [level_weight[n.level] / (1 + len(n.children) / 3) for n in candidates]
        parent = rng.choices(candidates, weights=weights, k=1)[0]
        add(parent, child_name(parent), parent.theme)
    return nodes


def _fresh(taken: set[str], make: Any) -> str:
    k = len(taken) + 1
    while make(k) in taken:
        k += 1
    name: str = make(k)
    return name


def _make_departments(
    rng: random.Random, nodes: list[_Node], corp_name: str
) -> tuple[dict[int, Department], dict[int, str]]:
    """Departments by id, and each department's theme (its level-1 ancestor's name)."""
    ids = rng.sample(range(30_000_000, 999_999_999), len(nodes) - 1)
    dept_id = {0: ROOT_DEPT_ID}
    for node, new_id in zip(nodes[1:], ids, strict=True):
        dept_id[node.index] = new_id
    # Clients must not assume parents come first: make sure some child has a smaller id than
    # its (non-root) parent, so id-sorted listings show that child before its parent.
    edges = [(n.parent, n.index) for n in nodes[1:] if n.parent not in (None, 0)]
    if edges and not any(dept_id[c] < dept_id[p] for p, c in edges if p is not None):
        p, c = edges[0]
        assert p is not None
        dept_id[p], dept_id[c] = dept_id[c], dept_id[p]
    departments: dict[int, Department] = {}
    for node in nodes:
        if node.parent is None:
            order = 0
            parent_id = None
        else:
            order = nodes[node.parent].children.index(node.index) + 1
            parent_id = dept_id[node.parent]
        departments[dept_id[node.index]] = Department(
            dept_id=dept_id[node.index],
            name=corp_name if node.parent is None else node.name,
            parent_id=parent_id,
            order=order,
        )
    return departments, {dept_id[n.index]: n.theme for n in nodes}


def _make_people(
    rng: random.Random, fake: Faker, n: int, anchor: int, theme_of: dict[int, str]
) -> list[User]:
    people: list[User] = []
    userids: set[str] = set()
    mobiles: set[str] = set()
    unionids: set[str] = set()
    first_hire = int(datetime(2012, 1, 1, tzinfo=SHANGHAI).timestamp() * 1000)
    # Hire dates do not depend on the anchor (only leave times do), so a seed gives the same
    # people on any day; they are clamped to a week before the anchor.
    last_hire = int(datetime(2025, 6, 30, tzinfo=SHANGHAI).timestamp() * 1000)
    hire_days = (last_hire - first_hire) // DAY_MS
    job_numbers = rng.sample(range(10001, 10001 + max(n * 3, 100)), n)
    for i in range(n):
        userid = _unique(userids, lambda: _userid(rng, fake))
        mobile = _unique(mobiles, fake.phone_number)
        unionid = _unique(unionids, lambda: "".join(rng.choices(_ALNUM, k=22)) + "iEiE")
        roll = rng.random()
        hired: int | None = min(first_hire + rng.randrange(hire_days) * DAY_MS, anchor - 7 * DAY_MS)
        if i == 0:
            hired = first_hire
        elif roll < 0.04:
            hired = None
        user = User(
            userid=userid,
            unionid=unionid,
            name=fake.name(),
            avatar=(
                "https://static-legacy.dingtalk.com/media/lADP"
                + "".join(rng.choices(_ALNUM, k=22))
                + "_240_240.jpg"
                if rng.random() < 0.85
                else ""
            ),
            state_code="86",
            mobile=mobile,
            hide_mobile=rng.random() < 0.03,
            job_number=None if rng.random() < 0.05 else str(job_numbers[i]),
            title=None,
            hired_date=hired,
            active=True,
            admin=False,
            boss=False,
            senior=rng.random() < 0.01,
            real_authed=rng.random() < 0.9,
            exclusive_account=False,
        )
        if rng.random() < 0.15:
            user.telephone = (
                f"0{rng.choice(['571', '21', '10', '755', '28'])}-8{rng.randrange(10**6, 10**7)}"
            )
        if rng.random() < 0.4:
            user.email = f"{fake.user_name()}{rng.randrange(1, 999)}@{fake.free_email_domain()}"
        if rng.random() < 0.2:
            user.org_email = f"{userid[-8:].lower()}@corp{rng.randrange(100, 999)}.dingtalk.com"
        if rng.random() < 0.25:
            user.work_place = f"{fake.city()}{rng.choice(['总部', '办公区', '园区', '分公司'])}"
        if rng.random() < 0.05:
            user.remark = rng.choice(_REMARKS)
        if rng.random() < 0.15:
            ext = {
                "爱好": rng.choice(_HOBBIES),
                "工位": f"{rng.randrange(1, 30)}F-{rng.randrange(1, 200)}",
            }
            user.extension = json.dumps(ext, ensure_ascii=False, separators=(",", ":"))
        people.append(user)
    return people


def _unique(taken: set[str], make: Any) -> str:
    while True:
        value: str = make()
        if value not in taken:
            taken.add(value)
            return value


def _userid(rng: random.Random, fake: Faker) -> str:
    roll = rng.random()
    if roll < 0.6:
        return "0" + str(rng.randrange(10**18, 10**19))  # like 01255030530821552072
    if roll < 0.75:
        return str(rng.randrange(10**8, 10**11))
    if roll < 0.9:
        return f"manager{rng.randrange(100, 100000)}"
    return fake.romanized_name().replace(" ", "").lower() + str(rng.randrange(10, 1000))


def _place_people(
    rng: random.Random,
    people: list[User],
    departments: dict[int, Department],
    theme_of: dict[int, str],
) -> None:
    """Primary departments, extra memberships (~10 %), orders, heads and titles."""
    ids = list(departments)
    non_root = [d for d in ids if d != ROOT_DEPT_ID]
    has_children = {d.parent_id for d in departments.values()}
    weights = []
    for d in ids:
        if d == ROOT_DEPT_ID:
            weights.append(0.15)
        elif d in has_children:
            weights.append(0.5 + rng.random() * 0.5)
        else:
            weights.append(0.8 + rng.random() * 1.2)
    primaries = rng.choices(ids, weights=weights, k=len(people))
    primaries[0] = ROOT_DEPT_ID  # the boss
    # Each department's own order style: small custom orders, or DingTalk's large defaults.
    style = {d: rng.choice(("small", "medium", "large")) for d in ids}

    def order_in(dept: int) -> int:
        s = style[dept]
        if s == "small":
            return rng.randrange(1, 1000)
        if s == "medium":
            return rng.randrange(1000, 10**7)
        return rng.randrange(10**17, 10**18)

    for user, dept in zip(people, primaries, strict=True):
        user.memberships = [Membership(dept, order_in(dept))]
    n_multi = max(1, round(len(people) * 0.10))
    candidates = list(range(1, len(people))) or [0]
    multi = rng.sample(candidates, min(n_multi, len(candidates)))
    for k, idx in enumerate(multi):
        user = people[idx]
        extra = 2 if k == 0 or rng.random() < 0.25 else 1
        pool = [d for d in non_root if d != user.memberships[0].dept_id]
        for dept in rng.sample(pool, min(extra, len(pool))):
            user.memberships.append(Membership(dept, order_in(dept)))

    members: dict[int, list[User]] = {d: [] for d in ids}
    for user in people:
        for m in user.memberships:
            members[m.dept_id].append(user)
    heads: dict[int, list[User]] = {}
    for d in ids:
        if d == ROOT_DEPT_ID:
            heads[d] = [people[0]]
        elif members[d] and rng.random() < 0.88:
            k = 2 if len(members[d]) > 4 and rng.random() < 0.1 else 1
            heads[d] = rng.sample(members[d], k)
        else:
            heads[d] = []
        departments[d].dept_manager_userid_list = [u.userid for u in heads[d]]
        for u in heads[d]:
            headship = u.membership(d)
            assert headship is not None
            headship.leader = True
            headship.order = rng.randrange(1, 10)  # heads come first in their departments
    # Titles from the theme of the primary department; heads get a head's title.
    for user in people[1:]:
        primary = user.memberships[0]
        theme = theme_of.get(primary.dept_id) or "行政中心"
        if primary.leader:
            level = _depth(departments, primary.dept_id)
            user.title = {1: f"{_stem(theme)}总监", 2: "部门经理"}.get(level, "组长")
        elif rng.random() < 0.95:
            user.title = rng.choice(_TITLES.get(theme, _TITLES["行政中心"]))


def _depth(departments: dict[int, Department], dept_id: int) -> int:
    depth = 0
    parent = departments[dept_id].parent_id
    while parent is not None:
        depth += 1
        parent = departments[parent].parent_id
    return depth


def _pick_admins(
    rng: random.Random, people: list[User], departments: dict[int, Department]
) -> tuple[dict[str, int], dict[str, list[int]]]:
    pool = people[1:] if len(people) > 1 else people
    n_sub = min(rng.randint(2, 5), max(0, len(pool) - 1))
    chosen = rng.sample(pool, 1 + n_sub)
    admins = {chosen[0].userid: 1}
    scopes: dict[str, list[int]] = {chosen[0].userid: [ROOT_DEPT_ID]}
    non_root = [d for d in departments if d != ROOT_DEPT_ID]
    for user in chosen[1:]:
        admins[user.userid] = 2
        scope = rng.sample(non_root, min(len(non_root), rng.randint(1, 3)))
        scopes[user.userid] = sorted(scope)
    return admins, scopes


def _deactivate_some(rng: random.Random, people: list[User], admins: dict[str, int]) -> None:
    pool = [u for u in people[1:] if u.userid not in admins]
    for user in rng.sample(pool, min(len(pool), max(1, round(len(people) * 0.03)))):
        user.active = False
        user.real_authed = False
        user.avatar = ""


def _set_managers(
    rng: random.Random, people: list[User], departments: dict[int, Department]
) -> None:
    """``manager_userid`` for about 30 % of people: a head of their department or above."""
    for user in people[1:]:
        if rng.random() >= 0.3:
            continue
        dept: int | None = user.memberships[0].dept_id
        while dept is not None:
            heads = [h for h in departments[dept].dept_manager_userid_list if h != user.userid]
            if heads:
                user.manager_userid = heads[0]
                break
            dept = departments[dept].parent_id


def _fill_department_details(
    rng: random.Random, departments: dict[int, Department], users: dict[str, User]
) -> None:
    """Group chats, owners, and one hidden and one restricted department with permit lists."""
    for dept in departments.values():
        dept.create_dept_group = dept.dept_id == ROOT_DEPT_ID or rng.random() < 0.7
        dept.auto_add_user = dept.create_dept_group and rng.random() < 0.9
        dept.group_contain_sub_dept = dept.create_dept_group and rng.random() < 0.3
        dept.auto_approve_apply = rng.random() < 0.1
        if dept.create_dept_group:
            dept.dept_group_chat_id = "chat" + "".join(rng.choices("0123456789abcdef", k=32))
            if dept.dept_manager_userid_list:
                dept.org_dept_owner = dept.dept_manager_userid_list[0]
    others = sorted(d for d in departments if d != ROOT_DEPT_ID)
    if len(others) >= 3:
        hidden, restricted = rng.sample(others, 2)
        userids = sorted(users)
        departments[hidden].hide_dept = True
        departments[hidden].dept_permits = [rng.choice(others)]
        departments[hidden].user_permits = rng.sample(userids, min(2, len(userids)))
        departments[restricted].outer_dept = True
        departments[restricted].outer_permit_depts = [rng.choice(others)]
        departments[restricted].outer_permit_users = rng.sample(userids, min(1, len(userids)))


def _make_leavers(
    rng: random.Random,
    fake: Faker,
    n: int,
    anchor: int,
    departments: dict[int, Department],
    people: list[User],
    taken_ids: set[str],
    taken_mobiles: set[str],
) -> list[Leaver]:
    non_root = [d for d in departments if d != ROOT_DEPT_ID] or [ROOT_DEPT_ID]
    active = [u.userid for u in people if u.active]
    leavers = []
    for _ in range(n):
        userid = _unique(taken_ids, lambda: _userid(rng, fake))
        days_ago = rng.randrange(1, 360)
        day = anchor - days_ago * DAY_MS  # midnight Asia/Shanghai of the last work day
        leave_time = day + rng.randrange(9 * 3600, 20 * 3600) * 1000 + rng.randrange(1000)
        depts = rng.sample(non_root, min(len(non_root), 1 if rng.random() < 0.85 else 2))
        reason_type = rng.choice(list(_LEAVE_MEMOS))
        leavers.append(
            Leaver(
                userid=userid,
                name=fake.name(),
                state_code="86",
                mobile=_unique(taken_mobiles, fake.phone_number),
                leave_time=leave_time,
                leave_reason=rng.choices(LEAVE_REASONS, weights=(1, 0.5, 6, 1, 2))[0],
                last_work_day=day,
                dept_list=[LeaverDepartment(d, "") for d in depts],
                main_dept_id=depts[0],
                main_dept_name=departments[depts[0]].name,
                reason_type=reason_type,
                reason_memo=_LEAVE_MEMOS[reason_type],
                pre_status=3 if rng.random() < 0.85 else 2,
                handover_userid=rng.choice(active) if active and rng.random() < 0.7 else None,
            )
        )
    return leavers


#: Custom role groups: group name → role name → the titles whose holders get the role (an empty
#: tuple: 1–3 people drawn at random; ``("*",)``: about 8 % of everyone, so that
#: ``/topapi/role/simplelist`` needs several pages; ``None``: nobody — a role without members).
_CUSTOM_ROLES: dict[str, dict[str, tuple[str, ...] | None]] = {
    "职务": {
        "财务": ("会计", "财务经理", "税务专员", "审计专员"),
        "人事": ("HRBP", "人事专员", "招聘专员", "薪酬专员", "培训专员"),
        "出纳": ("出纳",),
        "行政": ("行政专员", "前台", "采购专员"),
    },
    "岗位": {
        "销售": ("销售代表", "销售经理", "客户经理", "大客户经理", "渠道经理", "销售助理"),
        "技术负责人": ("架构师", "技术专家"),
        "项目经理": (),
        "质检": ("质检员",),
        "内训师": ("*",),
    },
    "外部协作": {"外包对接人": None},
}
#: Most members a title-matched custom role gets (销售 excepted: all sales staff hold it).
_ROLE_MEMBER_CAP = 8


def _make_roles(
    seed: int, people: list[User], departments: dict[int, Department]
) -> list[RoleGroup]:
    """The built-in 默认 group and the custom groups, from their own RNG (so adding roles left
    every other generated value as it was). About 40 % of custom-role members get a scope of
    1–2 departments (the first 人事 member always manages two); the others manage the whole
    company (no scope)."""
    rng = random.Random(f"dingsync-roles:{seed}")
    builtin_ids = {DEFAULT_ROLE_GROUP_ID} | {rid for rid, _, _ in BUILTIN_ROLES}
    n_ids = 1 + sum(1 + len(roles) for roles in _CUSTOM_ROLES.values())
    ids = rng.sample(range(1_500_000_000, 1_999_999_999), n_ids + len(builtin_ids))
    ids = [i for i in ids if i not in builtin_ids]
    default = RoleGroup(DEFAULT_ROLE_GROUP_ID, DEFAULT_ROLE_GROUP_NAME)
    default.roles = [
        Role(rid, name, DEFAULT_ROLE_GROUP_ID, kind) for rid, name, kind in BUILTIN_ROLES
    ]
    groups = [default]
    non_root = sorted(d for d in departments if d != ROOT_DEPT_ID)
    everyone = [u.userid for u in people]
    for group_name, roles in _CUSTOM_ROLES.items():
        group = RoleGroup(ids.pop(), group_name)
        for role_name, titles in roles.items():
            role = Role(ids.pop(), role_name, group.group_id)
            if titles == ("*",):
                holders = rng.sample(everyone, max(1, round(len(everyone) * 0.08)))
            elif titles is not None:
                holders = [u.userid for u in people if titles and u.title in titles]
                if role_name != "销售":
                    holders = holders[:_ROLE_MEMBER_CAP]
                if not holders and everyone:
                    holders = rng.sample(everyone, min(len(everyone), rng.randint(1, 3)))
            else:
                holders = []
            for k, userid in enumerate(holders):
                scope: list[int] = []
                if non_root and (rng.random() < 0.4 or (role_name == "人事" and k == 0)):
                    n = 2 if role_name == "人事" and k == 0 else rng.randint(1, 2)
                    scope = sorted(rng.sample(non_root, min(n, len(non_root))))
                role.members.append(RoleMember(userid, scope))
            group.roles.append(role)
        groups.append(group)
    return groups
