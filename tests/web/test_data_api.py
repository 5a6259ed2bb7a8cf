"""Reports, attendance and approvals through the API, each person seeing exactly what the rules
allow: the sandbox company with its history is synced (all entities) once, copied into SQLite
and PostgreSQL, and the answers are compared with the stored truth."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import io
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pytest
from sqlalchemy import Engine, select, text

from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import db
from dingsync.store.schema import metadata, user_departments, users
from dingsync.sync.engine import run_sync
from dingsync.sync.runner import make_entities
from dingsync.web import create_app
from dingsync.web.server import WebServer
from helpers.sandboxes import make_client

from .conftest import FakeClock, Web, sandbox_settings

pytest.importorskip("dingsync.store.schema_reports")

TODAY = date.today()
SPAN = {"start_date": (TODAY - timedelta(days=30)).isoformat(), "end_date": TODAY.isoformat()}


@contextlib.contextmanager
def synced_source(config: SandboxConfig, path: Path) -> Iterator[tuple[SandboxServer, Engine]]:
    """A sandbox company of ``config`` with its history, synced (all entities) over loopback
    HTTP into the SQLite file ``path`` (copied into each backend's database by ``data_web``)."""
    with SandboxServer(config) as sb:
        source = db.create_engine_for(f"sqlite:///{path}")
        db.migrate(source)

        async def sync() -> None:
            async with make_client(sb) as client:
                result = await run_sync(client, source, sb.app.corp_id, make_entities())
                assert result.status == "succeeded"

        asyncio.run(sync())
        try:
            yield sb, source
        finally:
            source.dispose()


@pytest.fixture(scope="module")
def data_sandbox(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SandboxServer, Engine]]:
    """The sandbox with its history, synced (all entities) once into a SQLite source."""
    config = SandboxConfig(seed=5, users=30, days=3, qps_limit=None)
    with synced_source(config, tmp_path_factory.mktemp("src") / "s.db") as synced:
        yield synced


def _copy(source: Engine, target: Engine) -> None:
    """Every synced row of ``source`` into the (migrated, empty) ``target``."""
    with source.connect() as src, target.begin() as dst:
        for table in metadata.sorted_tables:
            rows = [dict(r) for r in src.execute(select(table)).mappings()]
            if rows:
                dst.execute(table.insert(), rows)
        if dst.dialect.name == "postgresql":  # identity columns continue after the copied ids
            for table in metadata.sorted_tables:
                for column in table.primary_key.columns:
                    if column.autoincrement is True:
                        dst.execute(
                            text(
                                f"SELECT setval(pg_get_serial_sequence('{table.name}', "
                                f"'{column.name}'), COALESCE(MAX({column.name}), 0) + 1, false) "
                                f"FROM {table.name}"
                            )
                        )


@pytest.fixture(scope="module")
def data_web(data_sandbox: tuple[SandboxServer, Engine], data_db_url: str) -> Iterator[Web]:
    sb, source = data_sandbox
    engine = db.create_engine_for(data_db_url)
    db.migrate(engine)
    _copy(source, engine)
    clock = FakeClock()
    app = create_app(sandbox_settings(sb, data_db_url), engine=engine, clock=clock)
    with WebServer(app) as server, httpx.Client(base_url=server.base_url, timeout=30) as http:
        yield Web(sb, engine, server, clock, http)
    engine.dispose()


