"""One-line failures for the ``dingsync`` CLI; part of the CLI layer.

An expected failure (a database URL that names no driver, a database that cannot be reached or
created, an unusable endpoint URL) becomes one line on stderr saying what went wrong, and one
saying how to go on; the command exits non-zero. ``DINGSYNC_DEBUG=1`` re-raises instead, so the
traceback shows. :class:`DingsyncGroup` is the single top-level handler: the root ``dingsync``
group catches whatever a command lets escape, so every command (and every sub-command group
registered on it) fails the same way.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import typer
from typer.core import TyperGroup

from dingsync.commands.consoles import err_console

#: The setting (:attr:`dingsync.config.Settings.debug`) that asks for tracebacks instead of
#: one-line errors, as hints name it.
DEBUG_ENV = "DINGSYNC_DEBUG"

DATABASE_HINT = (
    "check DINGSYNC_DATABASE_URL or --database-url (sqlite:///PATH, postgresql://USER@HOST/DB)"
)


class CliFailure(Exception):
    """An expected failure: ``message`` (one line, no secret) and ``hint`` (how to go on); the
    command exits with ``exit_code``."""

    def __init__(self, message: str, hint: str = "", exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code


def debugging() -> bool:
    """True when ``DINGSYNC_DEBUG`` asks for tracebacks (read through the settings; see
    :func:`dingsync.config.debug_requested` for settings that do not load)."""
    from dingsync.config import debug_requested

    return debug_requested()


def first_line(text: str) -> str:
    """The first non-empty line of ``text``, stripped (SQLAlchemy and drivers add more)."""
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return ""


_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]*):[^@\s]*@")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (parsed or not)."""
    return _PASSWORD_IN_URL.sub(r"\1:***@", url)


def configuration_problem(exc: BaseException) -> str | None:
    """What is wrong with the settings when ``exc`` comes from reading them: a pydantic
    ``ValidationError`` (each variable and what it should be, never the value given) or a
    ``dingsync.toml`` that is not TOML; else ``None``."""
    import tomllib

    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        from dingsync.web.options import WebOptions

        # WebOptions' fields are read from DINGSYNC_WEB_<FIELD>: name the variable.
        prefix = WebOptions.model_config.get("env_prefix", "")
        parts = []
        for err in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(p) for p in err["loc"]) or exc.title
            if exc.title == WebOptions.__name__ and err["loc"]:
                where = f"{prefix}{where}".upper()
            parts.append(f"{where}: {err['msg']}")
        return "invalid setting " + "; ".join(parts)
    if isinstance(exc, tomllib.TOMLDecodeError):
        return f"dingsync.toml is not valid TOML: {first_line(str(exc))}"
    return None


def describe(exc: BaseException) -> str:
    """One line naming ``exc``: the driver's own first line for database errors, the
    ``strerror`` and file for OS errors, else ``Class: first line``."""
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.NoSuchModuleError):
        driver = str(exc).rsplit(":", 1)[-1].strip()
        return f"unknown database driver {driver!r}"
    if isinstance(exc, sa_exc.ArgumentError):
        return f"not a database URL ({first_line(str(exc))})"
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        return f"{exc.orig.__class__.__name__}: {first_line(str(exc.orig))}"
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.__class__.__name__}: {exc.strerror}{where}"
    if isinstance(exc, ModuleNotFoundError):
        return f"the Python module {exc.name!r} is not installed"
    text = first_line(str(exc))
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


def database_failure(database_url: str, exc: BaseException) -> CliFailure:
    """The :class:`CliFailure` for a database at ``database_url`` that could not be opened,
    created or migrated (the URL is shown without its password)."""
    return CliFailure(
        f"cannot use the database {redact_url(database_url)}: {describe(exc)}", DATABASE_HINT
    )


