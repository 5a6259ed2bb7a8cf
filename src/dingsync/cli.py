"""The ``dingsync`` command line: ``demo``, ``sync``, ``sandbox``, ``doctor``, ``migrate``.

Every command reads its settings from the environment (``DINGTALK_*``, ``DINGSYNC_*``) and an
optional ``dingsync.toml``; options given on the command line win.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from dingsync import __version__
from dingsync.areas import AREA_NAMES
from dingsync.commands import register_all
from dingsync.commands.consoles import console, err_console
from dingsync.commands.errors import (
    DEBUG_ENV,
    CliFailure,
    DingsyncGroup,
    debugging,
    describe,
    endpoint_problem,
    open_engine,
    redact_url,
    report,
)
from dingsync.config import Settings, load_settings

app = typer.Typer(
    rich_markup_mode="markdown",
    cls=DingsyncGroup,
    name="dingsync",
    help="Your DingTalk (钉钉) organisation in your own database and your own apps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

NO_CREDENTIALS_HELP = """\
No DingTalk credentials are configured (missing: {missing}).

To sync a real DingTalk organisation, create an internal app (企业内部应用) in the DingTalk
developer console and set:

    export DINGTALK_APP_KEY=ding...        # Client ID (AppKey)
    export DINGTALK_APP_SECRET=...         # Client Secret (AppSecret)
    export DINGTALK_CORP_ID=ding...        # your CorpId
    export DINGTALK_AGENT_ID=...           # the micro-app's AgentId (for JSAPI / login)

or put them in ./dingsync.toml. To try dingsync without DingTalk, run the built-in sandbox:

    dingsync demo                          # sandbox + sync + summary, all local
    dingsync sandbox --port 8900           # a DingTalk emulator others can point at
