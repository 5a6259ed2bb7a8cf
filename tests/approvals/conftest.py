"""Fixtures of the approvals tests: one sandbox per module (real loopback HTTP), databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dingsync.sandbox import SandboxServer

from .helpers import make_sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with make_sandbox() as sb:
        yield sb
