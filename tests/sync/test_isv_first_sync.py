"""A newly authorised ISV company's full sync stays due until it succeeds, and the ``corps``
registry is what routes a company's events: over loopback HTTP against a sandbox suite of two
companies (tickets and authorisations over Stream), on SQLite and PostgreSQL.

- The first ``dingsync sync --all --incremental`` meets a company whose DingTalk fails every
  call (the sandbox's ``fault_5xx``): its run fails and its full sync stays due
  (``corps.full_sync_requested_at``), the other company's is settled; the next run does a full
  sync of it (not the incremental asked for) and its directory equals the truth.
- A company the registry holds as ``stopped`` or ``relieved`` gets no processor for its events
  even while ``isv_corp_auth`` still says ``authorised``: its business events are skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
import typer
from sqlalchemy import Engine

from dingsync.commands.corps import sync_corps
from dingsync.commands.isv_demo import SuiteReceiver
from dingsync.dingtalk.models.events import Event
from dingsync.sandbox.isv import IsvConfig, IsvSandboxServer
from dingsync.store import repo, repo_corps
from dingsync.sync.isv import IsvEventProcessor, pending_first_syncs
from helpers.contacts import assert_db_equals_company
from web.test_corps_isv import isv_settings, mutate, registry, until


@pytest.fixture
def suite() -> Iterator[IsvSandboxServer]:
    with IsvSandboxServer(IsvConfig(seed=47, corps=[(931, 14), (932, 18)], days=1)) as sb:
        yield sb


def _faults(sb: IsvSandboxServer, corp_id: str, p: float) -> None:
    r = httpx.post(f"{sb.corp_url(corp_id)}/sandbox/config", json={"fault_5xx": p})
    assert r.status_code == 200, r.text


def test_a_failed_first_sync_is_retried_in_full(
    engine: Engine, suite: IsvSandboxServer, db_url: str
) -> None:
    sb = suite
    settings = isv_settings(sb, db_url).model_copy(update={"max_retries": 0})
    failing, fine = sorted(sb.corps)
    receiver = SuiteReceiver(settings, engine, sb.base_url).start()
    try:
        until(lambda: [r["status"] for r in registry(engine).values()] == ["active"] * 2)
        assert pending_first_syncs(engine, settings) == {failing, fine}
        # reading the due syncs does not clear them
        assert pending_first_syncs(engine, settings) == {failing, fine}
    finally:
        receiver.stop()

    _faults(sb, failing, 1.0)
    with pytest.raises(typer.Exit) as failed:
        sync_corps(settings, None, True, None, True, True, True)
    assert failed.value.exit_code
    assert pending_first_syncs(engine, settings) == {failing}  # the other one is settled
    with engine.connect() as conn:
        (last,) = repo.list_sync_runs(conn, failing, limit=1)
        assert (last["kind"], last["status"]) == ("full", "failed")
        (done,) = repo.list_sync_runs(conn, fine, limit=1)
        assert (done["kind"], done["status"]) == ("full", "succeeded")
    assert_db_equals_company(engine, fine, sb.corps[fine].state.company)

    # DingTalk answers again: `sync --all --incremental` runs the due company in full
    _faults(sb, failing, 0.0)
    sync_corps(settings, None, True, None, True, True, True)
    assert pending_first_syncs(engine, settings) == set()
    with engine.connect() as conn:
        runs = repo.list_sync_runs(conn, failing, limit=5)
        assert runs[0]["kind"] == "full" and runs[0]["status"] == "succeeded"
        runs = repo.list_sync_runs(conn, fine, limit=1)
        assert runs[0]["kind"] == "incremental"  # the settled one runs as asked
    assert_db_equals_company(engine, failing, sb.corps[failing].state.company)


def test_the_registry_routes_isv_events(
    engine: Engine, suite: IsvSandboxServer, db_url: str
) -> None:
    sb = suite
    settings = isv_settings(sb, db_url)
    stopped, relieved = sorted(sb.corps)
    receiver = SuiteReceiver(settings, engine, sb.base_url).start()
    try:
        until(lambda: [r["status"] for r in registry(engine).values()] == ["active"] * 2)
        lookup = receiver.service.corp_processors()
        assert lookup(stopped) is not None and lookup(relieved) is not None

        # stopped on our side: the registry alone says so (isv_corp_auth is still authorised)
        with engine.begin() as conn:
            assert repo_corps.set_status(conn, stopped, "stopped")
        assert lookup(stopped) is None
        # relieved by the company: the suite's event reaches the registry, its events stop
        mutate(sb, "relieve", corp_id=relieved)
        until(lambda: registry(engine)[relieved]["status"] == "relieved")
        assert lookup(relieved) is None
        # an unknown company is not followed either
        assert lookup("dingnobody") is None

        processor = IsvEventProcessor(receiver.service, corp_processors=lookup)
        for corp_id in (stopped, relieved):
            event = Event(f"ev-{corp_id}", "user_add_org", corp_id, None, {"UserId": ["u1"]}, {})
            outcome, why = asyncio.run(processor._handle(event))
            assert outcome == "skipped" and why and corp_id in why
    finally:
        receiver.stop()
