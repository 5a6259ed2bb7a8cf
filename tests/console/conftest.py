"""Console fixtures: a sandbox company with history synced (every area) into SQLite once per
session, the web service in front of it over loopback HTTP, and Debian's Chromium driven by
Playwright (``executable_path`` :data:`CHROMIUM`; it cannot download browsers here).

``console`` gives :class:`Console`: ``page_as(userid)`` opens a browser page already logged in
as that person (the session comes from the real login, ``POST /api/auth/dingtalk`` with a
sandbox authCode, and is put in the console's cookie), the people of each role, and
``shot(page, name)`` writing a screenshot under :data:`ARTIFACTS`.

Playwright's sync API runs an event loop in the test thread while it is open, so the browser is
scoped to one test module (``console``), and a console test module must not call
``asyncio.run`` or hold ``async def`` tests while it is open: do async set-up (syncs) in
session fixtures requested before ``console`` (like :func:`console_sandbox`).

The database is SQLite; ``DINGSYNC_TEST_CONSOLE_DB=postgres`` runs the same tests on
PostgreSQL (``DINGSYNC_TEST_POSTGRES_URL``).

Without Chromium the browser tests skip with the reason, except when ``CI=true`` (``.ci/run``
installs it): there a missing browser fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import db, repo_local_access
from dingsync.sync.engine import run_sync
from dingsync.sync.runner import make_entities
from dingsync.web import create_app
from dingsync.web.console.session import COOKIE
from dingsync.web.options import WebOptions
from dingsync.web.server import WebServer
from helpers.postgres import postgres_schema
from helpers.sandboxes import make_client
from helpers.web import _plain_user
from web.conftest import FakeClock, sandbox_settings

CHROMIUM = os.environ.get("DINGSYNC_TEST_CHROMIUM", "/usr/bin/chromium")
#: Screenshots of every page (test artifacts; not committed).
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"

#: The console's company: small enough to sync in seconds, with a month of history.
CONSOLE_SANDBOX = SandboxConfig(seed=11, users=60, days=31, qps_limit=None)


@dataclass
class Console:
    """The synced sandbox company served with its console, and a browser."""

    sb: SandboxServer
    engine: Engine
    server: WebServer
    clock: FakeClock
    browser: Any  # playwright.sync_api.Browser
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.base_url

    @property
    def corp_id(self) -> str:
        return self.sb.app.corp_id

    # -- people of each role ---------------------------------------------------------------
    @property
    def company(self) -> Any:
        return self.sb.state.company

    @property
    def main_admin(self) -> str:
        return str(self.company.main_admin_userid)

    @property
    def sub_admin(self) -> str:
        return str(self.company.sub_admin_userids[0])

    @property
    def employee(self) -> str:
        return _plain_user(self.company, 0)

    @property
    def other_employee(self) -> str:
        return _plain_user(self.company, 1)

    @property
    def leader(self) -> str:
        """A department head who is no administrator and not the boss."""
        for u in sorted(self.company.users.values(), key=lambda u: u.userid):
            if (
                u.active
                and any(m.leader for m in u.memberships)
                and u.userid not in self.company.admins
                and u.userid != self.company.boss_userid
            ):
                return str(u.userid)
        raise AssertionError("the sandbox company has no plain department head")

    @property
    def hr(self) -> str:
        """A plain employee granted the local ``hr`` role (granted once)."""
        userid = _plain_user(self.company, 2)
        with self.engine.begin() as conn:
            repo_local_access.grant_role(conn, self.corp_id, userid, "hr")
        return userid

    # -- sessions ---------------------------------------------------------------------------
    def authcode(self, userid: str) -> str:
        """A login code minted by the sandbox, as ``dd.getAuthCode`` would give it."""
        r = httpx.post(f"{self.sb.base_url}/sandbox/authcode", json={"userid": userid})
        r.raise_for_status()
        return str(r.json()["code"])

    def api_token(self, userid: str) -> str:
        """A live API session token for ``userid`` (a real login; reused while it works)."""
        token = self._tokens.get(userid)
        if token is not None:
            r = httpx.get(f"{self.url}/api/me", headers={"Authorization": f"Bearer {token}"})
            if r.status_code == 200:
                return token
        r = httpx.post(
            f"{self.url}/api/auth/dingtalk", json={"authCode": self.authcode(userid)}, timeout=30
        )
        assert r.status_code == 200, r.text
        token = self._tokens[userid] = str(r.json()["session"]["token"])
        return token

    def api(self, userid: str, path: str, **params: Any) -> Any:
        """``GET path`` of the JSON API as ``userid`` (asserts 200)."""
        r = httpx.get(
            f"{self.url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.api_token(userid)}"},
            timeout=60,
        )
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    def page_as(self, userid: str, *, width: int = 1280, height: int = 900) -> Any:
        """A new browser page (own context) logged in as ``userid`` through the cookie."""
        context = self.browser.new_context(viewport={"width": width, "height": height})
        host = httpx.URL(self.url).host
        context.add_cookies(
            [{"name": COOKIE, "value": self.api_token(userid), "domain": host, "path": "/"}]
        )
        return context.new_page()

    def anonymous_page(self, *, width: int = 1280, height: int = 900) -> Any:
        """A new browser page with no session."""
        return self.browser.new_context(viewport={"width": width, "height": height}).new_page()

    def shot(self, page: Any, name: str) -> Path:
        """Save a full-page screenshot of ``page`` as ``ARTIFACTS/<name>.png``."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


