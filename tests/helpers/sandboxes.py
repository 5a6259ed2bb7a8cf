"""The sandboxes tests run against and the one DingTalk client factory pointed at them.

A test module says which sandbox it needs with a module constant ``SANDBOX`` (a
:class:`SandboxSpec`); the ``sandbox`` fixture of ``tests/conftest.py`` gives it, shared by every
module that names an equal spec (started once per session), or the module's own when the spec is
``private`` (the module mutates the company).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dingsync.dingtalk import DingTalkClient
from dingsync.sandbox import SandboxConfig, SandboxServer


@dataclass(frozen=True)
class SandboxSpec:
    """A sandbox config without a QPS limit: ``seed``, ``users``, ``days`` of history, knobs
    set after start (``configure``), and ``private`` when the module changes the company, its
    data or its clock (then it is not shared)."""

    seed: int = 11
    users: int = 150
    days: int = 30
    knobs: tuple[tuple[str, Any], ...] = field(default=())
    private: bool = False

    def config(self) -> SandboxConfig:
        return SandboxConfig(seed=self.seed, users=self.users, days=self.days, qps_limit=None)

    def server(self) -> SandboxServer:
        """A configured, not yet started sandbox (start it with ``with``)."""
        sb = SandboxServer(self.config())
        if self.knobs:
            sb.configure(**dict(self.knobs))
        return sb


#: The default company most tests read (the web service's).
DEFAULT = SandboxSpec()


class SandboxPool:
    """Sandboxes started once per session, one per spec (``get``); ``started`` counts them."""

    def __init__(self) -> None:
        self._servers: dict[SandboxSpec, SandboxServer] = {}
        self.started = 0

    def get(self, spec: SandboxSpec = DEFAULT) -> SandboxServer:
        """The shared sandbox of ``spec`` (``spec.private`` is refused: use :meth:`own`)."""
        if spec.private:
            raise ValueError("a private sandbox is not shared: use SandboxPool.own")
        sb = self._servers.get(spec)
        if sb is None:
            sb = self._servers[spec] = spec.server().start()
            self.started += 1
        return sb

    @contextmanager
    def own(self, spec: SandboxSpec) -> Iterator[SandboxServer]:
        """A sandbox of ``spec`` for the caller alone, stopped on exit."""
        with spec.server() as sb:
            self.started += 1
            yield sb

    def close(self) -> None:
        for sb in self._servers.values():
            sb.stop()
        self._servers.clear()


def make_client(sb: SandboxServer, **kw: Any) -> DingTalkClient:
    """A client for ``sb`` (both hosts) without a rate limit and with quick backoff; any
    ``DingTalkClient`` keyword overrides those defaults."""
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
        login_url=sb.base_url,
        **kw,
    )


def mutate(sb: SandboxServer, path: str, **body: Any) -> dict[str, Any]:
    """``POST /sandbox/mutate/<path>`` with ``body`` as JSON; asserts a 200 and returns the
    answer (e.g. ``mutate(sb, "contacts/leave", userid=u)``)."""
    import httpx

    resp = httpx.post(f"{sb.base_url}/sandbox/mutate/{path}", json=body, timeout=30)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data
