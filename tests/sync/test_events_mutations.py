"""The sandbox's punch and administrator mutations, end to end: the punch lands in the
sandbox's attendance truth (results recomputed, the first on-duty / last off-duty punch decides,
night shifts and rest days), the admin changes land in ``listadmin``/``get_admin_scope``, each is
pushed as the events.md shape in both ``events_format``s, and our receiver (HTTP callbacks) and
Stream consumer bring the database to the sandbox's truth for that person's day / the
administrators."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from dingsync.dingtalk.crypto import CallbackCrypto
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.sandbox.attendance import AttendanceArea, PersonDay
from dingsync.store import repo, repo_attendance
from dingsync.store.schema_attendance import attendance_records
from dingsync.store.schema_roles import role_members
from dingsync.sync.attendance import AttendanceSync, day_start, record_row, result_row
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import run_sync
from dingsync.sync.events import EventProcessor
from dingsync.sync.events_stream import StreamConsumer
from helpers.events import (
    AES_KEY,
    TOKEN,
    ReceiverServer,
    directory_differences,
    inbox,
    make_client,
    wait_for,
)

GMT8 = timezone(timedelta(hours=8))
DAYS = 7
DATA_ITEM_KEYS = {
    "address",
    "checkTime",
    "corpId",
    "groupId",
    "latitude",
    "longitude",
    "bizId",
    "locationMethod",
    "userId",
    "deviceSN",
    "locationResult",
    "checkByUser",
}


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:  # per test: mutations change the company
    with SandboxServer(SandboxConfig(seed=41, users=60, days=DAYS, qps_limit=None)) as sb:
        sb.configure(events_stream_ping_s=0.3, events_stream_close_after_s=0.2)
        yield sb


def area_of(sb: SandboxServer) -> AttendanceArea:
    area = sb.state.areas["attendance"]
    assert isinstance(area, AttendanceArea)
    return area


def post(sb: SandboxServer, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{sb.base_url}{path}", json=body, timeout=30)


def punch(sb: SandboxServer, **body: Any) -> dict[str, Any]:
    resp = post(sb, "/sandbox/mutate/attendance/punch", body)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def mutate(sb: SandboxServer, kind: str, **body: Any) -> dict[str, Any]:
    resp = post(sb, f"/sandbox/mutate/contacts/{kind}", body)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def subscribe(sb: SandboxServer, receiver: ReceiverServer) -> None:
    """A console-style subscription (every event kind) encrypted with the corpId."""
    r = post(
        sb,
        "/sandbox/events/callback",
        {"url": receiver.url, "token": TOKEN, "aes_key": AES_KEY, "receiver": "corp_id"},
    )
    assert r.json()["registered"] is True, r.text


@pytest.fixture
def receiver(sandbox: SandboxServer, engine: Engine) -> Iterator[ReceiverServer]:
    crypto = CallbackCrypto(TOKEN, AES_KEY, sandbox.app.corp_id)
    corp = sandbox.app.corp_id
    with ReceiverServer(crypto, lambda: EventProcessor(make_client(sandbox), engine, corp)) as r:
        yield r


@pytest.fixture
def store_only_receiver(sandbox: SandboxServer, engine: Engine) -> Iterator[ReceiverServer]:
    """A receiver that only stores (no client): the inbox keeps each decrypted body as sent."""
    crypto = CallbackCrypto(TOKEN, AES_KEY, sandbox.app.corp_id)
    corp = sandbox.app.corp_id
    with ReceiverServer(crypto, lambda: EventProcessor(None, engine, corp)) as r:
        yield r


def last_work_date(sb: SandboxServer) -> date:
    return date.fromisoformat(sb.stats()["attendance"]["work_date_to"])


def initial_sync(sb: SandboxServer, engine: Engine) -> None:
    """Directory and the whole attendance history, so the events must *replace* stored rows."""

    async def run() -> None:
        async with make_client(sb) as client:
            corp = sb.app.corp_id
            await run_sync(client, engine, corp, [ContactsSync()])
            entity = AttendanceSync(days=DAYS, end=last_work_date(sb))
            result = await run_sync(client, engine, corp, [entity], resume=False)
            assert result.status == "succeeded"

    asyncio.run(run())


def pick_day(sb: SandboxServer, group_id: int, check_type: str) -> tuple[PersonDay, int]:
    """A generated working day of a member of ``group_id`` whose ``check_type`` point was
    punched or missed (not covered by leave), the latest such day first."""
    world = area_of(sb).world
    days = sorted(
        (
            d
            for per in world.by_user.values()
            for d in per.values()
            if d.group.group_id == group_id and not d.is_rest and d.userid in sb.company.users
        ),
        key=lambda d: (d.work_date, d.userid),
        reverse=True,
    )
    for d in days:
        for i, p in enumerate(d.points):
            if p.check_type == check_type and p.source_type in ("USER", "SYSTEM"):
                return d, i
    raise AssertionError("no suitable day")


def _ms(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(aware.timestamp() * 1000)
    return value


RESULT_KEYS = (
    "id work_date check_type time_result location_result source_type group_id plan_id "
    "record_id approve_id proc_inst_id base_check_time user_check_time"
).split()
RECORD_KEYS = (
    "id work_date user_check_time check_type time_result location_result source_type is_legal "
    "invalid_record_type invalid_record_msg"
).split()


def _rows(rows: list[dict[str, Any]], keys: list[str]) -> list[tuple[Any, ...]]:
    return sorted(tuple(_ms(r.get(k)) for k in keys) for r in rows)


def truth_of_day(
    sb: SandboxServer, userid: str, first: date, last: date
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """What DingTalk (the sandbox, over HTTP) serves now: results on work dates
    ``first..last`` and punches punched on ``first`` 00:00 .. ``last`` 23:59:59 (GMT+8)."""

    async def run() -> tuple[list[Any], list[Any]]:
        async with make_client(sb) as client:
            results = await client.attendance.list_results([userid], first, last)
            records = await client.attendance.list_records([userid], first, last)
            return [result_row(r) for r in results], [record_row(r) for r in records]

    results, records = asyncio.run(run())
    return _rows(results, RESULT_KEYS), _rows(records, RECORD_KEYS)


def stored_day(
    engine: Engine, corp: str, userid: str, first: date, last: date
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The same window from our database."""
    t = attendance_records
    with engine.connect() as conn:
        results = repo_attendance.load_results(conn, corp, first, last, [userid])
        records = [
            dict(r)
            for r in conn.execute(
                select(t).where(
                    t.c.corp_id == corp,
                    t.c.userid == userid,
                    t.c.user_check_time >= day_start(first),
                    t.c.user_check_time < day_start(last + timedelta(days=1)),
                )
            ).mappings()
        ]
    return _rows(results, RESULT_KEYS), _rows(records, RECORD_KEYS)


