"""Approval exports and statistics, from the store (never from DingTalk).

:func:`export_approvals` writes one row per instance — business id, instance id, title,
originator, department, status, result, create and finish time, then one column per form field
in the template's schema order — and the detail tables (明细) one row per detail row, keyed by
instance id: a second sheet in xlsx, a second file (``<name>.details.csv``) in csv. Amounts and
numbers are numbers, dates are dates (Asia/Shanghai wall time), a date range is two columns,
attachments are listed by file name, photos by URL, contacts by userid, a table field by its
number of rows. Text notes (说明文字, no value) are left out. Values are matched to schema
fields by component id, so a value without a ``name`` still lands in its column.

:func:`approval_stats`: per template, counts by status and result, approval rate (agree ÷
finished with a result) and cycle time (create → finish) p50/p90 in hours.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, select

from dingsync.store import repo_approvals
from dingsync.store.schema import users

SHANGHAI = timezone(timedelta(hours=8))
Format = Literal["xlsx", "csv"]

BASE_COLUMNS = (
    "审批编号",
    "实例ID",
    "标题",
    "发起人ID",
    "发起人",
    "部门",
    "状态",
    "结果",
    "创建时间",
    "完成时间",
)
DETAIL_BASE = ("实例ID", "审批编号", "明细字段", "行号")
NUMBER_TYPES = frozenset({"NumberField", "MoneyField"})
SKIPPED_TYPES = frozenset({"TextNote"})


@dataclass
class ExportResult:
    """What was written: files, instance rows, detail rows, column headers."""

    paths: list[Path]
    rows: int
    detail_rows: int
    columns: list[str]
    detail_columns: list[str]


@dataclass
class _Column:
    header: str
    field_id: str | None
    component: str
    part: int | None = None  # date range: 0 start, 1 end


def _local(dt: datetime | None) -> datetime | None:
    """Aware UTC → naive Asia/Shanghai wall time (what a spreadsheet shows)."""
    return dt.astimezone(SHANGHAI).replace(tzinfo=None) if dt is not None else None


def _number(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if value is None or value == "":
        return None
    try:
        number = float(str(value).replace(",", ""))
    except ValueError:
        return value
    return int(number) if number.is_integer() and "." not in str(value) else number


def _date(value: Any) -> Any:
    """``yyyy-MM-dd`` → date, ``yyyy-MM-dd HH:mm[:ss]`` → datetime; otherwise as given."""
    if not isinstance(value, str) or not value.strip():
        return None if value in ("", None) else value
    text = value.strip()
    for fmt, kind in (("%Y-%m-%d %H:%M:%S", "dt"), ("%Y-%m-%d %H:%M", "dt"), ("%Y-%m-%d", "d")):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed if kind == "dt" else parsed.date()
    return value


def _range_labels(label: str | None) -> list[str]:
    if label and label.strip().startswith("["):
        try:
            names = json.loads(label)
        except ValueError:
            names = None
        if isinstance(names, list) and len(names) == 2:
            return [str(n) for n in names]
    base = label or "时间"
    return [f"{base}（开始）", f"{base}（结束）"]


def _columns(fields: list[dict[str, Any]]) -> list[_Column]:
    cols: list[_Column] = []
    for f in fields:
        comp = f.get("component_name") or ""
        if comp in SKIPPED_TYPES:
            continue
        header = f.get("label") or f.get("id") or comp
        if comp == "DDDateRangeField":
            for part, name in enumerate(_range_labels(f.get("label"))):
                cols.append(_Column(name, f.get("id"), comp, part))
        else:
            cols.append(_Column(header, f.get("id"), comp))
    seen: Counter[str] = Counter()
    for c in cols:  # duplicate labels get a suffix so every column is addressable
        seen[c.header] += 1
        if seen[c.header] > 1:
            c.header = f"{c.header} ({seen[c.header]})"
    return cols


def cell_value(component: str, value: str | None, parsed: Any, part: int | None = None) -> Any:
    """A form value as a spreadsheet cell for its component type (see the module docstring)."""
    if component in NUMBER_TYPES:
        return _number(parsed if parsed is not None else value)
    if component == "DDDateField":
        return _date(value)
    if component == "DDDateRangeField":
        items = parsed if isinstance(parsed, list) else []
        return _date(items[part]) if part is not None and len(items) > part else None
    if component == "TableField":
        return len(parsed) if isinstance(parsed, list) else None
    if component == "DDAttachment":
        if isinstance(parsed, list):
            return "、".join(
                str(a.get("fileName") or a.get("file_name") or "")
                for a in parsed
                if isinstance(a, dict)
            )
        return value
    if component in ("DDPhotoField", "DDMultiSelectField", "InnerContactField", "DepartmentField"):
        if isinstance(parsed, list):
            return (
                "\n".join(str(x) for x in parsed)
                if component == "DDPhotoField"
                else ",".join(str(x) for x in parsed)
            )
        return value
    return value if value not in ("",) else None


def _user_names(conn: Connection, corp_id: str, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = conn.execute(
        select(users.c.userid, users.c.name).where(
            users.c.corp_id == corp_id, users.c.userid.in_(sorted(ids))
        )
    )
    return {r[0]: r[1] for r in rows if r[1]}


def build_tables(
    conn: Connection,
    corp_id: str,
    template: dict[str, Any],
    *,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> tuple[list[str], list[list[Any]], list[str], list[list[Any]]]:
    """``(headers, rows, detail_headers, detail_rows)`` for one template's instances."""
    fields = list(template.get("fields") or [])
    cols = _columns(fields)
    instances = repo_approvals.load_instances(
        conn,
        corp_id,
        template["process_code"],
        created_from=created_from,
        created_to=created_to,
    )
    ids = [i["process_instance_id"] for i in instances]
    values = repo_approvals.load_children(conn, corp_id, ids, "form_values")
    details = repo_approvals.load_children(conn, corp_id, ids, "detail_rows")
    names = _user_names(
        conn, corp_id, {i["originator_userid"] for i in instances if i["originator_userid"]}
    )

    # Detail columns: the children of every table field, in schema order.
    child_types: dict[str, str] = {}
    detail_cols: list[str] = []
    for f in fields:
        for child in f.get("children") or []:
            label = child.get("label") or child.get("id") or ""
            if label not in child_types:
                child_types[label] = child.get("component_name") or ""
                detail_cols.append(label)

    rows: list[list[Any]] = []
    detail_rows: list[list[Any]] = []
    for inst in instances:
        pid = inst["process_instance_id"]
        by_id = {v["component_id"]: v for v in values[pid] if v["component_id"]}
        by_name = {v["name"]: v for v in values[pid] if v["name"]}
        row: list[Any] = [
            inst["business_id"],
            pid,
            inst["title"],
            inst["originator_userid"],
            names.get(inst["originator_userid"] or "", ""),
            inst["originator_dept_name"],
            inst["status"],
            inst["result"],
            _local(inst["create_time"]),
            _local(inst["finish_time"]),
        ]
        for col in cols:
            fv = by_id.get(col.field_id) if col.field_id else None
            if fv is None:
                fv = by_name.get(col.header)
            row.append(
                cell_value(col.component, fv["value"], fv["parsed"], col.part) if fv else None
            )
        rows.append(row)
        for d in details[pid]:
            cells = d["cells"] or {}
            extra = [c for c in cells if c not in child_types]
            for c in extra:  # a column DingTalk sent that the schema does not name
                child_types[c] = ""
                detail_cols.append(c)
            detail_rows.append(
                [pid, inst["business_id"], d["field_name"], d["row_no"] + 1]
                + [
                    _detail_cell(child_types.get(label, ""), cells.get(label))
                    for label in detail_cols
                ]
            )
    width = len(DETAIL_BASE) + len(detail_cols)
    detail_rows = [r + [None] * (width - len(r)) for r in detail_rows]
    headers = list(BASE_COLUMNS) + [c.header for c in cols]
    return headers, rows, list(DETAIL_BASE) + detail_cols, detail_rows


