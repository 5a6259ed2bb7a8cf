"""Approval exports and statistics, from the store (never from DingTalk).

:func:`export_approvals` writes one row per instance — business id, instance id, title,
originator, department, status, result, create and finish time, then one column per form field
in the template's schema order — and the detail tables (明细) one row per detail row, keyed by
instance id: a second sheet in xlsx, a second file (``<name>.details.csv``) in csv. Amounts and
numbers are numbers, dates are dates (wall time in the company's zone, ``tz``), a date range
is two columns, attachments are listed by file name, photos by URL, contacts by userid, a table
field by its
number of rows. Text notes (说明文字, no value) are left out. Values are matched to schema
fields by component id, so a value without a ``name`` still lands in its column; values of
components the template no longer has (old instances keep them after the template is edited)
are written as extra columns after the template's own, named by their label (listed in
:attr:`ExportResult.extra_columns` and logged). Detail cells are matched to the table's
columns by component id (then label), and detail cells of columns the schema does not name
become extra detail columns the same way. The instances
can be narrowed (create time, status, originator, departments) and limited to what a viewer may
see, in SQL with the web list API's own conditions; they are streamed, so memory stays flat.

:func:`approval_stats`: per template, counts by status and result, approval rate (agree ÷
finished with a result) and cycle time (create → finish) p50/p90 in hours.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import IO, Any, Literal

from sqlalchemy import Connection, select

from dingsync.export import local
from dingsync.store import repo_approvals, visibility
from dingsync.store.schema import users
from dingsync.store.schema_approvals import approval_instances
from dingsync.timeutil import SHANGHAI

log = logging.getLogger(__name__)

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
BATCH = 500


@dataclass
class ExportResult:
    """What was written: files, instance rows, detail rows, column headers, and the headers of
    the extra columns (main and detail) of components the template's schema does not have."""

    paths: list[Path]
    rows: int
    detail_rows: int
    columns: list[str]
    detail_columns: list[str]
    extra_columns: list[str] = field(default_factory=list)


@dataclass
class _Column:
    header: str
    field_id: str | None
    component: str
    part: int | None = None  # date range: 0 start, 1 end


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