def processed(engine: Engine, corp: str, event_id: str) -> bool:
    return any(
        r["event_id"] == event_id and r["status"] == "processed" for r in inbox(engine, corp)
    )


def wait_processed_since(engine: Engine, corp: str, born_ms: int) -> None:
    """Wait for the legacy (id-less) push born at ``born_ms`` to be processed."""
    wait_for(
        lambda: any(
            r["status"] == "processed" and r["payload"]["event_time_ms"] == born_ms
            for r in inbox(engine, corp)
        )
    )


def _work_date_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=GMT8).timestamp() * 1000)


# ---------------------------------------------------------------------------------------------
# HTTP callbacks
# ---------------------------------------------------------------------------------------------
def test_punches_reach_the_database_over_http_callbacks(
    sandbox: SandboxServer, engine: Engine, receiver: ReceiverServer
) -> None:
    corp = sandbox.app.corp_id
    initial_sync(sandbox, engine)
    subscribe(sandbox, receiver)

    # an on-duty punch earlier than the day's punch: it now decides the on-duty result
    day, i = pick_day(sandbox, 600001, "OnDuty")
    base = day.points[i].base_ms
    at = base - 40 * 60_000
    before = stored_day(engine, corp, day.userid, day.work_date, day.work_date)
    ev = punch(sandbox, userid=day.userid, check_time=at, check_type="OnDuty")
    assert ev["event_type"] == "attendance_check_record"
    assert ev["punch"]["decides"] and ev["punch"]["time_result"] == "Normal"
    assert ev["punch"]["work_date"] == day.work_date.isoformat()
    wait_processed_since(engine, corp, ev["born_ms"])
    after = stored_day(engine, corp, day.userid, day.work_date, day.work_date)
    truth = truth_of_day(sandbox, day.userid, day.work_date, day.work_date)
    assert after == truth and after != before
    results, records = after
    on_duty = [r for r in results if r[2] == "OnDuty"]
    assert [(r[3], r[5], r[8], r[12]) for r in on_duty] == [
        ("Normal", "USER", ev["punch"]["record_id"], at)
    ]
    assert ev["punch"]["record_id"] in {r[0] for r in records}

    # the default punch: now by the sandbox clock, a work date beyond the generated history,
    # pushed in the current format this time
    sandbox.configure(events_format="current")
    ev2 = punch(sandbox, userid=day.userid)
    wait_for(lambda: processed(engine, corp, ev2["event_id"]))
    today = date.fromisoformat(ev2["punch"]["work_date"])
    calendar = datetime.fromtimestamp(ev2["punch"]["check_time"] / 1000, GMT8).date()
    first = min(today, calendar - timedelta(days=1))
    stored = stored_day(engine, corp, day.userid, first, calendar)
    assert stored == truth_of_day(sandbox, day.userid, first, calendar)
    assert ev2["punch"]["record_id"] in {r[0] for r in stored[1]}


