"""The company's model: departments, people and their memberships, leavers, roles and role
groups, and :class:`Company` with its derived views and truth.

Field names follow DingTalk's own vocabulary (``/topapi/v2/department/get``,
``/topapi/v2/user/get``, the 智能人事 dimission APIs), so ``Department.order`` is the wire
``order``, ``User.hired_date`` the wire ``hired_date`` (epoch **ms**) and so on. Optional fields
that DingTalk omits when unset are ``None`` here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ROOT_DEPT_ID = 1

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
