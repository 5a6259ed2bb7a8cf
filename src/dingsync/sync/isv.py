"""Third-party (ISV) suites on our side: tickets received, companies authorised and relieved.

The function API the multi-company registry plugs into (issue #15):

- :class:`IsvService` — one suite: ``on_suite_ticket`` (durable, newer-only),
  ``on_auth_event`` (every ISV event kind, below), ``refresh_auth`` (re-read a company's
  authorisation: ``/v1.0/oauth2/apps/authInfo`` or ``/service/get_auth_info``, and its contacts
  scope with the company token), ``activate`` (legacy ``tmp_auth_code`` → ``get_permanent_code``
  → ``activate_suite``), ``authorised_corps()``, ``full_syncs_due()``; ``listeners``
  are called ``(corp_id, status, app_status)`` after each change (the registry schedules the
  first full sync, disables logins of a relieved company …). ``suite.corp_client(corp_id)`` is
  the company's ``DingTalkClient`` for the ordinary sync.
- :class:`IsvEventProcessor` — an :class:`~dingsync.sync.events.EventProcessor` for the suite's
  channel (the HTTP callback route and the Stream consumer take it as they take an internal
  app's): a ``suite_ticket`` is stored before the event is acknowledged; every event goes to
  the inbox under ``isv:<suiteKey>``; ISV events are processed by the service, a company's
  business events by ``corp_processors(corp_id)`` when given.
- :func:`authorised_corps` — the companies in ``isv_corp_auth`` (no secrets).

ISV event kinds (events.md §4.5): ``suite_ticket``; ``org_suite_auth`` / ``org_suite_change``
(Stream camelCase data; SyncHTTP ``biz_type`` 4) and legacy ``change_auth`` → authorised, info
re-read; legacy ``tmp_auth_code`` → activation; ``org_suite_relieve`` / ``suite_relieve`` →
relieved (data kept); ``org_micro_app_stop|restore|remove`` (``biz_type`` 7) → ``app_status``;
``SYNC_HTTP_PUSH_HIGH|MEDIUM`` bundles are unpacked item by item.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import Field, SecretStr
from sqlalchemy import Connection, Engine

from dingsync.config import Settings
from dingsync.dingtalk.crypto import CallbackCrypto
from dingsync.dingtalk.isv import (
    APP_EVENTS,
    AUTH_EVENTS,
    ISV_EVENTS,
    RELIEVE_EVENTS,
    SYNC_HTTP_EVENTS,
    AuthInfo,
    SuiteClient,
    parse_auth_info,
)
from dingsync.dingtalk.models.events import Event, ci_get, plausible_ms
from dingsync.store import isv as repo_isv
from dingsync.store.isv import PermanentCodeStore, SuiteTicketStore
from dingsync.sync.events import EventProcessor, EventsSettings

log = logging.getLogger(__name__)

#: ``org_micro_app_*`` → ``app_status``.
APP_STATUS = {
    "org_micro_app_stop": "stopped",
    "org_micro_app_restore": "active",
    "org_micro_app_remove": "removed",
}

Listener = Callable[[str, str, str], Awaitable[None] | None]


class IsvSettings(EventsSettings):
    """The settings plus a third-party suite (environment or ``dingsync.toml``):
    ``DINGTALK_SUITE_KEY`` / ``DINGTALK_SUITE_SECRET`` (the developer console's 应用凭证 of the
    suite), ``DINGTALK_ISV_TOKEN_ENDPOINT`` (``v1.0`` or ``service``: which host's token
    endpoints; the old host signs ``get_corp_token``) and ``DINGTALK_ISV_AUTH_ENDPOINT``
    (``v1.0`` ``apps/authInfo`` or ``service`` ``get_auth_info``), ``DINGTALK_SUITE_APP_ID``
    (the suite's 应用ID, for ``/service/get_unactive_corp``; else the one an authorisation
    recorded). The callback's receiver id
    is the suite key (events.md §1.1) unless ``DINGTALK_CALLBACK_RECEIVER_ID`` says otherwise.
    """

    suite_key: str | None = Field(default=None, validation_alias="DINGTALK_SUITE_KEY")
    suite_secret: SecretStr | None = Field(default=None, validation_alias="DINGTALK_SUITE_SECRET")
    isv_token_endpoint: str = Field(
        default="v1.0", pattern="^(v1.0|service)$", validation_alias="DINGTALK_ISV_TOKEN_ENDPOINT"
    )
    isv_auth_endpoint: str = Field(
        default="v1.0", pattern="^(v1.0|service)$", validation_alias="DINGTALK_ISV_AUTH_ENDPOINT"
    )
    suite_app_id: int | None = Field(default=None, validation_alias="DINGTALK_SUITE_APP_ID")

    @property
    def has_suite(self) -> bool:
        """A suite key and secret are configured."""
        return bool(self.suite_key and self.suite_secret and self.suite_secret.get_secret_value())

    @property
    def receiver_id(self) -> str | None:
        """``DINGTALK_CALLBACK_RECEIVER_ID``, else the suite key (else the AppKey)."""
        return self.callback_receiver_id or self.suite_key or self.app_key

    def suite_client_kw(self) -> dict[str, Any]:
        """The keywords of the configured suite's :class:`SuiteClient` (endpoints, limits)."""
        endpoint = "service" if self.isv_token_endpoint == "service" else "v1.0"
        return {
            "oapi_url": self.oapi_url,
            "api_url": self.api_url,
            "suite_token_endpoint": endpoint,
            "corp_token_endpoint": endpoint,
            "qps_per_api": self.qps_per_api or None,
            "max_retries": self.max_retries,
        }

    def service(self, engine: Engine) -> IsvService:
        """The configured suite's :class:`IsvService` (tokens and tickets in ``engine``).
        Raises ``ValueError`` without a suite."""
        if not self.has_suite:
            raise ValueError("no suite configured: set DINGTALK_SUITE_KEY, DINGTALK_SUITE_SECRET")
        assert self.suite_key and self.suite_secret
        service = IsvService.for_suite(
            engine, self.suite_key, self.suite_secret.get_secret_value(), **self.suite_client_kw()
        )
        service.auth_endpoint = self.isv_auth_endpoint
        return service


