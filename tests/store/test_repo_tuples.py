"""``repo.upsert_tuples`` (the attendance writer) stores what ``repo.upsert`` stores for the same
rows given as dicts — NUL and the escape character in text and JSON, epoch ms or aware datetimes,
JSON orjson refuses, duplicate keys — on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import StatementError

from dingsync.store import repo, repo_attendance
from dingsync.store.nul import ESCAPE
from dingsync.store.schema_attendance import attendance_results
from dingsync.timeutil import from_ms

COLUMNS = repo_attendance.RESULT_COLUMNS
MS = 1_764_547_200_000  # 2025-12-01 00:00 UTC
CST = timezone(timedelta(hours=8))


def _raw(i: int) -> dict[str, Any]:
    raws: list[dict[str, Any]] = [
        {"id": i, "userId": "u1", "名字": "张三", "nested": {"a": [1, 2.5, None, True]}},
        {"id": i, "remark": "has\x00nul", f"key{ESCAPE}": ESCAPE + "0"},
        {"id": i, "huge": 2**70},  # beyond orjson's 64-bit ints
        {"id": i, "text": "\\u0000 is not a NUL", "f": 1e16},
    ]
    return raws[i % len(raws)]


def _dict_row(i: int) -> dict[str, Any]:
    base = from_ms(MS + i * 61_001)
    return {
        "id": 1000 + i,
        "userid": ["u1", "名\x00字", f"x{ESCAPE}0", "u4"][i % 4],
        "work_date": date(2025, 12, 1) + timedelta(days=i % 3),
        "check_type": "OnDuty" if i % 2 else "OffDuty",
        "time_result": [None, "Normal", "Late\x00", "NotSigned"][i % 4],
        "location_result": None,
        "source_type": "ATM",
        "group_id": 7,
        "plan_id": i,
        "record_id": None if i % 5 == 0 else 10 * i,
        "approve_id": None,
        "proc_inst_id": "p" * (i % 3),
        "base_check_time": base,
        "user_check_time": None if i % 4 == 3 else base + timedelta(milliseconds=i * 7),
        "raw": _raw(i),
    }


def _as_tuple(row: dict[str, Any], i: int) -> tuple[Any, ...]:
    values = [row[c] for c in COLUMNS]
    # The fast path's times: epoch ms for some rows, datetimes (another zone) for others.
    for c in ("base_check_time", "user_check_time"):
        k = COLUMNS.index(c)
        if values[k] is not None:
            if i % 2:
                values[k] = int(
                    (values[k] - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(milliseconds=1)
                )
            else:
                values[k] = values[k].astimezone(timezone(timedelta(hours=8)))
    return tuple(values)


def _stored(engine: sa.Engine, corp_id: str) -> list[str]:
    t = attendance_results
    cols = [c for c in t.c if c.key not in ("corp_id", "synced_at")]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(*cols).where(t.c.corp_id == corp_id))
        return sorted(json.dumps(dict(r._mapping), sort_keys=True, default=str) for r in rows)


def test_tuples_store_what_dicts_store(engine: sa.Engine) -> None:
    dict_rows = [_dict_row(i) for i in range(40)]
    # A duplicate key: the last one wins on both paths.
    dict_rows.append({**_dict_row(3), "time_result": "Early"})
    tuples = [_as_tuple(r, i) for i, r in enumerate(dict_rows)]
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": "a"})
        repo.upsert_corp(conn, {"corp_id": "b"})
        n_dicts = repo_attendance.replace_results(
            conn, "a", ["u1"], date(2025, 12, 1), date(2025, 12, 3), dict_rows
        )
        n_tuples = repo_attendance.replace_result_tuples(
            conn, "b", ["u1"], date(2025, 12, 1), date(2025, 12, 3), tuples
        )
    assert n_dicts == n_tuples == 40
    a, b = _stored(engine, "a"), _stored(engine, "b")
    assert a == b
    assert any("Early" in r for r in b) and any(str(2**70) in r for r in b)
    # Written again (an update of every row): still the same.
    with engine.begin() as conn:
        repo_attendance.replace_result_tuples(
            conn, "b", ["u9"], date(2025, 12, 1), date(2025, 12, 1), tuples
        )
    assert _stored(engine, "b") == a
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            valid = conn.exec_driver_sql(
                "select count(*) from attendance_results where corp_id = 'b' and json_valid(raw)"
            ).scalar()
        assert valid == 40


@pytest.mark.parametrize("kind", ["ms", "datetime"])
def test_a_time_column_of_one_class_stores_what_dicts_store(engine: sa.Engine, kind: str) -> None:
    """Every time value epoch ms (or every one an aware datetime), with ``None`` and repeated
    instants among them (each distinct value converted once): stores what the dict path
    stores."""
    dict_rows = [_dict_row(i) for i in range(30)]
    for i, row in enumerate(dict_rows):
        if i % 3 == 0:  # repeated instants
            row["user_check_time"] = row["base_check_time"] = from_ms(MS)
    # _as_tuple's odd rows carry epoch ms, its even rows datetimes (in GMT+8).
    tuples = [_as_tuple(row, 1 if kind == "ms" else 0) for row in dict_rows]
    kinds = {type(t[COLUMNS.index("user_check_time")]) for t in tuples}
    assert kinds == ({int, type(None)} if kind == "ms" else {datetime, type(None)})
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": "a"})
        repo.upsert_corp(conn, {"corp_id": "b"})
        repo_attendance.replace_results(
            conn, "a", ["u1"], date(2025, 12, 1), date(2025, 12, 3), dict_rows
        )
        repo_attendance.replace_result_tuples(
            conn, "b", ["u1"], date(2025, 12, 1), date(2025, 12, 3), tuples
        )
    assert _stored(engine, "a") == _stored(engine, "b")


def test_refused_values_raise_like_upsert(engine: sa.Engine) -> None:
    row = list(_as_tuple(_dict_row(1), 1))
    row[COLUMNS.index("base_check_time")] = datetime(2025, 12, 1, 8, 0)  # naive: refused
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": "c"})
        with pytest.raises(StatementError):
            repo_attendance.replace_result_tuples(
                conn, "c", ["u1"], date(2025, 12, 1), date(2025, 12, 1), [tuple(row)]
            )
    keyless = list(_as_tuple(_dict_row(1), 1))
    keyless[0] = None
    with engine.begin() as conn:
        with pytest.raises(ValueError, match="without a key"):
            repo_attendance.replace_result_tuples(
                conn, "c", ["u1"], date(2025, 12, 1), date(2025, 12, 1), [tuple(keyless)]
            )
        with pytest.raises(ValueError, match="a row of 3 values"):
            repo.upsert_tuples(
                conn, attendance_results, ("corp_id", *COLUMNS), [(1, 2, 3)], ["corp_id", "id"]
            )


def test_sqlite_ms_text_is_the_datetime_processors(monkeypatch: pytest.MonkeyPatch) -> None:
    """The arithmetic epoch-ms formatter gives the text SQLAlchemy's SQLite processor writes for
    ``from_ms(ms)``, before 1970, on day boundaries and with milliseconds — computed, then
    from the texts it keeps (a small bound: emptied and filled again on the way)."""
    from sqlalchemy.dialects import sqlite

    from dingsync.store.schema import UTCDateTime

    monkeypatch.setattr(repo, "_SQLITE_MS_TEXTS", {})
    monkeypatch.setattr(repo, "_SQLITE_MS_TEXTS_MAX", 4)
    dialect = sqlite.dialect()
    process = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    fmt = repo._sqlite_ms_formatter(process)
    assert fmt is not None
    for ms in 2 * [
        0,
        -1,
        1,
        86_399_999,
        86_400_000,
        MS,
        MS + 123,
        -62_135_596_800_000,
        253_402_300_799_999,
    ]:
        assert fmt(ms) == process(from_ms(ms)), ms
    assert 0 < len(repo._SQLITE_MS_TEXTS) <= 4


def _statements(engine: sa.Engine) -> list[tuple[str, bool]]:
    """Every statement ``engine`` runs from now on: (SQL, executemany)."""
    seen: list[tuple[str, bool]] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        seen.append((sql, many))

    return seen


def _tuples(n: int) -> list[tuple[Any, ...]]:
    rows = [_dict_row(i) for i in range(n)]
    rows.append({**_dict_row(2), "time_result": "Late"})  # a duplicate key: the last wins
    return [_as_tuple(r, i) for i, r in enumerate(rows)]


def test_postgres_arrays_store_what_executemany_stores(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the rows go as one statement of column arrays (``unnest``), elsewhere as
    before; either way the table holds what one parameter set per row (``executemany``)
    stores: NUL and the escape character in text and JSON, JSON orjson refuses, epoch ms and
    datetimes, duplicate keys (the last wins), NULLs, a column of NULLs only."""
    tuples = _tuples(40)
    k = COLUMNS.index("approve_id")  # None in every row
    assert all(t[k] is None for t in tuples)
    seen = _statements(engine)
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": "a"})
        repo.upsert_corp(conn, {"corp_id": "b"})
        n_arrays = repo_attendance.replace_result_tuples(
            conn, "a", ["u1"], date(2025, 12, 1), date(2025, 12, 3), tuples
        )
    inserts = [(sql, many) for sql, many in seen if sql.startswith("INSERT INTO attendance")]
    if engine.dialect.name == "postgresql":
        assert inserts and all("unnest(" in sql and not many for sql, many in inserts)
    else:
        assert inserts and all("unnest(" not in sql for sql, _ in inserts)
    monkeypatch.setattr(repo.TupleUpsert, "ARRAYS", False)
    seen.clear()
    with engine.begin() as conn:
        n_rows = repo_attendance.replace_result_tuples(
            conn, "b", ["u1"], date(2025, 12, 1), date(2025, 12, 3), tuples
        )
    assert not any("unnest(" in sql for sql, _ in seen)
    assert n_arrays == n_rows == 40
    a, b = _stored(engine, "a"), _stored(engine, "b")
    assert a == b
    assert any("Late" in r for r in a) and any(str(2**70) in r for r in a)


