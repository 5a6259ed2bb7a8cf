"""The approvals area of the sandbox: generation, caps and errors of both hosts, mutations."""

from __future__ import annotations

import itertools
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.sandbox.approvals import STATES, generate_approvals, render_new, render_old
from dingsync.sandbox.company import generate_company

DAY_MS = 86_400_000


def test_generation_is_deterministic_and_covers_every_state() -> None:
    company = generate_company(5, 80, anchor_ms=1_760_000_000_000)
    leaves = [
        {
            "userid": sorted(company.users)[0],
            "start_ms": 1_759_800_000_000,
            "end_ms": 1_759_830_000_000,
            "type": "年假",
            "pid": "leave-1",
            "hours": 8,
        }
    ]
    a = generate_approvals(company, 5, 30, company.anchor_ms, 0.05, leaves=leaves)
    b = generate_approvals(company, 5, 30, company.anchor_ms, 0.05, leaves=leaves)
    assert [render_old(i) for i in a.instances.values()] == [
        render_old(i) for i in b.instances.values()
    ]
    assert [t.name for t in a.templates] == ["请假", "报销", "出差", "采购", "加班"]
    for tpl in a.templates:
        states = {
            (i.status, i.result) for i in a.instances.values() if i.process_code == tpl.process_code
        }
        assert set(STATES) <= states, tpl.name
    for inst in a.instances.values():
        assert inst.create_ms % 1000 == 0  # whole seconds (the old host's precision)
        assert company.anchor_ms - 30 * DAY_MS - 60_000 <= inst.create_ms <= company.anchor_ms
        assert (inst.finish_ms is None) == (inst.status == "RUNNING")
        assert inst.tasks and inst.records[0]["type"] == "START_PROCESS_INSTANCE"
    # an attendance leave period becomes an approved leave instance with its id
    leave = a.instances["leave-1"]
    assert (leave.status, leave.result) == ("COMPLETED", "agree")
    form = {f["id"]: f["value"] for f in leave.form}
    assert form["DDSelectField_LEAVETYPE"] == "年假" and form["NumberField_DAYS"] == "1"
    # both hosts render the same instance (v1.0: CANCELED shows as TERMINATED, EB-57)
    cancelled = next(i for i in a.instances.values() if i.status == "CANCELED")
    assert render_old(cancelled)["status"] == "CANCELED"
    assert render_new(cancelled)["status"] == "TERMINATED"


DECIDED = {"AGREE", "REFUSE", "REDIRECTED"}  # approvals.md §10


def test_tasks_have_dingtalk_shapes_and_times_have_seconds() -> None:
    company = generate_company(5, 80, anchor_ms=1_760_000_000_000)
    world = generate_approvals(company, 5, 30, company.anchor_ms, 0.05)
    insts = list(world.instances.values())
    for inst in insts:
        old, new = render_old(inst)["tasks"], render_new(inst)["tasks"]
        for t, o, n in zip(inst.tasks, old, new, strict=True):
            # a result only for a decided task, and only DingTalk's values; never ""
            assert o.get("task_result") == n.get("result") == t["result"]
            assert (t["result"] in DECIDED) == (t["status"] == "COMPLETED"), inst.status
            # a task not reached yet is NEW, undated, and only in a running instance
            assert (t["status"] == "NEW") == ("create_time" not in o) == ("createTime" not in n)
            assert t["status"] != "NEW" or inst.status == "RUNNING"
        reached = [t for t in inst.tasks if t["status"] != "NEW"]
        # each approver is reached when the one before decides, not at submission
        assert reached[0]["create_time"] == inst.create_ms
        for before, after in itertools.pairwise(reached):
            assert after["create_time"] == before["finish_time"] > inst.create_ms
        statuses = [t["status"] for t in reached]
        if inst.status in ("TERMINATED", "CANCELED"):  # withdrawn while one approver waited
            assert statuses[-1] == "CANCELED" and reached[-1]["finish_time"] == inst.finish_ms
            assert set(statuses[:-1]) <= {"COMPLETED"}
        elif inst.status == "RUNNING":
            assert statuses[-1] == "RUNNING" and set(statuses[:-1]) <= {"COMPLETED"}
        else:
            assert set(statuses) == {"COMPLETED"}
    # times are realistic: the seconds vary (the old host shows them; v1.0 shows minutes)
    assert len({i.create_ms % 60_000 for i in insts}) > 30
    finishes = [t["finish_time"] for i in insts for t in i.tasks if t.get("finish_time")]
    assert len({ms % 60_000 for ms in finishes}) > 30
    some = next(i for i in insts if i.create_ms % 60_000)
    assert render_old(some)["create_time"].endswith(f":{some.create_ms % 60_000 // 1000:02d}")
    assert (
        render_new(some)["createTime"].endswith("Z") and render_new(some)["createTime"][-3] != ":"
    )


