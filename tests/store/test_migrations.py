"""Migrations: apply from empty, match schema.metadata exactly, are repeatable and reversible."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from dingsync.store import db, schema


def _diffs(engine: sa.Engine, metadata: sa.MetaData) -> list[Any]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(ctx, metadata))


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_migrate_from_empty_matches_metadata(db_url: str) -> None:
    engine = db.create_engine_for(db_url)
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


def test_downgrade_to_base_and_up_again(db_url: str) -> None:
    engine = db.create_engine_for(db_url)
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
