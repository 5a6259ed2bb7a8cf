"""A third-party suite end to end over loopback HTTP: the sandbox suite pushes tickets and auth
events over Stream (and, legacy, over the encrypted HTTP callback) to our receivers; the ISV
tables follow; each company syncs with its own company token equal to its truth; a relieved
company is marked relieved (its data kept); re-authorised with a smaller scope, its next sync
follows the scope. Tickets pushed out of order to two receivers keep the newest."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine, select

from dingsync.dingtalk.crypto import CallbackCrypto
from dingsync.dingtalk.isv import NotAuthorisedError
from dingsync.dingtalk.models.events import Event, event_from_http
from dingsync.sandbox.isv import IsvConfig, IsvSandboxServer
from dingsync.store import isv as repo_isv
from dingsync.store.schema import users
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import run_sync
from dingsync.sync.events import EventProcessor
from dingsync.sync.events_stream import StreamConsumer
from dingsync.sync.isv import IsvEventProcessor, IsvService, authorised_corps
from helpers.contacts import assert_db_equals_company
from helpers.events import AES_KEY, TOKEN, ReceiverServer, inbox, wait_for


def service_for(sb: IsvSandboxServer, engine: Engine, **kw: Any) -> IsvService:
    return IsvService.for_suite(
        engine,
        sb.suite_key,
        sb.suite_secret,
        oapi_url=sb.base_url,
        api_url=sb.base_url,
        qps_per_api=None,
        max_retries=2,
        backoff_base=0.01,
        **kw,
    )


async def until(check: Callable[[], Any], limit: float = 20.0) -> Any:
    deadline = time.monotonic() + limit
    last: Any = None
    while time.monotonic() < deadline:
        last = await asyncio.to_thread(check)
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {limit}s (last: {last!r})")


def rows(engine: Engine, suite_key: str) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return {r["corp_id"]: r for r in repo_isv.corp_rows(conn, suite_key)}


async def mutate(sb: IsvSandboxServer, kind: str, **body: Any) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        resp = await http.post(f"{sb.base_url}/sandbox/mutate/isv/{kind}", json=body)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def test_five_companies_authorised_synced_relieved_and_rescoped(engine: Engine) -> None:
    corps = [(901, 24), (902, 36), (903, 30), (904, 20), (905, 42)]
    cfg = IsvConfig(seed=21, corps=corps, days=1)
    with IsvSandboxServer(cfg) as sb:
        service = service_for(sb, engine)
        notified: list[tuple[str, str, str]] = []
        service.listeners.append(lambda c, s, a: notified.append((c, s, a)))
        processor = IsvEventProcessor(service)
        consumer = StreamConsumer(
            processor, sb.base_url, sb.suite_key, sb.suite_secret, backoff_base=0.05
        )
        task = asyncio.create_task(consumer.run())
        try:
            # the first ticket, then five org_suite_auth: all five stored with their auth info
            await until(lambda: len({c for c, st, _ in notified if st == "authorised"}) == 5)
            isv = await asyncio.to_thread(httpx.get, f"{sb.base_url}/sandbox/isv")
            ticket = isv.json()["suite_ticket"]
            assert service.tickets.current_sync(sb.suite_key) == ticket
            found = rows(engine, sb.suite_key)
            assert set(found) == set(sb.corps)
            for corp_id, corp in sb.corps.items():
                company = corp.state.company
                row = found[corp_id]
                assert row["status"] == "authorised" and row["app_status"] == "active"
                assert row["corp_name"] == company.corp_name
                assert str(row["agent_id"]) == corp.agent_id
                assert row["admin_list"] == [
                    company.main_admin_userid,
                    *company.sub_admin_userids,
                ]
                assert row["auth_scope"] == {"authedDept": [1], "authedUser": []}
                assert row["permanent_code"] is None  # Stream suites need none
            # each one's first full sync is due in the registry until one succeeds
            assert service.full_syncs_due() == sorted(sb.corps)
            # the events' permanent codes (secrets a Stream suite never needs) are not kept
            stored_events = json.dumps(inbox(engine, f"isv:{sb.suite_key}"), default=str)
            assert "org_suite_auth" in stored_events
            for corp in sb.corps.values():
                assert corp.permanent_code and corp.permanent_code not in stored_events
            assert {c for c, s, _ in notified if s == "authorised"} == set(sb.corps)

            # every company syncs with its own company token, equal to its truth
            for corp_id, corp in sb.corps.items():
                client = service.suite.corp_client(corp_id)
                await run_sync(client, engine, corp_id, [ContactsSync()])
                assert_db_equals_company(engine, corp_id, corp.state.company)

            # one company relieves the suite: relieved, its token refused, its data kept
            ids = list(sb.corps)
            gone = ids[0]
            await mutate(sb, "relieve", corp_id=gone)
            await until(lambda: rows(engine, sb.suite_key)[gone]["status"] == "relieved")
            assert [r["corp_id"] for r in authorised_corps(engine, sb.suite_key)] == sorted(ids[1:])
            assert_db_equals_company(engine, gone, sb.corps[gone].state.company)  # data kept
            client = service.suite.corp_client(gone)
            await client.invalidate_access_token()
            try:
                await client.get_access_token()
                raise AssertionError("a relieved company got a token")
            except NotAuthorisedError:
                pass
            assert (gone, "relieved", "active") in notified

            # another company re-authorises with a smaller contacts scope: the row follows and
            # its next sync reads only that part of the directory
            smaller = ids[2]
            corp = sb.corps[smaller]
            company = corp.state.company
            dept = max(
                (d for d in company.departments.values() if d.parent_id == 1),
                key=lambda d: len(corp.state.subtrees([d.dept_id])),
            ).dept_id
            await mutate(sb, "authorize", corp_id=smaller, scope_dept_ids=[dept])
            await until(
                lambda: (
                    rows(engine, sb.suite_key)[smaller]["auth_scope"]
                    == {"authedDept": [dept], "authedUser": []}
                )
            )
            assert smaller in service.full_syncs_due()
            client = service.suite.corp_client(smaller)
            started = datetime.now(UTC)
            await run_sync(client, engine, smaller, [ContactsSync()])
            in_scope = {u for u in company.users if corp.state.in_contacts_scope(u)}
            assert in_scope and len(in_scope) < len(company.users)
            with engine.connect() as conn:
                stored_users = set(
                    conn.execute(
                        select(users.c.userid).where(
                            users.c.corp_id == smaller, users.c.synced_at >= started
                        )
                    )
                    .scalars()
                    .all()
                )
            assert stored_users == in_scope  # what the second sync read: the scope only

            # the app stopped and restored by the company's administrator
            other = ids[3]
            await mutate(sb, "app", corp_id=other, action="stop")
            await until(lambda: rows(engine, sb.suite_key)[other]["app_status"] == "stopped")
            await mutate(sb, "app", corp_id=other, action="restore")
            await until(lambda: rows(engine, sb.suite_key)[other]["app_status"] == "active")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await processor.wait_idle()
            await service.suite.aclose()


def test_legacy_suite_over_the_http_callback(engine: Engine) -> None:
    cfg = IsvConfig(seed=22, corps=[(911, 20), (912, 26)], days=1, flow="legacy",
                    authorised=False)  # fmt: skip
    with IsvSandboxServer(cfg) as sb:
        crypto = CallbackCrypto(TOKEN, AES_KEY, sb.suite_key)  # ISV receiver id: the suite key
        services: list[IsvService] = []

        def make() -> IsvEventProcessor:
            service = service_for(sb, engine, suite_token_endpoint="service",
                                  corp_token_endpoint="service")  # fmt: skip
            services.append(service)
            return IsvEventProcessor(service)

        with ReceiverServer(crypto, make) as receiver:
            sub = httpx.post(
                f"{sb.base_url}/sandbox/events/callback",
                json={"url": receiver.url, "token": TOKEN, "aes_key": AES_KEY},
            )
            assert sub.status_code == 200 and sub.json()["receiver_id"] == sb.suite_key
            httpx.post(f"{sb.base_url}/sandbox/isv/push_ticket", json={})
            ticket = httpx.get(f"{sb.base_url}/sandbox/isv").json()["suite_ticket"]
            wait_for(lambda: services[0].tickets.current_sync(sb.suite_key) == ticket)
            for corp_id in sb.corps:
                httpx.post(f"{sb.base_url}/sandbox/mutate/isv/authorize", json={"corp_id": corp_id})
            found = wait_for(
                lambda: (
                    [r for r in rows(engine, sb.suite_key).values() if r["activated"]]
                    if len([r for r in rows(engine, sb.suite_key).values() if r["activated"]]) == 2
                    else None
                ),
                timeout=20,
            )
            for row in found:
                corp = sb.corps[row["corp_id"]]
                assert corp.activated  # activate_suite was called
                assert row["permanent_code"] == corp.permanent_code
                assert row["corp_name"] == corp.state.company.corp_name
            # the signed get_corp_token works with the stored ticket
            corp_id = next(iter(sb.corps))
            client = services[0].suite.corp_client(corp_id)
            body = receiver.run_in_loop(
                client.oapi("POST", "/topapi/user/count", json={"only_active": False})
            )
            assert body["result"]["count"] == len(sb.corps[corp_id].state.company.users)
            # older suites: get_corp_token?suite_access_token= with the stored permanent code
            other = list(sb.corps)[1]
            sb.corps[other].state.invalidate_tokens()  # the cached company token dies
            service = service_for(sb, engine, corp_token_endpoint="permanent")
            by_code = service.suite.corp_client(other)
            body = receiver.run_in_loop(
                by_code.oapi("POST", "/topapi/user/count", json={"only_active": False})
            )
            assert body["result"]["count"] == len(sb.corps[other].state.company.users)
            assert service.suite.http.calls["/service/get_corp_token"] == 1
            assert "/v1.0/oauth2/corpAccessToken" not in service.suite.http.calls
            receiver.run_in_loop(service.suite.aclose())
            # suite_relieve (legacy; TimeStamp a String)
            httpx.post(f"{sb.base_url}/sandbox/mutate/isv/relieve", json={"corp_id": corp_id})
            wait_for(lambda: rows(engine, sb.suite_key)[corp_id]["status"] == "relieved")
            assert rows(engine, sb.suite_key)[corp_id]["permanent_code"] is None
            receiver.run_in_loop(services[0].suite.aclose())


async def test_tickets_out_of_order_to_two_receivers_keep_the_newest(
    engine: Engine, db_url: str
) -> None:
    from dingsync.store import db

    other_engine = db.create_engine_for(db_url)  # the second receiver's own pool
    cfg = IsvConfig(seed=23, corps=[(921, 20)], days=1)
    with IsvSandboxServer(cfg) as sb:
        receivers = [IsvEventProcessor(service_for(sb, e)) for e in (engine, other_engine)]
        base = 1_800_000_000_000
        pushes = [
            event_from_http({"SuiteKey": sb.suite_key, "EventType": "suite_ticket",
                             "TimeStamp": base + i * 1000, "SuiteTicket": f"ticket-{i}"})
            for i in range(30)
        ]  # fmt: skip
        # receiver 0 gets the newer half first, receiver 1 the older half, concurrently and
        # each in reverse order
        order = [list(reversed(pushes[15:])), list(reversed(pushes[:15]))]

        async def deliver(proc: IsvEventProcessor, events: list[Event]) -> None:
            for ev in events:
                await proc.store(ev, "http")

        try:
            await asyncio.gather(*(deliver(p, o) for p, o in zip(receivers, order, strict=True)))
            assert receivers[0].service.tickets.current_sync(sb.suite_key) == "ticket-29"
            # Stream frames too: the ticket's time is the frame's eventBornTime
            frame = {
                "headers": {"eventType": "suite_ticket", "eventId": "e-old",
                            "eventBornTime": str(base - 5), "eventCorpId": "x"},
                "data": json.dumps({"suiteTicket": "too-old"}),
            }  # fmt: skip
            from dingsync.dingtalk.models.events import event_from_stream

            await receivers[1].store(event_from_stream(frame), "stream")
            assert receivers[1].service.tickets.current_sync(sb.suite_key) == "ticket-29"
        finally:
            for r in receivers:
                await r.service.suite.aclose()
            other_engine.dispose()


async def test_sync_http_bundles_carry_tickets_and_auth_changes(engine: Engine) -> None:
    """Format 4 (SyncHTTP, events.md §2.1): ``biz_type`` 2 (ticket), 4 (auth change), 7 (app
    status) items in one ``SYNC_HTTP_PUSH_HIGH`` push."""
    cfg = IsvConfig(seed=24, corps=[(941, 20), (942, 21)], days=1)
    with IsvSandboxServer(cfg) as sb:
        isv = await asyncio.to_thread(httpx.get, f"{sb.base_url}/sandbox/isv")
        ticket = isv.json()["suite_ticket"]
        first, second = list(sb.corps)

        def item(biz_type: int, corp_id: str, data: dict[str, Any]) -> dict[str, Any]:
            return {"biz_type": biz_type, "corp_id": corp_id, "biz_id": sb.suite.suite_id,
                    "subscribe_id": f"{sb.suite.suite_id}_0", "status": 0,
                    "biz_data": json.dumps(data)}  # fmt: skip

        bundle = event_from_http(
            {
                "EventType": "SYNC_HTTP_PUSH_HIGH",
                "bizData": [
                    item(2, sb.state.app.corp_id, {"syncAction": "suite_ticket",
                                                   "suiteTicket": ticket}),
                    item(4, first, {"syncAction": "org_suite_auth"}),
                    item(4, second, {"syncAction": "org_suite_auth"}),
                    item(7, second, {"syncAction": "org_micro_app_stop", "agentId": 1}),
                ],
            }
        )  # fmt: skip
        service = service_for(sb, engine)
        processor = IsvEventProcessor(service)
        try:
            row_id = await processor.store(bundle, "http")
            assert service.tickets.current_sync(sb.suite_key) == ticket  # before any processing
            assert row_id is not None
            assert await processor.process(row_id) == "processed"
            found = rows(engine, sb.suite_key)
            assert found[first]["corp_name"] == sb.corps[first].state.company.corp_name
            assert (found[second]["status"], found[second]["app_status"]) == (
                "authorised",
                "stopped",
            )
        finally:
            await service.suite.aclose()


async def test_company_events_arrive_on_the_suite_channel_and_reach_that_company(
    engine: Engine,
) -> None:
    """A company's directory change goes out on the suite's Stream connection with
    ``eventCorpId`` naming it; the suite's processor hands it to that company's processor."""
    cfg = IsvConfig(seed=25, corps=[(961, 20), (962, 24)], days=1)
    with IsvSandboxServer(cfg) as sb:
        service = service_for(sb, engine)
        ready: set[str] = set()
        service.listeners.append(lambda c, s, _a: ready.add(c) if s == "authorised" else None)
        lookup = service.corp_processors()
        per_corp: dict[str, EventProcessor] = {}

        def corp_processor(corp_id: str) -> EventProcessor | None:
            found = lookup(corp_id)
            if found is not None:
                per_corp[corp_id] = found
            return found

        processor = IsvEventProcessor(service, corp_processors=corp_processor)
        consumer = StreamConsumer(processor, sb.base_url, sb.suite_key, sb.suite_secret)
        task = asyncio.create_task(consumer.run())
        try:
            await until(lambda: len(ready) == 2)
            first, second = list(sb.corps)
            for corp_id in (first, second):
                await run_sync(service.suite.corp_client(corp_id), engine, corp_id,
                               [ContactsSync()])  # fmt: skip
            async with httpx.AsyncClient() as http:
                resp = await http.post(
                    f"{sb.corp_url(second)}/sandbox/mutate/contacts/hire", json={}
                )
            assert resp.status_code == 200, resp.text
            hired = resp.json()["userId"][0]

            def stored(corp_id: str) -> bool:
                with engine.connect() as conn:
                    found = conn.execute(
                        select(users.c.userid).where(
                            users.c.corp_id == corp_id, users.c.userid == hired
                        )
                    ).first()
                return found is not None

            await until(lambda: stored(second))
            assert not stored(first)  # company A never sees B's person
            assert_db_equals_company(engine, second, sb.corps[second].state.company)
            # once relieved, the company's events are no longer followed
            await mutate(sb, "relieve", corp_id=second)
            # isv_corp_auth and the registry (the routing source) change in one transaction
            await until(lambda: rows(engine, sb.suite_key)[second]["status"] == "relieved")
            assert lookup(second) is None and lookup(first) is not None
            assert lookup("ding-not-a-company") is None
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await processor.wait_idle()
            for p in per_corp.values():
                await p.wait_idle()
            await service.suite.aclose()
