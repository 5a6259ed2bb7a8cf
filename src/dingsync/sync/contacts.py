"""Directory sync: departments, users with all their memberships, admins and scopes, leavers.

Plan (full sync):

1. Walk the department tree from the root (``dept_id`` 1): for each department, its detail
   (``/topapi/v2/department/get``) and its child ids (``/topapi/v2/department/listsubid``) are
   fetched together and committed with a checkpoint holding the child ids. A child is only
   discovered through its parent's committed unit, so parents are always stored before
   children, whatever order DingTalk lists them in.
2. As soon as a department is committed, its members are read with cursor paging
   (``/topapi/v2/user/list``), and the users plus that department's memberships (order, leader
   flag) are committed with the department's ``members`` checkpoint. A person in three
   departments is one ``users`` row and three ``user_departments`` rows.
3. Administrators (``/topapi/user/listadmin``) and each sub-administrator's scope
   (``/topapi/user/get_admin_scope``).
4. Leavers (``/v1.0/contact/empLeaveRecords`` and, when permitted, the 智能人事 dimission APIs):
   marked ``left``, never deleted.
5. Departments and users not seen by this run are marked ``removed`` / ``inactive``.

All DingTalk APIs run concurrently, each paced by the client's per-API limiter.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from dingsync.dingtalk import DingTalkClient, DingTalkError, PermissionDeniedError
from dingsync.store import repo
from dingsync.store.schema import from_ms
from dingsync.sync.engine import SyncContext

log = logging.getLogger(__name__)

ROOT_DEPT_ID = 1

DEPARTMENTS = "departments"
MEMBERS = "members"
ADMINS = "admins"
LEAVERS = "leavers"


def _raw(model: Any) -> dict[str, Any]:
    """The payload as DingTalk sent it (unknown fields included), JSON-safe."""
    if isinstance(model, dict):
        return model
    data: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return data


def department_row(corp_id: str, run_id: int, raw: dict[str, Any]) -> dict[str, Any]:
    """Map a ``/topapi/v2/department/get`` result to a ``departments`` row."""
    dept_id = int(raw["dept_id"])
    parent = raw.get("parent_id")
    return {
        "corp_id": corp_id,
        "dept_id": dept_id,
        "parent_id": int(parent)
        if parent not in (None, "", 0) and dept_id != ROOT_DEPT_ID
        else None,
        "name": raw.get("name"),
        "dept_order": raw.get("order"),
        "source_identifier": raw.get("source_identifier"),
        "create_dept_group": raw.get("create_dept_group"),
        "auto_add_user": raw.get("auto_add_user"),
        "hide_dept": raw.get("hide_dept"),
        "outer_dept": raw.get("outer_dept"),
        "org_dept_owner": raw.get("org_dept_owner"),
        "dept_manager_userid_list": list(raw.get("dept_manager_userid_list") or []),
        "status": "active",
        "last_seen_run_id": run_id,
        "synced_at": datetime.now(UTC),
        "raw": raw,
    }


#: Fields of ``/topapi/v2/user/list`` items (auth-contacts.md §6.1): when one is absent there, it
#: is unset in DingTalk and stored as NULL.
LIST_USER_FIELDS = (
    "unionid",
    "name",
    "avatar",
    "state_code",
    "mobile",
    "hide_mobile",
    "telephone",
    "job_number",
    "title",
    "email",
    "org_email",
    "work_place",
    "remark",
    "active",
    "admin",
    "boss",
    "exclusive_account",
    "extension",
)
#: Only ``/topapi/v2/user/get`` carries these; a list item leaves the stored values alone.
DETAIL_ONLY_USER_FIELDS = ("manager_userid", "senior", "real_authed")

# Per-department fields of a /topapi/v2/user/list item: they belong on the membership row.
_LIST_ONLY_FIELDS = ("dept_order", "leader")


def user_row(
    corp_id: str, run_id: int | None, raw: dict[str, Any], *, detail: bool = False
) -> dict[str, Any]:
    """Map a user payload to a ``users`` row.

    ``raw`` is a ``/topapi/v2/user/list`` item, or with ``detail=True`` a
    ``/topapi/v2/user/get`` result. ``hired_date`` arrives in epoch ms and is stored as an aware
    UTC datetime. Fields the payload's API never sends are left out of the row, so the store
    keeps what a richer call stored. The raw payload drops the per-department
    ``dept_order``/``leader`` of a list item (they live on the membership rows), so the same
    person gives the same row from any department.
    """
    row: dict[str, Any] = {"corp_id": corp_id, "userid": raw["userid"]}
    names = LIST_USER_FIELDS + DETAIL_ONLY_USER_FIELDS if detail else LIST_USER_FIELDS
    for name in names:
        row[name] = raw.get(name)
    if not detail:
        for name in DETAIL_ONLY_USER_FIELDS:
            if name in raw:
                row[name] = raw[name]
    row["hired_date"] = from_ms(raw.get("hired_date"))
    row["status"] = "active"
    if run_id is not None:
        row["last_seen_run_id"] = run_id
    row["synced_at"] = datetime.now(UTC)
    row["raw"] = {k: v for k, v in raw.items() if k not in _LIST_ONLY_FIELDS}
    return row


class ContactsSync:
    """The directory entity (``dingsync sync --only contacts``).

    ``leavers_since_days``: how far back departure records are read (DingTalk allows 365 days
    per query; longer spans are split by the client).
    """

    name = "contacts"

    def __init__(self, *, leavers_since_days: int = 365, include_leavers: bool = True) -> None:
        self.leavers_since_days = leavers_since_days
        self.include_leavers = include_leavers

    async def run(self, ctx: SyncContext) -> None:
        """Walk departments and members concurrently, then admins, leavers and the final marks."""
        ctx.progress.add_total(DEPARTMENTS, 1)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._visit(ctx, tg, ROOT_DEPT_ID))
            tg.create_task(self._admins(ctx))
        if self.include_leavers:
            await self._leavers(ctx)
        await self._finalize(ctx)

    # -- departments -------------------------------------------------------------------------
    async def _visit(self, ctx: SyncContext, tg: asyncio.TaskGroup, dept_id: int) -> None:
        client = ctx.client
        key = str(dept_id)
        done = ctx.load_done(DEPARTMENTS)
        if key in done:
            children = [int(c) for c in (done[key] or {}).get("children", [])]
        else:

            async def fetch() -> tuple[dict[str, Any], list[int]]:
                detail, child_ids = await asyncio.gather(
                    client.contacts.get_department(dept_id),
                    client.contacts.list_sub_department_ids(dept_id),
                )
                return _raw(detail), [int(c) for c in child_ids]

            def write(conn: Connection, data: tuple[dict[str, Any], list[int]]) -> None:
                row = department_row(ctx.corp_id, ctx.run_id, data[0])
                repo.upsert_departments(conn, ctx.corp_id, [row])
                if dept_id == ROOT_DEPT_ID and row["name"]:
                    repo.upsert_corp(conn, {"corp_id": ctx.corp_id, "name": row["name"]})

            def schedule(data: tuple[dict[str, Any], list[int]]) -> None:
                self._discovered(ctx, tg, dept_id, data[1])

            result = await ctx.unit(
                DEPARTMENTS, key, fetch, write, state=lambda d: {"children": d[1]}, then=schedule
            )
            assert result is not None
            ctx.counts["departments"] += 1
            return
        self._discovered(ctx, tg, dept_id, children)

    def _discovered(
        self, ctx: SyncContext, tg: asyncio.TaskGroup, dept_id: int, children: list[int]
    ) -> None:
        """A department is known (its commit is queued): start its members and children."""
        ctx.progress.advance(DEPARTMENTS)
        ctx.progress.add_total(DEPARTMENTS, len(children))
        ctx.progress.add_total(MEMBERS, 1)
        tg.create_task(self._members(ctx, dept_id))
        for child in children:
            tg.create_task(self._visit(ctx, tg, child))

    # -- members -----------------------------------------------------------------------------
    async def _members(self, ctx: SyncContext, dept_id: int) -> None:
        client = ctx.client

        async def fetch() -> list[dict[str, Any]]:
            return [_raw(u) async for u in client.contacts.iter_department_users(dept_id)]

        def write(conn: Connection, users: list[dict[str, Any]]) -> None:
            rows = [user_row(ctx.corp_id, ctx.run_id, u) for u in users]
            repo.upsert_users(conn, ctx.corp_id, rows)
            now = datetime.now(UTC)
            memberships = [
                {
                    "corp_id": ctx.corp_id,
                    "userid": u["userid"],
                    "dept_id": dept_id,
                    "dept_order": u.get("dept_order"),
                    "is_leader": bool(u.get("leader", False)),
                    "synced_at": now,
                }
                for u in users
            ]
            repo.replace_department_members(conn, ctx.corp_id, dept_id, memberships)

        users = await ctx.unit(MEMBERS, str(dept_id), fetch, write)
        if users is not None:
            ctx.counts["memberships"] += len(users)
        ctx.progress.advance(MEMBERS)

    # -- admins ------------------------------------------------------------------------------
    async def _admins(self, ctx: SyncContext) -> None:
        client = ctx.client

        async def fetch() -> tuple[list[dict[str, Any]], dict[str, list[int]]]:
            admins = [_raw(a) for a in await client.contacts.list_admins()]
            subs = [a["userid"] for a in admins if int(a.get("sys_level", 0)) == 2]
            scopes = await asyncio.gather(*(client.contacts.get_admin_scope(u) for u in subs))
            return admins, {u: [int(d) for d in s] for u, s in zip(subs, scopes, strict=True)}

        def write(
            conn: Connection, data: tuple[list[dict[str, Any]], dict[str, list[int]]]
        ) -> None:
            admins, scopes = data
            now = datetime.now(UTC)
            rows = [
                {
                    "corp_id": ctx.corp_id,
                    "userid": a["userid"],
                    "sys_level": int(a.get("sys_level", 0)),
                    "synced_at": now,
                    "raw": a,
                }
                for a in admins
            ]
            repo.replace_admins(conn, ctx.corp_id, rows, scopes)

        data = await ctx.unit(ADMINS, "all", fetch, write)
        if data is not None:
            ctx.counts["admins"] = len(data[0])

    # -- leavers -----------------------------------------------------------------------------
    async def _leavers(self, ctx: SyncContext) -> None:
        client = ctx.client
        since = datetime.now(UTC) - timedelta(days=self.leavers_since_days)

        async def fetch() -> list[dict[str, Any]]:
            by_user: dict[str, dict[str, Any]] = {}
            try:
                async for rec in client.contacts.iter_leave_records(since):
                    r = _raw(rec)
                    uid = r.get("userId") or r.get("userid")
                    if uid:
                        by_user.setdefault(uid, {})["record"] = r
            except PermissionDeniedError as exc:
                log.warning("departure records not permitted: %s", exc)
            try:
                ids = [u async for u in client.contacts.iter_dimission_userids()]
                if ids:
                    for info in await client.contacts.list_dimission_infos(ids):
                        i = _raw(info)
                        by_user.setdefault(i["userid"], {})["info"] = i
            except (PermissionDeniedError, DingTalkError) as exc:
                # The 智能人事 dimission APIs are archived and not granted to every app.
                log.warning("dimission details unavailable: %s", exc)
            return [leaver_row(ctx.corp_id, uid, parts) for uid, parts in by_user.items()]

        def write(conn: Connection, rows: list[dict[str, Any]]) -> None:
            repo.upsert_leavers(conn, ctx.corp_id, rows, seen_in_run=ctx.run_id)

        rows = await ctx.unit(LEAVERS, "all", fetch, write)
        if rows is not None:
            ctx.counts["leavers"] = len(rows)

    async def _finalize(self, ctx: SyncContext) -> None:
        marks = await ctx.write(lambda conn: repo.mark_unseen(conn, ctx.corp_id, ctx.run_id))
        for k, v in (marks or {}).items():
            ctx.counts[f"marked_{k}"] = int(v)


def _parse_iso(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def leaver_row(corp_id: str, userid: str, parts: dict[str, Any]) -> dict[str, Any]:
    """Merge a departure record (``empLeaveRecords``) and dimission info into a ``leavers`` row."""
    rec = parts.get("record") or {}
    info = parts.get("info") or {}
    last_work_day = info.get("last_work_day")
    return {
        "corp_id": corp_id,
        "userid": userid,
        "name": rec.get("name"),
        "state_code": rec.get("stateCode"),
        "mobile": rec.get("mobile"),
        "leave_time": _parse_iso(rec.get("leaveTime")) or from_ms(last_work_day),
        "leave_reason": rec.get("leaveReason"),
        "last_work_day": from_ms(last_work_day),
        "main_dept_id": info.get("main_dept_id"),
        "main_dept_name": info.get("main_dept_name"),
        "dept_list": info.get("dept_list"),
        "status": info.get("status"),
        "pre_status": info.get("pre_status"),
        "handover_userid": info.get("handover_userid"),
        "reason_type": info.get("reason_type"),
        "reason_memo": info.get("reason_memo"),
        "synced_at": datetime.now(UTC),
        "raw": {"record": rec, "info": info},
    }


async def sync_contacts(client: DingTalkClient, engine: Any, corp_id: str, **kwargs: Any) -> Any:
    """Convenience: a full directory sync run (see :func:`dingsync.sync.engine.run_sync`)."""
    from dingsync.sync.engine import run_sync

    return await run_sync(client, engine, corp_id, [ContactsSync()], **kwargs)