def test_a_column_of_mixed_classes_is_stored_as_before(engine: sa.Engine) -> None:
    """A column whose values are not all of one class (an id given as text in one row, a
    ``float`` among ints): PostgreSQL cannot take it as one array, the rows go one parameter set
    each, and the table holds what the dict path (``replace_results``) stores."""
    dict_rows = [_dict_row(i) for i in range(6)]
    dict_rows[1]["plan_id"] = "7"
    dict_rows[2]["group_id"] = 7.0
    tuples = [_as_tuple(r, i) for i, r in enumerate(dict_rows)]
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": "a"})
        repo.upsert_corp(conn, {"corp_id": "b"})
        repo_attendance.replace_results(
            conn, "a", ["u1"], date(2025, 12, 1), date(2025, 12, 3), dict_rows
        )
        repo_attendance.replace_result_tuples(
            conn, "b", ["u1"], date(2025, 12, 1), date(2025, 12, 3), tuples
        )
    a, b = _stored(engine, "a"), _stored(engine, "b")
    assert a == b and len(a) == 6
    assert any('"plan_id": 7' in r for r in b)


@pytest.mark.parametrize("arrays", [True, False])
def test_postgres_refusals_are_data_errors(
    pg_url: str, arrays: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value PostgreSQL refuses (text longer than its column, an id beyond BIGINT) raises
    SQLAlchemy's ``DataError`` on both paths — what the sync quarantines
    (``engine.is_data_error``) — and nothing of the batch is stored."""
    from sqlalchemy.exc import DataError

    from dingsync.store import db
    from dingsync.sync.engine import is_data_error

    monkeypatch.setattr(repo.TupleUpsert, "ARRAYS", arrays)
    eng = db.create_engine_for(pg_url)
    db.migrate(eng)
    try:
        with eng.begin() as conn:
            repo.upsert_corp(conn, {"corp_id": "c"})
        for column, value in (("userid", "x" * 65), ("id", 2**63)):
            row = list(_as_tuple(_dict_row(1), 1))
            row[COLUMNS.index(column)] = value
            good = _as_tuple(_dict_row(4), 4)
            with pytest.raises(DataError) as caught:
                with eng.begin() as conn:
                    repo_attendance.replace_result_tuples(
                        conn, "c", ["u1"], date(2025, 12, 1), date(2025, 12, 3), [good, tuple(row)]
                    )
            assert is_data_error(caught.value)
            assert _stored(eng, "c") == []
    finally:
        eng.dispose()


def test_analyze_when_grown(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL: once the rows written reach the table's size at the last ANALYZE (at least
    ``ANALYZE_MIN_ROWS``), the window's columns are analyzed — the table gets statistics and a
    size; not before. Elsewhere nothing runs."""
    monkeypatch.setattr(repo, "ANALYZE_MIN_ROWS", 30)
    seen = _statements(engine)
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": "d"})

    def write(n: int, offset: int) -> None:
        rows = [_dict_row(i) for i in range(offset, offset + n)]
        with engine.begin() as conn:
            repo_attendance.replace_result_tuples(
                conn,
                "d",
                ["nobody"],
                date(2025, 12, 1),
                date(2025, 12, 1),
                [_as_tuple(r, i) for i, r in zip(range(offset, offset + n), rows, strict=True)],
            )

    def analyzed() -> int:
        return sum(1 for sql, _ in seen if sql.startswith("ANALYZE"))

    write(20, 0)
    assert analyzed() == 0
    write(20, 20)  # 40 rows written ≥ 30: analyzed (before this write's rows) on PostgreSQL
    if engine.dialect.name != "postgresql":
        assert analyzed() == 0
        return
    assert analyzed() == 1
    with engine.connect() as conn:
        size = conn.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE oid = to_regclass('attendance_results')"
        ).scalar()
        stats = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_stats WHERE tablename = 'attendance_results'"
            " AND schemaname = current_schema()"
        ).scalar()
    assert size == 20 and stats == 3  # the first write's rows; corp_id, userid, work_date
    write(20, 40)  # 20 more: below ANALYZE_MIN_ROWS
    assert analyzed() == 1
    write(25, 60)  # 45 since ≥ max(30, 20)
    assert analyzed() == 2