"""


def _settings(database_url: str | None = None) -> Settings:
    overrides: dict[str, Any] = {}
    if database_url:
        overrides["DINGSYNC_DATABASE_URL"] = database_url
    return load_settings(**overrides)


@app.callback(invoke_without_command=True)
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        console.print(f"dingsync {__version__}")
        raise typer.Exit()


# --------------------------------------------------------------------------------------------
# sandbox
# --------------------------------------------------------------------------------------------
@app.command()
def sandbox(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8900,
    seed: Annotated[int, typer.Option(help="Seed of the generated company.")] = 42,
    users: Annotated[int, typer.Option(help="Number of people in the company.", min=1)] = 300,
    days: Annotated[int, typer.Option(help="Days of generated history.", min=1)] = 30,
    qps: Annotated[float, typer.Option(help="Per-app, per-API QPS limit (0 = off).")] = 20.0,
    latency_ms: Annotated[float, typer.Option(help="Fixed latency added to each call.")] = 0.0,
    jitter_ms: Annotated[float, typer.Option(help="Random extra latency, 0..jitter.")] = 0.0,
    corp_id: Annotated[str | None, typer.Option(help="CorpId the sandbox answers as.")] = None,
    agent_id: Annotated[str | None, typer.Option(help="AgentId of the sandbox app.")] = None,
    app_key: Annotated[str | None, typer.Option(help="AppKey the sandbox accepts.")] = None,
    app_secret: Annotated[str | None, typer.Option(help="AppSecret the sandbox accepts.")] = None,
    isv: Annotated[
        bool, typer.Option("--isv", help="Host a third-party suite with --corps companies.")
    ] = False,
    corps: Annotated[int, typer.Option(help="Companies of the --isv suite.", min=1)] = 3,
) -> None:
    """Run the DingTalk emulator (both API hosts on one port) until interrupted. A port that
    cannot be listened on (in use, a host that does not resolve) is refused in one ``error:``
    line, exit 1 as ``serve`` does, before the company is generated or anything printed."""
    from dingsync.sandbox import SandboxConfig, run_sandbox
    from dingsync.web.server import listen_problem

    problem = listen_problem(host, port)
    if problem:
        raise CliFailure(
            f"cannot listen on {host}:{port}: {problem}",
            "stop what holds the port, or pass another --port / --host",
        )
    if isv:
        from dingsync.sandbox.isv import IsvConfig
        from dingsync.sandbox.isv.server import run_isv_sandbox

        suite = IsvConfig.with_corps(
            corps, seed=seed, base_users=max(20, users // corps), days=days
        )
        host_cfg = SandboxConfig(seed=seed, users=12, days=1, qps_limit=qps or None,
                                 latency_ms=latency_ms, jitter_ms=jitter_ms)  # fmt: skip
        run_isv_sandbox(suite, host_cfg, host=host, port=port)
        return

    cfg = _sandbox_config(
        SandboxConfig,
        seed=seed,
        users=users,
        days=days,
        qps_limit=qps or None,
        latency_ms=latency_ms,
        jitter_ms=jitter_ms,
        corp_id=corp_id,
        agent_id=agent_id,
        app_key=app_key,
        app_secret=app_secret,
    )
    run_sandbox(cfg, host=host, port=port)


#: SandboxConfig fields whose command-line option has another name (``--qps``).
_SANDBOX_OPTIONS = {"qps_limit": "qps"}


def _sandbox_config(cls: Any, **kwargs: Any) -> Any:
    """Build a SandboxConfig, leaving unset (None) credential fields to the sandbox's defaults.
    A value the config refuses is one ``error: --OPTION: …`` line per field, naming the option
    as typed (``--qps``, not the field ``qps_limit``), and exit 2."""
    from pydantic import ValidationError

    keep = {"qps_limit"}
    try:
        return cls(**{k: v for k, v in kwargs.items() if v is not None or k in keep})
    except ValidationError as exc:
        for e in exc.errors():
            where = ".".join(str(p) for p in e["loc"])
            option = _SANDBOX_OPTIONS.get(where, where).replace("_", "-")
            err_console.print(f"error: --{option}: {e['msg']}", markup=False)
        raise typer.Exit(2) from None


def _fail(exc: BaseException, hint: str) -> NoReturn:
    """One clear line for an expected failure (no traceback unless DINGSYNC_DEBUG is set)."""
    if debugging():
        raise exc
    report(describe(exc), f"{hint} ({DEBUG_ENV}=1 shows the traceback)")
    raise typer.Exit(1) from None


def _check_endpoints(settings: Settings) -> None:
    """Exit 2 with one line per unusable DingTalk host URL (``DINGTALK_OAPI_URL``,
    ``DINGTALK_API_URL``, ``DINGTALK_LOGIN_URL``: http or https with a host)."""
    bad = _bad_endpoints(settings)
    for name, problem in bad.items():
        err_console.print(f"error: {name}: {problem}", markup=False, soft_wrap=True)
    if bad:
        raise typer.Exit(2)


def _bad_endpoints(settings: Settings) -> dict[str, str]:
    """``{variable: "'url' is not usable: why (e.g. default)"}`` for each unusable DingTalk host
    URL."""
    from dingsync.config import DEFAULT_API_URL, DEFAULT_LOGIN_URL, DEFAULT_OAPI_URL

    out = {}
    for name, url, example in (
        ("DINGTALK_OAPI_URL", settings.oapi_url, DEFAULT_OAPI_URL),
        ("DINGTALK_API_URL", settings.api_url, DEFAULT_API_URL),
        ("DINGTALK_LOGIN_URL", settings.login_url, DEFAULT_LOGIN_URL),
    ):
        problem = endpoint_problem(url)
        if problem:
            out[name] = f"{url!r} is not usable: {problem} (e.g. {example})"
    return out


# --------------------------------------------------------------------------------------------
# sync
# --------------------------------------------------------------------------------------------
@app.command()
def sync(
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help=f"Sync only this entity (repeatable): {', '.join((*AREA_NAMES, 'events'))}.",
        ),
    ] = None,
    incremental: Annotated[
        bool, typer.Option("--incremental", help="Incremental run (where supported).")
    ] = False,
    no_resume: Annotated[
        bool, typer.Option("--no-resume", help="Start afresh instead of resuming.")
    ] = False,
    database_url: Annotated[
        str | None, typer.Option(help="Overrides DINGSYNC_DATABASE_URL.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    every: Annotated[
        str | None,
        typer.Option(
            "--every",
            help="Repeat the run on this schedule until Ctrl-C, e.g. 900, 15m, 1h "
            "(a failed run is reported and resumed by the next one).",
        ),
    ] = None,
    corp: Annotated[
        str | None,
        typer.Option("--corp", help="Sync this company (its CorpId) of the configured apps."),
    ] = None,
    all_corps: Annotated[
        bool,
        typer.Option("--all", help="Sync every active company, one after another."),
    ] = False,
) -> None:
    """Sync the configured DingTalk organisation into the database (``--corp``/``--all``: the
    companies of ``[[apps]]`` in dingsync.toml and those authorised through the suite)."""
    settings = _settings(database_url)
    interval = None
    if every is not None:
        try:
            interval = parse_interval(every)
        except ValueError as exc:
            err_console.print(f"error: {exc}", markup=False)
            raise typer.Exit(2) from None
    kind = "incremental" if incremental else "full"
    if corp is not None or all_corps:
        from dingsync.commands.corps import sync_corps

        def run_corps(resume: bool) -> None:
            sync_corps(settings, corp, all_corps, only, incremental, resume, json_output)

        _repeat(run_corps, interval, kind, not no_resume)
        return
    if not settings.has_credentials:
        sys.stderr.write(
            NO_CREDENTIALS_HELP.format(missing=", ".join(settings.missing_credentials()))
        )
        raise typer.Exit(2)
    _check_endpoints(settings)
    engine = open_engine(settings.database_url)

    def run_once(resume: bool) -> None:
        _sync_run(settings, engine, only, kind, resume, json_output)

    _repeat(run_once, interval, kind, not no_resume)


def _repeat(run: Callable[[bool], None], interval: float | None, kind: str, resume: bool) -> None:
    """``run(resume)`` once, or every ``interval`` seconds until Ctrl-C (later runs resume; a
    failed run is reported and the schedule goes on; bad arguments or Ctrl-C stop it)."""
    if interval is None:
        run(resume)
        return
    n = 0
    while True:
        n += 1
        started = time.monotonic()
        try:
            run(resume or n > 1)
        except typer.Exit as exc:
            if exc.exit_code in (2, 130):  # bad arguments or Ctrl-C: stop the schedule
                raise
        wait = max(0.0, interval - (time.monotonic() - started))
        err_console.print(f"next {kind} run in {wait:.0f} s (Ctrl-C stops)", markup=False)
        try:
            time.sleep(wait)
        except KeyboardInterrupt:
            # Between runs: nothing was interrupted, so there is nothing to resume.
            err_console.print("stopped", markup=False)
            raise typer.Exit(130) from None


def parse_interval(text: str) -> float:
    """Seconds from ``900``, ``90s``, ``15m``, ``2h`` or ``1d``; ``ValueError`` when unreadable or
    not positive."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    raw = text.strip().lower()
    scale = units.get(raw[-1:], None)
    number = raw[:-1] if scale else raw
    try:
        value = float(number) * (scale or 1)
    except ValueError:
        raise ValueError(f"--every {text!r}: expected seconds or a number with s/m/h/d") from None
    if value <= 0:
        raise ValueError(f"--every {text!r}: must be positive")
    return value


