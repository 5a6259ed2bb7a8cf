"""Departures and untrustworthy payloads, end to end through our HTTP callback receiver on
SQLite and PostgreSQL:

- a ``user_leave_org`` is dated by DingTalk's departure record (``empLeaveRecords``) or, when
  the app may not read records, by the event's own time — and a later ``sync --incremental``
  (or a replay of the event) writes the same values, never flipping them back and forth;
- correctly signed events naming ids DingTalk does not know (``["nosuchuser"]``, ``[1, 2]``,
  ``[null]``, doc-sample timestamps) store nothing and leave a note on the inbox row;
- the approval task events (``bpms_task_change``) pushed by the sandbox refresh the instance.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from dingsync.dingtalk.crypto import CallbackCrypto, random_alnum
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import repo_approvals
from dingsync.store.schema import departments, leavers, users
from dingsync.store.schema_events import event_inbox
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import run_sync
from dingsync.sync.events import EventProcessor
from helpers.events import AES_KEY, TOKEN, ReceiverServer, inbox, make_client, wait_for

#: The ``TimeStamp`` of DingTalk's own ``user_add_org`` doc sample (1971: a placeholder).
SAMPLE = "43535463645"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:  # per test: mutations change the company
    with SandboxServer(SandboxConfig(seed=29, users=60, days=7, qps_limit=None)) as sb:
        yield sb


@pytest.fixture
def receiver(sandbox: SandboxServer, engine: Engine) -> Iterator[ReceiverServer]:
    crypto = CallbackCrypto(TOKEN, AES_KEY, sandbox.app.corp_id)
    corp = sandbox.app.corp_id
    with ReceiverServer(crypto, lambda: EventProcessor(make_client(sandbox), engine, corp)) as r:
        yield r


def subscribe(sb: SandboxServer, receiver: ReceiverServer) -> None:
    r = httpx.post(
        f"{sb.base_url}/sandbox/events/callback",
        json={"url": receiver.url, "token": TOKEN, "aes_key": AES_KEY, "receiver": "corp_id"},
        timeout=30,
    )
    assert r.json()["registered"] is True, r.text


def mutate(sb: SandboxServer, path: str, **body: Any) -> dict[str, Any]:
    resp = httpx.post(f"{sb.base_url}/sandbox/mutate/{path}", json=body, timeout=30)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def contacts_sync(sb: SandboxServer, engine: Engine, kind: str) -> None:
    async def run() -> None:
        async with make_client(sb) as client:
            result = await run_sync(client, engine, sb.app.corp_id, [ContactsSync()], kind=kind)
            assert result.status == "succeeded"

    asyncio.run(run())


def ms(value: Any) -> int | None:
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


def departure(engine: Engine, corp: str, userid: str) -> dict[str, Any] | None:
    """What we store about ``userid``'s departure: the leavers row and the users row."""
    with engine.connect() as conn:
        lv = (
            conn.execute(
                select(leavers).where(leavers.c.corp_id == corp, leavers.c.userid == userid)
            )
            .mappings()
            .first()
        )
        u = (
            conn.execute(select(users).where(users.c.corp_id == corp, users.c.userid == userid))
            .mappings()
            .first()
        )
    if lv is None:
        return None
    return {
        "leave_time": ms(lv["leave_time"]),
        "leave_reason": lv["leave_reason"],
        "last_work_day": ms(lv["last_work_day"]),
        "status": lv["status"],
        "user_status": u["status"] if u else None,
        "left_at": ms(u["left_at"]) if u else None,
        "user_leave_reason": u["leave_reason"] if u else None,
    }


def processed_row(engine: Engine, corp: str, event_type: str, born_ms: int) -> dict[str, Any]:
    return dict(
        wait_for(
            lambda: next(
                (
                    r
                    for r in inbox(engine, corp)
                    if r["event_type"] == event_type
                    and r["payload"]["event_time_ms"] == born_ms
                    and r["status"] == "processed"
                ),
                None,
            )
        )
    )


