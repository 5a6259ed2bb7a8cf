"""The beat schedule: per company and entity, a full run every day at ``full_at`` (company
zone) and an incremental run every ``incremental_minutes``.

``Settings.schedule`` is every entity's default, ``Settings.entity_schedules`` overrides it per
entity (``{"reports": {"incremental_minutes": 5}, "contacts": {"full_at": "03:30"}}``). Each
entry sends ``dingsync.sync_entity(corp_id, entity, kind, job)`` with a fresh job (its queued
time is stamped by the task when the message carries none).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery.schedules import crontab

from dingsync.config import EntitySchedule, Settings
from dingsync.sync.runner import ENTITY_NAMES
from dingsync.workers.companies import company_settings


def entity_schedule(settings: Settings, entity: str) -> EntitySchedule:
    """The schedule of ``entity``: its own entry, else the default."""
    return settings.entity_schedules.get(entity, settings.schedule)


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Celery's ``beat_schedule``: ``"<corp_id>:<entity>:full"`` and ``…:incremental`` entries
    (crontab in the app's timezone, ``Settings.timezone``; intervals as ``timedelta``)."""
    entries: dict[str, dict[str, Any]] = {}
    for corp_id in company_settings(settings):
        for entity in ENTITY_NAMES:
            plan = entity_schedule(settings, entity)
            if plan.full_at:
                hh, mm = plan.full_at.split(":")
                entries[f"{corp_id}:{entity}:full"] = {
                    "task": "dingsync.sync_entity",
                    "schedule": crontab(hour=int(hh), minute=int(mm)),
                    "args": (corp_id, entity, "full", None),
                }
            if plan.incremental_minutes > 0:
                entries[f"{corp_id}:{entity}:incremental"] = {
                    "task": "dingsync.sync_entity",
                    "schedule": timedelta(minutes=plan.incremental_minutes),
                    "args": (corp_id, entity, "incremental", None),
                }
    return entries
