"""Directory sync: departments, users with all their memberships, admins and scopes, leavers.

Plan (full sync):

1. Walk the department tree from the root (``dept_id`` 1): for each department, its detail
   (``/topapi/v2/department/get``) and its child ids (``/topapi/v2/department/listsubid``) are
   fetched together and committed with a checkpoint holding the child ids. A child is only
   discovered through its parent's committed unit, so parents are always stored before
   children, whatever order DingTalk lists them in. One department never sinks the directory:
   a department answering ``60003`` (gone, or DingTalk's special ``-1`` of 家校通讯录) or
   ``50004`` (outside the app's contacts scope) is skipped with a warning, its checkpoint says
   so (a resume does not ask again) and the run counts it (``departments_skipped``).
   When the root itself answers ``50004`` the app's contacts scope is limited: the walk starts
   from the departments the app is authorised for (``GET /auth/scopes``,
   ``auth_org_scopes.authed_dept``), and the people authorised one by one
   (``authed_user``) are read with ``/topapi/v2/user/get`` (``scoped_users``; a person the
   app may not read after all, ``50002``/``60121``, is skipped and counted as
   ``scoped_users_skipped``) — as DingTalk's docs describe for a limited scope.
2. As soon as a department is committed, its members are read with cursor paging
   (``/topapi/v2/user/list``), and the users plus that department's memberships (order, leader
   flag) are committed with the department's ``members`` checkpoint. A person in three
   departments is one ``users`` row and three ``user_departments`` rows. A member list
   answering ``60003``/``50004`` is skipped like a department (``members_skipped``). Two
   userids arriving with one unionid are never stored as two people: the newer row keeps it,
   the older is marked (``repo.release_unionids``; counted as ``unionid_conflicts``).
3. Administrators (``/topapi/user/listadmin``) and each sub-administrator's scope
   (``/topapi/user/get_admin_scope``).
4. Roles (角色), concurrently with steps 1–3: the role groups and their roles
   (``/topapi/role/list``, 200 per page) in one unit whose checkpoint holds the role ids, then
   each role's members with their manage scopes (``/topapi/role/simplelist``, 100 per page) in
   a unit per role, then a final unit that marks roles DingTalk no longer lists ``removed``
   (their members deleted). A role whose member list answers 33011 (deleted since the list) is
   marked ``removed`` too. When the app may not read roles (``qyapi_get_department_list`` /
   ``qyapi_get_department_member`` missing: 60011, 43007 …) a warning is logged, the stored
   roles are left as they are and the sync goes on.
5. Leavers (``/v1.0/contact/empLeaveRecords`` and, when permitted, the 智能人事 dimission APIs):
   read while steps 1–4 run (unless the attempt has a unit budget), written after them:
   marked ``left``, never deleted.
6. Departments and users not seen by this run are marked ``removed`` / ``inactive``.

All DingTalk APIs run concurrently, each paced by the client's per-API limiter.

Incremental runs (``dingsync sync --incremental``): DingTalk has no "changed since" API for the
directory, so between walks the directory follows DingTalk through events (HTTP callbacks or
Stream mode, :mod:`dingsync.sync.events`). An incremental run

- walks the whole tree (a *full compare*, steps 1–6) when the last complete walk is older than
  ``full_compare_hours`` (``DINGSYNC_CONTACTS_FULL_COMPARE_HOURS``; default 0 = every run, so an
  incremental run always catches what events missed), or when this corp has never received an
  event (no events configured: the walk is then the only way to follow DingTalk);
- otherwise re-reads only what is cheap and time-windowed: the administrators and their
  scopes, the roles (DingTalk's role events are not handled, so every run reads them), and
  departure records from the leaver watermark minus :data:`LEAVERS_OVERLAP`
  (late-indexed records); dimission details are fetched only for people not yet stored as
  departed. A departure record older than the last time the directory or an event showed the
  person active does not mark them left (they rejoined).

The watermark (``sync_watermarks`` entity ``contacts``) is ``{"full_at_ms", "leavers_to_ms"}``:
when the last complete walk started and up to when departure records were read (epoch ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from dingsync.dingtalk import DingTalkClient, DingTalkError, NotFoundError, PermissionDeniedError
from dingsync.dingtalk.models.events import plausible_ms
from dingsync.store import repo, repo_events, repo_roles
from dingsync.store.schema import from_ms
from dingsync.sync.engine import SyncContext
from dingsync.timeutil import from_ms as ms_to_utc

log = logging.getLogger(__name__)

ROOT_DEPT_ID = 1

DEPARTMENTS = "departments"
MEMBERS = "members"
ADMINS = "admins"
LEAVERS = "leavers"
ROLES = "roles"
ROLE_MEMBERS = "role_members"
SCOPED_USERS = "scoped_users"
WATERMARK = "contacts.watermark"

#: Errcodes of a department (or its member list) that is skipped instead of failing the run:
#: 60003 gone (also DingTalk's special id -1 of 家校通讯录), 50004 outside the contacts scope.
SKIPPED_DEPARTMENT_CODES = frozenset({"60003", "50004"})
#: Errcodes of a person authorised one by one who cannot be read after all (skipped).
SKIPPED_USER_CODES = frozenset({"50002", "60121", "33012"})

#: Watermark entity in ``sync_watermarks``.
ENTITY = "contacts"
#: An incremental run re-reads departure records from this long before the leaver watermark.
LEAVERS_OVERLAP = timedelta(days=1)
#: Dimission ``status`` values after which the details no longer change (2 left, 5 void).
FINAL_DIMISSION_STATUSES = (2, 5)


def _raw(model: Any) -> dict[str, Any]:
    """The payload as DingTalk sent it (unknown fields included), JSON-safe."""
    if isinstance(model, dict):
        return model
    data: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return data


def department_row(
    corp_id: str, run_id: int, raw: dict[str, Any], *, now: datetime | None = None
) -> dict[str, Any]:
    """Map a ``/topapi/v2/department/get`` result to a ``departments`` row; ``synced_at`` is
    ``now`` (aware, UTC; the clock's when not given)."""
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
        "synced_at": now or datetime.now(UTC),
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
    corp_id: str,
    run_id: int | None,
    raw: dict[str, Any],
    *,
    detail: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Map a user payload to a ``users`` row.

    ``raw`` is a ``/topapi/v2/user/list`` item, or with ``detail=True`` a
    ``/topapi/v2/user/get`` result. ``hired_date`` arrives in epoch ms and is stored as an aware
    UTC datetime. Fields the payload's API never sends are left out of the row, so the store
    keeps what a richer call stored. The raw payload drops the per-department
    ``dept_order``/``leader`` of a list item (they live on the membership rows), so the same
    person gives the same row from any department. ``synced_at`` is ``now`` (aware, UTC; the
    clock's when not given: the rows of one write share one, converted once for the driver).
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
    row["synced_at"] = now or datetime.now(UTC)
    row["raw"] = {k: v for k, v in raw.items() if k not in _LIST_ONLY_FIELDS}
    return row


def _store_users(
    conn: Connection, corp_id: str, rows: list[dict[str, Any]], conflicts: list[dict[str, str]]
) -> None:
    """Upsert ``users`` rows, first making way for their unionids (the newer row wins, see
    ``repo.release_unionids``); ``conflicts`` is set to the conflicts found (the write runs in
    a worker thread and may be retried: the caller counts them once it returns)."""
    repo.upsert_users(conn, corp_id, rows, conflicts=conflicts)


def role_rows(corp_id: str, run_id: int, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Map ``/topapi/role/list`` items (``{groupId, name, roles: [{id, name}]}``, camelCase as
    sent) to ``roles`` rows; ``raw`` keeps the role item and its group's own fields."""
    now = datetime.now(UTC)
    rows = []
    for group in groups:
        head = {k: v for k, v in group.items() if k != "roles"}
        for role in group.get("roles") or []:
            rows.append(
                {
                    "corp_id": corp_id,
                    "role_id": int(role["id"]),
                    "name": role.get("name"),
                    "group_id": group.get("groupId"),
                    "group_name": group.get("name"),
                    "status": "active",
                    "last_seen_run_id": run_id,
                    "synced_at": now,
                    "raw": {"role": role, "group": head},
                }
            )
    return rows


def role_member_row(corp_id: str, role_id: int, raw: dict[str, Any]) -> dict[str, Any]:
    """Map a ``/topapi/role/simplelist`` item (``{userid, name, manageScopes: [{dept_id,
    name}]}``) to a ``role_members`` row; ``manage_scopes`` is ``[]`` (the whole company) when
    DingTalk sends none."""
    scopes = raw.get("manageScopes") or []
    if isinstance(scopes, dict):
        scopes = [scopes]
    return {
        "corp_id": corp_id,
        "role_id": role_id,
        "userid": raw["userid"],
        "name": raw.get("name"),
        "manage_scopes": [
            {
                "dept_id": int(s["dept_id"]) if s.get("dept_id") not in (None, "") else None,
                "name": s.get("name"),
            }
            for s in scopes
            if isinstance(s, dict)
        ],
        "synced_at": datetime.now(UTC),
        "raw": raw,
    }


class ContactsSync:
    """The directory entity (``dingsync sync --only contacts``).

    ``leavers_since_days``: how far back departure records are read (DingTalk allows 365 days
    per query; longer spans are split by the client). ``include_roles``: read the roles (角色)
    and their members too.
    """

    name = "contacts"

    def __init__(
        self,
        *,
        leavers_since_days: int = 365,
        include_leavers: bool = True,
        full_compare_hours: float = 0.0,
        include_roles: bool = True,
    ) -> None:
        self.leavers_since_days = leavers_since_days
        self.include_leavers = include_leavers
        self.full_compare_hours = full_compare_hours
        self.include_roles = include_roles

    @classmethod
    def from_settings(cls, settings: Any) -> ContactsSync:
        """Built from :class:`dingsync.config.Settings` (``contacts_full_compare_hours``)."""
        return cls(full_compare_hours=float(settings.contacts_full_compare_hours))

    async def run(self, ctx: SyncContext) -> None:
        """Full: walk departments and members concurrently with admins and roles, then leavers
        and the final marks. Incremental: the same when a full compare is due, else admins,
        roles and new leavers."""
        plan = await self._plan(ctx, ctx.clock())
        ctx.counts["contacts_full_compare"] = int(plan["walk"])
        since_ms = plan.get("leavers_since_ms")
        since = (
            ms_to_utc(since_ms)
            if since_ms is not None
            else ms_to_utc(plan["started_ms"]) - timedelta(days=self.leavers_since_days)
        )
        early: asyncio.Task[list[dict[str, Any]]] | None = None
        if self.include_leavers and ctx.unit_budget is None and not ctx.is_done(LEAVERS, "all"):
            # The departure records are read while the tree is walked (a few paged calls one
            # after another: otherwise a tail after the walk); they are written after it.
            early = ctx.start_fetch(
                LEAVERS,
                "all",
                lambda: self._leaver_rows(ctx, since, incremental=since_ms is not None),
            )
        try:
            async with asyncio.TaskGroup() as tg:
                if plan["walk"]:
                    ctx.progress.add_total(DEPARTMENTS, 1)
                    tg.create_task(self._visit(ctx, tg, ROOT_DEPT_ID))
                tg.create_task(self._admins(ctx))
                if self.include_roles:
                    tg.create_task(self._roles(ctx))
        except BaseException:
            if early is not None:
                early.cancel()
                with contextlib.suppress(BaseException):
                    await early
            raise
        if self.include_leavers:
            await self._leavers(
                ctx,
                since,
                walked=bool(plan["walk"]),
                incremental=since_ms is not None,
                early=early,
            )
        if plan["walk"]:
            await self._finalize(ctx)
        await self._set_watermark(ctx, plan)

    async def _plan(self, ctx: SyncContext, started_ms: int) -> dict[str, Any]:
        """Decide (once per run; a resumed run keeps the decision) whether to walk the tree and
        from when to read departure records. Stored as the run's ``contacts.watermark/plan``."""
        stored = ctx.load_done(WATERMARK).get("plan")
        if stored:
            return dict(stored)

        def read(conn: Connection) -> tuple[Any, dict[str, Any], bool]:
            mark = repo.get_watermark(conn, ctx.corp_id, ENTITY)
            run = repo.get_sync_run(conn, ctx.run_id) or {}
            return mark, run, repo_events.has_events(conn, ctx.corp_id)

        mark, run, has_events = await ctx.write(read)
        mark = mark if isinstance(mark, dict) else {}
        incremental = run.get("kind") == "incremental"
        full_at = mark.get("full_at_ms")
        due = (
            not full_at
            or self.full_compare_hours <= 0
            or started_ms - int(full_at) >= self.full_compare_hours * 3_600_000
        )
        walk = not incremental or due or not has_events
        leavers_to = mark.get("leavers_to_ms")
        plan: dict[str, Any] = {
            "walk": walk,
            "started_ms": started_ms,
            "leavers_since_ms": (
                int(leavers_to) - int(LEAVERS_OVERLAP.total_seconds() * 1000)
                if incremental and leavers_to
                else None
            ),
        }
        await ctx.commit_unit(WATERMARK, "plan", lambda conn: None, plan)
        return plan

    async def _set_watermark(self, ctx: SyncContext, plan: dict[str, Any]) -> None:
        if ctx.is_done(WATERMARK, "set"):
            return

        def write(conn: Connection) -> None:
            last = repo.get_watermark(conn, ctx.corp_id, ENTITY)
            mark = dict(last) if isinstance(last, dict) else {}
            if plan["walk"]:
                mark["full_at_ms"] = plan["started_ms"]
            if self.include_leavers:
                mark["leavers_to_ms"] = plan["started_ms"]
            repo.set_watermark(conn, ctx.corp_id, ENTITY, mark)

        await ctx.commit_unit(WATERMARK, "set", write)

    # -- departments -------------------------------------------------------------------------
    async def _visit(self, ctx: SyncContext, tg: asyncio.TaskGroup, dept_id: int) -> None:
        """One department's unit: detail and child ids, or — for a department answering
        60003/50004 — a ``skipped`` checkpoint (the root's holds the authorised scope)."""
        client = ctx.client
        key = str(dept_id)
        done = ctx.load_done(DEPARTMENTS)
        if key in done:
            self._discovered(ctx, tg, dept_id, dict(done[key] or {}))
            return

        async def fetch() -> dict[str, Any]:
            detail, child_ids = await asyncio.gather(
                client.contacts.get_department(dept_id),
                client.contacts.list_sub_department_ids(dept_id),
                return_exceptions=True,
            )
            for answer in (detail, child_ids):
                if isinstance(answer, BaseException):
                    return await self._skipped_department(ctx, dept_id, answer)
            assert not isinstance(detail, BaseException)
            assert not isinstance(child_ids, BaseException)
            return {"detail": _raw(detail), "children": [int(c) for c in child_ids]}

        def write(conn: Connection, data: dict[str, Any]) -> None:
            if "detail" not in data:
                return
            row = department_row(ctx.corp_id, ctx.run_id, data["detail"], now=ctx.write_time())
            ctx.staging(repo.DirectoryBatch, ctx.corp_id).add_department(row)
            if dept_id == ROOT_DEPT_ID and row["name"]:
                repo.upsert_corp(conn, {"corp_id": ctx.corp_id, "name": row["name"]})

        def state(data: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in data.items() if k != "detail"}

        result = await ctx.unit(
            DEPARTMENTS,
            key,
            fetch,
            write,
            state=state,
            then=lambda data: self._discovered(ctx, tg, dept_id, state(data)),
            staged=True,
        )
        assert result is not None
        if "detail" in result:
            ctx.counts["departments"] += 1
        else:
            ctx.counts["departments_skipped"] += 1

    async def _skipped_department(
        self, ctx: SyncContext, dept_id: int, error: BaseException
    ) -> dict[str, Any]:
        """The checkpoint state of a department DingTalk will not give (60003 gone, 50004
        outside the contacts scope); any other error is raised. A root outside the scope means
        a limited scope: its state carries ``/auth/scopes`` (departments as ``children``,
        people as ``scoped_users``)."""
        if not isinstance(error, DingTalkError) or error.reason not in SKIPPED_DEPARTMENT_CODES:
            raise error
        skipped: dict[str, Any] = {"skipped": error.reason}
        if dept_id == ROOT_DEPT_ID and error.reason == "50004":
            scopes = (await ctx.client.contacts.get_auth_scopes()).auth_org_scopes
            log.warning(
                "contacts scope is limited (the root answers 50004): syncing the %d authorised "
                "department(s) and %d person(s) of /auth/scopes",
                len(scopes.authed_dept),
                len(scopes.authed_user),
            )
            skipped["children"] = [int(d) for d in scopes.authed_dept if d != ROOT_DEPT_ID]
            skipped["scoped_users"] = list(dict.fromkeys(scopes.authed_user))
        else:
            log.warning("department %s skipped: %s", dept_id, error)
        return skipped

    def _discovered(
        self, ctx: SyncContext, tg: asyncio.TaskGroup, dept_id: int, state: dict[str, Any]
    ) -> None:
        """A department is known (its commit is queued): start its members and children — or,
        for a skipped department, only what its state names (the scope of a limited root)."""
        children = [int(c) for c in state.get("children", [])]
        ctx.progress.advance(DEPARTMENTS)
        ctx.progress.add_total(DEPARTMENTS, len(children))
        if not state.get("skipped"):
            ctx.progress.add_total(MEMBERS, 1)
            tg.create_task(self._members(ctx, dept_id))
        if state.get("scoped_users"):
            tg.create_task(self._scoped_users(ctx, list(state["scoped_users"])))
        for child in children:
            tg.create_task(self._visit(ctx, tg, child))

    async def _scoped_users(self, ctx: SyncContext, userids: list[str]) -> None:
        """People a limited contacts scope authorises one by one (``authed_user``), each read
        with ``/topapi/v2/user/get``; one unit. Those DingTalk will not give are skipped."""
        client = ctx.client

        async def one(userid: str) -> dict[str, Any] | None:
            try:
                return _raw(await client.contacts.get_user(userid))
            except DingTalkError as exc:
                if exc.reason not in SKIPPED_USER_CODES:
                    raise
                log.warning("authorised person %s skipped: %s", userid, exc)
                return None

        async def fetch() -> list[dict[str, Any] | None]:
            return list(await asyncio.gather(*(one(u) for u in userids)))

        def write(conn: Connection, found: list[dict[str, Any] | None]) -> None:
            rows = [user_row(ctx.corp_id, ctx.run_id, u, detail=True) for u in found if u]
            _store_users(conn, ctx.corp_id, rows, conflicts)

        conflicts: list[dict[str, str]] = []
        found = await ctx.unit(SCOPED_USERS, "all", fetch, write)
        ctx.counts["unionid_conflicts"] += len(conflicts)
        if found is not None:
            ctx.counts["scoped_users"] += sum(1 for u in found if u)
            ctx.counts["scoped_users_skipped"] += sum(1 for u in found if not u)

    # -- members -----------------------------------------------------------------------------
    async def _members(self, ctx: SyncContext, dept_id: int) -> None:
        client = ctx.client

        async def fetch() -> dict[str, Any]:
            try:
                # Page by page (Pager.to_list): no async generator step per person.
                found = await client.contacts.iter_department_users(dept_id).to_list()
                return {"users": [_raw(u) for u in found]}
            except DingTalkError as exc:
                if exc.reason not in SKIPPED_DEPARTMENT_CODES:
                    raise
                log.warning("members of department %s skipped: %s", dept_id, exc)
                return {"skipped": exc.reason}

        def write(conn: Connection, data: dict[str, Any]) -> None:
            if "users" not in data:
                return
            users = data["users"]
            now = ctx.write_time()
            rows = [user_row(ctx.corp_id, ctx.run_id, u, now=now) for u in users]
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
            # Written with the other units of the write batch (repo.DirectoryBatch): the
            # conflicts list is emptied first, as the batch may be retried unit by unit.
            conflicts.clear()
            batch = ctx.staging(repo.DirectoryBatch, ctx.corp_id)
            batch.add_members(dept_id, rows, memberships, conflicts)

        def state(data: dict[str, Any]) -> dict[str, Any] | None:
            return {"skipped": data["skipped"]} if "skipped" in data else None

        conflicts: list[dict[str, str]] = []
        data = await ctx.unit(MEMBERS, str(dept_id), fetch, write, state=state, staged=True)
        ctx.counts["unionid_conflicts"] += len(conflicts)
        if data is not None and "users" in data:
            ctx.counts["memberships"] += len(data["users"])
        elif data is not None:
            ctx.counts["members_skipped"] += 1
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

    # -- roles -------------------------------------------------------------------------------
    async def _roles(self, ctx: SyncContext) -> None:
        """Role groups and roles, then each role's members, then the removed roles (see the
        module docstring, step 4). Permission errors are logged, not raised."""
        client = ctx.client

        async def fetch() -> list[dict[str, Any]] | None:
            try:
                return [_raw(g) async for g in client.contacts.iter_roles()]
            except PermissionDeniedError as exc:
                log.warning("roles not read: the app may not list roles (%s)", exc)
                return None

        def write(conn: Connection, groups: list[dict[str, Any]] | None) -> None:
            if groups is not None:
                repo_roles.upsert_roles(
                    conn, ctx.corp_id, role_rows(ctx.corp_id, ctx.run_id, groups)
                )

        def state(groups: list[dict[str, Any]] | None) -> dict[str, Any]:
            if groups is None:
                return {"denied": True}
            ids = [int(r["id"]) for g in groups for r in g.get("roles") or []]
            return {"role_ids": list(dict.fromkeys(ids))}

        await ctx.unit(ROLES, "list", fetch, write, state=state)
        listed = ctx.load_done(ROLES).get("list") or {}
        if listed.get("denied"):
            return
        role_ids = [int(r) for r in listed.get("role_ids", [])]
        ctx.progress.add_total(ROLE_MEMBERS, len(role_ids))
        denied: list[PermissionDeniedError] = []
        await ctx.gather(self._role_members(ctx, r, denied) for r in role_ids)
        if denied:
            log.warning("role members not read: the app may not list them (%s)", denied[0])
        gone = {
            int(k)
            for k, v in ctx.load_done(ROLE_MEMBERS).items()
            if isinstance(v, dict) and v.get("gone")
        }
        present = [r for r in role_ids if r not in gone]

        def finalize(conn: Connection) -> None:
            repo_roles.retire_roles(conn, ctx.corp_id, present)

        if not ctx.is_done(ROLES, "finalize"):
            await ctx.commit_unit(ROLES, "finalize", finalize)
        ctx.counts["roles"] = len(present)

    async def _role_members(
        self, ctx: SyncContext, role_id: int, denied: list[PermissionDeniedError]
    ) -> None:
        """One role's members (a unit keyed by the role id). A role deleted since the list
        (33011) is recorded as ``gone``; a permission error leaves the stored members alone."""
        client = ctx.client

        async def fetch() -> dict[str, Any]:
            if denied:
                return {"denied": True}
            try:
                members = [_raw(m) async for m in client.contacts.iter_role_members(role_id)]
            except NotFoundError:
                return {"gone": True}
            except PermissionDeniedError as exc:
                denied.append(exc)
                return {"denied": True}
            return {"members": members}

        def write(conn: Connection, data: dict[str, Any]) -> None:
            if data.get("gone"):
                repo_roles.retire_role_ids(conn, ctx.corp_id, [role_id])
            elif "members" in data:
                rows = [role_member_row(ctx.corp_id, role_id, m) for m in data["members"]]
                repo_roles.replace_role_members(conn, ctx.corp_id, role_id, rows)

        def state(data: dict[str, Any]) -> dict[str, Any]:
            return {k: True for k in ("gone", "denied") if data.get(k)}

        data = await ctx.unit(ROLE_MEMBERS, str(role_id), fetch, write, state=state)
        if data is not None and "members" in data:
            ctx.counts["role_members"] += len(data["members"])
        ctx.progress.advance(ROLE_MEMBERS)

    # -- leavers -----------------------------------------------------------------------------
    async def _leaver_rows(
        self, ctx: SyncContext, since: datetime, *, incremental: bool
    ) -> list[dict[str, Any]]:
        """The ``leavers`` rows of the departure records since ``since`` and their dimission
        details (the fetch of the ``leavers`` unit, see :meth:`_leavers`)."""
        client = ctx.client

        def stored_leavers(conn: Connection) -> dict[str, dict[str, Any]]:
            return repo.load_leaver_parts(conn, ctx.corp_id)

        # Incremental runs keep what they did not re-read; every run keeps the time of the
        # user_leave_org event that stored a departure (the fallback for its leave_time).
        stored = await ctx.write(stored_leavers)
        known = stored if incremental else {}

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
            if incremental:
                ids = [
                    u
                    for u in ids
                    if u in by_user
                    or (known.get(u, {}).get("info") or {}).get("status")
                    not in FINAL_DIMISSION_STATUSES
                ]
            if ids:
                for info in await client.contacts.list_dimission_infos(ids):
                    i = _raw(info)
                    by_user.setdefault(i["userid"], {})["info"] = i
        except (PermissionDeniedError, DingTalkError) as exc:
            # The 智能人事 dimission APIs are archived and not granted to every app.
            log.warning("dimission details unavailable: %s", exc)
        rows = []
        for uid, parts in by_user.items():
            old = known.get(uid) or {}
            merged = {
                "record": parts.get("record") or old.get("record") or {},
                "info": parts.get("info") or old.get("info") or {},
                "event_time_ms": (stored.get(uid) or {}).get("event_time_ms"),
            }
            rows.append(leaver_row(ctx.corp_id, uid, merged))
        return rows

    async def _leavers(
        self,
        ctx: SyncContext,
        since: datetime,
        *,
        walked: bool,
        incremental: bool,
        early: asyncio.Task[list[dict[str, Any]]] | None = None,
    ) -> None:
        """Departure records since ``since`` merged with dimission details. Incremental: only
        details of people not stored with a final dimission status are fetched, and what was
        not re-read is kept from the stored row. ``walked``: this run listed the directory.
        ``early``: the rows, fetched while the tree was walked (:meth:`_leaver_rows`)."""

        async def fetch() -> list[dict[str, Any]]:
            if early is not None:
                return await early
            return await self._leaver_rows(ctx, since, incremental=incremental)

        def write(conn: Connection, rows: list[dict[str, Any]]) -> None:
            if walked:  # listed by this very run: employed (again)
                repo.upsert_leavers(conn, ctx.corp_id, rows, seen_in_run=ctx.run_id)
            else:  # no walk: a person seen active after their departure rejoined
                repo.upsert_leavers(conn, ctx.corp_id, rows, unless_active_since_leave=True)

        rows = await ctx.unit(LEAVERS, "all", fetch, write)
        if rows is not None:
            ctx.counts["leavers"] = len(rows)

    async def _finalize(self, ctx: SyncContext) -> None:
        marks = await ctx.write(lambda conn: repo.mark_unseen(conn, ctx.corp_id, ctx.run_id))
        for k, v in (marks or {}).items():
            ctx.counts[f"marked_{k}"] = int(v)


DAY_MS = 86_400_000


def _parse_iso(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def leaver_row(corp_id: str, userid: str, parts: dict[str, Any]) -> dict[str, Any]:
    """Merge a departure record (``empLeaveRecords``, ``parts["record"]``), dimission info
    (``listdimission``, ``parts["info"]``) and the epoch-ms time of the ``user_leave_org``
    event that announced the departure (``parts["event_time_ms"]``, optional) into a
    ``leavers`` row.

    ``leave_time``: the record's ``leaveTime``; without a record the event's time; else the
    last work day (midnight Asia/Shanghai). The event's time is ignored when it is more than a
    day before the last work day (an earlier departure of someone who came back).
    ``leave_reason``: the record's ``leaveReason`` (``None`` while no record was read). The
    event time is kept in ``raw`` so a later sync without the record dates it the same way.
    """
    rec = parts.get("record") or {}
    info = parts.get("info") or {}
    last_work_day = info.get("last_work_day")
    event_ms = plausible_ms(parts.get("event_time_ms"))
    last_ms = plausible_ms(last_work_day)
    if event_ms is not None and last_ms is not None and event_ms < last_ms - DAY_MS:
        event_ms = None
    raw: dict[str, Any] = {"record": rec, "info": info}
    if event_ms is not None:
        raw["event_time_ms"] = event_ms
    return {
        "corp_id": corp_id,
        "userid": userid,
        "name": rec.get("name"),
        "state_code": rec.get("stateCode"),
        "mobile": rec.get("mobile"),
        "leave_time": _parse_iso(rec.get("leaveTime")) or from_ms(event_ms) or from_ms(last_ms),
        "leave_reason": rec.get("leaveReason"),
        "last_work_day": from_ms(last_ms),
        "main_dept_id": info.get("main_dept_id"),
        "main_dept_name": info.get("main_dept_name"),
        "dept_list": info.get("dept_list"),
        "status": info.get("status"),
        "pre_status": info.get("pre_status"),
        "handover_userid": info.get("handover_userid"),
        "reason_type": info.get("reason_type"),
        "reason_memo": info.get("reason_memo"),
        "synced_at": datetime.now(UTC),
        "raw": raw,
    }


async def sync_contacts(client: DingTalkClient, engine: Any, corp_id: str, **kwargs: Any) -> Any:
    """Convenience: a full directory sync run (see :func:`dingsync.sync.engine.run_sync`)."""
    from dingsync.sync.engine import run_sync

    return await run_sync(client, engine, corp_id, [ContactsSync()], **kwargs)
