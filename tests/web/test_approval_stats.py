"""``GET /api/approvals/stats`` (审批统计) on SQLite and PostgreSQL: for every kind of viewer its
numbers are those of the instances ``GET /api/approvals`` lists to the same person with the
same filters — counts and approval rate by template, the cycle-time histogram — and the main
administrator's equal the stored truth."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from dingsync.store.schema_approvals import approval_instances, approval_templates
from dingsync.web.routers.approvals import CYCLE_BUCKETS

from .conftest import Web
from .test_data_api import _all, data_sandbox, data_web  # noqa: F401  (module fixtures)

HOUR_MS = 3_600_000


def _bucket(hours: float) -> str:
    for key, _label, lo, hi in CYCLE_BUCKETS:
        if hours >= lo and (hi is None or hours < hi):
            return key
    raise AssertionError(hours)


def expected(items: list[dict[str, Any]], codes: set[str]) -> dict[str, Any]:
    """The statistics of listed instances (``GET /api/approvals`` items), worked out here:
    ``{process_code: (instances, running, agree, refuse)}`` for ``codes`` and the histogram."""
    per: dict[str, Counter[str]] = {c: Counter() for c in codes}
    cycle: Counter[str] = Counter()
    for i in items:
        c = per.setdefault(i["process_code"], Counter())
        c["instances"] += 1
        c["running"] += i["status"] in ("NEW", "RUNNING")
        if i["result"] in ("agree", "refuse"):
            c[i["result"]] += 1
            if i["create_time"] is not None and i["finish_time"] is not None:
                cycle[_bucket((i["finish_time"] - i["create_time"]) / HOUR_MS)] += 1
    return {
        "templates": {
            code: (c["instances"], c["running"], c["agree"], c["refuse"]) for code, c in per.items()
        },
        "cycle": [cycle[b[0]] for b in CYCLE_BUCKETS],
    }


def answered(stats: dict[str, Any]) -> dict[str, Any]:
    return {
        "templates": {
            t["process_code"]: (t["instances"], t["running"], t["agree"], t["refuse"])
            for t in stats["templates"]
        },
        "cycle": [b["count"] for b in stats["cycle_time"]],
    }


def _codes(web: Web) -> dict[str, str]:
    with web.engine.connect() as conn:
        return {
            r.process_code: r.name
            for r in conn.execute(
                select(approval_templates.c.process_code, approval_templates.c.name)
            )
        }


def test_the_main_administrators_stats_are_the_stored_truth(data_web: Web) -> None:  # noqa: F811
    web = data_web
    codes = _codes(web)
    with web.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(approval_instances)).mappings()]
    assert rows
    items = [
        {
            "process_code": r["process_code"],
            "status": r["status"],
            "result": r["result"],
            "create_time": r["create_time"].timestamp() * 1000 if r["create_time"] else None,
            "finish_time": r["finish_time"].timestamp() * 1000 if r["finish_time"] else None,
        }
        for r in rows
    ]
    admin = web.token(web.sb.company.main_admin_userid)
    r = web.get("/api/approvals/stats", admin)
    assert r.status_code == 200, r.text
    stats = r.json()
    assert answered(stats) == expected(items, set(codes))
    assert [t["name"] for t in stats["templates"]] == sorted(codes.values())
    assert stats["instances"] == len(rows)
    agree = sum(1 for r in rows if r["result"] == "agree")
    finished = sum(1 for r in rows if r["result"] in ("agree", "refuse"))
    assert (stats["agree"], stats["finished"]) == (agree, finished)
    assert stats["approval_rate"] == round(agree / finished, 4)
    for t in stats["templates"]:
        rate = t["agree"] / t["finished"] if t["finished"] else None
        assert t["approval_rate"] == (None if rate is None else round(rate, 4))
    assert sum(b["count"] for b in stats["cycle_time"]) == sum(
        1 for r in rows if r["result"] in ("agree", "refuse") and r["finish_time"]
    )


def test_stats_count_what_each_person_may_list_with_the_same_filters(
    data_web: Web,  # noqa: F811
) -> None:
    """Employees, a department head, a sub-administrator and the main administrator, with no
    filter, a date range, a department and a template: the stats equal the list's."""
    web = data_web
    company = web.sb.company
    codes = _codes(web)
    with web.engine.connect() as conn:
        first = conn.execute(
            select(approval_instances.c.create_time).order_by(approval_instances.c.create_time)
        ).scalar()
        code = conn.execute(
            select(approval_instances.c.process_code).group_by(approval_instances.c.process_code)
        ).scalar()
    assert first is not None
    day = first.date()
    people = [company.main_admin_userid, *company.sub_admin_userids[:1]]
    people += sorted(u for u in company.users if u not in company.admins)[:4]
    dept = next(d.dept_id for d in company.children(1))
    filter_sets: list[dict[str, Any]] = [
        {},
        {"start_date": day.isoformat(), "end_date": (day + timedelta(days=1)).isoformat()},
        {"dept_id": dept},
        {"process_code": code},
        {"start_date": (day + timedelta(days=1)).isoformat(), "dept_id": 1},
    ]
    seen_any = False
    for userid in people:
        token = web.token(userid)
        for filters in filter_sets:
            r = web.get("/api/approvals/stats", token, params=filters)
            assert r.status_code == 200, (userid, filters, r.text)
            stats = r.json()
            items = _all(web, "/api/approvals", token, **filters)
            wanted = {filters["process_code"]} if "process_code" in filters else set(codes)
            assert answered(stats) == expected(items, wanted), (userid, filters)
            assert stats["instances"] == len(items)
            for key in ("start_date", "end_date", "dept_id", "process_code"):
                assert stats[key] == filters.get(key)
            seen_any = seen_any or bool(items)
    assert seen_any


def test_stats_refuse_a_reversed_range_and_are_not_an_instance_id(
    data_web: Web,  # noqa: F811
) -> None:
    web = data_web
    token = web.token(web.sb.company.main_admin_userid)
    r = web.get(
        "/api/approvals/stats", token, params={"start_date": "2026-02-02", "end_date": "2026-02-01"}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "request.invalid"
    assert web.get("/api/approvals/stats", token, params={"dept_id": 0}).status_code == 422
    r = web.get("/api/approvals/stats", token, params={"process_code": "PROC-NONE"})
    assert r.status_code == 200
    assert r.json()["templates"] == [] and r.json()["instances"] == 0
    assert web.http.get("/api/approvals/stats").status_code == 401


def test_the_list_filters_by_result(data_web: Web) -> None:  # noqa: F811
    web = data_web
    token = web.token(web.sb.company.main_admin_userid)
    every = _all(web, "/api/approvals", token)
    for result in ("agree", "refuse"):
        got = _all(web, "/api/approvals", token, result=result)
        assert {i["process_instance_id"] for i in got} == {
            i["process_instance_id"] for i in every if i["result"] == result
        }
