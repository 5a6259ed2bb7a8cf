"""What operators watch: Prometheus metrics of every process, and JSON log lines.

Metrics (prometheus_client; multiprocess-safe when ``PROMETHEUS_MULTIPROC_DIR`` names a
directory shared by the processes of one host — set it before the process starts, as
prometheus_client reads it at import):

- ``dingsync_dingtalk_calls_total{api, outcome}``: HTTP requests to DingTalk, ``ok`` or the
  error class (``RateLimitError``, ``ServerError``, ``TokenError``…);
- ``dingsync_dingtalk_call_seconds{api}``: request latency;
- ``dingsync_dingtalk_throttles_total{api}``: rate-limit replies (90018, 90002,
  ``Forbidden.AccessDenied.Qps…``); ``dingsync_dingtalk_retries_total{api}``: retries;
- ``dingsync_token_refreshes_total``: access-token requests sent;
- ``dingsync_sync_units_total{corp_id, entity, result}``: units done, batches failed;
  ``dingsync_sync_batch_seconds{entity}``: wall time of a worker's batch;
- ``dingsync_sync_lag_seconds{corp_id, entity}``: since the entity's last successful run
  finished; ``dingsync_inbox_depth{corp_id}`` and ``dingsync_inbox_oldest_age_seconds{corp_id}``:
  events pending or processing and the oldest one's age (both read from the database at scrape
  time);
- ``dingsync_login_seconds{outcome}``: DingTalk login (免登) latency on the service.

Logs: :func:`configure_logging` with ``json`` writes one JSON object per line with ``company``,
``run``, ``unit`` and ``request`` ids when known (:data:`LOG_CONTEXT`), through the same
redaction the client installs (no token, secret or signature reaches a line).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import Engine, func, select

from dingsync.dingtalk import DingTalkClient
from dingsync.store.schema import sync_runs
from dingsync.store.schema_events import event_inbox
from dingsync.sync.engine import CURRENT_UNIT

CALLS = Counter("dingsync_dingtalk_calls_total", "HTTP requests to DingTalk", ["api", "outcome"])
CALL_SECONDS = Histogram(
    "dingsync_dingtalk_call_seconds",
    "DingTalk request latency",
    ["api"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
THROTTLES = Counter(
    "dingsync_dingtalk_throttles_total", "Rate-limit replies from DingTalk", ["api"]
)
RETRIES = Counter("dingsync_dingtalk_retries_total", "Retried DingTalk requests", ["api"])
TOKEN_REFRESHES = Counter("dingsync_token_refreshes_total", "Access-token requests sent")
UNITS = Counter("dingsync_sync_units_total", "Sync units of work", ["corp_id", "entity", "result"])
BATCH_SECONDS = Histogram(
    "dingsync_sync_batch_seconds",
    "Wall time of one worker batch",
    ["entity"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800),
)
LOGIN_SECONDS = Histogram(
    "dingsync_login_seconds",
    "DingTalk login (免登) latency",
    ["outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_RATE_LIMITED = "RateLimitError"


def watch_client(client: DingTalkClient) -> None:
    """Count ``client``'s calls by API and outcome, latency and throttles from now on."""

    def observe(path: str, outcome: str, seconds: float) -> None:
        CALLS.labels(path, outcome).inc()
        if seconds:
            CALL_SECONDS.labels(path).observe(seconds)
        if outcome == _RATE_LIMITED:
            THROTTLES.labels(path).inc()

    client.observers.append(observe)


def record_client(
    client: DingTalkClient, retries_before: Mapping[str, int], tokens_before: int
) -> None:
    """Add ``client``'s retries and token requests since the given counts."""
    for path, n in client.retries.items():
        extra = n - retries_before.get(path, 0)
        if extra > 0:
            RETRIES.labels(path).inc(extra)
    if client.token_requests > tokens_before:
        TOKEN_REFRESHES.inc(client.token_requests - tokens_before)


def units(corp_id: str, entity: str, result: str, n: int = 1) -> None:
    """Count ``n`` units (``result``: ``done`` or ``failed``)."""
    if n > 0:
        UNITS.labels(corp_id, entity, result).inc(n)


def batch_seconds(entity: str, seconds: float) -> None:
    BATCH_SECONDS.labels(entity).observe(seconds)


@contextmanager
def login_timer() -> Iterator[dict[str, str]]:
    """Time a login; set ``["outcome"]`` of the yielded dict (default ``ok``, ``error`` when the
    block raises)."""
    outcome = {"outcome": "ok"}
    started = time.monotonic()
    try:
        yield outcome
    except BaseException:
        outcome["outcome"] = "error"
        raise
    finally:
        LOGIN_SECONDS.labels(outcome["outcome"]).observe(time.monotonic() - started)


