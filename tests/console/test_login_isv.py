"""The console's browser login for third-party (ISV) companies: a sandbox suite with three
companies authorised over Stream (the ``corps`` registry, ``mode='isv'``), each synced. The
browser login of a company goes to DingTalk's login page with the **suite key** as
``client_id`` and the company's ``corpId``; the sandbox routes the page, the code exchange
(``userAccessToken`` with the suite key and secret) and ``users/me`` to that company, and the
person who signs in sees only that company's data. A company that relieved the suite is refused
by the console (``corp.inactive``) and by DingTalk's side (the login page, the exchange of a
code it minted before, the user token it issued). Real Chromium against loopback HTTP; SQLite
(``DINGSYNC_TEST_CONSOLE_DB=postgres``: PostgreSQL)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import Engine

from console.conftest import _chromium_or_skip
from dingsync.sandbox.isv import IsvConfig, IsvSandboxServer
from dingsync.store import db
from dingsync.sync.isv import IsvSettings
from dingsync.web import create_app
from dingsync.web.options import WebOptions
from dingsync.web.server import WebServer
from helpers.postgres import postgres_schema
from web.test_corps_isv import isv_settings, mutate, registry, sync, until

REDIRECT = "https://app.example.com/cb"


@dataclass
class Suite:
    sb: IsvSandboxServer
    engine: Engine
    settings: IsvSettings
    a: str  # corp ids: two authorising companies and one that relieved the suite
    b: str
    gone: str
    gone_code: str  # an authCode of ``gone`` minted while it still authorised the suite
    gone_user_token: str  # a user token of ``gone`` issued while it still authorised the suite


def _authorize(sb: IsvSandboxServer, corp_id: str | None, **extra: str) -> httpx.Response:
    query = {
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "client_id": sb.suite_key,
        "scope": "openid corpid",
        "state": "s1",
        "prompt": "consent",
        **({"corpId": corp_id} if corp_id else {}),
        **extra,
    }
    return httpx.get(f"{sb.base_url}/oauth2/auth?{urlencode(query)}", follow_redirects=False)


def _code_for(sb: IsvSandboxServer, corp_id: str, userid: str) -> str:
    """An ``authCode`` of ``userid`` through company ``corp_id``'s login page (the suite key)."""
    r = httpx.post(f"{sb.corp_url(corp_id)}/oauth/logincode", json={"userid": userid})
    assert r.status_code == 200, r.text
    r = _authorize(sb, corp_id, sandbox_login_code=r.json()["login_code"])
    assert r.status_code == 302, r.text
    return parse_qs(urlsplit(r.headers["location"]).query)["authCode"][0]


def _exchange(sb: IsvSandboxServer, code: str, secret: str | None = None) -> httpx.Response:
    return httpx.post(
        f"{sb.base_url}/v1.0/oauth2/userAccessToken",
        json={
            "clientId": sb.suite_key,
            "clientSecret": secret or sb.suite_secret,
            "code": code,
            "grantType": "authorization_code",
        },
    )


def _me(sb: IsvSandboxServer, user_token: str) -> httpx.Response:
    return httpx.get(
        f"{sb.base_url}/v1.0/contact/users/me",
        headers={"x-acs-dingtalk-access-token": user_token},
    )


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    from dingsync.commands.isv_demo import SuiteReceiver

    cfg = IsvConfig(seed=41, corps=[(941, 16), (942, 24), (943, 12)], days=1)
    with contextlib.ExitStack() as stack:
        sb = stack.enter_context(IsvSandboxServer(cfg))
        if os.environ.get("DINGSYNC_TEST_CONSOLE_DB") == "postgres":
            url = stack.enter_context(postgres_schema())
        else:
            url = f"sqlite:///{tmp_path_factory.mktemp('isv-console') / 'c.db'}"
        engine = db.create_engine_for(url)
        stack.callback(engine.dispose)
        db.migrate(engine)
        settings = isv_settings(sb, url)
        a, b, gone = sorted(sb.corps)
        receiver = SuiteReceiver(settings, engine, sb.base_url).start()
        try:
            until(lambda: {r["status"] for r in registry(engine).values()} == {"active"}
                  and len(registry(engine)) == 3)  # fmt: skip
            for corp_id in (a, b, gone):
                assert sync(engine, settings, corp_id).status == "succeeded"
            # the company that will relieve the suite: a code and a user token from before
            admin = str(sb.corps[gone].state.company.main_admin_userid)
            token = _exchange(sb, _code_for(sb, gone, admin))
            assert token.status_code == 200, token.text
            code = _code_for(sb, gone, admin)
            mutate(sb, "relieve", corp_id=gone)
            until(lambda: registry(engine)[gone]["status"] == "relieved")
        finally:
            receiver.stop()
        yield Suite(sb, engine, settings, a, b, gone, code, token.json()["accessToken"])


def _names(sb: IsvSandboxServer, corp_id: str) -> set[str]:
    company = sb.corps[corp_id].state.company
    return {u.name for u in company.users.values() if u.active and u.name}


