"""Configuration from environment variables and an optional ``dingsync.toml``.

DingTalk credentials: ``DINGTALK_APP_KEY``, ``DINGTALK_APP_SECRET``, ``DINGTALK_CORP_ID``,
``DINGTALK_AGENT_ID``; endpoints ``DINGTALK_OAPI_URL`` / ``DINGTALK_API_URL`` (the two API
hosts) and ``DINGTALK_LOGIN_URL`` (DingTalk's browser login page, ``/oauth2/auth``); database
``DINGSYNC_DATABASE_URL`` (default: SQLite file ``./.dingsync/dingsync.db``).

Imported by the application layers (cli, sync, web, workers); ``dingtalk/`` and ``store/`` take
their settings as arguments and never read this module.
"""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from dingsync.timeutil import DEFAULT_TIMEZONE, zone

DEFAULT_OAPI_URL = "https://oapi.dingtalk.com"
DEFAULT_API_URL = "https://api.dingtalk.com"
#: The host of DingTalk's web login (OAuth2 authorize page, auth-contacts.md §3.1).
DEFAULT_LOGIN_URL = "https://login.dingtalk.com"
DEFAULT_DATA_DIR = Path(".dingsync")


#: ``DINGSYNC_DEBUG``: the CLI shows tracebacks instead of one-line errors.
_DEBUG = Field(default=False, validation_alias="DINGSYNC_DEBUG")


def default_database_url() -> str:
    """SQLite file under ``./.dingsync/`` (created on first use)."""
    return f"sqlite:///{DEFAULT_DATA_DIR / 'dingsync.db'}"


#: The default overtime rule (``DINGSYNC_ATTENDANCE_OVERTIME_RULE``), parsed and applied by
#: ``dingsync.export.attendance_overtime``.
DEFAULT_OVERTIME_RULE = (
    "workday=punch/30/30/pay; restday=approval_punch/0/30/rest; holiday=approval/0/30/pay"
)


