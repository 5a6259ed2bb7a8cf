"""``repo.DriverStatement`` processes its rows column by column (one NUL check per column, one
conversion per distinct datetime, orjson for JSON): the parameters it hands the driver are the
ones SQLAlchemy's own ``execute`` hands it for the same rows — text with NUL and U+FDD0, None,
empty strings, aware datetimes in other zones (the same instant twice), dates, JSON with NUL,
keys holding U+FDD0 and ints orjson refuses, a Python-side scalar default — on SQLite,
PostgreSQL and MariaDB, for a plain insert and an upsert, on the clean path (nothing to escape in
a column) and the escaping one; the rows read back are the same; a refused value raises
``StatementError`` on both paths."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import StatementError

from dingsync.store import repo
from dingsync.store.nul import ESCAPE, dumps_json
from dingsync.store.schema import departments
from dingsync.store.schema_approvals import approval_instances, approval_operation_records
from dingsync.store.schema_attendance import attendance_results

SHANGHAI = timezone(timedelta(hours=8))
INDIA = timezone(timedelta(hours=5, minutes=30))
WEST = timezone(timedelta(hours=-7))
T0 = datetime(2025, 12, 1, 1, 2, 3, 456789, tzinfo=UTC)

ODD_TEXTS: list[Any] = ["名\x00字", f"x{ESCAPE}0", "\x00", ESCAPE, "a\x00b\ufdd0c"]
CLEAN_TEXTS: list[Any] = ["u1", "张三", "", None, "\\u0000 is not a NUL", "u1"]
ODD_JSON: list[Any] = [
    {"remark": "has\x00nul", f"key{ESCAPE}": ESCAPE + "0"},
    ["\x00"],
    {"huge": 2**70},  # beyond orjson's 64-bit ints: json.dumps
    {1: "a non-string key"},
]
CLEAN_JSON: list[Any] = [
    {"id": 1, "名字": "张三", "nested": {"a": [1, 2.5, None, True, 1e16]}},
    None,
    [],
    "just a string",
    {"text": "\\u0000 is not a NUL"},
]


def _times(i: int) -> datetime | None:
    if i % 6 == 5:
        return None
    zone = [UTC, SHANGHAI, INDIA, WEST][i % 4]
    # Every fourth row the same instant as row 0, in another zone (one conversion, same value).
    instant = T0 if i % 4 == 1 else T0 + timedelta(minutes=i, microseconds=i)
    return instant.astimezone(zone)


def _pick(values: Sequence[Any], i: int) -> Any:
    return values[i % len(values)]


def _record_rows(instance: str, odd: bool, n: int = 24) -> list[dict[str, Any]]:
    texts = CLEAN_TEXTS + ODD_TEXTS if odd else CLEAN_TEXTS
    blobs = CLEAN_JSON + ODD_JSON if odd else CLEAN_JSON
    return [
        {
            "corp_id": "c",
            "process_instance_id": instance,
            "seq": i,
            "userid": _pick(texts, i),
            "date": _times(i),
            "operation_type": _pick(texts, i + 1),
            "operation_result": None,
            "remark": _pick(texts, i + 2),
            "attachments": _pick(blobs, i),
        }
        for i in range(n)
    ]


def _result_rows(corp_id: str, odd: bool, n: int = 24) -> list[dict[str, Any]]:
    texts = [t for t in (CLEAN_TEXTS + ODD_TEXTS if odd else CLEAN_TEXTS) if t]
    blobs = CLEAN_JSON + ODD_JSON if odd else CLEAN_JSON
    return [
        {
            "corp_id": corp_id,
            "id": 1000 + i,
            "userid": _pick(texts, i),
            "work_date": date(2025, 12, 1) + timedelta(days=i % 3),
            "check_type": _pick(["OnDuty", "OffDuty", *(ODD_TEXTS if odd else [])], i),
            "time_result": _pick(texts, i + 1),
            "group_id": 7,
            "record_id": None if i % 5 == 0 else 10 * i,
            "base_check_time": _times(i),
            "user_check_time": _times(i + 1),
            "synced_at": _times(i + 2) or T0,
            "raw": _pick(blobs, i),
        }
        for i in range(n)
    ]


def _department_rows(corp_id: str, odd: bool, n: int = 12) -> list[dict[str, Any]]:
    texts = CLEAN_TEXTS + ODD_TEXTS if odd else CLEAN_TEXTS
    return [  # "status" left out: the column's scalar default ("active")
        {
            "corp_id": corp_id,
            "dept_id": 1 + i,
            "parent_id": None if i == 0 else 1,
            "name": _pick(texts, i),
            "hide_dept": bool(i % 2),
            "dept_manager_userid_list": [_pick(texts, i), "u2"] if i % 3 else None,
            "synced_at": _times(i) or T0,
        }
        for i in range(n)
    ]


def _comparable(value: Any) -> Any:
    """psycopg's ``Jsonb`` wrapper (no equality of its own) as the JSON it sends."""
    if type(value).__name__ == "Jsonb":
        dumps = value.dumps or dumps_json  # the engine's serializer, set on the connection
        return ("jsonb", json.loads(dumps(value.obj)))
    return value


def _normalised(params: Sequence[Any]) -> list[Any]:
    out = []
    for p in params:
        if isinstance(p, dict):
            out.append({k: _comparable(v) for k, v in p.items()})
        else:
            out.append(tuple(_comparable(v) for v in p))
    return out