def open_engine(database_url: str, *, migrate: bool = True) -> Any:
    """A SQLAlchemy engine for ``database_url`` with the schema migrated to the latest revision
    (``migrate=False``: only created). Raises :class:`CliFailure` (exit 1) when the URL names
    no known driver, the driver is not installed, the server cannot be reached or the file
    cannot be created; ``DINGSYNC_DEBUG`` lets the original error through."""
    from sqlalchemy.exc import SQLAlchemyError

    from dingsync.store import db

    try:
        engine = db.create_engine_for(database_url)
        if migrate:
            db.migrate(engine)
    except (SQLAlchemyError, OSError, ImportError) as exc:
        if debugging():
            raise
        raise database_failure(database_url, exc) from exc
    return engine


NOT_SYNCED_HINT = (
    "point DINGSYNC_DATABASE_URL (or --database-url) at the database `dingsync sync` filled, "
    "or run `dingsync sync` (or `dingsync demo`) first"
)


def missing_sqlite_file(database_url: str) -> Path | None:
    """The absolute path of the SQLite file ``database_url`` names when that file does not
    exist (a relative path is read from the working directory); ``None`` for any other URL,
    an in-memory database, or a file that exists."""
    from dingsync.store import db

    try:
        parsed = db.normalise_url(database_url)
    except Exception:  # not a URL: open_engine says so
        return None
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:") or parsed.query.get("mode") == "memory":
        return None
    path = Path(database).expanduser().resolve()
    return None if path.exists() else path


def holds_organisation(engine: Any) -> bool:
    """True when the database holds something synced or received: a ``corps`` or ``users``
    row, or an ``event_inbox`` row."""
    from sqlalchemy import select

    from dingsync.store.schema import corps, users
    from dingsync.store.schema_events import event_inbox

    with engine.connect() as conn:
        return any(
            conn.execute(select(table.c.corp_id).limit(1)).first() is not None
            for table in (corps, users, event_inbox)
        )


def check_corp_held(conn: Any, corp_id: str) -> None:
    """Exit 2 (one ``error:`` line naming ``--corp-id`` and ``DINGTALK_CORP_ID``) when the
    database holds organisations but not ``corp_id`` — a typo'd or another deployment's id
    read as an empty organisation (zero counts, empty exports, a user disabled in a company
    that is not there). A database that holds none is left to the caller (``users disable``
    in advance on a new deployment)."""
    from sqlalchemy import select

    from dingsync.store.schema import corps, users
    from dingsync.store.schema_events import event_inbox

    tables = (corps, users, event_inbox)
    for table in tables:
        found = select(table.c.corp_id).where(table.c.corp_id == corp_id).limit(1)
        if conn.execute(found).first() is not None:
            return
    held = sorted(
        {str(c) for t in tables for c in conn.execute(select(t.c.corp_id).distinct()).scalars()}
    )
    if held:
        fail(
            f"the database holds no organisation {corp_id!r} (it holds {', '.join(held)})",
            "check --corp-id or DINGTALK_CORP_ID",
            exit_code=2,
        )


def open_synced(database_url: str) -> Any:
    """:func:`open_engine` for a command that reads synced data (exports, reports, summaries,
    statistics, status). It refuses (exit 2, one ``error:`` line naming the URL without its
    password and ``DINGSYNC_DATABASE_URL``) a SQLite file that does not exist — without
    creating it — and a database that holds no organisation (:func:`holds_organisation`), so a
    command run from the wrong directory fails instead of writing an empty file."""
    where = redact_url(database_url)
    missing = missing_sqlite_file(database_url)
    if missing is not None:
        fail(
            f"no synced organisation in {where} (no file {missing}): {NOT_SYNCED_HINT}", exit_code=2
        )
    engine = open_engine(database_url)
    if not holds_organisation(engine):
        engine.dispose()
        fail(f"no synced organisation in {where}: {NOT_SYNCED_HINT}", exit_code=2)
    return engine