def _detail_cell(component: str, value: Any) -> Any:
    if component in NUMBER_TYPES:
        return _number(value)
    if component == "DDDateField":
        return _date(value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def export_approvals(
    conn: Connection,
    corp_id: str,
    template: dict[str, Any],
    path: Path,
    fmt: Format = "xlsx",
    *,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> ExportResult:
    """Write one template's instances to ``path`` (xlsx: sheets ``审批`` and ``明细``; csv:
    ``path`` and ``<stem>.details.csv``, UTF-8 with BOM so Excel reads Chinese). ``template``
    is an ``approval_templates`` row; the range filters on create time (``[from, to)``)."""
    headers, rows, dheaders, drows = build_tables(
        conn, corp_id, template, created_from=created_from, created_to=created_to
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        details_path = path.with_name(path.stem + ".details.csv")
        for target, head, body in ((path, headers, rows), (details_path, dheaders, drows)):
            with target.open("w", newline="", encoding="utf-8-sig") as fh:
                writer = csv.writer(fh)
                writer.writerow(head)
                for line in body:
                    writer.writerow([_csv(v) for v in line])
        return ExportResult([path, details_path], len(rows), len(drows), headers, dheaders)

    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "remove_timezone": True})
    try:
        bold = book.add_format({"bold": True})
        fmt_dt = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        fmt_d = book.add_format({"num_format": "yyyy-mm-dd"})
        for name, head, body in (("审批", headers, rows), ("明细", dheaders, drows)):
            sheet = book.add_worksheet(name)
            sheet.write_row(0, 0, head, bold)
            for r, cells in enumerate(body, start=1):
                for c, value in enumerate(cells):
                    if isinstance(value, datetime):
                        sheet.write_datetime(r, c, value, fmt_dt)
                    elif isinstance(value, date):
                        sheet.write_datetime(
                            r, c, datetime(value.year, value.month, value.day), fmt_d
                        )
                    elif value is None:
                        continue
                    elif isinstance(value, bool):
                        sheet.write_boolean(r, c, value)
                    elif isinstance(value, int | float):
                        sheet.write_number(r, c, value)
                    else:
                        sheet.write_string(r, c, str(value))
    finally:
        book.close()
    return ExportResult([path], len(rows), len(drows), headers, dheaders)


def _csv(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else value


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------
def _percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank-interpolated percentile (``q`` in 0..1) of ``values``; ``None`` if empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def approval_stats(
    conn: Connection, corp_id: str, process_code: str | None = None
) -> list[dict[str, Any]]:
    """Per template (by name): ``instances``, ``by_status``, ``by_result``, ``approval_rate``
    (agree ÷ (agree + refuse), ``None`` without finished ones), ``cycle_p50_h``/``cycle_p90_h``
    (hours from create to finish over finished instances)."""
    templates = {t["process_code"]: t for t in repo_approvals.load_templates(conn, corp_id)}
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in repo_approvals.status_rows(conn, corp_id, process_code):
        groups.setdefault(r["process_code"], []).append(r)
    out = []
    for code, rows in sorted(
        groups.items(), key=lambda kv: templates.get(kv[0], {}).get("name") or kv[0]
    ):
        results = Counter(r["result"] or "" for r in rows)
        decided = results["agree"] + results["refuse"]
        cycles = [
            (r["finish_time"] - r["create_time"]).total_seconds() / 3600
            for r in rows
            if r["finish_time"] is not None and r["create_time"] is not None
        ]
        p50, p90 = _percentile(cycles, 0.5), _percentile(cycles, 0.9)
        out.append(
            {
                "process_code": code,
                "template": (templates.get(code) or {}).get("name") or code,
                "instances": len(rows),
                "by_status": dict(sorted(Counter(r["status"] or "" for r in rows).items())),
                "by_result": dict(sorted(results.items())),
                "approval_rate": round(results["agree"] / decided, 4) if decided else None,
                "cycle_p50_h": round(p50, 2) if p50 is not None else None,
                "cycle_p90_h": round(p90, 2) if p90 is not None else None,
                "finished": len(cycles),
            }
        )
    return out
