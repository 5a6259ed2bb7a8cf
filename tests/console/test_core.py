"""The console's frame in a real browser: cookie sessions, the menu by role, 404 for pages a
viewer may not use, CSRF on state-changing requests, logout."""

from __future__ import annotations

import httpx

from dingsync.web.console.nav import NAV
from dingsync.web.console.session import COOKIE

from .conftest import Console


def test_without_a_session_pages_redirect_to_the_login(console: Console) -> None:
    r = httpx.get(f"{console.url}/console/me", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/console/login?reason=session.missing")
    assert "next=%2Fconsole%2Fme" in r.headers["location"]
    r = httpx.get(f"{console.url}/console/me", headers={"HX-Request": "true"})
    assert r.status_code == 401 and r.headers["HX-Redirect"].startswith("/console/login")


def test_an_employee_lands_on_me_and_sees_only_their_menu(console: Console) -> None:
    page = console.page_as(console.employee)
    page.goto(f"{console.url}/console")
    assert page.url.endswith("/console/me")
    name = console.company.users[console.employee].name
    assert name in page.locator("[data-testid=profile]").inner_text()
    menu = page.locator("nav [data-nav]").evaluate_all("els => els.map(e => e.dataset.nav)")
    assert menu == [i.key for i in NAV if i.key not in ("overview", "exports", "settings")]
    console.shot(page, "me-employee")
    page.context.close()


def test_pages_not_for_the_viewer_answer_404(console: Console) -> None:
    cookies = {COOKIE: console.api_token(console.employee)}
    for key in ("overview", "exports", "settings"):
        r = httpx.get(f"{console.url}/console/{key}", cookies=cookies)
        assert r.status_code == 404, key
        assert 'data-error-code="not_found"' in r.text
    r = httpx.get(f"{console.url}/console/no-such-page", cookies=cookies)
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]


