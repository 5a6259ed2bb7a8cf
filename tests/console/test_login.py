"""How people log in to the console, end to end in Chromium against the sandbox: DingTalk's web
login (the sandbox's authorize page) and the micro-app's 免登 (the sandbox's DingTalk client
emulator standing in for DingTalk's JSAPI), as every kind of person; refusals (disabled, left,
state mismatch, reused code); ``next``; logout; the demo logins."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from dingsync.config import Settings
from dingsync.store import repo_local_access
from dingsync.web import create_app
from dingsync.web.console.nav import NAV, visible_nav
from dingsync.web.console.pages.login import STATE_COOKIE, safe_next
from dingsync.web.console.session import COOKIE
from dingsync.web.options import DemoLogin, DemoLogins, WebOptions
from dingsync.web.server import WebServer

from .conftest import Console

ROLES = ("employee", "leader", "sub_admin", "main_admin", "hr")
ADMIN_ONLY = {"overview", "exports", "settings"}


def _userid(console: Console, role: str) -> str:
    return str(getattr(console, role))


def _expected_menu(console: Console, userid: str) -> list[str]:
    with console.engine.connect() as conn:
        viewer = console.server.app.state.web.viewer(conn, userid)
    return [item.key for item in visible_nav(viewer)]


def _first_page(menu: list[str]) -> str:
    return "/console/overview" if "overview" in menu else "/console/me"


def _menu_on_me(console: Console, page: Any) -> list[str]:
    page.goto(f"{console.url}/console/me")
    assert page.url.endswith("/console/me")
    return list(page.locator("nav [data-nav]").evaluate_all("els => els.map(e => e.dataset.nav)"))


def _session_cookie(page: Any) -> str | None:
    return next((c["value"] for c in page.context.cookies() if c["name"] == COOKIE), None)


def _sign_in_on_dingtalk(page: Any, userid: str) -> None:
    """On the sandbox's DingTalk login page: search the person and pick them."""
    page.wait_for_selector("[data-testid=sandbox-authorize]")
    page.fill("input[name=q]", userid)
    page.press("input[name=q]", "Enter")
    page.click(f"button[data-userid='{userid}']")


def _jsapi_is_the_emulator(console: Console, page: Any) -> None:
    """Inside "DingTalk": the page's JSAPI is the sandbox's client emulator (DingTalk's
    container would answer the vendored JSAPI's bridge calls; here the emulator does)."""
    script = httpx.get(f"{console.sb.base_url}/sandbox/dd.js").text
    page.route(
        "**/console-static/dingtalk-jsapi.min.js",
        lambda route: route.fulfill(status=200, content_type="application/javascript", body=script),
    )


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------
def test_the_login_page_in_an_ordinary_browser(console: Console) -> None:
    page = console.anonymous_page()
    page.goto(f"{console.url}/console/login")
    button = page.locator("[data-testid=login-dingtalk]")
    assert button.is_visible() and button.inner_text().strip().endswith("钉钉扫码登录")
    # DingTalk's own JSAPI (vendored) loaded and says this is no DingTalk client.
    assert page.evaluate("window.dd && dd.env.platform") == "notInDingTalk"
    assert page.locator("[data-testid=login-dd]").is_hidden()
    assert page.locator("[data-testid=demo-logins]").count() == 0  # not the demo
    console.shot(page, "login-desktop")
    page.context.close()
    phone = console.anonymous_page(width=390, height=844)
    phone.goto(f"{console.url}/console/login?reason=session.expired")
    assert phone.locator("[data-testid=login-notice]").inner_text() == "登录已过期，请重新登录。"
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width  # no sideways scrolling on a phone
    console.shot(phone, "login-phone")
    phone.context.close()
    # no demo logins outside the demo
    r = httpx.get(f"{console.url}/console/login/demo/hr", follow_redirects=False)
    assert r.status_code == 404


