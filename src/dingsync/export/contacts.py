"""The contacts (通讯录) export: the directory, one row per person, to ``xlsx`` (XlsxWriter,
constant memory) or ``csv`` (UTF-8 with BOM so Excel opens Chinese text correctly) — the
``users`` kind of the web service's ``POST /api/exports``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from dingsync.export import xlsx
from dingsync.store.schema import departments, synced_user, user_departments, users

FORMATS = ("xlsx", "csv")


def write_table(
    path: str | Path,
    fmt: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    sheet: str = "Sheet1",
) -> int:
    """Write ``columns`` then ``rows`` to ``path`` as ``fmt`` (``xlsx``/``csv``); returns the
    number of data rows. ``ValueError`` for another format."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    count = 0
    if fmt == "csv":
        with open(path, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            for row in rows:
                writer.writerow(["" if v is None else v for v in row])
                count += 1
        return count
    workbook = xlsx.Workbook(str(path), {"constant_memory": True})
    try:
        ws = workbook.add_worksheet(sheet[:31])
        bold = workbook.add_format({"bold": True})
        ws.write_row(0, 0, list(columns), bold)
        for row in rows:
            count += 1
            ws.write_row(count, 0, ["" if v is None else _cell(v) for v in row])
    finally:
        workbook.close()
    return count


def _cell(value: Any) -> Any:
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


#: The directory export's headers, in the console's words (通讯录, a person's page): UserID as
#: the other exports name it, names before ids.
USER_COLUMNS = (
    "UserID",
    "姓名",
    "职位",
    "工号",
    "部门",
    "部门ID",
    "担任主管的部门ID",
    "邮箱",
    "状态",
)
#: ``users.status`` in words: in the directory, left (离职), no longer seen by a full sync.
STATUS_LABELS = {"active": "在职", "left": "离职", "inactive": "不在通讯录"}


def export_users(
    conn: Connection,
    corp_id: str,
    path: str | Path,
    fmt: str,
    *,
    dept_ids: Sequence[int] | None = None,
    scope_dept_ids: Sequence[int] | None = None,
    include_inactive: bool = False,
) -> int:
    """The directory (one row per person, departments joined with ``;``) to ``path``, headers
    :data:`USER_COLUMNS` (the same in csv and xlsx; the xlsx sheet is 通讯录), status in words
    (:data:`STATUS_LABELS`). ``dept_ids``: only members of these departments (the filter;
    ``None`` = everyone); ``scope_dept_ids``: and only members of one of these (the exporter's
    scope; ``None`` = everyone) — two conditions on the person, each met by any of their
    departments, so a member of the filtered department who is in scope through another
    department is exported. Returns the rows."""
    names = {
        int(r.dept_id): r.name
        for r in conn.execute(
            select(departments.c.dept_id, departments.c.name).where(
                departments.c.corp_id == corp_id
            )
        )
    }
    ud = user_departments
    member_of: dict[str, list[tuple[int, bool]]] = {}
    for m in conn.execute(
        select(ud.c.userid, ud.c.dept_id, ud.c.is_leader)
        .where(ud.c.corp_id == corp_id)
        .order_by(ud.c.userid, ud.c.dept_id)
    ):
        member_of.setdefault(m.userid, []).append((int(m.dept_id), bool(m.is_leader)))
    wanted = None if dept_ids is None else set(dept_ids)
    in_scope = None if scope_dept_ids is None else set(scope_dept_ids)
    stmt = select(
        users.c.userid,
        users.c.name,
        users.c.title,
        users.c.job_number,
        users.c.org_email,
        users.c.email,
        users.c.status,
    ).where(users.c.corp_id == corp_id, synced_user())
    if not include_inactive:
        stmt = stmt.where(users.c.status == "active")

    def rows() -> Iterable[list[Any]]:
        for u in conn.execute(stmt.order_by(users.c.userid)):
            depts = member_of.get(u.userid, [])
            if wanted is not None and not any(d in wanted for d, _ in depts):
                continue
            if in_scope is not None and not any(d in in_scope for d, _ in depts):
                continue
            yield [
                u.userid,
                u.name,
                u.title,
                u.job_number,
                ";".join(str(names.get(d) or d) for d, _ in depts),
                ";".join(str(d) for d, _ in depts),
                ";".join(str(d) for d, lead in depts if lead),
                u.org_email or u.email,
                STATUS_LABELS.get(u.status, u.status),
            ]

    return write_table(path, fmt, USER_COLUMNS, rows(), sheet="通讯录")