def suite_settings(settings: Settings) -> IsvSettings:
    """``settings`` as :class:`IsvSettings`: themselves when they are, else the suite's
    settings (``DINGTALK_SUITE_*`` from the environment or ``dingsync.toml``) with every field
    of ``settings`` kept."""
    if isinstance(settings, IsvSettings):
        return settings
    return IsvSettings().model_copy(update=dict(settings))


def pending_first_syncs(engine: Engine, settings: Settings) -> set[str]:
    """The active companies whose full sync is still due (``corps.full_sync_requested_at``:
    an authorisation or a scope change asked for it; it stays due until a full sync of every
    area that started after the request succeeds, so a failed first sync is retried in full),
    after bringing the ``corps`` registry in step with the configured suite's companies (a
    suite-less deployment's registry is read as it is)."""
    from dingsync.store import repo_corps

    sync_suite_registry(engine, settings)
    with engine.connect() as conn:
        return set(repo_corps.full_syncs_due(conn))


def sync_suite_registry(engine: Engine, settings: Settings) -> list[str]:
    """Register every company of the configured suite's ``isv_corp_auth`` in ``corps``
    (:func:`register_isv_corp`; what the receiver does per event, for rows written without it:
    a manual activation, rows older than the registry). Returns their ids; none without a
    suite."""
    settings = suite_settings(settings)
    if not settings.has_suite:
        return []
    assert settings.suite_key
    with engine.begin() as conn:
        ids = [r["corp_id"] for r in repo_isv.corp_rows(conn, settings.suite_key)]
        for corp_id in ids:
            register_isv_corp(conn, settings.suite_key, corp_id)
    return ids


def isv_receiver(settings: IsvSettings, engine: Engine) -> tuple[CallbackCrypto, IsvEventProcessor]:
    """The callback crypto (receiver id: the suite key) and processor of the configured suite,
    for ``web/routers/callbacks.py``. Raises ``ValueError`` when the suite or the callback is
    not configured."""
    service = settings.service(engine)
    processor = IsvEventProcessor(service, corp_processors=service.corp_processors())
    return settings.callback_crypto(), processor


def registry_status(status: str, app_status: str) -> str:
    """The ``corps.status`` of an ISV company: ``relieved`` once it removed the suite
    (``org_suite_relieve`` / ``suite_relieve``), ``stopped`` while its administrator stopped or
    removed the app (``org_micro_app_stop|remove``), else ``active``."""
    if status != "authorised":
        return "relieved"
    return "active" if app_status == "active" else "stopped"