# --------------------------------------------------------------------------------------------
# Logging in, each kind of person, both ways
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLES)
def test_browser_login_through_dingtalks_login_page(console: Console, role: str) -> None:
    userid = _userid(console, role)
    page = console.anonymous_page()
    page.goto(f"{console.url}/console/login")
    page.click("[data-testid=login-dingtalk]")
    assert page.url.startswith(f"{console.sb.base_url}/oauth2/auth?")
    query = parse_qs(urlsplit(page.url).query)
    assert query["client_id"] == [console.sb.app.app_key]
    assert query["redirect_uri"] == [f"{console.url}/console/login/callback"]
    assert query["response_type"] == ["code"] and query["prompt"] == ["consent"]
    if role == "employee":
        console.shot(page, "login-sandbox-authorize")
    _sign_in_on_dingtalk(page, userid)
    menu = _expected_menu(console, userid)
    page.wait_for_url(f"{console.url}{_first_page(menu)}")
    cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["expires"] > 0
    assert not [c for c in page.context.cookies() if c["name"] == STATE_COOKIE]
    assert _menu_on_me(console, page) == menu
    if role == "main_admin":
        assert ADMIN_ONLY <= set(menu)
    elif role == "hr":
        assert "overview" in menu and not {"exports", "settings"} & set(menu)
    else:
        assert not ADMIN_ONLY & set(menu)
    # the cookie's session is the API's session
    me = httpx.get(f"{console.url}/api/me", headers={"Authorization": f"Bearer {cookie['value']}"})
    assert me.status_code == 200 and me.json()["userid"] == userid
    page.context.close()


@pytest.mark.parametrize("role", ROLES)
def test_micro_app_login_inside_dingtalk(console: Console, role: str) -> None:
    userid = _userid(console, role)
    page = console.anonymous_page(width=390, height=844)
    _jsapi_is_the_emulator(console, page)
    page.goto(f"{console.url}/console/login?dd_user={userid}")
    menu = _expected_menu(console, userid)
    page.wait_for_url(f"{console.url}{_first_page(menu)}")
    log = json.loads(page.evaluate("sessionStorage.getItem('dd_emulator_log')") or "[]")
    # the code came from dd's requestAuthCode, then dd.config was signed and verified by the
    # sandbox as DingTalk's container would
    assert [e["api"] for e in log] == ["requestAuthCode", "config"], log
    assert log[0]["ok"] and log[0]["userid"] == userid
    assert log[1]["ok"] and log[1]["algorithm"] == "sha256", log
    assert _session_cookie(page)
    assert _menu_on_me(console, page) == menu
    if role == "employee":
        console.shot(page, "me-after-micro-app-login-phone")
    page.context.close()


def _api_me(console: Console, token: str) -> httpx.Response:
    return httpx.get(f"{console.url}/api/me", headers={"Authorization": f"Bearer {token}"})


def _emulator_log(page: Any) -> list[dict[str, Any]]:
    return list(json.loads(page.evaluate("sessionStorage.getItem('dd_emulator_log')") or "[]"))


def test_micro_app_on_a_shared_device_switches_to_the_person_dingtalk_names(
    console: Console,
) -> None:
    """A's live cookie, B opens the micro-app: the page asks DingTalk who is here with a fresh
    authCode and switches to B's own session; A's session is revoked."""
    a, b = console.employee, console.other_employee
    page = console.page_as(a, width=390, height=844)
    old = _session_cookie(page)
    assert old and _api_me(console, old).json()["userid"] == a
    _jsapi_is_the_emulator(console, page)
    page.goto(f"{console.url}/console/me?dd_user={b}")
    page.wait_for_function("document.cookie !== null && location.pathname === '/console/me'")
    page.wait_for_function(
        "sessionStorage.getItem('dingsync_identity') === " + json.dumps(b), timeout=15000
    )
    page.wait_for_load_state("load")
    new = _session_cookie(page)
    assert new and new != old
    assert _api_me(console, new).json()["userid"] == b
    assert _api_me(console, old).status_code == 401  # A's session ended on this device
    who = page.locator("[data-testid=who]").inner_text()
    assert who == console.company.users[b].name
    log = _emulator_log(page)
    assert [e["userid"] for e in log if e["api"] == "requestAuthCode"] == [b], log
    assert page.locator("[data-testid=identity-check]").is_hidden()
    console.shot(page, "me-after-shared-device-switch-phone")
    page.context.close()


