"""Fixtures of the approvals tests: one sandbox per module (real loopback HTTP), databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from dingsync.sandbox import SandboxServer
from dingsync.store import db

from .helpers import make_sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with make_sandbox() as sb:
        yield sb


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = db.create_engine_for(db_url)
    db.migrate(eng)
    yield eng
    eng.dispose()
