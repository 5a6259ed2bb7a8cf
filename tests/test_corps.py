"""The companies registry (``dingsync.corps``) against real SQLite and PostgreSQL: the
configuration kept in step with ``corps``, resolving a company to its app's settings, the
statuses, and the hook an ISV-authorised company plugs into."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from dingsync import corps
from dingsync.config import AppConfig, Settings
from dingsync.dingtalk import DingTalkClient
from dingsync.store import repo_corps


def _app(corp_id: str, **extra: Any) -> AppConfig:
    return AppConfig(
        app_key=f"key-{corp_id}",
        app_secret=SecretStr(f"secret-{corp_id}"),
        corp_id=corp_id,
        **extra,
    )


def _settings(*apps: AppConfig, **env: Any) -> Settings:
    return Settings(DINGSYNC_APPS=list(apps), **env)


def test_configured_apps_put_the_environment_app_first_and_toml_apps_after() -> None:
    settings = _settings(
        _app("corp-b", timezone="Europe/Berlin"),
        DINGTALK_APP_KEY="env-key",
        DINGTALK_APP_SECRET=SecretStr("env-secret"),
        DINGTALK_CORP_ID="corp-env",
        DINGTALK_AGENT_ID="7",
    )
    apps = corps.configured_apps(settings)
    assert list(apps) == ["corp-env", "corp-b"]
    assert apps["corp-env"].app_key == "env-key" and apps["corp-env"].agent_id == "7"
    assert corps.is_multi(settings) and not corps.is_multi(Settings())
    b = corps.app_settings(settings, apps["corp-b"])
    assert (b.app_key, b.corp_id, b.timezone, b.apps) == (
        "key-corp-b",
        "corp-b",
        "Europe/Berlin",
        [],
    )
    assert b.app_secret is not None and b.app_secret.get_secret_value() == "secret-corp-b"
    assert b.database_url == settings.database_url  # the deployment's, shared
    # The registry's zone wins over the configured one (it is the company's setting).
    assert corps.app_settings(settings, apps["corp-b"], "Asia/Tokyo").timezone == "Asia/Tokyo"


def test_the_registry_follows_the_configuration(engine: sa.Engine) -> None:
    settings = _settings(_app("corp-a", name="A Ltd", agent_id="11"), _app("corp-b"))
    rows = {r["corp_id"]: r for r in corps.sync_registry(engine, settings)}
    assert set(rows) == {"corp-a", "corp-b"}
    assert rows["corp-a"]["name"] == "A Ltd" and rows["corp-a"]["agent_id"] == "11"
    assert all(r["mode"] == "internal" and r["status"] == "active" for r in rows.values())
    assert rows["corp-a"]["created_at"] is not None

    stopped = _settings(_app("corp-a", name="A Ltd"), _app("corp-b", status="stopped"))
    rows = {r["corp_id"]: r for r in corps.sync_registry(engine, stopped)}
    assert rows["corp-b"]["status"] == "stopped"
    rows = {r["corp_id"]: r for r in corps.sync_registry(engine, settings)}
    assert rows["corp-b"]["status"] == "active"  # configured active again: back

    with engine.begin() as conn:
        repo_corps.set_status(conn, "corp-b", "relieved")
    rows = {r["corp_id"]: r for r in corps.sync_registry(engine, settings)}
    assert rows["corp-b"]["status"] == "relieved"  # only DingTalk brings a relieved one back

    # A company no longer configured stays registered as it was (its data is kept).
    rows = {r["corp_id"]: r for r in corps.sync_registry(engine, _settings(_app("corp-a")))}
    assert set(rows) == {"corp-a", "corp-b"} and rows["corp-a"]["name"] == "A Ltd"


def test_an_unconfigured_internal_company_is_stopped_and_its_app_brings_it_back(
    engine: sa.Engine,
) -> None:
    """``dingsync demo --isv`` on the one-company demo's database: the demo's company has no
    app in that mode, so it is marked stopped (not left active with nothing to serve it); the
    ``DINGTALK_*`` app configured again re-activates it."""
    single = _settings(
        DINGTALK_APP_KEY="k", DINGTALK_APP_SECRET=SecretStr("s"), DINGTALK_CORP_ID="demo"
    )
    corps.sync_registry(engine, single)
    with engine.begin() as conn:
        repo_corps.register_corp(conn, {"corp_id": "isv-1", "mode": "isv", "status": "active"})
    assert corps.stop_unconfigured(engine, _settings()) == ["demo"]  # the ISV one is left
    assert corps.stop_unconfigured(engine, _settings()) == []
    rows = {r["corp_id"]: r for r in corps.sync_registry(engine, _settings())}
    assert rows["demo"]["status"] == "stopped" and rows["isv-1"]["status"] == "active"
    rows = {r["corp_id"]: r for r in corps.sync_registry(engine, single)}
    assert rows["demo"]["status"] == "active"


def test_resolve_names_unknown_and_inactive_companies(engine: sa.Engine) -> None:
    settings = _settings(_app("corp-a"), _app("corp-b", timezone="Europe/Berlin"))
    corps.sync_registry(engine, settings)
    b = corps.resolve(engine, settings, "corp-b")
    assert b.active and b.mode == "internal" and b.settings.tz.key == "Europe/Berlin"  # type: ignore[attr-defined]
    with pytest.raises(corps.UnknownCorp, match="corp-a, corp-b") as unknown:
        corps.resolve(engine, settings, "corp-x")
    assert unknown.value.code == "corp.unknown"
    with engine.begin() as conn:
        repo_corps.set_status(conn, "corp-b", "stopped")
    with pytest.raises(corps.CorpInactive, match="stopped") as inactive:
        corps.resolve(engine, settings, "corp-b")
    assert inactive.value.code == "corp.inactive" and inactive.value.status == "stopped"
    assert corps.resolve(engine, settings, "corp-b", active=False).status == "stopped"
    # No DINGTALK_* app: there is no default company to fall back on.
    with pytest.raises(corps.UnknownCorp):
        corps.resolve(engine, settings)


def test_an_isv_company_plugs_in_through_the_registry_and_a_client_builder(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(_app("corp-a"))
    with engine.begin() as conn:
        repo_corps.register_corp(
            conn,
            {
                "corp_id": "corp-isv",
                "mode": "isv",
                "status": "active",
                "agent_id": "99",
                "name": "Authorised Co",
                "timezone": "Asia/Tokyo",
            },
        )
    found = {c.corp_id: c for c in corps.all_corps(engine, settings)}
    assert set(found) == {"corp-a", "corp-isv"}
    isv = found["corp-isv"]
    assert (isv.mode, isv.name, isv.settings.corp_id, isv.settings.agent_id) == (
        "isv",
        "Authorised Co",
        "corp-isv",
        "99",
    )
    assert isv.settings.timezone == "Asia/Tokyo"
    with pytest.raises(corps.UnknownCorp):
        corps.build_corp_client(isv)  # no suite module yet

    built: list[str] = []

    def suite_client(corp: corps.Corp, _engine: sa.Engine | None) -> DingTalkClient:
        built.append(corp.corp_id)
        return DingTalkClient("suite-key", "suite-secret", corp_id=corp.corp_id)

    monkeypatch.setitem(corps.CLIENT_BUILDERS, "isv", suite_client)
    client = corps.build_corp_client(isv)
    assert built == ["corp-isv"] and client.token_key == "suite-key@corp-isv"
    with pytest.raises(repo_corps.UnknownCorpStatus):
        with engine.begin() as conn:
            repo_corps.register_corp(conn, {"corp_id": "corp-isv", "status": "paused"})