def test_micro_app_with_the_same_person_keeps_the_session_and_checks_once_per_tab(
    console: Console,
) -> None:
    a = console.employee
    page = console.page_as(a, width=390, height=844)
    old = _session_cookie(page)
    _jsapi_is_the_emulator(console, page)
    page.goto(f"{console.url}/console/me?dd_user={a}")
    page.wait_for_function(
        "sessionStorage.getItem('dingsync_identity') === " + json.dumps(a), timeout=15000
    )
    assert page.locator("[data-testid=identity-check]").is_hidden()
    assert page.url.endswith("/console/me?dd_user=" + a)
    assert _session_cookie(page) == old and old is not None
    assert _api_me(console, old).json()["userid"] == a
    page.goto(f"{console.url}/console/directory")
    page.wait_for_load_state("load")
    page.goto(f"{console.url}/console/me")
    page.wait_for_load_state("load")
    assert [e["api"] for e in _emulator_log(page)] == ["requestAuthCode"]
    assert _session_cookie(page) == old
    page.context.close()


def test_micro_app_recheck_with_a_refused_person_ends_the_session(console: Console) -> None:
    a = console.employee
    disabled = _disabled(console)
    try:
        page = console.page_as(a, width=390, height=844)
        old = _session_cookie(page)
        assert old is not None
        _jsapi_is_the_emulator(console, page)
        page.goto(f"{console.url}/console/me?dd_user={disabled}")
        page.wait_for_url("**/console/login?error=auth.user_disabled")
        error = page.locator("[data-testid=login-error]")
        assert error.get_attribute("data-error-code") == "auth.user_disabled"
        assert _session_cookie(page) is None
        assert _api_me(console, old).status_code == 401
        page.context.close()
    finally:
        with console.engine.begin() as conn:
            repo_local_access.set_local_disabled(conn, console.corp_id, disabled, False)


def test_recheck_needs_the_csrf_token_and_json(console: Console) -> None:
    token = console.api_token(console.employee)
    cookies = {COOKIE: token}
    body = {"authCode": console.authcode(console.other_employee)}
    r = httpx.post(f"{console.url}/console/login/recheck", json=body, cookies=cookies)
    assert r.status_code == 403 and "csrf.invalid" in r.text
    assert _api_me(console, token).json()["userid"] == console.employee


# --------------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------------
def test_a_locally_disabled_account_is_refused_both_ways(console: Console) -> None:
    userid = _disabled(console)
    try:
        page = console.anonymous_page()
        page.goto(f"{console.url}/console/login")
        page.click("[data-testid=login-dingtalk]")
        _sign_in_on_dingtalk(page, userid)
        page.wait_for_selector("[data-testid=login-error]")
        error = page.locator("[data-testid=login-error]")
        assert error.get_attribute("data-error-code") == "auth.user_disabled"
        assert "停用" in error.inner_text()
        # the failed login's code is gone from the address bar; the page keeps the error
        page.wait_for_url(f"{console.url}/console/login?error=auth.user_disabled")
        assert "authCode" not in page.url and "state=" not in page.url
        page.reload()
        assert error.get_attribute("data-error-code") == "auth.user_disabled"
        assert _session_cookie(page) is None
        console.shot(page, "login-refused-disabled")
        page.context.close()

        page = console.anonymous_page(width=390, height=844)
        _jsapi_is_the_emulator(console, page)
        page.goto(f"{console.url}/console/login?dd_user={userid}")
        box = page.locator("[data-testid=login-error-dd]")
        box.wait_for(state="visible")
        assert box.get_attribute("data-error-code") == "auth.user_disabled"
        assert _session_cookie(page) is None
        page.context.close()
    finally:
        with console.engine.begin() as conn:
            repo_local_access.set_local_disabled(conn, console.corp_id, userid, False)


