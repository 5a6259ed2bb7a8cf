"""Approval exports and statistics, from the store (never from DingTalk).

:func:`export_approvals` writes one row per instance, starting with the columns of DingTalk's
own admin export (管理后台 → 审批 → 导出, ``docs/approvals.md`` "DingTalk's export columns"):
:data:`BASE_COLUMNS` — 审批编号 (``business_id``), 标题, 审批状态 and 审批结果 in DingTalk's
Chinese words, 发起时间, 完成时间, 耗时, 发起人工号/姓名/部门, 历史审批人姓名, 审批记录 (one cell:
who, action, time, comment per line), 当前处理人姓名 — then one column per form field in the
template's schema order. The detail tables (明细) go either (``details="sheet"``, the default)
one row per detail row keyed by instance id and business id: a second sheet in xlsx, a second
file (``<name>.details.csv``) in csv; or (``details="rows"``) flattened as DingTalk's export does:
one row per detail row, the instance's columns repeated, each table's columns right after the
table's own column (an instance without detail rows keeps one row). Amounts and
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

#: The first columns, as DingTalk's admin export has them (docs/approvals.md).
BASE_COLUMNS = (
    "审批编号",
    "标题",
    "审批状态",
    "审批结果",
    "发起时间",
    "完成时间",
    "耗时",
    "发起人工号",
    "发起人姓名",
    "发起人部门",
    "历史审批人姓名",
    "审批记录",
    "当前处理人姓名",
)
#: ``status`` → 审批状态 as DingTalk's export and app show it (docs/approvals.md: TERMINATED is
#: 已撤销 in the v1.0 docs; the old docs' CANCELED is written 已终止 — unconfirmed).
STATUS_NAMES = {
    "NEW": "新创建",
    "RUNNING": "审批中",
    "COMPLETED": "已完成",
    "TERMINATED": "已撤销",
    "CANCELED": "已终止",
}
#: ``result`` → 审批结果 (empty while the instance is not finished with a result).
RESULT_NAMES = {"agree": "同意", "refuse": "拒绝"}
#: ``operation_type`` → the action 审批记录 names (``EXECUTE_TASK_*`` by their result).
ACTION_NAMES = {
    "START_PROCESS_INSTANCE": "发起审批",
    "TERMINATE_PROCESS_INSTANCE": "撤销",
    "FINISH_PROCESS_INSTANCE": "结束审批",
    "ADD_REMARK": "评论",
    "REDIRECT_TASK": "转交",
    "REDIRECT_PROCESS": "退回",
    "APPEND_TASK_BEFORE": "前加签",
    "APPEND_TASK_AFTER": "后加签",
    "PROCESS_CC": "抄送",
}
Details = Literal["sheet", "rows"]
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
            names = "、".join(
                str(a.get("fileName") or a.get("file_name") or "")
                for a in parsed
                if isinstance(a, dict)
            )
            return names or None  # no file: an empty cell, not an empty string
        return value or None
    if component in ("DDPhotoField", "DDMultiSelectField", "InnerContactField", "DepartmentField"):
        if isinstance(parsed, list):
            joined = (
                "\n".join(str(x) for x in parsed)
                if component == "DDPhotoField"
                else ",".join(str(x) for x in parsed)
            )
            return joined or None
        return value or None
    return value if value not in ("",) else None


def _people(conn: Connection, corp_id: str, ids: set[str]) -> dict[str, tuple[str, str]]:
    """``{userid: (name, job number)}`` of the stored users among ``ids`` (a name missing from
    the directory — someone not synced — is their userid, so no record loses its person)."""
    out = {u: (u, "") for u in ids}
    for chunk in _chunks(sorted(ids), 500):
        rows = conn.execute(
            select(users.c.userid, users.c.name, users.c.job_number).where(
                users.c.corp_id == corp_id, users.c.userid.in_(chunk)
            )
        )
        for userid, name, job in rows:
            out[userid] = (name or userid, job or "")
    return out


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for n in range(0, len(items), size):
        yield items[n : n + size]


def duration_text(start: datetime | None, finish: datetime | None) -> str | None:
    """耗时: ``finish − start`` in whole minutes as DingTalk writes a duration — ``2天3小时15分钟``,
    ``45分钟``, zero units left out (``1天5分钟``), ``0分钟`` under a minute; ``None`` while the
    instance is not finished."""
    if start is None or finish is None:
        return None
    minutes = max(0, int((finish - start).total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}天"] if days else []
    if hours:
        parts.append(f"{hours}小时")
    if mins or not parts:
        parts.append(f"{mins}分钟")
    return "".join(parts)


def action_name(operation_type: str | None, operation_result: str | None) -> str:
    """The action of one operation record as 审批记录 words it: a task executed → 同意 / 拒绝
    (自动同意 for ``EXECUTE_TASK_AUTO``, 代理同意 for ``EXECUTE_TASK_AGENT``), the others by
    :data:`ACTION_NAMES`; an unknown type is written as DingTalk sent it."""
    kind = operation_type or ""
    if kind.startswith("EXECUTE_TASK"):
        word = {"AGREE": "同意", "REFUSE": "拒绝"}.get(operation_result or "", "处理")
        prefix = {"EXECUTE_TASK_AUTO": "自动", "EXECUTE_TASK_AGENT": "代理"}.get(kind, "")
        return prefix + word
    return ACTION_NAMES.get(kind, kind)


def approval_record(
    records: list[dict[str, Any]], people: dict[str, tuple[str, str]], tz: tzinfo = SHANGHAI
) -> str | None:
    """审批记录: one line per operation record in DingTalk's order — ``who action yyyy-MM-dd
    HH:mm comment`` (the comment, and ``[附件：a.pdf、b.docx]`` for files attached to it, only
    when there are some); ``None`` without records."""
    lines = []
    for r in records:
        userid = r.get("userid") or ""
        parts = [
            people.get(userid, (userid, ""))[0],
            action_name(r["operation_type"], r["operation_result"]),
        ]
        when = local(r.get("date"), tz)
        if when is not None:
            parts.append(when.strftime("%Y-%m-%d %H:%M"))
        if r.get("remark"):
            parts.append(str(r["remark"]))
        files = [
            str(a.get("file_name") or "") for a in r.get("attachments") or [] if isinstance(a, dict)
        ]
        if files:
            parts.append(f"[附件：{'、'.join(files)}]")
        lines.append(" ".join(p for p in parts if p))
    return "\n".join(lines) or None


def _task_names(
    tasks: list[dict[str, Any]], status: str, people: dict[str, tuple[str, str]]
) -> str | None:
    """Names of the tasks' people in ``status`` (task order, each once), comma-separated."""
    ids = dict.fromkeys(t["userid"] for t in tasks if t["task_status"] == status and t["userid"])
    return ",".join(people.get(u, (u, ""))[0] for u in ids) or None