def register_isv_corp(conn: Connection, suite_key: str, corp_id: str) -> dict[str, Any] | None:
    """Write company ``corp_id``'s ``isv_corp_auth`` row of suite ``suite_key`` into the
    ``corps`` registry: ``mode='isv'``, ``app_key`` the suite key, ``name`` (its corp name),
    ``agent_id``, ``status`` (:func:`registry_status`); the timezone is left as it is (``NULL``:
    the deployment's ``DINGSYNC_TIMEZONE``, an operator may set another). A full sync the
    authorisation asked for (``isv_corp_auth.sync_requested_at``) moves to the registry
    (``corps.full_sync_requested_at``) once the company is active. A company registered as an
    internal app stays internal. Returns the registry row, ``None`` when the suite has no row
    for the company."""
    from dingsync.store import repo_corps

    row = repo_isv.corp_row(conn, suite_key, corp_id)
    if row is None:
        return None
    current = repo_corps.get_corp(conn, corp_id)
    if current is not None and current["mode"] != "isv":
        log.warning("corp %s is served by an internal app: its ISV authorisation is ignored",
                    corp_id)  # fmt: skip
        return current
    values: dict[str, Any] = {
        "corp_id": corp_id,
        "mode": "isv",
        "app_key": suite_key,
        "status": registry_status(row["status"], row["app_status"]),
    }
    if row.get("corp_name"):
        values["name"] = row["corp_name"]
    if row.get("agent_id") is not None:
        values["agent_id"] = str(row["agent_id"])
    repo_corps.register_corp(conn, values)
    # The suite's "full sync wanted" moves to the registry, the one place routing and the
    # schedulers read (it stays there until a full sync succeeds).
    # (A company not active keeps its request in isv_corp_auth until it is.)
    if row.get("sync_requested_at") is not None and values["status"] == "active":
        repo_corps.request_full_sync(conn, corp_id, row["sync_requested_at"])
        repo_isv.take_sync_requests(conn, suite_key, corp_id)
    return repo_corps.get_corp(conn, corp_id)


def authorised_corps(
    engine: Engine, suite_key: str | None = None, *, include_relieved: bool = False
) -> list[dict[str, Any]]:
    """Companies that authorised a suite (``suite_key``, or every suite): rows of
    ``isv_corp_auth`` without the permanent code (``store.isv.public_row``), relieved ones only
    with ``include_relieved``."""
    with engine.connect() as conn:
        rows = repo_isv.corp_rows(conn, suite_key, None if include_relieved else "authorised")
    return [repo_isv.public_row(r) for r in rows]


