"""``reports.content_keys``, ``content_values``, ``content_states`` and ``receiver_ids``
(migration 0029): a report's contents and receivers on its own row, kept by ``repo_reports``
with ``report_contents`` and ``report_receivers``, on SQLite, PostgreSQL and MariaDB. After
every kind of write — new reports, edits that drop, add or reorder contents, contents or
receivers left out (kept as stored), lists given for reports whose row is not written,
``replace_receivers`` alone, empty lists, text with NUL and the escape character, states —
each report's four values are exactly what its rows in the normalized tables say (receivers
in the database's own ``ORDER BY``); the migration fills them from rows written before it the
same way, and the export's raw read (the JSON text's bytes, strings in the store's escape)
gives the same lists."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import Connection, Engine, select

from dingsync.export.reports import _json_bytes
from dingsync.store import db, repo, repo_corps, repo_reports
from dingsync.store.nul import escape_nul
from dingsync.store.schema_reports import report_contents, report_receivers, reports

CORP = "corp-lists"
OTHER = "corp-lists-other"
KEYS = ["今日完成", "明日计划", "a", "a\x00b", "\ufdd0k", None]
VALUES = ["做完了", "", None, "x\x00y", "\ufdd0\ufdd0", "长" * 1000]
STATES = [None, None, None, "table", "truncated", "full"]
USERS = ["u1", "u10", "u2", "U3", "manager-01", "张三", "a\x00", "\ufdd0z", "z"]
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


COLUMNS = ("content_keys", "content_values", "content_states", "receiver_ids")
Lists = tuple[Any, Any, Any, Any]


def _expected(conn: Connection, corp: str) -> dict[str, Lists]:
    """``report_id → (content_keys, content_values, content_states, receiver_ids)`` from the
    normalized tables (the oracle): contents by position (states only when one is set, all
    ``None`` without contents), receivers in the database's ``ORDER BY userid``."""
    c, t = report_contents, report_receivers
    items: dict[str, list[tuple[Any, Any, Any]]] = {}
    for rid, key, value, state in conn.execute(
        select(c.c.report_id, c.c.key, c.c.value, c.c.state)
        .where(c.c.corp_id == corp)
        .order_by(c.c.report_id, c.c.position)
    ):
        items.setdefault(rid, []).append((key, value, state))
    users: dict[str, list[str]] = {}
    for rid, userid in conn.execute(
        select(t.c.report_id, t.c.userid).where(t.c.corp_id == corp).order_by(t.c.userid)
    ):
        users.setdefault(rid, []).append(userid)
    out: dict[str, Lists] = {}
    for rid in conn.execute(select(reports.c.report_id).where(reports.c.corp_id == corp)).scalars():
        got = items.get(rid)
        states = [s for _, _, s in got or []]
        out[rid] = (
            [k for k, _, _ in got] if got else None,
            [v for _, v, _ in got] if got else None,
            states if any(s is not None for s in states) else None,
            users.get(rid),
        )
    return out


def _stored(conn: Connection, corp: str) -> dict[str, Lists]:
    r = reports
    return {
        rid: (keys, values, states, receivers)
        for rid, keys, values, states, receivers in conn.execute(
            select(r.c.report_id, *(r.c[name] for name in COLUMNS)).where(r.c.corp_id == corp)
        )
    }


def _raw(conn: Connection, corp: str) -> dict[str, Lists]:
    """The four columns as the export reads them (JSON text's bytes, strings escaped), parsed."""
    r = reports
    out: dict[str, Lists] = {}
    for rid, *lists in conn.execute(
        select(
            sa.type_coerce(r.c.report_id, sa.types.NULLTYPE),
            *(_json_bytes(conn, r.c[name]) for name in COLUMNS),
        ).where(r.c.corp_id == corp)
    ):
        keys, values, states, receivers = (None if v is None else orjson.loads(v) for v in lists)
        out[rid] = (keys, values, states, receivers)
    return out


def _escaped(expected: dict[str, Lists]) -> dict[str, Lists]:
    def esc(value: Any) -> Any:
        if isinstance(value, str):
            return escape_nul(value)
        if isinstance(value, list):
            return [esc(v) for v in value]
        return value

    return {
        escape_nul(rid): (esc(k), esc(v), esc(s), esc(t)) for rid, (k, v, s, t) in expected.items()
    }


def _check(conn: Connection, corp: str) -> None:
    expected = _expected(conn, corp)
    assert _stored(conn, corp) == expected
    assert _raw(conn, corp) == _escaped(expected)


def _contents(rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "key": rng.choice(KEYS),
            "sort": str(i),
            "type": "1",
            "value": rng.choice(VALUES),
            "state": rng.choice(STATES),
        }
        for i in range(rng.randint(0, 6))
    ]


def _receivers(rng: random.Random) -> list[str]:
    return [rng.choice(USERS) for _ in range(rng.randint(0, 5))]  # duplicates included