def base_cells(
    inst: dict[str, Any],
    tasks: list[dict[str, Any]],
    records: list[dict[str, Any]],
    people: dict[str, tuple[str, str]],
    tz: tzinfo = SHANGHAI,
) -> list[Any]:
    """The :data:`BASE_COLUMNS` cells of one instance (a row of ``approval_instances`` with its
    ``tasks`` and operation ``records``): 历史审批人姓名 are the people of the completed tasks,
    当前处理人姓名 those of the running ones (only while the instance runs)."""
    originator = inst["originator_userid"] or ""
    name, job = people.get(originator, (originator, "")) if originator else ("", "")
    running = inst["status"] in ("NEW", "RUNNING")
    return [
        inst["business_id"],
        inst["title"],
        STATUS_NAMES.get(inst["status"] or "", inst["status"]),
        RESULT_NAMES.get(inst["result"] or "", inst["result"]) if inst["result"] else None,
        local(inst["create_time"], tz),
        local(inst["finish_time"], tz),
        duration_text(inst["create_time"], inst["finish_time"]),
        job or None,
        name or None,
        inst["originator_dept_name"],
        _task_names(tasks, "COMPLETED", people),
        approval_record(records, people, tz),
        _task_names(tasks, "RUNNING", people) if running else None,
    ]


