"""``GET /api/reports/stats`` (日志统计) on SQLite and PostgreSQL: the compliance rule of
``dingsync reports compliance`` (the template's DingTalk 统计规则, else the default rule, named
in ``rule``) with the same numbers, counting only the people whose reports
the caller may see, paged by person, and strict about its parameters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from dingsync.export.report_rules import compliance_by_rule
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.store import db
from dingsync.web import create_app
from dingsync.web.server import WebServer

from .conftest import FakeClock, Web, sandbox_settings
from .test_data_api import _copy, _members, _subtree, synced_source

pytest.importorskip("dingsync.store.schema_reports")


@pytest.fixture(scope="module")
def stats_sandbox(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SandboxServer, Engine]]:
    """A sandbox company with three weeks of reports, synced (all entities) once into SQLite."""
    config = SandboxConfig(seed=7, users=30, days=21, qps_limit=None)
    with synced_source(config, tmp_path_factory.mktemp("st") / "s.db") as synced:
        yield synced


@pytest.fixture(scope="module")
def stats_web(stats_sandbox: tuple[SandboxServer, Engine], data_db_url: str) -> Iterator[Web]:
    """That company copied into SQLite or PostgreSQL, with the web service in front."""
    sb, source = stats_sandbox
    engine = db.create_engine_for(data_db_url)
    db.migrate(engine)
    _copy(source, engine)
    app = create_app(sandbox_settings(sb, data_db_url), engine=engine, clock=FakeClock())
    with WebServer(app) as server, httpx.Client(base_url=server.base_url, timeout=30) as http:
        yield Web(sb, engine, server, FakeClock(), http)
    engine.dispose()


def _stats(web: Web, userid: str, **params: Any) -> dict[str, Any]:
    r = web.get("/api/reports/stats", web.token(userid), params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _templates(web: Web) -> list[str]:
    from dingsync.store.repo_reports import template_names

    with web.engine.connect() as conn:
        return template_names(conn, web.sb.app.corp_id)


def _range() -> tuple[date, date]:
    end = date.today() - timedelta(days=1)
    return end - timedelta(days=13), end


def test_stats_are_the_compliance_rule_with_its_numbers(stats_web: Web) -> None:
    web = stats_web
    admin = web.sb.company.main_admin_userid
    start, end = _range()
    for template in _templates(web):
        api = _stats(
            web, admin, template=template, start_date=str(start), end_date=str(end), limit=500
        )
        with web.engine.connect() as conn:
            truth = compliance_by_rule(conn, web.sb.app.corp_id, template, start, end)
        # the rule used: 日报's (daily) and 项目周报's (monthly) 统计规则 synced from DingTalk, the
        # default rule for the others
        assert api["rule"] == truth.rule
        ruled = template in ("日报", "项目周报")
        assert api["rule"]["source"] == ("dingtalk" if ruled else "default")
        assert api["weekly"] is truth.weekly is template.endswith("周报")
        assert sorted((d["userid"], d["day"], d["status"]) for d in api["days"]) == sorted(
            (d.userid, d.day.isoformat(), d.status) for d in truth.days
        )
        assert [
            (d["dept_id"], d["name"], d["people"], d["submitted"], d["late"], d["missing"])
            for d in api["departments"]
        ] == [
            (d.dept_id, d.name, d.people, d.submitted, d.late, d.missing) for d in truth.departments
        ]
        assert [d["rate"] for d in api["departments"]] == [
            round(d.rate, 4) for d in truth.departments
        ]
        assert api["total"] == len(truth.people) == len(api["people"])
        for p in api["people"]:
            want = truth.people[p["userid"]]
            assert (p["submitted"], p["late"], p["missing"]) == (
                want["submitted"],
                want["late"],
                want["missing"],
            )
        totals = api["totals"]
        assert totals["expected"] == len(truth.days) == sum(p["expected"] for p in api["people"])
        assert api["dates"][0] == str(start) and api["dates"][-1] == str(end)
        assert len(api["dates"]) == 14


def test_stats_count_only_people_whose_reports_the_caller_sees(stats_web: Web) -> None:
    web = stats_web
    company = web.sb.company
    corp = web.sb.app.corp_id
    start, end = _range()
    span = {"start_date": str(start), "end_date": str(end), "limit": 500}
    members = _members(web.engine, corp)
    for template in _templates(web):
        everyone = {
            p["userid"]
            for p in _stats(web, company.main_admin_userid, template=template, **span)["people"]
        }

        # A sub-administrator: themselves and the people of their departments.
        sub = sorted(company.sub_admin_userids)[0]
        scope = _subtree(web, company.admin_scopes[sub])
        got = {p["userid"] for p in _stats(web, sub, template=template, **span)["people"]}
        assert got == {u for u in everyone if u == sub or members.get(u, set()) & scope}

        # Anyone else: only themselves, whatever they received.
        for person in sorted(u for u in everyone if u not in company.admins)[:3]:
            api = _stats(web, person, template=template, **span)
            assert [p["userid"] for p in api["people"]] == [person]
            assert {d["userid"] for d in api["days"]} <= {person}


def test_stats_page_people_and_keep_the_totals(stats_web: Web) -> None:
    web = stats_web
    admin = web.sb.company.main_admin_userid
    template = max(_templates(web), key=lambda t: _stats(web, admin, template=t, limit=1)["total"])
    whole = _stats(web, admin, template=template, limit=500)
    assert whole["total"] > 3
    seen: list[str] = []
    days: list[tuple[str, str, str]] = []
    while len(seen) < whole["total"]:
        page = _stats(web, admin, template=template, limit=3, offset=len(seen))
        assert page["totals"] == whole["totals"] and page["departments"] == whole["departments"]
        ids = [p["userid"] for p in page["people"]]
        assert 0 < len(ids) <= 3
        assert {d["userid"] for d in page["days"]} <= set(ids)
        seen += ids
        days += [(d["userid"], d["day"], d["status"]) for d in page["days"]]
    assert seen == [p["userid"] for p in whole["people"]]
    assert sorted(days) == sorted((d["userid"], d["day"], d["status"]) for d in whole["days"])
    # Defaults: up to yesterday, 28 days but not before the template's first synced report
    # (this company has three weeks of history: test_the_default_range_starts_with_…)
    assert 0 < len(whole["dates"]) <= 28
    end = date.fromisoformat(whole["end_date"])
    assert end == date.fromisoformat(whole["dates"][-1]) and whole["dates"] == [
        str(end - timedelta(days=n)) for n in reversed(range(len(whole["dates"])))
    ]
    assert whole["counted_until"] == whole["end_date"]


def test_stats_refuse_bad_parameters(stats_web: Web) -> None:
    web = stats_web
    token = web.token(web.sb.company.main_admin_userid)
    template = _templates(web)[0]
    for params in (
        {},
        {"template": "no such template"},
        {"template": template, "start_date": "2026-11-10", "end_date": "2026-11-01"},
        {"template": template, "start_date": "2026-01-01", "end_date": "2026-12-31"},
        {"template": template, "start_date": "0001-01-01", "end_date": "0001-01-05"},
        {"template": template, "start_date": "9999-12-20", "end_date": "9999-12-31"},
        {"template": template, "limit": 0},
    ):
        r = web.get("/api/reports/stats", token, params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]["code"] == "request.invalid"
    r = web.get("/api/reports/stats", "nope", params={"template": template})
    assert r.status_code == 401


def test_the_default_range_starts_with_the_synced_history(stats_web: Web) -> None:
    """Without ``start_date`` the range is the 28 days up to yesterday, but not before the first
    synced report of the template (a company with a shorter history — ``dingsync demo``'s week —
    would otherwise count every earlier day as missing)."""
    from sqlalchemy import func, select

    from dingsync.store.schema_reports import reports
    from dingsync.timeutil import SHANGHAI

    web = stats_web
    admin = web.sb.company.main_admin_userid
    for template in _templates(web):
        with web.engine.connect() as conn:
            first_at = conn.execute(
                select(func.min(reports.c.create_time)).where(reports.c.template_name == template)
            ).scalar_one()
        first = (first_at.astimezone(SHANGHAI) - timedelta(hours=12)).date()
        api = _stats(web, admin, template=template, limit=1)
        end = date.fromisoformat(api["end_date"])
        assert first > end - timedelta(days=27)  # 21 days of history: shorter than the default
        # The range starts on the day the first report is counted for: its report day by the
        # default rule; by a DingTalk rule the day of the period whose window claims it (a
        # period is dated on the day its window opens, R-5: 项目周报's monthly rule may date a
        # report of the 4th on the 1st) — starting on the report day would cut that period.
        period_day = date.fromisoformat(api["first_synced_day"])
        assert api["start_date"] == api["first_synced_day"] == api["dates"][0]
        if api["rule"]["source"] == "default":
            assert period_day == first
        else:
            assert first - timedelta(days=31) <= period_day <= first
            once = _stats(
                web, admin, template=template, start_date=str(period_day), end_date=str(period_day)
            )
            assert once["totals"]["submitted"] + once["totals"]["late"] >= 1, once["totals"]
        # given dates are kept as they are
        start = end - timedelta(days=27)
        given = _stats(web, admin, template=template, start_date=str(start), limit=1)
        assert given["start_date"] == str(start)
