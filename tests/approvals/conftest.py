"""Fixtures of the approvals tests: one sandbox per module (real loopback HTTP), databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dingsync.sandbox import SandboxServer
from helpers.sandboxes import SandboxPool

from .helpers import PRIVATE_SANDBOX


@pytest.fixture(scope="module")
def sandbox(sandboxes: SandboxPool) -> Iterator[SandboxServer]:
    with sandboxes.own(PRIVATE_SANDBOX) as sb:
        yield sb
