"""设置 in a real browser: local roles granted and revoked, accounts disabled and enabled
through the admin API's functions (and its rules: no self-disable, the main administrator
protected), CSRF on every form, the last runs per entity and the sync settings."""

from __future__ import annotations

import httpx

from dingsync.store import repo_local_access
from dingsync.web.console.session import COOKIE

from .conftest import Console


def _grants(console: Console, who: str) -> set[tuple[str, str]]:
    return {(g["userid"], g["role"]) for g in console.api(who, "/api/admin/roles")["grants"]}


def test_grant_and_revoke_a_role_through_the_page(console: Console) -> None:
    admin = console.main_admin
    person = console.company.users[console.other_employee]
    page = console.page_as(admin)
    page.goto(f"{console.url}/console/settings")
    page.fill("[data-testid=person-search]", person.name)
    page.click("[data-testid=person-search-go]")
    row = page.locator(f"[data-testid=found] tr[data-userid='{person.userid}']")
    row.locator("[data-testid=grant-hr]").click()
    page.wait_for_selector("[data-testid=done]")
    assert (person.userid, "hr") in _grants(console, admin)
    granted = page.locator(f"[data-testid=grants] tr[data-userid='{person.userid}'][data-role=hr]")
    assert granted.count() == 1 and person.name in granted.inner_text()
    console.shot(page, "settings")
    # The new HR person now reads the overview; revoking takes it away again.
    cookies = {COOKIE: console.api_token(person.userid)}
    assert httpx.get(f"{console.url}/console/overview", cookies=cookies).status_code == 200
    granted.locator("[data-testid=revoke]").click()
    page.wait_for_selector("[data-testid=done]")
    assert (person.userid, "hr") not in _grants(console, admin)
    assert page.locator(f"[data-testid=grants] tr[data-userid='{person.userid}']").count() == 0
    assert httpx.get(f"{console.url}/console/overview", cookies=cookies).status_code == 404
    page.context.close()


def test_disable_and_enable_through_the_page_with_the_apis_rules(console: Console) -> None:
    admin = console.main_admin
    person = console.company.users[console.other_employee]
    victim_token = console.api_token(person.userid)
    page = console.page_as(admin)
    page.goto(f"{console.url}/console/settings?q={person.name}")
    page.locator(
        f"[data-testid=found] tr[data-userid='{person.userid}'] [data-testid=disable]"
    ).click()
    page.wait_for_selector("[data-testid=done]")
    assert person.userid in console.api(admin, "/api/admin/users/disabled")["userids"]
    assert page.locator(f"[data-testid=disabled] tr[data-userid='{person.userid}']").count() == 1
    # Their session is gone: the console sends them to the login.
    r = httpx.get(
        f"{console.url}/console/me", cookies={COOKIE: victim_token}, follow_redirects=False
    )
    assert r.status_code == 303 and "/console/login" in r.headers["location"]
    console.shot(page, "settings-disabled")
    page.locator(
        f"[data-testid=disabled] tr[data-userid='{person.userid}'] [data-testid=enable]"
    ).click()
    page.wait_for_selector("[data-testid=done]")
    assert person.userid not in console.api(admin, "/api/admin/users/disabled")["userids"]
    # No disable button for oneself; a forged form is refused with the API's code.
    page.goto(f"{console.url}/console/settings?q={console.company.users[admin].name}")
    own = page.locator(f"[data-testid=found] tr[data-userid='{admin}']")
    assert own.count() == 1 and own.locator("[data-testid=disable]").count() == 0
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    token = console.api_token(admin)
    r = httpx.post(
        f"{console.url}/console/settings/users/disable",
        cookies={COOKIE: token},
        data={"csrf_token": csrf, "userid": admin},
    )
    assert r.status_code == 303 and "error=admin.self_disable" in r.headers["location"]
    page.goto(f"{console.url}{r.headers['location']}")
    assert (
        page.locator("[data-testid=error]").get_attribute("data-error-code") == "admin.self_disable"
    )
    page.context.close()
    # A local administrator may not disable the main administrator.
    local_admin = console.company.users[console.employee].userid
    with console.engine.begin() as conn:
        repo_local_access.grant_role(conn, console.corp_id, local_admin, "admin")
    try:
        page = console.page_as(local_admin)
        page.goto(f"{console.url}/console/settings")
        csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
        r = httpx.post(
            f"{console.url}/console/settings/users/disable",
            cookies={COOKIE: console.api_token(local_admin)},
            data={"csrf_token": csrf, "userid": admin},
        )
        assert r.status_code == 303 and "error=admin.main_admin_protected" in r.headers["location"]
        assert admin not in console.api(admin, "/api/admin/users/disabled")["userids"]
        page.context.close()
    finally:
        with console.engine.begin() as conn:
            repo_local_access.revoke_role(conn, console.corp_id, local_admin, "admin")


def test_forms_without_the_csrf_token_are_refused_and_others_get_404(console: Console) -> None:
    admin = console.main_admin
    person = console.other_employee
    cookies = {COOKIE: console.api_token(admin)}
    for path, data in (
        ("/console/settings/roles/grant", {"userid": person, "role": "hr"}),
        ("/console/settings/users/disable", {"userid": person}),
    ):
        r = httpx.post(f"{console.url}{path}", cookies=cookies, data=data)
        assert r.status_code == 403 and 'data-error-code="csrf.invalid"' in r.text
    assert (person, "hr") not in _grants(console, admin)
    assert person not in console.api(admin, "/api/admin/users/disabled")["userids"]
    for who in (console.employee, console.hr, console.sub_admin, console.leader):
        token = console.api_token(who)
        r = httpx.get(f"{console.url}/console/settings", cookies={COOKIE: token})
        assert r.status_code == 404, who
        page = httpx.get(f"{console.url}/console/me", cookies={COOKIE: token}).text
        csrf = page.split('name="csrf-token" content="')[1].split('"')[0]
        r = httpx.post(
            f"{console.url}/console/settings/roles/grant",
            cookies={COOKIE: token},
            data={"csrf_token": csrf, "userid": who, "role": "admin"},
        )
        assert r.status_code == 404, who
    assert not {(console.employee, "admin"), (console.leader, "admin")} & _grants(console, admin)


def test_the_sync_section_shows_the_last_run_per_entity(console: Console) -> None:
    admin = console.main_admin
    page = console.page_as(admin)
    page.goto(f"{console.url}/console/settings")
    api = console.api(admin, "/api/admin/sync")
    shown = page.locator("[data-testid=entity-runs] tr[data-entity]").evaluate_all(
        "els => els.map(e => e.dataset.entity)"
    )
    assert shown == [e["entity"] for e in api["entities"]]
    for e in api["entities"]:
        assert e["last"] is not None and e["last_success"] is not None, e
        assert (
            f"#{e['last']['id']}" in page.locator(f"tr[data-entity='{e['entity']}']").inner_text()
        )
    assert api["settings"]["timezone"] in page.locator("[data-testid=sync-settings]").inner_text()
    page.context.close()
