"""A reports sync interrupted by DingTalk failures resumes from its window checkpoints; the CLI
commands (``dingsync export reports``, ``dingsync reports compliance``) work on a synced
database."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from dingsync.cli import app
from dingsync.export.report_rules import first_period_day
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import db, repo_audit, repo_reports
from dingsync.store.schema import sync_checkpoints, sync_runs
from dingsync.sync.engine import run_sync
from dingsync.sync.reports import ReportsSync
from helpers.reports import make_client, sync, window, window_dates


def test_interrupted_sync_resumes_from_window_checkpoints(engine: Engine) -> None:
    with SandboxServer(SandboxConfig(seed=9, users=12, days=10, qps_limit=None)) as sb:
        corp = sb.app.corp_id
        since = window(sb)[0]
        assert sync(sb, engine, details="none").status == "succeeded"
        with engine.begin() as conn:  # start the reports afresh
            for table in ("reports", "report_templates"):
                conn.exec_driver_sql(f"DELETE FROM {table}")
        # Some calls hang; the run is cancelled (Ctrl-C) while they do.
        sb.configure(fault_timeout=0.05, timeout_s=4.0, fault_seed=3)

        async def interrupted() -> None:
            async with make_client(sb) as client:
                entity = ReportsSync(since_ms=since, details="none")
                await asyncio.wait_for(run_sync(client, engine, corp, [entity]), timeout=1.5)

        with pytest.raises(TimeoutError):
            asyncio.run(interrupted())
        with engine.connect() as conn:
            status = conn.execute(
                select(sync_runs.c.status).order_by(sync_runs.c.id.desc())
            ).scalar()
            done = [
                k
                for (k,) in conn.execute(
                    select(sync_checkpoints.c.key).where(sync_checkpoints.c.entity == "reports")
                )
                if k.startswith("w:")
            ]
            partial = repo_reports.summary(conn, corp)["reports"]
        assert status == "interrupted"
        assert done and partial > 0
        sb.configure(fault_timeout=0.0)
        sb.reset_stats()
        result = sync(sb, engine, contacts=False, details="none")
        assert result.status == "succeeded" and result.resumed
        total = sb.stats()["reports"]["reports"]
        assert 0 < partial < total
        with engine.connect() as conn:
            assert repo_reports.summary(conn, corp)["reports"] == total
        # windows committed before the interruption are not fetched again
        assert sb.stats()["calls"]["/topapi/report/receiver/list"] == total - partial


def test_cli_export_and_compliance(sqlite_url: str, tmp_path: Path) -> None:
    engine = db.create_engine_for(sqlite_url)
    db.migrate(engine)
    with SandboxServer(SandboxConfig(seed=4, users=10, days=8, qps_limit=None)) as sb:
        assert sync(sb, engine, details="none").status == "succeeded"
        corp = sb.app.corp_id
        first, last = window_dates(sb)
    engine.dispose()
    runner = CliRunner()
    common = ["--database-url", sqlite_url, "--corp-id", corp]
    dates = ["--from", first.isoformat(), "--to", last.isoformat()]
    out = tmp_path / "r.xlsx"
    res = runner.invoke(
        app, ["export", "reports", "--template", "日报", *dates, "-o", str(out), *common]
    )
    assert res.exit_code == 0, res.output
    sheet = openpyxl.load_workbook(out, read_only=True).active
    assert sheet is not None
    header = next(sheet.iter_rows(values_only=True))
    assert header[:2] == ("日志ID", "模板") and "今日完成工作" in header
    res = runner.invoke(app, ["reports", "compliance", "--template", "日报", *dates, *common])
    assert res.exit_code == 0, res.output
    assert "提交率" in res.output
    # the table says which rule it counted by: 日报's DingTalk 统计规则 (synced with the reports)
    assert "规则: 钉钉统计规则 #" in res.output and "17:00" in res.output
    csv_out = tmp_path / "c.csv"
    res = runner.invoke(
        app,
        ["reports", "compliance", "--template", "周报", *dates, "--format", "csv",
         "-o", str(csv_out), *common],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert csv_out.read_bytes().startswith(b"\xef\xbb\xbf")
    # A file written is audited like `dingsync export` (DESIGN.md §7); a table printed is not.
    engine = db.create_engine_for(sqlite_url)
    with engine.connect() as conn:
        (audit, *_), total = repo_audit.list_export_audit(conn, corp)
    assert total == 2  # the reports export above, this file; not the table
    assert (audit["kind"], audit["format"], audit["client"]) == ("compliance", "csv", "cli")
    assert audit["filters"]["requested"] == {
        "template": "周报",
        "start_date": first.isoformat(),
        "end_date": last.isoformat(),
    }
    assert audit["row_count"] == len(csv_out.read_text(encoding="utf-8-sig").splitlines()) - 1
    assert audit["sha256"] == hashlib.sha256(csv_out.read_bytes()).hexdigest()
    assert f"export audit #{audit['id']}" in " ".join(res.output.split())
    engine.dispose()
    res = runner.invoke(app, ["reports", "compliance", "--template", "日报", "--from", "x",
                              "--to", "y", *common])  # fmt: skip
    assert res.exit_code == 2
    # an unknown --dept is a usage error, not an empty file (nor an overwritten one)
    before = out.read_bytes()
    for cmd in (
        ["export", "reports", "--template", "日报", *dates, "-o", str(out), "--dept", "1"],
        ["reports", "compliance", "--template", "日报", *dates],
    ):
        res = runner.invoke(app, [*cmd, "--dept", "123", *common])
        assert res.exit_code == 2, res.output
        assert "no department 123" in " ".join(res.output.split())
    assert out.read_bytes() == before
    # Days no date filter can name (year 1, 9999): exit 2 naming the range, nothing written
    # (not an OverflowError and a header-only file).
    far = tmp_path / "far.csv"
    for cmd in (
        ["export", "reports", "--template", "日报", "--format", "csv", "-o", str(far)],
        ["reports", "compliance", "--template", "日报", "--format", "csv", "-o", str(far)],
    ):
        for span in (["0001-01-01", "0001-01-07"], ["9999-12-25", "9999-12-31"]):
            res = runner.invoke(app, [*cmd, "--from", span[0], "--to", span[1], *common])
            assert res.exit_code == 2, res.output
            assert "out of range" in res.output and "1900-01-01" in res.output, res.output
            assert not far.exists()
    # 日志统计 counts at most 92 days, as the console and the API do
    res = runner.invoke(
        app,
        ["reports", "compliance", "--template", "日报", "--from", (last - timedelta(days=92))
         .isoformat(), "--to", last.isoformat(), *common],
    )  # fmt: skip
    assert res.exit_code == 2 and "92 days" in res.output, res.output
    # Days before the first synced report are said to be unsynced (their 未提交 says nothing),
    # as the console's 日志统计 warns; the synced days alone get no warning.
    with db.create_engine_for(sqlite_url).connect() as conn:
        synced_from = first_period_day(conn, corp, "日报")
    assert synced_from is not None
    early = (synced_from - timedelta(days=30)).isoformat()
    res = runner.invoke(
        app,
        ["reports", "compliance", "--template", "日报", "--from", early, "--to",
         last.isoformat(), *common],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    assert f"counts for {synced_from}" in said and "hold no synced report" in said, res.output
    res = runner.invoke(
        app,
        ["reports", "compliance", "--template", "日报", "--from", synced_from.isoformat(),
         "--to", last.isoformat(), *common],
    )  # fmt: skip
    assert res.exit_code == 0 and "no synced report" not in res.output, res.output
