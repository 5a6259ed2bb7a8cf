"""Repositories for reports (日志) over :mod:`dingsync.store.schema_reports`.

Same rules as :mod:`dingsync.store.repo`: functions take a ``Connection`` inside the caller's
transaction, rows are dicts keyed by column name, writes are idempotent set-based upserts
(``repo.upsert``). Per-report lists (contents, receivers, comments, read/like lists) are
*replaced* for the reports given: their old rows are deleted and the new ones inserted, so a
field removed by an edit disappears too.

``report_template_keys`` (the content keys of each template's stored reports, which the export's
columns come from) is kept by :func:`update_template_keys`, which a writer of reports and
their contents calls in the same transaction *before* :func:`upsert_reports` (it reads what
those reports held before).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Executable, Table, bindparam, delete, func, select
from sqlalchemy.dialects import mysql as mysql_dialect
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from dingsync.store import repo, visibility
from dingsync.store.nul import escape_nul
from dingsync.store.schema import users
from dingsync.store.schema_reports import (
    report_comments,
    report_contents,
    report_receivers,
    report_rules,
    report_template_fields,
    report_template_keys,
    report_templates,
    report_user_stats,
    reports,
)

Row = Mapping[str, Any]
#: The per-report counts stored on ``reports`` (DingTalk's ``report/statistics`` names).
COUNT_COLUMNS = ("read_num", "comment_num", "comment_user_num", "like_num")


def _with_corp(corp_id: str, rows: Iterable[Row]) -> list[dict[str, Any]]:
    out = []
    for source in rows:
        row = dict(source)
        if row.setdefault("corp_id", corp_id) != corp_id:
            raise ValueError(f"row has corp_id={row['corp_id']!r}, this call is for {corp_id!r}")
        out.append(row)
    return out


def _chunks(values: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _replace(
    conn: Connection, table: Table, corp_id: str, report_ids: Sequence[str], rows: list[Row]
) -> int:
    """Delete ``table``'s rows of ``report_ids`` and insert ``rows`` (all of those reports);
    both through statements built once (:func:`repo.delete_in`, :func:`repo.insert_rows`)."""
    ids = list(dict.fromkeys(report_ids))
    if ids:
        repo.delete_in(conn, table, corp_id, "report_id", ids)
    return repo.insert_rows(conn, table, _with_corp(corp_id, rows))


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------
def upsert_templates(conn: Connection, corp_id: str, rows: Iterable[Row]) -> int:
    """Upsert ``report_templates`` rows (keyed by ``name``)."""
    return repo.upsert(conn, report_templates, _with_corp(corp_id, rows), ["corp_id", "name"])


def replace_template_fields(
    conn: Connection, corp_id: str, template_name: str, rows: Iterable[Row]
) -> int:
    """Replace a template's fields (``{sort, field_name, type}`` rows)."""
    conn.execute(
        delete(report_template_fields).where(
            report_template_fields.c.corp_id == corp_id,
            report_template_fields.c.template_name == template_name,
        )
    )
    data = [{**dict(r), "corp_id": corp_id, "template_name": template_name} for r in rows]
    return repo.insert_rows(conn, report_template_fields, data)


def replace_rules(conn: Connection, corp_id: str, template_name: str, rows: Iterable[Row]) -> int:
    """Replace a template's statistics rules (``report_rules`` rows keyed by ``remind_id``)."""
    t = report_rules
    conn.execute(delete(t).where(t.c.corp_id == corp_id, t.c.template_name == template_name))
    data = [{**dict(r), "corp_id": corp_id, "template_name": template_name} for r in rows]
    return repo.insert_rows(conn, t, data)


def rules_synced_at(conn: Connection, corp_id: str) -> datetime | None:
    """When the company's statistics rules were last stored (the newest ``synced_at`` of
    ``report_rules``; aware UTC), ``None`` when none is stored."""
    t = report_rules
    at = conn.execute(select(func.max(t.c.synced_at)).where(t.c.corp_id == corp_id)).scalar()
    return at if isinstance(at, datetime) else None


def template_ids(conn: Connection, corp_id: str) -> dict[str, str]:
    """``template name → template_id`` of the templates whose id is stored (``getbyname``)."""
    t = report_templates
    return {
        str(name): str(tid)
        for name, tid in conn.execute(
            select(t.c.name, t.c.template_id)
            .where(t.c.corp_id == corp_id, t.c.template_id.is_not(None))
            .order_by(t.c.name)
        )
    }