def _sync_run(
    settings: Settings,
    engine: Any,
    only: list[str] | None,
    kind: str,
    resume: bool,
    json_output: bool,
    client_factory: Any = None,
) -> None:
    """One ``dingsync sync`` run with progress and summary; ``typer.Exit`` on failure.
    ``client_factory``: builds the company's client (default: from ``settings``)."""
    from dingsync.dingtalk import CredentialsError
    from dingsync.sync.lease import CorpNotActive, SyncAlreadyRunning
    from dingsync.sync.progress import progress_for
    from dingsync.sync.runner import MissingCredentials, sync_once

    try:
        with progress_for(err_console) as progress:
            result = asyncio.run(
                sync_once(
                    settings,
                    only=only,
                    engine=engine,
                    progress=progress,
                    resume=resume,
                    kind=kind,
                    client=client_factory() if client_factory is not None else None,
                )
            )
    except MissingCredentials as exc:  # pragma: no cover - checked above
        sys.stderr.write(NO_CREDENTIALS_HELP.format(missing=str(exc)))
        raise typer.Exit(2) from exc
    except ValueError as exc:
        err_console.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from exc
    except SyncAlreadyRunning as exc:
        err_console.print(f"error: {exc}", markup=False)
        raise typer.Exit(3) from None
    except CorpNotActive as exc:
        err_console.print(f"error: {exc}", markup=False)
        raise typer.Exit(4) from None
    except KeyboardInterrupt:
        err_console.print("interrupted; run `dingsync sync` again to resume from the checkpoint")
        raise typer.Exit(130) from None
    except CredentialsError as exc:
        # Rerunning cannot help: the app's credentials are wrong.
        _fail(exc, "check DINGTALK_APP_KEY and DINGTALK_APP_SECRET (`dingsync doctor` tests them)")
    except Exception as exc:
        _fail(exc, "sync failed; run `dingsync sync` again to resume from the checkpoints")
    summary = _summary(engine, result.run_id, result, corp_id=None)
    _print_summary(summary, json_output, title="Sync")