def iter_instances(
    conn: Connection, corp_id: str, where: list[Any], batch: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Rows of ``approval_instances`` meeting ``where`` (SQL conditions, e.g. from
    :func:`dingsync.store.repo_approvals.approval_conditions`), ordered by create time then instance
    id, ``batch`` (default :data:`BATCH`) at a time from one streamed query (a server-side
    cursor on PostgreSQL), so memory stays flat whatever the count."""
    t = approval_instances
    cols = [c for c in t.c if c.name != "raw"]
    result = conn.execute(
        select(*cols).where(*where).order_by(t.c.create_time, t.c.process_instance_id),
        execution_options={"yield_per": batch or BATCH},
    )
    try:
        for part in result.mappings().partitions():
            yield [dict(r) for r in part]
    finally:
        result.close()


@dataclass
class _DetailColumn:
    header: str
    key: str  # the cell key it reads first: the child's component id, else its label
    label: str | None
    component: str

    def value(self, cells: dict[str, Any]) -> Any:
        """This column's cell of a stored detail row (keyed by id; older rows by label)."""
        if self.key in cells:
            return _detail_cell(self.component, cells[self.key])
        return _detail_cell(self.component, cells.get(self.label)) if self.label else None


def _detail_columns(fields: list[dict[str, Any]]) -> list[_DetailColumn]:
    """The children of every table field, in schema order (one column per child id)."""
    out: list[_DetailColumn] = []
    for f in fields:
        for child in f.get("children") or []:
            key = child.get("id") or child.get("label") or ""
            if any(c.key == key for c in out):
                continue
            header = child.get("label") or child.get("id") or ""
            out.append(
                _DetailColumn(header, key, child.get("label"), child.get("component_name") or "")
            )
    return out


def _extra_fields(
    conn: Connection, where: list[Any], fields: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Fields (schema-field shape) of the components found in the instances' form values that
    the template's ``fields`` lack by id and by label, in first-seen form order."""
    ids = {f.get("id") for f in fields if f.get("id")}
    labels = {f.get("label") for f in fields if f.get("label")}
    out: dict[str, dict[str, Any]] = {}
    for c in repo_approvals.form_components(conn, where):
        key = c["component_id"] or c["name"]
        if not key or key in ids or c["name"] in labels or key in out:
            continue
        out[key] = {
            "id": c["component_id"],
            "label": c["name"],
            "component_name": c["component_type"],
        }
    return list(out.values())


def _row_labels(values: list[dict[str, Any]], field_seq: int, row_no: int) -> dict[str, Any]:
    """``{cell key: label}`` of one detail row, from its table field's parsed value."""
    table = next((v["parsed"] for v in values if v["seq"] == field_seq), None)
    if not isinstance(table, list) or row_no >= len(table) or not isinstance(table[row_no], list):
        return {}
    cells = [c for c in table[row_no] if isinstance(c, dict)]
    return {repo_approvals.cell_key(c, n): c.get("name") for n, c in enumerate(cells)}


def _instance_rows(
    conn: Connection,
    corp_id: str,
    cols: list[_Column],
    where: list[Any],
    spool: IO[str],
    tz: tzinfo = SHANGHAI,
) -> Iterator[list[Any]]:
    """The main sheet's rows, one per instance (streamed); each instance's detail rows go to
    ``spool`` as JSON lines ``[instance id, business id, field name, row no (1-based), cells,
    {cell key: label}]`` so the detail sheet can be written after its columns are all known."""
    for batch in iter_instances(conn, corp_id, where):
        ids = [i["process_instance_id"] for i in batch]
        values = repo_approvals.load_children(conn, corp_id, ids, "form_values")
        details = repo_approvals.load_children(conn, corp_id, ids, "detail_rows")
        names = _user_names(
            conn, corp_id, {i["originator_userid"] for i in batch if i["originator_userid"]}
        )
        for inst in batch:
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
                local(inst["create_time"], tz),
                local(inst["finish_time"], tz),
            ]
            for col in cols:
                fv = by_id.get(col.field_id) if col.field_id else None
                if fv is None:
                    fv = by_name.get(col.header)
                row.append(
                    cell_value(col.component, fv["value"], fv["parsed"], col.part) if fv else None
                )
            yield row
            for d in details[pid]:
                labels = _row_labels(values[pid], d["field_seq"], d["row_no"])
                line = [
                    pid,
                    inst["business_id"],
                    d["field_name"],
                    d["row_no"] + 1,
                    d["cells"],
                    labels,
                ]
                spool.write(json.dumps(line, ensure_ascii=False) + "\n")


def _detail_rows(spool: IO[str], columns: list[_DetailColumn]) -> Iterator[list[Any]]:
    """The detail sheet's rows from the spool, one cell per column of ``columns``."""
    spool.seek(0)
    for text in spool:
        pid, business_id, field_name, row_no, cells, *_ = json.loads(text)
        cells = cells if isinstance(cells, dict) else {}
        yield [pid, business_id, field_name, row_no] + [c.value(cells) for c in columns]


def _spooled_columns(spool: IO[str], columns: list[_DetailColumn]) -> list[str]:
    """Add to ``columns`` every cell key of the spooled detail rows that no column reads (a
    column DingTalk sent anyway, or one the template dropped), in the order first seen, headed
    by its label; returns the added headers."""
    known = {c.key for c in columns} | {c.label for c in columns if c.label}
    added: list[str] = []
    spool.seek(0)
    for text in spool:
        line = json.loads(text)
        cells = line[4] if isinstance(line[4], dict) else {}
        labels = line[5] if len(line) > 5 and isinstance(line[5], dict) else {}
        for key in cells:
            if key not in known:
                known.add(key)
                header = str(labels.get(key) or key)
                if any(c.header == header for c in columns):
                    header = f"{header} ({key})"
                columns.append(_DetailColumn(header, key, None, ""))
                added.append(header)
    return added


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
    status: str | None = None,
    originator: str | None = None,
    result: str | None = None,
    dept_ids: Iterable[int] | None = None,
    visible: visibility.Visible | None = None,
    tz: tzinfo = SHANGHAI,
) -> ExportResult:
    """Write one template's instances to ``path`` (xlsx: sheets ``审批`` and ``明细``; csv:
    ``path`` and ``<stem>.details.csv``, UTF-8 with BOM so Excel reads Chinese). ``template``
    is an ``approval_templates`` row.

    Which instances: those of the template, narrowed in SQL with the web list API's own
    conditions (:func:`dingsync.store.repo_approvals.approval_conditions`): create time in
    ``[created_from, created_to)`` (aware datetimes), ``status``, ``result``, ``originator``,
    originators in one of ``dept_ids`` (exactly these departments — the caller includes
    sub-departments), and what ``visible`` admits (a viewer's visibility scope: originator,
    approvers, cc'd people, originators in the scope departments; ``None``: everything, e.g.
    the CLI). Instances are streamed from the database and the detail rows spooled to a
    temporary file, so memory stays flat whatever the count. Raises ``ValueError`` for an
    unknown format."""
    if fmt not in ("xlsx", "csv"):
        raise ValueError(f"format must be xlsx or csv, not {fmt!r}")
    fields = list(template.get("fields") or [])
    detail_cols = _detail_columns(fields)
    where = repo_approvals.approval_conditions(
        corp_id,
        visible,
        process_code=template["process_code"],
        status=status,
        start=created_from,
        end=created_to,
        originator=originator,
        result=result,
        dept_ids=None if dept_ids is None else sorted(set(dept_ids)),
    )
    extra = _extra_fields(conn, where, fields)
    cols = _columns(fields + extra)  # the template's own columns first, unchanged
    extra_headers = [c.header for c in cols[len(_columns(fields)) :]]
    headers = list(BASE_COLUMNS) + [c.header for c in cols]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        rows = _instance_rows(conn, corp_id, cols, where, spool, tz)
        if fmt == "csv":
            n = _write_csv(path, headers, rows)
            extra_headers += _spooled_columns(spool, detail_cols)
            dheaders = list(DETAIL_BASE) + [c.header for c in detail_cols]
            details_path = path.with_name(path.stem + ".details.csv")
            nd = _write_csv(details_path, dheaders, _detail_rows(spool, detail_cols))
            _log_extra(template, extra_headers)
            return ExportResult([path, details_path], n, nd, headers, dheaders, extra_headers)

        import xlsxwriter

        book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "remove_timezone": True})
        try:
            formats = (
                book.add_format({"bold": True}),
                book.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
                book.add_format({"num_format": "yyyy-mm-dd"}),
            )
            n = _write_sheet(book, "审批", headers, rows, formats)
            extra_headers += _spooled_columns(spool, detail_cols)
            dheaders = list(DETAIL_BASE) + [c.header for c in detail_cols]
            nd = _write_sheet(book, "明细", dheaders, _detail_rows(spool, detail_cols), formats)
        finally:
            book.close()
    _log_extra(template, extra_headers)
    return ExportResult([path], n, nd, headers, dheaders, extra_headers)