def iter_instances(
    conn: Connection, corp_id: str, where: list[Any], batch: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Rows of ``approval_instances`` meeting ``where`` (SQL conditions, e.g. from
    :func:`dingsync.store.repo_approvals.approval_conditions`), ordered by create time then instance
    id, ``batch`` (default :data:`BATCH`) at a time from one streamed query (a server-side
    cursor on PostgreSQL), so memory stays flat whatever the count. On MySQL/MariaDB the result
    is buffered: PyMySQL streams one result per connection, and the caller's queries for each
    batch would drain it."""
    t = approval_instances
    cols = [c for c in t.c if c.name != "raw"]
    buffered = conn.dialect.name in ("mysql", "mariadb")
    result = conn.execute(
        select(*cols).where(*where).order_by(t.c.create_time, t.c.process_instance_id),
        execution_options={} if buffered else {"yield_per": batch or BATCH},
    )
    if buffered:
        rows = result.mappings().all()
        size = batch or BATCH
        for i in range(0, len(rows), size):
            yield [dict(r) for r in rows[i : i + size]]
        return
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
    tz: tzinfo = SHANGHAI,
) -> Iterator[tuple[list[Any], list[list[Any]]]]:
    """The main rows, one per instance (streamed), each with its detail rows as lines
    ``[instance id, business id, field name, row no (1-based), cells, {cell key: label}, table
    field's component id]`` (JSON-able, so they can be spooled)."""
    for batch in iter_instances(conn, corp_id, where):
        ids = [i["process_instance_id"] for i in batch]
        values = repo_approvals.load_children(conn, corp_id, ids, "form_values")
        details = repo_approvals.load_children(conn, corp_id, ids, "detail_rows")
        tasks = repo_approvals.load_children(conn, corp_id, ids, "tasks")
        records = repo_approvals.load_children(conn, corp_id, ids, "operation_records")
        who = {i["originator_userid"] for i in batch if i["originator_userid"]}
        for pid in ids:
            who.update(t["userid"] for t in tasks[pid] if t["userid"])
            who.update(r["userid"] for r in records[pid] if r["userid"])
        people = _people(conn, corp_id, who)
        for inst in batch:
            pid = inst["process_instance_id"]
            by_id = {v["component_id"]: v for v in values[pid] if v["component_id"]}
            by_name = {v["name"]: v for v in values[pid] if v["name"]}
            row = base_cells(inst, tasks[pid], records[pid], people, tz)
            for col in cols:
                fv = by_id.get(col.field_id) if col.field_id else None
                if fv is None:
                    fv = by_name.get(col.header)
                row.append(
                    cell_value(col.component, fv["value"], fv["parsed"], col.part) if fv else None
                )
            lines = [
                [
                    pid,
                    inst["business_id"],
                    d["field_name"],
                    d["row_no"] + 1,
                    d["cells"],
                    _row_labels(values[pid], d["field_seq"], d["row_no"]),
                    d["component_id"],
                ]
                for d in details[pid]
            ]
            yield row, lines


def _spooled(
    rows: Iterator[tuple[list[Any], list[list[Any]]]], spool: IO[str]
) -> Iterator[list[Any]]:
    """The main rows of ``rows``; their detail lines go to ``spool`` as JSON lines, so the
    detail sheet can be written after its columns are all known."""
    for row, lines in rows:
        yield row
        for line in lines:
            spool.write(json.dumps(line, ensure_ascii=False) + "\n")


@dataclass
class _Block:
    """``details="rows"``: the detail columns written right after one table field's column."""

    field_id: str | None
    label: str | None
    columns: list[_DetailColumn]

    def owns(self, line: list[Any]) -> bool:
        """Whether a detail line belongs to this table field (by component id, else label)."""
        table_id = line[6] if len(line) > 6 else None
        if self.field_id and table_id:
            return bool(self.field_id == table_id)
        return bool(self.label) and self.label == line[2]


def _flat_layout(
    cols: list[_Column], fields: list[dict[str, Any]]
) -> tuple[list[str], dict[int, _Block]]:
    """``details="rows"``: the form part of the header, each table field followed by its
    children's columns, and the blocks by the position of their table field in ``cols``."""
    by_id = {f.get("id"): f for f in fields if f.get("id")}
    headers: list[str] = []
    blocks: dict[int, _Block] = {}
    for n, col in enumerate(cols):
        headers.append(col.header)
        if col.component != "TableField":
            continue
        field = by_id.get(col.field_id) or {}
        block = _Block(col.field_id, field.get("label") or col.header, _detail_columns([field]))
        blocks[n] = block
        headers += [c.header for c in block.columns]
    return headers, blocks


def _flat_rows(
    rows: Iterator[tuple[list[Any], list[list[Any]]]],
    blocks: dict[int, _Block],
    extra: list[_DetailColumn],
    counter: list[int],
) -> Iterator[list[Any]]:
    """``details="rows"``: one row per detail row (the instance's cells repeated), or the
    instance's row alone when it has none; ``counter[0]`` counts the detail rows written."""
    base = len(BASE_COLUMNS)
    for row, lines in rows:
        todo: list[list[Any] | None] = list(lines) if lines else [None]
        for line in todo:
            cells = line[4] if line is not None and isinstance(line[4], dict) else {}
            out = row[:base]
            for n, value in enumerate(row[base:]):
                out.append(value)
                block = blocks.get(n)
                if block is not None:
                    mine = line is not None and block.owns(line)
                    out += [c.value(cells) if mine else None for c in block.columns]
            out += [c.value(cells) for c in extra]
            if line is not None:
                counter[0] += 1
            yield out


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
    details: Details = "sheet",
) -> ExportResult:
    """Write one template's instances to ``path``. ``template`` is an ``approval_templates``
    row. Columns: :data:`BASE_COLUMNS`, then the form's fields (module docstring).

    ``details="sheet"`` (default): xlsx sheets ``审批`` and ``明细``; csv ``path`` and
    ``<stem>.details.csv`` (UTF-8 with BOM so Excel reads Chinese). ``details="rows"``: one
    sheet ``审批`` (csv: one file) with one row per detail row, as DingTalk's export flattens
    them; :attr:`ExportResult.rows` counts the rows written, ``detail_rows`` the detail rows.

    Which instances: those of the template, narrowed in SQL with the web list API's own
    conditions (:func:`dingsync.store.repo_approvals.approval_conditions`): create time in
    ``[created_from, created_to)`` (aware datetimes), ``status``, ``result``, ``originator``,
    originators in one of ``dept_ids`` (exactly these departments — the caller includes
    sub-departments), and what ``visible`` admits (a viewer's visibility scope: originator,
    approvers, cc'd people, originators in the scope departments; ``None``: everything, e.g.
    the CLI).
    Instances are streamed from the database and the detail rows spooled to a temporary file,
    so memory stays flat whatever the count (``rows`` reads the instances twice: once to find
    every detail column). Raises ``ValueError`` for an unknown format or ``details``."""
    if fmt not in ("xlsx", "csv"):
        raise ValueError(f"format must be xlsx or csv, not {fmt!r}")
    if details not in ("sheet", "rows"):
        raise ValueError(f"details must be sheet or rows, not {details!r}")
    fields = list(template.get("fields") or [])
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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if details == "rows":
        return _export_flat(
            conn, corp_id, template, path, fmt, cols, fields, where, tz, extra_headers
        )
    detail_cols = _detail_columns(fields)
    headers = list(BASE_COLUMNS) + [c.header for c in cols]
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        rows = _spooled(_instance_rows(conn, corp_id, cols, where, tz), spool)
        if fmt == "csv":
            n = _write_csv(path, headers, rows)
            extra_headers += _spooled_columns(spool, detail_cols)
            dheaders = list(DETAIL_BASE) + [c.header for c in detail_cols]
            details_path = path.with_name(path.stem + ".details.csv")
            nd = _write_csv(details_path, dheaders, _detail_rows(spool, detail_cols))
            _log_extra(template, extra_headers)
            return ExportResult([path, details_path], n, nd, headers, dheaders, extra_headers)

        from dingsync.export import xlsx

        book = xlsx.Workbook(str(path), {"constant_memory": True, "remove_timezone": True})
        try:
            formats = _formats(book)
            n = _write_sheet(book, "审批", headers, rows, formats)
            extra_headers += _spooled_columns(spool, detail_cols)
            dheaders = list(DETAIL_BASE) + [c.header for c in detail_cols]
            nd = _write_sheet(book, "明细", dheaders, _detail_rows(spool, detail_cols), formats)
        finally:
            book.close()
    _log_extra(template, extra_headers)
    return ExportResult([path], n, nd, headers, dheaders, extra_headers)


def _export_flat(
    conn: Connection,
    corp_id: str,
    template: dict[str, Any],
    path: Path,
    fmt: Format,
    cols: list[_Column],
    fields: list[dict[str, Any]],
    where: list[Any],
    tz: tzinfo,
    extra_headers: list[str],
) -> ExportResult:
    """``details="rows"`` of :func:`export_approvals`: a first pass spools the detail rows to
    find the detail columns the schema does not name (added at the end), the second writes."""
    form_headers, blocks = _flat_layout(cols, fields)
    known = [c for b in blocks.values() for c in b.columns]
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        for _ in _spooled(_instance_rows(conn, corp_id, cols, where, tz), spool):
            pass
        added = _spooled_columns(spool, known)
    extra_detail = known[len(known) - len(added) :] if added else []
    extra_headers += added
    headers = list(BASE_COLUMNS) + form_headers + [c.header for c in extra_detail]
    counter = [0]
    rows = _flat_rows(_instance_rows(conn, corp_id, cols, where, tz), blocks, extra_detail, counter)
    if fmt == "csv":
        n = _write_csv(path, headers, rows)
    else:
        import xlsxwriter

        book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "remove_timezone": True})
        try:
            n = _write_sheet(book, "审批", headers, rows, _formats(book))
        finally:
            book.close()
    _log_extra(template, extra_headers)
    return ExportResult([path], n, counter[0], headers, [], extra_headers)


def _formats(book: Any) -> tuple[Any, ...]:
    """Bold header, date-time and date cell formats of an xlsx workbook."""
    return (
        book.add_format({"bold": True}),
        book.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
        book.add_format({"num_format": "yyyy-mm-dd"}),
    )


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