def _disabled(console: Console) -> str:
    from helpers.web import _plain_user

    userid = _plain_user(console.company, 7)
    with console.engine.begin() as conn:
        repo_local_access.set_local_disabled(conn, console.corp_id, userid, True)
    return userid


def test_a_person_who_left_is_refused(console: Console) -> None:
    leaver = sorted(console.company.leavers)[0]
    page = console.anonymous_page()
    page.goto(f"{console.url}/console/login")
    page.click("[data-testid=login-dingtalk]")
    _sign_in_on_dingtalk(page, leaver)
    page.wait_for_selector("[data-testid=login-error]")
    assert (
        page.locator("[data-testid=login-error]").get_attribute("data-error-code")
        == "auth.user_not_found"
    )
    assert _session_cookie(page) is None
    page.context.close()


def _start(client: httpx.Client, console: Console, next_url: str | None = None) -> str:
    """Start a browser login with ``client`` (its cookie jar keeps the state cookie) and
    return the sandbox authorize URL."""
    params = {"next": next_url} if next_url else {}
    r = client.get(f"{console.url}/console/login/dingtalk", params=params)
    assert r.status_code == 303, r.text
    assert client.cookies.get(STATE_COOKIE)
    return str(r.headers["location"])


def _callback_for(console: Console, authorize_url: str, userid: str) -> str:
    """What the sandbox's login page redirects to once ``userid`` signed in."""
    code = httpx.post(
        f"{console.sb.base_url}/sandbox/oauth/logincode", json={"userid": userid}
    ).json()["login_code"]
    r = httpx.get(authorize_url + f"&sandbox_login_code={code}")
    assert r.status_code == 302, r.text
    return str(r.headers["location"])


def test_a_state_that_does_not_match_this_browser_is_refused(console: Console) -> None:
    userid = console.employee
    with httpx.Client() as victim, httpx.Client() as attacker:
        callback = _callback_for(console, _start(attacker, console), userid)
        _start(victim, console)
        # the attacker's callback (code and state) opened in the victim's browser
        r = victim.get(callback)
        assert r.status_code == 400 and 'data-error-code="login.state_invalid"' in r.text
        assert COOKIE not in r.cookies
        # no state cookie at all
        r = httpx.get(callback)
        assert r.status_code == 400 and "login.state_invalid" in r.text
        # a tampered state
        tampered = callback.replace("state=", "state=x")
        r = attacker.get(tampered)
        assert r.status_code == 400 and COOKIE not in r.cookies
        # the state cookie is single use: it was cleared by the failed attempt
        assert not attacker.cookies.get(STATE_COOKIE)

    with httpx.Client() as slow:
        callback = _callback_for(console, _start(slow, console), userid)
        console.clock.advance(601)
        try:
            r = slow.get(callback)
        finally:
            console.clock.advance(-601)
        assert r.status_code == 400 and "login.state_invalid" in r.text

    # DingTalk's page reporting a cancel
    with httpx.Client() as cancelled:
        authorize = _start(cancelled, console)
        state = parse_qs(urlsplit(authorize).query)["state"][0]
        r = cancelled.get(
            f"{console.url}/console/login/callback",
            params={"error": "access_denied", "state": state},
        )
        assert r.status_code == 401 and 'data-error-code="login.cancelled"' in r.text


