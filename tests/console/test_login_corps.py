"""The console's browser login with several companies (two internal apps, ``[[apps]]``, each
its own sandbox company and DingTalk login host): the login page offers a company picker, the
browser login goes to the chosen company's app (``client_id``, ``corpId`` preselected), and the
person who signs in there sees only that company's data. Real Chromium against loopback HTTP;
SQLite (``DINGSYNC_TEST_CONSOLE_DB=postgres``: PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from console.conftest import _chromium_or_skip
from dingsync.config import AppConfig, Settings
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import db
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import run_sync
from dingsync.web import create_app
from dingsync.web.options import WebOptions
from dingsync.web.server import WebServer
from helpers.postgres import postgres_schema
from helpers.sandboxes import make_client


def _app(sb: SandboxServer, name: str) -> AppConfig:
    return AppConfig(
        app_key=sb.app.app_key,
        app_secret=SecretStr(sb.app.app_secret),
        corp_id=sb.app.corp_id,
        agent_id=str(sb.app.agent_id),
        name=name,
        oapi_url=sb.base_url,
        api_url=sb.base_url,
        login_url=sb.base_url,
    )


@pytest.fixture(scope="module")
def companies(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SandboxServer, SandboxServer, Engine, Settings]]:
    with contextlib.ExitStack() as stack:
        a = stack.enter_context(
            SandboxServer(SandboxConfig(seed=71, users=20, days=1, corp_id="dingcorpa"))
        )
        b = stack.enter_context(
            SandboxServer(SandboxConfig(seed=72, users=26, days=1, corp_id="dingcorpb"))
        )
        if os.environ.get("DINGSYNC_TEST_CONSOLE_DB") == "postgres":
            url = stack.enter_context(postgres_schema())
        else:
            url = f"sqlite:///{tmp_path_factory.mktemp('corps-console') / 'c.db'}"
        engine = db.create_engine_for(url)
        db.migrate(engine)
        settings = Settings(
            DINGSYNC_DATABASE_URL=url,
            DINGSYNC_APPS=[_app(a, "甲公司"), _app(b, "乙公司")],
            DINGSYNC_QPS_PER_API=0,
        )

        async def sync() -> None:
            for sb in (a, b):
                async with make_client(sb) as client:
                    result = await run_sync(client, engine, sb.app.corp_id, [ContactsSync()])
                    assert result.status == "succeeded", result

        asyncio.run(sync())
        yield a, b, engine, settings
        engine.dispose()


def _names(sb: SandboxServer) -> set[str]:
    return {u.name for u in sb.state.company.users.values() if u.active and u.name}


def test_a_person_logs_into_company_b_and_sees_only_b(
    companies: tuple[SandboxServer, SandboxServer, Engine, Settings],
) -> None:
    executable = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    a, b, engine, settings = companies
    admin = str(b.state.company.main_admin_userid)
    only_a = sorted(_names(a) - _names(b))
    only_b = sorted(_names(b) - _names(a))
    assert only_a and only_b
    app = create_app(settings, engine=engine, options=WebOptions())
    with WebServer(app) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page: Any = browser.new_context().new_page()
            page.goto(f"{server.base_url}/console/login?next=/console/directory")
            # two companies: the page asks which one first
            picker = page.locator("[data-testid=login-companies]")
            a_name, b_name = a.state.company.corp_name, b.state.company.corp_name
            assert a_name in picker.inner_text() and b_name in picker.inner_text()
            assert page.locator("[data-testid=login-dingtalk]").count() == 0
            page.click(f"[data-testid=corp-{b.app.corp_id}]")
            assert b_name in page.locator("h1").inner_text()
            page.click("[data-testid=login-dingtalk]")
            # company B's DingTalk login page, with B's app and corpId preselected
            assert page.url.startswith(f"{b.base_url}/oauth2/auth?")
            query = parse_qs(urlsplit(page.url).query)
            assert query["client_id"] == [b.app.app_key]
            assert query["corpId"] == [b.app.corp_id]
            assert query["scope"] == ["openid corpid"]
            page.wait_for_selector("[data-testid=sandbox-authorize]")
            page.fill("input[name=q]", admin)
            page.press("input[name=q]", "Enter")
            page.click(f"button[data-userid='{admin}']")
            page.wait_for_url(f"{server.base_url}/console/directory")
            text = page.locator("body").inner_text()
            assert b_name in page.locator(".brand").inner_text()
            total = int(page.locator("[data-testid=people-total]").inner_text())
            assert total == len(b.state.company.users) != len(a.state.company.users)
            assert not any(name in text for name in only_a)
            # searching B's directory for a person of A finds nobody; one of B is found
            page.goto(f"{server.base_url}/console/directory?search={quote(only_a[0])}")
            assert page.locator("[data-testid=people-total]").inner_text() == "0"
            page.goto(f"{server.base_url}/console/directory?search={quote(only_b[0])}")
            assert int(page.locator("[data-testid=people-total]").inner_text()) >= 1
            page.context.close()
        finally:
            browser.close()
