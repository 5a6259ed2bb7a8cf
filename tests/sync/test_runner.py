"""The sync runner builds every entity from Settings (no entity reads the environment for a
knob the CLI or the demo sets)."""

from __future__ import annotations

from dingsync.config import Settings
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.reports import ReportsSync
from dingsync.sync.runner import ENTITY_NAMES, make_entities


def test_entities_are_built_from_the_settings_passed() -> None:
    settings = Settings(reports_details_days=2, contacts_full_compare_hours=5.0)
    entities = {e.name: e for e in make_entities(settings=settings)}
    assert tuple(entities) == ENTITY_NAMES
    reports = entities["reports"]
    contacts = entities["contacts"]
    assert isinstance(reports, ReportsSync) and reports.details_days == 2
    assert isinstance(contacts, ContactsSync) and contacts.full_compare_hours == 5.0


def test_unknown_entities_are_refused_by_name() -> None:
    try:
        make_entities(["contacts", "payroll"])
    except ValueError as exc:
        assert "payroll" in str(exc) and "known: contacts, reports" in str(exc)
    else:
        raise AssertionError("payroll was accepted")
