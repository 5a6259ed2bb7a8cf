"""dingsync.sandbox — a faithful DingTalk emulator with a generated company.

A separate application: it imports nothing of dingsync outside this package. It serves both
DingTalk hosts' paths (``oapi`` ``/gettoken``, ``/topapi/…``, archived ``/user/…``,
``/department/…``; ``api`` ``/v1.0/…``) on one port, with DingTalk's envelopes, parameter checks,
caps, errcodes, token and login-code expiry by a movable clock, per-API QPS limits, latency and
fault injection, plus ``/sandbox/*`` control endpoints::

    from dingsync.sandbox import SandboxConfig, SandboxServer

    with SandboxServer(SandboxConfig(seed=42, users=300)) as sb:
        sb.base_url, sb.app.app_key, sb.company.users, sb.stats()
"""

from dingsync.sandbox.clock import Clock
from dingsync.sandbox.company import (
    Company,
    Department,
    Leaver,
    LeaverDepartment,
    Membership,
    User,
    generate_company,
)
from dingsync.sandbox.config import AppCredentials, SandboxConfig
from dingsync.sandbox.server import SandboxServer, run_sandbox

__all__ = [
    "AppCredentials",
    "Clock",
    "Company",
    "Department",
    "Leaver",
    "LeaverDepartment",
    "Membership",
    "SandboxConfig",
    "SandboxServer",
    "User",
    "generate_company",
    "run_sandbox",
]
