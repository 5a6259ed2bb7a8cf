"""Repositories of the approval tables (:mod:`dingsync.store.schema_approvals`).

Like :mod:`dingsync.store.repo`: every function takes a ``Connection`` inside the caller's
transaction, rows are dicts keyed by column name, writes are set-based (``repo.upsert`` and
chunked ``DELETE … IN``). Times are aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Float

from dingsync.store import repo, visibility
from dingsync.store.schema_approvals import (
    INSTANCE_CHILDREN,
    approval_attachments,
    approval_cc,
    approval_detail_rows,
    approval_form_values,
    approval_instances,
    approval_operation_records,
    approval_tasks,
    approval_templates,
)

Row = Mapping[str, Any]

#: Keys of an instance bundle besides ``instance`` and the child table they fill.
CHILD_KEYS = {
    "form_values": approval_form_values,
    "detail_rows": approval_detail_rows,
    "tasks": approval_tasks,
    "operation_records": approval_operation_records,
    "cc": approval_cc,
    "attachments": approval_attachments,
}


def cell_key(cell: Mapping[str, Any], position: int) -> str:
    """The key of one detail-table cell in ``approval_detail_rows.cells``, from a cell of
    :func:`dingsync.dingtalk.models.approvals.parse_table` (``{"name", "id", "value"}``): its
    component id (``id``) when DingTalk sent one, else its label (``name``), else
    ``#<position + 1>`` — so two cells of one row never share a key, even with empty labels."""
    for value in (cell.get("id"), cell.get("name")):
        if value not in (None, ""):
            return str(value)
    return f"#{position + 1}"


