"""Migrations: apply from empty, match schema.metadata exactly, are repeatable and reversible."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.dialects import mysql

from dingsync.store import db, schema
from dingsync.store.schema import UTCDateTime


def _diffs(engine: sa.Engine, metadata: sa.MetaData) -> list[Any]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        diffs = list(compare_metadata(ctx, metadata))
    return [d for d in diffs if not _same_boolean_default(d)]


def _same_boolean_default(diff: Any) -> bool:
    """MySQL/MariaDB have no boolean: ``server_default=sa.false()`` is stored as ``'0'`` in a
    ``TINYINT(1)``, which Alembic's comparison reports as a changed default although it is the
    same one."""
    if not (isinstance(diff, list) and len(diff) == 1 and diff[0][0] == "modify_default"):
        return False
    _, _, _, _, info, stored, wanted = diff[0]
    existing = str(getattr(stored, "arg", stored)).strip("'")
    same = {"0": sa.sql.elements.False_, "1": sa.sql.elements.True_}
    return isinstance(info["existing_type"], sa.Boolean | mysql.TINYINT) and isinstance(
        getattr(wanted, "arg", None), same.get(existing, ())
    )


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_migrate_from_empty_matches_metadata(empty_db_url: str) -> None:
    engine = db.create_engine_for(empty_db_url)
    try:
        assert _tables(engine) == set()
        assert db.current_revision(engine) is None
        db.migrate(engine)
        assert db.current_revision(engine) == db.head_revision() is not None
        assert _tables(engine) == set(schema.metadata.tables) | {"alembic_version"}
        assert _diffs(engine, schema.metadata) == []
        # A second run is a no-op.
        db.migrate(engine)
        assert db.current_revision(engine) == db.head_revision()
    finally:
        engine.dispose()


def test_comparison_would_see_a_difference(db_url: str) -> None:
    """Guards the test above: a metadata that differs from the migration is caught."""
    engine = db.create_engine_for(db_url)
    try:
        db.migrate(engine)
        changed = sa.MetaData(naming_convention=schema.NAMING_CONVENTION)
        for table in schema.metadata.sorted_tables:
            table.to_metadata(changed)
        changed.tables["users"].append_column(sa.Column("nickname", sa.String(64)))
        diffs = _diffs(engine, changed)
        assert [d[0] for d in diffs] == ["add_column"]
        assert diffs[0][3].name == "nickname"
    finally:
        engine.dispose()


def test_indexes_and_keys(db_url: str) -> None:
    engine = db.create_engine_for(db_url)
    try:
        db.migrate(engine)
        insp = sa.inspect(engine)
        assert insp.get_pk_constraint("user_departments")["constrained_columns"] == [
            "corp_id",
            "userid",
            "dept_id",
        ]
        assert insp.get_pk_constraint("sync_checkpoints")["constrained_columns"] == [
            "run_id",
            "entity",
            "key",
        ]
        indexes = {i["name"]: i["column_names"] for i in insp.get_indexes("users")}
        assert indexes["ix_users_corp_id_unionid"] == ["corp_id", "unionid"]
        assert indexes["ix_users_corp_id_status"] == ["corp_id", "status"]
        dept_ix = {i["name"]: i["column_names"] for i in insp.get_indexes("departments")}
        assert dept_ix["ix_departments_corp_id_parent_id"] == ["corp_id", "parent_id"]
        fks = insp.get_foreign_keys("admin_scopes")
        assert [(f["referred_table"], f["constrained_columns"]) for f in fks] == [
            ("admins", ["corp_id", "userid"])
        ]
    finally:
        engine.dispose()


def test_downgrade_to_base_and_up_again(empty_db_url: str) -> None:
    engine = db.create_engine_for(empty_db_url)
    try:
        db.migrate(engine)
        with engine.begin() as conn:
            command.downgrade(db.alembic_config(conn), "base")
        assert _tables(engine) == {"alembic_version"}
        assert db.current_revision(engine) is None
        db.migrate(engine)
        assert _diffs(engine, schema.metadata) == []
    finally:
        engine.dispose()


def test_single_head_and_packaged_files() -> None:
    script = ScriptDirectory.from_config(db.alembic_config())
    assert len(script.get_heads()) == 1
    names = {p.name for p in db.MIGRATIONS_DIR.iterdir()}
    assert {"env.py", "script.py.mako", "versions"} <= names
    assert (db.MIGRATIONS_DIR / "versions" / "0001_foundation.py").is_file()


def test_migrate_needs_no_alembic_ini_or_cwd(tmp_path: Path) -> None:
    """A fresh interpreter in an unrelated directory migrates a new SQLite file."""
    target = tmp_path / "nested" / "dir" / "x.db"
    code = (
        "from dingsync.store import db\n"
        f"e = db.create_engine_for('sqlite:///{target}')\n"
        "db.migrate(e)\n"
        "print(db.current_revision(e))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == db.head_revision()
    assert not (tmp_path / "alembic.ini").exists()


# --------------------------------------------------------------------------------------------
# 0009: attendance work dates from UTC timestamps (00:00 Asia/Shanghai) to calendar dates
# --------------------------------------------------------------------------------------------
GMT8 = timezone(timedelta(hours=8))
#: Work dates around the edges: a month end, a year start, the tester's day, a year end.
WORK_DAYS = [date(2025, 12, 31), date(2026, 1, 1), date(2026, 11, 27), date(2026, 12, 31)]
WORK_DATE_TABLES = (
    "attendance_schedules",
    "attendance_results",
    "attendance_records",
    "attendance_leaves",
    "attendance_column_values",
)


def _old_style(day: date) -> datetime:
    """How revisions ≤ 0008 stored a work date: the instant 00:00 Asia/Shanghai (UTC)."""
    return datetime.combine(day, time(0), tzinfo=GMT8).astimezone(UTC)


def _work_date_table(name: str, work_date_type: Any) -> sa.TableClause:
    """A lightweight view of ``name`` with ``work_date`` read/written as ``work_date_type``
    (``UTCDateTime`` binds exactly as the old code did on each backend)."""
    extra = {
        "attendance_schedules": ("check_type", "is_rest"),
        "attendance_results": ("id",),
        "attendance_records": ("id", "user_check_time"),
        "attendance_leaves": ("start_time", "leave_code", "end_time"),
        "attendance_column_values": ("column_id",),
    }[name]
    instants = ("user_check_time", "start_time", "end_time")
    types: dict[str, Any] = {c: UTCDateTime() for c in instants}
    return sa.table(
        name,
        sa.column("corp_id"),
        sa.column("userid"),
        sa.column("work_date", work_date_type),
        sa.column("synced_at", UTCDateTime()),
        *(sa.column(c, types.get(c)) for c in extra),
    )


def _old_rows(name: str) -> list[dict[str, Any]]:
    now = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    for i, day in enumerate(WORK_DAYS):
        row: dict[str, Any] = {
            "corp_id": "ding-corp",
            "userid": "u1",
            "work_date": _old_style(day),
            "synced_at": now,
        }
        row.update(
            {
                "attendance_schedules": {"check_type": "OnDuty", "is_rest": False},
                "attendance_results": {"id": 100 + i},
                "attendance_records": {"id": 200 + i, "user_check_time": _old_style(day)},
                "attendance_leaves": {
                    "start_time": _old_style(day),
                    "leave_code": "annual",
                    "end_time": _old_style(day) + timedelta(hours=9),
                },
                "attendance_column_values": {"column_id": 129339040},
            }[name]
        )
        rows.append(row)
    if name == "attendance_records":  # a punch without a work date stays NULL
        rows.append({**rows[0], "id": 299, "work_date": None})
    return rows


def test_0009_converts_old_work_dates_to_shanghai_calendar_dates(empty_db_url: str) -> None:
    engine = db.create_engine_for(empty_db_url)
    try:
        db.migrate(engine, "0008")
        with engine.begin() as conn:
            for name in WORK_DATE_TABLES:
                conn.execute(sa.insert(_work_date_table(name, UTCDateTime())), _old_rows(name))
            # The old storage, as a BI user met it: the UTC instant of the previous evening.
            old = conn.execute(
                sa.select(_work_date_table("attendance_results", UTCDateTime()).c.work_date)
            ).scalars()
            assert datetime(2026, 11, 26, 16, 0, tzinfo=UTC) in set(old)

        db.migrate(engine)
        assert _diffs(engine, schema.metadata) == []
        with engine.connect() as conn:
            for name in WORK_DATE_TABLES:
                t = _work_date_table(name, sa.Date())
                got = list(conn.execute(sa.select(t.c.work_date)).scalars())
                expected: list[date | None] = list(WORK_DAYS)
                if name == "attendance_records":
                    expected.append(None)
                assert sorted(got, key=str) == sorted(expected, key=str), name
                assert all(type(d) is date for d in got if d is not None), name
            # The tester's queries now find the day.
            for sql in (
                "SELECT COUNT(*) FROM attendance_results WHERE work_date = '2026-11-27'",
                "SELECT COUNT(*) FROM attendance_results "
                "WHERE CAST(work_date AS VARCHAR(10)) LIKE '2026-11-27%'",
            ):
                assert conn.execute(sa.text(sql)).scalar_one() == 1, sql
        insp = sa.inspect(engine)
        assert insp.get_pk_constraint("attendance_schedules")["constrained_columns"] == [
            "corp_id",
            "userid",
            "work_date",
            "check_type",
        ]
        assert insp.get_pk_constraint("attendance_column_values")["constrained_columns"] == [
            "corp_id",
            "userid",
            "column_id",
            "work_date",
        ]
        indexes = {i["name"]: i["column_names"] for i in insp.get_indexes("attendance_results")}
        assert indexes["ix_attendance_results_corp_id_work_date"] == ["corp_id", "work_date"]

        # Downgrade restores the old instants exactly; upgrading again is the same.
        with engine.begin() as conn:
            command.downgrade(db.alembic_config(conn), "0008")
        with engine.connect() as conn:
            for name in WORK_DATE_TABLES:
                t = _work_date_table(name, UTCDateTime())
                got_old = set(conn.execute(sa.select(t.c.work_date)).scalars())
                assert got_old == {r["work_date"] for r in _old_rows(name)}, name
        db.migrate(engine)
        assert _diffs(engine, schema.metadata) == []
        with engine.connect() as conn:
            t = _work_date_table("attendance_schedules", sa.Date())
            assert set(conn.execute(sa.select(t.c.work_date)).scalars()) == set(WORK_DAYS)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------
# 0010: one unionid per company (duplicates already stored are resolved, the index is unique)
# --------------------------------------------------------------------------------------------
def test_0010_resolves_stored_unionid_duplicates_and_makes_the_index_unique(
    empty_db_url: str,
) -> None:
    engine = db.create_engine_for(empty_db_url)
    users = sa.table(
        "users",
        sa.column("corp_id"),
        sa.column("userid"),
        sa.column("unionid"),
        sa.column("status"),
        sa.column("synced_at", UTCDateTime()),
    )
    older = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    try:
        db.migrate(engine, "0009")
        with engine.begin() as conn:
            conn.execute(sa.insert(schema.corps), [{"corp_id": "c1"}])
            conn.execute(
                sa.insert(users).values(status="active"),
                [
                    {"corp_id": "c1", "userid": "old", "unionid": "U", "synced_at": older},
                    {
                        "corp_id": "c1",
                        "userid": "new",
                        "unionid": "U",
                        "synced_at": older + timedelta(hours=1),
                    },
                    {"corp_id": "c1", "userid": "solo", "unionid": "S", "synced_at": older},
                    {"corp_id": "c1", "userid": "none", "unionid": None, "synced_at": older},
                ],
            )
        db.migrate(engine)
        assert _diffs(engine, schema.metadata) == []
        with engine.connect() as conn:
            got = {
                r.userid: (r.unionid, r.unionid_conflict)
                for r in conn.execute(sa.select(schema.users))
            }
        assert got == {
            "old": (None, "U"),
            "new": ("U", None),
            "solo": ("S", None),
            "none": (None, None),
        }
        index = {i["name"]: i for i in sa.inspect(engine).get_indexes("users")}
        assert index["ix_users_corp_id_unionid"]["unique"]
        with engine.begin() as conn:  # and back: the moved unionid returns
            command.downgrade(db.alembic_config(conn), "0009")
        with engine.connect() as conn:
            back = dict(conn.execute(sa.select(users.c.userid, users.c.unionid)).all())
        assert back["old"] == "U" and back["new"] == "U"
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------
# 0014: people who already left get the departments of their last directory payload
# --------------------------------------------------------------------------------------------
def test_0014_gives_earlier_leavers_their_former_departments(empty_db_url: str) -> None:
    engine = db.create_engine_for(empty_db_url)
    users = sa.table(
        "users",
        sa.column("corp_id"),
        sa.column("userid"),
        sa.column("status"),
        sa.column("synced_at", UTCDateTime()),
        sa.column("raw", schema.json_type()),
    )
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    try:
        db.migrate(engine, "0013")
        with engine.begin() as conn:
            conn.execute(sa.insert(schema.corps), [{"corp_id": "c1"}])
            conn.execute(
                sa.insert(users).values(synced_at=now),
                [
                    {"corp_id": "c1", "userid": "gone", "status": "left",
                     "raw": {"dept_id_list": [2, 3]}},
                    {"corp_id": "c1", "userid": "here", "status": "active",
                     "raw": {"dept_id_list": [2]}},
                    {"corp_id": "c1", "userid": "odd", "status": "inactive", "raw": None},
                ],
            )  # fmt: skip
        db.migrate(engine)
        with engine.connect() as conn:
            got = sorted(
                conn.execute(
                    sa.select(
                        schema.former_memberships.c.userid, schema.former_memberships.c.dept_id
                    )
                ).all()
            )
        assert got == [("gone", 2), ("gone", 3)]
        assert _diffs(engine, schema.metadata) == []
    finally:
        engine.dispose()


def test_0015_adds_and_drops_approval_attachments(empty_db_url: str) -> None:
    """0015 creates ``approval_attachments`` (with its file index and the cascade to the
    instance) and its downgrade drops it, leaving 0014's schema."""
    engine = db.create_engine_for(empty_db_url)
    try:
        with engine.begin() as conn:
            command.upgrade(db.alembic_config(conn), "0014")
        assert "approval_attachments" not in _tables(engine)
        with engine.begin() as conn:
            command.upgrade(db.alembic_config(conn), "0015")
        assert "approval_attachments" in _tables(engine)
        inspector = sa.inspect(engine)
        assert {i["name"] for i in inspector.get_indexes("approval_attachments")} == {
            "ix_approval_attachments_file"
        }
        (fk,) = inspector.get_foreign_keys("approval_attachments")
        assert fk["referred_table"] == "approval_instances"
        assert (fk.get("options") or {}).get("ondelete", "CASCADE").upper() == "CASCADE"
        with engine.begin() as conn:
            command.downgrade(db.alembic_config(conn), "0014")
        assert "approval_attachments" not in _tables(engine)
        assert db.current_revision(engine) == "0014"
    finally:
        engine.dispose()