def _log_extra(template: dict[str, Any], headers: list[str]) -> None:
    if headers:
        log.warning(
            "approvals export %s: %d column(s) not in the template's form, written after its "
            "own: %s",
            template["process_code"],
            len(headers),
            ", ".join(headers),
        )


def _write_csv(path: Path, head: list[str], body: Iterable[list[Any]]) -> int:
    n = 0
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        writer.writerow(head)
        for line in body:
            writer.writerow([_csv(v) for v in line])
            n += 1
    return n


def _write_sheet(
    book: Any, name: str, head: list[str], body: Iterable[list[Any]], formats: tuple[Any, ...]
) -> int:
    bold, fmt_dt, fmt_d = formats
    sheet = book.add_worksheet(name)
    sheet.write_row(0, 0, head, bold)
    n = 0
    for r, cells in enumerate(body, start=1):
        for c, value in enumerate(cells):
            if isinstance(value, datetime):
                sheet.write_datetime(r, c, value, fmt_dt)
            elif isinstance(value, date):
                sheet.write_datetime(r, c, datetime(value.year, value.month, value.day), fmt_d)
            elif value is None:
                continue
            elif isinstance(value, bool):
                sheet.write_boolean(r, c, value)
            elif isinstance(value, int | float):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, str(value))
        n += 1
    return n


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