def test_sandbox_routes_the_suites_browser_login_to_the_chosen_company(suite: Suite) -> None:
    sb = suite.sb
    # the login page of company B (the suite key as client_id, corpId preselected)
    page = _authorize(sb, suite.b)
    assert page.status_code == 200
    assert sb.corps[suite.b].state.company.corp_name in page.text
    # no corpId: the organisations that authorise the suite to choose from (not the relieved)
    orgs = _authorize(sb, None)
    assert orgs.status_code == 200 and 'data-testid="sandbox-orgs"' in orgs.text
    assert f'data-corpid="{suite.a}"' in orgs.text and f'data-corpid="{suite.b}"' in orgs.text
    assert f'data-corpid="{suite.gone}"' not in orgs.text
    # an unknown company: an error page, no redirect
    assert _authorize(sb, "dingnosuchcorp").status_code == 400

    # the code of B exchanged with the suite's key and secret: a user token of B's person
    b_admin = str(sb.corps[suite.b].state.company.main_admin_userid)
    code = _code_for(sb, suite.b, b_admin)
    assert _exchange(sb, code, secret="wrong").status_code == 400  # invalidClientIdOrSecret
    r = _exchange(sb, code)
    assert r.status_code == 200, r.text
    assert r.json()["corpId"] == suite.b
    me = _me(sb, r.json()["accessToken"])
    assert me.status_code == 200, me.text
    union = sb.corps[suite.b].state.account_unionid(b_admin)
    assert me.json()["unionId"] == union
    assert _exchange(sb, code).status_code == 400  # single use

    # the relieved company: its login page, a code it minted before and its user token refused
    refused = _authorize(sb, suite.gone)
    assert refused.status_code == 400 and "未授权" in refused.text
    assert _exchange(sb, suite.gone_code).status_code == 400
    assert _me(sb, suite.gone_user_token).status_code != 200


def test_a_person_of_isv_company_b_logs_in_through_the_browser_and_sees_only_b(
    suite: Suite,
) -> None:
    executable = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    sb, a, b = suite.sb, suite.a, suite.b
    company_b = sb.corps[b].state.company
    admin = str(company_b.main_admin_userid)
    only_a = sorted(_names(sb, a) - _names(sb, b))
    only_b = sorted(_names(sb, b) - _names(sb, a))
    assert only_a and only_b
    app = create_app(suite.settings, engine=suite.engine, options=WebOptions())
    with WebServer(app) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page: Any = browser.new_context().new_page()
            page.goto(f"{server.base_url}/console/login?next=/console/directory")
            # the active companies to choose from; the relieved one is not offered
            picker = page.locator("[data-testid=login-companies]")
            assert company_b.corp_name in picker.inner_text()
            assert sb.corps[suite.gone].state.company.corp_name not in picker.inner_text()
            page.click(f"[data-testid=corp-{b}]")
            page.click("[data-testid=login-dingtalk]")
            # DingTalk's login page with the suite's key and company B preselected
            assert page.url.startswith(f"{sb.base_url}/oauth2/auth?")
            query = parse_qs(urlsplit(page.url).query)
            assert query["client_id"] == [sb.suite_key]
            assert query["corpId"] == [b]
            assert query["scope"] == ["openid corpid"]
            page.wait_for_selector("[data-testid=sandbox-authorize]")
            assert company_b.corp_name in page.locator("h1").inner_text()
            page.fill("input[name=q]", admin)
            page.press("input[name=q]", "Enter")
            page.click(f"button[data-userid='{admin}']")
            page.wait_for_url(f"{server.base_url}/console/directory")
            assert company_b.corp_name in page.locator(".brand").inner_text()
            total = int(page.locator("[data-testid=people-total]").inner_text())
            assert total == len(company_b.users)
            text = page.locator("body").inner_text()
            assert not any(name in text for name in only_a)
            page.goto(f"{server.base_url}/console/directory?search={quote(only_a[0])}")
            assert page.locator("[data-testid=people-total]").inner_text() == "0"
            page.goto(f"{server.base_url}/console/directory?search={quote(only_b[0])}")
            assert int(page.locator("[data-testid=people-total]").inner_text()) >= 1
            page.context.close()

            # the relieved company's browser login is refused before DingTalk is asked
            page = browser.new_context().new_page()
            response = page.goto(
                f"{server.base_url}/console/login/dingtalk?corpId={suite.gone}&next=/console"
            )
            assert response.status == 403
            error = page.locator("[data-testid=login-error]")
            assert error.get_attribute("data-error-code") == "corp.inactive"
            assert page.url.startswith(server.base_url)
            # the login page asked for the relieved (or an unknown) company says so in Chinese
            # and offers the active companies instead, with no login button for it
            gone_name = sb.corps[suite.gone].state.company.corp_name
            for corp_id, code in (
                (suite.gone, "corp.inactive"),
                ("dingnosuchcorp", "corp.unknown"),
            ):
                page.goto(f"{server.base_url}/console/login?corpId={corp_id}")
                error = page.locator("[data-testid=login-error]")
                assert error.get_attribute("data-error-code") == code
                assert "企业" in error.inner_text()
                # it names the company refused (not to be read as the one the page offers)
                named = gone_name if code == "corp.inactive" else corp_id
                assert named in error.inner_text(), error.inner_text()
                picker = page.locator("[data-testid=login-companies]")
                assert company_b.corp_name in picker.inner_text()
                assert gone_name not in picker.inner_text()
                assert page.locator("[data-testid=login-dingtalk]").count() == 0
            page.context.close()
        finally:
            browser.close()
