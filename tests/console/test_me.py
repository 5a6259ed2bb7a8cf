"""我的 in a real browser: the profile, my reports sent and received, my attendance this month
and my approvals — the numbers of ``/api/me/summary``, which are those of the areas' own
endpoints for the same person; at a phone's width too."""

from __future__ import annotations

from .conftest import Console


def _mine(page) -> dict[str, int]:  # type: ignore[no-untyped-def]
    cells = page.locator("[data-my]").evaluate_all(
        "els => els.map(e => [e.dataset.my, e.textContent.trim()])"
    )
    return {k: int(v) for k, v in cells}


def test_me_shows_my_numbers_as_the_api_does_for_each_role(console: Console) -> None:
    for name, who in (
        ("employee", console.employee),
        ("leader", console.leader),
        ("hr", console.hr),
        ("main-admin", console.main_admin),
    ):
        page = console.page_as(who)
        page.goto(f"{console.url}/console/me")
        api = console.api(who, "/api/me/summary")
        shown = _mine(page)
        at = api["attendance"]
        assert shown == {
            "days": at["days"],
            "late": at["late"],
            "early": at["early"],
            "missing": at["missing"],
            "reports_sent": api["reports_sent"]["total"],
            "reports_received": api["reports_received"]["total"],
            "approvals_originated": api["approvals_originated"]["total"],
            "approvals_to_approve": api["approvals_to_approve"]["total"],
        }
        # The same numbers as the areas' endpoints for this person.
        sent = console.api(who, "/api/reports", creator=who, limit=1)["total"]
        assert api["reports_sent"]["total"] == sent
        person = [
            p for p in console.api(who, "/api/attendance/summary")["people"] if p["userid"] == who
        ]
        days = person[0]["days"] if person else 0
        assert at["days"] == days
        if person:
            results = person[0]["results"]
            assert at["late"] == results.get("Late", 0) + results.get("SeriousLate", 0)
            assert at["missing"] == results.get("NotSigned", 0)
        originated = console.api(who, "/api/approvals", originator=who, limit=1)["total"]
        assert api["approvals_originated"]["total"] == originated
        # Received reports are ones the API lets this person read, not their own.
        for r in api["reports_received"]["latest"]:
            assert r["creator_id"] != who
            console.api(who, f"/api/reports/{r['report_id']}")
        # The latest items link to their pages.
        links = page.locator("[data-testid=my-reports_sent] a.t").evaluate_all(
            "els => els.map(e => e.getAttribute('href'))"
        )
        assert links == [
            f"/console/reports/{r['report_id']}" for r in api["reports_sent"]["latest"]
        ]
        links = page.locator("[data-testid=my-approvals_originated] a.t").evaluate_all(
            "els => els.map(e => e.getAttribute('href'))"
        )
        assert links == [
            f"/console/approvals/{a['process_instance_id']}"
            for a in api["approvals_originated"]["latest"]
        ]
        console.shot(page, f"me-{name}")
        page.context.close()
    # Someone has something in each list (the company has a month of history).
    totals = console.api(console.main_admin, "/api/me/summary")
    assert totals["reports_received"]["total"] + totals["reports_sent"]["total"] > 0


def test_waiting_for_me_lists_running_approvals_with_my_running_task(console: Console) -> None:
    """Someone with an approval waiting for them sees it under 待我审批, and can open it."""
    admin = console.main_admin
    running = console.api(admin, "/api/approvals", status="RUNNING", limit=50)["items"]
    assert running, "the sandbox company has running approvals"
    for item in running:
        detail = console.api(admin, f"/api/approvals/{item['process_instance_id']}")
        waiting = [t["userid"] for t in detail.get("tasks", []) if t["task_status"] == "RUNNING"]
        if waiting:
            break
    else:
        raise AssertionError("no running approval with a running task")
    who = waiting[0]
    api = console.api(who, "/api/me/summary", latest=20)
    ids = [a["process_instance_id"] for a in api["approvals_to_approve"]["latest"]]
    assert item["process_instance_id"] in ids
    console.api(who, f"/api/approvals/{item['process_instance_id']}")  # they may read it
    page = console.page_as(who)
    page.goto(f"{console.url}/console/me")
    assert (
        int(page.locator("[data-my=approvals_to_approve]").inner_text())
        == api["approvals_to_approve"]["total"]
    )
    page.context.close()


def test_me_at_a_phones_width(console: Console) -> None:
    page = console.page_as(console.leader, width=390, height=844)
    page.goto(f"{console.url}/console/me")
    assert page.locator("[data-testid=my-attendance]").is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width  # nothing runs off the side
    console.shot(page, "me-phone")
    page.goto(f"{console.url}/console/directory")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the table scrolls
    console.shot(page, "directory-phone")
    page.goto(f"{console.url}/console/directory/users/{console.leader}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    console.shot(page, "directory-person-phone")
    page.context.close()


def test_the_all_links_keep_me_as_the_filter(console: Console) -> None:
    """我的: "全部" of my sent reports lists my reports, of my approvals the ones I started, and
    考勤详情 opens my own month — not everyone's list."""
    me = console.employee
    page = console.page_as(me)
    page.goto(f"{console.url}/console/me")
    page.click("[data-testid=all-reports_sent]")
    page.wait_for_url(f"**/console/reports?creator={me}")
    shown = page.locator("tr[data-report-id]").evaluate_all("r => r.map(e => e.dataset.reportId)")
    dates = {
        "start_date": page.input_value("[data-testid=f-start]"),
        "end_date": page.input_value("[data-testid=f-end]"),
    }
    mine = console.api(me, "/api/reports", creator=me, limit=500, **dates)["items"]
    assert shown and set(shown) <= {r["report_id"] for r in mine}
    total = int(page.get_attribute("[data-testid=results]", "data-total") or 0)
    assert total == len(mine)
    assert all(r["creator_id"] == me for r in mine)
    page.goto(f"{console.url}/console/me")
    page.click("[data-testid=all-approvals_originated]")
    page.wait_for_url(f"**/console/approvals?originator={me}")
    ids = page.locator("tr[data-id]").evaluate_all("r => r.map(e => e.dataset.id)")
    started = console.api(me, "/api/approvals", originator=me, limit=500)["items"]
    assert set(ids) <= {a["process_instance_id"] for a in started}
    page.goto(f"{console.url}/console/me")
    page.click("[data-testid=all-attendance]")
    page.wait_for_url(f"**/console/attendance/users/{me}?month=*")
    assert page.title() and "404" not in page.title()
    page.context.close()
