"""通讯录 in a real browser: the tree with member counts (the API's), people paged and searched
by name, job number and mobile through ``/api/users``, a person's page as ``/api/users/{id}``
shows them, hidden mobile numbers hidden from members, leavers only for those allowed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from dingsync.export.contacts import USER_COLUMNS
from dingsync.store.schema import leavers, users
from dingsync.web.console.session import COOKIE

from .conftest import Console


def _nodes(tree: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield tree
    for child in tree.get("children") or []:
        yield from _nodes(child)


def _rows(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.locator("[data-testid=people] tbody tr[data-userid]").evaluate_all(
        "els => els.map(e => e.dataset.userid)"
    )


@pytest.fixture
def hidden_mobile(console: Console) -> Iterator[tuple[str, str]]:
    """A plain employee whose mobile is hidden (号码隐藏) for the test: ``(userid, mobile)``."""
    userid = console.company.users[console.other_employee].userid
    with console.engine.begin() as conn:
        row = conn.execute(
            select(users.c.mobile, users.c.hide_mobile).where(
                users.c.corp_id == console.corp_id, users.c.userid == userid
            )
        ).one()
        conn.execute(
            update(users)
            .where(users.c.corp_id == console.corp_id, users.c.userid == userid)
            .values(hide_mobile=True)
        )
    try:
        yield userid, str(row.mobile)
    finally:
        with console.engine.begin() as conn:
            conn.execute(
                update(users)
                .where(users.c.corp_id == console.corp_id, users.c.userid == userid)
                .values(hide_mobile=row.hide_mobile)
            )


def test_every_role_sees_the_tree_and_people_as_the_api_does(console: Console) -> None:
    roles = {
        "employee": console.employee,
        "leader": console.leader,
        "sub-admin": console.sub_admin,
        "hr": console.hr,
        "main-admin": console.main_admin,
    }
    for name, who in roles.items():
        page = console.page_as(who)
        page.goto(f"{console.url}/console/directory")
        api_tree = console.api(who, "/api/departments", counts="true")["tree"]
        counts = {n["dept_id"]: n["member_count"] for n in _nodes(api_tree)}
        shown = page.locator("[data-testid=tree] a[data-dept]").evaluate_all(
            "els => els.map(e => [Number(e.dataset.dept),"
            " Number(e.querySelector('.cnt').textContent)])"
        )
        assert dict(shown) == counts
        api_people = console.api(who, "/api/users", dept_id=1, recursive="true", limit=20)
        assert int(page.locator("[data-testid=people-total]").inner_text()) == api_people["total"]
        assert _rows(page) == [u["userid"] for u in api_people["items"]]
        console.shot(page, f"directory-{name}")
        page.context.close()


def test_a_department_link_and_the_search_narrow_the_people(console: Console) -> None:
    who = console.employee
    page = console.page_as(who)
    page.goto(f"{console.url}/console/directory")
    everyone = int(page.locator("[data-testid=people-total]").inner_text())
    tree = console.api(who, "/api/departments", counts="true")["tree"]
    dept = next(n for n in _nodes(tree) if n["dept_id"] != 1 and n["member_count"])
    page.click(f"[data-testid=tree] a[data-dept='{dept['dept_id']}']")
    page.wait_for_url(f"**dept_id={dept['dept_id']}**")
    api = console.api(who, "/api/users", dept_id=dept["dept_id"], recursive="true", limit=20)
    assert int(page.locator("[data-testid=people-total]").inner_text()) == api["total"] < everyone
    assert _rows(page) == [u["userid"] for u in api["items"]]
    # Paging: the second page is the API's offset 20.
    page.goto(f"{console.url}/console/directory?page=2")
    api = console.api(who, "/api/users", limit=20, offset=20)
    assert _rows(page) == [u["userid"] for u in api["items"]]
    # Search by name, job number and mobile (htmx swaps the list; the URL follows).
    person = console.company.users[console.other_employee]
    for term in (person.name[-2:], person.job_number, person.mobile):
        if not term:
            continue
        page.goto(f"{console.url}/console/directory")
        page.fill("[data-testid=search]", term)
        page.click("[data-testid=search-go]")
        page.wait_for_url("**search=**")
        page.wait_for_function(
            "n => document.querySelector('[data-testid=people-total]').textContent.trim() == n",
            arg=str(console.api(who, "/api/users", search=term)["total"]),
        )
        rows = _rows(page)
        assert person.userid in rows, term
        assert rows == [
            u["userid"] for u in console.api(who, "/api/users", search=term, limit=20)["items"]
        ]
        assert len(rows) < everyone
    console.shot(page, "directory-search")
    page.context.close()


def test_hidden_mobiles_stay_hidden_from_members(
    console: Console, hidden_mobile: tuple[str, str]
) -> None:
    userid, mobile = hidden_mobile
    # A member: no number on the list or the person's page, and a search by it finds nobody.
    for who, sees in (
        (console.employee, False),
        (console.main_admin, True),
        (console.hr, True),
        (userid, True),
    ):
        page = console.page_as(who)
        page.goto(f"{console.url}/console/directory/users/{userid}")
        api = console.api(who, f"/api/users/{userid}")
        assert (api["mobile"] == mobile) is sees
        assert page.locator("[data-testid=person] [data-field=mobile]").inner_text() == (
            mobile if sees else "—"
        )
        page.goto(f"{console.url}/console/directory?search={mobile}")
        rows = _rows(page)
        assert (userid in rows) is sees, who
        if sees:
            cell = page.locator(f"tr[data-userid='{userid}'] [data-field=mobile]").inner_text()
            assert cell == mobile
        page.context.close()


def test_a_persons_page_shows_departments_roles_and_admin_scope(console: Console) -> None:
    # A leader's page: paths from the company, the leader flag.
    page = console.page_as(console.employee)
    page.goto(f"{console.url}/console/directory/users/{console.leader}")
    api = console.api(console.employee, f"/api/users/{console.leader}")
    depts = page.locator("[data-field=departments]").inner_text()
    for d in api["departments"]:
        assert " / ".join(p["name"] for p in d["path"]) in depts
    assert (
        page.locator("[data-testid=leader]").count()
        == sum(d["is_leader"] for d in api["departments"])
        > 0
    )
    assert page.locator("[data-field=job_number]").inner_text() == (api["job_number"] or "—")
    assert page.locator("[data-field=hired_date]").inner_text() == (api["hired_date"] or "—")
    console.shot(page, "directory-person")
    page.context.close()
    # A sub-administrator's page, seen by the main administrator: level and scope.
    page = console.page_as(console.main_admin)
    page.goto(f"{console.url}/console/directory/users/{console.sub_admin}")
    api = console.api(console.main_admin, f"/api/users/{console.sub_admin}")
    assert api["admin"]["level"] == 2
    assert page.locator("[data-testid=admin-tag]").inner_text() == "子管理员"
    scope = page.locator("[data-field=admin-scope]").inner_text()
    assert all(d["name"] in scope for d in api["admin"]["scope"])
    roles = page.locator("[data-field=roles]").inner_text()
    assert all(r["name"] in roles for r in api["roles"])
    console.shot(page, "directory-sub-admin")
    page.context.close()
    # An employee does not get the admin scope of someone else.
    assert console.api(console.employee, f"/api/users/{console.sub_admin}").get("admin") is None
    # Someone who is not in the directory: 404, as the API.
    r = httpx.get(
        f"{console.url}/console/directory/users/nobody-here",
        cookies={COOKIE: console.api_token(console.employee)},
    )
    assert r.status_code == 404 and 'data-error-code="not_found"' in r.text


def test_leavers_only_for_those_allowed(console: Console) -> None:
    with console.engine.connect() as conn:
        stored = conn.execute(
            select(leavers.c.userid).where(leavers.c.corp_id == console.corp_id)
        ).all()
    assert stored, "the sandbox company has departure records"
    for who in (console.main_admin, console.hr):
        page = console.page_as(who)
        page.goto(f"{console.url}/console/directory")
        page.click("[data-testid=leavers-tab]")
        page.wait_for_url("**/console/directory/leavers")
        api = console.api(who, "/api/leavers", limit=20)
        shown = page.locator("[data-testid=leavers] tr[data-userid]").evaluate_all(
            "els => els.map(e => e.dataset.userid)"
        )
        assert shown == [i["userid"] for i in api["items"]] and api["total"] == len(stored)
        console.shot(page, "directory-leavers")
        page.context.close()
    for who in (console.employee, console.leader):
        page = console.page_as(who)
        page.goto(f"{console.url}/console/directory")
        assert page.locator("[data-testid=leavers-tab]").count() == 0
        page.context.close()
        r = httpx.get(
            f"{console.url}/console/directory/leavers", cookies={COOKIE: console.api_token(who)}
        )
        assert r.status_code == 404


def test_an_unknown_or_malformed_department_is_a_message_not_the_whole_company(
    console: Console,
) -> None:
    page = console.page_as(console.employee)
    for bad in ("987654321", "abc"):
        page.goto(f"{console.url}/console/directory?dept_id={bad}")
        error = page.locator("[data-testid=dept-error]")
        assert error.is_visible() and bad in error.inner_text()
        assert page.locator("[data-testid=people-total]").inner_text() == "0"
        assert _rows(page) == []
    console.shot(page, "directory-unknown-department")
    page.context.close()


def test_a_page_past_the_end_shows_the_last_page(console: Console) -> None:
    who = console.employee
    page = console.page_as(who)
    page.goto(f"{console.url}/console/directory?page=999")
    total = console.api(who, "/api/users", limit=1)["total"]
    last = -(-total // 20)
    api = console.api(who, "/api/users", limit=20, offset=(last - 1) * 20)
    assert _rows(page) == [u["userid"] for u in api["items"]] and api["items"]
    assert f"第 {last} / {last} 页" in page.locator("[data-testid=pager]").inner_text()
    page.goto(f"{console.url}/console/reports?offset=100000")
    assert page.locator("tr[data-report-id]").count() > 0
    page.goto(f"{console.url}/console/reports/stats?offset=100000")
    assert "没有需要统计的人员" not in page.locator("[data-testid=stats]").inner_text()
    page.context.close()


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_export_button_downloads_the_departments_people(console: Console, fmt: str) -> None:
    import csv

    import openpyxl

    admin = console.main_admin
    tree = console.api(admin, "/api/departments", counts="true")["tree"]
    dept = next(n for n in _nodes(tree) if n["dept_id"] != 1 and n["member_count"] > 1)
    page = console.page_as(admin)
    page.goto(f"{console.url}/console/directory?dept_id={dept['dept_id']}")
    shown_total = int(page.locator("[data-testid=people-total]").inner_text())
    page.select_option("[data-testid=export-format]", fmt)
    with page.expect_download() as download:
        page.click("[data-testid=export]")
    path = str(download.value.path())
    if fmt == "csv":
        with open(path, encoding="utf-8-sig") as fh:
            rows = [tuple(r) for r in csv.reader(fh)]
    else:
        with open(path, "rb") as fh:  # a download's path has no .xlsx suffix
            sheet = openpyxl.load_workbook(fh, read_only=True).worksheets[0]
            rows = [tuple(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == USER_COLUMNS  # the same Chinese headers in csv and xlsx
    exported = sorted(str(r[0]) for r in rows[1:])
    listed = console.api(admin, "/api/users", dept_id=dept["dept_id"], recursive="true", limit=500)
    assert exported == sorted(u["userid"] for u in listed["items"])
    assert len(exported) == shown_total == listed["total"]
    audit = console.api(admin, "/api/exports/audit", limit=1)["items"][0]
    assert audit["kind"] == "users" and audit["client"] == "console"
    if fmt == "xlsx":
        console.shot(page, "directory-with-export")
    page.context.close()