class EntitySchedule(BaseModel):
    """When the scheduler starts one entity's runs: a full run every day at ``full_at``
    (``"HH:MM"`` in the company zone; ``None`` = never) and an incremental run every
    ``incremental_minutes`` (0 = never)."""

    full_at: str | None = "02:00"
    incremental_minutes: float = Field(default=15.0, ge=0, allow_inf_nan=False)

    @field_validator("full_at")
    @classmethod
    def _hh_mm(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        hh, _, mm = str(value).partition(":")
        if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
            raise ValueError(f"full_at must be HH:MM, not {value!r}")
        return f"{int(hh):02d}:{int(mm):02d}"


class AppConfig(BaseModel):
    """One internal app (企业内部应用) of a company, from ``[[apps]]`` in ``dingsync.toml``.

    Several of them run side by side in one deployment (a group company's subsidiaries); each
    company's rows are keyed by its ``corp_id``. ``timezone`` (IANA name) overrides
    :attr:`Settings.timezone` for that company; ``status = "stopped"`` keeps its data but stops
    its sync and its logins (:mod:`dingsync.corps`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    app_key: str = Field(min_length=1)
    app_secret: SecretStr
    corp_id: str = Field(min_length=1, max_length=64)
    agent_id: str | None = None
    name: str | None = None
    timezone: str | None = None
    status: Literal["active", "stopped"] = "active"
    #: DingTalk's hosts for this app (default: the deployment's ``DINGTALK_*_URL``); a sandbox
    #: per company serves each on its own port.
    oapi_url: str | None = None
    api_url: str | None = None
    login_url: str | None = None
    #: The app's event subscription (its callback URL: ``/callbacks/dingtalk/<corp_id>``):
    #: token, EncodingAESKey and receiver id (default: the AppKey).
    callback_token: SecretStr | None = None
    callback_aes_key: SecretStr | None = None
    callback_receiver_id: str | None = None

    @field_validator("agent_id", mode="before")
    @classmethod
    def _agent_id_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value

    @field_validator("timezone")
    @classmethod
    def _known_app_timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        zone(value)  # ValueError names the bad zone
        return value.strip()


class Settings(BaseSettings):
    """All runtime settings. Secrets are ``SecretStr`` so they never print in logs or errors."""

    model_config = SettingsConfigDict(
        env_prefix="",
        extra="ignore",
        toml_file="dingsync.toml",
        populate_by_name=True,
    )

    app_key: str | None = Field(default=None, validation_alias="DINGTALK_APP_KEY")
    app_secret: SecretStr | None = Field(default=None, validation_alias="DINGTALK_APP_SECRET")
    corp_id: str | None = Field(default=None, validation_alias="DINGTALK_CORP_ID")
    agent_id: str | None = Field(default=None, validation_alias="DINGTALK_AGENT_ID")
    oapi_url: str = Field(default=DEFAULT_OAPI_URL, validation_alias="DINGTALK_OAPI_URL")
    api_url: str = Field(default=DEFAULT_API_URL, validation_alias="DINGTALK_API_URL")
    #: Where the console sends a browser to log in (``{login_url}/oauth2/auth``); the sandbox
    #: serves it on its own port.
    login_url: str = Field(default=DEFAULT_LOGIN_URL, validation_alias="DINGTALK_LOGIN_URL")
    database_url: str = Field(
        default_factory=default_database_url, validation_alias="DINGSYNC_DATABASE_URL"
    )
    #: Calls per second per API path, client side (0 = no limit of ours); a negative or
    #: non-finite value is refused when the settings load, naming the variable.
    qps_per_api: float = Field(
        default=20.0, ge=0, allow_inf_nan=False, validation_alias="DINGSYNC_QPS_PER_API"
    )
    #: Retries on 5xx and network errors (0 = none).
    max_retries: int = Field(default=6, ge=0, validation_alias="DINGSYNC_MAX_RETRIES")
    #: Most DingTalk calls a sync keeps in flight (at least 1).
    sync_concurrency: int = Field(default=256, ge=1, validation_alias="DINGSYNC_SYNC_CONCURRENCY")
    #: The company's timezone (IANA name): work dates and report days are calendar days here.
    timezone: str = Field(default=DEFAULT_TIMEZONE, validation_alias="DINGSYNC_TIMEZONE")
    #: An incremental run walks the whole directory when the last walk is older than this
    #: (hours; 0 = every incremental run). Between walks, events keep the directory current.
    contacts_full_compare_hours: float = Field(
        default=0.0,
        ge=0,
        allow_inf_nan=False,
        validation_alias="DINGSYNC_CONTACTS_FULL_COMPARE_HOURS",
    )
    #: The CLI shows tracebacks instead of one-line errors (``DINGSYNC_DEBUG=1``).
    debug: bool = _DEBUG
    #: More internal apps, one per company (``[[apps]]`` in ``dingsync.toml``), served beside
    #: the ``DINGTALK_*`` app, which stays the default company (:mod:`dingsync.corps`).
    apps: list[AppConfig] = Field(default_factory=list, validation_alias="DINGSYNC_APPS")

    # -- reports sync (docs/reports.md) --------------------------------------------------------
    #: Days of reports a full run reads, ending now.
    reports_history_days: int = Field(
        default=30, ge=1, validation_alias="DINGSYNC_REPORTS_HISTORY_DAYS"
    )
    #: Comments and read/like lists: for ``all`` reports of the history a run syncs (default),
    #: the ``recent`` ones, or ``none``.
    reports_details: Literal["all", "recent", "none"] = Field(
        default="all", validation_alias="DINGSYNC_REPORTS_DETAILS"
    )
    #: What ``recent`` means: created in the last this many days; also how far back an
    #: incremental run re-reads the lists (reads and likes keep coming after a report is written).
    reports_details_days: int = Field(
        default=7, ge=0, validation_alias="DINGSYNC_REPORTS_DETAILS_DAYS"
    )
    #: Calendar days (company zone) per listing window of a full run.
    reports_window_days: int = Field(
        default=1, ge=1, validation_alias="DINGSYNC_REPORTS_WINDOW_DAYS"
    )
    #: An incremental run re-reads reports modified this long before the watermark.
    reports_overlap_minutes: int = Field(
        default=10, ge=0, validation_alias="DINGSYNC_REPORTS_OVERLAP_MINUTES"
    )
    #: An incremental run re-reads the templates' statistics rules (统计规则) when the stored
    #: ones are older than this (0: every incremental run; full runs always read them).
    reports_rules_max_age_minutes: int = Field(
        default=60, ge=0, validation_alias="DINGSYNC_REPORTS_RULES_MAX_AGE_MINUTES"
    )
    # -- attendance sync (docs/attendance.md) --------------------------------------------------
    #: Work dates a full run reads, ending yesterday (company zone).
    attendance_days: int = Field(default=7, ge=1, validation_alias="DINGSYNC_ATTENDANCE_DAYS")
    #: An incremental run re-reads from this many days before the latest synced work date.
    attendance_recent_days: int = Field(
        default=3, ge=1, validation_alias="DINGSYNC_ATTENDANCE_RECENT_DAYS"
    )
    #: Also sync report columns and their per-day values (one call per person per month).
    attendance_columns: bool = Field(default=False, validation_alias="DINGSYNC_ATTENDANCE_COLUMNS")
    #: The company's overtime rule (加班规则) as its admin console sets it — DingTalk serves no
    #: rule settings — by which the 加班 columns are computed (docs/attendance.md, "加班"):
    #: ``<workday|restday|holiday>=<punch|approval|approval_punch>/<start>/<unit>/<rest|pay>``
    #: then options ``/before:N``, ``/deduct:12:00-13:00,…``, ``/min:N``, ``/round:up|down``,
    #: ``/max:N`` (上班前加班, 扣除休息时间, 最小加班时长, 取整, the day's maximum).
    attendance_overtime_rule: str = Field(
        default=DEFAULT_OVERTIME_RULE, validation_alias="DINGSYNC_ATTENDANCE_OVERTIME_RULE"
    )
    # -- approvals sync (docs/approvals.md) ----------------------------------------------------
    #: Calendar days (company zone) before today that a full run lists.
    approvals_history_days: int = Field(
        default=30, ge=1, validation_alias="DINGSYNC_APPROVALS_HISTORY_DAYS"
    )

    # -- cluster (docs/deploy.md) ---------------------------------------------------------------
    #: Celery's broker: RabbitMQ (``amqp://…``, the default) or Redis (``redis://…``).
    broker_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672//", validation_alias="DINGSYNC_BROKER_URL"
    )
    #: Redis shared by every process: rate limits, throttle back-off, tokens and tickets
    #: (``redis://host:6379/0``); ``None`` keeps them in-process and in the database.
    redis_url: str | None = Field(default=None, validation_alias="DINGSYNC_REDIS_URL")
    #: Share of each API's rate limit that only logins may use (0..0.9; at least one call per
    #: second when positive), so a large sync never makes an employee wait at login.
    login_reserved_share: float = Field(
        default=0.25,
        ge=0,
        le=0.9,
        allow_inf_nan=False,
        validation_alias="DINGSYNC_LOGIN_RESERVED_SHARE",
    )
    #: Units of work one worker task commits before it hands the rest to a new task.
    worker_batch_units: int = Field(
        default=200, ge=1, validation_alias="DINGSYNC_WORKER_BATCH_UNITS"
    )
    #: Default schedule of every entity (``dingsync scheduler``).
    schedule: EntitySchedule = Field(
        default_factory=EntitySchedule, validation_alias="DINGSYNC_SCHEDULE"
    )
    #: Per-entity schedules (``{"reports": {"incremental_minutes": 5}}``), over ``schedule``.
    entity_schedules: dict[str, EntitySchedule] = Field(
        default_factory=dict, validation_alias="DINGSYNC_ENTITY_SCHEDULES"
    )
    #: Port of a worker's Prometheus endpoint (0 = none); the service serves ``/metrics``.
    worker_metrics_port: int = Field(
        default=0, ge=0, le=65535, validation_alias="DINGSYNC_WORKER_METRICS_PORT"
    )
    #: Directory of prometheus_client's multiprocess files (``PROMETHEUS_MULTIPROC_DIR``).
    metrics_dir: str | None = Field(default=None, validation_alias="PROMETHEUS_MULTIPROC_DIR")
    #: ``text`` (default) or ``json``: one JSON object per log line.
    log_format: Literal["text", "json"] = Field(
        default="text", validation_alias="DINGSYNC_LOG_FORMAT"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        zone(value)  # ValueError names the bad zone
        return value.strip()

    @field_validator("apps")
    @classmethod
    def _distinct_corps(cls, value: list[AppConfig]) -> list[AppConfig]:
        seen: set[str] = set()
        for app in value:
            if app.corp_id in seen:
                raise ValueError(f"[[apps]] lists corp_id {app.corp_id} twice")
            seen.add(app.corp_id)
        return value

    @property
    def tz(self) -> tzinfo:
        """The company's timezone (``DINGSYNC_TIMEZONE``) as a ``tzinfo``."""
        return zone(self.timezone)

    @property
    def has_credentials(self) -> bool:
        """True when both the AppKey and the AppSecret are configured."""
        return bool(self.app_key and self.app_secret and self.app_secret.get_secret_value())

    def missing_credentials(self) -> list[str]:
        """Names of the credential variables that are not set."""
        missing = []
        if not self.app_key:
            missing.append("DINGTALK_APP_KEY")
        if not (self.app_secret and self.app_secret.get_secret_value()):
            missing.append("DINGTALK_APP_SECRET")
        return missing


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment (and ``dingsync.toml``); keyword overrides win."""
    return Settings(**overrides)


class _DebugOnly(BaseSettings):
    """``DINGSYNC_DEBUG`` alone, from the environment: what :func:`debug_requested` falls back
    to when the whole :class:`Settings` do not load."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    debug: bool = _DEBUG


def debug_requested() -> bool:
    """Whether tracebacks are asked for (:attr:`Settings.debug`, ``DINGSYNC_DEBUG``).

    Safe to call while handling any failure, including settings that do not load (a bad value
    of another variable, a ``dingsync.toml`` that is not TOML): ``DINGSYNC_DEBUG`` is then read
    from the environment alone, so a broken configuration can still be debugged. A value of
    ``DINGSYNC_DEBUG`` that is not a boolean (``1``/``0``, ``true``/``false``, ``yes``/``no``,
    ``on``/``off``) counts as not set.
    """
    try:
        return load_settings().debug
    except Exception:  # the settings themselves failed: their failure is being reported
        try:
            return _DebugOnly().debug
        except Exception:
            return False


def workers_replay_wait(seconds: float = 2.0) -> None:
    """``serve --workers N``: export ``DINGSYNC_WEB_REPLAY_WAIT_S`` (``seconds``) to the
    workers it spawns, unless it is set already (``WebOptions.replay_wait_s``: a double tap
    reaching two workers waits for the other's session)."""
    import os

    os.environ.setdefault("DINGSYNC_WEB_REPLAY_WAIT_S", str(seconds))


def metrics_directory() -> str:
    """A fresh directory for prometheus_client's multiprocess files, exported as
    ``PROMETHEUS_MULTIPROC_DIR`` to this process (prometheus_client reads it when first imported)
    and to the processes it starts (a prefork worker's children). Returns its path."""
    import os
    import tempfile

    path = tempfile.mkdtemp(prefix="dingsync-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path