def test_admin_changes_reach_the_database_over_http_callbacks(
    sandbox: SandboxServer, engine: Engine, receiver: ReceiverServer
) -> None:
    corp = sandbox.app.corp_id
    initial_sync(sandbox, engine)
    subscribe(sandbox, receiver)
    company = sandbox.company
    userid = next(
        u.userid
        for u in sorted(company.users.values(), key=lambda u: u.userid)
        if u.active and u.userid not in company.admins
    )
    scope = sorted(d for d in company.departments if d != 1)[:2]

    def admins_match() -> bool:
        with engine.connect() as conn:
            d = repo.load_directory(conn, corp)
        subs = {u: sorted(company.admin_scopes[u]) for u, lv in company.admins.items() if lv == 2}
        return {u: int(r["sys_level"]) for u, r in d["admins"].items()} == company.admins and d[
            "scopes"
        ] == subs

    ev = mutate(sandbox, "admin_add", userid=userid, sys_level=2, dept_ids=scope)
    assert ev["event_type"] == "org_admin_add" and ev["userId"] == [userid]
    assert company.admins[userid] == 2 and company.admin_scopes[userid] == scope
    wait_processed_since(engine, corp, ev["born_ms"])
    assert admins_match()
    assert directory_differences(engine, corp, company) == []  # the user's admin flag too

    ev = mutate(sandbox, "admin_remove", userid=userid)
    assert ev["event_type"] == "org_admin_remove"
    wait_processed_since(engine, corp, ev["born_ms"])
    assert userid not in company.admins
    assert admins_match()
    assert directory_differences(engine, corp, company) == []

    # random administrator changes converge too
    resp = post(
        sandbox, "/sandbox/mutate/contacts/random", {"n": 6, "kinds": ["admin_add", "admin_remove"]}
    )
    events = resp.json()["events"]
    assert len(events) == 6
    assert {e["event_type"] for e in events} <= {"org_admin_add", "org_admin_remove"}
    for e in events:
        wait_processed_since(engine, corp, e["born_ms"])
    assert admins_match()
    assert directory_differences(engine, corp, company) == []