def test_task_events_carry_the_tasks_own_times(sb: SandboxServer) -> None:
    """A submission announces the first approver's task only; approving a few seconds later
    dates the next approver's task (and its event) at the approval, not at the submission."""
    area = sb.state.areas["approvals"]
    now = sb.clock.now_ms()
    sb.clock.advance((65_000 - now % 60_000) / 1000)  # 5 s into a minute
    with httpx.Client(base_url=sb.base_url) as http:
        for originator in sorted(sb.company.users):
            made = http.post(
                "/sandbox/mutate/approvals/submit", json={"originator_userid": originator}
            ).json()
            inst = area.world.instances[made["process_instance_id"]]
            if len(inst.tasks) >= 2:
                break
        assert len(inst.tasks) >= 2
        first, second = inst.tasks[0], inst.tasks[1]
        task_starts = [e for e in made["events"] if e["event_type"] == "bpms_task_change"]
        assert [e["staffId"] for e in task_starts] == [first["userid"]]
        assert task_starts[0]["createTime"] == first["create_time"] == inst.create_ms
        # the later approvers are not reached: NEW, no time, no result on the wire
        wire = made["process_instance"]["tasks"]
        assert [t["task_status"] for t in wire] == ["RUNNING"] + ["NEW"] * (len(wire) - 1)
        assert all("task_result" not in t for t in wire)
        assert all("create_time" not in t for t in wire[1:])
        sb.clock.advance(20)
        before = sb.clock.now_ms()
        step = http.post(
            "/sandbox/mutate/approvals/approve",
            json={"process_instance_id": inst.process_instance_id},
        ).json()
    done, nxt = step["events"][:2]
    assert done["createTime"] == inst.create_ms  # the first task's: reached at submission
    assert done["finishTime"] == first["finish_time"] >= before - before % 1000
    assert nxt["createTime"] == second["create_time"] == first["finish_time"]
    assert nxt["createTime"] - inst.create_ms >= 20_000  # the task's time, not the instance's


@pytest.fixture(scope="module")
def sb() -> Any:
    with SandboxServer(SandboxConfig(seed=2, users=60, qps_limit=None)) as server:
        yield server


def _token(sb: SandboxServer) -> str:
    body = httpx.post(
        sb.base_url + "/v1.0/oauth2/accessToken",
        json={"appKey": sb.app.app_key, "appSecret": sb.app.app_secret},
    ).json()
    return str(body["accessToken"])


def test_window_and_page_errors_of_both_hosts(sb: SandboxServer) -> None:
    token = _token(sb)
    code = sb.state.areas["approvals"].world.templates[0].process_code
    now = int(time.time() * 1000)
    old = sb.base_url + "/topapi/processinstance/listids"
    new = sb.base_url + "/v1.0/workflow/processes/instanceIds/query"
    hdr = {"x-acs-dingtalk-access-token": token}

    def listids(**body: Any) -> dict[str, Any]:
        return httpx.post(old, params={"access_token": token}, json=body).json()

    def query(**body: Any) -> httpx.Response:
        return httpx.post(new, headers=hdr, json=body)

    assert (
        listids(process_code=code, start_time=now - 121 * DAY_MS, end_time=now)["errcode"] == 400002
    )
    assert (
        listids(process_code=code, start_time=now - 400 * DAY_MS, end_time=now - 390 * DAY_MS)[
            "errcode"
        ]
        == 400002
    )
    assert listids(process_code=code, start_time=now - 130 * DAY_MS)["errcode"] == 400002
    assert listids(process_code=code, start_time=now - 10 * DAY_MS, size=21)["errcode"] == 400002
    assert listids(process_code="PROC-NOPE", start_time=now - DAY_MS)["errcode"] == 820001
    page = listids(process_code=code, start_time=now - 40 * DAY_MS)  # default size 10 (EB-51)
    assert len(page["result"]["list"]) == 10 and page["result"]["next_cursor"] == 10

    def code_of(r: httpx.Response) -> tuple[int, str]:
        return r.status_code, r.json().get("code")

    base = {"processCode": code, "startTime": now - 30 * DAY_MS, "nextToken": 0, "maxResults": 20}
    assert code_of(query(**{**base, "endTime": now, "startTime": now - 121 * DAY_MS})) == (
        400,
        "invalidEndTime",
    )
    assert code_of(
        query(**{**base, "startTime": now - 400 * DAY_MS, "endTime": now - 390 * DAY_MS})
    ) == (400, "invalidParameter")
    assert code_of(query(**{**base, "maxResults": 21})) == (400, "invalidMaxResults")
    assert code_of(query(**{**base, "processCode": ""})) == (400, "invalidProcessCode")
    assert code_of(query(**{k: v for k, v in base.items() if k != "nextToken"})) == (
        400,
        "invalidNextToken",
    )
    assert code_of(query(**{k: v for k, v in base.items() if k != "startTime"})) == (
        400,
        "invalidInstanceListIdsStartTime",
    )
    assert code_of(query(**{**base, "userIds": [str(i) for i in range(11)]})) == (
        400,
        "invalidUserIds",
    )
    ok = query(**base).json()
    assert ok["success"] is True and isinstance(ok["result"].get("nextToken", ""), str)

    got = httpx.get(
        sb.base_url + "/v1.0/workflow/processInstances",
        headers=hdr,
        params={"processInstanceId": "nope"},
    )
    assert code_of(got) == (400, "processInstanceNotExist")
    got = httpx.get(sb.base_url + "/v1.0/workflow/processInstances", headers=hdr)
    assert code_of(got) == (400, "processInstanceIdError")
    pid = ok["result"]["list"][0]
    got = httpx.get(
        sb.base_url + "/v1.0/workflow/processInstances",
        headers=hdr,
        params={"processInstanceId": pid},
    )
    assert got.json()["success"] == "true"  # a String on this API
    tpls = httpx.get(
        sb.base_url + "/v1.0/workflow/processes/userVisibilities/templates",
        headers=hdr,
        params={"maxResults": 101, "nextToken": 0},
    )
    assert code_of(tpls) == (400, "invalidMaxResults")
    tpls = httpx.get(
        sb.base_url + "/v1.0/workflow/processes/userVisibilities/templates",
        headers=hdr,
        params={"maxResults": 2, "nextToken": 0},
    ).json()
    assert len(tpls["result"]["processList"]) == 2 and tpls["result"]["nextToken"] == 2


