"""DingTalk login (免登, DESIGN.md §8) and the profile it returns.

``POST /api/auth/dingtalk {authCode, url?}``:

1. the same authCode seen within ``replay_window_s`` (60 s) → the same session (double tap);
   DingTalk is asked first (step 2): a code it refuses as already used, or any failure, is
   answered from the replay record when there is one (:func:`_login` says why);
2. ``/topapi/v2/user/getuserinfo`` (code → userid, ``sys_level``) with the cached access
   token; its ``sys_level`` updates the stored administrator level (:func:`admin_level_change`);
3. a locally disabled account is refused before anything else is fetched;
4. the user's detail from the store when synced within ``user_fresh_s``, else
   ``/topapi/v2/user/get``, upserted with its memberships in one transaction (departments the
   store does not know yet are fetched once: ``listparentbyuser`` + ``department/get``);
5. a session (random token, stored hashed), the replay record, and the JSAPI config for ``url``
   (ticket cached).

So a login makes one upstream call for a user synced recently and two otherwise, and one
worker-thread hop to the store for a user synced recently (two otherwise).

The console's browser login (:func:`oauth_login`: DingTalk's web login page → user token →
``users/me`` → ``getbyunionid``) ends in the same steps 3–5 (:func:`open_session_for`), without
the replay record: its code is DingTalk's single-use OAuth code.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection

import dingsync.metrics as metrics
from dingsync.dingtalk import (
    AuthCodeError,
    CredentialsError,
    DingTalkError,
    NotFoundError,
    TokenError,
)
from dingsync.dingtalk._limiter import login_priority
from dingsync.store import repo, repo_contacts, repo_local_access, repo_login, repo_sessions
from dingsync.store.schema import to_ms
from dingsync.sync.contacts import department_row, user_row
from dingsync.web import rules, sessions
from dingsync.web.context import DepartmentTree, WebContext
from dingsync.web.errors import WebError
from dingsync.web.rules import Viewer

#: Expired replay records and sessions are purged once every this many logins.
PURGE_EVERY = 256


async def login(ctx: WebContext, code: str | None, url: str | None) -> dict[str, Any]:
    """Exchange ``code`` for a session and the profile (see the module docstring).

    ``ctx`` is the context of the company the login is for (``WebContext.for_corp`` of the
    body's ``corpId``).

    Raises :class:`WebError`: ``auth.code_missing``, ``corp.inactive`` (the company was
    relieved or stopped), ``auth.token_failed``, ``auth.code_invalid``,
    ``auth.user_not_found``, ``auth.user_disabled``, ``auth.dingtalk_unavailable``,
    ``jsapi.url_invalid``, ``jsapi.unavailable``.
    """
    code = (code or "").strip()
    if not code:
        raise WebError("auth.code_missing")
    if url is not None:
        check_url(url)
    key = sessions.code_hash(ctx.corp_id, code)
    pending = ctx.inflight.get(key)
    if pending is not None:  # a double tap while the first request is still running
        return await _answer(ctx, await asyncio.shield(pending), url)
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    ctx.inflight[key] = future
    try:
        # A login's DingTalk calls use the share of each limit kept for logins (with a limiter
        # shared through Redis, a large sync never makes an employee wait here).
        with metrics.login_timer(), login_priority():
            result = await _login(ctx, code, key)
        future.set_result(result)
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # retrieved: no "never retrieved" warning when nobody waits
        raise
    finally:
        ctx.inflight.pop(key, None)
    return await _answer(ctx, result, url)


#: What a login produces: session token, userid, session expiry, profile.
Outcome = tuple[str, str, Any, dict[str, Any]]


async def _login(ctx: WebContext, code: str, key: str) -> Outcome:
    # One worker-thread hop per login of a fresh user (each hop is a GIL hand-over and two
    # wake-ups of the event loop, the largest cost left in the profile): DingTalk is asked
    # first, and the company's state, the replay record, the freshness read, the session and
    # the profile share the one hop after it (:func:`_session_if_fresh`). This keeps the
    # double-tap rule because DingTalk's authCode is single use (a code already exchanged is
    # refused, 40078): a second tap after the first login finished is refused by DingTalk and
    # answered from the replay record in the error path below (and, should DingTalk ever accept
    # a code twice, the hop after it finds the record too); a tap while the first is still in
    # flight in this process waits for it (``ctx.inflight``). A relieved or stopped company is
    # refused in whichever hop runs (``corp.inactive`` before DingTalk's own error): it never
    # gets a session. Running the hop's reads on the event loop instead (SQLite WAL readers do
    # not wait for writers) would not save the hop: the session's insert may wait for another
    # process's write lock, which must not block the loop, and PostgreSQL reads are network
    # round trips.
    try:
        info = await ctx.client.auth.get_userinfo_by_code(code)
    except (DingTalkError, WebError) as exc:  # WebError: no client (no credentials)
        replay = await _replay_after_refusal(ctx, code, key, exc)
        if replay is not None:
            return replay
        raise _code_exchange_error(exc) from exc
    return await open_session_for(ctx, info.userid, sys_level=info.sys_level, replay=(code, key))


#: Longest pause between two looks for another process's replay record, seconds.
REPLAY_POLL_MAX_S = 0.4


async def _replay_after_refusal(
    ctx: WebContext, code: str, key: str, exc: Exception
) -> Outcome | None:
    """The replay record's answer after DingTalk refused ``code`` (:func:`_replayed`), or
    ``None``. When DingTalk said the code is unknown or used (:class:`AuthCodeError`) and
    ``replay_wait_s`` > 0, another process may have exchanged it a moment ago and still be
    storing its session (``ctx.inflight`` only sees this process's logins): look again, 50 ms
    after the refusal and then at doubling intervals (≤ :data:`REPLAY_POLL_MAX_S`), until
    ``replay_wait_s`` has passed."""
    replay = await asyncio.to_thread(_replayed, ctx, code, key)
    wait = ctx.options.replay_wait_s
    if (
        replay is not None
        or wait <= 0
        or ctx.options.replay_window_s <= 0
        or not isinstance(exc, AuthCodeError)
    ):
        return replay
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    pause = 0.05
    while (left := deadline - loop.time()) > 0:
        await asyncio.sleep(min(pause, left))
        replay = await asyncio.to_thread(_replayed, ctx, code, key)
        if replay is not None:
            return replay
        pause = min(pause * 2, REPLAY_POLL_MAX_S)
    return None


def _code_exchange_error(exc: Exception) -> WebError:
    """The stable error of a failed ``getuserinfo`` (the code exchange)."""
    if isinstance(exc, WebError):
        return exc
    if isinstance(exc, AuthCodeError):
        return WebError("auth.code_invalid")
    if isinstance(exc, CredentialsError | TokenError):
        return WebError("auth.token_failed")
    return WebError("auth.dingtalk_unavailable")


async def open_session_for(
    ctx: WebContext,
    userid: str,
    *,
    sys_level: int | None = None,
    replay: tuple[str, str] | None = None,
) -> Outcome:
    """A session for ``userid``, whom DingTalk has just vouched for — the part of a login after
    the code exchange, shared by the micro-app's login (:func:`login`) and the browser's
    (:func:`oauth_login`), so both apply the same rules: a locally disabled account is refused
    (``auth.user_disabled``) before anything else is fetched; the user's detail comes from the
    store when synced within ``user_fresh_s``, else from ``/topapi/v2/user/get`` (someone
    DingTalk no longer knows: ``auth.user_not_found``), stored with its departments; then a
    session. ``sys_level``: getuserinfo's administrator level (:func:`admin_level_change`);
    ``replay``: ``(code, code_hash)`` to remember for the double-tap window (the micro-app's
    code only)."""
    client = ctx.client
    fresh = await asyncio.to_thread(_session_if_fresh, ctx, userid, replay, sys_level)
    if isinstance(fresh, tuple):
        return fresh
    if fresh["disabled"]:
        raise WebError("auth.user_disabled")
    try:
        detail = await client.contacts.get_user(userid)
    except NotFoundError as exc:
        raise WebError("auth.user_not_found") from exc
    except (CredentialsError, TokenError) as exc:
        raise WebError("auth.token_failed") from exc
    except DingTalkError as exc:
        raise WebError("auth.dingtalk_unavailable") from exc
    raw = detail.model_dump(mode="json", by_alias=True, exclude_unset=True)
    missing = [d for d in detail.dept_id_list if d not in fresh["known_depts"]]
    depts = await _fetch_departments(ctx, userid, missing) if missing else []
    return await asyncio.to_thread(_store_and_open, ctx, raw, depts, userid, replay, sys_level)


async def oauth_login(ctx: WebContext, code: str | None) -> Outcome:
    """The browser login (DingTalk's web login page, auth-contacts.md §3): the ``authCode`` the
    page redirected with → ``POST /v1.0/oauth2/userAccessToken`` (a user token) → ``GET
    /v1.0/contact/users/me`` (unionId) → ``POST /topapi/user/getbyunionid`` (userid) →
    :func:`open_session_for`, so the same people are refused with the same codes as
    ``POST /api/auth/dingtalk``. The code is single use: no replay window (a reused code is
    DingTalk's refusal, ``auth.code_invalid``).

    Raises :class:`WebError`: ``auth.code_missing``, ``auth.code_invalid`` (bad, expired or
    reused code), ``auth.token_failed`` (wrong AppKey/AppSecret), ``auth.user_not_found``
    (someone outside the organisation: another org chosen at login, a stranger, an external
    contact, someone who left), ``auth.user_disabled``, ``auth.dingtalk_unavailable``.
    """
    code = (code or "").strip()
    if not code:
        raise WebError("auth.code_missing")
    client = ctx.client
    try:
        token = await client.auth.get_user_access_token(code)
    except AuthCodeError as exc:
        raise WebError("auth.code_invalid") from exc
    except (CredentialsError, TokenError) as exc:
        raise WebError("auth.token_failed") from exc
    except DingTalkError as exc:
        raise WebError("auth.dingtalk_unavailable") from exc
    if token.corp_id and ctx.corp_id and token.corp_id != ctx.corp_id:
        raise WebError("auth.user_not_found", "you signed in to another organisation")
    try:
        me = await client.contacts.get_user_profile(token.access_token)
        if not me.union_id:
            raise WebError("auth.dingtalk_unavailable", "DingTalk sent no unionId")
        found = await client.contacts.get_userid_by_unionid(me.union_id)
    except NotFoundError as exc:
        raise WebError("auth.user_not_found") from exc
    except CredentialsError as exc:
        raise WebError("auth.token_failed") from exc
    except DingTalkError as exc:  # a user token refused right after it was issued, 5xx …
        raise WebError("auth.dingtalk_unavailable") from exc
    if found.contact_type not in (None, 0):  # 1: an external contact, not an employee
        raise WebError("auth.user_not_found")
    return await open_session_for(ctx, found.userid)


def _session_if_fresh(
    ctx: WebContext,
    userid: str,
    replay: tuple[str, str] | None,
    sys_level: int | None = None,
) -> Outcome | dict[str, Any]:
    """The one thread hop after DingTalk vouched for ``userid``: the company must be active
    (``corp.inactive``); a login code already in the replay cache gets its recorded answer
    (:func:`_replay_answer`); for a user stored fresh, the new session and profile (read and
    written on one connection); otherwise the stored state (:func:`_stored_state`)."""
    with ctx.engine.connect() as conn:
        # The company's status, the replay record's existence, the administrator level and the
        # user's row in one statement (repo_login.first_look_and_user), checked in the same
        # order as before.
        look, user = repo_login.first_look_and_user(
            conn, ctx.corp_id, userid, replay[1] if replay is not None else None
        )
        ctx.refuse_inactive(look.corp_status)
        if replay is not None and look.code_known:
            answer = _replay_answer(ctx, conn, *replay)
            if answer is not None:
                return answer
        admin = (
            (look.admin_level, repo_contacts.admin_scope(conn, ctx.corp_id, userid))
            if look.admin_level is not None
            else (None, [])
        )
        state = _stored_state(ctx, conn, userid, sys_level, admin, user)
        if not state["fresh"] or state["disabled"]:
            return state
        if admin_level_change(sys_level, state["admin_level"]) is not False:
            conn.commit()  # end the read (and its snapshot) before writing
            _apply_sys_level(ctx, userid, sys_level, state["admin_level"])
            return _open_session(ctx, userid, replay, user=state["user"], conn=conn)
        return _open_session(
            ctx, userid, replay, user=state["user"], profile=state["profile"], conn=conn
        )


def _store_and_open(
    ctx: WebContext,
    raw: dict[str, Any],
    depts: list[dict[str, Any]],
    userid: str,
    replay: tuple[str, str] | None,
    sys_level: int | None = None,
) -> Outcome:
    _store_user(ctx, raw, depts)
    with ctx.engine.connect() as conn:
        stored_level, _scope = repo_contacts.admin_info(conn, ctx.corp_id, userid)
    _apply_sys_level(ctx, userid, sys_level, stored_level)
    # A micro-app login (``replay``) checked the company in the hop before asking for the
    # user's detail, a moment ago; the browser's login is checked here as it was before.
    return _open_session(ctx, userid, replay, check_active=replay is None)


def admin_level_change(sys_level: int | None, stored: int | None) -> int | bool | None:
    """What getuserinfo's ``sys_level`` (auth-contacts.md §2.1: 1 main administrator, 2
    sub-administrator, 100 boss, 0 anyone else) changes in the stored ``admins`` level
    ``stored`` (``None``: not an administrator): the new level (``1`` or ``2``), ``None`` to
    drop the row, or ``False`` for no change. DingTalk's answer at login is newer than the last
    sync: a main administrator is one at once (even on a database never synced), and someone
    DingTalk no longer calls an administrator loses the stored role. A sub-administrator's
    scope comes only from the sync (``get_admin_scope``), so ``2`` never adds a row."""
    if sys_level is None:
        return False
    if sys_level == 1:
        return 1 if stored != 1 else False
    if sys_level == 2:
        return 2 if stored == 1 else False
    return None if stored is not None else False


def _apply_sys_level(
    ctx: WebContext, userid: str, sys_level: int | None, stored: int | None
) -> None:
    change = admin_level_change(sys_level, stored)
    if change is False:
        return
    with ctx.write() as conn:
        repo_contacts.set_admin_level(conn, ctx.corp_id, userid, change)


def _replayed(ctx: WebContext, code: str, key: str) -> Outcome | None:
    """After DingTalk refused ``code`` (or could not be asked): ``corp.inactive`` for a relieved
    or stopped company, else the session the code produced within the replay window
    (:func:`_replay_answer`), else ``None`` (the refusal stands)."""
    with ctx.engine.connect() as conn:
        ctx.require_active(conn)
        return _replay_answer(ctx, conn, code, key)


def _replay_answer(ctx: WebContext, conn: Connection, code: str, key: str) -> Outcome | None:
    """The session an authCode produced within the replay window, if still valid; ``None``
    when the code is not in the replay cache. Raises ``auth.code_invalid`` (window passed,
    session revoked or expired, the token not unsealed with this code),
    ``auth.user_disabled``, ``auth.user_not_found``."""
    now = ctx.now()
    row = repo_sessions.find_login_code(conn, key)
    if row is None:
        return None
    if row["expires_at"] <= now:
        raise WebError("auth.code_invalid")
    token = sessions.unseal_token(ctx.corp_id, code, row["sealed_token"])
    session = repo_sessions.get_session(conn, row["session_hash"])
    user = repo_contacts.get_user(conn, ctx.corp_id, row["userid"])
    if user is not None and user["local_disabled"]:
        raise WebError("auth.user_disabled")
    if user is None or user["status"] != "active":
        raise WebError("auth.user_not_found")
    if token is None or session is None or session["revoked_at"] is not None:
        raise WebError("auth.code_invalid")
    if session["expires_at"] <= now:
        raise WebError("auth.code_invalid")
    profile = profile_for(ctx, session["userid"], conn=conn)
    return token, session["userid"], session["expires_at"], profile


def _stored_state(
    ctx: WebContext,
    conn: Connection,
    userid: str,
    sys_level: int | None,
    admin: tuple[int | None, list[int]],
    user: dict[str, Any] | None,
) -> dict[str, Any]:
    """Whether the stored user is disabled / fresh, and which departments the store knows;
    for a fresh user whose administrator level ``sys_level`` does not change, also the
    ``profile`` — read on the same connection, so a fresh login reads the store once.
    ``admin``: the user's :func:`repo_contacts.admin_info`; ``user``: their ``users`` row
    (:func:`repo_contacts.get_user`) — both read by the caller on ``conn``."""
    now = ctx.now()
    profile = None
    tree = ctx.tree(conn)
    memberships = repo_contacts.user_memberships(conn, ctx.corp_id, userid) if user else []
    fresh = (
        user is not None
        and user["status"] == "active"
        and user.get("synced_at") is not None
        and now - user["synced_at"] <= timedelta(seconds=ctx.options.user_fresh_s)
        and bool(memberships)
        and all(m["dept_id"] in tree.nodes for m in memberships)
    )
    disabled = bool(user and user["local_disabled"])
    if user is not None and fresh and not disabled:
        if admin_level_change(sys_level, admin[0]) is False:
            viewer = ctx.viewer(conn, userid, user=user, memberships=memberships, admin=admin)
            company = ctx.company_name(conn)
            profile = build_profile(ctx.corp_id, company, user, memberships, tree, viewer)
    return {
        "disabled": disabled,
        "fresh": fresh,
        "known_depts": tree.nodes.keys(),  # only asked ``in`` (no copy per login)
        "admin_level": admin[0],
        "user": user,
        "memberships": memberships,
        "profile": profile,
    }


async def _fetch_departments(ctx: WebContext, userid: str, missing: list[int]) -> list[Any]:
    """Departments of ``userid`` unknown to the store, with their ancestors (rare: a department
    created after the last sync, or no sync at all)."""
    client = ctx.client
    try:
        paths = await client.contacts.list_parent_departments_by_user(userid)
        wanted = {d for path in paths for d in path} | set(missing)
        with ctx.engine.connect() as conn:
            known = set(ctx.tree(conn).nodes)
        todo = sorted(wanted - known)
        details = await asyncio.gather(*(client.contacts.get_department(d) for d in todo))
    except DingTalkError as exc:
        raise WebError("auth.dingtalk_unavailable") from exc
    return [d.model_dump(mode="json", by_alias=True, exclude_unset=True) for d in details]


def _store_user(ctx: WebContext, raw: dict[str, Any], depts: list[dict[str, Any]]) -> None:
    """Upsert the user, its memberships and any new departments in one transaction."""
    corp_id = ctx.corp_id
    row = user_row(corp_id, None, raw, detail=True)
    orders = {int(o["dept_id"]): o.get("order") for o in raw.get("dept_order_list") or []}
    leaders = {int(x["dept_id"]): bool(x.get("leader")) for x in raw.get("leader_in_dept") or []}
    memberships = [
        {
            "dept_id": int(d),
            "dept_order": orders.get(int(d)),
            "is_leader": leaders.get(int(d), False),
        }
        for d in raw.get("dept_id_list") or []
    ]
    with ctx.write() as conn:
        if depts:
            rows = []
            for dept in depts:
                drow = department_row(corp_id, 0, dept)
                drow.pop("last_seen_run_id", None)
                rows.append(drow)
                if drow["dept_id"] == 1 and drow["name"]:
                    repo.upsert_corp(conn, {"corp_id": corp_id, "name": drow["name"]})
            repo.upsert_departments(conn, corp_id, rows)
        repo.upsert_users(conn, corp_id, [row])
        repo_contacts.replace_user_memberships(conn, corp_id, raw["userid"], memberships)
    if depts:
        ctx.forget_tree()


def _open_session(
    ctx: WebContext,
    userid: str,
    replay: tuple[str, str] | None,
    *,
    user: dict[str, Any] | None = None,
    profile: dict[str, Any] | None = None,
    conn: Connection | None = None,
    check_active: bool = False,
) -> Outcome:
    """A new session for ``userid``, remembered under the login code ``replay`` (``(code,
    code_hash)``, when given) for the replay window.
    ``user``: the row just read (and checked not disabled) in this thread hop; without it the
    disabled flag is checked again here. ``profile``: the profile read with it (else read
    after the session is stored). ``conn``: the connection those were read on (the write
    transaction then runs on it: one pool checkout per login). ``check_active``: check here
    that the company is active (callers that checked it in this thread hop pass ``False``)."""
    now = ctx.now()
    token = sessions.new_token()
    digest = sessions.token_hash(token)
    expires_at = now + timedelta(seconds=ctx.options.session_ttl_s)
    with ctx.write(conn) as tx:
        if check_active:
            ctx.require_active(tx)
        if user is None and repo_local_access.is_local_disabled(tx, ctx.corp_id, userid):
            raise WebError("auth.user_disabled")
        repo_sessions.create_session(
            tx,
            token_hash=digest,
            corp_id=ctx.corp_id,
            userid=userid,
            created_at=now,
            expires_at=expires_at,
        )
        if replay is not None and ctx.options.replay_window_s > 0:
            code, key = replay
            repo_sessions.remember_login_code(
                tx,
                code_hash=key,
                corp_id=ctx.corp_id,
                userid=userid,
                session_hash=digest,
                sealed_token=sessions.seal_token(ctx.corp_id, code, token),
                created_at=now,
                expires_at=now + timedelta(seconds=ctx.options.replay_window_s),
            )
        ctx.logins += 1
        if ctx.logins % PURGE_EVERY == 0:  # old replay records and sessions, now and then
            repo_sessions.purge_expired(tx, now - timedelta(days=1))
    if profile is None:
        profile = profile_for(ctx, userid, user, conn=conn)
    return token, userid, expires_at, profile


async def _answer(ctx: WebContext, outcome: Outcome, url: str | None) -> dict[str, Any]:
    token, _userid, expires_at, profile = outcome
    body = dict(profile)
    body["session"] = {
        "token": token,
        "token_type": "Bearer",
        "expires_at": to_ms(expires_at),
        "expires_in": max(0, int((expires_at - ctx.now()).total_seconds())),
    }
    body["jsapi"] = await jsapi_config(ctx, url) if url is not None else None
    return body


# --------------------------------------------------------------------------------------------
# Profile
# --------------------------------------------------------------------------------------------
def profile_for(
    ctx: WebContext,
    userid: str,
    user: dict[str, Any] | None = None,
    memberships: list[dict[str, Any]] | None = None,
    *,
    conn: Connection | None = None,
) -> dict[str, Any]:
    """The profile of ``userid`` from the store: userid, name, avatar, departments (each with
    its path and top department), the primary department, the top departments ("root
    departments": right under the company root, at any depth), company, roles, permissions.
    ``conn``: a connection to read on (default: one of its own)."""
    if conn is None:
        with ctx.engine.connect() as own:
            return profile_for(ctx, userid, user, memberships, conn=own)
    if user is None:
        user = repo_contacts.get_user(conn, ctx.corp_id, userid) or {"userid": userid}
    if memberships is None:
        memberships = repo_contacts.user_memberships(conn, ctx.corp_id, userid)
    tree = ctx.tree(conn)
    company = ctx.company_name(conn)
    viewer = ctx.viewer(conn, userid, user=user, memberships=memberships)
    return build_profile(ctx.corp_id, company, user, memberships, tree, viewer)


def build_profile(
    corp_id: str,
    company: str | None,
    user: dict[str, Any],
    memberships: list[dict[str, Any]],
    tree: DepartmentTree,
    viewer: Viewer,
) -> dict[str, Any]:
    """Assemble the profile (pure)."""
    raw = user.get("raw") or {}
    main = _main_dept(raw, [m["dept_id"] for m in memberships])

    def brief(dept_id: int) -> dict[str, Any]:
        node = tree.nodes.get(dept_id) or {}
        return {"dept_id": dept_id, "name": node.get("name")}

    departments = []
    for m in memberships:
        dept_id = m["dept_id"]
        top = tree.top_department(dept_id)
        departments.append(
            {
                **brief(dept_id),
                "is_primary": dept_id == main,
                "is_leader": bool(m["is_leader"]),
                "order": m["dept_order"],
                "path": [brief(d) for d in tree.path(dept_id)],
                "root_department": brief(top),
            }
        )
    roots: list[int] = []
    for d in departments:
        top_id = d["root_department"]["dept_id"]
        if top_id not in roots:
            roots.append(top_id)
    primary = next((d for d in departments if d["is_primary"]), None)
    return {
        "userid": user.get("userid"),
        "name": user.get("name"),
        "avatar": user.get("avatar"),
        "title": user.get("title"),
        "departments": departments,
        "primary_department": None
        if primary is None
        else {k: primary[k] for k in ("dept_id", "name")},
        "root_department": None if primary is None else primary["root_department"],
        "root_departments": [brief(r) for r in roots],
        "company": {"corp_id": corp_id, "name": company},
        "roles": list(viewer.roles),
        "permissions": permissions(viewer),
    }


def _main_dept(raw: dict[str, Any], dept_ids: list[int]) -> int | None:
    """``dept_position_list[].is_main`` when DingTalk marks one (EB-21); otherwise the first
    department of ``dept_id_list`` as DingTalk sent it; otherwise the smallest id."""
    for pos in raw.get("dept_position_list") or []:
        if isinstance(pos, dict) and pos.get("is_main") and int(pos["dept_id"]) in dept_ids:
            return int(pos["dept_id"])
    for d in raw.get("dept_id_list") or []:
        if int(d) in dept_ids:
            return int(d)
    return min(dept_ids) if dept_ids else None


def describe(scope: rules.Scope) -> str | list[str]:
    """``"all"``, ``"none"`` or the parts of a scope (``own``, ``participant``, ``departments``,
    ``groups``)."""
    if scope.everything:
        return "all"
    parts = [
        name
        for name, on in (
            ("own", scope.own),
            ("participant", scope.participant),
            ("departments", bool(scope.depts)),
            ("groups", bool(scope.groups)),
        )
        if on
    ]
    return parts or "none"


def permissions(viewer: Viewer) -> dict[str, Any]:
    """What the viewer may do, per data kind and action (from :mod:`dingsync.web.rules`), plus
    ``admin`` (the admin API and the export audit).

    Every login's profile holds it, and working it out (12 rule scopes) cost more than the rest
    of the profile (issue 17), so it is remembered per viewer *shape* (:func:`_viewer_shape`):
    what :func:`describe` shows of a scope — all, own, participant, whether it holds any
    department or group — depends on the viewer's flags and roles and on whether their
    sub-administrator scope and attendance groups are empty, not on which userid, departments
    or groups they are (``tests/web/test_rules.py`` checks this against :func:`_permissions`
    for every shape). Each caller gets its own copy."""
    shape = _viewer_shape(viewer)
    found = _PERMISSIONS.get(shape)
    if found is None:
        found = _permissions(viewer)
        if len(_PERMISSIONS) < _PERMISSIONS_MAX:
            _PERMISSIONS[shape] = found
    return {
        kind: (
            {action: list(v) if isinstance(v, list) else v for action, v in value.items()}
            if isinstance(value, dict)
            else value
        )
        for kind, value in found.items()
    }


#: :func:`permissions` by viewer shape (a handful of shapes exist: flags × roles × emptiness).
_PERMISSIONS: dict[tuple[Any, ...], dict[str, Any]] = {}
_PERMISSIONS_MAX = 4096


def _viewer_shape(viewer: Viewer) -> tuple[Any, ...]:
    """What of ``viewer`` :func:`permissions` depends on (see there)."""
    return (
        viewer.disabled,
        viewer.main_admin,
        viewer.boss,
        viewer.sub_admin_scope is None,
        bool(viewer.sub_admin_scope),
        bool(viewer.attendance_groups),
        bool(viewer.leader_of),
        viewer.local_roles,
    )


def _permissions(viewer: Viewer) -> dict[str, Any]:
    """:func:`permissions` worked out from the rules."""
    out: dict[str, Any] = {
        kind: {action: describe(rules.scope(viewer, kind, action)) for action in rules.ACTIONS}
        for kind in rules.DATA_KINDS
    }
    out["admin"] = rules.can_administer(viewer)
    return out


# --------------------------------------------------------------------------------------------
# JSAPI
# --------------------------------------------------------------------------------------------
def check_url(url: str) -> None:
    """``jsapi.url_invalid`` unless ``url`` is an absolute http(s) URL: a host with no
    whitespace or control character in it, a port (when given) of 1-65535, and brackets only
    around a whole IPv6 address (``http://[::1`` and ``http://a.com:abc/`` are refused, as no
    page can be at them)."""
    head = url.split("#", 1)[0]
    scheme, sep, rest = head.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest or rest.startswith("/"):
        raise WebError("jsapi.url_invalid")
    try:
        parts = urlsplit(head)
        port = parts.port
    except ValueError as exc:  # unbalanced brackets, a port that is no number or out of range
        raise WebError("jsapi.url_invalid") from exc
    host = parts.hostname or ""
    if not host or port == 0 or any(ch.isspace() or ord(ch) < 0x20 for ch in parts.netloc):
        raise WebError("jsapi.url_invalid")


async def jsapi_config(ctx: WebContext, url: str) -> dict[str, Any]:
    """``dd.config`` values for the page at ``url``: agentId, corpId, timeStamp, nonceStr,
    signature (plus the signed url and the hash used). Ticket from the cache."""
    check_url(url)
    try:
        config = await ctx.client.auth.jsapi_config(
            url,
            algorithm=ctx.options.jsapi_algorithm,
            timestamp=int(ctx.clock() * 1000),
        )
    except (CredentialsError, TokenError) as exc:
        raise WebError("auth.token_failed") from exc
    except DingTalkError as exc:
        raise WebError("jsapi.unavailable") from exc
    data: dict[str, Any] = config.model_dump(by_alias=True)
    data["agentId"] = data.get("agentId") or ctx.settings.agent_id
    data["corpId"] = data.get("corpId") or ctx.corp_id
    return data


def is_session_row_live(ctx: WebContext, session: dict[str, Any]) -> bool:
    """Not revoked and not expired."""
    return session["revoked_at"] is None and session["expires_at"] > ctx.now()
