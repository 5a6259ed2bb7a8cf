"""Helpers of the approvals tests: a sandbox with a denser approval world, a client on it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dingsync.sandbox import SandboxServer
from helpers.sandboxes import SandboxSpec, make_client

__all__ = ["PRIVATE_SANDBOX", "SANDBOX", "make_client", "make_sandbox"]

USERS = 80
DENSITY = 0.03  # about 70 instances over 30 days (plus attendance's leaves)


#: The approvals company the modules share (read-only).
SANDBOX = SandboxSpec(seed=11, users=USERS, knobs=(("approvals_per_user_day", DENSITY),))
#: The same company for a module that mutates it (its own sandbox).
PRIVATE_SANDBOX = replace(SANDBOX, private=True)


def make_sandbox(**knobs: Any) -> SandboxServer:
    """A sandbox of ``SANDBOX`` with ``knobs`` set too, not started (use ``with``)."""
    sb = SANDBOX.server()
    if knobs:
        sb.configure(**knobs)
    return sb
