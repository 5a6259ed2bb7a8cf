"""The companies a worker cluster syncs and the settings of each.

The configured app (``DINGTALK_APP_KEY``…) is one company; ``DINGSYNC_COMPANIES`` (or
``[[companies]]`` in ``dingsync.toml``) adds more, each with its own CorpId and app credentials.
Every company's settings are the main settings with its credentials (and hosts, when given)
swapped in, so each is synced exactly as ``dingsync sync`` would with those variables set.
"""

from __future__ import annotations

from dingsync.config import Settings


def company_settings(settings: Settings) -> dict[str, Settings]:
    """``{corp_id: Settings}`` of every company, the configured app first (keyed by its CorpId,
    else its AppKey, as ``dingsync sync`` keys its rows). A company listed twice keeps its
    last entry."""
    found: dict[str, Settings] = {}
    if settings.has_credentials:
        found[settings.corp_id or settings.app_key or "default"] = settings
    for company in settings.companies:
        update: dict[str, object] = {
            "corp_id": company.corp_id,
            "app_key": company.app_key,
            "app_secret": company.app_secret,
            "agent_id": company.agent_id,
        }
        if company.oapi_url:
            update["oapi_url"] = company.oapi_url
        if company.api_url:
            update["api_url"] = company.api_url
        found[company.corp_id] = settings.model_copy(update=update)
    return found