def rule_of(conn: Connection, corp_id: str, template_name: str) -> dict[str, Any] | None:
    """The stored statistics rule of a template (the lowest ``remind_id`` when DingTalk has
    several), or ``None``."""
    t = report_rules
    row = (
        conn.execute(
            select(t)
            .where(t.c.corp_id == corp_id, t.c.template_name == template_name)
            .order_by(t.c.remind_id)
            .limit(1)
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def template_names(conn: Connection, corp_id: str) -> list[str]:
    """Names of the report templates known for ``corp_id`` (synced templates and the templates
    of stored reports), sorted."""
    synced = select(report_templates.c.name).where(report_templates.c.corp_id == corp_id)
    used = select(reports.c.template_name).where(reports.c.corp_id == corp_id).distinct()
    names = set(conn.execute(synced).scalars()) | set(conn.execute(used).scalars())
    return sorted(str(n) for n in names if n)


def templates_with_fields(conn: Connection, corp_id: str) -> int:
    """How many templates of ``corp_id`` have their fields stored."""
    t = report_templates
    return int(
        conn.execute(
            select(func.count())
            .select_from(t)
            .where(t.c.corp_id == corp_id, t.c.fields_synced.is_(True))
        ).scalar_one()
    )


def template_fields(conn: Connection, corp_id: str, template_name: str) -> list[str]:
    """Field names of a template in ``sort`` order (empty when not synced)."""
    t = report_template_fields
    return list(
        conn.execute(
            select(t.c.field_name)
            .where(t.c.corp_id == corp_id, t.c.template_name == template_name)
            .order_by(t.c.sort)
        ).scalars()
    )


def content_keys(conn: Connection, corp_id: str, template_name: str) -> list[str]:
    """Content keys seen in stored reports of a template, by their smallest position (ties by
    key), from ``report_template_keys`` (kept at sync time by :func:`update_template_keys`):
    the same list :func:`scan_content_keys` reads from every stored content."""
    k = report_template_keys
    rows = conn.execute(
        select(k.c.key, func.min(k.c.position))
        .where(k.c.corp_id == corp_id, k.c.template_name == template_name, k.c.report_count > 0)
        .group_by(k.c.key)
    ).all()
    return [key for key, _ in sorted(rows, key=lambda kv: (kv[1], kv[0]))]


def scan_content_keys(conn: Connection, corp_id: str, template_name: str) -> list[str]:
    """:func:`content_keys` computed from every stored content of the template (one scan of
    ``report_contents`` joined to ``reports``) — what the export read before migration 0028;
    kept to check ``report_template_keys`` against."""
    c, r = report_contents, reports
    rows = conn.execute(
        select(c.c.key, func.min(c.c.position))
        .join(r, (r.c.corp_id == c.c.corp_id) & (r.c.report_id == c.c.report_id))
        .where(c.c.corp_id == corp_id, r.c.template_name == template_name)
        .group_by(c.c.key)
    ).all()
    keyed = [(k, pos) for k, pos in rows if k is not None]
    return [k for k, _ in sorted(keyed, key=lambda kv: (kv[1], kv[0]))]


#: ``(template_name, key, position)``: a row of ``report_template_keys`` without its company.
KeySlot = tuple[str, str, int]
_KEYS_STATEMENTS: dict[str, Executable] = {}


def _add_keys_statement(conn: Connection) -> Executable:
    """``INSERT … ON CONFLICT``/``ON DUPLICATE KEY`` adding ``report_count`` to the stored
    count (one statement per dialect, built once)."""
    name = conn.dialect.name
    statement = _KEYS_STATEMENTS.get(name)
    if statement is not None:
        return statement
    k = report_template_keys
    pk = ["corp_id", "template_name", "key", "position"]
    if name == "postgresql":
        pg = pg_dialect.insert(k)
        statement = pg.on_conflict_do_update(
            index_elements=pk, set_={"report_count": k.c.report_count + pg.excluded.report_count}
        )
    elif name == "sqlite":
        lite = sqlite_dialect.insert(k)
        statement = lite.on_conflict_do_update(
            index_elements=pk,
            set_={"report_count": k.c.report_count + lite.excluded.report_count},
        )
    elif name in ("mysql", "mariadb"):
        my = mysql_dialect.insert(k)
        statement = my.on_duplicate_key_update(
            report_count=k.c.report_count + my.inserted.report_count
        )
    else:
        raise NotImplementedError(f"report_template_keys: no upsert for the {name!r} dialect")
    _KEYS_STATEMENTS[name] = statement
    return statement


def _stored_keys_statement(conn: Connection) -> Executable:
    """Reports (``:corp_id``, ``:ids``) with their template and content keys: one row per key
    (``key`` NULL for a report without any). A plain read, no ``FOR UPDATE``: the company's
    sync lease makes its sync the only writer of its reports, and on MySQL/MariaDB a locking
    read of report ids not stored yet takes gap locks that deadlocked two companies syncing at
    once. Built once per dialect (building it cost more than running it)."""
    name = "stored:" + conn.dialect.name
    statement = _KEYS_STATEMENTS.get(name)
    if statement is None:
        r, c = reports, report_contents
        stored = r.outerjoin(
            c,
            (c.c.corp_id == r.c.corp_id) & (c.c.report_id == r.c.report_id) & c.c.key.is_not(None),
        )
        statement = _KEYS_STATEMENTS[name] = (
            select(r.c.report_id, r.c.template_name, c.c.key, c.c.position)
            .select_from(stored)
            .where(
                r.c.corp_id == bindparam("corp_id"),
                r.c.report_id.in_(bindparam("ids", expanding=True)),
            )
        )
    return statement


def update_template_keys(
    conn: Connection,
    corp_id: str,
    rows: Iterable[Row],
    contents: Mapping[str, Sequence[Row]] | None = None,
) -> int:
    """Bring ``report_template_keys`` in step with a write of ``reports`` ``rows`` and their
    ``contents`` (``report_id → [{key, …}]`` in the order sent: position = index), the same
    arguments :func:`upsert_reports` then gets. Call it in that transaction, *before*
    :func:`upsert_reports`: it reads what the reports held (their stored template and content
    keys), then adds the difference per ``(template, key, position)`` and deletes, by primary
    key, the counts that reached 0 (no range locks; each company's reports have one writer at
    a time, its sync lease). A report's contents left out of ``contents`` keep their keys
    (under the template ``rows`` give it); a row without ``template_name`` keeps its stored
    one; keys ``None`` and reports without a template are not counted (as
    :func:`scan_content_keys`). Returns the number of ``(template, key, position)`` counts
    changed."""
    new_template: dict[str, str | None] = {}
    for row in rows:
        if "template_name" in row:
            new_template[str(row["report_id"])] = row["template_name"]
    given = contents or {}
    ids = list(dict.fromkeys([*new_template, *given]))
    if not ids:
        return 0
    old_template: dict[str, str | None] = {}
    old_keys: dict[str, list[tuple[str, int]]] = {}
    read = _stored_keys_statement(conn)
    for chunk in _chunks(ids):
        for rid, name, key, pos in conn.execute(read, {"corp_id": corp_id, "ids": list(chunk)}):
            old_template[rid] = name
            if key is not None:
                old_keys.setdefault(rid, []).append((key, pos))
    delta: Counter[KeySlot] = Counter()
    for rid in ids:
        before = old_template.get(rid)
        if before is not None:
            for key, pos in old_keys.get(rid, ()):
                delta[(before, key, pos)] -= 1
        after = new_template.get(rid, before)
        if after is None:
            continue
        if rid in given:
            now = [(item.get("key"), i) for i, item in enumerate(given[rid])]
        else:
            now = [(key, pos) for key, pos in old_keys.get(rid, ())]
        for key, pos in now:
            if key is not None:
                delta[(after, key, pos)] += 1
    changed = sorted((slot, n) for slot, n in delta.items() if n)
    if not changed:
        return 0
    data: list[dict[str, Any]] = [
        {"corp_id": corp_id, "template_name": t, "key": k, "position": p, "report_count": n}
        for (t, k, p), n in changed
    ]
    statement = _add_keys_statement(conn)
    for i in range(0, len(data), repo.MAX_ROWS_PER_STATEMENT):
        conn.execute(statement, data[i : i + repo.MAX_ROWS_PER_STATEMENT])
    fallen = [row for row in data if row["report_count"] < 0]
    if fallen:
        conn.execute(_drop_keys_statement(), fallen)
    return len(changed)


def _drop_keys_statement() -> Executable:
    """Delete one ``report_template_keys`` row by its primary key when its count is ≤ 0
    (executed with the rows whose count went down)."""
    statement = _KEYS_STATEMENTS.get("drop")
    if statement is None:
        k = report_template_keys
        statement = _KEYS_STATEMENTS["drop"] = delete(k).where(
            k.c.corp_id == bindparam("corp_id"),
            k.c.template_name == bindparam("template_name"),
            k.c.key == bindparam("key"),
            k.c.position == bindparam("position"),
            k.c.report_count <= 0,
        )
    return statement


# --------------------------------------------------------------------------------------------
# Reports and their lists
# --------------------------------------------------------------------------------------------
#: ``reports`` columns that repeat a report's contents (:func:`content_lists`).
CONTENT_COLUMNS = ("content_keys", "content_values", "content_states")


def content_lists(items: Sequence[Row]) -> dict[str, list[Any] | None]:
    """``reports.content_keys``, ``content_values`` and ``content_states`` of a report's
    contents ``[{key, value, state, …}]`` in the order sent: their keys, their values (by
    position, ``None`` for a missing one) and their states — ``None`` when no state is set;
    all three ``None`` when there are no contents. What ``report_contents`` holds of them."""
    if not items:
        return dict.fromkeys(CONTENT_COLUMNS)
    states = [item.get("state") for item in items]
    return {
        "content_keys": [item.get("key") for item in items],
        "content_values": [item.get("value") for item in items],
        "content_states": states if any(state is not None for state in states) else None,
    }


def receiver_ids(userids: Iterable[str]) -> list[str] | None:
    """``reports.receiver_ids`` of a report's receivers: each userid once, in code point order
    of the stored text (the order SQLite, MariaDB's ``utf8mb4_bin`` and PostgreSQL's ``C``
    collation give ``report_receivers.userid``), or ``None`` when there are none."""
    return sorted(dict.fromkeys(userids), key=escape_nul) or None


def _set_lists(
    conn: Connection, corp_id: str, columns: Sequence[str], values: Mapping[str, Mapping[str, Any]]
) -> None:
    """``UPDATE reports SET <columns>`` for each ``report_id → {column: value}`` of ``values``
    (the lists of reports whose contents or receivers are replaced without their row being
    written). One executemany; the statement is built once per column set."""
    if not values:
        return
    name = "set:" + ",".join(columns)
    statement = _KEYS_STATEMENTS.get(name)
    if statement is None:
        r = reports
        statement = _KEYS_STATEMENTS[name] = (
            r.update()
            .where(r.c.corp_id == bindparam("b_corp_id"), r.c.report_id == bindparam("b_report_id"))
            .values({c: bindparam("b_" + c, type_=r.c[c].type) for c in columns})
        )
    conn.execute(
        statement,
        [
            {"b_corp_id": corp_id, "b_report_id": rid, **{"b_" + c: v[c] for c in columns}}
            for rid, v in values.items()
        ],
    )


def upsert_reports(
    conn: Connection,
    corp_id: str,
    rows: Iterable[Row],
    contents: Mapping[str, Sequence[Row]] | None = None,
    receivers: Mapping[str, Sequence[str]] | None = None,
) -> int:
    """Upsert ``reports`` rows; with ``contents`` (``report_id → [{key, sort, type, value,
    state}]`` in the order sent) those reports' contents are replaced (``position`` = index),
    with ``receivers`` (``report_id → [userid]``) their receivers (as
    :func:`replace_receivers`). ``reports``' copies of them follow (:func:`content_lists`,
    :func:`receiver_ids`): on the rows written, or by an ``UPDATE`` for
    reports of ``contents``/``receivers`` not among ``rows``; a report left out of them keeps
    its stored lists. Returns the number of report rows written."""
    data = _with_corp(corp_id, rows)
    given = {str(row["report_id"]) for row in data if row.get("report_id") is not None}
    if contents is not None:
        for row in data:
            items = contents.get(row["report_id"])
            if items is not None:
                row.update(content_lists(items))
    if receivers is not None:
        for row in data:
            users = receivers.get(row["report_id"])
            if users is not None:
                row["receiver_ids"] = receiver_ids(users)
    n = repo.upsert(conn, reports, data, ["corp_id", "report_id"])
    if contents is not None:
        content_rows: list[Row] = [
            {
                "report_id": rid,
                "position": i,
                "key": item.get("key"),
                "sort": item.get("sort"),
                "type": item.get("type"),
                "value": item.get("value"),
                "state": item.get("state"),
            }
            for rid, items in contents.items()
            for i, item in enumerate(items)
        ]
        _replace(conn, report_contents, corp_id, list(contents), content_rows)
        _set_lists(
            conn,
            corp_id,
            CONTENT_COLUMNS,
            {rid: content_lists(items) for rid, items in contents.items() if rid not in given},
        )
    if receivers is not None:
        _replace_receivers(conn, corp_id, receivers)
        _set_lists(
            conn,
            corp_id,
            ("receiver_ids",),
            {
                rid: {"receiver_ids": receiver_ids(users)}
                for rid, users in receivers.items()
                if rid not in given
            },
        )
    return n


def report_ids_created(conn: Connection, corp_id: str, start: datetime, end: datetime) -> list[str]:
    """Ids of the stored reports created in ``[start, end]`` (aware datetimes), oldest first."""
    r = reports
    return [
        str(x)
        for x in conn.execute(
            select(r.c.report_id)
            .where(r.c.corp_id == corp_id, r.c.create_time >= start, r.c.create_time <= end)
            .order_by(r.c.create_time, r.c.report_id)
        ).scalars()
    ]


def set_counts(conn: Connection, corp_id: str, by_report: Mapping[str, Mapping[str, int]]) -> None:
    """Store each report's ``read_num``, ``comment_num``, ``comment_user_num``, ``like_num``
    (``report/statistics``' names)."""
    for rid, counts in by_report.items():
        conn.execute(
            reports.update()
            .where(reports.c.corp_id == corp_id, reports.c.report_id == rid)
            .values(**{k: int(counts[k]) for k in COUNT_COLUMNS if k in counts})
        )


def mark_details_synced(
    conn: Connection, corp_id: str, report_ids: Sequence[str], when: datetime
) -> None:
    """Set ``details_synced_at`` of ``report_ids`` (their comments and read/like lists were
    just replaced)."""
    for chunk in _chunks(list(report_ids)):
        conn.execute(
            reports.update()
            .where(reports.c.corp_id == corp_id, reports.c.report_id.in_(chunk))
            .values(details_synced_at=when)
        )


def _replace_receivers(
    conn: Connection, corp_id: str, by_report: Mapping[str, Sequence[str]]
) -> int:
    rows: list[Row] = [
        {"report_id": rid, "userid": u}
        for rid, users in by_report.items()
        for u in dict.fromkeys(users)
    ]
    return _replace(conn, report_receivers, corp_id, list(by_report), rows)


def replace_receivers(
    conn: Connection, corp_id: str, by_report: Mapping[str, Sequence[str]]
) -> int:
    """Replace the receivers of each report in ``by_report`` (``report_id → [userid]``) and
    their ``reports.receiver_ids`` (:func:`receiver_ids`). A writer that also upserts the
    reports passes them to :func:`upsert_reports` instead (no ``UPDATE`` per report)."""
    n = _replace_receivers(conn, corp_id, by_report)
    _set_lists(
        conn,
        corp_id,
        ("receiver_ids",),
        {rid: {"receiver_ids": receiver_ids(u)} for rid, u in by_report.items()},
    )
    return n


def replace_comments(conn: Connection, corp_id: str, by_report: Mapping[str, Sequence[Row]]) -> int:
    """Replace comments (``{userid, content, create_time_text, created_at}`` rows in order)."""
    rows: list[Row] = [
        {"report_id": rid, "position": i, **dict(c)}
        for rid, items in by_report.items()
        for i, c in enumerate(items)
    ]
    return _replace(conn, report_comments, corp_id, list(by_report), rows)


def replace_user_stats(
    conn: Connection, corp_id: str, by_report: Mapping[str, Mapping[int, Sequence[str]]]
) -> int:
    """Replace read (0) / comment (1) / like (2) lists: ``report_id → {type: [userid]}``."""
    rows: list[Row] = [
        {"report_id": rid, "type": kind, "userid": u}
        for rid, kinds in by_report.items()
        for kind, users in kinds.items()
        for u in dict.fromkeys(users)
    ]
    return _replace(conn, report_user_stats, corp_id, list(by_report), rows)


# --------------------------------------------------------------------------------------------
# Reads
# --------------------------------------------------------------------------------------------
def _count(conn: Connection, table: Table, corp_id: str) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(table).where(table.c.corp_id == corp_id)
        ).scalar_one()
    )