def test_a_reused_oauth_code_is_refused(console: Console) -> None:
    userid = console.other_employee
    with httpx.Client() as browser:
        callback = _callback_for(console, _start(browser, console), userid)
        first = browser.get(callback)
        assert first.status_code == 303 and first.cookies.get(COOKIE)
        # the same code again, with a fresh state of this browser
        authorize = _start(browser, console)
        state = parse_qs(urlsplit(authorize).query)["state"][0]
        code = parse_qs(urlsplit(callback).query)["authCode"][0]
        again = browser.get(
            f"{console.url}/console/login/callback", params={"authCode": code, "state": state}
        )
        assert again.status_code == 401 and 'data-error-code="auth.code_invalid"' in again.text
        assert COOKIE not in again.cookies


def test_next_is_honoured_and_an_off_site_next_is_ignored(console: Console) -> None:
    userid = console.employee
    page = console.anonymous_page()
    page.goto(f"{console.url}/console/me?tab=reports")
    assert "/console/login?" in page.url and "next=%2Fconsole%2Fme%3Ftab%3Dreports" in page.url
    page.click("[data-testid=login-dingtalk]")
    _sign_in_on_dingtalk(page, userid)
    page.wait_for_url(f"{console.url}/console/me?tab=reports")
    # logged in already: the login page goes straight on to next
    page.goto(f"{console.url}/console/login?next=/console/me")
    assert page.url == f"{console.url}/console/me"
    page.context.close()

    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "/api/me"):
        with httpx.Client() as browser:
            callback = _callback_for(console, _start(browser, console, evil), userid)
            r = browser.get(callback)
            assert r.status_code == 303 and r.headers["location"] == "/console", evil


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/console/reports?x=1", "/console/reports?x=1"),
        ("/console", "/console"),
        (None, "/console"),
        ("", "/console"),
        ("https://evil.example/console", "/console"),
        ("//evil.example/console", "/console"),
        ("/\\evil.example", "/console"),
        ("/consolex", "/console"),
        ("/console/../api/me", "/console"),
        ("/console/%2e%2e/api/me", "/console"),
        ("/console/login?next=/x", "/console"),
        ("javascript:alert(1)", "/console"),
        ("/console/me\r\nSet-Cookie: x=1", "/console"),
    ],
)
def test_safe_next(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


def test_the_authcode_endpoint_takes_only_json(console: Console) -> None:
    form = httpx.post(f"{console.url}/console/login/authcode", data={"authCode": "x"})
    assert form.status_code == 422 and form.json()["error"]["code"] == "request.invalid"
    bad = httpx.post(f"{console.url}/console/login/authcode", json={"authCode": "nope"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "auth.code_invalid"
    ok = httpx.post(
        f"{console.url}/console/login/authcode",
        json={"authCode": console.authcode(console.employee), "next": "https://evil.example"},
    )
    assert ok.status_code == 200 and ok.json()["next"] == "/console"
    assert ok.json()["jsapi"] is None and ok.cookies.get(COOKIE)


def test_logout_ends_a_session_opened_by_the_browser_login(console: Console) -> None:
    page = console.anonymous_page()
    page.goto(f"{console.url}/console/login?next=/console/me")
    page.click("[data-testid=login-dingtalk]")
    _sign_in_on_dingtalk(page, console.leader)
    page.wait_for_url(f"{console.url}/console/me")
    token = _session_cookie(page)
    page.click("[data-testid=logout]")
    page.wait_for_url("**/console/login?reason=logged_out")
    assert page.locator("[data-testid=login-notice]").inner_text() == "您已退出登录。"
    assert _session_cookie(page) is None
    r = httpx.get(f"{console.url}/api/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    page.context.close()


# --------------------------------------------------------------------------------------------
# The demo logins
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_console(console: Console) -> Iterator[str]:
    """The same company served as ``dingsync demo`` serves it: with one-click demo logins."""
    from web.conftest import sandbox_settings

    people = tuple(
        DemoLogin(
            role, label, _userid(console, role), console.company.users[_userid(console, role)].name
        )
        for role, label in (
            ("hr", "以 HR 身份登录"),
            ("employee", "以员工身份登录"),
            ("main_admin", "以主管理员身份登录"),
            ("leader", "以部门主管身份登录"),
            ("sub_admin", "以子管理员身份登录"),
        )
    )
    settings = sandbox_settings(console.sb, str(console.engine.url))
    app = create_app(
        settings,
        engine=console.engine,
        options=WebOptions(),
        clock=console.clock,
        demo_logins=DemoLogins(console.sb.base_url, people),
    )
    with WebServer(app) as server:
        yield server.base_url


@pytest.mark.parametrize("role", ["hr", "employee"])
def test_demo_logins_run_the_real_browser_login(
    console: Console, demo_console: str, role: str
) -> None:
    userid = _userid(console, role)
    page = console.anonymous_page()
    page.goto(f"{demo_console}/console/login")
    demo = page.locator("[data-testid=demo-logins]")
    assert demo.is_visible()
    assert len(demo.locator("a").all()) == 5
    # the demo page loads the sandbox's emulator, which says: not inside DingTalk
    assert page.evaluate("dd.env.platform") == "notInDingTalk"
    if role == "hr":
        console.shot(page, "login-demo")
    calls = console.sb.stats()["calls"].get("/v1.0/oauth2/userAccessToken", 0)
    page.click(f"[data-testid=demo-{role}]")
    menu = _expected_menu(console, userid)
    page.wait_for_url(f"{demo_console}{_first_page(menu)}")
    # through DingTalk's OAuth code exchange, as a real browser login
    assert console.sb.stats()["calls"]["/v1.0/oauth2/userAccessToken"] == calls + 1
    page.goto(f"{demo_console}/console/me")
    name = console.company.users[userid].name
    assert name in page.locator("[data-testid=profile]").inner_text()
    page.context.close()


def test_demo_logins_are_refused_unless_the_login_host_is_the_local_sandbox(
    console: Console,
) -> None:
    demo = DemoLogins(console.sb.base_url, (DemoLogin("hr", "HR", console.employee),))
    real = Settings(
        DINGTALK_APP_KEY="k",
        DINGTALK_APP_SECRET="s",
        DINGSYNC_DATABASE_URL=str(console.engine.url),
    )
    assert real.login_url == "https://login.dingtalk.com"
    with pytest.raises(ValueError, match="loopback"):
        create_app(real, engine=console.engine, demo_logins=demo)
    with pytest.raises(ValueError, match="loopback"):
        create_app(
            real.model_copy(update={"login_url": "https://login.dingtalk.com"}),
            engine=console.engine,
            demo_logins=DemoLogins("https://login.dingtalk.com", demo.people),
        )
    elsewhere = real.model_copy(update={"login_url": "http://127.0.0.1:1"})
    with pytest.raises(ValueError, match="sandbox"):
        create_app(elsewhere, engine=console.engine, demo_logins=demo)


def test_nav_keys_are_known() -> None:
    assert ADMIN_ONLY <= {item.key for item in NAV}


def test_the_client_emulator_plays_dd_getauthcode(console: Console) -> None:
    """``/sandbox/dd.js`` on its own: ``dd.getAuthCode({corpId, success, fail})`` mints a
    login-free code for the person of ``localStorage.dd_user`` that the API login accepts; a
    wrong corpId fails as DingTalk's client does; nobody → ``notInDingTalk``."""
    sb = console.sb
    page = console.anonymous_page()
    page.goto(f"{sb.base_url}/sandbox/app")
    page.add_script_tag(url=f"{sb.base_url}/sandbox/dd.js")
    assert page.evaluate("dd.env.platform") == "notInDingTalk"
    page.evaluate(f"localStorage.setItem('dd_user', '{console.employee}')")
    page.reload()
    page.add_script_tag(url=f"{sb.base_url}/sandbox/dd.js")
    assert page.evaluate("dd.env.platform") == "android"
    get = "c => new Promise(r => dd.getAuthCode({corpId: c, success: r, fail: r}))"
    result = page.evaluate(get, console.corp_id)
    r = httpx.post(f"{console.url}/api/auth/dingtalk", json={"authCode": result["code"]})
    assert r.status_code == 200 and r.json()["userid"] == console.employee
    wrong = page.evaluate(get, "dingnotthiscorp")
    assert wrong["errorCode"] == "3" and "code" not in wrong
    page.context.close()


@pytest.fixture(scope="module")
def own_company(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Any, Any]]:
    """A small sandbox company of its own, synced into SQLite (in a thread: the browser's
    event loop runs in this one): people leave it in the test below, which the shared console
    company must not see."""
    import asyncio
    import threading

    from dingsync.sandbox import SandboxConfig, SandboxServer
    from dingsync.store import db
    from dingsync.sync.engine import run_sync
    from dingsync.sync.runner import make_entities
    from helpers.sandboxes import make_client

    config = SandboxConfig(seed=5, users=30, days=3, qps_limit=None)
    path = tmp_path_factory.mktemp("demo-leavers") / "d.db"
    with SandboxServer(config) as sb:
        engine = db.create_engine_for(f"sqlite:///{path}")
        db.migrate(engine)
        results: list[Any] = []

        async def sync() -> None:
            async with make_client(sb) as client:
                results.append(await run_sync(client, engine, sb.app.corp_id, make_entities()))

        worker = threading.Thread(target=lambda: asyncio.run(sync()))
        worker.start()
        worker.join()
        assert results and results[0].status == "succeeded", results
        try:
            yield sb, engine
        finally:
            engine.dispose()


def test_demo_logins_offer_only_people_still_in_the_company(
    console: Console, own_company: tuple[Any, Any]
) -> None:
    """``dingsync demo``'s logins (``commands.demo_console.demo_logins``) follow the sandbox's
    company: once the demo's employee and HR person leave (``POST
    /sandbox/mutate/contacts/leave``), the login page offers other people still in the company
    — the new HR person with the local ``hr`` role — and their buttons log in (never 403
    auth.user_not_found)."""
    from dingsync.commands.demo_console import demo_logins
    from helpers.sandboxes import mutate
    from web.conftest import sandbox_settings

    sb, engine = own_company
    corp = sb.app.corp_id
    demo = demo_logins(sb.base_url, sb.company, engine, corp)
    before = {p.key: p.userid for p in demo.people}
    app = create_app(
        sandbox_settings(sb, str(engine.url)),
        engine=engine,
        options=WebOptions(),
        clock=console.clock,
        demo_logins=demo,
    )
    with WebServer(app) as server:
        for key in ("employee", "hr"):
            mutate(sb, "contacts/leave", userid=before[key])
        page = console.anonymous_page()
        page.goto(f"{server.base_url}/console/login")
        shown = {
            key: page.locator(f"[data-testid=demo-{key}]").inner_text()
            for key in ("employee", "hr")
        }
        now = {p.key: p.userid for p in demo.current()}
        for key in ("employee", "hr"):
            assert now[key] != before[key] and now[key] in sb.company.users
            assert sb.company.users[now[key]].active
            assert sb.company.users[now[key]].name in shown[key]
        assert {k: v for k, v in now.items() if k not in ("employee", "hr")} == {
            k: v for k, v in before.items() if k not in ("employee", "hr")
        }
        with engine.connect() as conn:
            assert "hr" in repo_local_access.user_roles(conn, corp, now["hr"])
        with engine.connect() as conn:
            viewer = app.state.web.viewer(conn, now["employee"])
        page.click("[data-testid=demo-employee]")
        page.wait_for_url(f"{server.base_url}{_first_page([i.key for i in visible_nav(viewer)])}")
        page.goto(f"{server.base_url}/console/me")
        assert (
            sb.company.users[now["employee"]].name
            in page.locator("[data-testid=profile]").inner_text()
        )
        page.context.close()