# --------------------------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------------------------
class EventsChannel(StrEnum):
    """How the served demo receives the sandbox's events."""

    http = "http"  # encrypted HTTP callbacks to /callbacks/dingtalk
    stream = "stream"  # Stream mode


@app.command()
def demo(
    users: Annotated[int, typer.Option(help="People in the sandbox company.", min=1)] = 300,
    seed: Annotated[int, typer.Option(help="Seed of the sandbox company.")] = 42,
    days: Annotated[
        int,
        typer.Option(help="Days of history (reports, attendance, approvals) to generate.", min=1),
    ] = 7,
    qps: Annotated[float, typer.Option(help="Sandbox per-API QPS limit (DingTalk: 20).")] = 20.0,
    latency_ms: Annotated[float, typer.Option(help="Sandbox latency per call.")] = 30.0,
    jitter_ms: Annotated[float, typer.Option(help="Sandbox latency jitter.")] = 20.0,
    database_url: Annotated[
        str | None, typer.Option(help="Overrides DINGSYNC_DATABASE_URL.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    once: Annotated[
        bool, typer.Option("--once", help="Exit after the sync instead of serving the web API.")
    ] = False,
    port: Annotated[
        int,
        typer.Option(
            help="Port of the web API served after the sync (0 = any free one; one in use: "
            "a free one, said so).",
            min=0,
            max=65535,
        ),
    ] = 8000,
    events: Annotated[
        EventsChannel,
        typer.Option(help="How the served demo receives sandbox events: http or stream."),
    ] = EventsChannel.http,
    isv: Annotated[
        bool,
        typer.Option(
            "--isv",
            help="Multi-company mode: a third-party suite with --corps companies that authorise "
            "it, each synced with its own company token, then all served.",
        ),
    ] = False,
    corps: Annotated[int, typer.Option(help="Companies of the --isv suite.", min=1)] = 3,
) -> None:
    """Start the sandbox, sync it into the database, print a summary, then serve the web API
    on the synced sandbox company (not with --once or --json, which exit after the sync).

    Uses the default SQLite file unless DINGSYNC_DATABASE_URL / --database-url says otherwise.
    With --isv: a sandbox suite whose --corps companies authorise it over Stream, each synced,
    then the web API serves them all (each company's people log in with its corpId).
    """
    if not (once or json_output):
        from dingsync.web.options import WebOptions

        WebOptions()  # a DINGSYNC_WEB_* setting that does not validate: exit 2 before the sync
    if isv:
        from dingsync.commands.isv_demo import print_isv_summary, run_isv_demo, serve_isv_demo

        isv_settings = demo_settings(_settings(database_url))
        isv_engine = open_engine(isv_settings.database_url)
        say = None if json_output else err_console.print
        kw: dict[str, Any] = {
            "corps": corps,
            "seed": seed,
            "users": max(20, users // max(corps, 1)),
            "days": days,
            "qps": qps or None,
            "latency_ms": latency_ms,
            "say": say,
        }
        if once or json_output:
            summary = run_isv_demo(isv_settings, isv_engine, **kw)
            print_isv_summary(summary, json_output, console)
            return

        def show(summary: dict[str, Any], lines: list[str]) -> None:
            print_isv_summary(summary, False, console)
            console.print("\n" + "\n".join(lines), highlight=False, soft_wrap=True, markup=False)

        serve_isv_demo(isv_settings, isv_engine, _free_or(port), show=show, **kw)
        return
    from dingsync.sandbox import SandboxConfig, SandboxServer
    from dingsync.sync.progress import progress_for
    from dingsync.sync.runner import sync_once

    base = demo_settings(_settings(database_url))
    cfg = _sandbox_config(
        SandboxConfig,
        seed=seed,
        users=users,
        days=days,
        qps_limit=qps or None,
        latency_ms=latency_ms,
        jitter_ms=jitter_ms,
    )
    started = time.monotonic()
    if not json_output:
        err_console.print(
            f"[bold]dingsync demo[/]: generating a {users}-person company with {days} days "
            f"of history (seed {seed})"
        )
    serving = not (once or json_output)
    engine = open_engine(base.database_url)  # before the sandbox: a bad URL fails at once
    sb = SandboxServer(cfg).start()
    # When serving, the sandbox keeps running after the sync (stopped by _serve_demo).
    with contextlib.nullcontext() if serving else sb:
        settings = base.model_copy(
            update={
                "app_key": sb.app.app_key,
                "app_secret": _secret(sb.app.app_secret),
                "corp_id": sb.app.corp_id,
                "agent_id": str(sb.app.agent_id),
                "oapi_url": sb.base_url,
                "api_url": sb.base_url,
                "login_url": sb.base_url,
                "qps_per_api": qps or 0.0,
            }
        )
        if not json_output:
            err_console.print(
                f"sandbox at {sb.base_url} (corpId {sb.app.corp_id}, {qps:g} QPS per API, "
                f"{latency_ms:g}±{jitter_ms:g} ms); database {redact_url(settings.database_url)}"
            )
        try:
            with progress_for(err_console) as progress:
                result = asyncio.run(
                    sync_once(settings, engine=engine, progress=progress, resume=False)
                )
        except KeyboardInterrupt:
            # The client is closed by then (sync_once's ``async with``); stop the sandbox
            # too when it was to be served (otherwise the ``with`` stops it).
            if serving:
                sb.stop()
            err_console.print(
                "interrupted; the demo's sync stopped (`dingsync demo` starts afresh)",
                markup=False,
            )
            raise typer.Exit(130) from None
        truth = sb.stats()
    summary = _summary(engine, result.run_id, result, corp_id=settings.corp_id)
    summary["sandbox_truth"] = {
        k: truth.get(k)
        for k in (
            "departments",
            "users",
            "multi_department_users",
            "memberships",
            "admins",
            "sub_admins",
            "leavers",
            "roles",
            "role_members",
        )
    }
    summary["total_wall_s"] = round(time.monotonic() - started, 2)
    _print_summary(summary, json_output, title="dingsync demo")
    if serving:
        _serve_demo(sb, settings, engine, _free_or(port), events.value)


#: Settings the demo uses unless configured otherwise. Report details (comments, reads, likes)
#: cover the demo's whole history, as by default: counts for "the last day" showed 0 on every
#: report when the demo ran on a weekend.
DEMO_DEFAULTS: dict[str, Any] = {"reports_details": "all"}


def demo_settings(settings: Settings) -> Settings:
    """``settings`` with :data:`DEMO_DEFAULTS` for every field the environment, ``dingsync.toml``
    or the command line left unset (the demo passes these settings to the sync and the web
    service; it never writes the environment)."""
    unset = {k: v for k, v in DEMO_DEFAULTS.items() if k not in settings.model_fields_set}
    return settings.model_copy(update=unset)


def _free_or(port: int) -> int:
    """``port`` if it can be bound on 127.0.0.1, else (or for 0) any free port; a port asked
    for and taken (another demo or service on 8000) is said, so the README's
    ``http://127.0.0.1:8000`` is not mistaken for this demo."""
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            s.bind(("127.0.0.1", 0))
            free = int(s.getsockname()[1])
            console.print(
                f"port {port} is not free ({exc.strerror or exc}): the web API is served on "
                f"port {free} instead",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
            return free
        return int(s.getsockname()[1])


def _serve_demo(sb: Any, settings: Settings, engine: Any, port: int, channel: str) -> None:
    """Serve the web API on the synced sandbox company until interrupted, then stop both.

    Sandbox mutations (``POST /sandbox/mutate/contacts/hire`` …) reach the database through
    ``channel``: encrypted HTTP callbacks to ``/callbacks/dingtalk`` or Stream mode.
    """
    from dingsync.commands.demo_console import console_lines, demo_logins
    from dingsync.web import create_app
    from dingsync.web.routers.callbacks import attach_demo
    from dingsync.web.server import serve

    ev = None
    try:
        someone = sorted(sb.company.users)[0]
        admin = sb.company.main_admin_userid
        url = f"http://127.0.0.1:{port}"
        console.print(
            f"\n[bold]web API[/] at {url} (docs: {url}/docs). Log in like the micro-app does:\n"
            f"  1. get a login code (plays dd.getAuthCode):\n"
            f"     curl -s -X POST {sb.base_url}/sandbox/authcode "
            f"-H 'content-type: application/json' -d '{{\"userid\": \"{someone}\"}}'\n"
            f"  2. exchange it for a session and your profile:\n"
            f"     curl -s -X POST {url}/api/auth/dingtalk "
            f"-H 'content-type: application/json' -d '{{\"authCode\": \"<code>\"}}'\n"
            f"  3. then: curl -s {url}/api/me -H 'Authorization: Bearer <session.token>'\n"
            f"(the main administrator, who may export and read the audit, is {admin}; "
            "Ctrl-C stops)\n"
            f"Events ({channel}): change the company and watch the database follow, e.g.\n"
            f"     curl -s -X POST {sb.base_url}/sandbox/mutate/contacts/hire "
            "-H 'content-type: application/json' -d '{}'",
            highlight=False,
            soft_wrap=True,
        )
        _print_sandbox_env(sb, settings)
        demo = demo_logins(sb.base_url, sb.company, engine, str(settings.corp_id))
        console.print(
            "\n".join(console_lines(url, demo)), highlight=False, soft_wrap=True, markup=False
        )
        app = create_app(settings, engine=engine, demo_logins=demo)
        ev = attach_demo(app, settings, engine, sb.base_url, url, channel)
        serve(app, host="127.0.0.1", port=port)
    finally:
        if ev is not None:
            ev.stop()
        sb.stop()


def sandbox_env(sb: Any) -> dict[str, str]:
    """The ``DINGTALK_*`` variables that point dingsync at the running sandbox ``sb``: both host
    URLs and the sandbox app's AppKey, AppSecret, CorpId and AgentId (the sandbox's own app;
    its AppSecret guards nothing real, and ``GET /sandbox/app`` serves it too)."""
    return {
        "DINGTALK_OAPI_URL": sb.base_url,
        "DINGTALK_API_URL": sb.base_url,
        "DINGTALK_LOGIN_URL": sb.base_url,
        "DINGTALK_APP_KEY": sb.app.app_key,
        "DINGTALK_APP_SECRET": sb.app.app_secret,
        "DINGTALK_CORP_ID": sb.app.corp_id,
        "DINGTALK_AGENT_ID": str(sb.app.agent_id),
    }


def _print_sandbox_env(sb: Any, settings: Settings) -> None:
    """Print (to stdout, deliberately, as ``dingsync sandbox`` does) the ``export`` lines that
    point the CLI in another shell at the demo's sandbox and database."""
    import shlex

    from dingsync.config import default_database_url

    lines = [f"export {k}={shlex.quote(v)}" for k, v in sandbox_env(sb).items()]
    if settings.database_url != default_database_url():
        lines.append("# and DINGSYNC_DATABASE_URL (or --database-url): this demo's database")
    console.print(
        "Point the dingsync CLI at this sandbox from another shell (the sandbox app's own "
        "credentials, not a real secret), then e.g. `dingsync doctor`, `dingsync events "
        "status`, `dingsync sync --incremental`:\n  " + "\n  ".join(lines),
        highlight=False,
        soft_wrap=True,
        markup=False,
    )


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


def _summary(engine: Any, run_id: int, result: Any, corp_id: str | None) -> dict[str, Any]:
    """The run's summary: what the database holds for the corp (``repo.count_summary`` and each
    entity's ``summary``) at top level, what this run itself counted under ``run_counts``
    (``SyncResult.counts``, e.g. ``contacts_full_compare`` 1 or 0, all attempts of a resumed
    run), its DingTalk calls and wall time (s)."""
    from dingsync.store import repo
    from dingsync.sync.runner import make_entities

    with engine.connect() as conn:
        cid = corp_id or _run_by_id(conn, run_id)["corp_id"]
        counts = repo.count_summary(conn, cid)
        for entity in make_entities():
            if hasattr(entity, "summary"):
                counts.update(entity.summary(conn, cid))
    return {
        "corp_id": cid,
        "run_id": run_id,
        "status": result.status,
        "resumed": result.resumed,
        **counts,
        "api_calls": sum(result.api_calls.values()),
        "api_calls_by_path": dict(sorted(result.api_calls.items())),
        "wall_s": round(result.wall_s, 2),
        "run_counts": dict(sorted(result.counts.items())),
        "quarantined": list(result.quarantined),
    }


def _run_by_id(conn: Any, run_id: int) -> dict[str, Any]:
    from sqlalchemy import select

    from dingsync.store.schema import sync_runs

    row = conn.execute(select(sync_runs).where(sync_runs.c.id == run_id)).mappings().one()
    return dict(row)


#: Our summary key → the sandbox truth it is compared with. The sandbox's own ``active_users``
#: means "has activated DingTalk"; everyone it lists in ``users`` is in the directory.
TRUTH_KEYS = {"active_users": "users", "users": "_rows"}

SUMMARY_LABELS = {
    "departments": "Departments",
    "users": "Users (rows)",
    "active_users": "Users in the directory",
    "multi_department_users": "Users in several departments",
    "memberships": "Department memberships",
    "admins": "Administrators",
    "sub_admins": "Sub-administrators",
    "leavers": "Leavers (departure records)",
    "left_users": "Users marked left (seen here before leaving)",
    "roles": "Roles",
    "role_members": "Role members (per role)",
    "api_calls": "DingTalk API calls",
    "wall_s": "Sync wall time (s)",
}

#: Labels of the run's own counts (``run_counts``); others are the key, humanised.
RUN_COUNT_LABELS = {
    "contacts_full_compare": "Contacts full compare",
    "departments": "Departments walked",
    "memberships": "Department memberships read",
    "marked_departments": "Departments marked removed (not seen)",
    "marked_users": "Users marked inactive (not seen)",
    "marked_memberships": "Memberships removed (not seen)",
}


def _print_summary(summary: dict[str, Any], as_json: bool, title: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False, default=str, indent=2) + "\n")
        return
    table = Table(title=f"{title} — corp {summary['corp_id']} (run {summary['run_id']})")
    table.add_column("What")
    table.add_column("Count", justify="right")
    truth = summary.get("sandbox_truth") or {}
    if truth:
        table.add_column("Sandbox truth", justify="right")
    skip = {
        "corp_id",
        "run_id",
        "status",
        "resumed",
        "api_calls_by_path",
        "sandbox_truth",
        "run_counts",
        "quarantined",
    }
    extra = {
        k: k.replace("_", " ").capitalize()
        for k, v in summary.items()
        if k not in SUMMARY_LABELS
        and k not in skip
        and isinstance(v, int | float)
        and k != "total_wall_s"
    }
    for key, label in {**SUMMARY_LABELS, **extra}.items():
        if key in summary:
            cells = [label, f"{summary[key]}"]
            if truth:
                tkey = TRUTH_KEYS.get(key, key)
                cells.append("" if truth.get(tkey) is None else str(truth[tkey]))
            table.add_row(*cells)
    console.print(table)
    run_counts = summary.get("run_counts") or {}
    if run_counts:
        this_run = Table(title="This run")
        this_run.add_column("What")
        this_run.add_column("Count", justify="right")
        labelled = sorted(
            (RUN_COUNT_LABELS.get(k, k.replace("_", " ").capitalize()), n)
            for k, n in run_counts.items()
        )
        for label, n in labelled:
            this_run.add_row(label, str(n))
        console.print(this_run)
    calls = Table(title="API calls by path")
    calls.add_column("Path")
    calls.add_column("Calls", justify="right")
    for path, n in summary.get("api_calls_by_path", {}).items():
        calls.add_row(path, str(n))
    console.print(calls)
    quarantined = summary.get("quarantined") or []
    if quarantined:
        held = Table(title="Quarantined units (refused for their data; the next run retries)")
        held.add_column("Entity")
        held.add_column("Unit")
        held.add_column("Reason")
        for q in quarantined:
            held.add_row(q["entity"], escape(q["key"]), escape(q["reason"]))
        console.print(held)
    status = summary["status"]
    line = f"status: {status}"
    if "total_wall_s" in summary:
        line += f"; demo took {summary['total_wall_s']} s in all"
    console.print(line)


# --------------------------------------------------------------------------------------------
# doctor, migrate
# --------------------------------------------------------------------------------------------
@app.command()
def doctor(
    database_url: Annotated[
        str | None, typer.Option(help="Overrides DINGSYNC_DATABASE_URL.")
    ] = None,
    corp: Annotated[
        str | None,
        typer.Option(
            "--corp",
            help="Probe one company's permissions area by area (ok / missing, with the "
            "permission point to grant).",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="With --corp: print the probes as JSON.")
    ] = False,
) -> None:
    """Check the configuration, the endpoint URLs, the database and the DingTalk token; exit 2
    when credentials are missing, 1 when a check fails. ``--corp CORP``: the permission probes
    of that company (exit 1 when a permission is missing)."""
    from dingsync.store import db

    settings = _settings(database_url)
    if corp is not None:
        from dingsync.commands.corps import doctor_corp

        doctor_corp(settings, corp, json_output)
        return
    ok = True
    table = Table(title="dingsync doctor")
    table.add_column("Check")
    table.add_column("Result")
    missing = settings.missing_credentials()
    table.add_row(
        "credentials",
        "[green]set[/]" if not missing else f"[red]missing[/] {', '.join(missing)}",
    )
    bad_endpoints = _bad_endpoints(settings)
    if bad_endpoints:
        ok = False
        table.add_row(
            "endpoints",
            "\n".join(f"[red]failed[/] {k}: {escape(v)}" for k, v in bad_endpoints.items()),
        )
    else:
        table.add_row(
            "endpoints",
            f"[green]ok[/] {escape(settings.oapi_url)} , {escape(settings.api_url)} , login "
            f"{escape(settings.login_url)}",
        )
    try:
        engine = db.create_engine_for(settings.database_url)
        rev, head = db.current_revision(engine), db.head_revision()
        where = escape(engine.url.render_as_string())
        if rev == head:
            table.add_row("database", f"[green]ok[/] {where} (schema {rev})")
        else:
            table.add_row(
                "database",
                f"[yellow]reachable[/] {where}, schema {rev or 'empty'} (latest {head}): "
                "run `dingsync migrate` (sync does it too)",
            )
        quarantined = _last_run_quarantine(engine) if rev == head else []
        if quarantined:
            table.add_row(
                "quarantined units",
                "\n".join(
                    f"[yellow]{escape(q['entity'])} {escape(q['key'])}[/]: {escape(q['reason'])}"
                    for q in quarantined
                ),
            )
    except Exception as exc:  # report any failure
        ok = False
        table.add_row(
            "database",
            f"[red]failed[/] {escape(redact_url(settings.database_url))}: {escape(describe(exc))}",
        )
    if missing:
        table.add_row("access token", "[yellow]skipped (no credentials)[/]")
    elif bad_endpoints:
        table.add_row("access token", "[yellow]skipped (endpoint URL not usable)[/]")
    else:
        from dingsync.sync.runner import build_client

        async def _token() -> str:
            # No shared token store: ask DingTalk itself, so a wrong secret shows up even when
            # another process cached a valid token.
            async with build_client(settings, None) as client:
                await client.get_access_token()
                return f"issued by {settings.api_url} for AppKey {settings.app_key}"

        try:
            table.add_row("access token", f"[green]ok[/] {escape(asyncio.run(_token()))}")
        except Exception as exc:  # report any failure
            ok = False
            table.add_row("access token", f"[red]failed[/] {escape(describe(exc))}")
    console.print(table)
    if missing:
        sys.stderr.write(NO_CREDENTIALS_HELP.format(missing=", ".join(missing)))
        raise typer.Exit(2)
    raise typer.Exit(0 if ok else 1)


def _last_run_quarantine(engine: Any) -> list[dict[str, Any]]:
    """The units the latest sync run put aside for a data error (``[]`` without runs)."""
    from sqlalchemy import func, select

    from dingsync.store.schema import sync_runs
    from dingsync.sync.engine import quarantined_units

    with engine.connect() as conn:
        last = conn.execute(select(func.max(sync_runs.c.id))).scalar()
        return quarantined_units(conn, int(last)) if last is not None else []


@app.command()
def migrate(
    database_url: Annotated[
        str | None, typer.Option(help="Overrides DINGSYNC_DATABASE_URL.")
    ] = None,
) -> None:
    """Create or upgrade the database schema to the latest revision."""
    from dingsync.store import db

    settings = _settings(database_url)
    engine = open_engine(settings.database_url)
    console.print(f"database at revision {db.current_revision(engine)}")


register_all(app)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
