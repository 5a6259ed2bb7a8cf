"""考勤 in a real browser: 月度汇总 with its charts, 每日统计, 原始记录 and a person's calendar,
each person seeing exactly what ``/api/attendance/…`` gives them (own; main administrator and
HR all; a sub-administrator their scope; an attendance-group manager their groups); filters
narrow the rows as the API's do; the charts' points are the stats API's numbers; the export
downloads the API's monthly summary."""

from __future__ import annotations

import io
from typing import Any

import httpx
import openpyxl
import pytest
from sqlalchemy import func, select

from dingsync.store.schema_attendance import (
    attendance_group_managers,
    attendance_group_members,
    attendance_results,
)
from dingsync.web.console.session import COOKIE

from .conftest import Console

CHART_DATA = (
    "([id, n]) => echarts.getInstanceByDom(document.querySelector(`[data-chart=${id}]`))"
    ".getOption().series[n].data"
)


def _get(console: Console, viewer: str, path: str, params: dict[str, Any]) -> Any:
    """``GET path`` as ``viewer`` with ``params`` (which may hold a ``userid`` filter)."""
    r = httpx.get(
        f"{console.url}{path}",
        params=params,
        headers={"Authorization": f"Bearer {console.api_token(viewer)}"},
        timeout=60,
    )
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r.json()


def _month(console: Console) -> str:
    """The month of the latest synced work date (the sync ends yesterday)."""
    with console.engine.connect() as conn:
        last = conn.execute(select(func.max(attendance_results.c.work_date))).scalar_one()
    return str(last.strftime("%Y-%m"))


def _manager(console: Console) -> tuple[str, set[int]]:
    """An attendance-group manager who is no administrator, not the boss, not HR and not the
    test employee, and the groups they manage."""
    company = console.company
    skip = set(company.admins) | {company.boss_userid, console.hr, console.employee}
    with console.engine.connect() as conn:
        rows = [(r.userid, r.group_id) for r in conn.execute(select(attendance_group_managers))]
    manager = sorted(u for u, _ in rows if u not in skip)[0]
    return manager, {g for u, g in rows if u == manager}


def _group_members(console: Console, groups: set[int]) -> set[str]:
    m = attendance_group_members
    with console.engine.connect() as conn:
        return set(conn.execute(select(m.c.userid).where(m.c.group_id.in_(groups))).scalars())