def _chromium_or_skip() -> str:
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return CHROMIUM
    reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@contextlib.contextmanager
def synced_company(
    config: SandboxConfig, *, postgres: bool, sqlite_path: Path
) -> Iterator[tuple[SandboxServer, Engine]]:
    """A sandbox company of ``config`` served over loopback HTTP and synced (every area) into
    a fresh PostgreSQL schema (``postgres``) or the SQLite file ``sqlite_path``; the engine
    is disposed and the sandbox stopped on exit."""
    with contextlib.ExitStack() as stack:
        sb = stack.enter_context(SandboxServer(config))
        url = stack.enter_context(postgres_schema()) if postgres else f"sqlite:///{sqlite_path}"
        engine = db.create_engine_for(url)
        db.migrate(engine)

        async def sync() -> None:
            async with make_client(sb) as client:
                result = await run_sync(client, engine, sb.app.corp_id, make_entities())
                assert result.status == "succeeded", result

        asyncio.run(sync())
        try:
            yield sb, engine
        finally:
            engine.dispose()


@contextlib.contextmanager
def console_over(sb: SandboxServer, engine: Engine) -> Iterator[Console]:
    """The web service (console included) over ``engine``'s synced company, served over
    loopback HTTP with a :class:`FakeClock`, and a headless Chromium; skips (or, on CI, fails)
    without Chromium."""
    executable = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    clock = FakeClock()
    app = create_app(
        sandbox_settings(sb, str(engine.url)), engine=engine, options=WebOptions(), clock=clock
    )
    with WebServer(app) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield Console(sb, engine, server, clock, browser)
        finally:
            browser.close()


@pytest.fixture(scope="session")
def console_sandbox(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SandboxServer, Engine]]:
    """The console's sandbox company, synced (every area) into a SQLite database — or, with
    ``DINGSYNC_TEST_CONSOLE_DB=postgres``, a fresh schema of the test PostgreSQL."""
    with synced_company(
        CONSOLE_SANDBOX,
        postgres=os.environ.get("DINGSYNC_TEST_CONSOLE_DB") == "postgres",
        sqlite_path=tmp_path_factory.mktemp("console") / "c.db",
    ) as company:
        yield company


@pytest.fixture(scope="module")
def console(console_sandbox: tuple[SandboxServer, Engine]) -> Iterator[Console]:
    """The console over the synced company, and a headless Chromium."""
    with console_over(*console_sandbox) as console:
        yield console