class IsvService:
    """One suite's tickets and authorisations (module docstring). ``auth_endpoint``:
    ``"v1.0"`` (``apps/authInfo``) or ``"service"`` (signed ``get_auth_info``)."""

    def __init__(
        self,
        engine: Engine,
        suite: SuiteClient,
        tickets: SuiteTicketStore | None = None,
        *,
        auth_endpoint: str = "v1.0",
    ) -> None:
        self.engine = engine
        self.suite = suite
        self.suite_key = suite.suite_key
        self.tickets = tickets or SuiteTicketStore(engine)
        self.auth_endpoint = auth_endpoint
        #: Called after each change; the first one writes the ``corps`` registry
        #: (:func:`registry_status`), so a company's sync and logins follow its authorisation.
        self.listeners: list[Listener] = [self._to_registry]
        self._lock = asyncio.Lock()

    @classmethod
    def for_suite(
        cls, engine: Engine, suite_key: str, suite_secret: str, **client_kw: Any
    ) -> IsvService:
        """A service whose :class:`SuiteClient` reads tickets from our database and caches
        tokens in it (``DatabaseTokenStore``); ``client_kw`` go to the client (URLs, limits)."""
        from dingsync.store.tokens import DatabaseTokenStore

        tickets = SuiteTicketStore(engine)
        client_kw.setdefault("token_store", DatabaseTokenStore(engine))
        client_kw.setdefault("permanent_codes", PermanentCodeStore(engine))
        suite = SuiteClient(suite_key, suite_secret, tickets, **client_kw)
        return cls(engine, suite, tickets)

    async def _tx(self, fn: Callable[[Connection], Any]) -> Any:
        def run() -> Any:
            with self.engine.begin() as conn:
                return fn(conn)

        return await asyncio.to_thread(run)

    async def _tx_registered(self, corp_id: str, fn: Callable[[Connection], Any]) -> Any:
        """Run ``fn`` and write company ``corp_id``'s registry row in one transaction: a relieve
        or a stop is never seen in ``isv_corp_auth`` while the registry (which routes events and
        admits logins and syncs) still says active."""

        def both(conn: Connection) -> Any:
            result = fn(conn)
            register_isv_corp(conn, self.suite_key, corp_id)
            return result

        return await self._tx(both)

    async def _notify(self, corp_id: str) -> None:
        row = await self._tx(lambda c: repo_isv.corp_row(c, self.suite_key, corp_id))
        if row is None:
            return
        for listener in self.listeners:
            result = listener(corp_id, row["status"], row["app_status"])
            if result is not None:
                await result

    async def _to_registry(self, corp_id: str, _status: str, _app_status: str) -> None:
        await self._tx(lambda c: register_isv_corp(c, self.suite_key, corp_id))

    def sync_registry(self) -> list[str]:
        """Register every company of this suite's ``isv_corp_auth`` in ``corps`` (what the
        listener does per event; for rows written before the registry existed). Returns the
        companies' ids."""
        with self.engine.begin() as conn:
            ids = [r["corp_id"] for r in repo_isv.corp_rows(conn, self.suite_key)]
            for corp_id in ids:
                register_isv_corp(conn, self.suite_key, corp_id)
        return ids

    # -- tickets -------------------------------------------------------------------------------
    async def on_suite_ticket(self, ticket: str, ticket_ms: int | None, source: str) -> bool:
        """Store ``ticket`` unless a newer one is stored (``ticket_ms``: when DingTalk pushed it,
        epoch ms; ``None`` → now). Returns whether it is now the current ticket."""
        stamp = ticket_ms if ticket_ms is not None else int(time.time() * 1000)
        stored = await self.tickets.offer(self.suite_key, ticket, stamp, source)
        log.info("suite %s: suite_ticket of %d %s", self.suite_key, stamp,
                 "stored" if stored else "older than the stored one: ignored")  # fmt: skip
        return stored

    async def ticket_from_event(self, event: Event, source: str) -> bool | None:
        """Apply the ticket(s) an event carries (``suite_ticket`` or a SyncHTTP bundle with
        ``biz_type`` 2); ``None`` when it carries none."""
        if event.event_type == "suite_ticket":
            ticket = ci_get(event.data, "suiteTicket")
            if not isinstance(ticket, str) or not ticket:
                raise ValueError("suite_ticket event without a suiteTicket")
            return await self.on_suite_ticket(ticket, plausible_ms(event.event_time_ms), source)
        if event.event_type in SYNC_HTTP_EVENTS:
            result: bool | None = None
            for item, data in _sync_http_items(event):
                if str(item.get("biz_type")) == "2" and data.get("suiteTicket"):
                    stamp = plausible_ms(item.get("gmt_modified")) or event.time_ms
                    result = await self.on_suite_ticket(str(data["suiteTicket"]), stamp, source)
            return result
        return None

    # -- events --------------------------------------------------------------------------------
    async def on_auth_event(self, event: Event) -> str:
        """Apply one ISV event (module docstring); returns ``processed`` or ``skipped``.
        Raises on DingTalk or database failure (the inbox row becomes ``failed``, replayable)."""
        kind = event.event_type
        stamp = plausible_ms(event.event_time_ms)
        if kind == "suite_ticket":
            await self.ticket_from_event(event, "manual")
            return "processed"
        if kind in SYNC_HTTP_EVENTS:
            outcome = "skipped"
            for item, data in _sync_http_items(event):
                item_corp = str(item.get("corp_id") or data.get("authCorpId") or "")
                action = str(data.get("syncAction") or "")
                if str(item.get("biz_type")) == "2":
                    outcome = "processed"
                    continue  # the ticket was stored when the bundle arrived
                if not item_corp or not action:
                    continue
                inner = Event(event.event_id, action, item_corp, stamp, data, item)
                outcome = await self.on_auth_event(inner)
            return outcome
        corp_id = _corp_of(event)
        if not corp_id:
            log.warning("ISV event %s (%s) names no company", event.event_id, kind)
            return "skipped"
        if kind == "tmp_auth_code":
            code = ci_get(event.data, "AuthCode")
            if not code:
                return "skipped"
            await self.activate(str(code), stamp)
        elif kind in AUTH_EVENTS:
            if kind in ("org_suite_auth", "org_suite_change") and ci_get(
                event.data, "authCorpInfo"
            ):
                info = parse_auth_info(event.data, corp_id)
                await self._record(info, stamp, keep_code=False)
            await self.refresh_auth(corp_id, stamp)
        elif kind in RELIEVE_EVENTS:
            await self._tx_registered(
                corp_id, lambda c: repo_isv.mark_relieved(c, self.suite_key, corp_id, stamp)
            )
        elif kind in APP_STATUS:
            status = APP_STATUS[kind]
            await self._tx_registered(
                corp_id,
                lambda c: repo_isv.set_app_status(c, self.suite_key, corp_id, status, stamp),
            )
        elif kind in APP_EVENTS:  # scope update of the app's visible range: re-read
            await self.refresh_auth(corp_id, stamp)
        else:
            return "skipped"
        await self._notify(corp_id)
        return "processed"

    async def _record(self, info: AuthInfo, stamp: int | None, *, keep_code: bool) -> None:
        agent = info.agent
        fields: dict[str, Any] = {
            "corp_name": info.corp_name,
            "agent_id": agent.agent_id if agent else None,
            "app_id": agent.app_id if agent else None,
            "admin_list": agent.admin_list if agent else [],
            "auth_user_id": info.auth_user_id,
            "auth_level": info.auth_level,
        }
        if info.auth_scope is not None:
            fields["auth_scope"] = info.auth_scope
        if keep_code and info.permanent_code:
            fields["permanent_code"] = info.permanent_code
            fields["activated"] = True
        fields = {k: v for k, v in fields.items() if v is not None}
        await self._tx(
            lambda c: repo_isv.upsert_authorised(c, self.suite_key, info.corp_id, fields, stamp)
        )

    async def refresh_auth(self, corp_id: str, event_ms: int | None = None) -> AuthInfo:
        """Re-read company ``corp_id``'s authorisation from DingTalk (auth info, then the
        contacts scope with its token) and store it as ``authorised``. Raises
        ``NotAuthorisedError`` when it has not authorised the suite,
        ``SuiteTicketMissingError`` before the first ticket."""
        endpoint = "service" if self.auth_endpoint == "service" else "v1.0"
        info = await self.suite.get_auth_info(corp_id, endpoint)  # type: ignore[arg-type]
        info.auth_scope = await self.suite.auth_scopes(corp_id)
        await self._record(info, event_ms, keep_code=False)
        return info

    async def activate(self, tmp_auth_code: str, event_ms: int | None = None) -> AuthInfo:
        """Legacy activation: ``get_permanent_code`` (single-use code) → ``activate_suite``
        → auth info; the permanent code is kept (legacy suites need it)."""
        granted = await self.suite.get_permanent_code(tmp_auth_code)
        code = granted.permanent_code or str(granted.raw.get("permanent_code") or "")
        await self.suite.activate_suite(granted.corp_id, code)
        info = await self.suite.get_auth_info(granted.corp_id)
        info.auth_scope = await self.suite.auth_scopes(granted.corp_id)
        info.permanent_code = code
        await self._record(info, event_ms, keep_code=True)
        return info

    # -- companies' own events ----------------------------------------------------------------
    def corp_processors(self) -> Callable[[str], EventProcessor | None]:
        """A ``corp_processors`` for :class:`IsvEventProcessor`: the processor of a company's
        business events (contacts, approvals …), built once per company with its company
        client, or ``None`` for a company the ``corps`` registry does not hold as an active ISV
        company of this suite (relieved, stopped, never authorised: its events are skipped)."""
        from dingsync.store import repo_corps

        made: dict[str, EventProcessor] = {}

        def lookup(corp_id: str) -> EventProcessor | None:
            with self.engine.connect() as conn:
                row = repo_corps.get_corp(conn, corp_id)
            if (
                row is None
                or row["mode"] != "isv"
                or row["app_key"] != self.suite_key
                or row["status"] != "active"
            ):
                made.pop(corp_id, None)
                return None
            if corp_id not in made:
                made[corp_id] = EventProcessor(
                    self.suite.corp_client(corp_id), self.engine, corp_id
                )
            return made[corp_id]

        return lookup

    # -- reads ---------------------------------------------------------------------------------
    def authorised_corps(self, *, include_relieved: bool = False) -> list[dict[str, Any]]:
        """:func:`authorised_corps` of this suite."""
        return authorised_corps(self.engine, self.suite_key, include_relieved=include_relieved)

    def full_syncs_due(self) -> list[str]:
        """This suite's active companies whose full sync is due (newly authorised, scope
        changed, or a first sync that has not succeeded yet), by ``corp_id``; reading does not
        clear them (a succeeded full sync of every area does)."""
        from dingsync.store import repo_corps

        with self.engine.connect() as conn:
            due = repo_corps.full_syncs_due(conn)
            return sorted(
                c
                for c in due
                if (row := repo_corps.get_corp(conn, c)) is not None
                and row["mode"] == "isv"
                and row["app_key"] == self.suite_key
            )


