"""The event inbox's repository on SQLite and PostgreSQL: long event ids de-duplicated on the
whole id, and the processing lease (claim, take-over after expiry, requeue)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, update

from dingsync.store import repo_events
from dingsync.store.schema import utcnow
from dingsync.store.schema_events import event_inbox

CORP = "ding-corp"


def _insert(engine: Engine, event_id: str) -> int | None:
    with engine.begin() as conn:
        return repo_events.insert_event(
            conn,
            corp_id=CORP,
            event_id=event_id,
            event_type="user_modify_org",
            source="http",
            payload={"event_id": event_id},
        )


def _row(engine: Engine, row_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        row = repo_events.get_event(conn, row_id)
    assert row is not None
    return row


def test_long_event_ids_are_deduplicated_on_the_whole_id(engine: Engine) -> None:
    common = "evt-" + "x" * 200  # DingTalk's ids are opaque: two may share 128 characters
    first, second = common + "-a", common + "-b"
    a, b = _insert(engine, first), _insert(engine, second)
    assert a is not None and b is not None and a != b  # distinct events stay distinct
    assert _insert(engine, first) is None and _insert(engine, second) is None  # duplicates
    keys = {_row(engine, a)["event_id"], _row(engine, b)["event_id"]}
    assert all(len(k) == repo_events.EVENT_ID_MAX for k in keys) and len(keys) == 2
    assert _row(engine, a)["event_id"] == repo_events.inbox_key(first)
    assert repo_events.inbox_key("short-id") == "short-id"  # ids that fit are kept as sent
    exact = "y" * repo_events.EVENT_ID_MAX
    assert repo_events.inbox_key(exact) == exact
    c = _insert(engine, exact)
    assert c is not None and _row(engine, c)["event_id"] == exact


def test_a_claim_holds_a_lease_and_an_expired_one_is_requeued(engine: Engine) -> None:
    row_id = _insert(engine, "evt-lease")
    assert row_id is not None
    with engine.begin() as conn:
        assert repo_events.claim_event(conn, row_id)
    row = _row(engine, row_id)
    assert row["status"] == "processing" and row["lease_until"] > utcnow()
    with engine.begin() as conn:  # a live lease is neither taken over nor requeued
        assert not repo_events.claim_event(conn, row_id)
        assert repo_events.requeue_expired(conn, CORP) == []
    with engine.begin() as conn:  # the worker died ten minutes ago
        conn.execute(
            update(event_inbox)
            .where(event_inbox.c.id == row_id)
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
        assert repo_events.requeue_expired(conn, CORP) == [row_id]
        assert repo_events.requeue_expired(conn, "another-corp") == []
    row = _row(engine, row_id)
    assert row["status"] == "pending" and row["lease_until"] is None
    assert "lease expired" in row["last_error"]
    # an expired claim may also be taken over directly; finishing ends the lease
    with engine.begin() as conn:
        assert repo_events.claim_event(conn, row_id, lease=timedelta(seconds=-1))
        assert repo_events.claim_event(conn, row_id, ("failed",))  # expired: taken over
        repo_events.finish_event(conn, row_id, "processed")
    row = _row(engine, row_id)
    assert row["status"] == "processed" and row["lease_until"] is None
    assert row["attempts"] == 3
