"""The processor's inbox against a real sandbox and database: a batch of deliveries where one
cannot be stored (PostgreSQL), and events a dead worker left ``processing``."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import Engine, text, update

from dingsync.dingtalk.models.events import event_from_http
from dingsync.sandbox import SandboxServer
from dingsync.store import repo_events
from dingsync.store.schema import utcnow
from dingsync.store.schema_events import event_inbox
from dingsync.sync.events import EventProcessor
from helpers.events import inbox, make_client
from helpers.postgres import require_postgres


def _event(event_id: str, userid: str = "nobody") -> object:
    return event_from_http(
        {"EventType": "user_modify_org", "UserId": [userid], "eventId": event_id}
    )


def test_one_event_that_cannot_be_stored_fails_alone_on_postgres(pg_url: str) -> None:
    require_postgres()
    from dingsync.store import db

    engine = db.create_engine_for(pg_url)
    db.migrate(engine)
    with engine.begin() as conn:  # the database refuses exactly one of the deliveries
        conn.execute(
            text(
                "CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.event_id = 'evt-bad' THEN RAISE EXCEPTION 'refused'; END IF; "
                "RETURN NEW; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER refuse_bad BEFORE INSERT ON event_inbox "
                "FOR EACH ROW EXECUTE FUNCTION refuse_bad()"
            )
        )

    async def deliver() -> list[int | BaseException | None]:
        processor = EventProcessor(None, engine, "ding-corp")
        ids = [f"evt-{i}" for i in range(10)] + ["evt-bad"] + [f"evt-{i}" for i in range(10, 19)]
        results = await asyncio.gather(
            *(processor.store(_event(i), "http") for i in ids),  # type: ignore[arg-type]
            return_exceptions=True,
        )
        await processor.aclose()
        return results

    try:
        results = asyncio.run(deliver())
        failed = [r for r in results if isinstance(r, BaseException)]
        assert len(failed) == 1 and "refused" in str(failed[0])
        assert isinstance(results[10], BaseException)
        stored = [r for r in results if isinstance(r, int)]
        assert len(stored) == 19
        assert sorted(r["event_id"] for r in inbox(engine, "ding-corp")) == sorted(
            [f"evt-{i}" for i in range(19)]
        )
    finally:
        engine.dispose()


def test_events_a_dead_worker_left_processing_are_retried(
    default_sandbox: SandboxServer, engine: Engine
) -> None:
    sb = default_sandbox
    corp = sb.app.corp_id
    userid = next(iter(sb.company.users))

    async def run() -> None:
        async with make_client(sb) as client:
            dead = EventProcessor(client, engine, corp)
            stale = await dead.store(_event("evt-stale", userid), "http")  # type: ignore[arg-type]
            live = await dead.store(_event("evt-live", userid), "http")  # type: ignore[arg-type]
            assert stale is not None and live is not None
            with engine.begin() as conn:  # claimed, then the worker died (no finish)
                assert repo_events.claim_event(conn, stale)
                assert repo_events.claim_event(conn, live)
                conn.execute(
                    update(event_inbox)
                    .where(event_inbox.c.id == stale)
                    .values(lease_until=utcnow() - timedelta(minutes=1))
                )
            await dead.aclose()

            # a restarted receiver requeues and processes the expired one only
            fresh = EventProcessor(client, engine, corp)
            assert await fresh.requeue_expired() == [stale]
            await fresh.wait_idle()
            status = {r["event_id"]: r["status"] for r in inbox(engine, corp)}
            assert status == {"evt-stale": "processed", "evt-live": "processing"}

            # the default replay (what `sync` and `events replay` run) picks up expired leases
            with engine.begin() as conn:
                conn.execute(
                    update(event_inbox)
                    .where(event_inbox.c.id == live)
                    .values(lease_until=utcnow() - timedelta(seconds=1))
                )
            outcomes = await fresh.replay()
            assert outcomes == {"processed": 1}
            await fresh.aclose()

    asyncio.run(run())
    rows = {r["event_id"]: r for r in inbox(engine, corp)}
    assert {k: r["status"] for k, r in rows.items()} == {
        "evt-stale": "processed",
        "evt-live": "processed",
    }
    assert all(r["attempts"] == 2 and r["lease_until"] is None for r in rows.values())