def summary(conn: Connection, corp_id: str) -> dict[str, int]:
    """Counts for the demo/sync summary: ``report_templates``, ``reports``,
    ``report_receivers``, ``report_comments``, ``report_reads``/``report_likes``."""
    s = report_user_stats
    r = reports
    reads, likes = conn.execute(
        select(func.sum(r.c.read_num), func.sum(r.c.like_num)).where(r.c.corp_id == corp_id)
    ).one()
    listed = (
        select(s.c.type, func.count())
        .where(
            s.c.corp_id == corp_id,
            s.c.report_id.in_(
                select(r.c.report_id).where(r.c.corp_id == corp_id, r.c.read_num.is_(None))
            ),
        )
        .group_by(s.c.type)
    )
    by_list = {int(k): int(n) for k, n in conn.execute(listed)}
    return {
        "report_templates": _count(conn, report_templates, corp_id),
        "reports": _count(conn, reports, corp_id),
        "report_receivers": _count(conn, report_receivers, corp_id),
        "report_comments": _count(conn, report_comments, corp_id),
        # counts where stored, list lengths for reports synced before counts were kept
        "report_reads": int(reads or 0) + by_list.get(0, 0),
        "report_likes": int(likes or 0) + by_list.get(2, 0),
    }


def max_modified_time(conn: Connection, corp_id: str) -> datetime | None:
    """The newest ``modified_time`` stored for ``corp_id``."""
    value = conn.execute(
        select(func.max(reports.c.modified_time)).where(reports.c.corp_id == corp_id)
    ).scalar_one_or_none()
    if isinstance(value, datetime) and value.tzinfo is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value


