"""The young generation's collection threshold while a sync runs (``engine.young_gc_threshold``):
raised for the sync, put back after it, left alone when someone else set it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import SYNC_GC_YOUNG_THRESHOLD, SyncContext, run_sync, young_gc_threshold
from helpers.contacts import assert_db_equals_company, make_client


@pytest.fixture
def default_threshold() -> Iterator[tuple[int, int, int]]:
    """Python's thresholds set to its defaults for the test, the process's put back after."""
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield (700, 10, 10)
    gc.set_threshold(*saved)


def test_raised_inside_put_back_after(default_threshold: tuple[int, int, int]) -> None:
    with young_gc_threshold():
        assert gc.get_threshold() == (SYNC_GC_YOUNG_THRESHOLD, 10, 10)
    assert gc.get_threshold() == default_threshold


def test_nested_blocks_the_outermost_puts_it_back(
    default_threshold: tuple[int, int, int],
) -> None:
    with young_gc_threshold():
        with young_gc_threshold():
            assert gc.get_threshold()[0] == SYNC_GC_YOUNG_THRESHOLD
        assert gc.get_threshold()[0] == SYNC_GC_YOUNG_THRESHOLD  # the outer sync still runs
    assert gc.get_threshold() == default_threshold


def test_put_back_when_the_block_raises(default_threshold: tuple[int, int, int]) -> None:
    with pytest.raises(RuntimeError), young_gc_threshold():
        raise RuntimeError("boom")
    assert gc.get_threshold() == default_threshold


def test_a_higher_threshold_or_collection_off_is_left_alone(
    default_threshold: tuple[int, int, int],
) -> None:
    gc.set_threshold(50_000, 10, 10)  # the web service's, or the operator's
    with young_gc_threshold():
        assert gc.get_threshold()[0] == 50_000
    assert gc.get_threshold()[0] == 50_000
    gc.set_threshold(0, 10, 10)  # automatic collection off
    with young_gc_threshold():
        assert gc.get_threshold()[0] == 0
    assert gc.get_threshold()[0] == 0


def test_a_threshold_set_meanwhile_is_kept(default_threshold: tuple[int, int, int]) -> None:
    with young_gc_threshold():
        gc.set_threshold(2_000, 10, 10)
    assert gc.get_threshold()[0] == 2_000


async def test_a_directory_sync_runs_with_it_and_puts_it_back(
    engine: Engine, default_threshold: tuple[int, int, int]
) -> None:
    seen: list[int] = []

    def watch(ctx: SyncContext) -> None:
        seen.append(gc.get_threshold()[0])

    with SandboxServer(SandboxConfig(seed=3, users=60, qps_limit=None)) as sb:
        async with make_client(sb) as client:
            result = await run_sync(
                client, engine, sb.app.corp_id, [ContactsSync()], on_context=watch
            )
        assert result.status == "succeeded"
        assert_db_equals_company(engine, sb.app.corp_id, sb.company)
    assert seen == [SYNC_GC_YOUNG_THRESHOLD]
    assert gc.get_threshold() == default_threshold
