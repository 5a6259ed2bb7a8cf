"""Exports and compliance on a synced database (SQLite and PostgreSQL): xlsx headers follow the
template and values match the store (numbers as numbers), the CSV carries its BOM, the
department filter holds, and compliance equals the sandbox's truth for every person and day."""

from __future__ import annotations

import csv
import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import Engine, select

from dingsync.export import local
from dingsync.export.reports import (
    FIXED_HEADERS,
    TAIL_HEADERS,
    compliance,
    export_reports,
    write_compliance,
)
from dingsync.sandbox import SandboxServer
from dingsync.sandbox.reports import ReportsArea
from dingsync.store import repo_audit, repo_reports
from dingsync.store.schema import user_departments
from helpers.reports import SANDBOX as SANDBOX
from helpers.reports import sync, window_dates


def _area(sb: SandboxServer) -> ReportsArea:
    found: ReportsArea = sb.state.areas["reports"]
    return found


def test_exports_and_compliance(sandbox: SandboxServer, engine: Engine, tmp_path: Path) -> None:
    assert sync(sandbox, engine, details="none").status == "succeeded"
    corp = sandbox.app.corp_id
    first, last = window_dates(sandbox)
    world = _area(sandbox).world
    with engine.connect() as conn:
        stored = repo_reports.load_reports(conn, corp)

        # -- xlsx: headers in template order, values equal to the store, numbers as numbers --
        path = tmp_path / "sales.xlsx"
        n = export_reports(conn, corp, "销售日报", first, last, path, "xlsx")
        sales = [r for r in world.reports if r.template == "销售日报"]
        assert n == len(sales) > 0
        fields = [f.field_name for f in world.templates["销售日报"].fields]
        sheet = openpyxl.load_workbook(path, read_only=True).active
        assert sheet is not None
        rows = list(sheet.iter_rows(values_only=True))
        assert list(rows[0]) == [*FIXED_HEADERS, *fields, *TAIL_HEADERS]
        assert len(rows) == 1 + len(sales)
        width = len(FIXED_HEADERS)
        times = [row[5] for row in rows[1:]]
        assert times == sorted(times) and all(isinstance(t, datetime) for t in times)
        for row in rows[1:]:
            rid = row[0]
            assert isinstance(rid, str)
            report = stored[rid]
            assert row[3] == report["creator_id"]
            created = local(report["create_time"])
            assert isinstance(row[5], datetime) and created is not None
            assert abs(row[5] - created) < timedelta(milliseconds=1)
            values = {c["key"]: c["value"] for c in report["contents"]}
            for i, name in enumerate(fields):
                cell = row[width + i]
                want = values.get(name)
                if name in ("今日拜访客户数", "新增线索数", "签约金额（元）"):
                    assert isinstance(cell, int) and cell == int(str(want))
                else:
                    assert (cell or "") == (want or "")
            assert row[-2] == "、".join(_names(conn, corp, report["receivers"]))

        # -- CSV: UTF-8 with BOM, same rows --
        csv_path = tmp_path / "daily.csv"
        n = export_reports(conn, corp, "日报", first, last, csv_path, "csv")
        raw = csv_path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        with open(csv_path, encoding="utf-8-sig", newline="") as fh:
            table = list(csv.reader(fh))
        daily = {r.report_id: r for r in world.reports if r.template == "日报"}
        assert n == len(daily) == len(table) - 1
        header = table[0]
        assert header[: len(FIXED_HEADERS)] == list(FIXED_HEADERS)
        for line in table[1:]:
            truth = {c["key"]: c["value"] for c in daily[line[0]].contents}
            for key, value in truth.items():
                assert line[header.index(key)] == value  # Chinese, emoji, newlines, ""

        # -- department filter: only members of the department and those below it --
        dept_id, members = _some_department(conn, corp)
        n_dept = export_reports(
            conn, corp, "日报", first, last, tmp_path / "d.xlsx", "xlsx", dept_id=dept_id
        )
        assert n_dept == sum(1 for r in daily.values() if r.creator_id in members)

        # -- compliance equals the sandbox's truth, for every template, person and day --
        truth = sandbox.stats()["reports"]["submissions"]
        statuses: set[str] = set()
        for template in world.templates:
            result = compliance(conn, corp, template, first, last)
            assert result.statuses() == truth[template], template
            statuses |= {d.status for d in result.days}
            for d in result.departments:
                assert d.expected == d.submitted + d.late + d.missing
        assert statuses == {"submitted", "late", "missing"}
        daily_result = compliance(conn, corp, "日报", first, last)

        # -- days from "today" on are not due yet: none of them is counted --
        today = last - timedelta(days=2)
        early = compliance(conn, corp, "日报", first, last, today=today)
        assert early.days and max(d.day for d in early.days) < today
        assert {(d.userid, d.day, d.status) for d in early.days} == {
            (d.userid, d.day, d.status) for d in daily_result.days if d.day < today
        }

    out = tmp_path / "c.xlsx"
    rows_written = write_compliance(daily_result, out, "xlsx")
    book = openpyxl.load_workbook(out, read_only=True)
    assert book.sheetnames == ["明细", "个人汇总", "部门提交率"]
    assert rows_written == len(daily_result.days)
    # Rates are numbers (the fraction) shown as percent, as the console shows them (75.0%).
    styled = openpyxl.load_workbook(out)
    person_rates = [row[7] for row in styled["个人汇总"].iter_rows(min_row=2) if row[3].value]
    dept_rates = [c for row in styled["部门提交率"].iter_rows(min_row=2) for c in row[7:9]]
    assert person_rates and dept_rates
    for cell in person_rates + dept_rates:
        assert cell.number_format == "0.0%", (cell.coordinate, cell.number_format)
        assert isinstance(cell.value, float) and 0 <= cell.value <= 1, cell.value
    by_dept = {d.dept_id: d for d in daily_result.departments}
    for row in styled["部门提交率"].iter_rows(min_row=2, values_only=True):
        assert row[7:9] == (round(by_dept[row[0]].rate, 4), round(by_dept[row[0]].on_time_rate, 4))
    for row in styled["个人汇总"].iter_rows(min_row=2, values_only=True):
        due, done = row[3], row[4] + row[5]
        assert row[7] == (round(done / due, 4) if due else None), row
    out_csv = tmp_path / "c.csv"
    write_compliance(daily_result, out_csv, "csv")
    assert out_csv.read_bytes().startswith(b"\xef\xbb\xbf")


