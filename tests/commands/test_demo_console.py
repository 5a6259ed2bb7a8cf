"""``dingsync demo``'s console part: who the demo logins are, the local ``hr`` role it grants,
and what it prints."""

from __future__ import annotations

from dingsync.commands.demo_console import LABELS, console_lines, demo_logins, pick_people
from dingsync.sandbox import SandboxConfig
from dingsync.sandbox.state import SandboxState
from dingsync.store import db, repo_local_access


def test_demo_logins_pick_one_person_per_role_and_grant_hr(sqlite_url: str) -> None:
    company = SandboxState(SandboxConfig(seed=11, users=60, days=1)).company
    picked = pick_people(company)
    assert list(picked) == ["hr", "employee", "main_admin", "leader", "sub_admin"]
    assert picked["main_admin"] == company.main_admin_userid
    assert picked["sub_admin"] in company.sub_admin_userids
    assert any(m.leader for m in company.users[picked["leader"]].memberships)
    for key in ("hr", "employee", "leader"):
        assert picked[key] not in company.admins and picked[key] != company.boss_userid
    assert len(set(picked.values())) == 5
    assert pick_people(company) == picked  # deterministic

    engine = db.create_engine_for(sqlite_url)
    db.migrate(engine)
    demo = demo_logins("http://127.0.0.1:1", company, engine, "dingcorp")
    assert [p.key for p in demo.people] == list(LABELS)
    hr = demo.person("hr")
    assert hr is not None and hr.userid == picked["hr"] and hr.name
    with engine.connect() as conn:
        assert "hr" in repo_local_access.user_roles(conn, "dingcorp", picked["hr"])
    lines = console_lines("http://127.0.0.1:8000", demo)
    assert lines[0].startswith("Console: http://127.0.0.1:8000/console")
    assert any("以 HR 身份登录" in line and picked["hr"] in line for line in lines)
    assert lines[-1].endswith(f"/console/login?dd_user={picked['hr']}")
    engine.dispose()


def test_when_the_employee_leaves_the_hr_login_stays_hr_and_the_new_employee_is_not(
    sqlite_url: str,
) -> None:
    """The logins follow the company: when the demo's employee leaves, HR keeps its person and
    the employee login gets another plain employee, without the local ``hr`` role (the HR
    person became the "employee" — a 以员工身份登录 with HR's rights — and another person got
    the ``hr`` role)."""
    company = SandboxState(SandboxConfig(seed=11, users=60, days=1)).company
    engine = db.create_engine_for(sqlite_url)
    db.migrate(engine)
    demo = demo_logins("http://127.0.0.1:1", company, engine, "dingcorp")
    before = {p.key: p.userid for p in demo.current()}
    company.users.pop(before["employee"])  # what /sandbox/mutate/contacts/leave does
    after = {p.key: p.userid for p in demo.current()}
    assert after["hr"] == before["hr"]
    assert after["employee"] not in (before["employee"], before["hr"])
    assert {k: v for k, v in after.items() if k != "employee"} == {
        k: v for k, v in before.items() if k != "employee"
    }
    with engine.connect() as conn:
        assert repo_local_access.user_roles(conn, "dingcorp", after["employee"]) == []
        assert "hr" in repo_local_access.user_roles(conn, "dingcorp", after["hr"])
    engine.dispose()
