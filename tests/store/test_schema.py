"""Schema contract, time helpers and the import boundary of ``dingsync.store``."""

from __future__ import annotations

import ast
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Date, DateTime

from dingsync.store import schema
from dingsync.store.schema import UTCDateTime, from_ms, to_ms

STORE_SRC = Path(schema.__file__).resolve().parent

EXPECTED_COLUMNS = {
    "corps": "corp_id name agent_id app_key created_at updated_at raw mode status timezone "
    "full_sync_requested_at",
    "departments": "corp_id dept_id parent_id name dept_order source_identifier create_dept_group "
    "auto_add_user hide_dept outer_dept org_dept_owner dept_manager_userid_list status "
    "last_seen_run_id synced_at raw",
    "users": "corp_id userid unionid unionid_conflict name avatar state_code mobile hide_mobile "
    "telephone "
    "job_number title email org_email work_place remark manager_userid hired_date active admin "
    "boss senior real_authed exclusive_account extension status left_at leave_reason "
    "last_seen_run_id synced_at local_disabled raw content_hash",
    "user_departments": "corp_id userid dept_id dept_order is_leader synced_at",
    "former_memberships": "corp_id userid dept_id dept_order is_leader removed_at",
    "admins": "corp_id userid sys_level synced_at raw",
    "admin_scopes": "corp_id userid dept_id",
    "leavers": "corp_id userid name state_code mobile leave_time leave_reason last_work_day "
    "main_dept_id main_dept_name dept_list status pre_status handover_userid reason_type "
    "reason_memo synced_at raw",
    "sync_runs": "id corp_id kind entities status started_at finished_at wall_ms counts "
    "api_calls error",
    "sync_checkpoints": "run_id entity key state updated_at",
    "sync_watermarks": "corp_id entity value updated_at",
    "token_cache": "cache_key token expires_at first_seen updated_at",
}

#: Columns that hold a calendar date (SQL ``DATE``, Asia/Shanghai) rather than an instant:
#: DingTalk's attendance ``workDate`` (DESIGN §4: work dates are calendar dates).
CALENDAR_DATES = {
    ("attendance_schedules", "work_date"),
    ("attendance_results", "work_date"),
    ("attendance_records", "work_date"),
    ("attendance_leaves", "work_date"),
    ("attendance_column_values", "work_date"),
    ("attendance_approvals", "work_date"),
    ("attendance_approvals", "end_work_date"),
    ("attendance_holidays", "work_date"),
}


def test_tables_and_columns() -> None:
    tables = schema.metadata.tables
    actual = {name: [c.name for c in tables[name].columns] for name in EXPECTED_COLUMNS}
    assert actual == {name: cols.split() for name, cols in EXPECTED_COLUMNS.items()}


#: Columns named by DingTalk's ``startDateTime``/``endDateTime`` of a report rule: window specs.
WINDOW_SPECS = {("report_rules", "start_date_time"), ("report_rules", "end_date_time")}


def test_keys_corp_id_and_time_types() -> None:
    t = schema.metadata.tables
    pk = {name: [c.name for c in table.primary_key.columns] for name, table in t.items()}
    assert pk["departments"] == ["corp_id", "dept_id"]
    assert pk["users"] == ["corp_id", "userid"]
    assert pk["user_departments"] == ["corp_id", "userid", "dept_id"]
    assert pk["sync_checkpoints"] == ["run_id", "entity", "key"]
    for name, table in t.items():
        # The suite's ticket belongs to the third-party suite, before any company.
        if name not in ("sync_checkpoints", "token_cache", "isv_suite_tickets"):
            assert "corp_id" in table.c, name
        for column in table.columns:
            if (name, column.name) in CALENDAR_DATES:
                # A calendar day, not an instant: SQL DATE (not a timestamp, not a datetime).
                assert isinstance(column.type, Date), f"{name}.{column.name}"
                assert not isinstance(column.type, (DateTime, UTCDateTime)), column.name
            elif (name, column.name) in WINDOW_SPECS:
                # DingTalk's submit windows of a report rule ("<day> HH:mm" texts), not instants.
                assert not isinstance(column.type, (DateTime, UTCDateTime)), column.name
            elif column.name.endswith(("_at", "_date", "_time", "_day")) and name != "token_cache":
                assert isinstance(column.type, UTCDateTime), f"{name}.{column.name}"
    assert t["sync_runs"].c.id.autoincrement is True


def test_calendar_dates_are_exactly_the_work_dates() -> None:
    """Only the attendance work dates are calendar dates; every other date-like column (e.g.
    ``users.hired_date`` and ``leavers.last_work_day``, epoch ms in DingTalk's contacts API)
    stays a UTC timestamp."""
    dates = {
        (name, column.name)
        for name, table in schema.metadata.tables.items()
        for column in table.columns
        if isinstance(column.type, Date)
    }
    assert dates == CALENDAR_DATES
    assert isinstance(schema.metadata.tables["users"].c.hired_date.type, UTCDateTime)
    assert isinstance(schema.metadata.tables["leavers"].c.last_work_day.type, UTCDateTime)


def test_from_ms_and_to_ms() -> None:
    may_day = datetime(2024, 5, 1, tzinfo=UTC)
    assert from_ms(1_714_521_600_000) == may_day
    assert from_ms("1714521600000") == may_day  # doc samples stringify numbers
    assert from_ms(1_714_521_600_123).microsecond == 123_000
    assert from_ms(None) is None and from_ms("") is None
    assert from_ms(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert from_ms(1_714_521_600_000).tzinfo is UTC  # type: ignore[union-attr]
    assert to_ms(may_day) == 1_714_521_600_000
    assert to_ms(may_day.astimezone(timezone(timedelta(hours=8)))) == 1_714_521_600_000
    assert to_ms(None) is None
    assert to_ms(from_ms(1_714_521_600_123)) == 1_714_521_600_123
    with pytest.raises(ValueError, match="naive"):
        to_ms(datetime(2024, 5, 1))
    with pytest.raises(TypeError):
        from_ms(True)


def _our_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {m for m in found if m == "dingsync" or m.startswith("dingsync.")}


#: Modules that import nothing of dingsync's: the time module and the area registry.
LEAF_MODULES = {"dingsync.timeutil", "dingsync.areas"}


def test_store_imports_nothing_else_of_ours() -> None:
    offenders = {
        str(path.relative_to(STORE_SRC)): sorted(bad)
        for path in STORE_SRC.rglob("*.py")
        if (bad := {m for m in _our_imports(path) if not _store_may_import(m)})
    }
    assert offenders == {}
    code = (
        "import sys, dingsync.store, dingsync.store.tokens\n"
        "print(sorted(m for m in sys.modules if m.startswith('dingsync')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = eval(out.stdout)
    assert [m for m in loaded if m != "dingsync" and not _store_may_import(m)] == []


def _store_may_import(module: str) -> bool:
    """store/ imports itself and the two leaf modules every package may use, nothing else."""
    return module.startswith("dingsync.store") or module in LEAF_MODULES
