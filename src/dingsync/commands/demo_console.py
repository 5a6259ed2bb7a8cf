"""The console part of ``dingsync demo``: who the one-click demo logins are, the local ``hr``
role for the demo's HR person, and the lines the demo prints about the console."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dingsync.web.options import DemoLogin, DemoLogins

#: Button labels, in the order the login page shows them.
LABELS = {
    "hr": "以 HR 身份登录",
    "employee": "以员工身份登录",
    "main_admin": "以主管理员身份登录",
    "leader": "以部门主管身份登录",
    "sub_admin": "以子管理员身份登录",
}


def pick_people(company: Any, keep: Mapping[str, str] | None = None) -> dict[str, str]:
    """One sandbox person per demo login (deterministic for a seed): the main administrator, a
    sub-administrator, a department head who is no administrator, a plain employee and
    another plain employee who gets the local ``hr`` role — all people still in the company
    (``company.users``, active). A role the company lacks is left out. ``keep``: earlier picks,
    kept while their person still fits the role; one who left (or lost the role) is replaced
    by the next who fits."""
    admins = set(company.admins)
    boss = company.boss_userid
    people = sorted(company.users.values(), key=lambda u: u.userid)
    ordinary = [u for u in people if u.active and u.userid not in admins and u.userid != boss]
    active = {u.userid for u in people if u.active}
    plain = [u.userid for u in ordinary if not any(m.leader for m in u.memberships)]
    fits: dict[str, list[str]] = {
        "employee": plain,
        "hr": plain,
        "main_admin": [str(u) for u, level in company.admins.items() if level == 1],
        "leader": [u.userid for u in ordinary if any(m.leader for m in u.memberships)],
        "sub_admin": [str(u) for u in company.sub_admin_userids],
    }
    picked: dict[str, str] = {}
    # Earlier picks that still fit keep their role first: a replacement is never taken from
    # another login (the HR person, holding the ``hr`` role, becoming the employee).
    for key, candidates in fits.items():
        kept = (keep or {}).get(key)
        if kept in candidates and kept in active and kept not in picked.values():
            picked[key] = kept
    for key, candidates in fits.items():
        free = [u for u in candidates if u in active and u not in picked.values()]
        if key not in picked and free:
            picked[key] = free[0]
    return {key: picked[key] for key in LABELS if key in picked}  # in the login page's order


def _logins(company: Any, picked: Mapping[str, str]) -> tuple[DemoLogin, ...]:
    return tuple(
        DemoLogin(key, LABELS[key], picked[key], company.users[picked[key]].name)
        for key in LABELS
        if key in picked
    )


def demo_logins(sandbox_url: str, company: Any, engine: Any, corp_id: str) -> DemoLogins:
    """The demo logins for the sandbox at ``sandbox_url``; grants the local ``hr`` role to the
    demo's HR person in the database (idempotent). The logins follow the company as the
    sandbox changes it (``DemoLogins.current``): a person who left is replaced by another
    still in the company (a new HR person gets the ``hr`` role)."""
    from dingsync.store import repo_local_access

    picks: dict[str, str] = {}

    def current() -> tuple[DemoLogin, ...]:
        now = pick_people(company, picks)
        if "hr" in now and now["hr"] != picks.get("hr"):
            with engine.begin() as conn:
                repo_local_access.grant_role(conn, corp_id, now["hr"], "hr", granted_by="demo")
        picks.clear()
        picks.update(now)
        return _logins(company, now)

    return DemoLogins(sandbox_url, current(), refresh=current)


def company_demo_logins(
    sandbox_url: str, companies: list[tuple[str, str | None, str, Any]], engine: Any
) -> DemoLogins:
    """The demo logins of several companies (``dingsync demo --isv``): per company
    ``(corp_id, name, control URL, company truth)`` its people of each role (keys
    ``<role>-<corpId>``), each logging in as the micro-app does in that company (a code from
    ``{control URL}/authcode``); each company's HR person gets the local ``hr`` role."""
    from dingsync.store import repo_local_access

    people: list[DemoLogin] = []
    for corp_id, name, control_url, company in companies:
        picked = pick_people(company)
        if "hr" in picked:
            with engine.begin() as conn:
                repo_local_access.grant_role(conn, corp_id, picked["hr"], "hr", granted_by="demo")
        for key in LABELS:
            if key in picked:
                people.append(
                    DemoLogin(
                        f"{key}-{corp_id}",
                        LABELS[key],
                        picked[key],
                        company.users[picked[key]].name,
                        corp_id=corp_id,
                        corp_name=name or corp_id,
                        authcode_url=f"{control_url.rstrip('/')}/authcode",
                    )
                )
    return DemoLogins(sandbox_url, tuple(people))


def console_lines(url: str, demo: DemoLogins) -> list[str]:
    """What the demo prints about the console at ``url`` (``http://127.0.0.1:PORT``)."""
    lines = [
        f"Console: {url}/console — open it and click one of the demo logins (sandbox only):",
    ]
    for p in demo.people:
        lines.append(f"  {p.label}: {p.name} ({p.userid})")
    if demo.people:
        someone = demo.people[0].userid
        lines.append(
            "Inside 'DingTalk' (the micro-app's 免登, the sandbox's client emulator): "
            f"{url}/console/login?dd_user={someone}"
        )
    return lines
