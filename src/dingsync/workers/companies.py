"""The companies a worker cluster syncs and the settings of each: the companies registry
(:mod:`dingsync.corps`) — the configured ``DINGTALK_*`` app, every ``[[apps]]`` internal app
(``DINGSYNC_APPS`` as a JSON list) and every company that authorised the third-party suite.

Every company's settings are the main settings with its app swapped in
(:func:`dingsync.corps.app_settings`), so each is synced exactly as ``dingsync sync --corp``
would; its DingTalk client comes from :func:`dingsync.corps.build_corp_client` (an ISV
company's token is the suite's company token).
"""

from __future__ import annotations

from sqlalchemy import Engine

from dingsync.config import Settings
from dingsync.corps import Corp, all_corps, app_settings, configured_apps


def company_settings(settings: Settings) -> dict[str, Settings]:
    """``{corp_id: Settings}`` of every configured internal app, the ``DINGTALK_*`` one first
    (keyed by its CorpId, else its AppKey, as ``dingsync sync`` keys its rows), then each
    ``[[apps]]`` entry. Reads no database: what a process can know before it migrates."""
    return {
        corp_id: app_settings(settings, app) for corp_id, app in configured_apps(settings).items()
    }


def active_corps(engine: Engine, settings: Settings) -> list[Corp]:
    """Every active company the cluster syncs: the configured apps and the ISV companies of
    the registry (relieved or stopped ones are left out), by ``corp_id``."""
    return [corp for corp in all_corps(engine, settings) if corp.active]


def secrets_of(settings: Settings) -> list[str]:
    """Every app secret the configuration holds, for masking log lines."""
    return [app.app_secret.get_secret_value() for app in configured_apps(settings).values()]