def open_corp(database_url: str | None, corp_id: str | None) -> tuple[Any, str, tzinfo]:
    """The migrated engine (``--database-url``, else ``DINGSYNC_DATABASE_URL``; refused by
    :func:`open_synced` when it holds no organisation), the corp to
    read (``--corp-id``, else ``DINGTALK_CORP_ID``, else the only corp in the database; exit 2
    naming them when there are none or several) and the company's zone (``Settings.tz``)."""
    from sqlalchemy import select

    from dingsync.config import load_settings
    from dingsync.store.schema import corps

    overrides: dict[str, Any] = {}
    if database_url:
        overrides["DINGSYNC_DATABASE_URL"] = database_url
    settings = load_settings(**overrides)
    engine = open_synced(settings.database_url)
    corp = corp_id or settings.corp_id
    if corp is not None:
        with engine.connect() as conn:
            check_corp_held(conn, corp)
    else:
        with engine.connect() as conn:
            ids = list(conn.execute(select(corps.c.corp_id)).scalars())
        if len(ids) != 1:
            err_console.print(
                "error: give --corp-id (the database holds "
                + (", ".join(ids) if ids else "no corp: run `dingsync sync` first")
                + ")"
            )
            raise typer.Exit(2)
        corp = ids[0]
    return engine, corp, settings.tz


def endpoint_problem(url: str) -> str | None:
    """Why ``url`` cannot be a DingTalk host URL (scheme ``http``/``https`` and a host, a port
    within 1..65535), or ``None`` when it can."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "the scheme must be http or https"
    if not parts.hostname:
        return "no host"
    if port == 0:
        return "port 0"
    return None


def fail(message: str, hint: str = "", exit_code: int = 1) -> NoReturn:
    """Print ``error: message`` (and the hint) on stderr and exit with ``exit_code``."""
    report(message, hint)
    raise typer.Exit(exit_code)


def report(message: str, hint: str = "") -> None:
    """Print ``error: message`` and, when given, the hint line on stderr (no markup)."""
    err_console.print(f"error: {message}", markup=False, soft_wrap=True)
    if hint:
        err_console.print(hint, markup=False, soft_wrap=True)


class DingsyncGroup(TyperGroup):
    """The root ``dingsync`` group: a :class:`CliFailure` or any unexpected exception a command
    lets escape becomes one error line and a hint, exit 1 (a setting that does not validate or
    a ``dingsync.toml`` that is not TOML: exit 2; ``DINGSYNC_DEBUG=1``: the traceback); Ctrl-C
    outside a command's own handling prints ``stopped`` and exits 130."""

    def invoke(self, ctx: Any) -> Any:
        """Run the command; map failures as the class docstring says."""
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except CliFailure as exc:
            if debugging():
                raise
            report(exc.message, f"{exc.hint} ({DEBUG_ENV}=1 shows the traceback)".lstrip())
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("stopped", markup=False)
            raise typer.Exit(130) from None
        except BrokenPipeError:
            # The reader of our output went away (`dingsync … | head`): nothing more to say.
            import os
            import sys

            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(141) from None
        except Exception as exc:
            if debugging():
                raise
            path_error = _path_error(exc)
            if path_error is not None:
                # A path given to the command: a missing folder, no permission, a directory.
                report(describe(path_error), "check the path and its folder")
                raise typer.Exit(1) from None
            problem = configuration_problem(exc)
            if problem:
                report(
                    problem,
                    "check the DINGTALK_* / DINGSYNC_* variables and ./dingsync.toml "
                    f"({DEBUG_ENV}=1 shows the traceback)",
                )
                raise typer.Exit(2) from None
            report(
                describe(exc),
                f"unexpected; {DEBUG_ENV}=1 shows the traceback (please report it with the "
                "command you ran)",
            )
            raise typer.Exit(1) from None


def _path_error(exc: BaseException) -> OSError | None:
    """The ``OSError`` naming a file behind ``exc``: ``exc`` itself, or the one a library wrapped
    (XlsxWriter's ``FileCreateError`` carries it as its argument; others chain it)."""
    for candidate in (exc, *getattr(exc, "args", ())[:1], exc.__cause__, exc.__context__):
        if isinstance(candidate, OSError) and candidate.filename and candidate.strerror:
            return candidate
    return None
