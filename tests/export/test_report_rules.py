"""Compliance by the company's statistics rule (统计规则), over real loopback HTTP against the
sandbox, on SQLite and PostgreSQL: for a template with a rule the numbers equal the sandbox's
own ``/v1.0/report/submitStatisticalResults`` person by person and day by day, and the result
names the rule; a template without a rule falls back to the default rule and says so."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine

from dingsync.dingtalk.models.reports import SubmitStatistics
from dingsync.export.report_rules import compliance_by_rule
from dingsync.export.reports import compliance
from dingsync.sandbox import SandboxServer
from dingsync.store import repo_reports, visibility
from dingsync.timeutil import WIRE_TZ, day_end_ms, day_start_ms, local_date
from helpers.reports import sync, window
from helpers.sandboxes import SandboxSpec, make_client

#: Big enough that the rule's people include 日报 writers, 销售日报 writers and late ones.
SANDBOX = SandboxSpec(seed=11, users=80, days=14)

STATUS = {0: "missing", 1: "submitted", 2: "late"}


def _dingtalk_statistics(
    sb: SandboxServer, rule: dict[str, Any], first: date, last: date
) -> SubmitStatistics:
    """DingTalk's own statistics of ``rule`` for the windows opening ``first``..``last``."""

    async def go() -> SubmitStatistics:
        async with make_client(sb) as client:
            return await client.reports.get_submit_statistics(
                str(rule["template_id"]),
                int(str(rule["remind_id"])),
                day_start_ms(first, WIRE_TZ),
                day_end_ms(last, WIRE_TZ),
                sb.state.company.main_admin_userid,
            )

    return asyncio.run(go())


def test_compliance_by_the_rule_equals_dingtalks_statistics(
    sandbox: SandboxServer, engine: Engine
) -> None:
    assert sync(sandbox, engine, details="none").status == "succeeded"
    corp = sandbox.app.corp_id
    start_ms, anchor = window(sandbox)
    first = local_date(start_ms, WIRE_TZ)
    # every window opening by `last` has closed before the anchor (they close by 10:00 next day)
    last = local_date(anchor, WIRE_TZ) - timedelta(days=2)
    with engine.connect() as conn:
        stored = repo_reports.rule_of(conn, corp, "日报")
        assert stored is not None and stored["period_type"] == 1
        result = compliance_by_rule(
            conn, corp, "日报", first, last, today=last + timedelta(days=1), now_ms=anchor
        )
        default = compliance(conn, corp, "日报", first, last, today=last + timedelta(days=1))
        weekly = compliance_by_rule(conn, corp, "周报", first, last, today=last + timedelta(days=1))
        weekly_default = compliance(conn, corp, "周报", first, last, today=last + timedelta(days=1))
        mine = compliance_by_rule(
            conn,
            corp,
            "日报",
            first,
            last,
            today=last + timedelta(days=1),
            now_ms=anchor,
            people=visibility.Visible(owner=sorted(stored["userids"])[0]),
        )
    truth = _dingtalk_statistics(sandbox, stored, first, last)

    # who must submit: the rule's people as DingTalk lists them
    assert sorted(stored["userids"]) == sorted(truth.user_ids)
    want = {u: {d: STATUS[s] for d, s in per.items()} for u, per in truth.statuses().items()}
    assert result.statuses() == {u: per for u, per in want.items() if per}
    kinds = Counter(d.status for d in result.days)
    assert kinds["submitted"] and kinds["late"] and kinds["missing"]  # all three occur
    # per person counts agree with DingTalk's userIdCountMap (periods with a report)
    for userid, counts in result.people.items():
        assert counts["submitted"] + counts["late"] == truth.user_id_count_map[userid]

    # the output names the rule it used
    assert result.rule is not None and result.rule["source"] == "dingtalk"
    assert result.rule["remind_id"] == stored["remind_id"]
    assert result.rule["must_submit"] == len(truth.user_ids)
    assert "17:00" in result.rule["text"] and "10:00" in result.rule["text"]
    # ... and the rule matters: the default rule counts the same reports differently
    assert default.statuses() != result.statuses()

    # a template without a rule: the default rule, said so, same numbers as before
    assert weekly.rule is not None and weekly.rule["source"] == "default"
    assert weekly.statuses() == weekly_default.statuses()

    # a viewer who may see only themselves gets only themselves, by the same rule
    only = sorted(stored["userids"])[0]
    assert set(mine.people) == {only}
    assert mine.statuses()[only] == want[only]


def test_monthly_rule_equals_dingtalks_statistics(sandbox: SandboxServer, engine: Engine) -> None:
    """项目周报's rule is monthly (``periodType`` 3: due on the 1st, 8th, 15th and 22nd): the
    compliance by it equals the sandbox's own statistics person by person and due day by due
    day, and the result says it is a monthly rule."""
    assert sync(sandbox, engine, details="none").status == "succeeded"
    corp = sandbox.app.corp_id
    start_ms, anchor = window(sandbox)
    first = local_date(start_ms, WIRE_TZ)
    # Every window opening by `last` has closed (they close 4 days later at 18:00); ten days
    # always hold a due day.
    last = local_date(anchor, WIRE_TZ) - timedelta(days=5)
    with engine.connect() as conn:
        stored = repo_reports.rule_of(conn, corp, "项目周报")
        assert stored is not None and stored["period_type"] == 3
        result = compliance_by_rule(
            conn, corp, "项目周报", first, last, today=last + timedelta(days=1), now_ms=anchor
        )
    truth = _dingtalk_statistics(sandbox, stored, first, last)
    assert sorted(stored["userids"]) == sorted(truth.user_ids)
    want = {u: {d: STATUS[s] for d, s in per.items()} for u, per in truth.statuses().items()}
    assert result.statuses() == {u: per for u, per in want.items() if per}
    due = {d.day.day for d in result.days}
    assert due and due <= {1, 8, 15, 22}
    kinds = Counter(d.status for d in result.days)
    assert kinds["submitted"] + kinds["late"] > 0, kinds
    for userid, counts in result.people.items():
        assert counts["submitted"] + counts["late"] == truth.user_id_count_map[userid]
    assert result.rule is not None and result.rule["source"] == "dingtalk"
    assert result.rule["period"] == "monthly"
    assert result.rule["remind_id"] == stored["remind_id"]