def test_a_post_without_the_csrf_token_is_refused_and_logout_ends_the_session(
    console: Console,
) -> None:
    userid = console.other_employee
    page = console.page_as(userid)
    page.goto(f"{console.url}/console/me")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == COOKIE)
    # A forged form post (no token) is refused and the session stays.
    r = httpx.post(f"{console.url}/console/logout", cookies={COOKIE: token})
    assert r.status_code == 403 and 'data-error-code="csrf.invalid"' in r.text
    assert "请刷新页面后重试" in r.text and "CSRF token" not in r.text  # the console's words
    r = httpx.post(
        f"{console.url}/console/logout", cookies={COOKIE: token}, data={"csrf_token": "0" * 64}
    )
    assert r.status_code == 403
    assert (
        httpx.get(f"{console.url}/api/me", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    # The page's own logout button carries the token.
    page.click("[data-testid=logout]")
    page.wait_for_url("**/console/login**")
    assert not [c for c in page.context.cookies() if c["name"] == COOKIE]
    r = httpx.get(f"{console.url}/api/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    page.goto(f"{console.url}/console/me")
    assert "/console/login" in page.url
    page.context.close()


def test_a_console_export_is_the_apis_export_audited_as_console(console: Console) -> None:
    """The console's export form writes what ``POST /api/exports`` writes for the same person
    and filters, and the audit records it with ``client=console``."""
    admin = console.main_admin
    token = console.api_token(admin)
    page = console.page_as(admin)
    page.goto(f"{console.url}/console/me")
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    form = {"csrf_token": csrf, "format": "csv", "dept_id": "1", "recursive": "true"}
    r = httpx.post(f"{console.url}/console/export/users", cookies={COOKIE: token}, data=form)
    assert r.status_code == 200, r.text
    api = httpx.post(
        f"{console.url}/api/exports",
        headers={"Authorization": f"Bearer {token}"},
        json={"kind": "users", "format": "csv", "filters": {"dept_id": 1, "recursive": True}},
    )
    assert api.status_code == 200
    assert r.content == api.content and int(r.headers["X-Export-Rows"]) > 0
    listed = console.api(admin, "/api/exports/audit", limit=2)
    audit = listed["items"]
    assert [a["client"] for a in audit] == ["web", "console"]
    assert audit[1]["id"] == int(r.headers["X-Export-Audit-Id"])
    # Without the token: refused, nothing audited.
    r = httpx.post(
        f"{console.url}/console/export/users", cookies={COOKIE: token}, data={"format": "csv"}
    )
    assert r.status_code == 403
    assert console.api(admin, "/api/exports/audit", limit=1)["total"] == listed["total"]
    page.context.close()


def test_the_phone_menu_button_is_visible_and_opens_the_menu(console: Console) -> None:
    """At a phone's width the side menu folds behind ☰, which must be visible on the white top
    bar (it once was white on white) and open the menu."""
    page = console.page_as(console.employee, width=390, height=844)
    page.goto(f"{console.url}/console/me")
    toggle = page.locator(".menu-toggle")
    assert toggle.is_visible()
    color = toggle.evaluate("el => getComputedStyle(el).color")
    assert color not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")
    assert not page.locator("nav.sidenav").is_visible()
    toggle.click()
    assert page.locator("nav.sidenav [data-nav=reports]").is_visible()
    page.context.close()


def test_error_pages_keep_the_menu_and_odd_dates_are_no_crash(console: Console) -> None:
    """A day whose neighbours do not exist (year 1) is a message on the page, not a 500; an
    error page of a logged-in person keeps their menu."""
    cookies = {COOKIE: console.api_token(console.employee)}
    r = httpx.get(f"{console.url}/console/reports?end_date=0001-01-01", cookies=cookies)
    assert r.status_code == 200 and "超出范围" in r.text
    r = httpx.get(f"{console.url}/console/reports/no-such-report", cookies=cookies)
    assert r.status_code == 404 and 'data-nav="me"' in r.text
    r = httpx.get(f"{console.url}/console/no-such-page")
    assert r.status_code == 404 and "data-nav" not in r.text  # no session, no menu
    # A form's address opened in the browser (GET of a POST-only console path) is the
    # console's page with the stable code, not the API's JSON.
    for path in ("/console/logout", "/console/export/users"):
        r = httpx.get(f"{console.url}{path}", cookies=cookies)
        assert r.status_code == 405 and r.headers["content-type"].startswith("text/html"), path
        assert 'data-error-code="method_not_allowed"' in r.text and 'data-nav="me"' in r.text
        assert "POST" in r.headers["allow"]


def test_a_nul_in_a_console_query_is_the_consoles_error_page(console: Console) -> None:
    """``%00`` in a console page's query is refused (as everywhere) with the console's HTML
    error page and the viewer's menu; the API keeps its JSON body."""
    cookies = {COOKIE: console.api_token(console.employee)}
    r = httpx.get(f"{console.url}/console/reports?template=%00x", cookies=cookies)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    assert "request.invalid" in r.text and 'data-nav="me"' in r.text and "%00" in r.text
    api = httpx.get(
        f"{console.url}/api/reports?template=%00x",
        headers={"Authorization": f"Bearer {console.api_token(console.employee)}"},
    )
    assert api.status_code == 422 and api.json()["error"]["code"] == "request.invalid"


def test_the_favicon_is_served_and_linked(console: Console) -> None:
    r = httpx.get(f"{console.url}/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in r.content
    page = console.page_as(console.employee)
    failed: list[str] = []
    page.on("response", lambda resp: failed.append(resp.url) if resp.status >= 400 else None)
    page.goto(f"{console.url}/console/me")
    href = page.get_attribute("link[rel=icon]", "href")
    assert href and httpx.get(f"{console.url}{href}").status_code == 200
    assert not failed, failed
    page.context.close()


def test_every_list_has_the_same_pager(console: Console) -> None:
    """One pager on every list: "共 N … · 第 x / y 页" with 上一页 / 下一页 buttons."""
    import re

    page = console.page_as(console.main_admin)
    lists = [
        "/console/directory",
        "/console/directory/leavers",
        "/console/reports",
        "/console/reports/stats",
        "/console/attendance",
        "/console/attendance/daily",
        "/console/attendance/records",
        "/console/approvals",
        "/console/exports",
    ]
    for path in lists:
        page.goto(f"{console.url}{path}")
        pager = page.locator("nav.pager[data-testid=pager]")
        assert pager.count() >= 1, path
        info = pager.first.locator(".pager-info").inner_text()
        assert re.fullmatch(r"共 \d+ \S+ · 第 \d+ / \d+ 页", info), (path, info)
        for link in pager.first.locator("a").all():
            assert "button" in (link.get_attribute("class") or ""), path
            assert link.get_attribute("rel") in ("prev", "next"), path
    page.context.close()


def test_a_page_past_the_end_is_the_last_page_on_every_list(console: Console) -> None:
    """``?page=99999`` (a kept link of a list that shrank, a typed number) shows the last page
    — its rows, "第 y / y 页", 上一页 but no 下一页 — on every list, never "第 99999 / 1 页"."""
    import re

    page = console.page_as(console.main_admin)
    lists = [
        "/console/directory",
        "/console/directory/leavers",
        "/console/attendance",
        "/console/attendance/daily",
        "/console/attendance/records",
        "/console/approvals",
        "/console/exports",
    ]
    checked_rows = 0
    for path in lists:
        page.goto(f"{console.url}{path}?page=99999")
        pager = page.locator("nav.pager[data-testid=pager]").first
        info = pager.locator(".pager-info").inner_text()
        found = re.fullmatch(r"共 (\d+) \S+ · 第 (\d+) / (\d+) 页", info)
        assert found, (path, info)
        total, shown, pages = (int(g) for g in found.groups())
        assert shown == pages, (path, info)
        assert pager.locator("a[rel=next]").count() == 0, path
        assert pager.locator("a[rel=prev]").count() == (1 if pages > 1 else 0), path
        past = page.locator("main tbody tr").all_inner_texts()
        page.goto(f"{console.url}{path}?page={pages}")
        assert page.locator("main tbody tr").all_inner_texts() == past, path
        if total:
            assert past, path
            checked_rows += 1
    assert checked_rows >= 5  # the synced company has people, punches and approvals
    page.context.close()
