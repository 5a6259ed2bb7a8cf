"""The ISV tables (``store/isv.py``) on SQLite and PostgreSQL: a suite ticket replaces the stored
one only when newer — also with two receivers (own engines, own threads) storing pushes that
reach them out of order at the same time — and the company rows' status rules."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from dingsync.store import db
from dingsync.store import isv as repo_isv
from dingsync.store.isv import SuiteTicketStore


def test_newer_only(engine: sa.Engine) -> None:
    store = SuiteTicketStore(engine)
    assert store.current_sync("suiteA") is None
    assert store.offer_sync("suiteA", "t2", 2_000, "stream")
    assert not store.offer_sync("suiteA", "t1", 1_000, "http")  # older: ignored
    assert not store.offer_sync("suiteA", "t2bis", 2_000, "http")  # as new: kept the first
    assert store.current_sync("suiteA") == "t2"
    assert store.offer_sync("suiteA", "t3", 3_000, "http")
    assert store.current_sync("suiteA") == "t3"
    assert store.current_sync("suiteB") is None  # per suite
    with engine.connect() as conn:
        row = repo_isv.ticket_row(conn, "suiteA")
    assert row is not None and (row["ticket_ms"], row["source"]) == (3_000, "http")
    with pytest.raises(ValueError):
        store.offer_sync("suiteA", "", 9_000)


def test_two_receivers_out_of_order_keep_the_newest(db_url: str, tmp_path: Path) -> None:
    engines = [db.create_engine_for(db_url) for _ in range(2)]
    db.migrate(engines[0])
    try:
        rng = random.Random(15)
        for round_no in range(5):
            suite = f"suite{round_no}"
            pushes = [(f"ticket-{round_no}-{i}", 1_700_000_000_000 + i * 1000) for i in range(40)]
            newest = pushes[-1][0]
            rng.shuffle(pushes)
            halves = [pushes[0::2], pushes[1::2]]
            barrier = threading.Barrier(2)
            errors: list[BaseException] = []

            threads = [
                threading.Thread(
                    target=_receive, args=(engines[i], suite, halves[i], barrier, errors)
                )
                for i in range(2)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert errors == []
            assert SuiteTicketStore(engines[1]).current_sync(suite) == newest
    finally:
        for e in engines:
            e.dispose()


def _receive(
    engine: sa.Engine,
    suite: str,
    items: list[tuple[str, int]],
    barrier: threading.Barrier,
    errors: list[BaseException],
) -> None:
    """One receiver: its own engine, storing its pushes as they reach it."""
    store = SuiteTicketStore(engine)
    try:
        barrier.wait()
        for ticket, stamp in items:
            store.offer_sync(suite, ticket, stamp, "stream")
    except BaseException as exc:  # reported by the test
        errors.append(exc)


def test_company_rows_follow_the_newest_event(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        assert repo_isv.upsert_authorised(
            conn, "s", "dingA", {"corp_name": "甲", "agent_id": 7, "admin_list": ["u1"]}, 1_000
        )
        row = repo_isv.corp_row(conn, "s", "dingA")
        assert row is not None and row["status"] == "authorised" and row["sync_requested_at"]
        assert repo_isv.take_sync_requests(conn, "s") == ["dingA"]
        assert repo_isv.take_sync_requests(conn, "s") == []
        assert repo_isv.mark_relieved(conn, "s", "dingA", 3_000)
        # a late org_suite_auth older than the relief changes nothing
        assert not repo_isv.upsert_authorised(conn, "s", "dingA", {"corp_name": "乙"}, 2_000)
        row = repo_isv.corp_row(conn, "s", "dingA")
        assert row is not None and row["status"] == "relieved" and row["corp_name"] == "甲"
        assert repo_isv.set_app_status(conn, "s", "dingA", "stopped", 4_000)
        # re-authorised later: authorised again, app active, a full sync requested
        assert repo_isv.upsert_authorised(
            conn, "s", "dingA", {"permanent_code": "secret-code"}, 5_000
        )
        row = repo_isv.corp_row(conn, "s", "dingA")
        assert row is not None
        assert (row["status"], row["app_status"]) == ("authorised", "active")
        assert repo_isv.take_sync_requests(conn, "s") == ["dingA"]
        shown = repo_isv.public_row(row)
        assert "permanent_code" not in shown and shown["has_permanent_code"] is True
        assert "secret-code" not in repr(shown)
