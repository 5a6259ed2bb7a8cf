"""Helpers of the approvals tests: a sandbox with a denser approval world, a client on it."""

from __future__ import annotations

from typing import Any

from dingsync.dingtalk import DingTalkClient
from dingsync.sandbox import SandboxConfig, SandboxServer

USERS = 80
DENSITY = 0.03  # about 70 instances over 30 days (plus attendance's leaves)


def make_sandbox(**knobs: Any) -> SandboxServer:
    sb = SandboxServer(SandboxConfig(seed=11, users=USERS, qps_limit=None))
    sb.configure(approvals_per_user_day=DENSITY, **knobs)
    return sb


def make_client(sb: SandboxServer, **kw: Any) -> DingTalkClient:
    kw.setdefault("qps_per_api", None)
    kw.setdefault("backoff_base", 0.01)
    kw.setdefault("backoff_max", 0.05)
    kw.setdefault("rate_limit_pause", 0.0)
    return DingTalkClient(
        sb.app.app_key,
        sb.app.app_secret,
        corp_id=sb.app.corp_id,
        oapi_url=sb.base_url,
        api_url=sb.base_url,
        **kw,
    )