def detail_cells(cells: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One parsed detail row as stored: ``{cell key: value}`` (see :func:`cell_key`)."""
    return {cell_key(c, n): c.get("value") for n, c in enumerate(cells)}


def upsert_templates(conn: Connection, corp_id: str, rows: Iterable[Row]) -> int:
    """Insert or update ``approval_templates`` rows (key ``process_code``); returns the count."""
    return repo.upsert(
        conn, approval_templates, repo._for_corp(corp_id, rows), ["corp_id", "process_code"]
    )


def store_instances(conn: Connection, corp_id: str, bundles: Sequence[Mapping[str, Any]]) -> int:
    """Store instances with all their children.

    Each bundle is ``{"instance": row, "form_values": [...], "detail_rows": [...], "tasks":
    [...], "operation_records": [...], "cc": [...], "attachments": [...]}`` (a missing key:
    no such children) (child rows without the key columns, which
    are filled in). The instance row is upserted; its children are replaced (deleted, then
    inserted), so storing the same answer twice leaves the same rows. Returns the number of
    instances written.
    """
    if not bundles:
        return 0
    instances = repo._for_corp(corp_id, [b["instance"] for b in bundles])
    repo.upsert(conn, approval_instances, instances, ["corp_id", "process_instance_id"])
    ids = sorted({r["process_instance_id"] for r in instances})
    for table in INSTANCE_CHILDREN:
        repo.delete_in(conn, table, corp_id, "process_instance_id", ids)
    for key, table in CHILD_KEYS.items():
        rows: list[dict[str, Any]] = []
        for bundle in bundles:
            pid = bundle["instance"]["process_instance_id"]
            for child in bundle.get(key) or []:
                rows.append({**child, "corp_id": corp_id, "process_instance_id": pid})
        repo.insert_rows(conn, table, rows)
    return len(ids)


def known_instance_ids(conn: Connection, corp_id: str, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` are stored already."""
    out: set[str] = set()
    for chunk in repo._in_chunks(conn, list(ids)):
        out.update(
            conn.execute(
                select(approval_instances.c.process_instance_id).where(
                    approval_instances.c.corp_id == corp_id,
                    approval_instances.c.process_instance_id.in_(list(chunk)),
                )
            ).scalars()
        )
    return out


def unfinished_instance_ids(
    conn: Connection, corp_id: str, process_code: str | None = None
) -> list[str]:
    """Ids of stored instances still in approval (status ``NEW``/``RUNNING``), oldest first."""
    t = approval_instances
    where = [t.c.corp_id == corp_id, t.c.status.in_(("NEW", "RUNNING"))]
    if process_code is not None:
        where.append(t.c.process_code == process_code)
    return list(
        conn.execute(
            select(t.c.process_instance_id).where(*where).order_by(t.c.create_time)
        ).scalars()
    )


def load_templates(conn: Connection, corp_id: str) -> list[dict[str, Any]]:
    """Every stored template of ``corp_id``, by name."""
    t = approval_templates
    rows = conn.execute(select(t).where(t.c.corp_id == corp_id).order_by(t.c.name)).mappings()
    return [dict(r) for r in rows]


def find_template(conn: Connection, corp_id: str, name_or_code: str) -> dict[str, Any] | None:
    """A template by ``process_code`` or exact name (then by name prefix); ``None`` if none."""
    templates = load_templates(conn, corp_id)
    for exact in (True, False):
        for t in templates:
            name = t["name"] or ""
            if exact and name_or_code in (t["process_code"], name):
                return t
            if not exact and name.startswith(name_or_code):
                return t
    return None


def load_instances(
    conn: Connection,
    corp_id: str,
    process_code: str | None = None,
    *,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> list[dict[str, Any]]:
    """Instances (rows of ``approval_instances``) ordered by create time, filtered by template
    and by ``created_from <= create_time < created_to``."""
    t = approval_instances
    where = [t.c.corp_id == corp_id]
    if process_code is not None:
        where.append(t.c.process_code == process_code)
    if created_from is not None:
        where.append(t.c.create_time >= created_from)
    if created_to is not None:
        where.append(t.c.create_time < created_to)
    rows = conn.execute(
        select(t).where(*where).order_by(t.c.create_time, t.c.process_instance_id)
    ).mappings()
    return [dict(r) for r in rows]


def load_children(
    conn: Connection, corp_id: str, ids: Sequence[str], key: str
) -> dict[str, list[dict[str, Any]]]:
    """Child rows (``key`` in :data:`CHILD_KEYS`) of the instances ``ids``, per instance, in
    DingTalk's order."""
    table = CHILD_KEYS[key]
    order = [c for c in ("seq", "field_seq", "row_no", "userid") if c in table.c]
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for chunk in repo._in_chunks(conn, list(ids)):
        rows = conn.execute(
            select(table)
            .where(table.c.corp_id == corp_id, table.c.process_instance_id.in_(list(chunk)))
            .order_by(table.c.process_instance_id, *(table.c[c] for c in order))
        ).mappings()
        for r in rows:
            out[r["process_instance_id"]].append(dict(r))
    return out


def counts(conn: Connection, corp_id: str) -> dict[str, int]:
    """Rows per approval table for ``corp_id`` (the sync summary)."""
    out = {}
    for name, table in (
        ("approval_templates", approval_templates),
        ("approval_instances", approval_instances),
        ("approval_form_values", approval_form_values),
        ("approval_detail_rows", approval_detail_rows),
        ("approval_tasks", approval_tasks),
        ("approval_operation_records", approval_operation_records),
        ("approval_cc", approval_cc),
        ("approval_attachments", approval_attachments),
    ):
        out[name] = int(
            conn.execute(
                select(func.count()).select_from(table).where(table.c.corp_id == corp_id)
            ).scalar_one()
        )
    return out


def status_rows(
    conn: Connection, corp_id: str, process_code: str | None = None
) -> list[dict[str, Any]]:
    """``process_code, status, result, create_time, finish_time`` of every instance (stats)."""
    t = approval_instances
    where = [t.c.corp_id == corp_id]
    if process_code is not None:
        where.append(t.c.process_code == process_code)
    rows = conn.execute(
        select(t.c.process_code, t.c.status, t.c.result, t.c.create_time, t.c.finish_time).where(
            *where
        )
    ).mappings()
    return [dict(r) for r in rows]


# --------------------------------------------------------------------------------------------
# Read queries of the web API and the exports, filtered by a viewer's scope
# --------------------------------------------------------------------------------------------
def approval_conditions(
    corp_id: str,
    visible: visibility.Visible | None,
    *,
    process_code: str | None = None,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    originator: str | None = None,
    dept_ids: Sequence[int] | None = None,
    result: str | None = None,
) -> list[Any]:
    """SQL conditions on ``approval_instances`` (all must hold): of ``corp_id``, visible to
    ``visible`` — the originator, approvers (``approval_tasks``), cc'd people
    (``approval_cc``), originators in ``visible.dept_ids`` — (``None``: no visibility filter,
    i.e. everything — the CLI), template ``process_code``, ``status`` (``RUNNING``,
    ``COMPLETED``, …), ``result`` (``agree``, ``refuse``), created in ``[start, end)`` (aware
    datetimes), by ``originator``, by a member of one of ``dept_ids`` (exactly these
    departments: pass a subtree to include sub-departments). The list API, the statistics and
    the export writer all use these."""

    i = approval_instances

    def involved(userid: str) -> Any:
        tasks = select(approval_tasks.c.process_instance_id).where(
            approval_tasks.c.corp_id == corp_id, approval_tasks.c.userid == userid
        )
        cc = select(approval_cc.c.process_instance_id).where(
            approval_cc.c.corp_id == corp_id, approval_cc.c.userid == userid
        )
        return or_(i.c.process_instance_id.in_(tasks), i.c.process_instance_id.in_(cc))

    cond: list[Any] = [i.c.corp_id == corp_id]
    if visible is not None:
        cond.append(visibility.visible_to(visible, corp_id, i.c.originator_userid, involved))
    if process_code is not None:
        cond.append(i.c.process_code == process_code)
    if status is not None:
        cond.append(i.c.status == status)
    if result is not None:
        cond.append(i.c.result == result)
    return cond + visibility.created_by(
        corp_id, i.c.create_time, i.c.originator_userid, start, end, originator, dept_ids
    )


def list_approvals(
    conn: Connection,
    corp_id: str,
    visible: visibility.Visible,
    *,
    process_code: str | None = None,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    originator: str | None = None,
    dept_ids: Sequence[int] | None = None,
    result: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Approval instances visible to ``visible`` (originator, approvers from ``tasks``, cc'd),
    newest first, and the total."""

    i = approval_instances
    cond = approval_conditions(
        corp_id,
        visible,
        process_code=process_code,
        status=status,
        start=start,
        end=end,
        originator=originator,
        dept_ids=dept_ids,
        result=result,
    )
    total = int(conn.execute(select(func.count()).select_from(i).where(*cond)).scalar_one())
    rows = conn.execute(
        select(
            i.c.process_instance_id,
            i.c.process_code,
            i.c.title,
            i.c.business_id,
            i.c.originator_userid,
            i.c.originator_dept_id,
            i.c.originator_dept_name,
            i.c.status,
            i.c.result,
            i.c.create_time,
            i.c.finish_time,
        )
        .where(*cond)
        .order_by(i.c.create_time.desc(), i.c.process_instance_id)
        .limit(limit)
        .offset(offset)
    ).mappings()
    return [dict(x) for x in rows], total


def form_components(conn: Connection, where: Sequence[Any]) -> list[dict[str, Any]]:
    """The distinct form components (``component_id``, ``name``, ``component_type``) of the
    instances meeting ``where`` (conditions on ``approval_instances``, e.g. from
    :func:`approval_conditions`, which include the corp), ordered by first form position then
    id: what an export finds in the data, whatever the template says today."""
    v, i = approval_form_values, approval_instances
    first = func.min(v.c.seq)
    stmt = (
        select(v.c.component_id, v.c.name, v.c.component_type, first.label("seq"))
        .select_from(
            v.join(
                i,
                (i.c.corp_id == v.c.corp_id) & (i.c.process_instance_id == v.c.process_instance_id),
            )
        )
        .where(*where)
        .group_by(v.c.component_id, v.c.name, v.c.component_type)
        .order_by(first, v.c.component_id, v.c.name)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def get_approval(conn: Connection, corp_id: str, instance_id: str) -> dict[str, Any] | None:
    """One approval instance with ``form_values``, ``tasks``, ``operation_records``, ``cc``
    and ``attachments`` (:data:`ATTACHMENT_COLUMNS`; each in DingTalk's order), or ``None``."""

    i = approval_instances
    row = (
        conn.execute(
            select(i).where(i.c.corp_id == corp_id, i.c.process_instance_id == instance_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    out = {k: v for k, v in dict(row).items() if k != "raw"}

    def children(table: Any, *cols: str, order: str = "seq") -> list[dict[str, Any]]:
        stmt = (
            select(*(table.c[c] for c in cols))
            .where(table.c.corp_id == corp_id, table.c.process_instance_id == instance_id)
            .order_by(table.c[order])
        )
        return [dict(x) for x in conn.execute(stmt).mappings()]

    out["form_values"] = children(
        approval_form_values, "component_id", "name", "component_type", "value", "ext_value"
    )
    out["tasks"] = children(
        approval_tasks,
        "taskid",
        "userid",
        "task_status",
        "task_result",
        "create_time",
        "finish_time",
    )
    out["operation_records"] = children(
        approval_operation_records,
        "userid",
        "date",
        "operation_type",
        "operation_result",
        "remark",
    )
    out["cc"] = [c["userid"] for c in children(approval_cc, "userid", order="userid")]
    out["attachments"] = children(approval_attachments, *ATTACHMENT_COLUMNS)
    return out


#: The columns of an attachment as :func:`get_approval` and :func:`find_attachment` give them.
ATTACHMENT_COLUMNS = (
    "file_id",
    "file_name",
    "file_size",
    "file_type",
    "space_id",
    "source",
    "component_id",
    "record_seq",
    "userid",
)


def find_attachment(
    conn: Connection, corp_id: str, instance_id: str, file_id: str
) -> dict[str, Any] | None:
    """One stored attachment of an instance by DingTalk's ``file_id`` (the first, should the
    instance list one file twice), with :data:`ATTACHMENT_COLUMNS`; ``None`` if it has none."""
    a = approval_attachments
    row = (
        conn.execute(
            select(*(a.c[c] for c in ATTACHMENT_COLUMNS))
            .where(
                a.c.corp_id == corp_id,
                a.c.process_instance_id == instance_id,
                a.c.file_id == file_id,
            )
            .order_by(a.c.seq)
            .limit(1)
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def approval_participants(conn: Connection, corp_id: str, instance_id: str) -> set[str]:
    """Approvers (from ``tasks``) and cc'd people of one instance."""

    people: set[str] = set()
    for table in (approval_tasks, approval_cc):
        people.update(
            u
            for u in conn.execute(
                select(table.c.userid).where(
                    table.c.corp_id == corp_id, table.c.process_instance_id == instance_id
                )
            ).scalars()
            if u
        )
    return people


# --------------------------------------------------------------------------------------------
# Statistics (审批统计), aggregated in SQL over the instances meeting some conditions
# --------------------------------------------------------------------------------------------
#: Results that finish an approval with a decision (the approval rate's denominator).
DECIDED_RESULTS = ("agree", "refuse")


class seconds_between(FunctionElement[float]):
    """``end - start`` in seconds (a float) for two :class:`~dingsync.store.schema.UTCDateTime`
    columns, on every backend (SQLite ``julianday``, PostgreSQL ``EXTRACT(EPOCH …)``, MySQL
    ``TIMESTAMPDIFF(MICROSECOND …)``)."""

    type = Float()
    name = "seconds_between"
    inherit_cache = True


@compiles(seconds_between)
def _seconds_between_default(element: Any, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _seconds_between_pg(element: Any, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


@compiles(seconds_between, "mysql")
@compiles(seconds_between, "mariadb")
def _seconds_between_mysql(element: Any, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"(TIMESTAMPDIFF(MICROSECOND, {start}, {end}) / 1000000.0)"


def stats_by_template(conn: Connection, where: Sequence[Any]) -> list[dict[str, Any]]:
    """Per template of the instances meeting ``where`` (conditions on ``approval_instances``,
    e.g. from :func:`approval_conditions`): ``process_code``, ``instances``, ``running``
    (status ``NEW``/``RUNNING``), ``agree``, ``refuse``, ``finished`` (``agree + refuse``,
    :data:`DECIDED_RESULTS`), ordered by process code. One ``GROUP BY`` query."""
    i = approval_instances

    def count_if(cond: Any) -> Any:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    stmt = (
        select(
            i.c.process_code,
            func.count().label("instances"),
            count_if(i.c.status.in_(("NEW", "RUNNING"))).label("running"),
            count_if(i.c.result == "agree").label("agree"),
            count_if(i.c.result == "refuse").label("refuse"),
        )
        .where(*where)
        .group_by(i.c.process_code)
        .order_by(i.c.process_code)
    )
    out = []
    for r in conn.execute(stmt).mappings():
        row = {k: (int(v) if k != "process_code" else v) for k, v in r.items()}
        row["finished"] = row["agree"] + row["refuse"]
        out.append(row)
    return out


def cycle_time_buckets(conn: Connection, where: Sequence[Any], edges_s: Sequence[int]) -> list[int]:
    """How many instances meeting ``where`` that finished with a decision
    (:data:`DECIDED_RESULTS`, both times known) took ``finish_time − create_time`` in each
    bucket of ``edges_s`` (ascending seconds): ``[< e0, e0 ≤ … < e1, …, ≥ e_last]`` —
    ``len(edges_s) + 1`` counts, computed in SQL (``CASE`` + ``GROUP BY``)."""
    i = approval_instances
    secs = seconds_between(i.c.create_time, i.c.finish_time)
    bucket = case(*((secs < edge, n) for n, edge in enumerate(edges_s)), else_=len(edges_s)).label(
        "bucket"
    )
    stmt = (
        select(bucket, func.count())
        .where(
            *where,
            i.c.result.in_(DECIDED_RESULTS),
            i.c.create_time.is_not(None),
            i.c.finish_time.is_not(None),
        )
        .group_by(bucket)
    )
    counts = [0] * (len(edges_s) + 1)
    for b, n in conn.execute(stmt):
        counts[int(b)] += int(n)
    return counts


__all__ = [
    "ATTACHMENT_COLUMNS",
    "CHILD_KEYS",
    "DECIDED_RESULTS",
    "approval_conditions",
    "approval_participants",
    "counts",
    "cycle_time_buckets",
    "find_attachment",
    "find_template",
    "get_approval",
    "known_instance_ids",
    "list_approvals",
    "load_children",
    "load_instances",
    "load_templates",
    "seconds_between",
    "stats_by_template",
    "status_rows",
    "store_instances",
    "unfinished_instance_ids",
    "upsert_templates",
]


def waiting_for(
    conn: Connection, corp_id: str, userid: str, *, limit: int = 5
) -> tuple[list[dict[str, Any]], int]:
    """Running instances with a task of ``userid`` in ``RUNNING`` (waiting for their
    approval: 待我审批), newest first, and the total."""
    i = approval_instances
    t = approval_tasks
    mine = select(t.c.process_instance_id).where(
        t.c.corp_id == corp_id, t.c.userid == userid, t.c.task_status == "RUNNING"
    )
    cond = [i.c.corp_id == corp_id, i.c.status == "RUNNING", i.c.process_instance_id.in_(mine)]
    total = int(conn.execute(select(func.count()).select_from(i).where(*cond)).scalar_one())
    rows = conn.execute(
        select(
            i.c.process_instance_id,
            i.c.process_code,
            i.c.title,
            i.c.originator_userid,
            i.c.originator_dept_name,
            i.c.status,
            i.c.result,
            i.c.create_time,
        )
        .where(*cond)
        .order_by(i.c.create_time.desc(), i.c.process_instance_id)
        .limit(limit)
    ).mappings()
    return [dict(x) for x in rows], total
