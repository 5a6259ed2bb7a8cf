"""PostgreSQL: every table :func:`repo.upsert` and :func:`repo.insert_rows` write is analyzed
once it has doubled (at least ``ANALYZE_MIN_ROWS`` rows written), so that plans made while it
was nearly empty — a foreign key's check, planned once per connection, above all — are made
again with its real size. Elsewhere nothing runs."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from dingsync.store import repo
from dingsync.store.schema import user_departments, users
from dingsync.store.schema_reports import report_receivers, reports

CORP = "ding_corp_analyze"


def _analyzed(seen: list[str], table: str) -> int:
    return sum(1 for sql in seen if sql.startswith(f"ANALYZE {table}") or sql == f"ANALYZE {table}")


def _record(engine: sa.Engine) -> list[str]:
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        seen.append(sql)

    return seen


def _stats(engine: sa.Engine, table: str) -> tuple[float, int]:
    with engine.connect() as conn:
        size = conn.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%(t)s)", {"t": table}
        ).scalar()
        columns = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_stats WHERE tablename = %(t)s"
            " AND schemaname = current_schema()",
            {"t": table},
        ).scalar()
    return float(size or 0), int(columns or 0)


def _people(start: int, n: int) -> list[dict[str, Any]]:
    return [
        {"userid": f"u{i:05d}", "name": f"员工{i}", "status": "active"}
        for i in range(start, start + n)
    ]


def test_upserted_tables_are_analyzed_when_doubled(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repo, "ANALYZE_MIN_ROWS", 30)
    monkeypatch.setattr(repo, "_GROWTH", type(repo._GROWTH)())  # this test's counts only
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": CORP})
    seen = _record(engine)

    def write(start: int, n: int) -> None:
        with engine.begin() as conn:
            repo.upsert_users(conn, CORP, _people(start, n))
            repo.upsert(
                conn,
                user_departments,
                [
                    {"corp_id": CORP, "userid": f"u{i:05d}", "dept_id": 1, "is_leader": False}
                    for i in range(start, start + n)
                ],
                ["corp_id", "userid", "dept_id"],
            )

    write(0, 20)
    assert _analyzed(seen, "users") == 0
    write(20, 20)  # 40 rows written ≥ 30: analyzed (before this write's rows) on PostgreSQL
    if engine.dialect.name != "postgresql":
        assert not [sql for sql in seen if sql.startswith("ANALYZE")]
        return
    assert _analyzed(seen, "users") == 1 and _analyzed(seen, "user_departments") == 1
    size, columns = _stats(engine, "users")
    # The first write's people, and every column's statistics (not a chosen few).
    assert size == 20 and columns == len(users.c)
    write(40, 20)  # 20 more since: below the table's doubling
    assert _analyzed(seen, "users") == 1
    write(60, 25)  # 45 since ≥ max(30, 40)
    assert _analyzed(seen, "users") == 2
    assert _stats(engine, "users")[0] == 60
    with engine.connect() as conn:  # the rows are all there, whatever was analyzed when
        assert conn.execute(sa.select(sa.func.count()).select_from(users)).scalar() == 85
        assert conn.execute(sa.select(sa.func.count()).select_from(user_departments)).scalar() == 85


def test_inserted_child_rows_are_analyzed_when_doubled(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """:func:`repo.insert_rows` (the replaced child lists: report receivers, approval
    children) counts its rows the same way."""
    monkeypatch.setattr(repo, "ANALYZE_MIN_ROWS", 30)
    monkeypatch.setattr(repo, "_GROWTH", type(repo._GROWTH)())
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": CORP})
        repo.upsert(
            conn,
            reports,
            [{"corp_id": CORP, "report_id": f"r{i}", "creator_id": "u1"} for i in range(3)],
            ["corp_id", "report_id"],
        )
    seen = _record(engine)
    for batch in range(3):
        with engine.begin() as conn:
            repo.insert_rows(
                conn,
                report_receivers,
                [{"corp_id": CORP, "report_id": f"r{batch}", "userid": f"u{i}"} for i in range(20)],
            )
    if engine.dialect.name != "postgresql":
        assert not [sql for sql in seen if sql.startswith("ANALYZE")]
        return
    assert _analyzed(seen, "report_receivers") == 1  # at 40 of 60 rows
    assert _stats(engine, "report_receivers")[0] == 20
