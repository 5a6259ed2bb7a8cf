"""A bad filter value on any console page with filters is the page itself — status 200, its
filter form kept — with an inline ``<div class="alert bad" data-testid="error">`` in Chinese
naming the field, never the API's English message nor a full-page 422 (the precedent of 日志;
:mod:`dingsync.web.console.params`). The JSON API keeps its English 422s."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from dingsync.web.console.session import COOKIE

from .conftest import Console

#: Fragments of the API's English refusals: none may reach a console page.
ENGLISH = (
    "must look like",
    "need start_date",
    "is before",
    "out of range",
    "longer than",
    "no report template",
    "must be",
    "request is not valid",
    "different templates",
)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_ALERT = re.compile(r'<div class="alert bad" data-testid="error">([^<]*)</div>')

TODAY = date.today()
LATER, EARLIER = str(TODAY - timedelta(days=3)), str(TODAY - timedelta(days=10))

#: (who, path, query, the field the message names, the filter form's mark in the page)
CASES: list[tuple[str, str, dict[str, str], str, str]] = [
    ("hr", "/console/attendance", {"month": "2026-13"}, "月份", 'action="/console/attendance"'),
    ("hr", "/console/attendance", {"month": "abc"}, "月份", 'action="/console/attendance"'),
    ("hr", "/console/attendance", {"dept_id": "x"}, "部门", 'action="/console/attendance"'),
    ("hr", "/console/attendance", {"page": "0"}, "页码", 'action="/console/attendance"'),
    (
        "hr",
        "/console/attendance/daily",
        {"start_date": "2026-02-30"},
        "开始日期",
        'action="/console/attendance/daily"',
    ),
    (
        "hr",
        "/console/attendance/daily",
        {"start_date": LATER, "end_date": EARLIER},
        "结束日期",
        'action="/console/attendance/daily"',
    ),
    (
        "hr",
        "/console/attendance/records",
        {"end_date": "nope"},
        "结束日期",
        'action="/console/attendance/records"',
    ),
    (
        "hr",
        "/console/attendance/records",
        {"start_date": LATER, "end_date": EARLIER},
        "结束日期",
        'action="/console/attendance/records"',
    ),
    (
        "hr",
        "/console/attendance/records",
        {"start_date": str(TODAY - timedelta(days=400)), "end_date": str(TODAY)},
        "366 天",
        'action="/console/attendance/records"',
    ),
    (
        "hr",
        "/console/attendance/records",
        {"check_type": "Lunch"},
        "打卡类型",
        'action="/console/attendance/records"',
    ),
    ("employee", "/console/attendance/users/{me}", {"month": "2026-13"}, "月份", "prev-month"),
    (
        "main_admin",
        "/console/approvals",
        {"start_date": "2026-1-5"},
        "开始日期",
        'action="/console/approvals"',
    ),
    (
        "main_admin",
        "/console/approvals",
        {"status": "DONE"},
        "审批状态",
        'action="/console/approvals"',
    ),
    (
        "main_admin",
        "/console/approvals",
        {"start_date": LATER, "end_date": EARLIER},
        "结束日期",
        'action="/console/approvals"',
    ),
    (
        "main_admin",
        "/console/approvals/stats",
        {"start_date": LATER, "end_date": EARLIER},
        "结束日期",
        'action="/console/approvals/stats"',
    ),
    (
        "main_admin",
        "/console/approvals/stats",
        {"dept_id": "abc"},
        "发起人部门",
        'action="/console/approvals/stats"',
    ),
    (
        "main_admin",
        "/console/reports",
        {"start_date": LATER, "end_date": EARLIER},
        "结束日期",
        'action="/console/reports"',
    ),
    ("main_admin", "/console/reports", {"offset": "x"}, "页码", 'action="/console/reports"'),
    (
        "main_admin",
        "/console/reports/stats",
        {"template": "没有这个模板"},
        "日志模板",
        'action="/console/reports/stats"',
    ),
    (
        "main_admin",
        "/console/reports/stats",
        {"start_date": LATER, "end_date": EARLIER},
        "结束日期",
        'action="/console/reports/stats"',
    ),
    ("main_admin", "/console/directory", {"page": "x"}, "页码", 'action="/console/directory"'),
    (
        "main_admin",
        "/console/directory/leavers",
        {"page": "x"},
        "页码",
        'action="/console/directory/leavers"',
    ),
    ("main_admin", "/console/exports", {"page": "x"}, "页码", 'data-testid="audit"'),
    # a department the synced directory does not have: said, as 通讯录 says it
    ("hr", "/console/attendance", {"dept_id": "999999"}, "999999", 'action="/console/attendance"'),
    (
        "hr",
        "/console/attendance/daily",
        {"dept_id": "999999"},
        "999999",
        'action="/console/attendance/daily"',
    ),
    (
        "main_admin",
        "/console/reports",
        {"dept_id": "999999"},
        "999999",
        'action="/console/reports"',
    ),
    (
        "main_admin",
        "/console/reports/stats",
        {"dept_id": "999999"},
        "999999",
        'action="/console/reports/stats"',
    ),
]


def _who(console: Console, role: str) -> str:
    return {"hr": console.hr, "employee": console.employee, "main_admin": console.main_admin}[role]


def _get(console: Console, userid: str, path: str, query: dict[str, Any]) -> httpx.Response:
    return httpx.get(
        f"{console.url}{path.format(me=userid)}",
        params=query,
        cookies={COOKIE: console.api_token(userid)},
        timeout=60,
    )


@pytest.mark.parametrize(("role", "path", "query", "field", "form"), CASES)
def test_a_bad_filter_is_an_inline_chinese_alert_on_the_page(
    console: Console, role: str, path: str, query: dict[str, str], field: str, form: str
) -> None:
    r = _get(console, _who(console, role), path, query)
    assert r.status_code == 200, (path, query, r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("text/html")
    assert form in r.text, (path, "the filter form is kept")
    assert 'data-error-code="request.invalid"' not in r.text  # not the full-page error
    alerts = _ALERT.findall(r.text)
    assert alerts, (path, query, "no inline alert")
    assert any(field in a for a in alerts), (field, alerts)
    for alert in alerts:
        assert _CJK.search(alert), alert
    for english in ENGLISH:
        assert english not in r.text, (path, query, english)


def test_good_filters_show_no_alert(console: Console) -> None:
    """The alert is for bad values only: the same pages with good filters have none."""
    hr = console.hr
    for path, query in (
        ("/console/attendance", {"month": TODAY.strftime("%Y-%m")}),
        ("/console/attendance/daily", {"start_date": EARLIER, "end_date": LATER}),
        ("/console/attendance/records", {"check_type": "OnDuty"}),
        ("/console/approvals", {"status": "COMPLETED"}),
    ):
        r = _get(console, hr, path, query)
        assert r.status_code == 200 and 'data-testid="error"' not in r.text, (path, r.text[:300])


def test_the_json_api_keeps_its_english_422s(console: Console) -> None:
    headers = {"Authorization": f"Bearer {console.api_token(console.hr)}"}
    for path, query, message in (
        ("/api/attendance/monthly", {"month": "2026-13"}, None),
        ("/api/attendance/records", {"start_date": LATER, "end_date": EARLIER}, "need start_date"),
        ("/api/attendance/daily", {"start_date": LATER, "end_date": EARLIER}, "need start_date"),
        ("/api/reports", {"start_date": LATER, "end_date": EARLIER}, "is before"),
    ):
        r = httpx.get(f"{console.url}{path}", params=query, headers=headers, timeout=60)
        assert r.status_code == 422, (path, r.text)
        body = r.json()["error"]
        assert body["code"] == "request.invalid" and not _CJK.search(body["message"])
        if message:
            assert message in body["message"]


def test_in_a_browser_the_alert_shows_and_the_form_stays(console: Console) -> None:
    """A real browser: 月度汇总 opened with ``month=2026-13`` shows the page with the alert; on
    原始记录 an end date before the start date, submitted through the form (htmx swaps the
    results), shows the alert in place of the rows, the form still there."""
    page = console.page_as(console.hr)
    page.goto(f"{console.url}/console/attendance?month=2026-13")
    alert = page.locator("[data-testid=error]")
    assert alert.count() == 1 and alert.is_visible()
    assert "月份" in alert.inner_text() and "2026-13" in alert.inner_text()
    assert page.locator("form[data-testid=filters] [data-testid=f-month]").is_visible()

    page.goto(f"{console.url}/console/attendance/records")
    assert page.locator("[data-testid=error]").count() == 0
    page.fill("[data-testid=f-start]", LATER)
    page.fill("[data-testid=f-end]", EARLIER)
    with page.expect_response(lambda r: "/console/attendance/records?" in r.url) as answer:
        page.click("form[data-testid=filters] button[type=submit]")
    assert answer.value.status == 200
    alert = page.locator("#att-body [data-testid=error]")
    alert.wait_for(state="visible")
    text = alert.inner_text()
    assert "结束日期" in text and _CJK.search(text), text
    assert not any(english in text for english in ENGLISH)
    assert page.locator("form[data-testid=filters] [data-testid=f-start]").input_value() == LATER
    assert page.locator("[data-testid=rows] tbody tr[data-userid]").count() == 0
    console.shot(page, "attendance-records-bad-span")
    page.context.close()


@pytest.mark.parametrize(
    "form",
    [
        {"format": "xlsx", "month": "2026-13"},
        {"format": "xlsx", "dept_id": "abc"},
        {"format": "pdf"},
    ],
)
def test_a_refused_console_export_says_why_in_chinese(
    console: Console, form: dict[str, str]
) -> None:
    """``POST /console/export/attendance`` (a form's action, not a page with filters) refused:
    the console's error page, 422 ``request.invalid``, its message in Chinese."""
    hr = console.hr
    page = _get(console, hr, "/console/attendance", {})
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert csrf, "the page carries the CSRF token"
    r = httpx.post(
        f"{console.url}/console/export/attendance",
        data={"csrf_token": csrf.group(1), **form},
        cookies={COOKIE: console.api_token(hr)},
        timeout=60,
    )
    assert r.status_code == 422 and 'data-error-code="request.invalid"' in r.text, r.text[:300]
    message = re.search(r'data-error-code="request.invalid">\s*<p>([^<]*)</p>', r.text)
    assert message and _CJK.search(message.group(1)), r.text[:500]
    for english in (*ENGLISH, "invalid filters", "must be"):
        assert english not in r.text, english


@pytest.mark.parametrize(
    ("kind", "page", "form"),
    [
        ("attendance", "/console/attendance", {"format": "xlsx"}),
        ("reports", "/console/reports", {"format": "xlsx", "template": "日报"}),
        ("compliance", "/console/reports/stats", {"format": "xlsx", "template": "日报"}),
    ],
)
def test_an_export_for_an_unknown_department_is_refused_without_an_audit_row(
    console: Console, kind: str, page: str, form: dict[str, str]
) -> None:
    """A console export with ``dept_id=999999`` (no such department synced) is refused — 422
    with "部门“999999”不存在…" in Chinese — and writes no file and no audit row (it wrote an
    empty file and audited it)."""
    admin = console.main_admin
    before = console.api(admin, "/api/exports/audit", limit=1)["total"]
    html = _get(console, admin, page, {}).text
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert csrf
    r = httpx.post(
        f"{console.url}/console/export/{kind}",
        data={"csrf_token": csrf.group(1), "dept_id": "999999", **form},
        cookies={COOKIE: console.api_token(admin)},
        timeout=60,
    )
    assert r.status_code == 422 and 'data-error-code="request.invalid"' in r.text, r.text[:300]
    assert "content-disposition" not in r.headers
    assert "部门“999999”不存在" in r.text
    assert console.api(admin, "/api/exports/audit", limit=1)["total"] == before


@pytest.mark.parametrize(
    "path", ["/console/attendance/daily", "/console/attendance/records", "/console/reports"]
)
def test_a_start_date_in_the_future_alone_is_an_empty_list_not_an_alert(
    console: Console, path: str
) -> None:
    """Only ``start_date``, after today: the page lists nothing, with no "end before start"
    alert (the end defaults to that day, as ``GET /api/attendance/daily``, ``…/records`` and
    ``GET /api/reports`` answer 200 with no rows for the same query), and the filter form
    shows both days."""
    later = str(date.fromtimestamp(console.clock()) + timedelta(days=5))
    r = _get(console, console.hr, path, {"start_date": later})
    assert r.status_code == 200, r.text[:300]
    assert _ALERT.search(r.text) is None, _ALERT.search(r.text)
    assert 'data-total="0"' in r.text and not re.search(r'data-total="[1-9]', r.text)
    assert f'name="start_date" value="{later}"' in r.text
    assert f'name="end_date" value="{later}"' in r.text
    api = console.api(console.hr, path.replace("/console/", "/api/"), start_date=later)
    assert api["total"] == 0 and api["items"] == []
