"""Reports, attendance and approvals through the API, each person seeing exactly what the rules
allow: the sandbox company with its history is synced (all entities) once, copied into SQLite
and PostgreSQL, and the answers are compared with the stored truth."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, select, text

from dingsync.dingtalk import DingTalkClient
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import db
from dingsync.store.schema import metadata, user_departments
from dingsync.sync.engine import run_sync
from dingsync.sync.runner import make_entities
from dingsync.web import create_app
from dingsync.web.server import WebServer

from .conftest import FakeClock, Web, sandbox_settings

pytest.importorskip("dingsync.store.schema_reports")

TODAY = date.today()
SPAN = {"start_date": (TODAY - timedelta(days=30)).isoformat(), "end_date": TODAY.isoformat()}


@pytest.fixture(scope="module")
def data_sandbox(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SandboxServer, Engine]]:
    """The sandbox with its history, synced (all entities) once into a SQLite source."""
    with SandboxServer(SandboxConfig(seed=5, users=30, days=3, qps_limit=None)) as sb:
        source = db.create_engine_for(f"sqlite:///{tmp_path_factory.mktemp('src') / 's.db'}")
        db.migrate(source)

        async def sync() -> None:
            async with DingTalkClient(
                sb.app.app_key,
                sb.app.app_secret,
                corp_id=sb.app.corp_id,
                oapi_url=sb.base_url,
                api_url=sb.base_url,
                qps_per_api=None,
            ) as client:
                result = await run_sync(client, source, sb.app.corp_id, make_entities())
                assert result.status == "succeeded"

        asyncio.run(sync())
        yield sb, source
        source.dispose()


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


def test_area_exports_are_scoped_and_audited(data_web: Web) -> None:
    from dingsync.store.schema_attendance import attendance_results
    from dingsync.store.schema_reports import reports

    web = data_web
    company = web.sb.company
    admin = web.token(company.main_admin_userid)
    with web.engine.connect() as conn:
        report_rows = [(r.template_name, r.creator_id) for r in conn.execute(select(reports))]
        last = max(r.work_date for r in conn.execute(select(attendance_results)))
    if isinstance(last, datetime):  # work dates stored as 00:00 Shanghai in UTC
        last = last.astimezone(ZoneInfo("Asia/Shanghai"))
    month = last
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
    outside = next(
        d for d in company.departments if d not in _subtree(web, company.admin_scopes[sub])
    )
    r = web.post(
        "/api/exports",
        sub_token,
        json={"kind": "reports", "filters": {"template": template, "dept_id": outside}},
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "export.forbidden"

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
    assert audit["total"] == before + 4
    assert [a["kind"] for a in audit["items"][:4]] == [
        "approvals",
        "attendance",
        "reports",
        "reports",
    ]
