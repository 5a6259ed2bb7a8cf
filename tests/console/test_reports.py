"""日志 pages in a real browser: the list, one report and 日志统计 show exactly what the API
answers the same person (``GET /api/reports``, ``/api/reports/{id}``, ``/api/reports/stats``),
for an employee, a department head, a sub-administrator and the main administrator; the heat
map's points and the department totals are the API's numbers, and those are the compliance
export's; the export button downloads the API's rows and is absent for an employee."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from typer.testing import CliRunner

from dingsync.cli import app as cli_app
from dingsync.export.reports import template_columns
from dingsync.store import repo_reports
from dingsync.web.console.pages.reports import STATUS_ORDER
from dingsync.web.console.session import COOKIE

from .conftest import Console

ROLES = ("employee", "leader", "sub_admin", "main_admin")
TEMPLATE = "销售日报"


def _userid(console: Console, role: str) -> str:
    return str(getattr(console, role))


def _all_reports(console: Console, userid: str, **params: Any) -> list[dict[str, Any]]:
    """Every report ``GET /api/reports`` lists to ``userid`` with ``params``."""
    items: list[dict[str, Any]] = []
    while True:
        body = console.api(userid, "/api/reports", **params, limit=500, offset=len(items))
        items += body["items"]
        if len(items) >= body["total"]:
            return items


def _shown(page: Any) -> tuple[int, list[str], dict[str, str]]:
    """The list's total, its rows' report ids and its date inputs."""
    total = int(page.get_attribute("[data-testid=results]", "data-total"))
    ids = page.locator("tr[data-report-id]").evaluate_all("els => els.map(e => e.dataset.reportId)")
    dates = {
        "start_date": page.input_value("[data-testid=f-start]"),
        "end_date": page.input_value("[data-testid=f-end]"),
    }
    return total, ids, dates


def _wait_swapped(page: Any, fragment: str) -> None:
    page.wait_for_url(f"**{fragment}**")
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("role", ROLES)
def test_the_list_is_the_apis_list_and_filters_narrow_it(console: Console, role: str) -> None:
    userid = _userid(console, role)
    page = console.page_as(userid)
    page.goto(f"{console.url}/console/reports")
    total, ids, dates = _shown(page)
    api = console.api(userid, "/api/reports", **dates, limit=20)
    assert total == api["total"] > 0
    assert ids == [i["report_id"] for i in api["items"]]
    console.shot(page, f"reports-list-{role}")

    # 模板: htmx swaps the rows, pushes the URL, and the template's fields become columns.
    template = next(
        t
        for t in ("日报", "销售日报")
        if console.api(userid, "/api/reports", template=t, **dates, limit=1)["total"]
    )
    page.select_option("[data-testid=f-template]", template)
    _wait_swapped(page, "template=")
    by_template, ids, dates = _shown(page)
    api = console.api(userid, "/api/reports", template=template, **dates, limit=20)
    assert by_template == api["total"] and 0 < by_template < total
    assert ids == [i["report_id"] for i in api["items"]]
    headers = page.locator("th[data-field]").evaluate_all("els => els.map(e => e.dataset.field)")
    with console.engine.connect() as conn:
        assert headers == template_columns(conn, console.corp_id, template)
        fields = repo_reports.template_fields(conn, console.corp_id, template)
    assert fields and headers[: len(fields)] == fields
    first = console.api(userid, f"/api/reports/{ids[0]}")
    cells = page.locator(f"tr[data-report-id='{ids[0]}'] td.field").evaluate_all(
        "els => els.map(e => e.title)"
    )
    values = {c["key"]: c["value"] or "" for c in first["contents"]}
    assert cells == [values.get(h, "") for h in headers]
    console.shot(page, f"reports-list-template-{role}")

    # 提交人: one of the people listed.
    creators = page.locator("[data-testid=f-creator] option").evaluate_all(
        "els => els.map(e => e.value).filter(Boolean)"
    )
    creator = next(
        c
        for c in creators
        if console.api(userid, "/api/reports", template=template, creator=c, **dates, limit=1)[
            "total"
        ]
    )
    page.select_option("[data-testid=f-creator]", creator)
    _wait_swapped(page, f"creator={creator}")
    by_creator, ids, _ = _shown(page)
    api = console.api(userid, "/api/reports", template=template, creator=creator, **dates, limit=20)
    assert by_creator == api["total"] and 0 < by_creator <= by_template
    assert ids == [i["report_id"] for i in api["items"]]
    page.context.close()


def test_department_dates_and_paging_work_without_javascript(console: Console) -> None:
    """A plain GET with query parameters gives the same rows (no htmx); 部门 and dates narrow;
    the pager's next page is the API's next page."""
    admin = console.main_admin
    cookies = {COOKIE: console.api_token(admin)}
    end = date.today()
    start = end - timedelta(days=10)
    dept = console.api(admin, "/api/departments")["tree"]["children"][0]["dept_id"]
    for params in (
        {"start_date": str(start), "end_date": str(end)},
        {"start_date": str(start), "end_date": str(end), "dept_id": dept},
        {"start_date": str(start), "end_date": str(end), "offset": 20},
    ):
        r = httpx.get(f"{console.url}/console/reports", params=params, cookies=cookies)
        assert r.status_code == 200
        api = console.api(admin, "/api/reports", **params, limit=20)
        assert f'data-total="{api["total"]}"' in r.text
        for item in api["items"]:
            assert f'data-report-id="{item["report_id"]}"' in r.text
    everything = console.api(admin, "/api/reports", limit=1)["total"]
    narrowed = console.api(
        admin, "/api/reports", start_date=str(start), end_date=str(end), dept_id=dept, limit=1
    )["total"]
    assert narrowed < everything
    # A malformed filter is a message in the page, not an error.
    r = httpx.get(f"{console.url}/console/reports?start_date=nope", cookies=cookies)
    assert r.status_code == 200 and 'data-testid="error"' in r.text and "开始日期" in r.text


def _hidden_report(console: Console, userid: str) -> str:
    """A report ``userid`` may not read (neither created nor received)."""
    mine = {i["report_id"] for i in _all_reports(console, userid)}
    everyone = _all_reports(console, console.main_admin)
    return next(i["report_id"] for i in everyone if i["report_id"] not in mine)


@pytest.mark.parametrize("role", ROLES)
def test_one_report_opens_and_another_persons_is_404(console: Console, role: str) -> None:
    userid = _userid(console, role)
    page = console.page_as(userid)
    page.goto(f"{console.url}/console/reports")
    report_id = page.get_attribute("tr[data-report-id]", "data-report-id")
    page.click(f"tr[data-report-id='{report_id}'] [data-testid=open-report]")
    page.wait_for_url(f"**/console/reports/{report_id}")
    api = console.api(userid, f"/api/reports/{report_id}")
    fields = page.locator("[data-testid=contents] [data-field]").evaluate_all(
        "els => els.map(e => e.dataset.field)"
    )
    assert fields == [c["key"] for c in api["contents"]]
    receivers = page.locator("[data-testid=receivers] [data-userid]").evaluate_all(
        "els => els.map(e => e.dataset.userid)"
    )
    assert receivers == api["receivers"]
    names = {u.userid: u.name for u in console.company.users.values()}
    for u in api["receivers"][:3]:
        assert names[u] in page.inner_text("[data-testid=receivers]")
    assert page.locator("[data-testid=comments] .comment").count() == len(api["comments"])
    stats = api["statistics"]
    assert page.inner_text("[data-testid=read-num]") == str(stats["read_num"])
    assert page.inner_text("[data-testid=like-num]") == str(stats["like_num"])
    assert page.inner_text("[data-testid=comment-num]") == str(stats["comment_num"])
    console.shot(page, f"report-detail-{role}")

    if role != "main_admin":
        hidden = _hidden_report(console, userid)
        token = console.api_token(userid)
        r = httpx.get(
            f"{console.url}/api/reports/{hidden}", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 404
        response = page.goto(f"{console.url}/console/reports/{hidden}")
        assert response is not None and response.status == 404
        assert page.locator("[data-error-code=not_found]").count() == 1
    page.context.close()


def _daily_template(console: Console, userid: str) -> str:
    """A daily template in which ``userid`` has people to count (templates differ by team)."""
    for template in ("日报", "销售日报"):
        if console.api(userid, "/api/reports/stats", template=template, limit=1)["total"]:
            return template
    raise AssertionError(f"{userid} has no daily template to count")


def _stats_range() -> dict[str, str]:
    end = date.today() - timedelta(days=1)
    return {"start_date": str(end - timedelta(days=20)), "end_date": str(end)}


def _chart(page: Any, chart_id: str) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """id => {
              const o = echarts.getInstanceByDom(document.querySelector(`[data-chart=${id}]`))
                .getOption();
              return {x: o.xAxis[0].data, y: o.yAxis[0].data,
                      series: o.series.map(s => ({name: s.name, data: s.data}))};
            }""",
            chart_id,
        )
    )


@pytest.mark.parametrize("role", ROLES)
def test_stats_heat_map_and_departments_are_the_apis_numbers(console: Console, role: str) -> None:
    userid = _userid(console, role)
    span = _stats_range()
    template = _daily_template(console, userid)
    api = console.api(userid, "/api/reports/stats", template=template, **span, limit=40)
    page = console.page_as(userid)
    page.goto(f"{console.url}/console/reports/stats?template={template}&" + _query(span))
    page.wait_for_selector("[data-chart-ready]")
    heat = _chart(page, "c-rp-heatmap")
    assert len(heat["x"]) == len(api["dates"])
    assert heat["y"] == [p["name"] for p in api["people"]]
    people = [p["userid"] for p in api["people"]]
    points = sorted(
        (people[v[1]], api["dates"][v[0]], STATUS_ORDER[v[2]])
        for v in (d["value"] for d in heat["series"][0]["data"])
    )
    assert points == sorted((d["userid"], d["day"], d["status"]) for d in api["days"])
    assert points, "the heat map has no points"
    statuses = {p[2] for p in points}
    if role == "main_admin":
        assert statuses == set(STATUS_ORDER)
    if role in ("employee", "leader"):
        assert people == [userid]  # only their own submissions are theirs to count
    else:
        assert userid in people or not any(d["userid"] == userid for d in api["days"])
        assert len(people) > 1

    bars = _chart(page, "c-rp-depts")
    assert bars["x"] == [d["name"] for d in api["departments"]]
    by_name = {s["name"]: s["data"] for s in bars["series"]}
    assert by_name["已提交"] == [d["submitted"] for d in api["departments"]]
    assert by_name["迟交"] == [d["late"] for d in api["departments"]]
    assert by_name["未提交"] == [d["missing"] for d in api["departments"]]
    rows = page.locator("[data-testid=dept-table] tbody tr").evaluate_all(
        "els => els.map(e => [...e.cells].map(c => c.innerText.trim()))"
    )
    assert rows == [
        [
            d["name"],
            str(d["people"]),
            str(d["expected"]),
            str(d["submitted"]),
            str(d["late"]),
            str(d["missing"]),
            f"{d['rate'] * 100:.1f}%",
        ]
        for d in api["departments"]
    ]
    totals = api["totals"]
    for key in ("expected", "submitted", "late", "missing"):
        assert page.inner_text(f"[data-testid=t-{key}]") == str(totals[key])
    console.shot(page, f"reports-stats-{role}")
    page.context.close()


#: The x-axis labels ECharts drew on chart ``id`` (not those it hid), as rotated rectangles:
#: the pairs of them that overlap (separating-axis test on the axes of their rotation) and the
#: leftmost x any of them reaches (below 0: cut off by the chart's edge).
LABEL_OVERLAPS = r"""id => {
  const chart = echarts.getInstanceByDom(document.querySelector(`[data-chart=${id}]`));
  const names = chart.getOption().xAxis[0].data.map(String);
  const boxes = [];
  for (const el of chart.getZr().storage.getDisplayList()) {
    const t = el.style && el.style.text;
    if (typeof t !== 'string' || el.ignore || el.invisible || !(el.style.opacity ?? 1)) continue;
    const stem = t.replace(/(\.\.\.|…)$/, '');
    if (!stem || !names.some(n => n.startsWith(stem))) continue;
    const r = el.getBoundingRect(), m = el.getComputedTransform() || [1, 0, 0, 1, 0, 0];
    const pts = [[r.x, r.y], [r.x + r.width, r.y], [r.x, r.y + r.height],
                 [r.x + r.width, r.y + r.height]]
      .map(([x, y]) => [m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]]);
    boxes.push({text: t, pts, axes: [[m[0], m[1]], [m[2], m[3]]]});
  }
  const span = (pts, a) => {
    const d = pts.map(p => p[0] * a[0] + p[1] * a[1]);
    return [Math.min(...d), Math.max(...d)];
  };
  const overlaps = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i], b = boxes[j];
    const apart = a.axes.some(ax => {
      const [a0, a1] = span(a.pts, ax), [b0, b1] = span(b.pts, ax);
      return a1 <= b0 + 0.5 || b1 <= a0 + 0.5;
    });
    if (!apart) overlaps.push([a.text, b.text]);
  }
  const left = Math.min(...boxes.flatMap(b => b.pts.map(p => p[0])));
  return {shown: boxes.map(b => b.text), overlaps, left};
}"""


@pytest.mark.parametrize("width", (390, 1366))
@pytest.mark.parametrize("role", ("sub_admin", "main_admin"))
def test_stats_department_names_do_not_run_into_each_other(
    console: Console, role: str, width: int
) -> None:
    """The departments' bar chart names its bars without overlapping labels (side by side,
    ten department names already ran into each other at 1366 px, and fewer on a phone), and
    the first one is not cut off by the chart's left edge."""
    userid = _userid(console, role)
    span = _stats_range()
    answers = {
        t: console.api(userid, "/api/reports/stats", template=t, **span, limit=40)
        for t in ("日报", "销售日报", "周报", "项目周报")
    }
    template, api = max(answers.items(), key=lambda kv: len(kv[1]["departments"]))
    assert len(api["departments"]) >= 3, "too few departments to crowd the axis"
    page = console.page_as(userid, width=width)
    page.goto(f"{console.url}/console/reports/stats?template={template}&" + _query(span))
    page.wait_for_selector("[data-chart-ready]")
    page.wait_for_timeout(300)  # ECharts lays its labels out on the next frame
    labels = page.evaluate(LABEL_OVERLAPS, "c-rp-depts")
    assert labels["overlaps"] == [], labels
    assert labels["left"] >= 0, labels  # the first tilted name is not cut off
    assert len(labels["shown"]) >= min(4, len(api["departments"])), labels
    page.context.close()


