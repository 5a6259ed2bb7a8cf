"""``report_template_keys`` (migration 0028): the content keys of each template's stored reports,
kept by ``repo_reports.update_template_keys`` with the contents, on SQLite, PostgreSQL and
MariaDB. After every write — new reports, edits that drop, add or move keys, a report moved to
another template, contents left out, keys ``None`` or with NUL — the table holds exactly the
counts a full scan of ``report_contents`` gives, and ``content_keys`` (what the export reads)
equals ``scan_content_keys`` (what it read before); the migration fills it from stored
contents the same way."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, func, select

from dingsync.store import db, repo, repo_corps, repo_reports
from dingsync.store.schema_reports import report_contents, report_template_keys, reports

CORP = "corp-keys"
OTHER = "corp-other"
TEMPLATES = ["日报", "周报", "销售日报"]
KEYS = ["今日完成", "明日计划", "需协调", "a", "a\x00b", "Z", None]
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def _recount(conn: Connection, corp: str) -> dict[tuple[str, str, int], int]:
    """``(template, key, position) → reports`` from every stored content (the oracle)."""
    c, r = report_contents, reports
    rows = conn.execute(
        select(r.c.template_name, c.c.key, c.c.position, func.count())
        .join(r, (r.c.corp_id == c.c.corp_id) & (r.c.report_id == c.c.report_id))
        .where(c.c.corp_id == corp, c.c.key.is_not(None), r.c.template_name.is_not(None))
        .group_by(r.c.template_name, c.c.key, c.c.position)
    )
    return {(t, k, p): n for t, k, p, n in rows}


def _stored(conn: Connection, corp: str) -> dict[tuple[str, str, int], int]:
    k = report_template_keys
    rows = conn.execute(
        select(k.c.template_name, k.c.key, k.c.position, k.c.report_count).where(
            k.c.corp_id == corp
        )
    )
    return {(t, key, p): n for t, key, p, n in rows}


def _check(conn: Connection, corp: str) -> None:
    assert _stored(conn, corp) == _recount(conn, corp)
    for template in TEMPLATES:
        assert repo_reports.content_keys(conn, corp, template) == repo_reports.scan_content_keys(
            conn, corp, template
        ), template


def _write(
    conn: Connection, corp: str, rows: list[dict[str, Any]], contents: dict[str, list[Any]]
) -> None:
    repo_reports.update_template_keys(conn, corp, rows, contents)
    repo_reports.upsert_reports(conn, corp, rows, contents)


def _contents(rng: random.Random) -> list[dict[str, Any]]:
    return [
        {"key": rng.choice(KEYS), "sort": str(i), "type": "1", "value": f"v{i}"}
        for i in range(rng.randint(0, 6))
    ]


def test_keys_follow_every_kind_of_write(engine: Engine) -> None:
    rng = random.Random(17)
    known: set[str] = set()
    for step in range(60):
        rows: list[dict[str, Any]] = []
        contents: dict[str, list[Any]] = {}
        for rid in rng.sample([f"r{i}" for i in range(25)], rng.randint(1, 8)):
            row: dict[str, Any] = {
                "report_id": rid,
                "create_time": T0 + timedelta(minutes=step),
            }
            if rid not in known or rng.random() < 0.7:  # else: the stored template stays
                row["template_name"] = rng.choice([*TEMPLATES, None])
            rows.append(row)
            if rid not in known or rng.random() < 0.8:  # else: the stored contents stay
                contents[rid] = _contents(rng)
            known.add(rid)
        with engine.begin() as conn:
            _write(conn, CORP, rows, contents)
            _check(conn, CORP)
    with engine.connect() as conn:
        assert _stored(conn, CORP)  # the walk did store keys
        assert all(n > 0 for n in _stored(conn, CORP).values())  # no empty counts kept


def test_order_is_smallest_position_then_key_and_edits_move_it(engine: Engine) -> None:
    def report(rid: str, keys: list[str | None]) -> tuple[dict[str, Any], list[Any]]:
        row = {"report_id": rid, "template_name": "日报", "create_time": T0}
        return row, [{"key": k, "sort": "0", "type": "1", "value": "x"} for k in keys]

    with engine.begin() as conn:
        (a, ca), (b, cb) = report("r-a", ["乙", "甲", None, "丙"]), report("r-b", ["甲", "丁"])
        _write(conn, CORP, [a, b], {"r-a": ca, "r-b": cb})
        # 甲 at 0 (r-b), 乙 at 0 (r-a): ties by key (乙 U+4E59 before 甲 U+7532); 丁 1; 丙 3.
        assert repo_reports.content_keys(conn, CORP, "日报") == ["乙", "甲", "丁", "丙"]
        _check(conn, CORP)
        # r-b edited: 甲 only at 1 now (r-a), 丁 gone; a second batch in the same transaction.
        _write(conn, CORP, [b], {"r-b": report("r-b", ["戊"])[1]})
        assert repo_reports.content_keys(conn, CORP, "日报") == ["乙", "戊", "甲", "丙"]
        _check(conn, CORP)
        # r-a moves to 周报 without its contents given: its keys go with it.
        _write(conn, CORP, [{"report_id": "r-a", "template_name": "周报"}], {})
        assert repo_reports.content_keys(conn, CORP, "日报") == ["戊"]
        assert repo_reports.content_keys(conn, CORP, "周报") == ["乙", "甲", "丙"]
        _check(conn, CORP)
        # Written twice, the same rows change nothing.
        assert (
            repo_reports.update_template_keys(conn, CORP, [b], {"r-b": report("r-b", ["戊"])[1]})
            == 0
        )


def test_companies_are_apart_and_purge_takes_the_keys(engine: Engine) -> None:
    row = {"report_id": "r1", "template_name": "日报", "create_time": T0}
    items = [{"key": "甲", "sort": "0", "type": "1", "value": "x"}]
    with engine.begin() as conn:
        _write(conn, CORP, [row], {"r1": items})
        _write(conn, OTHER, [row], {"r1": [*items, {"key": "乙", "value": "y"}]})
        assert repo_reports.content_keys(conn, CORP, "日报") == ["甲"]
        assert repo_reports.content_keys(conn, OTHER, "日报") == ["甲", "乙"]
        repo_corps.purge_corp(conn, OTHER)
        assert _stored(conn, OTHER) == {}
        assert repo_reports.content_keys(conn, CORP, "日报") == ["甲"]


def _insert_before(
    conn: Connection, corp: str, rows: list[dict[str, Any]], contents: dict[str, list[Any]]
) -> None:
    repo.insert_rows(conn, reports, [{"corp_id": corp, **row} for row in rows])
    repo.insert_rows(
        conn,
        report_contents,
        [
            {"corp_id": corp, "report_id": rid, "position": i, **item}
            for rid, items in contents.items()
            for i, item in enumerate(items)
        ],
    )


def test_migration_0028_fills_the_keys_from_stored_contents(empty_db_url: str) -> None:
    engine = db.create_engine_for(empty_db_url)
    try:
        db.migrate(engine, "0027")
        rng = random.Random(28)
        rows = [
            {"report_id": f"r{i}", "template_name": rng.choice([*TEMPLATES, None])}
            for i in range(40)
        ]
        with engine.begin() as conn:
            # Written as before 0028 (no keys table yet): reports and contents only, with the
            # columns of the time (plain inserts: today's upsert writes 0029's columns too).
            _insert_before(conn, CORP, rows, {f"r{i}": _contents(rng) for i in range(40)})
            _insert_before(conn, OTHER, rows[:5], {"r0": _contents(rng)})
            before = {
                corp: {t: repo_reports.scan_content_keys(conn, corp, t) for t in TEMPLATES}
                for corp in (CORP, OTHER)
            }
        assert any(before[CORP].values())
        db.migrate(engine)
        with engine.connect() as conn:
            for corp in (CORP, OTHER):
                assert _stored(conn, corp) == _recount(conn, corp)
                for template in TEMPLATES:
                    assert repo_reports.content_keys(conn, corp, template) == before[corp][template]
        # Down and up again: dropped and filled again.
        with engine.begin() as conn:
            from alembic import command

            command.downgrade(db.alembic_config(conn), "0027")
        assert "report_template_keys" not in sa.inspect(engine).get_table_names()
        db.migrate(engine)
        with engine.connect() as conn:
            assert _stored(conn, CORP) == _recount(conn, CORP)
    finally:
        engine.dispose()