def _corp_of(event: Event) -> str | None:
    found = ci_get(event.data, "AuthCorpId", "authCorpId")
    if not found:
        corp_info = ci_get(event.data, "authCorpInfo") or {}
        found = ci_get(corp_info, "corpid") if isinstance(corp_info, dict) else None
    return str(found or event.corp_id or "") or None


def _sync_http_items(event: Event) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``(item, biz_data)`` of a SyncHTTP bundle (``bizData``; ``biz_data`` is JSON text)."""
    out: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for item in ci_get(event.data, "bizData") or []:
        if not isinstance(item, dict):
            continue
        raw = item.get("biz_data")
        try:
            data = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
        except (ValueError, TypeError):
            continue
        if isinstance(data, dict):
            out.append((item, data))
    return out


_SECRET_KEYS = frozenset({"permanentcode", "permanent_code"})


def _scrub(value: Any) -> Any:
    """``value`` without permanent codes (any depth; JSON text inside is scrubbed too)."""
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k.lower() not in _SECRET_KEYS}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, str) and value[:1] == "{" and "ermanent" in value:
        try:
            return json.dumps(_scrub(json.loads(value)), ensure_ascii=False)
        except ValueError:
            return value
    return value


def without_permanent_code(event: Event) -> Event:
    """``event`` as the inbox keeps it: Stream ``org_suite_auth`` / SyncHTTP items carry the
    company's permanent code, a secret a Stream suite never needs — it is not stored."""
    if "ermanent" not in json.dumps(event.raw, ensure_ascii=False) + json.dumps(
        event.data, ensure_ascii=False
    ):
        return event
    return Event(
        event.event_id,
        event.event_type,
        event.corp_id,
        event.event_time_ms,
        _scrub(event.data),
        _scrub(event.raw),
    )


