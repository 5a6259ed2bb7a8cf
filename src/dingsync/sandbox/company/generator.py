"""Deterministic generation of the company (:func:`generate_company`): the department tree,
people placed in it, leaders, administrators, deactivated people and leavers.

Pure generation — no HTTP, no clock: deterministic for ``(seed, users, corp_name, anchor_ms)``.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from faker import Faker

from dingsync.sandbox.company.model import (
    LEAVE_REASONS,
    ROOT_DEPT_ID,
    Company,
    Department,
    Leaver,
    LeaverDepartment,
    Membership,
    User,
)
from dingsync.sandbox.company.names import (
    ALNUM,
    CN_DIGITS,
    HOBBIES,
    LEAVE_MEMOS,
    REGIONS,
    REMARKS,
    TEAMS,
    THEMES,
    TITLES,
    cn_number,
    name_stem,
)
from dingsync.sandbox.company.roles import make_roles
from dingsync.timeutil import DAY_MS, WIRE_TZ, day_start_ms, today


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
    return day_start_ms(today(WIRE_TZ, now=now or datetime.now(UTC)), WIRE_TZ)


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
    company.role_groups = make_roles(seed, people, departments)
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
            pool = [n for n in THEMES[parent.theme] if n not in taken]
            if pool:
                return rng.choice(pool)
            return _fresh(taken, lambda k: f"{name_stem(parent.name)}{cn_number(k)}部")
        if parent.level == 2:
            if parent.name in REGIONS:
                pool = [f"{c}分部" for c in REGIONS[parent.name] if f"{c}分部" not in taken]
            else:
                pool = [n for n in TEAMS.get(parent.name, []) if n not in taken]
            if pool:
                return rng.choice(pool)
            stem = name_stem(parent.name)
            if stem[-1] in CN_DIGITS:
                stem += "部"  # 产品二部 → 产品二部一组, not 产品二一组
            return _fresh(taken, lambda k: f"{stem}{cn_number(k)}组")
        if parent.name.endswith("分部"):
            return _fresh(taken, lambda k: f"销售{cn_number(k)}组")
        if parent.level == 3:
            return _fresh(taken, lambda k: f"第{cn_number(k)}小组")
        return _fresh(taken, lambda k: f"专项{cn_number(k)}组")

    themes = list(THEMES)
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
    first_hire = day_start_ms(date(2012, 1, 1), WIRE_TZ)
    # Hire dates do not depend on the anchor (only leave times do), so a seed gives the same
    # people on any day; they are clamped to a week before the anchor.
    last_hire = day_start_ms(date(2025, 6, 30), WIRE_TZ)
    hire_days = (last_hire - first_hire) // DAY_MS
    job_numbers = rng.sample(range(10001, 10001 + max(n * 3, 100)), n)
    for i in range(n):
        userid = _unique(userids, lambda: _userid(rng, fake))
        mobile = _unique(mobiles, fake.phone_number)
        unionid = _unique(unionids, lambda: "".join(rng.choices(ALNUM, k=22)) + "iEiE")
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
                + "".join(rng.choices(ALNUM, k=22))
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
            user.remark = rng.choice(REMARKS)
        if rng.random() < 0.15:
            ext = {
                "爱好": rng.choice(HOBBIES),
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
            user.title = {1: f"{name_stem(theme)}总监", 2: "部门经理"}.get(level, "组长")
        elif rng.random() < 0.95:
            user.title = rng.choice(TITLES.get(theme, TITLES["行政中心"]))


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
        reason_type = rng.choice(list(LEAVE_MEMOS))
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
                reason_memo=LEAVE_MEMOS[reason_type],
                pre_status=3 if rng.random() < 0.85 else 2,
                handover_userid=rng.choice(active) if active and rng.random() < 0.7 else None,
            )
        )
    return leavers
