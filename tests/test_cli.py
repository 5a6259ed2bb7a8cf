"""The ``dingsync`` command line, run in-process with real sandbox, client and SQLite."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dingsync.cli import app
from dingsync.sandbox import SandboxConfig, SandboxServer

runner = CliRunner()

CREDENTIAL_VARS = (
    "DINGTALK_APP_KEY",
    "DINGTALK_APP_SECRET",
    "DINGTALK_CORP_ID",
    "DINGTALK_AGENT_ID",
    "DINGTALK_OAPI_URL",
    "DINGTALK_API_URL",
    "DINGTALK_LOGIN_URL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in CREDENTIAL_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # no dingsync.toml, default database under tmp_path


def test_demo_json_summary_matches_the_sandbox(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "demo",
            "--users",
            "120",
            "--seed",
            "3",
            "--qps",
            "0",
            "--latency-ms",
            "0",
            "--jitter-ms",
            "0",
            "--json",
            "--once",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    truth = summary["sandbox_truth"]
    assert summary["status"] == "succeeded"
    for key in (
        "departments",
        "multi_department_users",
        "memberships",
        "admins",
        "leavers",
        "roles",
        "role_members",
    ):
        assert summary[key] == truth[key], key
    assert summary["active_users"] == truth["users"] == 120
    assert summary["api_calls"] == sum(summary["api_calls_by_path"].values()) > 0
    assert (tmp_path / ".dingsync" / "dingsync.db").exists()
    assert "DINGSYNC_REPORTS_DETAILS_DAYS" not in os.environ  # the demo passes settings
    # The contacts group reads the same database (the only corp in it).
    result = runner.invoke(app, ["contacts", "summary", "--json"])
    assert result.exit_code == 0, result.output
    stored = json.loads(result.stdout)
    assert stored["corp_id"] == summary["corp_id"]
    for key in ("departments", "active_users", "memberships", "admins", "roles", "leavers"):
        assert stored[key] == summary[key], key
    result = runner.invoke(app, ["contacts", "summary"])
    assert result.exit_code == 0, result.output
    assert summary["corp_id"] in result.stdout and "Directory" in result.stdout
    assert "Department memberships" in result.stdout


def test_demo_settings_default_only_what_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    from dingsync.cli import demo_settings
    from dingsync.config import load_settings

    monkeypatch.delenv("DINGSYNC_REPORTS_DETAILS", raising=False)
    assert demo_settings(load_settings()).reports_details == "all"
    monkeypatch.setenv("DINGSYNC_REPORTS_DETAILS", "recent")
    assert demo_settings(load_settings()).reports_details == "recent"


def test_sync_without_credentials_says_how_to_set_them() -> None:
    result = runner.invoke(app, ["sync"])
    assert result.exit_code == 2
    out = result.output
    assert "DINGTALK_APP_KEY" in out and "DINGTALK_APP_SECRET" in out
    assert "dingsync demo" in out


def test_sync_and_doctor_against_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    with SandboxServer(SandboxConfig(seed=5, users=80, qps_limit=None)) as sb:
        monkeypatch.setenv("DINGTALK_APP_KEY", sb.app.app_key)
        monkeypatch.setenv("DINGTALK_APP_SECRET", sb.app.app_secret)
        monkeypatch.setenv("DINGTALK_CORP_ID", sb.app.corp_id)
        monkeypatch.setenv("DINGTALK_OAPI_URL", sb.base_url)
        monkeypatch.setenv("DINGTALK_API_URL", sb.base_url)
        doctor = runner.invoke(app, ["doctor"])
        assert doctor.exit_code == 0, doctor.output
        assert "ok" in doctor.output
        assert sb.app.app_secret not in doctor.output

        result = runner.invoke(app, ["sync", "--only", "contacts", "--json"])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["departments"] == sb.stats()["departments"]
        assert summary["active_users"] == 80

        bad = runner.invoke(app, ["sync", "--only", "nosuch"])
        assert bad.exit_code == 2
        assert "unknown entity" in bad.output


def test_doctor_reports_a_wrong_secret_without_printing_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with SandboxServer(SandboxConfig(seed=5, users=20, qps_limit=None)) as sb:
        monkeypatch.setenv("DINGTALK_APP_KEY", sb.app.app_key)
        monkeypatch.setenv("DINGTALK_APP_SECRET", "wrong-secret-value-123")
        monkeypatch.setenv("DINGTALK_OAPI_URL", sb.base_url)
        monkeypatch.setenv("DINGTALK_API_URL", sb.base_url)
        result = runner.invoke(app, ["doctor"])
        assert result.exit_code == 1
        assert "failed" in result.output
        assert "wrong-secret-value-123" not in result.output
        # sync says what to check, not "run again to resume" (a rerun cannot help).
        monkeypatch.chdir(tmp_path)
        synced = runner.invoke(app, ["sync", "--only", "contacts"])
        assert synced.exit_code == 1, synced.output
        flat = " ".join(synced.output.split())
        assert "DINGTALK_APP_SECRET" in flat and "resume" not in flat
        assert "wrong-secret-value-123" not in synced.output


def test_parse_interval_reads_seconds_and_units() -> None:
    from dingsync.cli import parse_interval

    assert [parse_interval(t) for t in ("900", "90s", "15m", "2h", "1d", "0.5m")] == [
        900,
        90,
        900,
        7200,
        86400,
        30,
    ]
    for bad in ("", "m", "soon", "0", "-5m"):
        with pytest.raises(ValueError, match="--every"):
            parse_interval(bad)


def test_sync_every_repeats_incremental_runs_until_interrupted(tmp_path: Path) -> None:
    """``dingsync sync --incremental --every 1`` in its own process: runs again and again, each
    one recorded, and stops with 130 on SIGINT."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from sqlalchemy import create_engine, text

    db_file = tmp_path / "every.db"
    with SandboxServer(SandboxConfig(seed=5, users=60, qps_limit=None)) as sb:
        env = {
            **os.environ,
            "DINGTALK_APP_KEY": sb.app.app_key,
            "DINGTALK_APP_SECRET": sb.app.app_secret,
            "DINGTALK_CORP_ID": sb.app.corp_id,
            "DINGTALK_OAPI_URL": sb.base_url,
            "DINGTALK_API_URL": sb.base_url,
            "DINGSYNC_DATABASE_URL": f"sqlite:///{db_file}",
        }
        cmd = [sys.executable, "-m", "dingsync.cli", "sync", "--only", "contacts"]
        proc = subprocess.Popen(
            [*cmd, "--incremental", "--every", "1", "--json"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # a test run started in the background inherits an ignored SIGINT; the CLI must see it
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )

        def finished_runs() -> int:
            if not db_file.exists():
                return 0
            eng = create_engine(f"sqlite:///{db_file}")
            try:
                with eng.connect() as conn:
                    return int(
                        conn.execute(
                            text("SELECT count(*) FROM sync_runs WHERE status = 'succeeded'")
                        ).scalar()
                        or 0
                    )
            except Exception:  # the schema is being created
                return 0
            finally:
                eng.dispose()

        try:
            deadline = time.monotonic() + 90
            # four runs stored: the third's summary is printed (a run is stored before its
            # summary is, and the next run starts only after it)
            while finished_runs() < 4 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.2)
            assert finished_runs() >= 4, proc.stderr.read() if proc.poll() is not None else ""
        finally:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "next incremental run in" in err
        assert out.count('"status": "succeeded"') >= 3


