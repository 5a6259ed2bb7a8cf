"""Deterministic generation of the reports world from ``(seed, company, days, anchor_ms)``
(:func:`generate_reports`); see the package docstring for what it draws.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import TYPE_CHECKING

from dingsync.sandbox.reports.rules import DAILY, MONTHLY, StatRule
from dingsync.sandbox.reports.texts import COMMENTS, TEMPLATES, field_value, long_text
from dingsync.sandbox.reports.world import (
    HOUR_MS,
    LIST_TEXT_MAX,
    Comment,
    Report,
    ReportsWorld,
    Template,
    TemplateField,
    period_of,
)
from dingsync.sandbox.workdays import history_dates, is_rest_day, public_holidays
from dingsync.timeutil import (
    DAY_MS,
    WIRE_TZ,
    day_start_ms,
    local_date,
)

if TYPE_CHECKING:
    from dingsync.sandbox.company import Company, User


def _report_code(seed: int, name: str) -> str:
    return hashlib.md5(f"report-template:{seed}:{name}".encode()).hexdigest()


def _report_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(68):017x}"


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
    # the attendance calendar's working days: no 日报 on a weekend or a public holiday
    holidays = public_holidays(history_dates(local_date(anchor_ms, WIRE_TZ), days))
    working = [
        start_ms + i * DAY_MS
        for i in range(days)
        if not is_rest_day(local_date(start_ms + i * DAY_MS, WIRE_TZ), holidays)
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
            first_day = max(start_ms, day_start_ms(local_date(user.hired_date, WIRE_TZ), WIRE_TZ))
        hired_day[user.userid] = local_date(first_day, WIRE_TZ).isoformat()
        dept_names = ",".join(company.departments[m.dept_id].name for m in user.memberships)
        peers = peers_of(company, user, members)
        for tpl_name in mine:
            tpl = templates[tpl_name]
            own: list[Report] = []
            for day_ms in working:
                if day_ms < first_day:
                    continue
                weekday = local_date(day_ms, WIRE_TZ).weekday()
                if tpl.weekly and weekday != 4:
                    continue
                if urng.random() < skip_p:
                    continue
                own.append(_make(urng, tpl, user, dept_names, peers, day_ms, anchor_ms))
            if not own and any(d >= first_day for d in working):
                days_ok = [
                    d
                    for d in working
                    if d >= first_day and (not tpl.weekly or local_date(d, WIRE_TZ).weekday() == 4)
                ]
                if days_ok:
                    own.append(_make(urng, tpl, user, dept_names, peers, days_ok[-1], anchor_ms))
            if own:
                writers[tpl_name].append(user.userid)
            reports.extend(own)
    rules = {"日报": daily_rule(seed, company), "项目周报": monthly_rule(seed, company, writers)}
    return ReportsWorld(
        templates, reports, writers, start_ms, anchor_ms, hired_day=hired_day, rules=rules
    )


def daily_rule(seed: int, company: Company) -> StatRule:
    """The 日报's statistics rule: due Monday–Friday, submit window 17:00 to 10:00 the next
    morning, for every active person outside the sales and market departments (so the one in
    ten of them who writes 销售日报 instead is counted missing, as DingTalk would)."""
    scope = sorted(
        u.userid for u in company.users.values() if u.active and not _is_sales(company, u)
    )
    return StatRule(
        remind_id=900_000 + seed % 100_000,
        template="日报",
        period_type=DAILY,
        starts=tuple(f"{n} 17:00" for n in range(1, 6)),
        ends=tuple(f"{n + 1} 10:00" for n in range(1, 6)),
        userids=tuple(scope),
        creator_id=company.main_admin_userid,
    )


def monthly_rule(seed: int, company: Company, writers: dict[str, list[str]]) -> StatRule:
    """项目周报's statistics rule, a monthly one (``periodType`` 3): due on the 1st, 8th, 15th
    and 22nd of every month, each window from 09:00 that day to 18:00 four days later, for the
    people who write 项目周报 (written on Fridays, so on time, late and missing all occur)."""
    days = (1, 8, 15, 22)
    return StatRule(
        remind_id=910_000 + seed % 100_000,
        template="项目周报",
        period_type=MONTHLY,
        starts=tuple(f"{d} 09:00" for d in days),
        ends=tuple(f"{d + 4} 18:00" for d in days),
        userids=tuple(sorted(writers.get("项目周报", []))),
        creator_id=company.main_admin_userid,
    )


def peers_of(
    company: Company, user: User, members: dict[int, list[str]] | None = None
) -> list[str]:
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
        value = field_value(rng, tpl.name, f.field_name)
        if f.field_name == "备注" and rng.random() < 0.3:
            continue  # an optional field left out entirely
        contents.append({"key": f.field_name, "sort": str(f.sort), "type": "1", "value": value})
    # About one 周报 in eight has a summary longer than report/list serves (cut at 1,000).
    full_texts: dict[str, str] = {}
    lrng = random.Random(f"long:{user.userid}:{tpl.name}:{created}")
    if tpl.name == "周报" and lrng.random() < 0.125:
        for c in contents:
            if c["key"] == "本周工作总结":
                full = long_text(lrng, LIST_TEXT_MAX + lrng.randrange(50, 800))
                full_texts[c["key"]] = full
                c["value"] = full[:LIST_TEXT_MAX]
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
        Comment(r, rng.choice(COMMENTS), created + rng.randrange(HOUR_MS, 30 * HOUR_MS))
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
        full_texts=full_texts,
    )
