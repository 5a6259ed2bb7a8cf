"""The export audit is a hash chain on SQLite, PostgreSQL and MariaDB: a row changed or removed
behind the triggers' back (the owner dropped them) is found by ``dingsync audit verify``;
concurrent appenders never fork the chain."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from typer.testing import CliRunner

from dingsync.cli import app as cli_app
from dingsync.store import repo_audit
from dingsync.store.schema_web import AUDIT_TRIGGER_DROP_SQL, web_export_audit


def _row(n: int) -> dict[str, object]:
    return {
        "corp_id": "c",
        "userid": f"u{n}",
        "kind": "users",
        "format": "csv",
        "filters": {"requested": {"dept_id": n}, "note": "导出"},
        "row_count": n,
        "sha256": "ab" * 32,
        "byte_size": 100 + n,
        "client": "cli",
    }


def _append(engine: Engine, n: int) -> list[int]:
    with engine.begin() as conn:
        return [repo_audit.append_export_audit(conn, _row(i)) for i in range(n)]


def _drop_triggers(engine: Engine) -> None:
    """What the table's owner can do: take the append-only triggers away."""
    with engine.begin() as conn:
        for statement in AUDIT_TRIGGER_DROP_SQL[engine.dialect.name]:
            conn.exec_driver_sql(statement)
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS web_export_audit_no_replace")


def _verify(engine: Engine) -> repo_audit.ChainCheck:
    with engine.connect() as conn:
        return repo_audit.verify_export_audit(conn)


def test_an_intact_chain_verifies(engine: Engine) -> None:
    _append(engine, 4)
    check = _verify(engine)
    assert check.ok and check.rows == 4
    with engine.connect() as conn:
        first = conn.execute(sa.select(web_export_audit).order_by(web_export_audit.c.id)).first()
    assert first is not None and first.prev_hash == repo_audit.GENESIS


def test_an_edited_row_breaks_the_chain_there(engine: Engine) -> None:
    ids = _append(engine, 4)
    _drop_triggers(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.update(web_export_audit).where(web_export_audit.c.id == ids[1]).values(row_count=0)
        )
    check = _verify(engine)
    assert (check.broken_id, check.reason) == (ids[1], "row_hash does not match the row's content")


def test_a_deleted_row_breaks_the_chain_at_the_next(engine: Engine) -> None:
    ids = _append(engine, 4)
    _drop_triggers(engine)
    with engine.begin() as conn:
        conn.execute(sa.delete(web_export_audit).where(web_export_audit.c.id == ids[2]))
    check = _verify(engine)
    assert check.broken_id == ids[3]
    assert check.reason == "prev_hash does not match the row before"


def test_a_rehashed_forgery_still_breaks_at_the_next_row(engine: Engine) -> None:
    """Recomputing the edited row's own hash does not help: the next row names the old one."""
    ids = _append(engine, 3)
    _drop_triggers(engine)
    with engine.begin() as conn:
        row = dict(
            conn.execute(sa.select(web_export_audit).where(web_export_audit.c.id == ids[0]))
            .mappings()
            .one()
        )
        row["row_count"] = 999
        forged = repo_audit.row_digest(row["prev_hash"], row)
        conn.execute(
            sa.update(web_export_audit)
            .where(web_export_audit.c.id == ids[0])
            .values(row_count=999, row_hash=forged)
        )
    assert _verify(engine).broken_id == ids[1]


def test_concurrent_appenders_keep_one_chain(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has a single writer; the lock is PostgreSQL's/MySQL's")
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(5):
                _append(engine, 2)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    check = _verify(engine)
    assert check.ok and check.rows == 60


def test_audit_verify_command_exits_0_then_1_naming_the_row(db_url: str, engine: Engine) -> None:
    ids = _append(engine, 3)
    runner = CliRunner()
    ok = runner.invoke(cli_app, ["audit", "verify", "--database-url", db_url])
    assert ok.exit_code == 0, ok.output
    assert "3 rows, hash chain intact" in ok.output
    _drop_triggers(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.update(web_export_audit).where(web_export_audit.c.id == ids[2]).values(userid="x")
        )
    bad = runner.invoke(cli_app, ["audit", "verify", "--database-url", db_url])
    assert bad.exit_code == 1
    assert f"row id {ids[2]}" in bad.output


def test_audit_verify_refuses_a_database_without_the_audit(
    empty_db_url: str, tmp_path: Path
) -> None:
    """``audit verify`` reads only: a SQLite file that does not exist is refused without being
    created (nor its folder), a database whose schema was never migrated is refused naming
    ``dingsync migrate`` (exit 2, one ``error:`` line), and a server that does not answer is
    the CLI's usual database failure (exit 1, password hidden) — never "unexpected"."""
    runner = CliRunner()
    missing = tmp_path / "nowhere" / "dingsync.db"
    r = runner.invoke(cli_app, ["audit", "verify", "--database-url", f"sqlite:///{missing}"])
    assert r.exit_code == 2, r.output
    assert f"no export audit in sqlite:///{missing}" in r.output
    assert "unexpected" not in r.output
    assert not missing.parent.exists()

    eng = sa.create_engine(empty_db_url)
    with eng.connect():  # the SQLite file exists, with no table
        pass
    eng.dispose()
    r = runner.invoke(cli_app, ["audit", "verify", "--database-url", empty_db_url])
    assert r.exit_code == 2, r.output
    assert "schema is not migrated" in r.output and "dingsync migrate" in r.output
    assert "unexpected" not in r.output
    with sa.create_engine(empty_db_url).connect() as conn:
        assert not sa.inspect(conn).has_table(web_export_audit.name)  # still reads only

    url = "postgresql+psycopg://dingsync:s3cret-pw@127.0.0.1:1/nowhere"
    r = runner.invoke(cli_app, ["audit", "verify", "--database-url", url])
    assert r.exit_code == 1, r.output
    assert "cannot use the database postgresql+psycopg://dingsync:***@127.0.0.1:1/nowhere" in (
        r.output
    )
    assert "s3cret-pw" not in r.output and "unexpected" not in r.output


def test_migration_0013_chains_rows_written_before_it(empty_db_url: str) -> None:
    from datetime import UTC, datetime

    from dingsync.store import db

    eng = db.create_engine_for(empty_db_url)
    try:
        db.migrate(eng, "0009")
        old = sa.Table("web_export_audit", sa.MetaData(), autoload_with=eng)
        with eng.begin() as conn:
            for n in range(3):
                conn.execute(
                    sa.insert(old).values(
                        **{k: v for k, v in _row(n).items() if k != "filters"},
                        filters=None,
                        created_at=datetime(2026, 11, 1, 8, n, tzinfo=UTC).replace(tzinfo=None),
                    )
                )
        db.migrate(eng, "0013")
        check = _verify(eng)
        assert check.ok and check.rows == 3
        _append(eng, 1)  # a new row links to the backfilled chain
        assert _verify(eng).rows == 4 and _verify(eng).ok
    finally:
        eng.dispose()
