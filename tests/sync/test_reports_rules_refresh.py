"""Statistics rules (统计规则) changed by an administrator reach the store on an incremental
run, over real loopback HTTP against the sandbox (``POST /sandbox/mutate/reports/rule``), on
SQLite and PostgreSQL: when the stored rules are older than ``rules_max_age_minutes`` the run
reads them again (one call per template and one per rule); younger, it does not."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from dingsync.sandbox import SandboxServer
from dingsync.store import repo_reports
from helpers.reports import sync
from helpers.sandboxes import SandboxSpec

#: The module changes the company's rules: its own sandbox.
SANDBOX = SandboxSpec(seed=11, users=16, days=10, private=True)

RULES = "/v1.0/report/statisticalRules/results"


def _rule(sb: SandboxServer, body: dict[str, object]) -> dict[str, object]:
    r = httpx.post(f"{sb.base_url}/sandbox/mutate/reports/rule", json=body)
    assert r.status_code == 200, r.text
    answer: dict[str, object] = r.json()
    return answer


def test_an_incremental_run_picks_up_a_changed_rule(sandbox: SandboxServer, engine: Engine) -> None:
    corp = sandbox.app.corp_id
    assert sync(sandbox, engine, details="none").status == "succeeded"
    with engine.connect() as conn:
        daily = repo_reports.rule_of(conn, corp, "日报")
        assert daily is not None and daily["end_date_time"][0] == "2 10:00"
        assert repo_reports.rule_of(conn, corp, "周报") is None
    original = sorted(daily["userids"])
    try:
        keep = sorted(daily["userids"])[1:]
        # The administrator moves 日报's deadline to 11:00, drops one person, and gives 周报 a
        # weekly rule (Friday 12:00 to Monday 10:00).
        _rule(
            sandbox,
            {"template": "日报", "ends": [f"{n + 1} 11:00" for n in range(1, 6)], "userids": keep},
        )
        _rule(
            sandbox,
            {
                "template": "周报",
                "period_type": 2,
                "starts": ["5 12:00"],
                "ends": ["1 10:00"],
                "userids": keep,
            },
        )

        # Rules stored a moment ago are young: an incremental run with the default age keeps them.
        sandbox.reset_stats()
        assert sync(sandbox, engine, contacts=False, kind="incremental", details="none").status == (
            "succeeded"
        )
        assert RULES not in sandbox.stats()["calls"]
        with engine.connect() as conn:
            assert repo_reports.rule_of(conn, corp, "日报")["end_date_time"][0] == "2 10:00"  # type: ignore[index]

        # Older than the age (0: always): the incremental run reads them, one call per template.
        sandbox.reset_stats()
        inc = sync(
            sandbox,
            engine,
            contacts=False,
            kind="incremental",
            details="none",
            rules_max_age_minutes=0,
        )
        assert inc.status == "succeeded"
        calls = sandbox.stats()["calls"]
        with engine.connect() as conn:
            templates = len(repo_reports.template_ids(conn, corp))
            daily = repo_reports.rule_of(conn, corp, "日报")
            weekly = repo_reports.rule_of(conn, corp, "周报")
        assert calls[RULES] == templates
        assert calls["/v1.0/report/submitStatisticalResults"] == 3  # 日报, 周报, 项目周报
        assert daily is not None and daily["end_date_time"] == [
            f"{n + 1} 11:00" for n in range(1, 6)
        ]
        assert sorted(daily["userids"]) == keep
        assert weekly is not None and weekly["period_type"] == 2
        assert weekly["start_date_time"] == ["5 12:00"] and sorted(weekly["userids"]) == keep

        # A rule the administrator deletes is deleted here too.
        _rule(sandbox, {"template": "周报", "remove": True})
        sync(
            sandbox,
            engine,
            contacts=False,
            kind="incremental",
            details="none",
            rules_max_age_minutes=0,
        )
        with engine.connect() as conn:
            assert repo_reports.rule_of(conn, corp, "周报") is None
    finally:  # the sandbox is the module's, shared by the two databases' runs
        _rule(
            sandbox,
            {
                "template": "日报",
                "ends": [f"{n + 1} 10:00" for n in range(1, 6)],
                "userids": original,
            },
        )
        _rule(sandbox, {"template": "周报", "remove": True})
