"""The beat schedule: per entity, a full run every day at ``full_at`` and an incremental run
every ``incremental_minutes``, each fanned out at send time to every active company of the
``corps`` registry (configured internal apps and ISV companies alike, so a company authorised
after beat started is scheduled at its next tick, a relieved one is not).

``Settings.schedule`` is every entity's default, ``Settings.entity_schedules`` overrides it per
entity (``{"reports": {"incremental_minutes": 5}, "contacts": {"full_at": "03:30"}}``). Each
entry sends ``dingsync.sync_due(entity, kind)``; that task (:func:`dingsync.workers.tasks.due`)
sends ``dingsync.sync_entity(corp_id, entity, kind, job)`` per company — ``full`` instead of
``incremental`` for a company whose full sync is still due (``corps.full_sync_requested_at``:
newly authorised, or its first full sync failed).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery.schedules import crontab

from dingsync.config import EntitySchedule, Settings
from dingsync.sync.runner import ENTITY_NAMES


def entity_schedule(settings: Settings, entity: str) -> EntitySchedule:
    """The schedule of ``entity``: its own entry, else the default."""
    return settings.entity_schedules.get(entity, settings.schedule)


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Celery's ``beat_schedule``: ``"<entity>:full"`` and ``"<entity>:incremental"`` entries
    (crontab in the deployment's timezone, ``Settings.timezone``; intervals as ``timedelta``),
    each sending ``dingsync.sync_due(entity, kind)``."""
    entries: dict[str, dict[str, Any]] = {}
    for entity in ENTITY_NAMES:
        plan = entity_schedule(settings, entity)
        if plan.full_at:
            hh, mm = plan.full_at.split(":")
            entries[f"{entity}:full"] = {
                "task": "dingsync.sync_due",
                "schedule": crontab(hour=int(hh), minute=int(mm)),
                "args": (entity, "full"),
            }
        if plan.incremental_minutes > 0:
            entries[f"{entity}:incremental"] = {
                "task": "dingsync.sync_due",
                "schedule": timedelta(minutes=plan.incremental_minutes),
                "args": (entity, "incremental"),
            }
    return entries