def test_lists_follow_every_kind_of_write(engine: Engine) -> None:
    rng = random.Random(29)
    ids = [f"r{i}" for i in range(20)] + ["r\x00nul", "r\ufdd0esc"]
    known: set[str] = set()
    for step in range(50):
        rows: list[dict[str, Any]] = []
        contents: dict[str, list[Any]] = {}
        receivers: dict[str, list[str]] = {}
        for rid in rng.sample(ids, rng.randint(1, 8)):
            if rid in known and rng.random() < 0.2:
                # Lists of a report whose row is not written in this batch.
                if rng.random() < 0.5:
                    contents[rid] = _contents(rng)
                else:
                    receivers[rid] = _receivers(rng)
                continue
            rows.append({"report_id": rid, "template_name": "日报", "create_time": T0})
            if rid not in known or rng.random() < 0.7:  # else: the stored contents stay
                contents[rid] = _contents(rng)
            if rid not in known or rng.random() < 0.7:  # else: skipped, the stored ones stay
                receivers[rid] = _receivers(rng)
            known.add(rid)
        with engine.begin() as conn:
            repo_reports.update_template_keys(conn, CORP, rows, contents)
            if step % 5 == 4:  # the receivers replaced on their own, after the upsert
                repo_reports.upsert_reports(conn, CORP, rows, contents)
                repo_reports.replace_receivers(conn, CORP, receivers)
            else:
                repo_reports.upsert_reports(conn, CORP, rows, contents, receivers)
            _check(conn, CORP)
    with engine.connect() as conn:
        stored = _stored(conn, CORP)
        # The walk did store lists, states, empty ones (NULL) and text with NUL and the escape.
        assert all(any(lists[i] for lists in stored.values()) for i in range(4))
        assert any(lists[0] is None for lists in stored.values())
        assert any(lists[0] and lists[2] is None for lists in stored.values())
        assert "r\x00nul" in stored and "r\ufdd0esc" in stored
        flat = orjson.dumps(list(stored.values())).decode()
        assert "\\u0000" in flat and "\ufdd0" in flat


def test_receivers_order_is_the_databases_and_companies_are_apart(engine: Engine) -> None:
    with engine.begin() as conn:
        row = {"report_id": "r1", "template_name": "日报", "create_time": T0}
        items: list[dict[str, Any]] = [
            {"key": "甲", "value": "1"},
            {"key": "乙", "value": None, "state": "table"},
        ]
        repo_reports.upsert_reports(conn, CORP, [row], {"r1": items}, {"r1": USERS[::-1]})
        repo_reports.upsert_reports(conn, OTHER, [row], {"r1": []}, {"r1": ["x"]})
        got = _stored(conn, CORP)["r1"]
        assert got[:3] == (["甲", "乙"], ["1", None], [None, "table"])
        assert got[3] == _expected(conn, CORP)["r1"][3]
        assert got[3] == sorted(USERS, key=escape_nul)
        assert _stored(conn, OTHER)["r1"] == (None, None, None, ["x"])
        # Emptied: NULL again; a row written without lists keeps them; no state: NULL states.
        repo_reports.upsert_reports(conn, CORP, [row], {"r1": []}, {"r1": []})
        assert _stored(conn, CORP)["r1"] == (None, None, None, None)
        repo_reports.upsert_reports(conn, CORP, [row], {"r1": items[:1]}, {"r1": ["b", "a"]})
        repo_reports.upsert_reports(conn, CORP, [{**row, "remark": "edited"}])
        assert _stored(conn, CORP)["r1"] == (["甲"], ["1"], None, ["a", "b"])
        _check(conn, CORP)
        repo_corps.purge_corp(conn, OTHER)
        assert _stored(conn, OTHER) == {}


def _write_before_0029(conn: Connection, corp: str, rng: random.Random, n: int) -> None:
    """Reports, contents and receivers as a database before 0029 holds them (plain inserts of
    the columns that existed then)."""
    rows = [
        {"corp_id": corp, "report_id": f"r{i}", "template_name": "日报", "create_time": T0}
        for i in range(n)
    ]
    rows.append({"corp_id": corp, "report_id": "r\x00", "create_time": T0 + timedelta(1)})
    repo.insert_rows(conn, reports, rows)
    content_rows, receiver_rows = [], []
    for row in rows:
        for i, item in enumerate(_contents(rng)):
            content_rows.append({"corp_id": corp, "report_id": row["report_id"], "position": i,
                                 **item})  # fmt: skip
        for userid in dict.fromkeys(_receivers(rng)):
            receiver_rows.append({"corp_id": corp, "report_id": row["report_id"], "userid": userid})
    repo.insert_rows(conn, report_contents, content_rows)
    repo.insert_rows(conn, report_receivers, receiver_rows)


def test_migration_0029_fills_the_lists_from_stored_rows(empty_db_url: str) -> None:
    engine = db.create_engine_for(empty_db_url)
    try:
        db.migrate(engine, "0028")
        rng = random.Random(290)
        with engine.begin() as conn:
            # More than one fill batch, two companies.
            _write_before_0029(conn, CORP, rng, 1200)
            _write_before_0029(conn, OTHER, rng, 30)
        db.migrate(engine)
        with engine.connect() as conn:
            for corp in (CORP, OTHER):
                _check(conn, corp)
            assert sum(lists[0] is not None for lists in _stored(conn, CORP).values()) > 1000
        # Down and up again: dropped and filled again.
        with engine.begin() as conn:
            from alembic import command

            command.downgrade(db.alembic_config(conn), "0028")
        names = {c["name"] for c in sa.inspect(engine).get_columns("reports")}
        assert not names & set(COLUMNS)
        db.migrate(engine)
        with engine.connect() as conn:
            _check(conn, CORP)
    finally:
        engine.dispose()