def replay(receiver: ReceiverServer, row_id: int) -> None:
    assert receiver.processor is not None
    outcome = receiver.run_in_loop(receiver.processor.replay(ids=[row_id]))
    assert outcome == {"processed": 1}, outcome


def a_plain_employee(sb: SandboxServer) -> str:
    company = sb.company
    return next(
        u.userid
        for u in sorted(company.users.values(), key=lambda u: u.userid)
        if u.userid not in company.admins and u.active
    )


# ---------------------------------------------------------------------------------------------
# Departures
# ---------------------------------------------------------------------------------------------
def test_a_departure_is_dated_by_its_record_and_a_later_sync_agrees(
    sandbox: SandboxServer, engine: Engine, receiver: ReceiverServer
) -> None:
    corp = sandbox.app.corp_id
    contacts_sync(sandbox, engine, "full")
    subscribe(sandbox, receiver)
    userid = a_plain_employee(sandbox)
    ev = mutate(sandbox, "contacts/leave", userid=userid)
    row = processed_row(engine, corp, "user_leave_org", ev["born_ms"])
    truth = sandbox.company.leavers[userid]

    stored = departure(engine, corp, userid)
    assert stored == {
        "leave_time": truth.leave_time // 1000 * 1000,  # empLeaveRecords: whole seconds
        "leave_reason": "leave",
        "last_work_day": truth.last_work_day,
        "status": truth.status,
        "user_status": "left",
        "left_at": truth.leave_time // 1000 * 1000,
        "user_leave_reason": "leave",
    }

    contacts_sync(sandbox, engine, "incremental")
    assert departure(engine, corp, userid) == stored
    replay(receiver, int(row["id"]))  # a late duplicate of the event
    assert departure(engine, corp, userid) == stored
    contacts_sync(sandbox, engine, "full")
    assert departure(engine, corp, userid) == stored


def test_without_departure_records_the_event_time_dates_it_and_syncs_keep_it(
    sandbox: SandboxServer, engine: Engine, receiver: ReceiverServer
) -> None:
    corp = sandbox.app.corp_id
    contacts_sync(sandbox, engine, "full")
    subscribe(sandbox, receiver)
    sandbox.configure(denied_permissions=["Contact.Common.Read"])  # no empLeaveRecords
    userid = a_plain_employee(sandbox)
    ev = mutate(sandbox, "contacts/leave", userid=userid)
    row = processed_row(engine, corp, "user_leave_org", ev["born_ms"])
    truth = sandbox.company.leavers[userid]

    stored = departure(engine, corp, userid)
    assert stored is not None
    assert stored["leave_time"] == ev["born_ms"] == stored["left_at"]  # the event's TimeStamp
    assert stored["leave_reason"] is None  # only a departure record says why
    assert stored["last_work_day"] == truth.last_work_day
    assert stored["user_status"] == "left"

    # syncs that cannot read records either keep the event's time (not the last work day)
    contacts_sync(sandbox, engine, "incremental")
    assert departure(engine, corp, userid) == stored
    contacts_sync(sandbox, engine, "full")
    assert departure(engine, corp, userid) == stored

    # once records can be read, the record dates it; a late event does not undo that
    sandbox.configure(denied_permissions=[])
    contacts_sync(sandbox, engine, "incremental")
    refined = departure(engine, corp, userid)
    assert refined is not None
    assert refined["leave_time"] == truth.leave_time // 1000 * 1000 == refined["left_at"]
    assert refined["leave_reason"] == "leave" == refined["user_leave_reason"]
    replay(receiver, int(row["id"]))
    assert departure(engine, corp, userid) == refined
    contacts_sync(sandbox, engine, "incremental")
    assert departure(engine, corp, userid) == refined


