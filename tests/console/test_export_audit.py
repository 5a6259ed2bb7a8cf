"""导出记录 in a real browser: every export with who, when, kind, filters, rows, SHA-256 and
client, paged as ``/api/exports/audit``; the hash chain's state as ``dingsync audit verify``
computes it (链完整, or 链断裂 at the first broken row)."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import select, update

from dingsync.store.schema_approvals import approval_templates
from dingsync.store.schema_web import AUDIT_TRIGGER_DROP_SQL, AUDIT_TRIGGER_SQL, web_export_audit
from dingsync.web.console.session import COOKIE

from .conftest import Console


def _export(console: Console, userid: str, kind: str, filters: dict) -> None:  # type: ignore[type-arg]
    r = httpx.post(
        f"{console.url}/api/exports",
        headers={"Authorization": f"Bearer {console.api_token(userid)}"},
        json={"kind": kind, "format": "csv", "filters": filters},
        timeout=60,
    )
    assert r.status_code == 200, r.text


def test_the_audit_lists_every_export_and_the_chain_is_whole(console: Console) -> None:
    admin = console.main_admin
    _export(console, admin, "users", {"dept_id": 1, "recursive": True})
    _export(console, console.hr, "attendance", {})
    page = console.page_as(admin)
    page.goto(f"{console.url}/console/exports")
    api = console.api(admin, "/api/exports/audit", limit=20)
    rows = page.locator("[data-testid=audit] tr[data-audit]")
    assert rows.evaluate_all("els => els.map(e => Number(e.dataset.audit))") == [
        i["id"] for i in api["items"]
    ]
    first = api["items"][0]
    row = page.locator(f"tr[data-audit='{first['id']}']")
    text = row.inner_text()
    hr_name = console.company.users[console.hr].name
    assert hr_name in text and "考勤" in text and "CSV" in text and "API" in text
    assert int(row.locator("[data-field=rows]").inner_text()) == first["row_count"]
    assert row.locator("[data-field=sha256]").get_attribute("title") == first["sha256"]
    chain = page.locator("[data-testid=chain]")
    assert chain.get_attribute("data-chain-ok") == "true"
    verify = console.api(admin, "/api/exports/audit/verify")
    assert verify["ok"] and verify["rows"] == api["total"]
    assert "链完整" in chain.inner_text() and str(verify["rows"]) in chain.inner_text()
    console.shot(page, "exports")
    page.context.close()


def test_a_tampered_row_shows_the_chain_broken_at_its_id(console: Console) -> None:
    admin = console.main_admin
    _export(console, admin, "users", {})
    dialect = console.engine.dialect.name
    with console.engine.begin() as conn:
        # What the table's owner could do: take the append-only triggers away (put back below).
        for statement in AUDIT_TRIGGER_DROP_SQL[dialect]:
            conn.exec_driver_sql(statement)
        target = conn.execute(
            select(web_export_audit.c.id, web_export_audit.c.row_count)
            .order_by(web_export_audit.c.id)
            .limit(1)
        ).one()
        conn.execute(
            update(web_export_audit)
            .where(web_export_audit.c.id == target.id)
            .values(row_count=target.row_count + 1)
        )
    try:
        page = console.page_as(admin)
        page.goto(f"{console.url}/console/exports")
        chain = page.locator("[data-testid=chain]")
        assert chain.get_attribute("data-chain-ok") == "false"
        assert f"链断裂 at id {target.id}" in chain.inner_text()
        console.shot(page, "exports-broken")
        page.context.close()
    finally:
        with console.engine.begin() as conn:
            conn.execute(
                update(web_export_audit)
                .where(web_export_audit.c.id == target.id)
                .values(row_count=target.row_count)
            )
            for statement in AUDIT_TRIGGER_SQL[dialect]:
                conn.exec_driver_sql(statement)
    assert console.api(admin, "/api/exports/audit/verify")["ok"]


def test_the_audit_is_for_administrators_only(console: Console) -> None:
    for who in (console.employee, console.hr, console.leader, console.sub_admin):
        r = httpx.get(f"{console.url}/console/exports", cookies={COOKIE: console.api_token(who)})
        assert r.status_code == 404, who


def test_filters_and_kinds_are_in_chinese_for_web_and_cli_exports(
    console: Console, tmp_path: Path
) -> None:
    """Every audit row's filters read as the console's words (模板：…, 部门：<name>, 含子部门：是),
    a CLI export's too (its files by name, never a raw dict), and every kind in Chinese
    (日志统计, not ``compliance``)."""
    from datetime import date

    from typer.testing import CliRunner

    from dingsync.cli import app as cli_app

    admin = console.main_admin
    tree = console.api(admin, "/api/departments")["tree"]
    dept = tree["children"][0]
    _export(console, admin, "users", {"dept_id": dept["dept_id"], "recursive": True})
    _export(console, admin, "compliance", {"template": "销售日报"})
    month = date.today().strftime("%Y-%m")
    out = tmp_path / "考勤.csv"
    result = CliRunner().invoke(
        cli_app,
        ["export", "attendance", "--month", month, "--dept", str(dept["dept_id"]), "-o", str(out),
         "--database-url", str(console.engine.url), "--corp-id", console.corp_id],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    api = console.api(admin, "/api/exports/audit", limit=3)["items"]
    assert [e["kind"] for e in api] == ["attendance", "compliance", "users"]
    cli, compliance, users = api
    page = console.page_as(admin)
    page.goto(f"{console.url}/console/exports")

    def shown(entry: dict) -> tuple[str, list[str]]:  # type: ignore[type-arg]
        row = page.locator(f"tr[data-audit='{entry['id']}']")
        tags = row.locator("[data-field=filters] .tag[data-filter]").all_inner_texts()
        return row.inner_text(), tags

    text, tags = shown(cli)
    assert "考勤" in text and "命令行" in text
    assert tags == [f"月份：{month}", f"部门：{dept['name']}", "文件：考勤.csv"]
    text, tags = shown(compliance)
    assert "日志统计" in text and "compliance" not in text
    assert "模板：销售日报" in tags and any(t.startswith("结束日期：") for t in tags)
    text, tags = shown(users)
    assert "通讯录" in text
    assert tags == [f"部门：{dept['name']}", "含子部门：是", "含离职人员：否"]
    cells = page.locator("[data-field=filters]").all_inner_texts()
    assert not [c for c in cells if "{" in c or "=" in c or "_" in c]
    # Who: a CLI export's cli:<OS user> is no person of the directory, so no link to one (a
    # 404); a web export's exporter links to their page.
    who = page.locator(f"tr[data-audit='{cli['id']}'] [data-field=who]")
    assert who.inner_text().startswith("cli:") and who.locator("a").count() == 0
    link = page.locator(f"tr[data-audit='{users['id']}'] [data-field=who] a")
    assert link.get_attribute("href") == f"/console/directory/users/{users['userid']}"
    page.context.close()


def test_a_sub_administrators_export_scope_reads_in_chinese(console: Console) -> None:
    """An export made by a sub-administrator records the parts of their scope (``own``,
    ``participant``, ``departments``); the audit page words them (范围：本人、参与、管辖部门),
    never as a raw list like ``['departments']``; the main administrator's reads 范围：全部."""
    admin, sub = console.main_admin, console.sub_admin
    _export(console, sub, "users", {})
    with console.engine.connect() as conn:
        code = conn.execute(select(approval_templates.c.process_code)).scalars().first()
    _export(console, sub, "approvals", {"process_code": code})
    _export(console, admin, "users", {})
    mine, approvals, users = console.api(admin, "/api/exports/audit", limit=3)["items"]
    assert users["filters"]["scope"] == ["departments"]
    assert approvals["filters"]["scope"] == ["own", "participant", "departments"]
    assert mine["filters"]["scope"] == "all"
    page = console.page_as(admin)
    page.goto(f"{console.url}/console/exports")

    def scope_of(entry: dict) -> str:  # type: ignore[type-arg]
        return page.locator(f"tr[data-audit='{entry['id']}'] [data-field=scope]").inner_text()

    assert scope_of(users) == "范围：管辖部门"
    assert scope_of(approvals) == "范围：本人、参与、管辖部门"
    assert scope_of(mine) == "范围：全部"
    cells = page.locator("[data-field=filters]").all_inner_texts()
    assert not [c for c in cells if "[" in c or "'" in c]
    page.context.close()
