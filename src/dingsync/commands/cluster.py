"""CLI of the worker cluster: ``dingsync worker``, ``dingsync scheduler``, ``dingsync enqueue``
and ``dingsync status`` (docs/deploy.md). Registered on the ``dingsync`` app by
``dingsync.cli``."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from dingsync.commands.consoles import console, err_console
from dingsync.commands.errors import debugging, describe, fail, open_engine, redact_url
from dingsync.config import Settings, load_settings, metrics_directory


def _secrets(settings: Settings) -> list[str]:
    """Every app secret the process knows (masked in its log lines)."""
    from dingsync.workers.companies import secrets_of

    return secrets_of(settings)


def _companies(settings: Settings) -> list[str]:
    from dingsync.workers.companies import company_settings

    return list(company_settings(settings))


def serve_metrics(settings: Settings, port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Serve ``GET /metrics`` (this process's metrics, or the host's with
    ``PROMETHEUS_MULTIPROC_DIR``, plus lag and inbox from the database) on ``port`` in a
    daemon thread; returns the server (``server_address`` has the port when 0 was asked)."""
    import dingsync.metrics as metrics

    engine = open_engine(settings.database_url)
    corps = _companies(settings)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404)
                return
            body, content_type = metrics.exposition(engine, corps, settings.metrics_dir)
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="dingsync-metrics", daemon=True).start()
    return server


def register(app: typer.Typer) -> None:
    """Add ``worker``, ``scheduler``, ``enqueue`` and ``status`` to ``app``."""

    @app.command()
    def worker(
        concurrency: Annotated[
            int, typer.Option(help="Tasks at once (processes; 1 = one process, --pool solo).")
        ] = 1,
        metrics_port: Annotated[
            int | None,
            typer.Option(help="Serve /metrics here (default DINGSYNC_WORKER_METRICS_PORT)."),
        ] = None,
        name: Annotated[str | None, typer.Option(help="Worker name (default: host, pid).")] = None,
    ) -> None:
        """Run a Celery worker: syncs (company, entity, batch of units) tasks from the broker
        (DINGSYNC_BROKER_URL) until stopped. A task is acknowledged when done; one whose worker
        dies goes back to the broker and another worker resumes it from its checkpoints."""
        import os

        settings = load_settings()
        if concurrency > 1 and not settings.metrics_dir:
            # Prefork children count the calls: their metrics reach this process's /metrics only
            # through prometheus_client's multiprocess files, whose directory must be set before
            # prometheus_client is imported (here, and inherited by the children).
            settings = settings.model_copy(update={"metrics_dir": metrics_directory()})

        import dingsync.metrics as metrics
        from dingsync.workers.app import QUEUE, get_app

        metrics.configure_logging(settings.log_format, secrets=_secrets(settings))
        celery = get_app(settings)
        # Migrate each company's database before taking tasks: fail fast, and no batch pays
        # for it.
        from dingsync.workers.companies import company_settings
        from dingsync.workers.tasks import engine_for

        for company in company_settings(settings).values():
            engine_for(company)
        port = settings.worker_metrics_port if metrics_port is None else metrics_port
        if port:
            serve_metrics(settings, port)
            console.print(f"dingsync worker metrics on :{port}/metrics")
        argv = [
            "worker",
            "--loglevel=INFO",
            f"--queues={QUEUE}",
            f"--hostname={name or f'dingsync-{os.getpid()}@%h'}",
            "--without-gossip",
            "--without-mingle",
        ]
        argv += ["--pool=solo"] if concurrency <= 1 else [f"--concurrency={concurrency}"]
        celery.worker_main(argv)

    @app.command()
    def scheduler(
        schedule_file: Annotated[
            Path, typer.Option(help="Where beat remembers the last run of each entry.")
        ] = Path(".dingsync/celerybeat-schedule"),
    ) -> None:
        """Run Celery beat: sends every active company's (registry: internal apps and ISV
        companies) full run of every entity daily at full_at and an incremental run every
        incremental_minutes (DINGSYNC_SCHEDULE, DINGSYNC_ENTITY_SCHEDULES); a company whose
        full sync is due gets a full run. Run exactly one per deployment."""
        import dingsync.metrics as metrics
        from dingsync.workers.app import get_app

        settings = load_settings()
        metrics.configure_logging(settings.log_format, secrets=_secrets(settings))
        celery = get_app(settings)
        schedule_file.parent.mkdir(parents=True, exist_ok=True)
        entries = celery.conf.beat_schedule
        console.print(
            f"dingsync scheduler: {len(entries)} entries, each sent to every active company of"
            " the registry when due"
        )
        celery.start(["beat", f"--schedule={schedule_file}", "--loglevel=INFO"])

    @app.command()
    def enqueue(
        company: Annotated[
            list[str] | None, typer.Option(help="CorpId to sync (repeatable; default: all).")
        ] = None,
        incremental: Annotated[bool, typer.Option(help="Incremental instead of full.")] = False,
        only: Annotated[
            list[str] | None, typer.Option(help="Entity to sync (repeatable; default: all).")
        ] = None,
    ) -> None:
        """Queue a sync of every entity of each company for the workers (directory first)."""
        from kombu.exceptions import OperationalError as BrokerError

        from dingsync.workers.app import get_app
        from dingsync.workers.tasks import enqueue as queue

        settings = load_settings()
        get_app(settings)
        try:
            kind = "incremental" if incremental else "full"
            queued = queue(settings, company or None, kind, only or None)
        except KeyError as exc:
            err_console.print(
                f"error: unknown company or entity {exc.args[0]}; companies: "
                f"{', '.join(_companies(settings))}"
            )
            raise typer.Exit(2) from None
        except BrokerError as exc:  # RabbitMQ / Redis down, a host that does not resolve
            if debugging():
                raise
            fail(
                f"cannot reach the broker {redact_url(settings.broker_url)}: {describe(exc)}",
                "check DINGSYNC_BROKER_URL (amqp://USER:PASSWORD@HOST:5672// or "
                "redis://HOST:6379/0) and that the broker runs",
            )
        if not queued:
            fail(
                "no active company to queue: set DINGTALK_APP_KEY and DINGTALK_APP_SECRET, "
                "or list [[apps]] in dingsync.toml",
                "`dingsync corps list` shows the companies this deployment serves",
                exit_code=2,
            )
        console.print(
            f"queued {'incremental' if incremental else 'full'} sync of {', '.join(queued)}"
        )

    @app.command()
    def status(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Running and recent sync work per company (workers, `dingsync sync`, the service)."""
        from sqlalchemy import select

        from dingsync.store.schema import sync_runs
        from dingsync.workers.status import company_status

        settings = load_settings()
        engine = open_engine(settings.database_url)
        corps = _companies(settings)
        with engine.connect() as conn:
            stored = conn.execute(select(sync_runs.c.corp_id).distinct()).scalars().all()
        corps += sorted(str(c) for c in stored if str(c) not in corps)
        found = [company_status(engine, corp) for corp in corps]
        if as_json:
            console.print_json(json.dumps(found))
            return
        table = Table(title="sync work per company")
        for col in ("company", "state", "running", "units", "last success per entity"):
            table.add_column(col)
        for item in found:
            running = item["running"]
            state = "running" if item["live"] else ("queued" if running else "idle")
            table.add_row(
                item["corp_id"],
                state,
                "; ".join(f"#{r['id']} {r['kind']} {'+'.join(r['entities'])}" for r in running)
                or "-",
                ", ".join(str(r["units"]) for r in running) or "-",
                ", ".join(sorted(item["last_success"])) or "-",
            )
        console.print(table)
