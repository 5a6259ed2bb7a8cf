"""Many companies, one deployment: the registry of the companies we serve and how to reach
each one.

A company (``corp_id``) is served through an app:

- ``internal``: one of our own internal apps (企业内部应用) — the ``DINGTALK_*`` app (the default
  company, as before) and every ``[[apps]]`` entry of ``dingsync.toml``
  (:class:`dingsync.config.AppConfig`);
- ``isv``: a company that authorised our third-party suite; its client comes from the suite
  (:data:`CLIENT_BUILDERS` ``["isv"]``, registered by the ISV module).

The database's ``corps`` table (:mod:`dingsync.store.repo_corps`) is the registry: ``mode``,
``status`` (``active`` | ``relieved`` | ``stopped``), ``agent_id``, ``timezone``, ``name``.
:func:`sync_registry` keeps it in step with the configuration. A company that is not active is
neither synced (:class:`dingsync.sync.lease.CorpNotActive`) nor logged into; its data is kept
until ``dingsync corps purge``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Engine

from dingsync.config import AppConfig, Settings
from dingsync.dingtalk import DingTalkClient
from dingsync.store import repo_corps

#: The registry's ``mode`` and ``status`` values (``corps.mode``, ``corps.status``).
MODES = ("internal", "isv")
STATUSES = ("active", "relieved", "stopped")


class CorpError(Exception):
    """A company cannot be used: ``code`` is a stable error code, the message says why."""

    code = "corp.error"

    def __init__(self, corp_id: str, message: str, public: str | None = None) -> None:
        super().__init__(message)
        self.corp_id = corp_id
        #: What a caller outside the deployment may read (web answers): no other company named.
        self.public = public or message


class UnknownCorp(CorpError):
    """No company ``corp_id`` is configured or registered (``corp.unknown``)."""

    code = "corp.unknown"

    def __init__(self, corp_id: str, known: list[str] | None = None) -> None:
        hint = f"; known: {', '.join(known)}" if known else ""
        # The list of served companies is for operators (CLI), never for web callers.
        super().__init__(corp_id, f"unknown corp {corp_id!r}{hint}", f"unknown corp {corp_id!r}")


class CorpInactive(CorpError):
    """The company is registered but ``relieved`` or ``stopped`` (``corp.inactive``)."""

    code = "corp.inactive"

    def __init__(self, corp_id: str, status: str) -> None:
        super().__init__(
            corp_id,
            f"corp {corp_id} is {status}: its sync and logins are stopped (its data is kept)",
        )
        self.status = status


@dataclass(frozen=True)
class Corp:
    """One company as the layers use it: its registry row's ``mode``, ``status``, ``name`` and
    the :class:`Settings` of its app (credentials, ``corp_id``, ``agent_id``, ``timezone``)."""

    corp_id: str
    mode: str
    status: str
    name: str | None
    settings: Settings

    @property
    def active(self) -> bool:
        return self.status == "active"


#: How to build the DingTalk client of a company of each mode: ``(corp, engine) → client``.
#: ``internal`` uses the company's own app credentials; the ISV module adds ``isv``.
ClientBuilder = Callable[[Corp, Engine | None], DingTalkClient]


def _internal_client(corp: Corp, engine: Engine | None) -> DingTalkClient:
    from dingsync.sync.runner import build_client

    return build_client(corp.settings, engine)


def _isv_client(corp: Corp, engine: Engine | None) -> DingTalkClient:
    """The registry's client builder for an ISV company (``corps.CLIENT_BUILDERS["isv"]``):
    ``SuiteClient.corp_client(corp_id)`` of the configured suite (tickets, permanent codes and
    tokens in the database), with the company's agent id (JSAPI config) and login URL; closing
    it closes the suite client built for it. Raises ``UnknownCorp`` when no suite is configured
    or the registry holds the company under another suite (``corps.app_key``)."""
    from dingsync.dingtalk.isv import SuiteClient
    from dingsync.store.isv import PermanentCodeStore, SuiteTicketStore
    from dingsync.store.tokens import DatabaseTokenStore
    from dingsync.sync.isv import suite_settings

    settings = suite_settings(corp.settings)
    if not settings.has_suite or engine is None:
        raise UnknownCorp(corp.corp_id)
    assert settings.suite_key and settings.suite_secret
    with engine.connect() as conn:  # the registry says which suite serves the company
        row = repo_corps.get_corp(conn, corp.corp_id)
    if row is None or row["mode"] != "isv" or row["app_key"] != settings.suite_key:
        raise UnknownCorp(corp.corp_id)
    suite = SuiteClient(
        settings.suite_key,
        settings.suite_secret.get_secret_value(),
        SuiteTicketStore(engine),
        token_store=DatabaseTokenStore(engine),
        permanent_codes=PermanentCodeStore(engine),
        **settings.suite_client_kw(),
    )
    return suite.corp_client(
        corp.corp_id,
        closes_suite=True,
        agent_id=corp.settings.agent_id,
        login_url=corp.settings.login_url,
    )


CLIENT_BUILDERS: dict[str, ClientBuilder] = {"internal": _internal_client, "isv": _isv_client}


def default_corp_id(settings: Settings) -> str:
    """The default company: ``DINGTALK_CORP_ID``, else the AppKey, else ``default`` (as every
    single-company command has always keyed its rows)."""
    return settings.corp_id or settings.app_key or "default"


def is_multi(settings: Settings) -> bool:
    """Whether the configuration lists more apps than the ``DINGTALK_*`` one, or a third-party
    suite (``DINGTALK_SUITE_KEY``, :class:`dingsync.sync.isv.IsvSettings`) whose authorising
    companies are served beside it."""
    return bool(settings.apps) or bool(getattr(settings, "suite_key", None))


def configured_apps(settings: Settings) -> dict[str, AppConfig]:
    """``{corp_id: app}``: the ``DINGTALK_*`` app (when its credentials are set) first, then
    each ``[[apps]]`` entry. An ``[[apps]]`` entry for the default company replaces it."""
    apps: dict[str, AppConfig] = {}
    if settings.has_credentials:
        assert settings.app_key and settings.app_secret
        apps[default_corp_id(settings)] = AppConfig(
            app_key=settings.app_key,
            app_secret=settings.app_secret,
            corp_id=default_corp_id(settings),
            agent_id=settings.agent_id,
        )
    for app in settings.apps:
        apps[app.corp_id] = app
    return apps


def app_settings(settings: Settings, app: AppConfig, timezone: str | None = None) -> Settings:
    """``settings`` for one company's app: its credentials, ``corp_id``, ``agent_id`` and zone
    (``timezone``, else the app's, else the deployment's); no ``[[apps]]`` list, so whatever
    receives it serves that company alone."""
    update: dict[str, Any] = {
        "app_key": app.app_key,
        "app_secret": SecretStr(app.app_secret.get_secret_value()),
        "corp_id": app.corp_id,
        "agent_id": app.agent_id,
        "timezone": timezone or app.timezone or settings.timezone,
        "apps": [],
    }
    for url in ("oapi_url", "api_url", "login_url"):
        if getattr(app, url):
            update[url] = getattr(app, url)
    return settings.model_copy(update=update)


def sync_registry(engine: Engine, settings: Settings) -> list[dict[str, Any]]:
    """Bring the ``corps`` registry in step with the configured internal apps and return it.

    Each configured app's company is registered (``mode='internal'``) with its ``agent_id``,
    ``app_key``, ``timezone`` and ``name`` (when configured); an ``[[apps]]`` entry with
    ``status = "stopped"`` stops its company, any other configured app (``active``, or the
    ``DINGTALK_*`` app) re-activates a stopped company (a ``relieved`` one stays relieved: only
    DingTalk's authorisation brings it back). Companies
    registered but no longer configured are left as they are (their data is kept).
    """
    listed = {a.corp_id for a in settings.apps}
    with engine.begin() as conn:
        for corp_id, app in configured_apps(settings).items():
            current = repo_corps.get_corp(conn, corp_id)
            row: dict[str, Any] = {
                "corp_id": corp_id,
                "mode": "internal",
                "app_key": app.app_key,
                "agent_id": app.agent_id,
                "timezone": app.timezone,
            }
            if app.name:
                row["name"] = app.name
            if corp_id in listed and app.status == "stopped":
                row["status"] = "stopped"
            elif current is None or current["status"] == "stopped":
                row["status"] = "active"
            repo_corps.register_corp(conn, row)
        return repo_corps.list_corps(conn)


def stop_unconfigured(engine: Engine, settings: Settings) -> list[str]:
    """Mark ``stopped`` every internal company of the registry that is active but has no app
    in ``settings`` (e.g. the one-company demo's company when ``dingsync demo --isv`` runs on
    the same database): nothing could sync it or log into it. Its data is kept; configuring
    its app again re-activates it (:func:`sync_registry`). Returns the companies stopped."""
    apps = configured_apps(settings)
    stopped: list[str] = []
    with engine.begin() as conn:
        for row in repo_corps.list_corps(conn):
            unserved = row["mode"] == "internal" and row["corp_id"] not in apps
            if unserved and row["status"] == "active":
                repo_corps.set_status(conn, row["corp_id"], "stopped")
                stopped.append(row["corp_id"])
    return stopped


def resolve(
    engine: Engine, settings: Settings, corp_id: str | None = None, *, active: bool = True
) -> Corp:
    """The company ``corp_id`` (default: :func:`default_corp_id`) with its app's settings.

    Raises :class:`UnknownCorp` when no app serves it (neither configured nor registered as an
    ``isv`` company), :class:`CorpInactive` when ``active`` is asked and its registry status is
    ``relieved`` or ``stopped``.
    """
    corp_id = corp_id or default_corp_id(settings)
    apps = configured_apps(settings)
    with engine.connect() as conn:
        row = repo_corps.get_corp(conn, corp_id)
    app = apps.get(corp_id)
    mode = row["mode"] if row is not None else "internal"
    if app is None and not (row is not None and mode != "internal"):
        raise UnknownCorp(corp_id, sorted(apps))
    status = row["status"] if row is not None else "active"
    if app is not None and app.status == "stopped":
        status = "stopped"
    if active and status != "active":
        raise CorpInactive(corp_id, status)
    tz = row["timezone"] if row is not None else None
    if app is not None:
        corp_settings = app_settings(settings, app, tz)
    else:  # an ISV company: the suite's credentials stay, the company's id and zone change
        corp_settings = settings.model_copy(
            update={
                "corp_id": corp_id,
                "agent_id": row["agent_id"] if row else None,
                "timezone": tz or settings.timezone,
                "apps": [],
            }
        )
    name = row["name"] if row is not None else app.name if app is not None else None
    return Corp(corp_id, mode, status, name, corp_settings)


def all_corps(engine: Engine, settings: Settings) -> list[Corp]:
    """Every company :func:`resolve` knows (configured or registered), active or not, by
    ``corp_id``."""
    with engine.connect() as conn:
        registered = {r["corp_id"]: r for r in repo_corps.list_corps(conn)}
    ids = sorted(
        set(configured_apps(settings))
        | {c for c, r in registered.items() if r["mode"] != "internal"}
    )
    return [resolve(engine, settings, c, active=False) for c in ids]


def build_corp_client(corp: Corp, engine: Engine | None = None) -> DingTalkClient:
    """The DingTalk client of ``corp`` (its mode's :data:`CLIENT_BUILDERS` entry).

    Raises :class:`UnknownCorp` when no builder serves the company's mode (an ISV company before
    the suite module is installed).
    """
    builder = CLIENT_BUILDERS.get(corp.mode)
    if builder is None:
        raise UnknownCorp(corp.corp_id)
    return builder(corp, engine)


__all__ = [
    "CLIENT_BUILDERS",
    "MODES",
    "STATUSES",
    "Corp",
    "CorpError",
    "CorpInactive",
    "UnknownCorp",
    "all_corps",
    "app_settings",
    "build_corp_client",
    "configured_apps",
    "default_corp_id",
    "is_multi",
    "resolve",
    "stop_unconfigured",
    "sync_registry",
]