def test_stats_and_mutations(sb: SandboxServer) -> None:
    before = sb.stats()["approvals"]
    area = sb.state.areas["approvals"]
    events: list[tuple[str, str]] = []
    area.listeners.append(lambda kind, inst, change: events.append((kind, inst.status)))
    with httpx.Client(base_url=sb.base_url) as http:
        made = http.post("/sandbox/mutate/approvals/submit", json={}).json()
        assert made["status"] == "RUNNING" and made["process_instance"]["result"] == ""
        pid = made["process_instance_id"]
        while True:
            answer = http.post(
                "/sandbox/mutate/approvals/approve", json={"process_instance_id": pid}
            ).json()
            if answer["status"] != "RUNNING":
                break
        assert (answer["status"], answer["result"]) == ("COMPLETED", "agree")
        again = http.post("/sandbox/mutate/approvals/refuse", json={"process_instance_id": pid})
        assert again.status_code == 409
        bad = http.post("/sandbox/mutate/approvals/submit", json={"originator_userid": "nobody"})
        assert bad.status_code == 404
    after = sb.stats()["approvals"]
    assert after["instances"] == before["instances"] + 1
    assert events[0] == ("bpms_instance_change", "RUNNING")
    assert events[-1] == ("bpms_instance_change", "COMPLETED")
    assert area.world.instances[pid].finish_ms is not None


