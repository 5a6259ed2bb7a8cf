"""Every layer wires every data area of ``dingsync.areas``: a test per (layer, area) pair that
fails, naming both, when an area is missing from one layer's static map (docs/CONTRACTS.md,
"Adding a data area").

The maps are plain dicts built from static imports, so these checks read them directly; the
wiring is also checked where it takes effect (the web application's routes, the CLI's groups,
the client's attributes).
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import typer
from sqlalchemy import create_engine

from dingsync import areas
from dingsync.areas import AREA_NAMES, AREAS
from dingsync.dingtalk import AREA_APIS, DingTalkClient
from dingsync.dingtalk.models import events as event_kinds
from dingsync.store import AREA_REPOS, AREA_SCHEMAS
from dingsync.store.schema import metadata

EXPORTABLE = tuple(a.name for a in AREAS if a.exportable)


def test_the_registry_names_each_area_once_with_a_title() -> None:
    assert len(set(AREA_NAMES)) == len(AREA_NAMES) == len(AREAS)
    assert all(a.title for a in AREAS)
    assert areas.area("reports").title == "日志"
    with pytest.raises(KeyError, match="known: contacts"):
        areas.area("payroll")


def _keys_follow_the_registry(mapping: dict[str, Any], names: tuple[str, ...]) -> None:
    """A map keyed by area names holds exactly ``names``, in the registry's order."""
    assert tuple(mapping) == names


# -- client -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", AREA_NAMES)
def test_client_binds_the_area_api(name: str) -> None:
    assert name in AREA_APIS, f"dingtalk.AREA_APIS misses {name}"
    client = DingTalkClient("app-key", "app-secret")
    assert isinstance(getattr(client, name), AREA_APIS[name])


def test_client_map_has_only_areas() -> None:
    _keys_follow_the_registry(AREA_APIS, AREA_NAMES)


# -- store ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", AREA_NAMES)
def test_store_has_the_area_repository_and_tables(name: str) -> None:
    assert name in AREA_REPOS, f"store.AREA_REPOS misses {name}"
    assert inspect.getmembers(AREA_REPOS[name], inspect.isfunction)
    tables = [
        t
        for t in vars(AREA_SCHEMAS[name]).values()
        if getattr(t, "metadata", None) is metadata and getattr(t, "name", None)
    ]
    assert tables, f"no tables of {name} on the shared metadata"
    assert all(metadata.tables[t.name] is t for t in tables)


def test_store_maps_have_only_areas() -> None:
    _keys_follow_the_registry(AREA_REPOS, AREA_NAMES)
    _keys_follow_the_registry(AREA_SCHEMAS, AREA_NAMES)


# -- sync ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", AREA_NAMES)
def test_sync_runs_the_area_entity(name: str) -> None:
    from dingsync.sync.runner import ENTITIES, make_entities

    assert name in ENTITIES, f"sync.runner.ENTITIES misses {name}"
    (entity,) = make_entities([name])
    assert entity.name == name
    assert inspect.iscoroutinefunction(entity.run)


def test_sync_runs_the_areas_in_order_then_events() -> None:
    from dingsync.sync.runner import AREA_ENTITIES, ENTITY_NAMES

    _keys_follow_the_registry(AREA_ENTITIES, AREA_NAMES)
    assert ENTITY_NAMES == (*AREA_NAMES, "events")


def _known_event_kinds() -> dict[str, frozenset[str]]:
    """The event kinds the client parses, by set (``*_EVENTS`` of the models; the URL checks
    and the unions of other sets left out)."""
    sets = {
        name: value
        for name, value in vars(event_kinds).items()
        if name.endswith("_EVENTS") and isinstance(value, frozenset) and name != "CHECK_EVENTS"
    }
    return {
        name: kinds
        for name, kinds in sets.items()
        if not any(other < kinds for o, other in sets.items() if o != name)
    }