class IsvEventProcessor(EventProcessor):
    """The suite channel's processor (module docstring). ``corp_processors(corp_id)``: the
    processor of a company's business events (contacts, approvals …), or ``None``."""

    def __init__(
        self,
        service: IsvService,
        *,
        corp_processors: Callable[[str], EventProcessor | None] | None = None,
        concurrency: int = 8,
    ) -> None:
        super().__init__(
            service.suite.http,
            service.engine,
            f"isv:{service.suite_key}",
            concurrency=concurrency,
        )
        self.service = service
        self.corp_processors = corp_processors

    async def store(self, event: Event, source: str) -> int | None:
        """Apply a ``suite_ticket`` at once (durable before the ACK), then write the event to
        the inbox like any other."""
        if event.event_type == "suite_ticket" or event.event_type in SYNC_HTTP_EVENTS:
            await self.service.ticket_from_event(event, source)
        return await super().store(without_permanent_code(event), source)

    async def _handle(self, event: Event) -> tuple[str, str | None]:
        if event.event_type in ISV_EVENTS:
            return await self.service.on_auth_event(event), None
        processor = (  # the lookup may read the database: off the event loop
            await asyncio.to_thread(self.corp_processors, event.corp_id)
            if self.corp_processors is not None and event.corp_id
            else None
        )
        if processor is None:
            return "skipped", f"no processor for company {event.corp_id}"
        return await processor._handle(event)


__all__ = [
    "IsvEventProcessor",
    "IsvService",
    "IsvSettings",
    "authorised_corps",
    "isv_receiver",
    "pending_first_syncs",
    "register_isv_corp",
    "registry_status",
    "suite_settings",
    "sync_suite_registry",
]