@pytest.mark.parametrize(
    "bounds",
    [
        (("work_date", ">=", date(2025, 12, 2)), ("work_date", "<=", date(2025, 12, 2))),
        (
            ("user_check_time", ">=", from_ms(MS + 5 * 61_001)),
            ("user_check_time", "<", from_ms(MS + 30 * 61_001).astimezone(CST)),
        ),
        (("base_check_time", ">", from_ms(MS + 10 * 61_001)),),
    ],
    ids=["work_dates", "times", "one_bound"],
)
def test_delete_in_window_deletes_what_sqlalchemy_deletes(
    engine: sa.Engine, bounds: tuple[tuple[str, str, Any], ...]
) -> None:
    """``repo.delete_in_window`` (the attendance windows' ``DELETE``, run through the driver)
    leaves the rows SQLAlchemy's own ``delete()`` with the same conditions leaves: text with a
    NUL or the escape character among the values, dates, aware datetimes in another zone."""
    t = attendance_results
    ops = {"<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__"}
    rows = [_as_tuple(_dict_row(i), i) for i in range(40)]
    people = ["u1", "名\x00字", f"x{ESCAPE}0", "nobody"]
    for corp in ("c-driver", "c-sqlalchemy", "c-other"):
        with engine.begin() as conn:
            repo.upsert_tuples(
                conn, t, ("corp_id", *COLUMNS), [(corp, *r) for r in rows], ["corp_id", "id"]
            )
    with engine.begin() as conn:
        repo.delete_in_window(conn, t, "c-driver", "userid", people, *bounds)
        # Twice: the second run takes the compiled statement from the cache.
        repo.delete_in_window(conn, t, "c-driver", "userid", people[:2], *bounds)
        for part in (people, people[:2]):
            conn.execute(
                sa.delete(t).where(
                    t.c.corp_id == "c-sqlalchemy",
                    t.c.userid.in_(part),
                    *(getattr(t.c[c], ops[op])(v) for c, op, v in bounds),
                )
            )
    kept = _stored(engine, "c-driver")
    assert kept == _stored(engine, "c-sqlalchemy")
    assert 0 < len(kept) < len(_stored(engine, "c-other")) == 40