@pytest.mark.parametrize("name", AREA_NAMES)
def test_events_of_the_area_have_a_handler(name: str) -> None:
    from dingsync.sync.events import AREA_EVENTS, AREA_HANDLERS, EventProcessor

    if name not in AREA_EVENTS:
        # An area without events: DingTalk sends none of its kinds (all are claimed below).
        claimed = frozenset().union(*AREA_EVENTS.values())
        assert all(kinds <= claimed for kinds in _known_event_kinds().values())
        return
    handler = AREA_HANDLERS[name]
    assert inspect.iscoroutinefunction(handler)
    assert getattr(EventProcessor, handler.__name__) is handler


def test_every_event_kind_belongs_to_exactly_one_area() -> None:
    from dingsync.sync.events import AREA_EVENTS, AREA_HANDLERS

    assert set(AREA_EVENTS) <= set(AREA_NAMES)
    assert set(AREA_HANDLERS) == set(AREA_EVENTS)
    for set_name, kinds in _known_event_kinds().items():
        for kind in kinds:
            owners = [area for area, handled in AREA_EVENTS.items() if kind in handled]
            assert len(owners) == 1, f"{kind} ({set_name}) is handled by {owners or 'no area'}"


# -- export -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", EXPORTABLE)
def test_exportable_area_has_export_writers(name: str) -> None:
    from dingsync.export import AREA_EXPORTS
    from dingsync.web.export_kinds import KINDS

    assert name in AREA_EXPORTS, f"export.AREA_EXPORTS misses {name}"
    assert name in KINDS, f"the web service cannot export {name}"
    assert KINDS[name].name == name


def test_export_map_has_only_exportable_areas() -> None:
    from dingsync.export import AREA_EXPORTS

    _keys_follow_the_registry(AREA_EXPORTS, EXPORTABLE)


# -- web ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def openapi_paths() -> set[str]:
    from dingsync.config import Settings
    from dingsync.web import create_app

    engine = create_engine("sqlite://")
    try:
        return set(create_app(Settings(), engine=engine).openapi()["paths"])
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", AREA_NAMES)
def test_web_serves_the_area_router(name: str, openapi_paths: set[str]) -> None:
    from dingsync.web.app import AREA_ROUTERS

    assert name in AREA_ROUTERS, f"web.app.AREA_ROUTERS misses {name}"
    paths = {getattr(route, "path", "") for route in AREA_ROUTERS[name].routes}
    assert paths and paths <= openapi_paths


@pytest.mark.parametrize("name", AREA_NAMES)
def test_web_rules_cover_the_area(name: str) -> None:
    from dingsync.web import rules

    assert name in rules.AREA_KINDS, f"web.rules.AREA_KINDS misses {name}"
    kind = rules.AREA_KINDS[name]
    assert kind in rules.RULES
    main_admin = rules.Viewer("boss-of-all", main_admin=True)
    assert rules.scope(main_admin, kind, "list").everything


def test_web_maps_have_only_areas() -> None:
    from dingsync.web import rules
    from dingsync.web.app import AREA_ROUTERS

    _keys_follow_the_registry(AREA_ROUTERS, AREA_NAMES)
    _keys_follow_the_registry(rules.AREA_KINDS, AREA_NAMES)
    assert set(rules.RULES) == set(rules.DATA_KINDS)


# -- CLI ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cli_groups() -> dict[str, Any]:
    from dingsync.cli import app

    group = typer.main.get_command(app)
    return dict(group.commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", AREA_NAMES)
def test_cli_has_the_area_group(name: str, cli_groups: dict[str, Any]) -> None:
    from dingsync.commands import AREA_COMMANDS

    assert name in AREA_COMMANDS, f"commands.AREA_COMMANDS misses {name}"
    assert name in cli_groups, f"`dingsync {name}` is not registered"
    assert cli_groups[name].commands, f"`dingsync {name}` has no command"


@pytest.mark.parametrize("name", EXPORTABLE)
def test_cli_exports_the_area(name: str, cli_groups: dict[str, Any]) -> None:
    assert name in cli_groups["export"].commands, f"`dingsync export {name}` is missing"


def test_cli_map_has_only_areas() -> None:
    from dingsync.commands import AREA_COMMANDS

    _keys_follow_the_registry(AREA_COMMANDS, AREA_NAMES)
