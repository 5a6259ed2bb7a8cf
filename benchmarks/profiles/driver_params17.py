"""CPU of ``repo.DriverStatement``'s driver parameters alone, for 100-row chunks, in this
interpreter's checkout (issue 17, branch ``col17``).

``python benchmarks/profiles/driver_params17.py`` (run it once per checkout, e.g. with
``PYTHONPATH=/work/main/src`` and then this checkout's ``src``, alternating): a users page (the
directory's ``/topapi/v2/user/list``: ids, names, a datetime, the ``raw`` JSON) through its upsert,
and 100 approval operation records (Shanghai-time datetimes, JSON attachments) through a plain
insert, for the SQLite and PostgreSQL dialects (compiled only: no server is needed). Printed: the
best of 7 × 200 runs, µs of process CPU per 100 rows. No database is written.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from dingsync.store import repo
from dingsync.store.db import create_engine_for
from dingsync.store.nul import dumps_json
from dingsync.store.schema import users
from dingsync.store.schema_approvals import approval_operation_records

SHANGHAI = timezone(timedelta(hours=8))


def user_rows(n: int = 100) -> list[dict[str, Any]]:
    """A users page as the directory sync writes it."""
    now = datetime.now(UTC)
    return [
        {
            "corp_id": "ding123",
            "userid": f"user{i:05d}",
            "unionid": f"union{i}",
            "name": f"张三{i}",
            "mobile": f"1380000{i:04d}",
            "email": f"u{i}@example.com",
            "title": "工程师",
            "job_number": str(i),
            "active": True,
            "admin": False,
            "boss": False,
            "hired_date": now - timedelta(days=i),
            "status": "active",
            "content_hash": "ab" * 16,
            "last_seen_run_id": 3,
            "raw": {"userid": f"user{i:05d}", "name": f"张三{i}", "dept_id_list": [1, 2]},
            "synced_at": now,
        }
        for i in range(n)
    ]


def record_rows(n: int = 100) -> list[dict[str, Any]]:
    """Approval operation records (three per instance)."""
    return [
        {
            "corp_id": "ding123",
            "process_instance_id": f"pi-{i // 3}",
            "seq": i % 3,
            "userid": f"user{i}",
            "date": datetime(2025, 12, 1, 8, i % 60, tzinfo=SHANGHAI),
            "operation_type": "EXECUTE_TASK_NORMAL",
            "operation_result": "AGREE",
            "remark": "同意" * 5,
            "attachments": [{"fileId": f"f{i}", "fileName": "a.pdf"}],
        }
        for i in range(n)
    ]


def main() -> None:
    dialects = {
        "sqlite": create_engine_for("sqlite://").dialect,
        "postgresql": sa.create_engine(
            "postgresql+psycopg://x@localhost/x", json_serializer=dumps_json
        ).dialect,
    }
    for name, dialect in dialects.items():
        user_columns = sorted(user_rows(1)[0])
        cases = [
            (
                "users upsert",
                user_rows(),
                repo.upsert_statement(
                    dialect,
                    users,
                    ["corp_id", "userid"],
                    [c for c in user_columns if c not in ("corp_id", "userid")],
                ),
            ),
            ("approval records insert", record_rows(), sa.insert(approval_operation_records)),
        ]
        for label, rows, statement in cases:
            columns = tuple(sorted(rows[0]))
            rows = [{c: r[c] for c in columns} for r in rows]
            driver = repo.DriverStatement(dialect, statement, columns)
            if hasattr(driver, "params_of"):

                def run(d: Any = driver, r: Any = rows) -> Any:
                    return d.params_of(r)
            else:  # before branch col17: row by row

                def run(d: Any = driver, r: Any = rows) -> Any:
                    return [d.params(row) for row in r]

            for _ in range(20):
                run()
            best = float("inf")
            for _ in range(7):
                start = time.process_time()
                for _ in range(200):
                    run()
                best = min(best, (time.process_time() - start) / 200)
            print(f"{name:10s} {label:24s} {best * 1e6:8.1f} µs per 100 rows")


if __name__ == "__main__":
    main()