# ---------------------------------------------------------------------------------------------
# Untrustworthy payloads
# ---------------------------------------------------------------------------------------------
def push(receiver: ReceiverServer, payload: dict[str, Any]) -> None:
    """POST ``payload`` like DingTalk: encrypted with the receiver's key, correctly signed."""
    crypto = receiver.crypto
    enc = crypto.encrypt(json.dumps(payload, ensure_ascii=False))
    ts, nonce = str(int(time.time() * 1000)), random_alnum(8)
    resp = httpx.post(
        receiver.url,
        params={"msg_signature": crypto.sign(ts, nonce, enc), "timestamp": ts, "nonce": nonce},
        json={"encrypt": enc},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text


def test_events_naming_ids_dingtalk_does_not_know_store_nothing(
    sandbox: SandboxServer, engine: Engine, receiver: ReceiverServer
) -> None:
    corp = sandbox.app.corp_id
    contacts_sync(sandbox, engine, "full")

    def counts() -> tuple[int, int, int]:
        with engine.connect() as conn:
            return (
                conn.execute(select(func.count()).select_from(leavers)).scalar_one(),
                conn.execute(select(func.count()).select_from(users)).scalar_one(),
                conn.execute(
                    select(func.count())
                    .select_from(departments)
                    .where(departments.c.status == "active")
                ).scalar_one(),
            )

    before = counts()
    now = str(int(time.time() * 1000))
    legacy = {"CorpId": corp, "OptStaffId": "manager1"}
    leave = {**legacy, "EventType": "user_leave_org"}
    pushed = [
        # the doc sample's placeholder timestamp (1971) with a userid nobody has
        {**leave, "UserId": ["nosuchuser"], "TimeStamp": SAMPLE},
        {**leave, "UserId": [1, 2], "TimeStamp": now},
        {**leave, "UserId": [None], "TimeStamp": now},
        {**leave, "UserId": ["", " padded "], "TimeStamp": "0"},
        {**leave, "UserId": [], "TimeStamp": now},
        {
            "EventType": "user_add_org",
            "EventTime": 0,
            "CorpId": corp,
            "BizId": "biz-ghost",
            "eventId": "evt-ghost",
            "userId": ["ghost"],
        },
        {**legacy, "EventType": "org_dept_remove", "DeptId": ["abc", 1.5, None, -3, True]},
    ]
    for payload in pushed:
        push(receiver, payload)

    def all_skipped() -> list[dict[str, Any]] | None:
        rs = inbox(engine, corp)
        return rs if len(rs) == len(pushed) and all(r["status"] == "skipped" for r in rs) else None

    rows = wait_for(all_skipped)
    assert counts() == before  # nobody stored, no department removed
    with engine.connect() as conn:
        ids = {r.userid for r in conn.execute(select(leavers.c.userid))}
        times = [t for (t,) in conn.execute(select(event_inbox.c.event_time))]
    assert not ids & {"nosuchuser", "1", "2", "None", "", " padded ", "ghost"}

    def named(row: dict[str, Any]) -> str:
        raw = row["payload"]["raw"]
        return json.dumps(raw.get("UserId", raw.get("userId", raw.get("DeptId"))))

    notes = {named(r): r["last_error"] for r in rows}
    assert "nosuchuser" in notes['["nosuchuser"]']
    assert "nothing stored" in notes['["nosuchuser"]']
    assert "not ids: 1, 2" in notes["[1, 2]"]
    assert "not ids: None" in notes["[null]"]
    assert "not ids: '', ' padded '" in notes['["", " padded "]']
    assert "names no user" in notes["[]"]
    assert "ghost" in notes['["ghost"]'] and "nothing stored" in notes['["ghost"]']
    assert "DeptId" in notes['["abc", 1.5, null, -3, true]']
    assert "'abc', 1.5, None, -3, True" in notes['["abc", 1.5, null, -3, true]']
    # placeholder and zero timestamps are not times: no 1970s anywhere
    assert times and all(t is None or ms(t) > 946_684_800_000 for t in times)

    # a real leaver named next to a number: processed, the number noted, nothing re-dated
    leaver = sorted(u for u in sandbox.company.leavers if u not in sandbox.company.users)[0]
    synced = departure(engine, corp, leaver)
    assert synced is not None and synced["leave_time"] is not None
    push(receiver, {**leave, "UserId": [leaver, 3], "TimeStamp": now})
    row = wait_for(
        lambda: next(
            (
                r
                for r in inbox(engine, corp)
                if leaver in json.dumps(r["payload"]["data"]) and r["status"] == "processed"
            ),
            None,
        )
    )
    assert "not ids: 3" in row["last_error"]
    assert departure(engine, corp, leaver) == synced


# ---------------------------------------------------------------------------------------------
# Approval task events
# ---------------------------------------------------------------------------------------------
def test_approval_task_events_refresh_the_instance(
    sandbox: SandboxServer, engine: Engine, receiver: ReceiverServer
) -> None:
    corp = sandbox.app.corp_id
    subscribe(sandbox, receiver)
    sandbox.configure(events_format="current")
    made = mutate(sandbox, "approvals/submit")
    pid = made["process_instance_id"]
    step = mutate(sandbox, "approvals/approve", process_instance_id=pid, remark="可以")
    events = made["events"] + step["events"]
    assert [e["event_type"] for e in events][:3] == [
        "bpms_instance_change",
        "bpms_task_change",
        "bpms_task_change",
    ]

    def all_processed() -> list[dict[str, Any]] | None:
        rows = {r["event_id"]: r for r in inbox(engine, corp)}
        done = [rows.get(e["event_id"]) for e in events]
        return done if all(r and r["status"] == "processed" for r in done) else None

    rows = wait_for(all_processed)
    by_id = {r["event_id"]: r for r in rows}
    task_done = by_id[step["events"][0]["event_id"]]["payload"]["raw"]
    assert task_done["EventType"] == "bpms_task_change" and task_done["CorpId"] == corp
    assert task_done["type"] == "finish" and task_done["result"] == "agree"
    assert isinstance(task_done["taskId"], int) and task_done["remark"] == "可以"
    assert task_done["processInstanceId"] == pid and task_done["businessId"]
    assert task_done["url"].startswith("https://")

    inst = sandbox.state.areas["approvals"].world.instances[pid]
    with engine.connect() as conn:
        tasks = repo_approvals.load_children(conn, corp, [pid], "tasks")[pid]
        stored = repo_approvals.load_instances(conn, corp)
    assert [(t["userid"], t["task_status"], t["task_result"]) for t in tasks] == [
        (t["userid"], t["status"], t["result"] or None) for t in inst.tasks
    ]
    assert tasks[0]["task_status"] == "COMPLETED" and tasks[0]["task_result"] == "AGREE"
    assert next(i for i in stored if i["process_instance_id"] == pid)["status"] == inst.status


@pytest.mark.parametrize("events_format", ["legacy", "current"])
def test_approval_events_keep_events_md_shapes_on_the_wire(
    sandbox: SandboxServer, engine: Engine, events_format: str
) -> None:
    corp = sandbox.app.corp_id
    crypto = CallbackCrypto(TOKEN, AES_KEY, corp)
    with ReceiverServer(crypto, lambda: EventProcessor(None, engine, corp)) as store_only:
        subscribe(sandbox, store_only)
        sandbox.configure(events_format=events_format)
        made = mutate(sandbox, "approvals/submit")
        rows = wait_for(lambda: (lambda rs: rs if len(rs) == 2 else None)(inbox(engine, corp)))
    raw = {r["event_type"]: r["payload"]["raw"] for r in rows}
    inst, task = raw["bpms_instance_change"], raw["bpms_task_change"]
    corp_key = "corpId" if events_format == "legacy" else "CorpId"  # EB-93
    for body in (inst, task):
        assert body[corp_key] == corp and body["type"] == "start"
        assert body["processInstanceId"] == made["process_instance_id"]
        assert {"title", "url", "processCode", "businessId", "bizCategoryId", "createTime"} <= set(
            body
        )
        assert "result" not in body
    assert "taskId" not in inst and isinstance(task["taskId"], int)
    area = sandbox.state.areas["approvals"]
    first = area.world.instances[made["process_instance_id"]].tasks[0]
    assert task["staffId"] == first["userid"] and inst["staffId"] != task["staffId"]
    if events_format == "current":
        assert inst["eventId"] == made["events"][0]["event_id"]
        assert task["eventId"] == made["events"][1]["event_id"]