def _query(params: dict[str, Any]) -> str:
    return str(httpx.QueryParams(params))


def test_stats_filters_by_department_through_htmx(console: Console) -> None:
    admin = console.main_admin
    span = _stats_range()
    template = "销售日报"  # kept by people in several departments
    page = console.page_as(admin)
    page.goto(f"{console.url}/console/reports/stats?template={template}&" + _query(span))
    everyone = console.api(admin, "/api/reports/stats", template=template, **span, limit=40)
    dept = next(d["dept_id"] for d in everyone["departments"] if d["dept_id"] not in (None, 1))
    page.select_option("[data-testid=f-dept]", str(dept))
    _wait_swapped(page, f"dept_id={dept}")
    page.wait_for_selector("[data-chart-ready]")
    api = console.api(
        admin, "/api/reports/stats", template=template, **span, dept_id=dept, limit=40
    )
    assert 0 < api["total"] < everyone["total"]
    heat = _chart(page, "c-rp-heatmap")
    assert heat["y"] == [p["name"] for p in api["people"]]
    assert len(heat["series"][0]["data"]) == len(api["days"])
    assert page.inner_text("[data-testid=t-expected]") == str(api["totals"]["expected"])


def test_the_stats_api_agrees_with_the_compliance_export(console: Console, tmp_path: Path) -> None:
    """``dingsync reports compliance`` (the CLI and its workbook) and ``/api/reports/stats``
    give the main administrator the same statuses and department totals."""
    span = _stats_range()
    api = console.api(
        console.main_admin, "/api/reports/stats", template=TEMPLATE, **span, limit=500
    )
    out = tmp_path / "compliance.xlsx"
    result = CliRunner().invoke(
        cli_app,
        [
            "reports",
            "compliance",
            "--template",
            TEMPLATE,
            "--from",
            span["start_date"],
            "--to",
            span["end_date"],
            "--format",
            "xlsx",
            "-o",
            str(out),
            "--database-url",
            str(console.engine.url),
            "--corp-id",
            console.corp_id,
        ],
    )
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(out, read_only=True)
    labels = {"已提交": "submitted", "迟交": "late", "未提交": "missing"}
    details = list(wb["明细"].iter_rows(min_row=2, values_only=True))
    assert sorted(
        (str(r[2]), r[3].date().isoformat(), labels[str(r[4])]) for r in details
    ) == sorted((d["userid"], d["day"], d["status"]) for d in api["days"])
    depts = list(wb["部门提交率"].iter_rows(min_row=2, values_only=True))
    assert [
        (r[0], r[1], r[2], r[3], r[4], r[5], r[6], float(r[7]), float(r[8])) for r in depts
    ] == [
        (
            d["dept_id"],
            d["name"],
            d["people"],
            d["expected"],
            d["submitted"],
            d["late"],
            d["missing"],
            d["rate"],
            d["on_time_rate"],
        )
        for d in api["departments"]
    ]
    assert len(details) == api["totals"]["expected"]
    # the workbook names the rule the API counted by
    rule = list(wb["统计规则"].iter_rows(min_row=2, values_only=True))
    assert [(r[1], r[3]) for r in rule] == [(api["rule"]["text"], api["rule"]["must_submit"])]