def contents_of(
    conn: Connection, corp_id: str, report_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """``report_id → [{key, sort, type, value}]`` in the order DingTalk sent them, with
    ``state`` (``report_contents.state``) on the values that have one."""
    out: dict[str, list[dict[str, Any]]] = {rid: [] for rid in report_ids}
    c = report_contents
    for chunk in _chunks(list(report_ids)):
        for row in conn.execute(
            select(c.c.report_id, c.c.key, c.c.sort, c.c.type, c.c.value, c.c.state)
            .where(c.c.corp_id == corp_id, c.c.report_id.in_(chunk))
            .order_by(c.c.report_id, c.c.position)
        ):
            item = {"key": row.key, "sort": row.sort, "type": row.type, "value": row.value}
            if row.state is not None:  # a table field or a cut text (``state`` only then)
                item["state"] = row.state
            out[row.report_id].append(item)
    return out


def receivers_of(conn: Connection, corp_id: str, report_ids: Sequence[str]) -> dict[str, list[str]]:
    """``report_id → [userid]`` (sorted)."""
    out: dict[str, list[str]] = {rid: [] for rid in report_ids}
    t = report_receivers
    for chunk in _chunks(list(report_ids)):
        for rid, uid in conn.execute(
            select(t.c.report_id, t.c.userid)
            .where(t.c.corp_id == corp_id, t.c.report_id.in_(chunk))
            .order_by(t.c.report_id, t.c.userid)
        ):
            out[rid].append(uid)
    return out


def load_reports(conn: Connection, corp_id: str) -> dict[str, dict[str, Any]]:
    """Every stored report of ``corp_id`` with ``contents``, ``receivers``, ``comments``
    (``[{userid, content, create_time_text}]``) and ``stats`` (``{type: [userid]}``) — for
    comparisons in tests and tools."""
    out = {
        r["report_id"]: {k: v for k, v in r.items() if k not in _NOT_IN_DETAIL or k == "raw"}
        for r in conn.execute(select(reports).where(reports.c.corp_id == corp_id)).mappings()
    }
    ids = list(out)
    contents = contents_of(conn, corp_id, ids)
    receivers = receivers_of(conn, corp_id, ids)
    for rid, row in out.items():
        row["contents"] = contents[rid]
        row["receivers"] = receivers[rid]
        row["comments"] = []
        row["stats"] = {}
    c = report_comments
    for com in conn.execute(
        select(c).where(c.c.corp_id == corp_id).order_by(c.c.report_id, c.c.position)
    ).mappings():
        out[com["report_id"]]["comments"].append(
            {k: com[k] for k in ("userid", "content", "create_time_text")}
        )
    s = report_user_stats
    for rid, kind, uid in conn.execute(
        select(s.c.report_id, s.c.type, s.c.userid)
        .where(s.c.corp_id == corp_id)
        .order_by(s.c.report_id, s.c.type, s.c.userid)
    ):
        out[rid]["stats"].setdefault(int(kind), []).append(uid)
    return out


# --------------------------------------------------------------------------------------------
# Read queries of the web API and the exports, filtered by a viewer's scope
# --------------------------------------------------------------------------------------------
def report_conditions(
    corp_id: str,
    visible: visibility.Visible | None,
    *,
    template: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    creator: str | None = None,
    dept_ids: Sequence[int] | None = None,
) -> list[Any]:
    """SQL conditions on ``reports`` (all must hold): of ``corp_id``, visible to ``visible``
    (``None``: no visibility filter, i.e. everything — the CLI), template name ``template``,
    created in ``[start, end)`` (aware datetimes), by ``creator``, by a member of one of
    ``dept_ids`` (exactly these departments: pass a subtree to include sub-departments).
    The list API and the export writer both use these, so they select the same reports."""

    r = reports

    def received(userid: str) -> Any:
        rr = report_receivers
        return r.c.report_id.in_(
            select(rr.c.report_id).where(rr.c.corp_id == corp_id, rr.c.userid == userid)
        )

    cond: list[Any] = [r.c.corp_id == corp_id]
    if visible is not None:
        cond.append(visibility.visible_to(visible, corp_id, r.c.creator_id, received))
    if template is not None:
        cond.append(r.c.template_name == template)
    return cond + visibility.created_by(
        corp_id, r.c.create_time, r.c.creator_id, start, end, creator, dept_ids
    )


def list_reports(
    conn: Connection,
    corp_id: str,
    visible: visibility.Visible,
    *,
    template: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    creator: str | None = None,
    dept_ids: Sequence[int] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Reports visible to ``visible``, newest first, and the total. ``start``/``end``: creation
    time range ``[start, end)``; ``dept_ids``: creators in these departments."""

    r = reports
    cond = report_conditions(
        corp_id,
        visible,
        template=template,
        start=start,
        end=end,
        creator=creator,
        dept_ids=dept_ids,
    )
    total = int(conn.execute(select(func.count()).select_from(r).where(*cond)).scalar_one())
    rows = conn.execute(
        select(
            r.c.report_id,
            r.c.template_name,
            r.c.creator_id,
            r.c.creator_name,
            r.c.dept_name,
            r.c.create_time,
            r.c.modified_time,
        )
        .where(*cond)
        .order_by(r.c.create_time.desc(), r.c.report_id)
        .limit(limit)
        .offset(offset)
    ).mappings()
    return [dict(x) for x in rows], total


#: ``reports`` columns :func:`get_report` and :func:`load_reports` leave out: the payload, and
#: the lists they give from their own tables.
_NOT_IN_DETAIL = frozenset({"raw", *CONTENT_COLUMNS, "receiver_ids"})


def get_report(conn: Connection, corp_id: str, report_id: str) -> dict[str, Any] | None:
    """One report with ``contents`` (in order), ``receivers`` and ``comments``, or ``None``."""

    row = (
        conn.execute(
            select(reports).where(reports.c.corp_id == corp_id, reports.c.report_id == report_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    out = {k: v for k, v in dict(row).items() if k not in _NOT_IN_DETAIL}
    key = (report_contents.c.corp_id == corp_id, report_contents.c.report_id == report_id)
    out["contents"] = [
        dict(c)
        for c in conn.execute(
            select(
                report_contents.c.key,
                report_contents.c.sort,
                report_contents.c.type,
                report_contents.c.value,
                report_contents.c.state,
            )
            .where(*key)
            .order_by(report_contents.c.position)
        ).mappings()
    ]
    out["receivers"] = list(
        conn.execute(
            select(report_receivers.c.userid)
            .where(report_receivers.c.corp_id == corp_id, report_receivers.c.report_id == report_id)
            .order_by(report_receivers.c.userid)
        ).scalars()
    )
    rc = report_comments
    out["comments"] = [
        dict(c)
        for c in conn.execute(
            select(rc.c.userid, rc.c.content, rc.c.created_at)
            .where(rc.c.corp_id == corp_id, rc.c.report_id == report_id)
            .order_by(rc.c.position)
        ).mappings()
    ]
    return out


def statistics_of(conn: Connection, corp_id: str, report_id: str) -> dict[str, int]:
    """A report's counts in DingTalk's ``report/statistics`` names: the stored counts (columns
    ``read_num`` …, from ``report/statistics`` or the lists), else from the stored lists:
    ``read_num`` (readers, ``statistics/listbytype`` type 0), ``comment_num`` (comments),
    ``comment_user_num`` (commenters, type 1), ``like_num`` (type 2); 0 where none is stored."""
    stored = (
        conn.execute(
            select(*(reports.c[k] for k in COUNT_COLUMNS)).where(
                reports.c.corp_id == corp_id, reports.c.report_id == report_id
            )
        )
        .mappings()
        .first()
    )
    if stored is not None and stored["read_num"] is not None:
        return {k: int(stored[k] or 0) for k in COUNT_COLUMNS}
    s, c = report_user_stats, report_comments
    by_type = {
        int(kind): int(n)
        for kind, n in conn.execute(
            select(s.c.type, func.count())
            .where(s.c.corp_id == corp_id, s.c.report_id == report_id)
            .group_by(s.c.type)
        )
    }
    comments = conn.execute(
        select(func.count()).where(c.c.corp_id == corp_id, c.c.report_id == report_id)
    ).scalar_one()
    return {
        "read_num": by_type.get(0, 0),
        "comment_num": int(comments),
        "comment_user_num": by_type.get(1, 0),
        "like_num": by_type.get(2, 0),
    }


def creators(
    conn: Connection,
    corp_id: str,
    visible: visibility.Visible | None,
    *,
    template: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[dict[str, str]]:
    """The people whose reports ``visible`` admits (of ``template``, created in ``[start,
    end)``, when given), as ``[{userid, name}]`` sorted by name then userid — the choices of a
    "提交人" filter, from the same conditions as :func:`list_reports`. Names come from the
    directory (``users``), else from the reports."""
    r = reports
    cond = report_conditions(corp_id, visible, template=template, start=start, end=end)
    ids = [
        str(u) for u in conn.execute(select(r.c.creator_id).where(*cond).distinct()).scalars() if u
    ]
    names: dict[str, str] = {}
    for chunk in _chunks(sorted(ids)):
        for userid, name in conn.execute(
            select(users.c.userid, users.c.name).where(
                users.c.corp_id == corp_id, users.c.userid.in_(chunk)
            )
        ):
            names[str(userid)] = str(name or userid)
    unknown = [u for u in ids if u not in names]
    for chunk in _chunks(unknown):
        for userid, name in conn.execute(
            select(r.c.creator_id, func.max(r.c.creator_name))
            .where(r.c.corp_id == corp_id, r.c.creator_id.in_(chunk))
            .group_by(r.c.creator_id)
        ):
            names[str(userid)] = str(name or userid)
    return [
        {"userid": u, "name": n} for u, n in sorted(names.items(), key=lambda kv: (kv[1], kv[0]))
    ]


def received_reports(
    conn: Connection, corp_id: str, userid: str, *, limit: int = 5
) -> tuple[list[dict[str, Any]], int]:
    """Reports ``userid`` received (a receiver, not the creator), newest first, and the total:
    the ``participant`` part of the reports rule (:func:`report_conditions` with
    ``Visible(participant=userid)``)."""
    r = reports
    cond = report_conditions(corp_id, visibility.Visible(participant=userid))
    cond.append(r.c.creator_id != userid)
    total = int(conn.execute(select(func.count()).select_from(r).where(*cond)).scalar_one())
    rows = conn.execute(
        select(
            r.c.report_id,
            r.c.template_name,
            r.c.creator_id,
            r.c.creator_name,
            r.c.dept_name,
            r.c.create_time,
            r.c.modified_time,
        )
        .where(*cond)
        .order_by(r.c.create_time.desc(), r.c.report_id)
        .limit(limit)
    ).mappings()
    return [dict(x) for x in rows], total