# --------------------------------------------------------------------------------------------
# Failures are one line (no traceback), ports and fixed-value options are validated, doctor
# exits non-zero, the summary shows the run's own counts, events status/replay print tables.
# --------------------------------------------------------------------------------------------
def _sandbox_env(monkeypatch: pytest.MonkeyPatch, sb: SandboxServer, database_url: str) -> None:
    for key, value in {
        "DINGTALK_APP_KEY": sb.app.app_key,
        "DINGTALK_APP_SECRET": sb.app.app_secret,
        "DINGTALK_CORP_ID": sb.app.corp_id,
        "DINGTALK_OAPI_URL": sb.base_url,
        "DINGTALK_API_URL": sb.base_url,
        "DINGSYNC_DATABASE_URL": database_url,
    }.items():
        monkeypatch.setenv(key, value)


def _one_error_line(result: Any) -> str:
    """The ``error:`` line of a failed run, checking there is exactly one and no traceback."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output and "╭" not in result.output, result.output
    return errors[0]


def _bad_database_urls(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """name → (URL, what the error line must say)."""
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    return {
        "unknown driver": ("bogus://x", "unknown database driver 'bogus'"),
        "not a URL": ("notaurl", "not a database URL"),
        "unwritable path": (f"sqlite:///{a_file}/x.db", "cannot use the database sqlite:///"),
        "unreachable server": (
            "postgresql+psycopg://postgres:hunter2@127.0.0.1:1/dingsync",
            "cannot use the database postgresql+psycopg://postgres:***@127.0.0.1:1/dingsync",
        ),
        "driver not installed": ("mysql+mysqldb://u@127.0.0.1/x", "'MySQLdb' is not installed"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "unknown driver",
        "not a URL",
        "unwritable path",
        "unreachable server",
        "driver not installed",
    ],
)
def test_migrate_with_a_bad_database_is_one_line(tmp_path: Path, case: str) -> None:
    url, says = _bad_database_urls(tmp_path)[case]
    result = runner.invoke(app, ["migrate", "--database-url", url])
    assert result.exit_code == 1, result.output
    assert says in _one_error_line(result)
    assert "DINGSYNC_DEBUG=1" in result.stderr
    assert "hunter2" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["sync"],
        ["sync", "--incremental", "--every", "1h"],
        ["events", "status"],
        ["events", "replay"],
        ["users", "disabled"],
        ["roles", "list"],
        ["approvals", "stats"],
        ["contacts", "summary"],
        ["attendance", "summary", "--month", "2026-11"],
        [
            "reports",
            "compliance",
            "--template",
            "日报",
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-03",
        ],
        [
            "export",
            "reports",
            "--template",
            "日报",
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-03",
            "-o",
            "x.xlsx",
        ],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_every_command_fails_in_one_line_on_a_bad_database_url(
    monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("DINGTALK_APP_KEY", "ding-app-key")
    monkeypatch.setenv("DINGTALK_APP_SECRET", "the-app-secret-xyz")
    result = runner.invoke(app, [*args, "--database-url", "bogus://x"])
    assert result.exit_code == 1, result.output
    assert "unknown database driver 'bogus'" in _one_error_line(result)
    assert "the-app-secret-xyz" not in result.output


def test_dingsync_debug_shows_the_original_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import NoSuchModuleError

    monkeypatch.setenv("DINGSYNC_DEBUG", "1")
    result = runner.invoke(app, ["migrate", "--database-url", "bogus://x"])
    assert result.exit_code == 1
    assert isinstance(result.exception, NoSuchModuleError)


def test_a_bad_setting_or_toml_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DINGSYNC_QPS_PER_API", "fast")
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 2, result.output
    assert "DINGSYNC_QPS_PER_API" in _one_error_line(result)
    assert "fast" not in result.output  # values are not echoed (they may be secrets)
    monkeypatch.delenv("DINGSYNC_QPS_PER_API")
    (tmp_path / "dingsync.toml").write_text("app_key = \n", encoding="utf-8")
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 2, result.output
    assert "dingsync.toml is not valid TOML" in _one_error_line(result)


@pytest.mark.parametrize(
    ("args", "variable", "value"),
    [
        (["serve", "--port", "8765"], "DINGSYNC_WEB_MAX_BODY_BYTES", "lots"),
        (["serve", "--port", "8765", "--workers", "2"], "DINGSYNC_WEB_SESSION_TTL_S", "never"),
        (["demo", "--users", "5", "--days", "1"], "DINGSYNC_WEB_WARM_UP", "maybe"),
        (["serve", "--port", "8765"], "DINGSYNC_WEB_PUBLIC_URL", "hr.example.com"),
        (["serve", "--port", "8765"], "DINGSYNC_WEB_PUBLIC_URL", "ftp://files"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_a_bad_web_setting_is_refused_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str], variable: str, value: str
) -> None:
    """A ``DINGSYNC_WEB_*`` setting that does not validate is one ``error:`` line naming the
    variable (it said ``max_body_bytes``), exit 2 — before ``serve`` prints its "dingsync web
    on …" banner and before ``demo`` generates and syncs a company it could not serve."""
    monkeypatch.setenv(variable, value)
    db = tmp_path / "web.db"
    result = runner.invoke(app, [*args, "--database-url", f"sqlite:///{db}"])
    assert result.exit_code == 2, result.output
    assert _one_error_line(result).startswith(f"error: invalid setting {variable}: "), result.output
    assert value not in result.output  # values are not echoed (they may be secrets)
    assert "dingsync web on" not in result.output and "generating" not in result.output
    assert not db.exists()


