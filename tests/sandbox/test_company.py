"""The generated company: determinism and the shape a realistic DingTalk org has."""

from __future__ import annotations

import json

import pytest

from dingsync.sandbox import Company, generate_company
from dingsync.sandbox.company import LEAVE_REASONS, ROOT_DEPT_ID
from dingsync.timeutil import DAY_MS

ANCHOR = 1_767_196_800_000  # 2026-01-01 00:00 Asia/Shanghai, epoch ms


@pytest.fixture(scope="module")
def company() -> Company:
    return generate_company(7, 300, anchor_ms=ANCHOR)


def test_same_seed_same_company() -> None:
    a = generate_company(11, 250, anchor_ms=ANCHOR)
    b = generate_company(11, 250, anchor_ms=ANCHOR)
    assert a == b
    assert a.to_dict() == b.to_dict()
    c = generate_company(12, 250, anchor_ms=ANCHOR)
    assert c.corp_name != a.corp_name or set(c.users) != set(a.users)


def test_root_and_tree(company: Company) -> None:
    root = company.departments[ROOT_DEPT_ID]
    assert root.parent_id is None
    assert root.name == company.corp_name
    assert company.max_depth() >= 4
    # about one department per 12 people
    assert 300 / 12 - 5 <= len(company.departments) <= 300 / 12 + 5
    for dept in company.departments.values():
        if dept.dept_id != ROOT_DEPT_ID:
            assert dept.parent_id in company.departments
            assert dept.dept_id > 1_000_000
        siblings = [d.name for d in company.children(dept.dept_id)]
        assert len(siblings) == len(set(siblings)), "sibling names are unique"


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_some_child_has_a_smaller_id_than_its_parent(seed: int) -> None:
    c = generate_company(seed, 60, anchor_ms=ANCHOR)
    assert any(
        d.dept_id < d.parent_id
        for d in c.departments.values()
        if d.parent_id not in (None, ROOT_DEPT_ID)
    )
    assert c.max_depth() >= 4


@pytest.mark.parametrize("users", [1, 5, 40, 300])
def test_small_companies_keep_the_invariants(users: int) -> None:
    c = generate_company(3, users, anchor_ms=ANCHOR)
    assert len(c.users) == users
    assert c.max_depth() >= 4
    assert len(c.leavers) >= 2
    assert sum(1 for level in c.admins.values() if level == 1) == 1
    assert sum(1 for u in c.users.values() if u.boss) == 1


def test_multi_department_people(company: Company) -> None:
    counts = [len(u.memberships) for u in company.users.values()]
    multi = sum(1 for n in counts if n > 1)
    assert 0.08 * len(counts) <= multi <= 0.12 * len(counts)
    assert 3 in counts
    assert max(counts) == 3
    for user in company.users.values():
        ids = user.dept_id_list
        assert len(ids) == len(set(ids))
        assert all(d in company.departments for d in ids)


def test_leaders_match_both_ways(company: Company) -> None:
    for dept in company.departments.values():
        for uid in dept.dept_manager_userid_list:
            m = company.users[uid].membership(dept.dept_id)
            assert m is not None and m.leader
    for user in company.users.values():
        for m in user.memberships:
            if m.leader:
                assert user.userid in company.departments[m.dept_id].dept_manager_userid_list
    with_heads = sum(1 for d in company.departments.values() if d.dept_manager_userid_list)
    assert with_heads >= len(company.departments) * 0.6


def test_boss_and_administrators(company: Company) -> None:
    bosses = [u for u in company.users.values() if u.boss]
    assert [b.userid for b in bosses] == [company.boss_userid]
    main = [u for u, level in company.admins.items() if level == 1]
    subs = [u for u, level in company.admins.items() if level == 2]
    assert len(main) == 1 and 2 <= len(subs) <= 5
    assert company.main_admin_userid != company.boss_userid
    assert company.admin_scopes[main[0]] == [ROOT_DEPT_ID]
    for uid in subs:
        scope = company.admin_scopes[uid]
        assert scope and all(d in company.departments for d in scope)
    for user in company.users.values():
        assert user.admin == (user.userid in company.admins)
    assert company.sys_level(company.boss_userid) == 100
    assert company.sys_level(main[0]) == 1


def test_people_fields(company: Company) -> None:
    users = list(company.users.values())
    assert len({u.unionid for u in users}) == len(users)
    assert len({u.mobile for u in users}) == len(users)
    assert all(len(u.userid) <= 64 for u in users)
    inactive = [u for u in users if not u.active]
    assert 1 <= len(inactive) <= 0.06 * len(users)
    assert any(u.avatar == "" for u in users) and any(u.avatar for u in users)
    assert any(u.email for u in users) and any(u.email is None for u in users)
    assert any(u.manager_userid for u in users)
    for u in users:
        if u.hired_date is not None:
            # epoch milliseconds, before the anchor
            assert 1_300_000_000_000 < u.hired_date < ANCHOR
        if u.extension is not None:
            assert isinstance(json.loads(u.extension), dict)
        if u.manager_userid:
            assert u.manager_userid in company.users
    assert any(u.extension for u in users)


def test_leavers_are_not_in_the_directory(company: Company) -> None:
    assert len(company.leavers) >= 2
    for lv in company.leavers.values():
        assert lv.userid not in company.users
        assert ANCHOR - 361 * DAY_MS <= lv.leave_time <= ANCHOR
        assert lv.leave_reason in LEAVE_REASONS
        assert lv.dept_list and lv.main_dept_id == lv.dept_list[0].dept_id
        assert all(d.dept_path for d in lv.dept_list)
        assert lv.status == 2


def test_truth_counts(company: Company) -> None:
    counts = company.truth_counts()
    assert counts["users"] == 300
    assert counts["active_users"] + counts["inactive_users"] == 300
    assert counts["memberships"] == sum(len(u.memberships) for u in company.users.values())
    assert counts["admins"] == counts["sub_admins"] + 1
    data = company.to_dict()
    assert len(data["departments"]) == counts["departments"]
    assert {a["userid"] for a in data["admins"]} == set(company.admins)


def test_five_thousand_people() -> None:
    c = generate_company(42, 5000, anchor_ms=ANCHOR)
    assert len(c.users) == 5000
    assert 380 <= len(c.departments) <= 460


def test_only_leave_times_follow_the_anchor() -> None:
    a = generate_company(5, 120, anchor_ms=ANCHOR)
    b = generate_company(5, 120, anchor_ms=ANCHOR + 90 * DAY_MS)
    assert a.users == b.users and a.departments == b.departments and a.admins == b.admins
    assert [lv.userid for lv in a.leavers.values()] == [lv.userid for lv in b.leavers.values()]
    for lv in a.leavers.values():
        assert b.leavers[lv.userid].leave_time == lv.leave_time + 90 * DAY_MS


def test_determinism_does_not_depend_on_hash_seed() -> None:
    import hashlib
    import subprocess
    import sys

    script = (
        "import hashlib, json; from dingsync.sandbox import generate_company; "
        f"c = generate_company(9, 150, anchor_ms={ANCHOR}); "
        "print(hashlib.sha256(json.dumps(c.to_dict(), ensure_ascii=False, sort_keys=True)"
        ".encode()).hexdigest())"
    )
    here = generate_company(9, 150, anchor_ms=ANCHOR).to_dict()
    digest = hashlib.sha256(
        json.dumps(here, ensure_ascii=False, sort_keys=True).encode()
    ).hexdigest()
    out = subprocess.run(
        [sys.executable, "-c", script],
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == digest
