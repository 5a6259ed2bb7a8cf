"""Settings are the only way in for configuration: no module but ``config.py`` reads the
environment, and the settings the CLI needs on its failure path load even when others fail."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dingsync.config import Settings, debug_requested, load_settings

SRC = Path(__file__).resolve().parents[1] / "src" / "dingsync"
READS_ENVIRONMENT = re.compile(r"\bos\.environ\b|\bgetenv\b|from os import [^\n]*\benviron\b")


def test_only_config_reads_the_environment() -> None:
    readers = sorted(
        path.relative_to(SRC).as_posix()
        for path in SRC.rglob("*.py")
        if path.name != "config.py" or path.parent != SRC
        if READS_ENVIRONMENT.search(path.read_text(encoding="utf-8"))
    )
    assert readers == [], "read them through Settings"


def test_debug_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DINGSYNC_DEBUG", raising=False)
    assert load_settings().debug is False
    assert debug_requested() is False
    monkeypatch.setenv("DINGSYNC_DEBUG", "1")
    assert load_settings().debug is True
    assert debug_requested() is True
    monkeypatch.setenv("DINGSYNC_DEBUG", "off")
    assert debug_requested() is False


def test_debug_is_read_when_other_settings_fail(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DINGSYNC_QPS_PER_API", "fast")
    monkeypatch.setenv("DINGSYNC_DEBUG", "yes")
    with pytest.raises(ValueError, match="DINGSYNC_QPS_PER_API"):
        load_settings()
    assert debug_requested() is True
    monkeypatch.delenv("DINGSYNC_QPS_PER_API")
    (tmp_path / "dingsync.toml").write_text("app_key = \n", encoding="utf-8")  # not TOML
    assert debug_requested() is True
    monkeypatch.setenv("DINGSYNC_DEBUG", "perhaps")  # not a boolean: not set
    assert debug_requested() is False


def test_reports_details_days_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DINGSYNC_REPORTS_DETAILS_DAYS", raising=False)
    assert Settings().reports_details_days == 7
    monkeypatch.setenv("DINGSYNC_REPORTS_DETAILS_DAYS", "3")
    assert Settings().reports_details_days == 3


def test_internal_apps_are_read_from_dingsync_toml(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DINGSYNC_APPS", raising=False)
    (tmp_path / "dingsync.toml").write_text(
        "[[apps]]\n"
        'app_key = "ding-a"\napp_secret = "secret-a"\ncorp_id = "corp-a"\nagent_id = 101\n'
        "[[apps]]\n"
        'app_key = "ding-b"\napp_secret = "secret-b"\ncorp_id = "corp-b"\n'
        'timezone = "Europe/Berlin"\nstatus = "stopped"\n',
        encoding="utf-8",
    )
    settings = load_settings()
    assert [a.corp_id for a in settings.apps] == ["corp-a", "corp-b"]
    a, b = settings.apps
    assert a.agent_id == "101" and a.timezone is None and a.status == "active"
    assert b.timezone == "Europe/Berlin" and b.status == "stopped"
    assert "secret-a" not in repr(settings) and "secret-b" not in repr(settings)
    assert settings.app_key is None  # the DINGTALK_* app stays what the environment says


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('app_key = "k"\napp_secret = "s"\ncorp_id = "c"\ntimezone = "Mars/Base"\n', "Mars/Base"),
        ('app_key = "k"\napp_secret = "s"\n', "corp_id"),
        ('app_key = "k"\napp_secret = "s"\ncorp_id = "c"\nstatus = "relieved"\n', "status"),
        ('app_key = "k"\napp_secret = "s"\ncorp_id = "c"\nappkey = "typo"\n', "appkey"),
    ],
    ids=["timezone", "corp_id", "status", "unknown-key"],
)
def test_a_bad_app_entry_is_refused_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, entry: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dingsync.toml").write_text("[[apps]]\n" + entry, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_settings()


def test_a_company_listed_twice_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    entry = '[[apps]]\napp_key = "k"\napp_secret = "s"\ncorp_id = "same"\n'
    (tmp_path / "dingsync.toml").write_text(entry + entry, encoding="utf-8")
    with pytest.raises(ValueError, match="corp_id same twice"):
        load_settings()