class StoreCollector(Collector):
    """Lag per company and entity and the event inbox, read from the database at scrape time
    (``corp_ids``: the companies to report; ``None`` = every company with a run)."""

    def __init__(self, engine: Engine, corp_ids: Iterable[str] | None = None) -> None:
        self.engine = engine
        self.corp_ids = None if corp_ids is None else list(corp_ids)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        lag = GaugeMetricFamily(
            "dingsync_sync_lag_seconds",
            "Seconds since the last successful run of the entity finished",
            labels=["corp_id", "entity"],
        )
        depth = GaugeMetricFamily(
            "dingsync_inbox_depth", "Events pending or processing", labels=["corp_id"]
        )
        age = GaugeMetricFamily(
            "dingsync_inbox_oldest_age_seconds",
            "Age of the oldest event pending or processing",
            labels=["corp_id"],
        )
        now = datetime.now(UTC)
        for (corp_id, entity), finished in sorted(self._last_success().items()):
            lag.add_metric([corp_id, entity], max(0.0, (now - finished).total_seconds()))
        for corp_id, (pending, oldest) in sorted(self._inbox().items()):
            depth.add_metric([corp_id], pending)
            age.add_metric([corp_id], 0.0 if oldest is None else (now - oldest).total_seconds())
        yield lag
        yield depth
        yield age

    def _last_success(self) -> dict[tuple[str, str], datetime]:
        query = select(sync_runs.c.corp_id, sync_runs.c.entities, sync_runs.c.finished_at).where(
            sync_runs.c.status == "succeeded"
        )
        if self.corp_ids is not None:
            query = query.where(sync_runs.c.corp_id.in_(self.corp_ids))
        last: dict[tuple[str, str], datetime] = {}
        with self.engine.connect() as conn:
            for corp_id, entities, finished in conn.execute(query):
                if finished is None:
                    continue
                if finished.tzinfo is None:
                    finished = finished.replace(tzinfo=UTC)
                for entity in entities or []:
                    key = (str(corp_id), str(entity))
                    if key not in last or finished > last[key]:
                        last[key] = finished
        return last

    def _inbox(self) -> dict[str, tuple[int, datetime | None]]:
        query = (
            select(event_inbox.c.corp_id, func.count(), func.min(event_inbox.c.received_at))
            .where(event_inbox.c.status.in_(("pending", "processing")))
            .group_by(event_inbox.c.corp_id)
        )
        out: dict[str, tuple[int, datetime | None]] = {}
        with self.engine.connect() as conn:
            for corp_id, n, oldest in conn.execute(query):
                if oldest is not None and oldest.tzinfo is None:
                    oldest = oldest.replace(tzinfo=UTC)
                out[str(corp_id)] = (int(n), oldest)
        for corp_id in self.corp_ids or []:
            out.setdefault(corp_id, (0, None))
        return out


def exposition(
    engine: Engine | None = None,
    corp_ids: Iterable[str] | None = None,
    multiprocess_dir: str | None = None,
) -> tuple[bytes, str]:
    """The text exposition (body, content type): this process's metrics — or every process's
    on the host when ``multiprocess_dir`` is given — plus the store's gauges when ``engine``."""
    registry = CollectorRegistry()
    if multiprocess_dir:
        multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]
    else:
        for collector in _process_collectors():
            registry.register(collector)
    if engine is not None:
        registry.register(StoreCollector(engine, corp_ids))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def _process_collectors() -> list[Collector]:
    return [
        CALLS,
        CALL_SECONDS,
        THROTTLES,
        RETRIES,
        TOKEN_REFRESHES,
        UNITS,
        BATCH_SECONDS,
        LOGIN_SECONDS,
    ]


# -- logs ------------------------------------------------------------------------------------
#: Ids a JSON log line carries when set: ``company``, ``run``, ``unit``, ``request``.
LOG_CONTEXT: ContextVar[Mapping[str, Any] | None] = ContextVar("dingsync_log_context", default=None)


@contextmanager
def log_context(**ids: Any) -> Iterator[None]:
    """Add ``ids`` (``company=…``, ``run=…``, ``unit=…``, ``request=…``) to every log line
    written inside the block (this task and those it starts)."""
    token = LOG_CONTEXT.set({**(LOG_CONTEXT.get() or {}), **{k: v for k, v in ids.items() if v}})
    try:
        yield
    finally:
        LOG_CONTEXT.reset(token)


#: Query values and headers that carry a secret, wherever they appear in a line.
_SECRET_PATTERN = re.compile(
    r"((?:access_token|appsecret|app_secret|client_secret|clientSecret|appSecret|signature|"
    r"suiteTicket|x-acs-dingtalk-access-token|accessToken|refreshToken)[\"']?\s*[=:]\s*[\"']?)"
    r"[^&\s\"',;)}]+",
    re.IGNORECASE,
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret value and every ``name=value`` of a secret-bearing
    name (tokens, app secrets, signatures) replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _SECRET_PATTERN.sub(r"\1***", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (ISO 8601 UTC), ``level``, ``logger``, ``message``,
    the ids of :data:`LOG_CONTEXT` (``company``, ``run``, ``unit``, ``request``) and ``exc``
    (the traceback) when there is one. Every field goes through :func:`redact` with
    ``secrets`` (the app secrets the process knows)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(LOG_CONTEXT.get() or {})
        unit = _current_unit()
        if unit is not None and "unit" not in line:
            line["unit"] = f"{unit[0]}:{unit[1]}"
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        # Each field before encoding (a JSON body in a message is escaped once encoded).
        clean = {k: redact(v, self.secrets) if isinstance(v, str) else v for k, v in line.items()}
        return redact(json.dumps(clean, ensure_ascii=False, default=str), self.secrets)


class TextFormatter(logging.Formatter):
    """The plain format, through :func:`redact` like :class:`JsonFormatter`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secrets)


def _current_unit() -> tuple[str, str] | None:
    return CURRENT_UNIT.get()


def configure_logging(
    log_format: str, level: int = logging.INFO, secrets: Iterable[str] = ()
) -> logging.Handler:
    """Send the root logger's lines to stderr as text or (``json``) JSON lines, with
    ``secrets`` (and every secret-bearing ``name=value``) masked; returns the handler."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter(secrets))
    else:
        handler.setFormatter(TextFormatter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler


__all__ = [
    "REGISTRY",
    "StoreCollector",
    "configure_logging",
    "exposition",
    "log_context",
    "login_timer",
    "record_client",
    "units",
    "watch_client",
]