# ---------------------------------------------------------------------------------------------
# Stream mode
# ---------------------------------------------------------------------------------------------
async def test_a_night_shift_punch_reaches_the_database_over_stream(
    sandbox: SandboxServer, engine: Engine
) -> None:
    corp = sandbox.app.corp_id
    await asyncio.to_thread(initial_sync, sandbox, engine)
    # an off-duty punch the morning after a night shift's work date, later than the day's
    day, i = pick_day(sandbox, 600003, "OffDuty")
    at = day.points[i].base_ms + 100 * 60_000
    next_day = day.work_date + timedelta(days=1)
    async with make_client(sandbox) as client:
        processor = EventProcessor(client, engine, corp)
        consumer = StreamConsumer(
            processor,
            sandbox.base_url,
            sandbox.app.app_key,
            sandbox.app.app_secret,
            idle_timeout=2.0,
            backoff_base=0.05,
            backoff_max=0.2,
        )
        task = asyncio.create_task(consumer.run())
        await asyncio.wait_for(consumer.connected.wait(), 5)
        async with httpx.AsyncClient() as http:
            resp = await http.post(
                f"{sandbox.base_url}/sandbox/mutate/attendance/punch",
                json={"userid": day.userid, "check_time": at},
            )
        assert resp.status_code == 200, resp.text
        ev = resp.json()
        assert ev["punch"]["work_date"] == day.work_date.isoformat()  # the night before
        assert ev["punch"]["check_type"] == "OffDuty" and ev["punch"]["decides"]
        deadline = time.monotonic() + 10
        while not await asyncio.to_thread(processed, engine, corp, ev["event_id"]):
            assert time.monotonic() < deadline, "the punch was not processed"
            await asyncio.sleep(0.03)
        await processor.wait_idle()
        row = next(r for r in inbox(engine, corp) if r["event_id"] == ev["event_id"])
        assert row["source"] == "stream"
        stream_item = row["payload"]["data"]["dataList"][0]
        assert set(stream_item) == DATA_ITEM_KEYS and stream_item["checkTime"] == at
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    stored = await asyncio.to_thread(stored_day, engine, corp, day.userid, day.work_date, next_day)
    truth = await asyncio.to_thread(truth_of_day, sandbox, day.userid, day.work_date, next_day)
    assert stored == truth
    off_duty = [r for r in stored[0] if r[1] == day.work_date and r[2] == "OffDuty"]
    assert [(r[3], r[8], r[12]) for r in off_duty] == [("Normal", ev["punch"]["record_id"], at)]


# ---------------------------------------------------------------------------------------------
# The sandbox side
# ---------------------------------------------------------------------------------------------
def test_punches_recompute_results_in_the_sandbox(sandbox: SandboxServer) -> None:
    area = area_of(sandbox)
    userid = sorted(area.world.groups_by_id[600001].members)[0]  # fixed 09:00–18:00
    first_new = last_work_date(sandbox) + timedelta(days=1)
    day = next(
        first_new + timedelta(days=n)
        for n in range(7)
        if (first_new + timedelta(days=n)).weekday() < 3
    )
    wd = _work_date_ms(day)
    minute = 60_000

    late = punch(sandbox, userid=userid, check_time=wd + (9 * 60 + 10) * minute)
    assert late["punch"]["check_type"] == "OnDuty"  # by time of day
    assert (late["punch"]["time_result"], late["punch"]["minutes"]) == ("Late", 10)
    serious = punch(
        sandbox, userid=userid, check_time=wd + (9 * 60 + 50) * minute, check_type="OnDuty"
    )
    assert not serious["punch"]["decides"]  # the first on-duty punch decides
    early = punch(sandbox, userid=userid, check_time=wd + (8 * 60 + 55) * minute)
    assert early["punch"]["decides"] and early["punch"]["time_result"] == "Normal"
    leave = punch(sandbox, userid=userid, check_time=wd + (17 * 60 + 30) * minute)
    assert (leave["punch"]["time_result"], leave["punch"]["minutes"]) == ("Early", 30)
    final = punch(
        sandbox,
        userid=userid,
        check_time=wd + (18 * 60 + 5) * minute,
        location_result="Outside",
    )
    assert final["punch"]["decides"]  # the last off-duty punch decides

    async def read() -> tuple[Any, Any, Any]:
        async with make_client(sandbox) as client:
            api = client.attendance
            return (
                await api.list_results([userid], day, day),
                await api.list_records([userid], day, day),
                await api.get_update_data(userid, day),
            )

    results, records, update = asyncio.run(read())
    by_type = {r.check_type: r for r in results}
    assert by_type["OnDuty"].time_result == "Normal"
    assert by_type["OnDuty"].user_check_time == early["punch"]["check_time"]
    assert by_type["OnDuty"].record_id == early["punch"]["record_id"]
    assert by_type["OffDuty"].time_result == "Normal"
    assert by_type["OffDuty"].location_result == "Outside"
    assert by_type["OffDuty"].record_id == final["punch"]["record_id"]
    made = [late, serious, early, leave, final]
    assert sorted(r.id for r in records) == sorted(p["punch"]["record_id"] for p in made)
    assert all(r.is_legal == "Y" and r.work_date == wd for r in records)
    raw = update.model_dump(by_alias=True)
    matched = [r for r in raw["check_record_list"] if r["valid_matched"]]
    assert len(raw["check_record_list"]) == 5 and len(matched) == 2

    # a night shift's punch after midnight belongs to the previous work date
    night = sorted(area.world.groups_by_id[600003].members)[0]
    n_day = next(
        first_new + timedelta(days=n)
        for n in range(7)
        if (first_new + timedelta(days=n)).weekday() < 4
    )
    at = _work_date_ms(n_day + timedelta(days=1)) + 30 * minute  # 00:30 the next day
    p = punch(sandbox, userid=night, check_time=at, check_type="OnDuty")["punch"]
    assert p["work_date"] == n_day.isoformat()
    assert (p["time_result"], p["minutes"]) == ("SeriousLate", 60)

    # a punch on a rest day is a punch without a result
    saturday = next(
        first_new + timedelta(days=n)
        for n in range(7)
        if (first_new + timedelta(days=n)).weekday() == 5
    )
    rest = punch(sandbox, userid=userid, check_time=_work_date_ms(saturday) + 10 * 60 * minute)
    assert rest["punch"]["result_id"] is None and not rest["punch"]["decides"]

    async def read_rest() -> tuple[Any, Any]:
        async with make_client(sandbox) as client:
            api = client.attendance
            return (
                await api.list_results([userid], saturday, saturday),
                await api.list_records([userid], saturday, saturday),
            )

    rest_results, rest_records = asyncio.run(read_rest())
    assert rest_results == []
    assert [r.id for r in rest_records] == [rest["punch"]["record_id"]]
    assert rest_records[0].work_date == _work_date_ms(saturday)