def _all(web: Web, path: str, token: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        r = web.get(path, token, params={**params, "limit": 500, "offset": len(items)})
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        if len(items) >= body["total"]:
            assert len(items) == body["total"]
            return items


def _members(engine: Engine, corp_id: str) -> dict[str, set[int]]:
    ud = user_departments
    out: dict[str, set[int]] = {}
    with engine.connect() as conn:
        for row in conn.execute(select(ud.c.userid, ud.c.dept_id).where(ud.c.corp_id == corp_id)):
            out.setdefault(row.userid, set()).add(int(row.dept_id))
    return out


def _subtree(web: Web, roots: list[int]) -> set[int]:
    company = web.sb.company
    out: set[int] = set()
    stack = list(roots)
    while stack:
        d = stack.pop()
        if d not in out:
            out.add(d)
            stack.extend(c.dept_id for c in company.children(d))
    return out


def test_reports_follow_the_rules(data_web: Web) -> None:
    from dingsync.store.schema_reports import report_receivers, reports

    web = data_web
    company = web.sb.company
    corp = web.sb.app.corp_id
    with web.engine.connect() as conn:
        truth = {r.report_id: r.creator_id for r in conn.execute(select(reports))}
        receivers: dict[str, set[str]] = {}
        for r in conn.execute(select(report_receivers)):
            receivers.setdefault(r.report_id, set()).add(r.userid)
    assert truth, "the sandbox generated no reports"

    admin = web.token(company.main_admin_userid)
    assert {r["report_id"] for r in _all(web, "/api/reports", admin)} == set(truth)

    # An employee who wrote and received reports sees exactly those.
    person = max(
        (u for u in company.users if u not in company.admins),
        key=lambda u: sum(1 for rid, c in truth.items() if c == u or u in receivers.get(rid, ())),
    )
    expected = {rid for rid, c in truth.items() if c == person or person in receivers.get(rid, ())}
    token = web.token(person)
    got = {r["report_id"] for r in _all(web, "/api/reports", token)}
    assert got == expected and 0 < len(got) < len(truth)
    hidden = next(rid for rid in truth if rid not in expected)
    assert web.get(f"/api/reports/{hidden}", token).status_code == 404
    shown = web.get(f"/api/reports/{next(iter(expected))}", token)
    assert shown.status_code == 200 and shown.json()["contents"]
    # the counts of the whole synced history (details by default), DingTalk's numbers ...
    body = shown.json()
    world = web.sb.state.areas["reports"].world
    report = world.by_id[body["report_id"]]
    assert body["statistics"] == {
        "read_num": len(report.readers),
        "comment_num": len(report.comments),
        "comment_user_num": len({c.userid for c in report.comments}),
        "like_num": len(report.likers),
    }
    # ... and null, not zeros, for a report whose lists were never synced
    with web.engine.begin() as conn:
        when = conn.execute(
            select(reports.c.details_synced_at).where(reports.c.report_id == report.report_id)
        ).scalar_one()
        assert when is not None
        conn.execute(
            reports.update()
            .where(reports.c.report_id == report.report_id)
            .values(details_synced_at=None)
        )
    try:
        unsynced = web.get(f"/api/reports/{report.report_id}", token).json()
        assert unsynced["statistics"] is None
    finally:
        with web.engine.begin() as conn:
            conn.execute(
                reports.update()
                .where(reports.c.report_id == report.report_id)
                .values(details_synced_at=when)
            )

    # A sub-administrator also sees the reports of people inside their scope.
    sub = sorted(company.sub_admin_userids)[0]
    scope = _subtree(web, company.admin_scopes[sub])
    members = _members(web.engine, corp)
    expected_sub = {
        rid
        for rid, c in truth.items()
        if c == sub or sub in receivers.get(rid, ()) or members.get(c, set()) & scope
    }
    assert {r["report_id"] for r in _all(web, "/api/reports", web.token(sub))} == expected_sub

    # Filters: template and creator.
    template = next(iter(_all(web, "/api/reports", admin)))["template_name"]
    by_template = _all(web, "/api/reports", admin, template=template)
    assert by_template and all(r["template_name"] == template for r in by_template)
    mine = _all(web, "/api/reports", admin, creator=person)
    assert {r["report_id"] for r in mine} == {rid for rid, c in truth.items() if c == person}


def test_attendance_follows_the_rules(data_web: Web) -> None:
    from dingsync.store.schema_attendance import attendance_group_managers, attendance_results

    web = data_web
    company = web.sb.company
    with web.engine.connect() as conn:
        rows = [(r.userid, r.group_id) for r in conn.execute(select(attendance_results))]
        managers = [(r.userid, r.group_id) for r in conn.execute(select(attendance_group_managers))]
    assert rows
    everyone = {u for u, _ in rows}

    admin = web.token(company.main_admin_userid)
    assert {r["userid"] for r in _all(web, "/api/attendance/results", admin, **SPAN)} == everyone
    boss = web.token(company.boss_userid)
    summary = web.get("/api/attendance/summary", boss, params=SPAN).json()
    assert {p["userid"] for p in summary["people"]} == everyone
    assert sum(p["checks"] for p in summary["people"]) == len(rows)

    plain = next(
        u
        for u in sorted(everyone)
        if u not in company.admins
        and u != company.boss_userid
        and u not in {m for m, _ in managers}
    )
    token = web.token(plain)
    mine = _all(web, "/api/attendance/results", token, **SPAN)
    assert mine and {r["userid"] for r in mine} == {plain}
    people = web.get("/api/attendance/summary", token, params=SPAN).json()["people"]
    assert [p["userid"] for p in people] == [plain]

    # An attendance-group manager sees their groups.
    manager, group = next(
        (m, g) for m, g in sorted(managers) if m not in company.admins and m != company.boss_userid
    )
    managed = {g for m, g in managers if m == manager}
    seen = _all(web, "/api/attendance/results", web.token(manager), **SPAN)
    expected = {(u, g) for u, g in rows if g in managed or u == manager}
    assert {(r["userid"], r["group_id"]) for r in seen} == expected
    assert group in managed
    too_long = web.get(
        "/api/attendance/results",
        admin,
        params={"start_date": "2000-01-01", **{"end_date": SPAN["end_date"]}},
    )
    assert too_long.status_code == 422


def test_attendance_results_answer_work_dates_as_epoch_ms(data_web: Web) -> None:
    """The store holds work dates as calendar dates (``DATE``); the API answers ``work_date`` as
    it always has: epoch ms of 00:00 Asia/Shanghai of the day (DingTalk's ``workDate``). A
    one-day filter lists exactly that day's rows."""
    from dingsync.store.schema_attendance import attendance_results

    web = data_web
    admin = web.token(web.sb.company.main_admin_userid)
    with web.engine.connect() as conn:
        stored = {r.id: r.work_date for r in conn.execute(select(attendance_results))}
    assert stored and all(type(d) is date for d in stored.values())
    items = _all(web, "/api/attendance/results", admin, **SPAN)
    assert {i["id"] for i in items} == set(stored)
    shanghai = ZoneInfo("Asia/Shanghai")
    for item in items:
        midnight = datetime.combine(stored[item["id"]], time(), shanghai)
        assert item["work_date"] == int(midnight.timestamp() * 1000), item
    day = max(stored.values()).isoformat()
    one = _all(web, "/api/attendance/results", admin, start_date=day, end_date=day)
    assert {i["id"] for i in one} == {i for i, d in stored.items() if d.isoformat() == day}


def test_approvals_follow_the_rules(data_web: Web) -> None:
    from dingsync.store.schema_approvals import approval_cc, approval_instances, approval_tasks

    web = data_web
    company = web.sb.company
    with web.engine.connect() as conn:
        truth = {
            r.process_instance_id: r.originator_userid
            for r in conn.execute(select(approval_instances))
        }
        involved: dict[str, set[str]] = {}
        for table in (approval_tasks, approval_cc):
            for r in conn.execute(select(table.c.process_instance_id, table.c.userid)):
                involved.setdefault(r.process_instance_id, set()).add(r.userid)
    assert truth
    admin = web.token(company.main_admin_userid)
    assert {a["process_instance_id"] for a in _all(web, "/api/approvals", admin)} == set(truth)

    def sees(u: str) -> set[str]:
        return {i for i, o in truth.items() if o == u or u in involved.get(i, ())}

    person = max((u for u in company.users if u not in company.admins), key=lambda u: len(sees(u)))
    token = web.token(person)
    got = {a["process_instance_id"] for a in _all(web, "/api/approvals", token)}
    assert got == sees(person) and got
    detail = web.get(f"/api/approvals/{next(iter(got))}", token)
    assert detail.status_code == 200 and "form_values" in detail.json()
    hidden = next((i for i in truth if i not in got), None)
    if hidden is not None:
        assert web.get(f"/api/approvals/{hidden}", token).status_code == 404
    assert web.get("/api/approvals/no-such-instance", admin).status_code == 404


def test_approvals_list_takes_a_template_like_the_export(data_web: Web) -> None:
    """``template`` (a process code or a name, as the export's filter) lists the same rows as
    ``process_code``; an unknown template lists nothing; two different templates are a 422."""
    from dingsync.store.schema_approvals import approval_templates

    web = data_web
    admin = web.token(web.sb.company.main_admin_userid)
    with web.engine.connect() as conn:
        templates = conn.execute(
            select(approval_templates.c.process_code, approval_templates.c.name).where(
                approval_templates.c.corp_id == web.sb.app.corp_id
            )
        ).all()
    assert len(templates) >= 2
    listed = 0
    for code, name in templates:
        by_code = {
            a["process_instance_id"] for a in _all(web, "/api/approvals", admin, process_code=code)
        }
        by_name = {
            a["process_instance_id"] for a in _all(web, "/api/approvals", admin, template=name)
        }
        by_template_code = _all(web, "/api/approvals", admin, template=code)
        assert by_name == by_code == {a["process_instance_id"] for a in by_template_code}
        listed += len(by_code)
    assert listed == len(_all(web, "/api/approvals", admin))
    assert (
        web.get("/api/approvals", admin, params={"template": "没有这个模板"}).json()["total"] == 0
    )
    (code_a, _), (_, name_b) = templates[0], templates[1]
    r = web.get("/api/approvals", admin, params={"template": name_b, "process_code": code_a})
    assert r.status_code == 422 and r.json()["error"]["code"] == "request.invalid"


def test_area_exports_are_scoped_and_audited(data_web: Web) -> None:
    from dingsync.store.schema_attendance import attendance_results
    from dingsync.store.schema_reports import reports

    web = data_web
    company = web.sb.company
    admin = web.token(company.main_admin_userid)
    with web.engine.connect() as conn:
        report_rows = [(r.template_name, r.creator_id) for r in conn.execute(select(reports))]
        month = max(r.work_date for r in conn.execute(select(attendance_results)))
    template = report_rows[0][0]
    span = {"start_date": "2000-01-01", "end_date": TODAY.isoformat()}
    before = web.get("/api/exports/audit", admin).json()["total"]

    r = web.post(
        "/api/exports",
        admin,
        json={"kind": "reports", "format": "csv", "filters": {"template": template, **span}},
    )
    assert r.status_code == 200, r.text
    assert int(r.headers["x-export-rows"]) == sum(1 for t, _ in report_rows if t == template)

    # A sub-administrator: only a department inside the scope.
    sub = sorted(company.sub_admin_userids)[0]
    sub_token = web.token(sub)
    root = company.admin_scopes[sub][0]
    inside = _subtree(web, [root])
    members = _members(web.engine, web.sb.app.corp_id)
    r = web.post(
        "/api/exports",
        sub_token,
        json={
            "kind": "reports",
            "format": "csv",
            "filters": {"template": template, "dept_id": root, **span},
        },
    )
    assert r.status_code == 200, r.text
    expected = sum(1 for t, c in report_rows if t == template and members.get(c, set()) & inside)
    assert int(r.headers["x-export-rows"]) == expected
    # A department outside the scope narrows like the list does: only what the
    # sub-administrator created or received from people there.
    outside = next(
        d for d in company.departments if d not in _subtree(web, company.admin_scopes[sub])
    )
    filters = {"template": template, "dept_id": outside, **span}
    r = web.post("/api/exports", sub_token, json={"kind": "reports", "filters": filters})
    assert r.status_code == 200, r.text
    listed = _all(web, "/api/reports", sub_token, **filters)
    assert int(r.headers["x-export-rows"]) == len(listed)

    # Attendance for the month, whole company; an employee may not export it.
    r = web.post(
        "/api/exports",
        admin,
        json={
            "kind": "attendance",
            "format": "xlsx",
            "filters": {"month": month.strftime("%Y-%m")},
        },
    )
    assert r.status_code == 200, r.text
    assert int(r.headers["x-export-rows"]) > 0
    employee = web.token(
        next(
            u for u in sorted(company.users) if u not in company.admins and u != company.boss_userid
        )
    )
    r = web.post("/api/exports", employee, json={"kind": "attendance"})
    assert r.status_code == 403

    # Approvals (main administrator).
    with web.engine.connect() as conn:
        from dingsync.store.schema_approvals import approval_instances

        code = conn.execute(select(approval_instances.c.process_code)).scalars().first()
    r = web.post(
        "/api/exports",
        admin,
        json={"kind": "approvals", "format": "csv", "filters": {"template": code}},
    )
    assert r.status_code == 200, r.text
    r = web.post("/api/exports", admin, json={"kind": "reports", "filters": {}})
    assert r.status_code == 422 and r.json()["error"]["code"] == "request.invalid"

    audit = web.get("/api/exports/audit", admin).json()
    assert audit["total"] == before + 5
    assert [a["kind"] for a in audit["items"][:5]] == [
        "approvals",
        "attendance",
        "reports",
        "reports",
        "reports",
    ]


def test_a_start_date_in_the_future_is_empty_on_lists_and_exports_alike(data_web: Web) -> None:
    """Only ``start_date``, after today: every list answers an empty page and every export an
    empty file (its default ``end_date`` is that day, recorded as applied) — the reports export
    answered 422 "end_date is before start_date" (its end defaults to today) while the list
    answered 200, and the attendance lists refused it too. A range the caller reverses himself
    stays a 422 ``request.invalid`` on both."""
    from dingsync.store.schema_approvals import approval_instances
    from dingsync.store.schema_reports import reports

    web = data_web
    admin = web.token(web.sb.company.main_admin_userid)
    later = (TODAY + timedelta(days=5)).isoformat()
    with web.engine.connect() as conn:
        template = conn.execute(select(reports.c.template_name)).scalars().first()
        code = conn.execute(select(approval_instances.c.process_code)).scalars().first()
    assert template and code

    for path in ("/api/reports", "/api/approvals", "/api/attendance/results"):
        r = web.get(path, admin, params={"start_date": later})
        assert r.status_code == 200, (path, r.text)
        assert r.json()["items"] == [] and r.json()["total"] == 0, path
    for path in ("/api/attendance/daily", "/api/attendance/records"):
        r = web.get(path, admin, params={"start_date": later})
        assert r.status_code == 200, (path, r.text)
        assert r.json()["items"] == [], path
    r = web.get("/api/attendance/summary", admin, params={"start_date": later})
    assert r.status_code == 200, r.text
    assert r.json()["people"] == [] and r.json()["end_date"] == later

    for kind, filters in (
        ("reports", {"template": template, "start_date": later}),
        ("approvals", {"process_code": code, "start_date": later}),
    ):
        r = web.post(
            "/api/exports", admin, json={"kind": kind, "format": "csv", "filters": filters}
        )
        assert r.status_code == 200, (kind, r.text)
        assert r.headers["x-export-rows"] == "0", kind
        audit = web.get("/api/exports/audit", admin, params={"limit": 1}).json()["items"][0]
        assert audit["kind"] == kind and audit["filters"]["requested"] == filters
        if kind == "reports":
            assert audit["filters"]["applied"]["end_date"] == later

    # A reversed range given in full: 422 request.invalid on the lists and the exports alike.
    reversed_days = {"start_date": later, "end_date": TODAY.isoformat()}
    for path in ("/api/reports", "/api/approvals", "/api/attendance/results"):
        r = web.get(path, admin, params=reversed_days)
        assert r.status_code == 422 and r.json()["error"]["code"] == "request.invalid", path
    for kind, filters in (
        ("reports", {"template": template, **reversed_days}),
        ("approvals", {"process_code": code, **reversed_days}),
    ):
        r = web.post("/api/exports", admin, json={"kind": kind, "filters": filters})
        assert r.status_code == 422 and r.json()["error"]["code"] == "request.invalid", kind


# --------------------------------------------------------------------------------------------
# An export holds exactly what the same person lists with the same filters
# --------------------------------------------------------------------------------------------
LIST_PATH = {"reports": "/api/reports", "approvals": "/api/approvals"}


def test_a_department_filter_and_the_scope_are_two_conditions_on_the_person(
    data_web: Web,
) -> None:
    """A sub-administrator's directory export filtered by a department outside their scope
    holds that department's members who are in scope through another of their departments, as
    the attendance export and ``GET /api/attendance/monthly`` apply the same filter (filter ∩
    scope on the person, not on the departments: that intersection is empty here)."""
    web = data_web
    company = web.sb.company
    members = _members(web.engine, web.sb.app.corp_id)
    with web.engine.connect() as conn:
        active = set(
            conn.execute(select(users.c.userid).where(users.c.status == "active")).scalars()
        )
    found = None
    for sub in sorted(company.sub_admin_userids):
        inside = _subtree(web, company.admin_scopes[sub])
        for dept in sorted(company.departments):
            subtree = _subtree(web, [dept])
            if subtree & inside:  # wholly outside the scope (not an ancestor of it either)
                continue
            both = {u for u, ds in members.items() if ds & subtree and ds & inside and u in active}
            if both:
                found = (sub, dept, both)
                break
        if found:
            break
    assert found, "the sandbox has a member of two departments, one in a sub-admin's scope"
    sub, dept, both = found
    r = web.post(
        "/api/exports",
        web.token(sub),
        json={"kind": "users", "format": "csv", "filters": {"dept_id": dept, "recursive": True}},
    )
    assert r.status_code == 200, r.text
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert {row[0] for row in rows[1:]} == both
    # Without the filter: everyone of the scope, and no one else.
    whole = web.post("/api/exports", web.token(sub), json={"kind": "users", "format": "csv"})
    everyone = {row[0] for row in csv.reader(io.StringIO(whole.content.decode("utf-8-sig")))}
    inside = _subtree(web, company.admin_scopes[sub])
    assert everyone - {"userid", rows[0][0]} == {
        u for u, ds in members.items() if ds & inside and u in active
    }


ID_HEADER = {"reports": "日志ID", "approvals": "审批编号"}
ID_KEY = {"reports": "report_id", "approvals": "business_id"}
SHEET = {"reports": "日志", "approvals": "审批"}
WIDE = {"start_date": "2000-01-01", "end_date": (TODAY + timedelta(days=7)).isoformat()}


def _exported_ids(kind: str, fmt: str, content: bytes) -> list[str]:
    """The record ids of an export file (csv or the xlsx main sheet)."""
    if fmt == "csv":
        rows: list[list[Any]] = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    else:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
        rows = [list(r) for r in book[SHEET[kind]].iter_rows(values_only=True)]
    column = rows[0].index(ID_HEADER[kind])
    return [str(r[column]) for r in rows[1:]]


def _shanghai_day(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()


def _variants(web: Web) -> dict[str, list[dict[str, Any]]]:
    """Filters per kind: every template over a wide range, then the busiest template narrowed
    by department, person, status and a single (Shanghai) day."""
    from dingsync.store.schema_approvals import approval_instances
    from dingsync.store.schema_reports import reports

    with web.engine.connect() as conn:
        report_rows = list(
            conn.execute(
                select(reports.c.template_name, reports.c.creator_id, reports.c.create_time)
            )
        )
        approval_rows = list(
            conn.execute(
                select(
                    approval_instances.c.process_code,
                    approval_instances.c.originator_userid,
                    approval_instances.c.status,
                    approval_instances.c.create_time,
                )
            )
        )
    company = web.sb.company
    dept = sorted(d for d in company.departments if d != 1)[0]
    busiest = Counter(t for t, _, _ in report_rows).most_common(1)[0][0]
    mine = [r for r in report_rows if r[0] == busiest]
    out: dict[str, list[dict[str, Any]]] = {
        "reports": [{"template": t, **WIDE} for t in sorted({t for t, _, _ in report_rows})]
    }
    out["reports"] += [
        {"template": busiest, "dept_id": dept, **WIDE},
        {"template": busiest, "creator": Counter(c for _, c, _ in mine).most_common(1)[0][0]},
        {
            "template": busiest,
            "start_date": _shanghai_day(min(t for _, _, t in mine)),
            "end_date": _shanghai_day(min(t for _, _, t in mine)),
        },
    ]
    codes = sorted({c for c, _, _, _ in approval_rows})
    out["approvals"] = [{"process_code": c, **WIDE} for c in codes]
    code = Counter(c for c, _, _, _ in approval_rows).most_common(1)[0][0]
    # an instance created 16:00–24:00 UTC, if any: its UTC and Shanghai days differ
    late = [r for r in approval_rows if r[3].astimezone(UTC).hour >= 16]
    first = min(late or approval_rows, key=lambda r: r[3])
    out["approvals"] += [
        {"process_code": code, "dept_id": dept},
        {"process_code": code, "status": "COMPLETED", **WIDE},
        {"process_code": first[0], "originator": first[1]},
        {
            "process_code": first[0],
            "start_date": _shanghai_day(first[3]),
            "end_date": _shanghai_day(first[3]),
        },
    ]
    return out


def _people(web: Web) -> dict[str, str]:
    """One person per role of the rules table (``hr``, ``admin``, ``disabled`` are granted
    locally to plain employees by the test)."""
    from dingsync.store.schema_attendance import attendance_group_managers

    company = web.sb.company
    with web.engine.connect() as conn:
        managers = set(conn.execute(select(attendance_group_managers.c.userid)).scalars())
    leaders = {u.userid for u in company.users.values() if any(m.leader for m in u.memberships)}
    special = set(company.admins) | {company.boss_userid} | managers | leaders
    plain = sorted(u for u, user in company.users.items() if u not in special and user.active)
    out = {
        "employee": plain[0],
        "dept_leader": sorted(leaders - set(company.admins) - managers - {company.boss_userid})[0],
        "main_admin": company.main_admin_userid,
        "boss": company.boss_userid,
        "attendance_manager": sorted(managers - set(company.admins) - {company.boss_userid})[0],
        "hr": plain[1],
        "admin": plain[2],
        "disabled": plain[3],
    }
    for sub in company.sub_admin_userids:
        out[f"sub_admin {sub}"] = sub
    return out


def test_exports_hold_exactly_what_each_role_lists(data_web: Web) -> None:
    """For every role of the rules table, kinds reports and approvals, csv and xlsx: the ids in
    the exported file are the ids the same person pages through on the list API with the same
    filters; the audit row records the caller, the filters as given, the row count and the
    file's SHA-256. Those who may not export get 403 ``export.forbidden``."""
    from dingsync.store.schema_approvals import approval_cc, approval_instances, approval_tasks
    from dingsync.store.schema_reports import report_receivers, reports

    web = data_web
    company = web.sb.company
    corp = web.sb.app.corp_id
    admin = web.token(company.main_admin_userid)
    auth = {"Authorization": f"Bearer {admin}"}
    people = _people(web)
    variants = _variants(web)
    for role in ("hr", "admin"):
        assert web.http.put(f"/api/admin/roles/{people[role]}/{role}", headers=auth).is_success

    # The truth, straight from the tables, for the administrators' whole-range exports.
    members = _members(web.engine, corp)
    with web.engine.connect() as conn:
        # approvals by 审批编号 (business_id), the id column of DingTalk's export
        bid = {
            x.process_instance_id: x.business_id for x in conn.execute(select(approval_instances))
        }
        assert len(set(bid.values())) == len(bid)
        owners = {
            "reports": {x.report_id: x.creator_id for x in conn.execute(select(reports))},
            "approvals": {
                x.business_id: x.originator_userid for x in conn.execute(select(approval_instances))
            },
        }
        involved: dict[str, dict[str, set[str]]] = {"reports": {}, "approvals": {}}
        for x in conn.execute(select(report_receivers)):
            involved["reports"].setdefault(x.report_id, set()).add(x.userid)
        for table in (approval_tasks, approval_cc):
            for x in conn.execute(select(table.c.process_instance_id, table.c.userid)):
                involved["approvals"].setdefault(bid[x.process_instance_id], set()).add(x.userid)

    def truth(kind: str, userid: str) -> set[str]:
        if userid == company.main_admin_userid:
            return set(owners[kind])
        scope = _subtree(web, company.admin_scopes[userid])
        return {
            rid
            for rid, owner in owners[kind].items()
            if owner == userid
            or userid in involved[kind].get(rid, ())
            or members.get(owner, set()) & scope
        }

    checked = 0
    try:
        for role, userid in people.items():
            if role == "disabled":
                continue
            token = web.token(userid)
            me = web.get("/api/me", token).json()
            assert role.split()[0] in me["roles"], (role, me["roles"])
            for kind in ("reports", "approvals"):
                may = me["permissions"][kind]["export"] != "none"
                assert may is (role == "main_admin" or role.startswith("sub_admin")), role
                union: set[str] = set()
                for n, filters in enumerate(variants[kind]):
                    listed = [i[ID_KEY[kind]] for i in _all(web, LIST_PATH[kind], token, **filters)]
                    for fmt in ("csv", "xlsx") if n == 0 else ("csv",):
                        body = {"kind": kind, "format": fmt, "filters": filters}
                        r = web.post("/api/exports", token, json=body)
                        if not may:
                            assert r.status_code == 403, r.text
                            assert r.json()["error"]["code"] == "export.forbidden"
                            continue
                        assert r.status_code == 200, r.text
                        ids = _exported_ids(kind, fmt, r.content)
                        assert len(ids) == len(set(ids))
                        assert set(ids) == set(listed), (role, kind, filters, fmt)
                        sha = hashlib.sha256(r.content).hexdigest()
                        assert r.headers["x-export-sha256"] == sha
                        assert int(r.headers["x-export-rows"]) == len(ids)
                        audit = web.get("/api/exports/audit", admin, params={"limit": 1})
                        row = audit.json()["items"][0]
                        assert row["id"] == int(r.headers["x-export-audit-id"])
                        assert (row["userid"], row["kind"], row["format"]) == (userid, kind, fmt)
                        assert (row["row_count"], row["sha256"]) == (len(ids), sha)
                        assert row["filters"]["requested"] == filters
                        checked += 1
                    if set(filters) - {"template", "process_code"} == set(WIDE):
                        union |= set(listed)  # the whole-range variants cover every template
                if may:
                    assert union == truth(kind, userid), (role, kind)
                    assert union, (role, kind)

        # Filters the list API would refuse are refused (422), not a server error.
        code = variants["approvals"][0]["process_code"]
        template = variants["reports"][0]["template"]
        for kind, bad in (
            ("approvals", {"process_code": code, "dept_id": 2**70}),
            ("approvals", {"process_code": code, "status": 5}),
            ("approvals", {"process_code": code, "start_date": "0001-01-01"}),
            ("approvals", {"process_code": code, "end_date": "9999-12-31"}),
            ("approvals", {"process_code": "no-such-template"}),
            ("reports", {"template": template, "start_date": "0001-01-01"}),
            ("reports", {"template": template, "creator": ["x"]}),
        ):
            r = web.post("/api/exports", admin, json={"kind": kind, "filters": bad})
            assert r.status_code == 422, (bad, r.text)
            assert r.json()["error"]["code"] == "request.invalid"
        for day in ({"start_date": "0001-01-01"}, {"end_date": "9999-12-31"}):
            for path in LIST_PATH.values():
                r = web.get(path, admin, params=day)
                assert r.status_code == 422 and r.json()["error"]["code"] == "request.invalid"

        # A disabled person: no session, no export.
        disabled = people["disabled"]
        token = web.token(disabled)
        assert web.http.post(f"/api/admin/users/{disabled}/disable", headers=auth).is_success
        r = web.post(
            "/api/exports", token, json={"kind": "reports", "filters": variants["reports"][0]}
        )
        assert r.status_code in (401, 403) and "error" in r.json()
        assert web.login(disabled).status_code == 403
    finally:
        web.http.post(f"/api/admin/users/{people['disabled']}/enable", headers=auth)
        for role in ("hr", "admin"):
            web.http.delete(f"/api/admin/roles/{people[role]}/{role}", headers=auth)
    assert checked > 0


#: The first columns of an approvals export: DingTalk's admin export's (docs/approvals.md).
DINGTALK_APPROVAL_COLUMNS = [
    "审批编号", "标题", "审批状态", "审批结果", "发起时间", "完成时间", "耗时", "发起人工号",
    "发起人姓名", "发起人部门", "历史审批人姓名", "审批记录", "当前处理人姓名",
]  # fmt: skip


def _export_rows(content: bytes, fmt: str) -> list[list[Any]]:
    if fmt == "csv":
        return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    book = openpyxl.load_workbook(io.BytesIO(content))
    return [list(r) for r in book["审批"].iter_rows(values_only=True)]


def test_approvals_export_has_dingtalks_columns(data_web: Web) -> None:
    """``POST /api/exports`` kind approvals, csv and xlsx: the header is DingTalk's export's
    columns followed by the form's fields; ``details: "rows"`` flattens the detail table (its
    columns after the table's own) into one row per detail row — instances without rows keep
    one — and the rows counted are the file's rows; xlsx cells are dates and numbers."""
    from dingsync.store.schema_approvals import approval_detail_rows, approval_instances

    web = data_web
    admin = web.token(web.sb.company.main_admin_userid)
    with web.engine.connect() as conn:
        instances = list(conn.execute(select(approval_instances)))
        details = Counter(
            conn.execute(select(approval_detail_rows.c.process_instance_id)).scalars()
        )
    expense = next(
        t for t in web.sb.state.areas["approvals"].world.templates if t.kind == "expense"
    )
    mine = [i for i in instances if i.process_code == expense.process_code]
    form = ["报销总额（元）", "报销明细", "票据照片", "附件"]
    flat = ["报销总额（元）", "报销明细", "费用类型", "金额（元）", "日期", "票据照片", "附件"]
    for fmt in ("csv", "xlsx"):
        for layout, columns, count in (
            (None, form, len(mine)),
            ("sheet", form, len(mine)),
            ("rows", flat, sum(max(1, details[i.process_instance_id]) for i in mine)),
        ):
            filters: dict[str, Any] = {"template": "报销", **WIDE}
            if layout:
                filters["details"] = layout
            r = web.post(
                "/api/exports", admin, json={"kind": "approvals", "format": fmt, "filters": filters}
            )
            assert r.status_code == 200, r.text
            rows = _export_rows(r.content, fmt)
            assert rows[0] == DINGTALK_APPROVAL_COLUMNS + columns, (fmt, layout)
            assert len(rows) - 1 == int(r.headers["x-export-rows"]) == count, (fmt, layout)
            assert {str(x[0]) for x in rows[1:]} == {i.business_id for i in mine}
            if fmt == "xlsx":
                first = rows[1]
                assert isinstance(first[4], datetime)  # 发起时间: a date
                assert isinstance(first[13], int | float)  # 报销总额: a number
                if layout == "rows":
                    amounts = [x[16] for x in rows[1:] if x[16] is not None]
                    assert amounts and all(isinstance(a, int | float) for a in amounts)
                    dates = [x[17] for x in rows[1:] if x[17] is not None]
                    assert dates and all(isinstance(d, datetime) for d in dates)
    r = web.post(
        "/api/exports",
        admin,
        json={"kind": "approvals", "filters": {"template": "报销", "details": "columns"}},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "request.invalid"


# --------------------------------------------------------------------------------------------
# Approval attachments: metadata in the instance, the file streamed on demand
# --------------------------------------------------------------------------------------------
def test_approval_attachments_download_for_who_may_read_the_instance(data_web: Web) -> None:
    """``GET /api/approvals/{id}`` lists the attachments; ``GET …/attachments/{file_id}``
    streams the sandbox's bytes to the originator, an approver and the main administrator
    (form files granted first, comment files with ``withCommentAttatchment``) and is 404 for an
    unrelated employee, an unknown file and an unknown instance, like the instance itself."""
    from dingsync.sandbox.approvals.files import instance_files

    web = data_web
    company = web.sb.company
    area = web.sb.state.areas["approvals"]
    admins = set(company.admins) | {company.boss_userid}
    candidates = [
        i
        for i in area.world.instances.values()
        if i.originator_userid not in admins
        and any(not f["comment"] for f in instance_files(i))
        and any(t["userid"] not in admins | {i.originator_userid} for t in i.tasks)
    ]
    inst = min(candidates, key=lambda i: i.process_instance_id)
    pid = inst.process_instance_id
    form_file = next(f for f in instance_files(inst) if not f["comment"])
    approver = next(t["userid"] for t in inst.tasks if t["userid"] not in admins)
    involved = {inst.originator_userid, *inst.cc_userids, *(t["userid"] for t in inst.tasks)}
    members = _members(web.engine, web.sb.app.corp_id)
    scoped = {
        u for u in company.sub_admin_userids if members.get(inst.originator_userid, set())
        & _subtree(web, company.admin_scopes[u])
    }  # fmt: skip
    stranger = sorted(
        u
        for u, user in company.users.items()
        if user.active and u not in involved | admins | scoped | set(company.sub_admin_userids)
    )[0]

    originator = web.token(inst.originator_userid)
    detail = web.get(f"/api/approvals/{pid}", originator).json()
    expected = [
        (f["file_id"], f["file_name"], f["file_size"], f["file_type"], f["space_id"])
        for f in instance_files(inst)
    ]
    assert [
        (a["file_id"], a["file_name"], a["file_size"], a["file_type"], a["space_id"])
        for a in detail["attachments"]
    ] == expected
    path = f"/api/approvals/{pid}/attachments/{form_file['file_id']}"
    assert path in [a["download"] for a in detail["attachments"]]
    truth = area.attachment_content(pid, form_file["file_id"])
    assert len(truth) == form_file["file_size"] > 0

    before = web.sb.stats()["approvals"]["attachments"]
    for who in (inst.originator_userid, approver, company.main_admin_userid):
        r = web.get(path, web.token(who))
        assert r.status_code == 200, (who, r.text)
        assert r.content == truth, who
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["content-disposition"] == (
            "attachment; filename*=UTF-8''" + quote(form_file["file_name"])
        )
        assert r.headers["cache-control"] == "private, no-store"
    after = web.sb.stats()["approvals"]["attachments"]
    assert after["links"] - before["links"] == after["served"] - before["served"] == 3
    assert after["grants"] >= 3  # the form file was granted to each of the three

    stranger_token = web.token(stranger)
    assert web.get(f"/api/approvals/{pid}", stranger_token).status_code == 404
    r = web.get(path, stranger_token)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert web.get(f"/api/approvals/{pid}/attachments/0000", originator).status_code == 404
    assert (
        web.get(f"/api/approvals/nope/attachments/{form_file['file_id']}", originator).status_code
        == 404
    )
    assert web.sb.stats()["approvals"]["attachments"]["links"] == after["links"]  # no call

    # a file attached to an operation record (a comment), by whoever may read its instance
    with_comment = [
        (i, f) for i in area.world.instances.values() for f in instance_files(i) if f["comment"]
    ]
    assert with_comment
    other, comment_file = with_comment[0]
    r = web.get(
        f"/api/approvals/{other.process_instance_id}/attachments/{comment_file['file_id']}",
        web.token(company.main_admin_userid),
    )
    assert r.status_code == 200, r.text
    assert r.content == area.attachment_content(other.process_instance_id, comment_file["file_id"])


def test_approval_attachment_cap_and_refusals(data_web: Web, data_db_url: str) -> None:
    """A file over ``max_attachment_bytes`` is 413 ``attachment.too_large`` (the link is read
    no further than its announced size); a DingTalk refusal of the link (here: the app lacks
    the v1.0 workflow permission) is 502 ``attachment.unavailable``."""
    from dingsync.sandbox.approvals.files import instance_files
    from dingsync.web.options import WebOptions

    web = data_web
    area = web.sb.state.areas["approvals"]
    inst, file = next(
        (i, f)
        for i in sorted(area.world.instances.values(), key=lambda i: i.process_instance_id)
        for f in instance_files(i)
        if not f["comment"]
    )
    path = f"/api/approvals/{inst.process_instance_id}/attachments/{file['file_id']}"
    app = create_app(
        sandbox_settings(web.sb, data_db_url),
        engine=web.engine,
        clock=web.clock,
        options=WebOptions(max_attachment_bytes=file["file_size"] - 1),
    )
    admin = web.sb.company.main_admin_userid
    with WebServer(app) as server, httpx.Client(base_url=server.base_url, timeout=30) as http:
        login = http.post("/api/auth/dingtalk", json={"authCode": web.authcode(admin)})
        token = login.json()["session"]["token"]
        r = http.get(path, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 413 and r.json()["error"]["code"] == "attachment.too_large"
    web.sb.configure(approvals_v1_denied=True)
    try:
        r = web.get(path, web.token(admin))
        assert r.status_code == 502 and r.json()["error"]["code"] == "attachment.unavailable"
    finally:
        web.sb.configure(approvals_v1_denied=False)
    assert web.get(path, web.token(admin)).content == area.attachment_content(
        inst.process_instance_id, file["file_id"]
    )
