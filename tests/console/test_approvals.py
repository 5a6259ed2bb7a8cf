"""审批 pages in a real browser: each person sees exactly what ``GET /api/approvals`` gives
them (an employee their own and those they take part in; another's instance by URL is a 404),
filters narrow the rows as the API's ``total`` says, one instance shows its form with its detail
table and its timeline, the 审批统计 charts hold the numbers of ``GET /api/approvals/stats`` for
the same person and filters, and the export downloads the rows the API lists."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import openpyxl
from sqlalchemy import func, select

from dingsync.store.schema_approvals import (
    approval_detail_rows,
    approval_instances,
    approval_operation_records,
    approval_templates,
)
from dingsync.timeutil import SHANGHAI
from dingsync.web.console.pages.approvals import PAGE_SIZE
from dingsync.web.console.session import COOKIE

from .conftest import Console

ROWS = "[data-testid=approval-rows]"
SERIES = (
    "id => echarts.getInstanceByDom(document.querySelector(`[data-chart=${id}]`))"
    ".getOption().series.map(s => s.data)"
)
XAXIS = (
    "id => echarts.getInstanceByDom(document.querySelector(`[data-chart=${id}]`))"
    ".getOption().xAxis[0].data"
)


def listed(console: Console, userid: str, **filters: Any) -> list[dict[str, Any]]:
    """Every instance ``GET /api/approvals`` lists to ``userid`` with ``filters``."""
    items: list[dict[str, Any]] = []
    while True:
        body = console.api(userid, "/api/approvals", limit=500, offset=len(items), **filters)
        items += body["items"]
        if len(items) >= body["total"]:
            return items


def shown_ids(page: Any) -> list[str]:
    return page.locator(f"{ROWS} tbody tr[data-id]").evaluate_all(
        "rows => rows.map(r => r.dataset.id)"
    )


def shown_total(page: Any) -> int:
    return int(page.locator(ROWS).get_attribute("data-total"))


def _codes(console: Console) -> dict[str, str]:
    with console.engine.connect() as conn:
        rows = conn.execute(select(approval_templates.c.name, approval_templates.c.process_code))
        return {r.name: r.process_code for r in rows}


def test_an_employee_sees_only_their_approvals_and_not_anothers_by_url(console: Console) -> None:
    employee = console.employee
    mine = listed(console, employee)
    assert mine, "the console company gives the employee approvals to see"
    page = console.page_as(employee)
    page.goto(f"{console.url}/console/approvals")
    assert shown_total(page) == len(mine)
    assert shown_ids(page) == [i["process_instance_id"] for i in mine[:PAGE_SIZE]]
    assert page.locator("[data-testid=approval-export]").count() == 0
    console.shot(page, "approvals-list-employee")
    # Their own instance opens; one they take no part in answers 404, like the API.
    page.click(f"{ROWS} tbody tr >> nth=0 >> a.appr-title")
    page.wait_for_url(f"**/console/approvals/{mine[0]['process_instance_id']}")
    assert page.locator("[data-testid=approval-header]").is_visible()
    everything = {i["process_instance_id"] for i in listed(console, console.main_admin)}
    hidden = sorted(everything - {i["process_instance_id"] for i in mine})[0]
    answer = page.goto(f"{console.url}/console/approvals/{hidden}")
    assert answer is not None and answer.status == 404
    assert page.locator('[data-error-code="not_found"]').count() == 1
    token = console.api_token(employee)
    r = httpx.get(
        f"{console.url}/api/approvals/{hidden}", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 404
    r = httpx.get(f"{console.url}/console/approvals/no-such-id", cookies={COOKIE: token})
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    page.context.close()


def test_filters_narrow_the_rows_to_the_apis_total(console: Console) -> None:
    """Main administrator and sub-administrator: every filter, by URL (no JS needed) and by the
    htmx form (URL pushed), shows the API's ``total`` and first page for the same filters."""
    admin, sub = console.main_admin, console.sub_admin
    everything = listed(console, admin)
    assert len(listed(console, sub)) < len(everything)
    codes = _codes(console)
    first = everything[-1]
    dept = next(d.dept_id for d in console.company.children(1))
    middle = everything[len(everything) // 2]["create_time"]
    day = datetime.fromtimestamp(middle / 1000, SHANGHAI).date()
    filter_sets: list[dict[str, Any]] = [
        {},
        {"process_code": codes["请假"]},
        {"status": "COMPLETED", "result": "refuse"},
        {"status": "RUNNING"},
        {"dept_id": dept},
        {"originator": first["originator_userid"]},
        {
            "start_date": day.isoformat(),
            "end_date": (day + timedelta(days=6)).isoformat(),
            "process_code": codes["请假"],
        },
    ]
    narrowed = []
    for userid in (admin, sub):
        page = console.page_as(userid)
        for filters in filter_sets:
            query = "&".join(f"{k}={v}" for k, v in filters.items())
            page.goto(f"{console.url}/console/approvals?{query}")
            api = console.api(userid, "/api/approvals", limit=PAGE_SIZE, **filters)
            assert shown_total(page) == api["total"], (userid, filters)
            assert shown_ids(page) == [i["process_instance_id"] for i in api["items"]]
            if userid == admin and filters:
                narrowed.append(0 < api["total"] < len(everything))
        page.context.close()
    assert all(narrowed), narrowed

    # The htmx form: rows swap in place and the URL is pushed.
    page = console.page_as(admin)
    page.goto(f"{console.url}/console/approvals")
    assert shown_total(page) == len(everything)
    page.select_option("select[name=process_code]", codes["请假"])
    page.wait_for_url("**process_code=**")
    want = console.api(admin, "/api/approvals", process_code=codes["请假"])["total"]
    page.wait_for_selector(f'{ROWS}[data-total="{want}"]')
    page.select_option("select[name=status]", "COMPLETED")
    page.wait_for_url("**status=COMPLETED**")
    want = console.api(admin, "/api/approvals", process_code=codes["请假"], status="COMPLETED")
    page.wait_for_selector(f'{ROWS}[data-total="{want["total"]}"]')
    assert shown_ids(page) == [i["process_instance_id"] for i in want["items"][:PAGE_SIZE]]
    # Paging in place: page 2 follows page 1 in the API's order.
    page.goto(f"{console.url}/console/approvals")
    page.click("[data-testid=pager] a[rel=next]")
    page.wait_for_url("**page=2**")
    second = console.api(admin, "/api/approvals", limit=PAGE_SIZE, offset=PAGE_SIZE)["items"]
    page.wait_for_function(
        "id => document.querySelector('[data-testid=approval-rows] tbody tr[data-id]')"
        ".dataset.id === id",
        arg=second[0]["process_instance_id"],
    )
    assert shown_ids(page) == [i["process_instance_id"] for i in second]
    page.goto(f"{console.url}/console/approvals")
    console.shot(page, "approvals-list-main-admin")
    page.context.close()

    # Without JavaScript the form is a plain GET form.
    context = console.browser.new_context(java_script_enabled=False)
    host = httpx.URL(console.url).host
    context.add_cookies(
        [{"name": COOKIE, "value": console.api_token(sub), "domain": host, "path": "/"}]
    )
    page = context.new_page()
    page.goto(f"{console.url}/console/approvals")
    page.select_option("select[name=status]", "COMPLETED")
    page.click("[data-testid=approval-filters] button[type=submit]")
    page.wait_for_url("**status=COMPLETED**")
    assert shown_total(page) == console.api(sub, "/api/approvals", status="COMPLETED")["total"]
    context.close()


def _rich_instance(console: Console) -> str:
    """A finished instance with a detail table, preferably with a remark's attachment."""
    i, d, o = approval_instances, approval_detail_rows, approval_operation_records
    with console.engine.connect() as conn:
        with_details = select(d.c.process_instance_id)
        with_files = select(o.c.process_instance_id).where(o.c.attachments.is_not(None))
        for extra in (i.c.process_instance_id.in_(with_files), i.c.result == "agree"):
            found = conn.execute(
                select(i.c.process_instance_id)
                .where(i.c.process_instance_id.in_(with_details), extra)
                .order_by(i.c.process_instance_id)
            ).scalar()
            if found:
                return str(found)
    raise AssertionError("no instance with a detail table")


def test_one_instance_shows_its_form_detail_table_and_timeline(console: Console) -> None:
    admin = console.main_admin
    pid = _rich_instance(console)
    detail = console.api(admin, f"/api/approvals/{pid}")
    with console.engine.connect() as conn:
        fields = conn.execute(
            select(approval_templates.c.fields).where(
                approval_templates.c.process_code == detail["process_code"]
            )
        ).scalar_one()
        rows = conn.execute(
            select(func.count())
            .select_from(approval_detail_rows)
            .where(approval_detail_rows.c.process_instance_id == pid)
        ).scalar_one()
        files = [
            a["file_name"]
            for (atts,) in conn.execute(
                select(approval_operation_records.c.attachments).where(
                    approval_operation_records.c.process_instance_id == pid
                )
            )
            for a in atts or []
        ]
    for width, name in ((1280, "approval-instance"), (390, "approval-instance-390")):
        page = console.page_as(admin, width=width)
        page.goto(f"{console.url}/console/approvals/{pid}")
        header = page.locator("[data-testid=approval-header]").inner_text()
        assert detail["business_id"] in header
        # The form in the template's order; the detail table as a table, a row per stored row.
        labels = page.locator("[data-testid=approval-form] .form-label").all_inner_texts()
        want = [f["label"] for f in fields if f["component_name"] != "TextNote"]
        assert labels == want
        table = page.locator("[data-testid=detail-table] table")
        assert table.locator("tbody tr").count() == rows > 0
        heads = table.locator("thead th").all_inner_texts()[1:]
        table_field = next(f for f in fields if f["component_name"] == "TableField")
        assert heads == [c["label"] for c in table_field["children"]]
        first_cell = table.locator("tbody tr >> nth=0 >> td >> nth=1").inner_text()
        assert first_cell.strip() not in ("", "—")
        # The timeline: every operation record, then the tasks still open; the task table.
        pending = [t for t in detail["tasks"] if t["task_status"] in ("RUNNING", "NEW")]
        items = page.locator("[data-testid=timeline-item]")
        assert items.count() == len(detail["operation_records"]) + len(pending)
        remarks = [o["remark"] for o in detail["operation_records"] if o["remark"]]
        text = page.locator("[data-testid=approval-timeline]").inner_text()
        assert all(r in text for r in remarks) and all(f in text for f in files)
        assert page.locator("[data-testid=approval-tasks] tbody tr").count() == len(detail["tasks"])
        # Usable at phone width: nothing wider than the screen but the scrolling tables.
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, overflow
        console.shot(page, name)
        page.context.close()


def test_stats_charts_hold_the_apis_numbers(console: Console) -> None:
    """Employee, sub-administrator and main administrator; the page's default range, then a
    department and a template picked in the form: the charts' points are the API's."""
    codes = _codes(console)
    dept = next(d.dept_id for d in console.company.children(1))
    for userid, shot in (
        (console.employee, None),
        (console.sub_admin, None),
        (console.main_admin, "approvals-stats"),
    ):
        page = console.page_as(userid)
        page.goto(f"{console.url}/console/approvals/stats")
        page.wait_for_selector("[data-chart-ready]")
        start = page.input_value("input[name=start_date]")
        end = page.input_value("input[name=end_date]")
        assert start and end
        for step, filters in enumerate(
            (
                {"start_date": start, "end_date": end},
                {"start_date": start, "end_date": end, "dept_id": dept},
                {
                    "start_date": start,
                    "end_date": end,
                    "dept_id": dept,
                    "process_code": codes["请假"],
                },
            )
        ):
            if step == 1:
                page.select_option("select[name=dept_id]", str(dept))
                page.wait_for_url("**dept_id=**")
            elif step == 2:
                page.select_option("select[name=process_code]", codes["请假"])
                page.wait_for_url("**process_code=**")
            api = console.api(userid, "/api/approvals/stats", **filters)
            templates = api["templates"]
            page.wait_for_function(
                "n => document.querySelector('[data-testid=stat-instances]').textContent.trim()"
                " === String(n)",
                arg=api["instances"],
            )
            page.wait_for_selector("[data-chart=c-appr-template][data-chart-ready]")
            bars, finished, rate = page.evaluate(SERIES, "c-appr-template")
            assert page.evaluate(XAXIS, "c-appr-template") == [t["name"] for t in templates]
            assert bars == [t["instances"] for t in templates], (userid, filters)
            assert finished == [t["finished"] for t in templates]
            assert rate == [
                None if t["approval_rate"] is None else round(t["approval_rate"] * 100, 2)
                for t in templates
            ]
            (cycle,) = page.evaluate(SERIES, "c-appr-cycle")
            assert cycle == [b["count"] for b in api["cycle_time"]]
            # The same numbers as the list: instances created in the range, in scope.
            list_filters = {k: v for k, v in filters.items()}
            assert (
                api["instances"] == console.api(userid, "/api/approvals", **list_filters)["total"]
            )
        if shot:
            page.goto(f"{console.url}/console/approvals/stats")
            page.wait_for_selector("[data-chart-ready]")
            page.wait_for_timeout(600)  # the charts' entry animation
            console.shot(page, shot)
            phone = console.page_as(userid, width=390, height=844)
            phone.goto(f"{console.url}/console/approvals/stats")
            phone.wait_for_selector("[data-chart-ready]")
            phone.wait_for_timeout(600)
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390
            console.shot(phone, f"{shot}-390")
            phone.context.close()
        page.context.close()


def _sheet_ids(path: str) -> list[str]:
    book = openpyxl.load_workbook(io.BytesIO(Path(path).read_bytes()), read_only=True)
    sheet = book["审批"]
    rows = list(sheet.iter_rows(values_only=True))
    book.close()
    column = list(rows[0]).index("审批编号")  # DingTalk's export: the business id
    return [str(r[column]) for r in rows[1:]]


def test_the_export_downloads_the_rows_the_api_lists(console: Console) -> None:
    """A sub-administrator's export of the filtered list and the main administrator's export
    of a template picked in the export form hold exactly the API's rows (xlsx)."""
    codes = _codes(console)
    sub, admin = console.sub_admin, console.main_admin
    page = console.page_as(sub)
    filters = {"process_code": codes["请假"], "status": "COMPLETED"}
    page.goto(f"{console.url}/console/approvals?process_code={codes['请假']}&status=COMPLETED")
    with page.expect_download() as download:
        page.click("[data-testid=approval-export] button[type=submit]")
    ids = _sheet_ids(str(download.value.path()))
    want = listed(console, sub, **filters)
    assert want and sorted(ids) == sorted(i["business_id"] for i in want)
    assert download.value.suggested_filename.endswith(".xlsx")
    page.context.close()

    page = console.page_as(admin)
    page.goto(f"{console.url}/console/approvals?result=agree")
    page.select_option("[data-testid=approval-export] select[name=process_code]", codes["报销"])
    with page.expect_download() as download:
        page.click("[data-testid=approval-export] button[type=submit]")
    ids = _sheet_ids(str(download.value.path()))
    want = listed(console, admin, process_code=codes["报销"], result="agree")
    assert want and sorted(ids) == sorted(i["business_id"] for i in want)
    audit = console.api(admin, "/api/exports/audit", limit=1)["items"][0]
    assert audit["client"] == "console" and audit["row_count"] == len(want)
    page.context.close()


def test_attachments_download_from_the_instance_page_for_who_may_read_it(
    console: Console,
) -> None:
    """The instance page lists its attachments; a link downloads the bytes the API's download
    gives the same person; someone who may not read the instance gets 404 for the file."""
    admin = console.main_admin
    items = console.api(admin, "/api/approvals", limit=500)["items"]
    with_files = None
    for item in items:
        detail = console.api(admin, f"/api/approvals/{item['process_instance_id']}")
        if detail.get("attachments"):
            with_files = detail
            break
    assert with_files is not None, "the console company has no approval with attachments"
    pid = with_files["process_instance_id"]
    originator = with_files["originator_userid"]
    attachment = with_files["attachments"][0]
    page = console.page_as(originator)
    page.goto(f"{console.url}/console/approvals/{pid}")
    link = page.locator(
        f"[data-testid=approval-attachments] a[data-file-id='{attachment['file_id']}']"
    )
    assert link.count() == 1
    with page.expect_download() as download:
        link.click()
    got = Path(str(download.value.path())).read_bytes()
    r = httpx.get(
        f"{console.url}/api/approvals/{pid}/attachments/{attachment['file_id']}",
        headers={"Authorization": f"Bearer {console.api_token(originator)}"},
        timeout=60,
    )
    assert r.status_code == 200 and got == r.content and got
    page.context.close()
    participants = {originator, *(t.get("userid") for t in with_files["tasks"])}
    participants |= set(with_files.get("cc") or [])
    stranger = next(
        u
        for u in (console.employee, console.other_employee, console.leader)
        if u not in participants
    )
    r = httpx.get(
        f"{console.url}/console/approvals/{pid}/attachments/{attachment['file_id']}",
        cookies={COOKIE: console.api_token(stranger)},
    )
    assert r.status_code == 404