def _sqlalchemy_params(
    conn: sa.Connection, statement: Any, rows: list[dict[str, Any]]
) -> list[Any]:
    """What SQLAlchemy's ``execute`` hands the driver for ``rows``, one row per statement."""
    seen: list[Any] = []

    def capture(*args: Any) -> None:
        seen.append(args[3])

    sa.event.listen(conn, "before_cursor_execute", capture)
    try:
        for row in rows:
            conn.execute(statement, row)
    finally:
        sa.event.remove(conn, "before_cursor_execute", capture)
    return seen


def _stored(conn: sa.Connection, table: sa.Table, where: Any, leave_out: str) -> list[str]:
    cols = [c for c in table.c if c.key != leave_out]
    rows = conn.execute(sa.select(*cols).where(where))
    return sorted(json.dumps(dict(r._mapping), sort_keys=True, default=repr) for r in rows)


@pytest.mark.parametrize("odd", [False, True], ids=["clean", "escaped"])
def test_insert_params_are_sqlalchemys(engine: sa.Engine, odd: bool) -> None:
    t = approval_operation_records
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": "c"})
        for instance in ("via-sqlalchemy", "via-driver"):
            repo.upsert(
                conn,
                approval_instances,
                [{"corp_id": "c", "process_instance_id": instance, "process_code": "P"}],
                ["corp_id", "process_instance_id"],
            )
        expected = _sqlalchemy_params(conn, sa.insert(t), _record_rows("via-sqlalchemy", odd))
        rows = _record_rows("via-driver", odd)
        driver = repo.DriverStatement(conn.dialect, sa.insert(t), tuple(rows[0]))
        got = driver.params_of(rows)
        assert len(got) == len(expected) == len(rows)
        # The same parameters but the instance id.
        assert _normalised(_without_instance(got, driver)) == _normalised(
            _without_instance(expected, driver)
        )
        assert repo.insert_rows(conn, t, rows) == len(rows)
        key = "process_instance_id"
        by_sqlalchemy = _stored(conn, t, t.c.process_instance_id == "via-sqlalchemy", key)
        by_driver = _stored(conn, t, t.c.process_instance_id == "via-driver", key)
    assert by_driver == by_sqlalchemy and len(by_driver) == len(rows)


def _without_instance(params: Sequence[Any], driver: repo.DriverStatement) -> list[Any]:
    i = driver.names.index("process_instance_id")
    out: list[Any] = []
    for p in params:
        if isinstance(p, dict):
            out.append({k: v for k, v in p.items() if k != driver.names[i]})
        else:
            out.append(tuple(v for j, v in enumerate(p) if j != i))
    return out


@pytest.mark.parametrize("odd", [False, True], ids=["clean", "escaped"])
@pytest.mark.parametrize(
    "table, make_rows, keys",
    [
        (attendance_results, _result_rows, ["corp_id", "id"]),
        (departments, _department_rows, ["corp_id", "dept_id"]),
    ],
    ids=["attendance_results", "departments"],
)
def test_upsert_params_are_sqlalchemys(
    engine: sa.Engine, odd: bool, table: sa.Table, make_rows: Any, keys: list[str]
) -> None:
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": "a"})
        repo.upsert_corp(conn, {"corp_id": "b"})
        rows_a, rows_b = make_rows("a", odd), make_rows("b", odd)
        columns = tuple(sorted(rows_a[0]))
        targets = [c for c in columns if c not in keys]
        statement = repo.upsert_statement(conn.dialect, table, keys, targets)
        expected = _sqlalchemy_params(conn, statement, rows_a)
        driver = repo.DriverStatement(conn.dialect, statement, columns)
        assert driver.defaults or table is not departments  # status: the scalar default
        got = driver.params_of(rows_a)
        assert _normalised(got) == _normalised(expected)
        assert repo.upsert(conn, table, rows_b, keys) == len(rows_b)
        assert repo.upsert(conn, table, rows_b, keys) == len(rows_b)  # an update of each
        a = _stored(conn, table, table.c.corp_id == "a", "corp_id")
        b = _stored(conn, table, table.c.corp_id == "b", "corp_id")
    assert a == b and len(a) == len(rows_a)


def test_refused_values_raise_statement_error_on_both_paths(engine: sa.Engine) -> None:
    t = attendance_results
    good = _result_rows("a", True, 6)
    refused = [
        ("base_check_time", datetime(2025, 12, 1, 8, 0)),  # naive
        ("base_check_time", 1_764_547_200_000),  # epoch ms: only the tuple writer takes them
        ("work_date", "2025-12-01") if engine.dialect.name == "sqlite" else None,
    ]
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": "a"})
        for case in refused:
            if case is None:
                continue
            column, value = case
            rows = [*good[:3], {**good[3], column: value}, *good[4:]]
            with conn.begin_nested():
                with pytest.raises(StatementError):
                    conn.execute(sa.insert(t), rows[3])
            driver = repo.DriverStatement(conn.dialect, sa.insert(t), tuple(rows[0]))
            with pytest.raises(StatementError) as caught:
                driver.params_of(rows)
            assert isinstance(caught.value.orig, TypeError | ValueError)
            with conn.begin_nested():
                with pytest.raises(StatementError):
                    repo.insert_rows(conn, t, rows)