def test_an_unexpected_exception_is_one_line_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """The root group's handler, on a command of its own that raises."""
    import typer

    from dingsync.commands.errors import DingsyncGroup

    demo_app = typer.Typer(cls=DingsyncGroup)

    @demo_app.command()
    def boom() -> None:
        raise RuntimeError("it broke\nsecond line of detail")

    @demo_app.command()
    def other() -> None:  # a second command, so ``boom`` is a sub-command
        pass

    result = runner.invoke(demo_app, ["boom"])
    assert result.exit_code == 1
    assert _one_error_line(result) == "error: RuntimeError: it broke"
    assert "second line" not in result.output
    assert "DINGSYNC_DEBUG=1 shows the traceback" in result.stderr
    monkeypatch.setenv("DINGSYNC_DEBUG", "1")
    result = runner.invoke(demo_app, ["boom"])
    assert isinstance(result.exception, RuntimeError)


def test_serve_on_a_port_in_use_is_one_line_before_the_banner(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import socket

    for var, value in {
        "DINGTALK_APP_KEY": "dingkey",
        "DINGTALK_APP_SECRET": "not-a-real-secret",
        "DINGTALK_CORP_ID": "dingcorp",
        "DINGSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
    }.items():
        monkeypatch.setenv(var, value)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = runner.invoke(app, ["serve", "--port", str(port)])
    assert result.exit_code == 1, result.output
    line = _one_error_line(result)
    assert f"127.0.0.1:{port}" in line and "in use" in line, line
    assert "dingsync web on" not in result.output
    assert "not-a-real-secret" not in result.output


def test_sandbox_on_a_port_in_use_is_one_line_before_the_company(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As ``serve``: one ``error:`` line naming the port, exit 1 (not uvicorn's exit 3, which
    the CLI's exit codes give to a sync already running), and no credentials or ``export``
    lines printed as if the sandbox were up."""
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = runner.invoke(
            app, ["sandbox", "--port", str(port), "--users", "20", "--days", "1"]
        )
    assert result.exit_code == 1, result.output
    line = _one_error_line(result)
    assert f"127.0.0.1:{port}" in line and "in use" in line, line
    assert "DINGTALK_APP_SECRET" not in result.output
    assert "export " not in result.output


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DINGSYNC_QPS_PER_API", "-5"),
        ("DINGSYNC_QPS_PER_API", "abc"),
        ("DINGSYNC_QPS_PER_API", "inf"),
        ("DINGSYNC_MAX_RETRIES", "-1"),
        ("DINGSYNC_SYNC_CONCURRENCY", "0"),
        ("DINGSYNC_CONTACTS_FULL_COMPARE_HOURS", "-1"),
    ],
)
def test_a_numeric_setting_out_of_range_is_refused_up_front(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str
) -> None:
    """Like ``DINGSYNC_TIMEZONE``: ``invalid setting <VARIABLE>: …``, exit 2, before the sync
    starts or the database is created."""
    db = tmp_path / "never.db"
    monkeypatch.setenv("DINGTALK_APP_KEY", "dingkey")
    monkeypatch.setenv("DINGTALK_APP_SECRET", "not-a-real-secret")
    monkeypatch.setenv(variable, value)
    result = runner.invoke(app, ["sync", "--only", "contacts", "--database-url", f"sqlite:///{db}"])
    assert result.exit_code == 2, result.output
    assert _one_error_line(result).startswith(f"error: invalid setting {variable}: ")
    assert "started" not in result.output
    assert not db.exists()


def test_qps_zero_still_means_no_client_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from dingsync.config import load_settings

    monkeypatch.setenv("DINGSYNC_QPS_PER_API", "0")
    assert load_settings().qps_per_api == 0


def test_an_unwritable_xlsx_path_is_a_path_error_not_unexpected(tmp_path: Path) -> None:
    """XlsxWriter wraps the ``OSError`` of a missing folder in its ``FileCreateError``: the
    root group's handler names the path and says to check it, as for a csv (exit 1)."""
    import typer
    import xlsxwriter

    from dingsync.commands.errors import DingsyncGroup

    demo_app = typer.Typer(cls=DingsyncGroup)
    target = tmp_path / "missing" / "x.xlsx"

    @demo_app.command()
    def write() -> None:
        workbook = xlsxwriter.Workbook(str(target))
        workbook.add_worksheet().write(0, 0, 1)
        workbook.close()

    @demo_app.command()
    def other() -> None:  # a second command, so ``write`` is a sub-command
        pass

    result = runner.invoke(demo_app, ["write"])
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert str(target) in line and "No such file or directory" in line, line
    assert "check the path and its folder" in result.stderr
    assert "unexpected" not in result.output and "FileCreateError" not in line


@pytest.mark.parametrize(
    "args",
    [
        ["sandbox", "--port", "99999"],
        ["sandbox", "--port", "-1"],
        ["sandbox", "--port", "0"],
        ["demo", "--port", "65536"],
        ["demo", "--port", "-5"],
        ["serve", "--port", "70000"],
        ["serve", "--port", "0"],
    ],
    ids=" ".join,
)
def test_ports_out_of_range_are_refused(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "--port" in result.output


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["sandbox", "--qps", "-1"], "--qps"),
        (["demo", "--once", "--qps", "-1"], "--qps"),
        (["sandbox", "--latency-ms", "-3"], "--latency-ms"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_sandbox_values_out_of_range_name_the_option_typed(
    tmp_path: Path, args: list[str], option: str
) -> None:
    """One ``error: --OPTION: …`` line naming the option as typed (``--qps -1`` said
    ``--qps-limit``, an option neither command has), exit 2, before any company is made."""
    db = tmp_path / "never.db"
    if args[0] == "demo":
        args = [*args, "--database-url", f"sqlite:///{db}"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert _one_error_line(result).startswith(f"error: {option}: "), result.output
    assert "generating" not in result.output and not db.exists()


@pytest.mark.parametrize("command", ["sandbox", "demo"])
def test_sandbox_sizes_show_and_enforce_their_range(tmp_path: Path, command: str) -> None:
    """``--users`` / ``--days`` are ≥ 1: ``--help`` says so (``[x>=1]``, as ``--corps`` and
    ``--port`` show theirs), and 0 is a usage error naming the option, exit 2, before any
    company is made."""
    shown = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    for option in ("--users", "--days"):
        line = next(x for x in shown.output.splitlines() if f" {option} " in x)
        assert "[x>=1]" in line, line
    db = tmp_path / "never.db"
    for option in ("--users", "--days"):
        args = [command, option, "0"]
        if command == "demo":
            args += ["--once", "--database-url", f"sqlite:///{db}"]
        result = runner.invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 2, result.output
        assert f"'{option}'" in result.output, result.output
        assert "generating" not in result.output and not db.exists()


def test_doctor_without_credentials_exits_2() -> None:
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 2, result.output
    assert "missing" in result.output and "DINGTALK_APP_KEY" in result.output
    assert "skipped (no credentials)" in result.output


@pytest.mark.parametrize("bad", ["notaurl", "ftp://oapi.example", "http://", "https://h:99999"])
def test_doctor_and_sync_refuse_a_bad_endpoint_url(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str, bad: str
) -> None:
    with SandboxServer(SandboxConfig(seed=5, users=20, qps_limit=None)) as sb:
        _sandbox_env(monkeypatch, sb, sqlite_url)
        monkeypatch.setenv("DINGTALK_OAPI_URL", bad)
        result = runner.invoke(app, ["doctor"], env={"COLUMNS": "200"})
        assert result.exit_code == 1, result.output
        assert "failed DINGTALK_OAPI_URL" in result.output
        assert "skipped (endpoint URL not usable)" in result.output
        assert sb.app.app_secret not in result.output
        result = runner.invoke(app, ["sync", "--only", "contacts"])
        assert result.exit_code == 2, result.output
        assert "DINGTALK_OAPI_URL" in _one_error_line(result)


def test_doctor_refuses_a_bad_login_url(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    with SandboxServer(SandboxConfig(seed=5, users=20, qps_limit=None)) as sb:
        _sandbox_env(monkeypatch, sb, sqlite_url)
        monkeypatch.setenv("DINGTALK_LOGIN_URL", "login.dingtalk.com")
        result = runner.invoke(app, ["doctor"], env={"COLUMNS": "200"})
        assert result.exit_code == 1, result.output
        assert "failed DINGTALK_LOGIN_URL" in result.output
        assert "https://login.dingtalk.com" in result.output  # the example
        monkeypatch.setenv("DINGTALK_LOGIN_URL", sb.base_url)
        result = runner.invoke(app, ["doctor"], env={"COLUMNS": "200"})
        assert f"login {sb.base_url}" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["demo", "--events", "carrier"],
        [
            "export",
            "reports",
            "--template",
            "日报",
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-03",
            "-o",
            "x.pdf",
            "--format",
            "pdf",
        ],
        ["export", "approvals", "--template", "报销", "--format", "pdf"],
        ["export", "attendance", "--month", "2026-11", "--format", "table"],
        ["attendance", "summary", "--month", "2026-11", "--format", "pdf"],
        [
            "reports",
            "compliance",
            "--template",
            "日报",
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-03",
            "--format",
            "html",
        ],
        ["events", "replay", "--status", "bogus"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_options_with_a_fixed_set_of_values_refuse_others(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "is not one of" in result.output


DAYS = ["--from", "2026-11-02", "--to", "2026-11-03"]


@pytest.mark.parametrize(
    "args",
    [
        ["export", "attendance", "--month", "9999-12"],
        ["export", "attendance", "--month", "0001-01"],
        ["attendance", "summary", "--month", "0001-01"],
        ["attendance", "crosscheck", "--month", "9999-01"],
        ["export", "approvals", "-t", "请假", "--from", "0001-01-01", "--to", "2026-01-01"],
        ["export", "approvals", "-t", "请假", "--from", "2026-01-01", "--to", "9999-12-31"],
        [
            *("export", "reports", "--template", "日报", "--from", "0001-01-01"),
            *("--to", "0001-01-02", "-o", "r.csv"),
        ],
        [
            "reports",
            "compliance",
            "--template",
            "日报",
            "--from",
            "9999-12-01",
            "--to",
            "9999-12-31",
        ],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_a_day_no_filter_can_name_is_a_usage_error(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Years outside 1900 … 9998 (as the API's and the console's filters): exit 2 naming the
    range — not an OverflowError —, no file written, before any database is opened."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DINGSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "out of range" in " ".join(result.output.split()), result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["export", "attendance", "--month", "2026-11", "-o", "a.txt"], "cannot tell the format"),
        (["export", "approvals", "-t", "报销", "-o", "p.csv", "-f", "xlsx"], "would write xlsx"),
        (["attendance", "summary", "--month", "2026-11", "-o", "s.pdf"], "cannot tell the format"),
        (
            ["attendance", "summary", "--month", "2026-11", "--format", "table", "-o", "s.csv"],
            "writes no file",
        ),
        (
            ["reports", "compliance", "--template", "日报", *DAYS, "-o", "c.txt"],
            "cannot tell the format",
        ),
    ],
    ids=lambda a: " ".join(a[:2]) if isinstance(a, list) else "",
)
def test_a_file_format_the_output_name_does_not_tell_is_a_usage_error(
    args: list[str], says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked before the database is opened: exit 2 with the reason, no file written."""
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert says in " ".join(result.output.replace("│", " ").split()), result.output
    assert list(tmp_path.iterdir()) == []


def test_inbox_status_choices_are_the_inbox_statuses() -> None:
    from dingsync.commands.events import InboxStatus
    from dingsync.store.schema_events import INBOX_STATUSES

    assert tuple(s.value for s in InboxStatus) == INBOX_STATUSES


def test_sync_summary_shows_the_runs_own_counts(
    monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    """``run_counts`` (JSON) and the "This run" table carry ``contacts_full_compare``: 1 for a
    full run, 0 for an incremental run within DINGSYNC_CONTACTS_FULL_COMPARE_HOURS of it on a
    corp that receives events."""
    with SandboxServer(SandboxConfig(seed=5, users=40, qps_limit=None)) as sb:
        _sandbox_env(monkeypatch, sb, db_url)
        monkeypatch.setenv("DINGSYNC_CONTACTS_FULL_COMPARE_HOURS", "24")
        full = runner.invoke(app, ["sync", "--only", "contacts", "--json"])
        assert full.exit_code == 0, full.output
        summary = json.loads(full.stdout)
        assert summary["run_counts"]["contacts_full_compare"] == 1
        assert summary["run_counts"]["departments"] == sb.stats()["departments"]
        _failed_inbox_row(db_url, sb)  # events are configured: the walk is not due
        inc = runner.invoke(
            app, ["sync", "--only", "contacts", "--incremental"], env={"COLUMNS": "200"}
        )
        assert inc.exit_code == 0, inc.output
        row = next(line for line in inc.stdout.splitlines() if "Contacts full compare" in line)
        assert row.split("│")[-2].strip() == "0"
        assert "This run" in inc.stdout


def _failed_inbox_row(database_url: str, sb: SandboxServer) -> int:
    from dingsync.dingtalk.models.events import event_from_http
    from dingsync.store import db, repo_events

    engine = db.create_engine_for(database_url)
    db.migrate(engine)
    userid = sorted(sb.company.users)[0]
    ev = event_from_http(
        {"EventType": "user_modify_org", "UserId": [userid], "TimeStamp": "1700000000000"}
    )
    try:
        with engine.begin() as conn:
            row_id = repo_events.insert_event(
                conn,
                corp_id=sb.app.corp_id,
                event_id=ev.event_id,
                event_type=ev.event_type,
                source="http",
                payload=ev.to_json(),
            )
            assert row_id is not None
            repo_events.finish_event(conn, row_id, "failed", "boom: user not found")
    finally:
        engine.dispose()
    return int(row_id)


def test_events_status_and_replay_print_tables_and_refuse_unknown_ids(
    monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    with SandboxServer(SandboxConfig(seed=9, users=30, qps_limit=None)) as sb:
        _sandbox_env(monkeypatch, sb, db_url)
        row_id = _failed_inbox_row(db_url, sb)
        wide = {"COLUMNS": "200"}
        status = runner.invoke(app, ["events", "status"], env=wide)
        assert status.exit_code == 0, status.output
        assert "{" not in status.stdout  # a table, not a dict repr
        assert "Event inbox" in status.stdout
        failed_line = next(line for line in status.stdout.splitlines() if "│ failed" in line)
        assert failed_line.split("│")[-2].strip() == "1"
        assert f"#{row_id}" in status.stdout and "boom: user not found" in status.stdout
        as_json = runner.invoke(app, ["events", "status", "--json"])
        assert as_json.exit_code == 0, as_json.output
        data = json.loads(as_json.stdout)
        assert data["corp_id"] == sb.app.corp_id
        assert data["inbox"] == {"failed": 1}
        assert [r["id"] for r in data["failed"]] == [row_id]
        assert data["failed"][0]["last_error"] == "boom: user not found"

        unknown = runner.invoke(app, ["events", "replay", "--id", "999999", "--id", str(row_id)])
        assert unknown.exit_code == 1, unknown.output
        assert "#999999" in _one_error_line(unknown)
        assert json.loads(runner.invoke(app, ["events", "status", "--json"]).stdout)["inbox"] == {
            "failed": 1
        }  # nothing was reprocessed

        replay = runner.invoke(app, ["events", "replay", "--id", str(row_id)], env=wide)
        assert replay.exit_code == 0, replay.output
        assert "{" not in replay.stdout
        line = next(x for x in replay.stdout.splitlines() if "reprocessed → processed" in x)
        assert line.split("│")[-2].strip() == "1"
        assert sb.app.app_secret not in replay.output


def test_ctrl_c_between_scheduled_runs_says_stopped(tmp_path: Path) -> None:
    """SIGINT while ``--every`` waits for the next run: "stopped", exit 130, and no "resume"
    hint (no run was interrupted)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    with SandboxServer(SandboxConfig(seed=5, users=30, qps_limit=None)) as sb:
        env = {
            **os.environ,
            "DINGTALK_APP_KEY": sb.app.app_key,
            "DINGTALK_APP_SECRET": sb.app.app_secret,
            "DINGTALK_CORP_ID": sb.app.corp_id,
            "DINGTALK_OAPI_URL": sb.base_url,
            "DINGTALK_API_URL": sb.base_url,
            "DINGSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'every.db'}",
        }
        err_file = tmp_path / "stderr.txt"
        with err_file.open("w") as err:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dingsync.cli",
                    "sync",
                    "--only",
                    "contacts",
                    "--every",
                    "1h",
                    "--json",
                ],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )
            try:
                deadline = time.monotonic() + 90
                while (
                    "next full run in" not in err_file.read_text()
                    and proc.poll() is None
                    and time.monotonic() < deadline
                ):
                    time.sleep(0.1)
                assert "next full run in" in err_file.read_text(), err_file.read_text()
            finally:
                proc.send_signal(signal.SIGINT)
                out, _ = proc.communicate(timeout=60)
        stderr = err_file.read_text()
        assert proc.returncode == 130, stderr
        assert stderr.rstrip().endswith("stopped"), stderr
        assert "resume" not in stderr and "interrupted" not in stderr
        assert json.loads(out)["status"] == "succeeded"


def test_an_unknown_template_is_one_error_line_for_every_export(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``export reports`` and ``export approvals`` refuse a template the database does not hold
    the same way: one ``error: no … template 'nope'; known: …`` line naming the synced ones,
    exit 2, no file (``export approvals`` printed typer's boxed "Invalid value")."""
    from dingsync.store import db, repo_approvals, repo_reports

    url = f"sqlite:///{tmp_path / 'templates.db'}"
    with SandboxServer(SandboxConfig(seed=11, users=20, days=2, qps_limit=None)) as sb:
        _sandbox_env(monkeypatch, sb, url)
        synced = runner.invoke(app, ["sync", "--json"])
        assert synced.exit_code == 0, synced.output
        corp = sb.app.corp_id
    engine = db.create_engine_for(url)
    try:
        with engine.connect() as conn:
            known = {
                "report": repo_reports.template_names(conn, corp),
                "approval": sorted(
                    str(t["name"]) for t in repo_approvals.load_templates(conn, corp)
                ),
            }
    finally:
        engine.dispose()
    assert known["report"] and known["approval"]
    day = ["--from", "2026-11-02", "--to", "2026-11-03"]
    cases = {
        "report": ["export", "reports", "--template", "nope", *day, "-o", "r.csv"],
        "approval": ["export", "approvals", "--template", "nope", "-o", "a.csv"],
    }
    codes = set()
    for kind, args in cases.items():
        result = runner.invoke(app, args, env={"COLUMNS": "80"})
        codes.add(result.exit_code)
        assert result.exit_code == 2, result.output
        assert "Invalid value" not in result.output, result.output
        assert _one_error_line(result) == (
            f"error: no {kind} template 'nope'; known: {', '.join(known[kind])}"
        )
    assert codes == {2}
    assert not (tmp_path / "r.csv").exists() and not (tmp_path / "a.csv").exists()
    # `approvals stats --template` names the template the same way
    stats = runner.invoke(app, ["approvals", "stats", "--template", "nope"])
    assert stats.exit_code == 2, stats.output
    assert _one_error_line(stats) == (
        f"error: no approval template 'nope'; known: {', '.join(known['approval'])}"
    )
