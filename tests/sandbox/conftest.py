"""Fixtures for the sandbox tests: one sandbox per session (real loopback HTTP), restored to
its defaults after every test, and a small client that speaks both DingTalk hosts."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from dingsync.sandbox import SandboxServer
from helpers.sandboxes import SandboxPool, SandboxSpec

from .helpers import Ding

SEED = 7
USERS = 300

#: Knob values every test starts from (the session sandbox runs without a QPS limit).
DEFAULT_KNOBS: dict[str, Any] = {
    "qps_limit": None,
    "qps_overrides": {},
    "latency_ms": 0.0,
    "jitter_ms": 0.0,
    "rate_limit_wrapped": False,
    "expired_token_code": "40014",
    "expired_token_wrapped": True,
    "fault_5xx": 0.0,
    "fault_timeout": 0.0,
    "fault_drop": 0.0,
    "fault_rate_limit": 0.0,
    "fault_token_invalidation": 0.0,
    "timeout_s": 5.0,
    "timeout_action": "answer",
    "fault_token_endpoints": False,
    "global_qps_limit": None,
    "global_ban_s": 1.0,
    "monthly_quota": None,
    "ip_ban_calls": None,
    "ip_ban_window_s": 20.0,
    "ip_ban_s": 300.0,
    "user_code_error": "invalidParameter",
    "jsapi_reject_sha1": False,
    "data_scope_dept_ids": None,
    "contacts_scope_dept_ids": None,
    "contacts_scope_userids": [],
    "odd_departments": {},
    "historic_permissions_denied": False,
    "denied_permissions": [],
}


@pytest.fixture(scope="session")
def sandbox_server(sandboxes: SandboxPool) -> SandboxServer:
    """The sandbox tests' company (from the session pool); ``sb`` resets it after each test."""
    return sandboxes.get(SandboxSpec(seed=SEED, users=USERS))


@pytest.fixture
def sb(sandbox_server: SandboxServer) -> Iterator[SandboxServer]:
    """The session sandbox, with knobs, clock and counters restored after the test."""
    yield sandbox_server
    sandbox_server.configure(**DEFAULT_KNOBS)
    sandbox_server.clock.set(time.time())
    sandbox_server.reset_stats()


@pytest.fixture
async def ding(sb: SandboxServer) -> AsyncIterator[Ding]:
    async with httpx.AsyncClient(base_url=sb.base_url, timeout=10) as http:
        yield Ding(http, sb)
