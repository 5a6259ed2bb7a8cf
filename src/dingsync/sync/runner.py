"""Wiring from :class:`dingsync.config.Settings` to a client, a database and a sync run."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from dingsync.config import Settings
from dingsync.dingtalk import DingTalkClient
from dingsync.dingtalk.tokens import RedisTokenStore, TokenStore
from dingsync.store import db
from dingsync.store.tokens import DatabaseTokenStore
from dingsync.sync.approvals import ApprovalsSync
from dingsync.sync.attendance import AttendanceSync
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import ProgressSink, SyncEntity, SyncResult, run_sync
from dingsync.sync.events import EventsSync
from dingsync.sync.reports import ReportsSync

#: The sync entity of each data area (:data:`dingsync.areas.AREA_NAMES`, in that order: the
#: directory first, the others need its people and departments).
AREA_ENTITIES: dict[str, type[SyncEntity]] = {
    "contacts": ContactsSync,
    "reports": ReportsSync,
    "attendance": AttendanceSync,
    "approvals": ApprovalsSync,
}
#: Entities ``dingsync sync --only`` knows, in the order a full run syncs them: the areas', then
#: ``events`` (drains DingTalk's failed-push list and replays the inbox, after the areas).
ENTITIES: dict[str, type[SyncEntity]] = {**AREA_ENTITIES, "events": EventsSync}
ENTITY_NAMES: tuple[str, ...] = tuple(ENTITIES)


class MissingCredentials(RuntimeError):
    """No DingTalk credentials are configured (``DINGTALK_APP_KEY``/``DINGTALK_APP_SECRET``)."""


def open_database(settings: Settings) -> Engine:
    """Engine for ``DINGSYNC_DATABASE_URL`` with the schema migrated to the latest revision."""
    engine = db.create_engine_for(settings.database_url)
    db.migrate(engine)
    return engine


def build_client(settings: Settings, engine: Engine | None = None) -> DingTalkClient:
    """A :class:`DingTalkClient` for the configured app; the token is shared through Redis
    (``DINGSYNC_REDIS_URL``: with the rate limits, the throttle back-off and the logins'
    reserved share) or else through the database (``engine``).

    Raises :class:`MissingCredentials` when the AppKey or AppSecret is missing.
    """
    missing = settings.missing_credentials()
    if missing:
        raise MissingCredentials(", ".join(missing))
    assert settings.app_key and settings.app_secret
    store: TokenStore | None = DatabaseTokenStore(engine) if engine is not None else None
    shared: dict[str, object] = {}
    if settings.redis_url:
        store = RedisTokenStore(settings.redis_url)
        shared = {
            "limiter_storage_uri": settings.redis_url,
            "login_reserve": settings.login_reserved_share,
            "close_token_store": True,
        }
    return DingTalkClient(
        settings.app_key,
        settings.app_secret.get_secret_value(),
        corp_id=settings.corp_id,
        agent_id=settings.agent_id,
        oapi_url=settings.oapi_url,
        api_url=settings.api_url,
        login_url=settings.login_url,
        token_store=store,
        qps_per_api=settings.qps_per_api or None,
        max_retries=settings.max_retries,
        **shared,  # type: ignore[arg-type]
    )


def make_entities(
    only: Sequence[str] | None = None, settings: Settings | None = None
) -> list[SyncEntity]:
    """The entities to sync: all known ones, or those named in ``only`` (ValueError if unknown).

    With ``settings``, an entity class that has ``from_settings(settings)`` is built with it.
    """
    names = list(only) if only else list(ENTITIES)
    unknown = [n for n in names if n not in ENTITIES]
    if unknown:
        raise ValueError(f"unknown entity {', '.join(unknown)}; known: {', '.join(ENTITIES)}")
    return [_build(ENTITIES[name], settings) for name in ENTITIES if name in names]


def _build(entity_cls: type[SyncEntity], settings: Settings | None) -> SyncEntity:
    """``entity_cls.from_settings(settings)`` when it has one, else ``entity_cls()``."""
    if settings is None:
        return entity_cls()
    from_settings = getattr(entity_cls, "from_settings", None)
    if from_settings is not None:
        entity: SyncEntity = from_settings(settings)
        return entity
    return entity_cls()


async def sync_once(
    settings: Settings,
    *,
    only: Sequence[str] | None = None,
    engine: Engine | None = None,
    progress: ProgressSink | None = None,
    resume: bool = True,
    kind: str = "full",
    client: DingTalkClient | None = None,
) -> SyncResult:
    """Run one sync of ``only`` (default: everything) for the configured corp.

    The corp id comes from ``DINGTALK_CORP_ID``; without it the AppKey stands in, so rows are
    still keyed per app. ``client``: the company's client to use (and close) instead of one
    built from ``settings`` (a company served through a third-party suite).
    """
    engine = engine or open_database(settings)
    entities = make_entities(only, settings)
    async with client or build_client(settings, engine) as used:
        corp_id = settings.corp_id or settings.app_key or "default"
        return await run_sync(
            used,
            engine,
            corp_id,
            entities,
            kind=kind,
            concurrency=settings.sync_concurrency,
            progress=progress,
            resume=resume,
            tz=settings.tz,
        )