def _names(conn: Any, corp: str, userids: list[str]) -> list[str]:
    from dingsync.export.reports import user_names

    names = user_names(conn, corp)
    return [names.get(u, u) for u in userids]


def _some_department(conn: Any, corp: str) -> tuple[int, set[str]]:
    """A department other than the root with its members (direct; tests use leaf-ish ones)."""
    from dingsync.export.reports import dept_scope

    ud = user_departments
    ids = sorted(
        {int(d) for (d,) in conn.execute(select(ud.c.dept_id).where(ud.c.corp_id == corp))} - {1}
    )
    if not ids:
        pytest.skip("company without sub-departments")
    return ids[0], dept_scope(conn, corp, ids[0])


def _csv_ids(path: Path) -> set[str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][0] == "日志ID"
    return {r[0] for r in rows[1:]}


def test_export_narrowed_by_departments_creator_and_visibility(
    sandbox: SandboxServer, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """``dept_ids`` (several roots with their sub-departments), ``creator`` and a viewer's
    ``visible`` scope are applied in SQL; the CLI's repeatable ``--dept`` gives the same rows."""
    from typer.testing import CliRunner

    from dingsync.cli import app
    from dingsync.store.repo_contacts import department_subtree
    from dingsync.store.visibility import Visible

    assert sync(sandbox, engine, details="none").status == "succeeded"
    corp = sandbox.app.corp_id
    first, last = window_dates(sandbox)
    company = sandbox.company

    def below(dept: int) -> set[int]:
        out = {dept}
        for child in company.children(dept):
            out |= below(child.dept_id)
        return out

    with engine.connect() as conn:
        stored = repo_reports.load_reports(conn, corp)
        template = max(
            {r["template_name"] for r in stored.values()},
            key=lambda t: len(
                {r["creator_id"] for r in stored.values() if r["template_name"] == t}
            ),
        )
        daily = {rid: r for rid, r in stored.items() if r["template_name"] == template}
        members: dict[str, set[int]] = {}
        for u, d in conn.execute(
            select(user_departments.c.userid, user_departments.c.dept_id).where(
                user_departments.c.corp_id == corp
            )
        ):
            members.setdefault(u, set()).add(int(d))

        def written_in(depts: set[int]) -> set[str]:
            return {rid for rid, r in daily.items() if members.get(r["creator_id"], set()) & depts}

        # two departments apart (neither below the other) whose people wrote some, not all
        roots, wanted = next(
            ([a, b], below(a) | below(b))
            for a in sorted(company.departments)
            for b in sorted(company.departments)
            if 1 not in (a, b)
            and a < b
            and not below(a) & below(b)
            and 0 < len(written_in(below(a) | below(b))) < len(daily)
            and written_in(below(a))
            and written_in(below(b))
        )
        assert department_subtree(conn, corp, roots) == wanted
        in_depts = written_in(wanted)

        def export(name: str, **kw: Any) -> set[str]:
            path = tmp_path / f"{name}.csv"
            n = export_reports(conn, corp, template, first, last, path, "csv", **kw)
            ids = _csv_ids(path)
            assert n == len(ids)
            return ids

        assert export("depts", dept_ids=wanted) == in_depts
        person = max(
            company.users,
            key=lambda u: sum(1 for r in daily.values() if u in r["receivers"]),
        )
        created = {rid for rid, r in daily.items() if r["creator_id"] == person}
        received = {rid for rid, r in daily.items() if person in r["receivers"]}
        assert received
        assert export("creator", creator=person) == created
        own = Visible(owner=person, participant=person)
        assert export("own", visible=own) == created | received
        scoped = Visible(owner=person, participant=person, dept_ids=tuple(sorted(wanted)))
        assert export("scoped", visible=scoped) == created | received | in_depts
        # filters narrow what is visible
        assert export("both", visible=own, dept_ids=wanted) == (created | received) & in_depts

    out = tmp_path / "cli.csv"
    res = CliRunner().invoke(
        app,
        ["export", "reports", "--template", template, "--from", first.isoformat(), "--to",
         last.isoformat(), "--dept", str(roots[0]), "--dept", str(roots[1]), "--format", "csv",
         "-o", str(out), "--database-url", db_url, "--corp-id", corp],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert _csv_ids(out) == in_depts
    # The CLI export is audited like the web's (DESIGN.md §7): who, kind, filters, rows, hash.
    with engine.connect() as conn:
        audit = repo_audit.list_export_audit(conn, corp, limit=1)[0][0]
    assert audit["client"] == "cli" and audit["userid"].startswith("cli:")
    assert (audit["kind"], audit["format"], audit["row_count"]) == ("reports", "csv", len(in_depts))
    assert audit["filters"]["requested"] == {
        "template": template,
        "start_date": first.isoformat(),
        "end_date": last.isoformat(),
        "dept_id": roots,
    }
    assert audit["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert audit["byte_size"] == out.stat().st_size
    assert f"export audit #{audit['id']}" in " ".join(res.output.split())
    # A typo in the template or a reversed range is an error (exit 2), not an empty export.
    common = ["--format", "csv", "--database-url", db_url, "--corp-id", corp]
    typo = tmp_path / "typo.csv"
    res = CliRunner().invoke(
        app,
        ["export", "reports", "--template", template + "X", "--from", first.isoformat(), "--to",
         last.isoformat(), "-o", str(typo), *common],
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "no report template" in res.output and template in res.output
    assert not typo.exists()
    res = CliRunner().invoke(
        app,
        ["export", "reports", "--template", template, "--from", last.isoformat(), "--to",
         first.isoformat(), "-o", str(typo), *common],
    )  # fmt: skip
    assert res.exit_code == 2 and "is before --from" in res.output, res.output
    assert not typo.exists()
    # The format follows the file's suffix (.csv → csv, .xlsx → xlsx, any case) unless
    # --format says it; a suffix naming no format, or one --format contradicts, is a usage
    # error (exit 2) that writes nothing and audits nothing.
    where = ["--database-url", db_url, "--corp-id", corp]
    span = ["--template", template, "--from", first.isoformat(), "--to", last.isoformat()]

    def export_to(name: str, *more: str) -> tuple[Any, Path]:
        path = tmp_path / name
        args = ["export", "reports", *span, "-o", str(path), *where, *more]
        return CliRunner().invoke(app, args), path

    res, by_suffix = export_to("by-suffix.csv")
    assert res.exit_code == 0, res.output
    assert not by_suffix.read_bytes().startswith(b"PK") and _csv_ids(by_suffix)
    res, upper = export_to("upper.XLSX")
    assert res.exit_code == 0 and upper.read_bytes().startswith(b"PK"), res.output
    with engine.connect() as conn:
        latest, audited = repo_audit.list_export_audit(conn, corp, limit=2)
    assert [a["format"] for a in latest] == ["xlsx", "csv"]  # newest first
    for name, more, says in (
        ("r.txt", (), "cannot tell the format from 'r.txt'"),
        ("r", (), "cannot tell the format from 'r'"),
        ("r.csv", ("--format", "xlsx"), "would write xlsx into 'r.csv'"),
    ):
        res, path = export_to(name, *more)
        assert res.exit_code == 2, (name, res.output)
        assert says in " ".join(res.output.replace("│", " ").split()), res.output
        assert not path.exists()
    with engine.connect() as conn:
        assert repo_audit.list_export_audit(conn, corp, limit=1)[1] == audited
    res, named = export_to("named.txt", "--format", "csv")  # --format wins over an odd suffix
    assert res.exit_code == 0 and _csv_ids(named) == _csv_ids(by_suffix), res.output