def test_mutation_errors_are_dingtalk_like(sandbox: SandboxServer) -> None:
    r = post(sandbox, "/sandbox/mutate/attendance/punch", {"userid": "nobody"})
    assert r.status_code == 404 and r.json()["errcode"] == 60121
    r = post(sandbox, "/sandbox/mutate/attendance/punch", {"check_type": "Lunch"})
    assert r.status_code == 400 and r.json()["errcode"] == 400002
    r = post(sandbox, "/sandbox/mutate/attendance/punch", {"check_time": "yesterday"})
    assert r.status_code == 400
    r = post(sandbox, "/sandbox/mutate/contacts/admin_add", {"userid": "nobody"})
    assert r.status_code == 404 and r.json()["errcode"] == 60121
    r = post(sandbox, "/sandbox/mutate/contacts/admin_add", {"dept_ids": [987654]})
    assert r.status_code == 404 and r.json()["errcode"] == 60003
    r = post(sandbox, "/sandbox/mutate/contacts/admin_remove", {"userid": "nobody"})
    assert r.status_code == 404

    company = sandbox.company
    main = company.main_admin_userid
    before = dict(company.admins)
    r = post(sandbox, "/sandbox/mutate/contacts/admin_remove", {"userid": main})
    assert r.status_code == 400 and "last main administrator" in r.json()["error"]
    r = post(sandbox, "/sandbox/mutate/contacts/admin_add", {"userid": main, "sys_level": 2})
    assert r.status_code == 400
    assert company.admins == before
    # with a second main administrator the first one may go
    other = next(u for u in sorted(company.users) if u not in company.admins)
    assert (
        post(
            sandbox, "/sandbox/mutate/contacts/admin_add", {"userid": other, "sys_level": 1}
        ).status_code
        == 200
    )
    assert (
        post(sandbox, "/sandbox/mutate/contacts/admin_remove", {"userid": main}).status_code == 200
    )
    assert company.admins[other] == 1 and main not in company.admins

    async def read() -> tuple[Any, Any]:
        async with make_client(sandbox) as client:
            admins = await client.contacts.list_admins()
            return admins, await client.contacts.get_admin_scope(other)

    admins, scope = asyncio.run(read())
    served = {a.userid: a.sys_level for a in admins}
    assert served == company.admins and list(scope) == [1]