def test_the_stats_page_names_the_rule_it_counted_by(console: Console) -> None:
    """日志统计 says which rule it used: 日报's DingTalk 统计规则 (its windows and how many must
    submit), the default rule for a template without one — the API's ``rule``."""
    span = _stats_range()
    page = console.page_as(console.main_admin)
    for template, source in (("日报", "dingtalk"), ("销售日报", "default")):
        api = console.api(console.main_admin, "/api/reports/stats", template=template, **span)
        assert api["rule"]["source"] == source
        page.goto(f"{console.url}/console/reports/stats?template={template}&" + _query(span))
        shown = page.inner_text("[data-testid=rule-used]")
        assert api["rule"]["text"] in shown


@pytest.mark.parametrize("role", ("main_admin", "sub_admin"))
def test_the_export_button_downloads_the_apis_rows(console: Console, role: str) -> None:
    userid = _userid(console, role)
    page = console.page_as(userid)
    page.goto(f"{console.url}/console/reports?template={TEMPLATE}")
    _, _, dates = _shown(page)
    with page.expect_download() as download:
        page.click("[data-testid=export]")
    assert download.value.suggested_filename.endswith(".xlsx")
    with open(download.value.path(), "rb") as fh:
        wb = openpyxl.load_workbook(fh, read_only=True)
        sheet = wb.worksheets[0]
        header = next(sheet.iter_rows(max_row=1, values_only=True))
        exported = [str(r[0]) for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert header[0] == "日志ID"
    listed = [i["report_id"] for i in _all_reports(console, userid, template=TEMPLATE, **dates)]
    assert sorted(exported) == sorted(listed) and listed
    page.context.close()


def test_an_employee_has_no_export_button(console: Console) -> None:
    page = console.page_as(console.employee)
    page.goto(f"{console.url}/console/reports?template={TEMPLATE}")
    assert page.locator("[data-testid=results]").count() == 1
    assert page.locator("[data-testid=export]").count() == 0
    page.context.close()


def test_the_list_and_the_stats_at_phone_width(console: Console) -> None:
    page = console.page_as(console.sub_admin, width=390, height=844)
    page.goto(f"{console.url}/console/reports?template={TEMPLATE}")
    assert page.locator("tr[data-report-id]").count() > 0
    # The table scrolls inside its frame; the page itself does not scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    console.shot(page, "reports-list-phone")
    page.goto(f"{console.url}/console/reports/stats?template=销售日报")
    page.wait_for_selector("[data-chart-ready]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    console.shot(page, "reports-stats-phone")
    page.context.close()


# --------------------------------------------------------------------------------------------
# 日志统计 export (kind "compliance")
# --------------------------------------------------------------------------------------------
def _stats_all(console: Console, userid: str, **params: Any) -> dict[str, Any]:
    """``GET /api/reports/stats`` with everyone on one page (the sandbox has < 500 people)."""
    body = console.api(userid, "/api/reports/stats", **params, limit=500)
    assert body["total"] == len(body["people"])
    return dict(body)


def _compliance_book(path: str) -> dict[str, list[tuple[Any, ...]]]:
    with open(path, "rb") as fh:  # a download's path has no .xlsx suffix
        wb = openpyxl.load_workbook(fh, read_only=True)
        return {
            ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets
        }


@pytest.mark.parametrize("role", ["main_admin", "sub_admin"])
def test_the_stats_export_button_downloads_the_pages_numbers(console: Console, role: str) -> None:
    from dingsync.export.reports import STATUS_LABELS

    userid = str(getattr(console, role))
    page = console.page_as(userid)
    page.goto(f"{console.url}/console/reports/stats?template={TEMPLATE}")
    dates = {
        "start_date": page.input_value("[data-testid=f-start]"),
        "end_date": page.input_value("[data-testid=f-end]"),
    }
    api = _stats_all(console, userid, template=TEMPLATE, **dates)
    assert api["days"], "the sandbox has 日志统计 data for this range"
    with page.expect_download() as download:
        page.click("[data-testid=export]")
    assert download.value.suggested_filename.endswith(".xlsx")
    book = _compliance_book(str(download.value.path()))
    # 明细: one row per person × working day, as the API's days (dates as date cells)
    details = book["明细"]
    assert details[0] == ("部门", "姓名", "UserID", "日期", "状态")
    got = sorted((r[2], r[3].date().isoformat(), r[4]) for r in details[1:])
    want = sorted((d["userid"], d["day"], STATUS_LABELS[d["status"]]) for d in api["days"])
    assert got == want
    # 个人汇总: the counts as numbers, equal to the API's per person
    people = {r[2]: r[3:7] for r in book["个人汇总"][1:]}
    assert people == {
        p["userid"]: (p["expected"], p["submitted"], p["late"], p["missing"]) for p in api["people"]
    }
    assert all(isinstance(n, int) for counts in people.values() for n in counts)
    # 部门提交率: the page's 部门汇总 table, row for row
    shown = page.locator("[data-testid=dept-table] tbody tr[data-dept-id]").evaluate_all(
        "rows => rows.map(r => [...r.cells].slice(1, 6).map(c => Number(c.textContent.trim())))"
    )
    exported = [list(r[2:7]) for r in book["部门提交率"][1:]]
    assert exported == shown and shown
    # the people on the page's first page are among the export's, with the same counts
    on_page = page.locator("[data-testid=people-table] tbody tr[data-userid]").evaluate_all(
        "rows => rows.map(r => [r.dataset.userid, ...[...r.cells].slice(2, 6)"
        ".map(c => Number(c.textContent.trim()))])"
    )
    assert on_page and all(tuple(row[1:]) == people[row[0]] for row in on_page)
    audit = console.api(console.main_admin, "/api/exports/audit", limit=1)["items"][0]
    assert audit["client"] == "console" and audit["kind"] == "compliance"
    assert audit["row_count"] == len(want)
    # CSV: the same detail rows
    page.select_option("[data-testid=export-format]", "csv")
    with page.expect_download() as download:
        page.click("[data-testid=export]")
    assert download.value.suggested_filename.endswith(".csv")
    with open(download.value.path(), encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == list(details[0])
    assert sorted((r[2], r[3], r[4]) for r in rows[1:]) == want
    if role == "main_admin":
        console.shot(page, "reports-stats-with-export")
    page.context.close()


def test_the_compliance_export_kind_through_the_api(console: Console) -> None:
    """``POST /api/exports`` with ``kind=compliance``: the filters are checked like the others',
    the rows are the stats API's, an unknown template is a 422, and it is audited."""
    admin = console.main_admin
    token = console.api_token(admin)
    headers = {"Authorization": f"Bearer {token}"}
    kinds = httpx.get(f"{console.url}/api/exports/kinds", headers=headers).json()
    assert "compliance" in str(kinds)
    filters = {"template": TEMPLATE, "dept_id": None}
    r = httpx.post(
        f"{console.url}/api/exports",
        headers=headers,
        json={"kind": "compliance", "format": "csv", "filters": filters},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    api = _stats_all(console, admin, template=TEMPLATE)  # the same defaults: the last 28 days
    rows = list(csv.reader(r.content.decode("utf-8-sig").splitlines()))
    assert len(rows) - 1 == len(api["days"]) == int(r.headers["X-Export-Rows"]) > 0
    for bad in ({"template": "没有这个模板"}, {"template": TEMPLATE, "start_date": "2026-1-1"},
                {"template": TEMPLATE, "extra": 1}):  # fmt: skip
        r = httpx.post(
            f"{console.url}/api/exports",
            headers=headers,
            json={"kind": "compliance", "format": "xlsx", "filters": bad},
        )
        assert r.status_code == 422, (bad, r.text)
    r = httpx.post(
        f"{console.url}/api/exports",
        headers={"Authorization": f"Bearer {console.api_token(console.employee)}"},
        json={"kind": "compliance", "format": "xlsx", "filters": {"template": TEMPLATE}},
    )
    assert r.status_code == 403
