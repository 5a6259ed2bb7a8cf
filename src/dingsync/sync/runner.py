"""Wiring from :class:`dingsync.config.Settings` to a client, a database and a sync run."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from sqlalchemy import Engine

from dingsync.config import Settings
from dingsync.dingtalk import DingTalkClient
from dingsync.store import db
from dingsync.store.tokens import DatabaseTokenStore
from dingsync.sync.engine import ProgressSink, SyncEntity, SyncResult, run_sync

#: Entities ``dingsync sync --only`` knows, in the order a full run syncs them:
#: name → (module, class). Each class is a :class:`~dingsync.sync.engine.SyncEntity`.
ENTITIES: dict[str, tuple[str, str]] = {
    "contacts": ("dingsync.sync.contacts", "ContactsSync"),
    "reports": ("dingsync.sync.reports", "ReportsSync"),
    "attendance": ("dingsync.sync.attendance", "AttendanceSync"),
    "approvals": ("dingsync.sync.approvals", "ApprovalsSync"),
    "events": ("dingsync.sync.events", "EventsSync"),
}
ENTITY_NAMES: tuple[str, ...] = tuple(ENTITIES)


class MissingCredentials(RuntimeError):
    """No DingTalk credentials are configured (``DINGTALK_APP_KEY``/``DINGTALK_APP_SECRET``)."""


def open_database(settings: Settings) -> Engine:
    """Engine for ``DINGSYNC_DATABASE_URL`` with the schema migrated to the latest revision."""
    engine = db.create_engine_for(settings.database_url)
    db.migrate(engine)
    return engine


def build_client(settings: Settings, engine: Engine | None = None) -> DingTalkClient:
    """A :class:`DingTalkClient` for the configured app; the token is shared through the DB.

    Raises :class:`MissingCredentials` when the AppKey or AppSecret is missing.
    """
    missing = settings.missing_credentials()
    if missing:
        raise MissingCredentials(", ".join(missing))
    assert settings.app_key and settings.app_secret
    return DingTalkClient(
        settings.app_key,
        settings.app_secret.get_secret_value(),
        corp_id=settings.corp_id,
        agent_id=settings.agent_id,
        oapi_url=settings.oapi_url,
        api_url=settings.api_url,
        token_store=DatabaseTokenStore(engine) if engine is not None else None,
        qps_per_api=settings.qps_per_api or None,
        max_retries=settings.max_retries,
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
    entities: list[SyncEntity] = []
    for name in ENTITIES:
        if name in names:
            module, cls = ENTITIES[name]
            entity_cls = getattr(importlib.import_module(module), cls)
            if settings is not None and hasattr(entity_cls, "from_settings"):
                entities.append(entity_cls.from_settings(settings))
            else:
                entities.append(entity_cls())
    return entities


async def sync_once(
    settings: Settings,
    *,
    only: Sequence[str] | None = None,
    engine: Engine | None = None,
    progress: ProgressSink | None = None,
    resume: bool = True,
    kind: str = "full",
) -> SyncResult:
    """Run one sync of ``only`` (default: everything) for the configured corp.

    The corp id comes from ``DINGTALK_CORP_ID``; without it the AppKey stands in, so rows are
    still keyed per app.
    """
    engine = engine or open_database(settings)
    entities = make_entities(only, settings)
    async with build_client(settings, engine) as client:
        corp_id = settings.corp_id or settings.app_key or "default"
        return await run_sync(
            client,
            engine,
            corp_id,
            entities,
            kind=kind,
            concurrency=settings.sync_concurrency,
            progress=progress,
            resume=resume,
            tz=settings.tz,
        )