def _all_monthly(console: Console, userid: str, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        page = console.api(userid, "/api/attendance/monthly", limit=500, offset=len(out), **params)
        out += page["items"]
        if len(out) >= page["total"]:
            return out


def _rows(page: Any) -> list[str]:
    return page.locator("[data-testid=rows] tbody tr[data-userid]").evaluate_all(
        "els => els.map(e => e.dataset.userid)"
    )


def _total(page: Any) -> int:
    return int(page.locator("[data-testid=total]").get_attribute("data-total"))


def _roles(console: Console) -> dict[str, str]:
    return {
        "employee": console.employee,
        "attendance_manager": _manager(console)[0],
        "sub_admin": console.sub_admin,
        "hr": console.hr,
        "main_admin": console.main_admin,
    }


@pytest.mark.parametrize(
    "role", ["employee", "attendance_manager", "sub_admin", "hr", "main_admin"]
)
def test_monthly_summary_shows_each_role_the_apis_people(console: Console, role: str) -> None:
    userid = _roles(console)[role]
    month = _month(console)
    api = console.api(userid, "/api/attendance/monthly", month=month, limit=20)
    assert api["items"], role
    page = console.page_as(userid)
    page.goto(f"{console.url}/console/attendance?month={month}")
    assert _rows(page) == [r["userid"] for r in api["items"]]
    assert _total(page) == api["total"]
    # Columns come from the API's list of metrics, values from its rows.
    first = page.locator("[data-testid=rows] tbody tr").first
    for metric in api["metrics"]:
        cell = first.locator(f'td[data-metric="{metric["key"]}"]').inner_text()
        assert float(cell) == api["items"][0]["metrics"][metric["key"]]
    everyone = _all_monthly(console, userid, month=month)
    if role == "employee":
        assert [r["userid"] for r in everyone] == [userid]
        assert page.locator("[data-testid=export]").count() == 0
    elif role == "attendance_manager":
        manager, groups = _manager(console)
        assert {r["userid"] for r in everyone} <= _group_members(console, groups) | {manager}
        assert len(everyone) > 1
    elif role in ("hr", "main_admin"):
        every = _all_monthly(console, console.main_admin, month=month)
        assert {r["userid"] for r in everyone} == {r["userid"] for r in every}
    page.wait_for_selector("[data-chart=c-att-rate][data-chart-ready]")
    console.shot(page, f"attendance-monthly-{role.replace('_', '-')}")
    page.context.close()


@pytest.mark.parametrize("role", ["employee", "attendance_manager", "sub_admin", "main_admin"])
def test_charts_are_the_stats_apis_numbers(console: Console, role: str) -> None:
    userid = _roles(console)[role]
    month = _month(console)
    depts = [None, *sorted(console.company.admin_scopes[console.sub_admin])[:1]]
    page = console.page_as(userid)
    for dept in depts:
        params: dict[str, Any] = {"month": month} | ({"dept_id": dept} if dept else {})
        stats = console.api(userid, "/api/attendance/stats", **params)
        query = "&".join(f"{k}={v}" for k, v in params.items())
        page.goto(f"{console.url}/console/attendance?{query}")
        page.wait_for_selector("[data-chart=c-att-rate][data-chart-ready]")

        def points(chart: str, n: int = 0) -> list[Any]:
            return list(page.evaluate(CHART_DATA, [chart, n]))

        assert points("c-att-dept", 0) == [d["late"] for d in stats["by_department"]]
        assert points("c-att-dept", 1) == [d["early"] for d in stats["by_department"]]
        assert points("c-att-missing") == [d["missing"] for d in stats["by_day"]]
        assert points("c-att-rate") == [d["rate"] for d in stats["by_day"]]
        if dept is None:
            assert sum(d["people"] for d in stats["by_day"]) > 0
    page.context.close()


def test_filters_narrow_the_rows_as_the_api_does(console: Console) -> None:
    admin = console.main_admin
    month = _month(console)
    everyone = console.api(admin, "/api/attendance/monthly", month=month, limit=1)["total"]
    dept = sorted(console.company.admin_scopes[console.sub_admin])[0]
    narrowed = console.api(admin, "/api/attendance/monthly", month=month, dept_id=dept, limit=20)
    assert 0 < narrowed["total"] < everyone
    page = console.page_as(admin)
    page.goto(f"{console.url}/console/attendance?month={month}")
    assert _total(page) == everyone
    # The filter form (htmx) narrows the table and keeps the URL shareable.
    page.select_option("[data-testid=f-dept]", str(dept))
    page.click("[data-testid=filters] button[type=submit]")
    page.wait_for_url(f"**dept_id={dept}**")
    page.wait_for_function(
        f"document.querySelector('[data-testid=total]').dataset.total == '{narrowed['total']}'"
    )
    assert _rows(page) == [r["userid"] for r in narrowed["items"]]

    # 每日统计: date range, department, person.
    days = console.api(admin, "/api/attendance/daily", start_date=f"{month}-01", limit=50)
    person = days["items"][0]["userid"]
    day = days["items"][0]["work_date"]
    for params in (
        {"start_date": f"{month}-01"},
        {"start_date": day, "end_date": day},
        {"start_date": f"{month}-01", "dept_id": dept},
        {"start_date": f"{month}-01", "userid": person},
    ):
        api = _get(console, admin, "/api/attendance/daily", {"limit": 50, **params})
        query = "&".join(f"{k}={v}" for k, v in params.items())
        page.goto(f"{console.url}/console/attendance/daily?{query}")
        assert _total(page) == api["total"], params
        got = page.locator("[data-testid=rows] tbody tr[data-userid]").evaluate_all(
            "els => els.map(e => [e.dataset.userid, e.dataset.date, e.dataset.result])"
        )
        assert got == [[d["userid"], d["work_date"], d["day_result"]] for d in api["items"]]
        if len(params) > 1:
            assert api["total"] < days["total"]

    # The person filter also takes a name (looked up in the directory): the same rows.
    active = [u.name for u in console.company.users.values() if u.active]

    def sharing(part: str) -> int:
        return sum(1 for n in active if part in n)

    with_days = {d["userid"] for d in days["items"]}
    unique = next(u for u in sorted(with_days) if sharing(console.company.users[u].name) == 1)
    name = console.company.users[unique].name
    api = _get(
        console, admin, "/api/attendance/daily", {"start_date": f"{month}-01", "userid": unique}
    )
    page.goto(f"{console.url}/console/attendance/daily?start_date={month}-01&userid={name}")
    assert _total(page) == api["total"] > 0
    assert set(_rows(page)) == {unique}
    # A part of a name several people share: nothing until one of them is chosen.
    surname = max({n[0] for n in active}, key=sharing)
    assert sharing(surname) > 1
    page.goto(f"{console.url}/console/attendance/daily?start_date={month}-01&userid={surname}")
    assert _total(page) == 0
    choices = page.locator("[data-testid=choices] a")
    assert choices.count() == min(sharing(surname), 10)
    choices.first.click()
    page.wait_for_url("**userid=**")
    chosen = page.url.split("userid=")[1].split("&")[0]
    api = _get(
        console, admin, "/api/attendance/daily", {"start_date": f"{month}-01", "userid": chosen}
    )
    assert _total(page) == api["total"]

    # 原始记录: person and check type.
    base = console.api(admin, "/api/attendance/records", start_date=f"{month}-01", limit=50)
    for params in (
        {"start_date": f"{month}-01"},
        {"start_date": f"{month}-01", "check_type": "OnDuty"},
        {"start_date": f"{month}-01", "userid": person},
    ):
        api = _get(console, admin, "/api/attendance/records", {"limit": 50, **params})
        query = "&".join(f"{k}={v}" for k, v in params.items())
        page.goto(f"{console.url}/console/attendance/records?{query}")
        assert _total(page) == api["total"], params
        ids = page.locator("[data-testid=rows] tbody tr[data-id]").evaluate_all(
            "els => els.map(e => e.dataset.id)"
        )
        assert ids == [str(r["id"]) for r in api["items"]]
        if len(params) > 1:
            assert 0 < api["total"] < base["total"]
    page.context.close()


@pytest.mark.parametrize("role", ["employee", "hr"])
def test_daily_and_records_tabs_render_what_the_api_gives(console: Console, role: str) -> None:
    userid = _roles(console)[role]
    month = _month(console)
    page = console.page_as(userid)
    for tab in ("daily", "records"):
        api = console.api(userid, f"/api/attendance/{tab}", start_date=f"{month}-01", limit=50)
        assert api["items"], (role, tab)
        page.goto(f"{console.url}/console/attendance/{tab}?start_date={month}-01")
        rows = _rows(page)
        assert rows == [r["userid"] for r in api["items"]]
        assert _total(page) == api["total"]
        table = page.locator("[data-testid=rows] tbody")
        if tab == "daily":  # 关联审批单: each linked approval's kind, or —
            cells = table.locator("[data-testid=approvals]").all_inner_texts()
            for cell, item in zip(cells, api["items"], strict=True):
                assert all(a["kind"] in cell for a in item["approvals"]), (cell, item)
                assert item["approvals"] or cell.strip() == "—"
        else:  # 原始记录: the source and the place (外勤 marked) of each punch
            sources = table.locator("tr[data-id]").evaluate_all(
                "els => els.map(e => e.dataset.source)"
            )
            assert sources == [r["source_type"] or "" for r in api["items"]]
            places = table.locator("[data-testid=place]").all_inner_texts()
            for cell, r in zip(places, api["items"], strict=True):
                assert (r["address"] or "—") in cell
                assert ("外勤" in cell) == r["outside"]
        if role == "employee":
            assert set(rows) == {userid}
        else:
            assert len(set(rows)) > 1
        console.shot(page, f"attendance-{tab}-{role}")
    page.context.close()


def test_a_persons_calendar_is_the_apis_days_and_404_for_others(console: Console) -> None:
    employee = console.employee
    month = _month(console)
    days = _get(
        console,
        employee,
        "/api/attendance/daily",
        {"start_date": f"{month}-01", "userid": employee, "limit": 62},
    )
    assert days["items"]
    page = console.page_as(employee)
    r = page.goto(f"{console.url}/console/attendance/users/{employee}?month={month}")
    assert r is not None and r.status == 200
    cells = page.locator("[data-testid=calendar] [data-date]").evaluate_all(
        "els => els.map(e => [e.dataset.date, e.dataset.result])"
    )
    expected = sorted(
        (d["work_date"], d["day_result"]) for d in days["items"] if d["work_date"].startswith(month)
    )
    assert sorted(tuple(c) for c in cells) == expected
    label = page.locator(f"[data-date='{expected[0][0]}'] .att-res").inner_text()
    assert label == next(d["day_label"] for d in days["items"] if d["work_date"] == expected[0][0])
    console.shot(page, "attendance-calendar")
    phone = console.page_as(employee, width=390, height=844)
    phone.goto(f"{console.url}/console/attendance/users/{employee}?month={month}")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    console.shot(phone, "attendance-calendar-390")
    phone.context.close()

    # Another person's calendar: 404, as the API would not show their rows.
    other = console.other_employee
    r = page.goto(f"{console.url}/console/attendance/users/{other}?month={month}")
    assert r is not None and r.status == 404
    assert page.locator("[data-error-code=not_found]").count() == 1
    r = page.goto(f"{console.url}/console/attendance/users/nobody-such?month={month}")
    assert r is not None and r.status == 404
    page.context.close()

    # An attendance-group manager: a member of their group yes, someone outside no.
    manager, groups = _manager(console)
    inside = sorted(_group_members(console, groups) - {manager})[0]
    with console.engine.connect() as conn:
        everybody = set(conn.execute(select(attendance_group_members.c.userid)).scalars())
    outside = sorted(everybody - _group_members(console, groups) - {manager})[0]
    cookies = {COOKIE: console.api_token(manager)}
    r = httpx.get(f"{console.url}/console/attendance/users/{inside}", cookies=cookies)
    assert r.status_code == 200
    r = httpx.get(f"{console.url}/console/attendance/users/{outside}", cookies=cookies)
    assert r.status_code == 404


@pytest.mark.parametrize("role", ["hr", "sub_admin"])
def test_the_export_downloads_the_apis_monthly_summary(console: Console, role: str) -> None:
    userid = _roles(console)[role]
    month = _month(console)
    api = _all_monthly(console, userid, month=month)
    page = console.page_as(userid)
    page.goto(f"{console.url}/console/attendance?month={month}")
    with page.expect_download() as info:
        page.click("[data-testid=export-button]")
    content = open(info.value.path(), "rb").read()
    ws = openpyxl.load_workbook(io.BytesIO(content), read_only=True)["月度汇总"]
    rows = list(ws.iter_rows(values_only=True))
    header = list(rows[2])
    labels = [m["label"] for m in console.api(userid, "/api/attendance/monthly")["metrics"]]
    assert header[5:] == labels
    keys = [m["key"] for m in console.api(userid, "/api/attendance/monthly")["metrics"]]
    exported = {r[header.index("UserId")]: [float(x or 0) for x in r[5:]] for r in rows[3:] if r[0]}
    listed = {r["userid"]: [r["metrics"][k] for k in keys] for r in api}
    if role == "sub_admin" and userid not in exported:
        # The rules: own attendance is listed but not exported (a sub-administrator exports
        # their scope), so their own row is the only one that may be missing.
        listed.pop(userid, None)
    assert exported == listed and exported
    page.context.close()


def test_the_department_chart_says_what_its_bars_count(console: Console) -> None:
    """The first bar is the top department's direct members only (the API's rule), and the
    chart says so; the other bars are sub-departments with their subtrees."""
    admin = console.main_admin
    month = _month(console)
    stats = console.api(admin, "/api/attendance/stats", month=month)
    page = console.page_as(admin)
    page.goto(f"{console.url}/console/attendance?month={month}")
    page.wait_for_selector("[data-chart=c-att-dept][data-chart-ready]")
    labels = page.evaluate(
        "echarts.getInstanceByDom(document.querySelector('[data-chart=c-att-dept]'))"
        ".getOption().xAxis[0].data"
    )
    names = [d["name"] for d in stats["by_department"]]
    assert stats["by_department"][0]["dept_id"] == 1
    assert labels == [f"{names[0]}（直属）", *names[1:]]
    note = page.locator("[data-testid=dept-chart-note]").inner_text()
    assert "直属" in note and "各计一次" in note
    page.context.close()


def test_only_problems_are_painted_red_in_the_monthly_summary(console: Console) -> None:
    """月度汇总 paints a value red (``att-hit``) only for problem metrics (late, early, missing
    punches, absence) and only when it is not 0; a normal number — 休息天数, 工作时长(分钟),
    overtime, 应出勤天数 — is never red, whatever its value."""
    from dingsync.web.console.pages.attendance import PROBLEM_METRICS

    month = _month(console)
    page = console.page_as(console.main_admin)
    page.goto(f"{console.url}/console/attendance?month={month}")
    cells = page.locator("[data-testid=rows] tbody td[data-metric]").evaluate_all(
        "tds => tds.map(td => [td.dataset.metric, td.textContent.trim(),"
        " td.classList.contains('att-hit')])"
    )
    page.context.close()
    assert cells
    for key in ("rest_days", "work_minutes"):  # normal values the page has, non-zero
        assert any(k == key and float(v) > 0 for k, v, _ in cells if v != "—"), key
    assert any(k in PROBLEM_METRICS and hit for k, _, hit in cells)  # problems are still red
    for key, text, hit in cells:
        problem = key in PROBLEM_METRICS and text != "—" and float(text) != 0
        assert hit == problem, (key, text, hit)
