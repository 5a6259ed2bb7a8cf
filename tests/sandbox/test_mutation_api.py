"""The sandbox's mutation API (``POST /sandbox/mutate/<area>/<kind>``) over loopback HTTP: bodies
are validated per kind (400 ``errcode`` 400002), unknown ids are DingTalk-like 404s in every
area, a change that cannot apply is a 409, ``random`` caps ``n`` and keeps the sandbox
answering while it runs, a departure is dated from Asia/Shanghai midnight, and approval
mutations announce task events as events.md §2.3 describes them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from dingsync.sandbox import SandboxConfig, SandboxServer

GMT8 = timezone(timedelta(hours=8))
DAY_MS = 86_400_000


@pytest.fixture
def sb() -> Iterator[SandboxServer]:  # per test: mutations change the company
    with SandboxServer(SandboxConfig(seed=23, users=60, days=7, qps_limit=None)) as server:
        yield server


def post(sb: SandboxServer, path: str, body: Any = None, **kw: Any) -> httpx.Response:
    if body is not None:
        kw["json"] = body
    return httpx.post(f"{sb.base_url}{path}", timeout=60, **kw)


def emitted(sb: SandboxServer) -> list[dict[str, Any]]:
    return list(httpx.get(f"{sb.base_url}/sandbox/events/emitted", timeout=30).json())


def assert_error(resp: httpx.Response, status: int, errcode: int, *words: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["errcode"] == errcode and body["errmsg"], body
    for word in words:
        assert word in body["error"], body


# ---------------------------------------------------------------------------------------------
# 400: malformed bodies
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("hire", {"dept_id": "abc"}, "dept_id"),
        ("hire", {"dept_id": True}, "dept_id"),
        ("hire", {"name": "   "}, "name"),
        ("move", {"to_dept_id": 1.5}, "to_dept_id"),
        ("move", {"userid": 42}, "userid"),
        ("modify", {"title": ""}, "title"),
        ("leave", {"userid": ""}, "userid"),
        ("rejoin", {"userid": ["x"]}, "userid"),
        ("create_department", {"name": ""}, "name"),
        ("create_department", {"parent_id": -1}, "parent_id"),
        ("admin_add", {"sys_level": 3}, "sys_level"),
        ("admin_add", {"dept_ids": "2"}, "dept_ids"),
        ("admin_add", {"dept_ids": []}, "dept_ids"),
        ("admin_remove", {"user_id": "typo"}, "user_id"),
        ("random", {"n": "abc"}, "n"),
        ("random", {"n": 0}, "n"),
        ("random", {"n": 100_000}, "n"),
        ("random", {"n": 2.5}, "n"),
        ("random", {"kinds": "hire"}, "kinds"),
        ("random", {"kinds": ["hire", "explode"]}, "kinds"),
        ("random", {"kinds": []}, "kinds"),
    ],
)
def test_bad_contacts_fields_are_400_and_change_nothing(
    sb: SandboxServer, kind: str, body: dict[str, Any], field: str
) -> None:
    users, depts, n_events = len(sb.company.users), len(sb.company.departments), len(emitted(sb))
    resp = post(sb, f"/sandbox/mutate/contacts/{kind}", body)
    assert_error(resp, 400, 400002, field)
    assert resp.json()["errmsg"].startswith("无效的参数")
    assert (len(sb.company.users), len(sb.company.departments)) == (users, depts)
    assert len(emitted(sb)) == n_events


@pytest.mark.parametrize(
    "path",
    [
        "/sandbox/mutate/contacts/hire",
        "/sandbox/mutate/contacts/random",
        "/sandbox/mutate/approvals/submit",
        "/sandbox/mutate/attendance/punch",
        "/sandbox/mutate/roles/add_role",
    ],
)
@pytest.mark.parametrize("content", [b"not json", b"[1, 2]", b'"hire"', b"{"])
def test_a_body_that_is_not_a_json_object_is_400(
    sb: SandboxServer, path: str, content: bytes
) -> None:
    before = len(emitted(sb))
    resp = post(sb, path, content=content, headers={"content-type": "application/json"})
    assert_error(resp, 400, 400002, "JSON object")
    assert len(emitted(sb)) == before


def test_an_empty_body_is_an_empty_object(sb: SandboxServer) -> None:
    resp = post(sb, "/sandbox/mutate/contacts/hire")  # no body at all: every field drawn
    assert resp.status_code == 200, resp.text
    assert resp.json()["event_type"] == "user_add_org"
    assert resp.json()["userId"][0] in sb.company.users


def test_bad_approval_punch_and_role_fields_are_400(sb: SandboxServer) -> None:
    assert_error(post(sb, "/sandbox/mutate/approvals/approve", {}), 400, 400002, "process_inst")
    assert_error(
        post(sb, "/sandbox/mutate/approvals/refuse", {"process_instance_id": 7}), 400, 400002
    )
    assert_error(
        post(sb, "/sandbox/mutate/approvals/submit", {"originator_userid": ""}), 400, 400002
    )
    assert_error(
        post(sb, "/sandbox/mutate/approvals/terminate", {"process_instance_id": "x", "why": 1}),
        400,
        400002,
        "why",
    )
    assert_error(post(sb, "/sandbox/mutate/attendance/punch", {"userid": 5}), 400, 400002)
    assert_error(
        post(sb, "/sandbox/mutate/attendance/punch", {"check_by_user": "yes"}), 400, 400002
    )
    assert_error(post(sb, "/sandbox/mutate/roles/add_role", {"name": ""}), 400, 400002, "name")
    assert_error(post(sb, "/sandbox/mutate/roles/remove_role", {"role_id": "x"}), 400, 400002)
    assert_error(
        post(sb, "/sandbox/mutate/roles/add_member", {"role_id": 1, "userid": "u", "dept_ids": 3}),
        400,
        400002,
        "dept_ids",
    )
    assert_error(post(sb, "/sandbox/mutate/roles/explode", {}), 400, 400002, "explode")


# ---------------------------------------------------------------------------------------------
# 404: unknown ids, DingTalk-like in every area
# ---------------------------------------------------------------------------------------------
def test_unknown_ids_are_dingtalk_like_404s_in_every_area(sb: SandboxServer) -> None:
    contacts = "/sandbox/mutate/contacts"
    for kind in ("move", "modify", "leave", "rejoin", "admin_add", "admin_remove"):
        assert_error(post(sb, f"{contacts}/{kind}", {"userid": "nobody"}), 404, 60121, "nobody")
    assert_error(post(sb, f"{contacts}/hire", {"dept_id": 987654}), 404, 60003, "dept_id")
    assert_error(post(sb, f"{contacts}/move", {"to_dept_id": 987654}), 404, 60003)
    assert_error(post(sb, f"{contacts}/create_department", {"parent_id": 987654}), 404, 60003)
    assert_error(post(sb, f"{contacts}/admin_add", {"dept_ids": [2, 987654]}), 404, 60003)

    approvals = "/sandbox/mutate/approvals"
    for action in ("approve", "refuse", "terminate", "delete"):
        resp = post(sb, f"{approvals}/{action}", {"process_instance_id": "no-such-instance"})
        assert_error(resp, 404, 820005, "no-such-instance")
        assert set(resp.json()) == {"errcode", "errmsg", "error"}
    assert_error(post(sb, f"{approvals}/submit", {"process_code": "PROC-NOPE"}), 404, 830001)
    assert_error(post(sb, f"{approvals}/submit", {"originator_userid": "nobody"}), 404, 60121)

    assert_error(post(sb, "/sandbox/mutate/attendance/punch", {"userid": "nobody"}), 404, 60121)
    roles = "/sandbox/mutate/roles"
    assert_error(post(sb, f"{roles}/remove_role", {"role_id": 7}), 404, 33011)
    custom = next(r.role_id for g in sb.company.role_groups for r in g.roles if r.builtin is None)
    assert_error(
        post(sb, f"{roles}/add_member", {"role_id": custom, "userid": "nobody"}), 404, 60121
    )
    assert_error(
        post(sb, f"{roles}/remove_member", {"role_id": custom, "userid": "nobody"}), 404, 60121
    )


# ---------------------------------------------------------------------------------------------
# 409: a mutation that cannot apply to that entity now
# ---------------------------------------------------------------------------------------------
def test_mutations_that_cannot_apply_are_409(sb: SandboxServer) -> None:
    company = sb.company
    contacts = "/sandbox/mutate/contacts"
    employed = sorted(company.users)[0]
    assert_error(post(sb, f"{contacts}/rejoin", {"userid": employed}), 409, 400002, employed)
    assert_error(post(sb, f"{contacts}/hire", {"userid": employed}), 409, 400002, "employed")
    leaver = sorted(u for u in company.leavers if u not in company.users)[0]
    assert_error(post(sb, f"{contacts}/hire", {"userid": leaver}), 409, 400002, "rejoin")
    assert post(sb, f"{contacts}/rejoin", {"userid": leaver}).status_code == 200
    assert leaver in company.users
    not_admin = next(u for u in sorted(company.users) if u not in company.admins)
    assert_error(post(sb, f"{contacts}/admin_remove", {"userid": not_admin}), 409, 400002)
    member = next(
        u
        for u in sorted(company.users.values(), key=lambda u: u.userid)
        if u.memberships and not any(m.leader for m in u.memberships)
    )
    here = member.memberships[0].dept_id
    resp = post(sb, f"{contacts}/move", {"userid": member.userid, "to_dept_id": here})
    assert_error(resp, 409, 400002, "already a member")
    sibling = next(d for d in company.departments.values() if d.parent_id == 1)
    resp = post(sb, f"{contacts}/create_department", {"parent_id": 1, "name": sibling.name})
    assert_error(resp, 409, 400002, sibling.name)

    approvals = "/sandbox/mutate/approvals"
    pid = post(sb, f"{approvals}/submit", {}).json()["process_instance_id"]
    assert post(sb, f"{approvals}/refuse", {"process_instance_id": pid}).status_code == 200
    for action in ("approve", "refuse", "terminate"):
        resp = post(sb, f"{approvals}/{action}", {"process_instance_id": pid})
        assert_error(resp, 409, 820005, "COMPLETED")
        assert resp.json()["errmsg"] == "审批单状态异常"

    inactive = next((u for u in company.users.values() if not u.active), None)
    if inactive is not None:
        resp = post(sb, "/sandbox/mutate/attendance/punch", {"userid": inactive.userid})
        assert_error(resp, 409, 400002, "activated")

    roles = "/sandbox/mutate/roles"
    builtin = next(r.role_id for g in company.role_groups for r in g.roles if r.builtin)
    assert_error(post(sb, f"{roles}/remove_role", {"role_id": builtin}), 409, 400002, "built-in")
    made = post(sb, f"{roles}/add_role", {"name": "值班员", "group_name": "岗位"})
    assert made.status_code == 200, made.text
    assert_error(
        post(sb, f"{roles}/add_role", {"name": "值班员", "group_name": "岗位"}), 409, 400002
    )
    resp = post(
        sb, f"{roles}/remove_member", {"role_id": made.json()["role_id"], "userid": employed}
    )
    assert_error(resp, 409, 400002, "does not hold")


# ---------------------------------------------------------------------------------------------
# random
# ---------------------------------------------------------------------------------------------
def test_random_makes_n_changes_and_the_sandbox_answers_meanwhile(sb: SandboxServer) -> None:
    before = int(sb.stats()["events"].get("events_emitted", 0))
    answer: dict[str, Any] = {}

    def run() -> None:
        answer["resp"] = post(sb, "/sandbox/mutate/contacts/random", {"n": 1000})

    worker = threading.Thread(target=run)
    seen: list[int] = []
    with httpx.Client(base_url=sb.base_url, timeout=60) as http:
        worker.start()
        while worker.is_alive():
            stats = http.get("/sandbox/stats").json()
            seen.append(int(stats["events"].get("events_emitted", 0)))
    worker.join()
    resp = answer["resp"]
    assert resp.status_code == 200, resp.text
    made = len(resp.json()["events"])
    assert made > 900  # a few draws may find nothing to change
    assert int(sb.stats()["events"]["events_emitted"]) == before + made
    # the stats were answered while the mutations were being made, not only before or after
    assert any(before < n < before + made for n in seen), seen[:5] + seen[-5:]
    kinds = {e["event_type"] for e in resp.json()["events"]}
    assert kinds <= {"user_add_org", "user_modify_org", "user_leave_org", "org_dept_create"}

    admins = post(sb, "/sandbox/mutate/contacts/random", {"n": 3, "kinds": ["admin_add"]})
    assert admins.status_code == 200, admins.text
    assert [e["event_type"] for e in admins.json()["events"]] == ["org_admin_add"] * 3


# ---------------------------------------------------------------------------------------------
# leave: Asia/Shanghai midnight
# ---------------------------------------------------------------------------------------------
def test_leave_dates_the_last_work_day_from_shanghai_midnight(sb: SandboxServer) -> None:
    # 01:30 in Shanghai is 17:30 UTC the day before: UTC midnight would be a day early
    now = datetime.fromtimestamp(sb.clock.now(), UTC)
    target = now.replace(hour=17, minute=30, second=0, microsecond=0)
    if target <= now:
        target += timedelta(days=1)
    sb.clock.advance((target - now).total_seconds())
    leaving = next(
        u.userid
        for u in sorted(sb.company.users.values(), key=lambda u: u.userid)
        if u.userid not in sb.company.admins
    )
    resp = post(sb, "/sandbox/mutate/contacts/leave", {"userid": leaving})
    assert resp.status_code == 200, resp.text
    leaver = sb.company.leavers[leaving]
    local_day = datetime.fromtimestamp(leaver.leave_time / 1000, GMT8).date()
    midnight = datetime(local_day.year, local_day.month, local_day.day, tzinfo=GMT8)
    assert leaver.last_work_day == int(midnight.timestamp() * 1000)
    assert leaver.last_work_day % DAY_MS == DAY_MS - 8 * 3_600_000  # 16:00 UTC, not 00:00

    with httpx.Client(base_url=sb.base_url, timeout=30) as http:
        app = sb.app
        token = http.get(
            "/gettoken", params={"appkey": app.app_key, "appsecret": app.app_secret}
        ).json()["access_token"]
        served = http.post(
            "/topapi/smartwork/hrm/employee/listdimission",
            params={"access_token": token},
            json={"userid_list": leaving},
        ).json()
    assert served["result"][0]["last_work_day"] == leaver.last_work_day


# ---------------------------------------------------------------------------------------------
# approvals: instance and task events (events.md §2.3)
# ---------------------------------------------------------------------------------------------
COMMON = {"processInstanceId", "processCode", "title", "url", "businessId", "bizCategoryId"}


def test_approval_mutations_announce_task_events(sb: SandboxServer) -> None:
    approvals = "/sandbox/mutate/approvals"
    area = sb.state.areas["approvals"]
    # a template whose instances go through two approvers
    multi = None
    for originator in sorted(sb.company.users)[:30]:
        made = post(sb, f"{approvals}/submit", {"originator_userid": originator}).json()
        inst = area.world.instances[made["process_instance_id"]]
        if len(inst.tasks) >= 2:
            multi = made
            break
        post(sb, f"{approvals}/terminate", {"process_instance_id": made["process_instance_id"]})
    assert multi is not None, "no two-approver instance was submitted"
    pid = multi["process_instance_id"]
    inst = area.world.instances[pid]
    first, second = inst.tasks[0], inst.tasks[1]

    start, task_start = multi["events"]
    assert start["event_type"] == "bpms_instance_change" and start["type"] == "start"
    assert start["staffId"] == inst.originator_userid and "taskId" not in start
    assert task_start["event_type"] == "bpms_task_change" and task_start["type"] == "start"
    assert task_start["staffId"] == first["userid"] and task_start["taskId"] == first["taskid"]
    for ev in (start, task_start):
        assert COMMON <= set(ev) and ev["processInstanceId"] == pid
        assert ev["businessId"] == inst.business_id and ev["url"].startswith("https://")
        assert "result" not in ev and "finishTime" not in ev

    step = post(sb, f"{approvals}/approve", {"process_instance_id": pid, "remark": "同意，尽快"})
    assert step.status_code == 200, step.text
    done, nxt = step.json()["events"][:2]
    assert (done["event_type"], done["type"], done["result"]) == (
        "bpms_task_change",
        "finish",
        "agree",
    )
    assert done["staffId"] == first["userid"] and done["taskId"] == first["taskid"]
    assert done["remark"] == "同意，尽快" and isinstance(done["finishTime"], int)
    assert (nxt["event_type"], nxt["type"]) == ("bpms_task_change", "start")
    assert nxt["staffId"] == second["userid"] and nxt["taskId"] == second["taskid"]
    assert [e["event_id"] for e in emitted(sb)[-2:]] == [done["event_id"], nxt["event_id"]]

    last = post(sb, f"{approvals}/refuse", {"process_instance_id": pid}).json()
    kinds = [(e["event_type"], e["type"], e.get("result")) for e in last["events"]]
    assert kinds == [  # a refusal ends the instance whatever approvers remain
        ("bpms_task_change", "finish", "refuse"),
        ("bpms_instance_change", "finish", "refuse"),
    ]
    task_end, end = last["events"]
    assert "remark" not in task_end and task_end["staffId"] == second["userid"]
    assert end["staffId"] == inst.originator_userid and "taskId" not in end
    assert end["finishTime"] == inst.finish_ms and last["status"] == "COMPLETED"

    # withdrawing announces the instance only; a deletion nothing (EB-78)
    other = post(sb, f"{approvals}/submit", {}).json()["process_instance_id"]
    withdrawn = post(sb, f"{approvals}/terminate", {"process_instance_id": other}).json()
    assert [(e["event_type"], e["type"]) for e in withdrawn["events"]] == [
        ("bpms_instance_change", "terminate")
    ]
    assert "result" not in withdrawn["events"][0]
    gone = post(sb, f"{approvals}/delete", {"process_instance_id": other}).json()
    assert gone["deleted"] is True and gone["events"] == []


def test_the_last_approval_finishes_the_instance(sb: SandboxServer) -> None:
    approvals = "/sandbox/mutate/approvals"
    pid = post(sb, f"{approvals}/submit", {}).json()["process_instance_id"]
    inst = sb.state.areas["approvals"].world.instances[pid]
    seen: list[tuple[str, str, Any]] = []
    while True:
        answer = post(sb, f"{approvals}/approve", {"process_instance_id": pid}).json()
        seen += [(e["event_type"], e["type"], e.get("result")) for e in answer["events"]]
        if answer["status"] != "RUNNING":
            break
    n = len(inst.tasks)
    expected: list[tuple[str, str, Any]] = []
    for i in range(n):
        expected.append(("bpms_task_change", "finish", "agree"))
        if i < n - 1:
            expected.append(("bpms_task_change", "start", None))
    expected.append(("bpms_instance_change", "finish", "agree"))
    assert seen == expected