def test_the_truth_is_counted_once_per_version_and_follows_every_mutation(
    sb: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``/sandbox/stats`` counts the approvals truth once per world and version (it took
    40–90 s at 20,000 people on every call): unchanged calls reuse it, each mutation — submit,
    approve/refuse, terminate, delete, and a new world from the density knob — is counted."""
    from dingsync.sandbox.approvals.state import ApprovalsState

    counted: list[int] = []
    real = ApprovalsState._count

    def counting(w: Any) -> dict[str, Any]:
        counted.append(len(w.instances))
        return real(w)

    monkeypatch.setattr(ApprovalsState, "_count", staticmethod(counting))
    area = sb.state.areas["approvals"]

    def truth() -> dict[str, Any]:  # the counts (attachments are the file server's, live)
        return {k: v for k, v in sb.stats()["approvals"].items() if k != "attachments"}

    def fresh() -> dict[str, Any]:  # what the counting gives now, cache aside
        with sb.state.lock:
            return real(area.world)

    first = truth()
    first["by_status"]["RUNNING"] = -1  # a caller's copy: the cached truth is not touched
    assert truth() == fresh() and truth()["by_status"]["RUNNING"] != -1
    calls = len(counted)
    assert calls <= 1
    with httpx.Client(base_url=sb.base_url) as http:

        def mutate(action: str, **body: Any) -> dict[str, Any]:
            r = http.post(f"/sandbox/mutate/approvals/{action}", json=body)
            assert r.status_code == 200, r.text
            return r.json()

        before = truth()
        pid = mutate("submit")["process_instance_id"]
        after = truth()
        assert after == fresh() and after["instances"] == before["instances"] + 1
        assert after["by_status"]["RUNNING"] == before["by_status"]["RUNNING"] + 1
        mutate("refuse", process_instance_id=pid)
        assert truth() == fresh() and truth()["by_result"]["refuse"] == (
            before["by_result"]["refuse"] + 1
        )
        running = mutate("submit")["process_instance_id"]
        mutate("terminate", process_instance_id=running)
        assert truth() == fresh()
        mutate("delete", process_instance_id=running)
        assert truth() == fresh() and truth()["instances"] == before["instances"] + 1
    # The attachments' counts (cached alike) are those of the world as it is now.
    from dingsync.sandbox.approvals.files import instance_files

    files = [f for i in area.world.instances.values() for f in instance_files(i)]
    shown = sb.stats()["approvals"]["attachments"]
    assert (shown["form"], shown["comment"]) == (
        sum(1 for f in files if not f["comment"]),
        sum(1 for f in files if f["comment"]),
    )
    recounts = len(counted) - calls
    assert recounts == 4  # once per changed version read (submit+terminate read once), not per read
    density = sb.state.area_knobs["approvals_per_user_day"]
    sb.configure(approvals_per_user_day=density * 2)  # a new world: counted again
    try:
        assert truth() == fresh() and len(counted) - calls == 5
    finally:
        sb.configure(approvals_per_user_day=density)


def _sample(shared: Path, name: str) -> Any:
    return json.loads((shared / "samples" / name).read_text(encoding="utf-8"))


def test_templates_a_user_manages_on_both_hosts(sb: SandboxServer, shared_dingtalk: Path) -> None:
    token = _token(sb)
    world = sb.state.areas["approvals"].world
    admin = sb.company.main_admin_userid
    employee = next(u for u in sb.company.users if u not in sb.company.admins)
    old_url = sb.base_url + "/topapi/process/template/manage/get"
    new_url = sb.base_url + "/v1.0/workflow/processes/managements/templates"
    hdr = {"x-acs-dingtalk-access-token": token}

    def old(userid: str) -> dict[str, Any]:
        r = httpx.post(old_url, params={"access_token": token}, json={"userid": userid})
        return dict(r.json())

    doc_old = _sample(shared_dingtalk, "approvals/topapi_process_template_manage_get.json")
    got = old(admin)
    assert got["errcode"] == 0 and got["success"] is True
    assert set(got) == set(doc_old)
    assert [t["process_code"] for t in got["result"]] == [t.process_code for t in world.templates]
    for item, tpl in zip(got["result"], world.templates, strict=True):
        assert set(item) == set(doc_old["result"][0])
        assert (item["flow_title"], item["attendance_type"]) == (tpl.name, tpl.attendance_type)
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", item["gmt_modified"])
    assert old(employee)["result"] == []  # without the OA-approval permission
    assert old("nobody")["errcode"] == 60121
    missing = httpx.post(old_url, params={"access_token": token}, json={}).json()
    assert missing["errcode"] == 400002

    doc_new = _sample(shared_dingtalk, "approvals/v1_workflow_processes_managements_templates.json")
    r = httpx.get(new_url, headers=hdr, params={"userId": admin})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == set(doc_new) and body["success"] is True
    for item, tpl, o in zip(body["result"], world.templates, got["result"], strict=True):
        assert set(item) == set(doc_new["result"][0])
        assert (item["processCode"], item["flowTitle"]) == (tpl.process_code, tpl.name)
        assert (item["iconName"], item["newProcess"]) == (o["icon_name"], o["is_new_process"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ", item["gmtModified"])
    for params, code in (
        ({}, "invalidUserId"),
        ({"userId": "nobody"}, "userNotExist"),
        ({"userId": employee}, "noPermission"),
    ):
        r = httpx.get(new_url, headers=hdr, params=params)
        assert (r.status_code, r.json()["code"]) == (400, code), params


def test_instance_ids_query_rejects_unknown_statuses(sb: SandboxServer) -> None:
    token = _token(sb)
    code = sb.state.areas["approvals"].world.templates[0].process_code
    now = int(time.time() * 1000)
    base = {"processCode": code, "startTime": now - 10 * DAY_MS, "nextToken": 0, "maxResults": 20}
    url = sb.base_url + "/v1.0/workflow/processes/instanceIds/query"
    hdr = {"x-acs-dingtalk-access-token": token}
    for statuses in (["BOGUS"], ["RUNNING", "CANCELED"], "RUNNING"):
        r = httpx.post(url, headers=hdr, json={**base, "statuses": statuses})
        assert (r.status_code, r.json()["code"]) == (400, "invalidParameter"), statuses
    ok = httpx.post(url, headers=hdr, json={**base, "statuses": ["RUNNING", "COMPLETED"]})
    assert ok.status_code == 200 and ok.json()["success"] is True