@pytest.mark.parametrize("events_format", ["legacy", "current"])
def test_pushed_shapes_follow_events_md(
    sandbox: SandboxServer,
    engine: Engine,
    store_only_receiver: ReceiverServer,
    events_format: str,
) -> None:
    corp = sandbox.app.corp_id
    sandbox.configure(events_format=events_format)
    subscribe(sandbox, store_only_receiver)
    p = punch(sandbox, location_method="ATM", device_sn="DSN-1", check_by_user=False)
    a = mutate(sandbox, "admin_add")
    rows = wait_for(lambda: (lambda rs: rs if len(rs) == 2 else None)(inbox(engine, corp)))
    raw = {r["event_type"]: r["payload"]["raw"] for r in rows}
    punched, added = raw["attendance_check_record"], raw["org_admin_add"]
    assert punched["EventType"] == "attendance_check_record"
    assert added["EventType"] == "org_admin_add"
    if events_format == "legacy":
        items = punched["DataList"]
        assert "dataList" not in punched and "eventId" not in punched
        assert added["UserId"] == a["userId"] and "userId" not in added
        assert isinstance(added["TimeStamp"], str) and added["CorpId"] == corp
    else:
        items = punched["dataList"]
        assert "DataList" not in punched and punched["eventId"] == p["event_id"]
        assert punched["BizId"] == p["event_id"] and isinstance(punched["EventTime"], int)
        assert added["userId"] == a["userId"] and added["eventId"] == a["event_id"]
    assert len(items) == 1 and set(items[0]) == DATA_ITEM_KEYS
    item = items[0]
    assert item["userId"] == p["punch"]["userid"] and item["checkTime"] == p["punch"]["check_time"]
    assert item["bizId"] == p["punch"]["biz_id"] and item["corpId"] == corp
    assert (item["locationMethod"], item["deviceSN"], item["checkByUser"]) == (
        "ATM",
        "DSN-1",
        False,
    )
    assert item["locationResult"] == "Normal" and isinstance(item["groupId"], int)


def test_an_administrator_who_leaves_loses_the_role_in_the_database(
    sandbox: SandboxServer, engine: Engine, receiver: ReceiverServer
) -> None:
    corp = sandbox.app.corp_id
    initial_sync(sandbox, engine)
    subscribe(sandbox, receiver)
    company = sandbox.company
    sub_admin = sorted(u for u, lv in company.admins.items() if lv == 2)[0]

    def roles_of(userid: str) -> list[int]:
        with engine.connect() as conn:
            return [
                r.role_id
                for r in conn.execute(
                    select(role_members.c.role_id).where(
                        role_members.c.corp_id == corp, role_members.c.userid == userid
                    )
                )
            ]

    assert roles_of(sub_admin) != []  # synced as a member of 子管理员
    ev = mutate(sandbox, "leave", userid=sub_admin)
    assert ev["event_type"] == "user_leave_org"
    assert sub_admin not in company.admins and sub_admin not in company.admin_scopes
    wait_processed_since(engine, corp, ev["born_ms"])
    with engine.connect() as conn:
        d = repo.load_directory(conn, corp)
    assert d["users"][sub_admin]["status"] == "left"
    assert sub_admin not in d["admins"] and sub_admin not in d["scopes"]
    assert {u: int(r["sys_level"]) for u, r in d["admins"].items()} == company.admins
    assert directory_differences(engine, corp, company) == []

    assert roles_of(sub_admin) == []  # out of 子管理员 and every other role

    main = company.main_admin_userid
    if sum(1 for lv in company.admins.values() if lv == 1) == 1:
        r = post(sandbox, "/sandbox/mutate/contacts/leave", {"userid": main})
        assert r.status_code == 400 and "last main administrator" in r.json()["error"]
        assert main in company.users and company.admins[main] == 1
