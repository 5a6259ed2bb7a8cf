"""The service's shared state (:class:`WebContext`) and the per-request viewer.

One :class:`WebContext` per app: the database engine, the DingTalk client (created lazily on the
server's event loop, unless one was given), the options, the clock, and a short-lived in-memory
copy of the department tree.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine

import dingsync.metrics as metrics
from dingsync.config import Settings
from dingsync.corps import Corp, CorpError, build_corp_client, default_corp_id, is_multi, resolve
from dingsync.dingtalk import DingTalkClient
from dingsync.store import repo_contacts, repo_corps, repo_login
from dingsync.timeutil import today as local_today
from dingsync.web.errors import WebError
from dingsync.web.options import WebOptions
from dingsync.web.rules import Viewer


@dataclass
class DepartmentTree:
    """Active departments: ``nodes`` ``{dept_id: {dept_id, parent_id, name, dept_order}}`` and
    ``children`` ``{dept_id: [child ids by order]}``."""

    nodes: dict[int, dict[str, Any]]
    children: dict[int, list[int]]

    @classmethod
    def build(cls, nodes: dict[int, dict[str, Any]]) -> DepartmentTree:
        """Index ``nodes`` by parent."""
        children: dict[int, list[int]] = {d: [] for d in nodes}
        for node in nodes.values():
            parent = node["parent_id"]
            if parent is not None and parent in children:
                children[parent].append(node["dept_id"])
        for kids in children.values():
            kids.sort(key=lambda d: (nodes[d]["dept_order"] or 0, d))
        return cls(nodes, children)

    def path(self, dept_id: int) -> list[int]:
        """``[root, …, dept_id]`` as far as the store knows the ancestors."""
        out = [dept_id]
        seen = {dept_id}
        node = self.nodes.get(dept_id)
        while node is not None and node["parent_id"] is not None:
            parent = int(node["parent_id"])
            if parent in seen:
                break
            out.append(parent)
            seen.add(parent)
            node = self.nodes.get(parent)
        return out[::-1]

    def top_department(self, dept_id: int) -> int:
        """The department right under the company root (id 1) that contains ``dept_id`` at any
        depth; the root itself for the root."""
        path = self.path(dept_id)
        if path[0] == 1 and len(path) > 1:
            return path[1]
        return path[0]

    def subtree(self, roots: list[int]) -> frozenset[int]:
        """``roots`` and all active departments below them (:func:`repo_contacts.subtree`)."""
        return frozenset(repo_contacts.subtree(roots, self.children))


class WebContext:
    """Everything a request needs. ``clock()`` gives epoch seconds (tests replace it)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        options: WebOptions,
        *,
        client: DingTalkClient | None = None,
        clock: Callable[[], float] = time.time,
        parent: WebContext | None = None,
        corp: Corp | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.options = options
        self.clock = clock
        self.corp_id = corp.corp_id if corp is not None else default_corp_id(settings)
        self._client = client
        self.owns_client = client is None
        self._tree: tuple[float, DepartmentTree] | None = None
        self._company: tuple[float, str | None] | None = None
        #: The deployment's context (this one unless it serves one more company of it).
        self.root: WebContext = parent or self
        #: Whether the deployment serves several companies (``[[apps]]`` configured).
        self.multi: bool = is_multi(settings) if parent is None else parent.multi
        self._corp = corp
        self._corps: dict[str, WebContext] = {}
        self._corps_lock = threading.Lock()
        if parent is not None:
            self.inflight: dict[str, asyncio.Future[Any]] = parent.inflight
            self._write_lock: threading.Lock | None = parent._write_lock
        else:
            #: In-flight logins by code hash: a double tap waits for the first and gets its
            #: answer.
            self.inflight = {}
            # SQLite has one writer at a time; queueing writers here is far cheaper than
            # letting them meet SQLite's busy handler, which sleeps in steps of up to 100 ms.
            self._write_lock = threading.Lock() if engine.dialect.name == "sqlite" else None
        self.logins = 0

    # -- companies -----------------------------------------------------------------------------
    def for_corp(self, corp_id: str | None) -> WebContext:
        """The context of company ``corp_id`` (``None``: the default company) — its own
        settings (app, agent id, timezone), client, tree cache and ``corp_id``; the engine, the
        options, the clock, the write lock and the in-flight logins are the deployment's.

        Raises ``corp.unknown`` (400) when no app of this deployment serves ``corp_id`` (or no
        company is named and the deployment has no default one).
        Whether the company is active is :meth:`require_active`'s question.
        """
        root = self.root
        if not corp_id and root.multi and not root.settings.has_credentials:
            raise WebError("corp.unknown", "this service serves several companies: pass corpId")
        if not corp_id or corp_id == root.corp_id:
            return root
        with root._corps_lock:
            found = root._corps.get(corp_id)
            if found is not None:
                return found
        try:
            corp = resolve(root.engine, root.settings, corp_id, active=False)
        except CorpError as exc:
            raise WebError(exc.code, exc.public) from exc
        child = WebContext(
            corp.settings, root.engine, root.options, clock=root.clock, parent=root, corp=corp
        )
        with root._corps_lock:
            return root._corps.setdefault(corp_id, child)

    def require_active(self, conn: Connection) -> None:
        """Refuse a company registered as ``relieved`` or ``stopped`` (``corps.status``, or
        ``status = "stopped"`` in its ``[[apps]]`` entry): ``corp.inactive`` (403). A company
        the registry does not hold yet (nothing synced) is active."""
        if self._app_stopped():
            self.refuse_inactive("stopped")
        self.refuse_inactive(repo_corps.corp_status(conn, self.corp_id))

    def _app_stopped(self) -> bool:
        app = next((a for a in self.root.settings.apps if a.corp_id == self.corp_id), None)
        return app is not None and app.status == "stopped"

    def refuse_inactive(self, stored_status: str | None) -> None:
        """:meth:`require_active` with the registry's ``corps.status`` already read
        (``stored_status``; ``None``: not registered): ``corp.inactive`` when the company's
        ``[[apps]]`` entry says ``stopped`` or ``stored_status`` is not ``active``."""
        status = "stopped" if self._app_stopped() else (stored_status or "active")
        if status != "active":
            raise WebError(
                "corp.inactive",
                f"corp {self.corp_id} is {status}: its logins and sessions are refused",
            )

    @contextmanager
    def write(self, conn: Connection | None = None) -> Iterator[Connection]:
        """A write transaction, one at a time on SQLite: ``engine.begin()``, or on ``conn`` (a
        connection the caller holds and just read on: the read is committed first, then the
        write runs as its own transaction on it — one pool checkout for both)."""
        lock = self._write_lock
        if conn is None:
            if lock is None:
                with self.engine.begin() as own:
                    yield own
                return
            with lock, self.engine.begin() as own:
                yield own
            return
        if conn.in_transaction():
            conn.commit()
        if lock is None:
            with conn.begin():
                yield conn
            return
        with lock, conn.begin():
            yield conn

    # -- time ----------------------------------------------------------------------------------
    def now(self) -> datetime:
        """Now as an aware UTC datetime (by :attr:`clock`)."""
        return datetime.fromtimestamp(self.clock(), tz=UTC)

    def local_now(self) -> datetime:
        """Now in the company's zone (``Settings.tz``: ``DINGSYNC_TIMEZONE``, Asia/Shanghai by
        default)."""
        return self.now().astimezone(self.settings.tz)

    def today(self) -> date:
        """Today's calendar day in the company's zone (``Settings.tz``) — the default of every
        date filter, whatever the host's zone (at 20:00 UTC it is already the next day in
        Shanghai)."""
        return local_today(self.settings.tz, now=self.now())

    def default_end(self, start: date | None) -> date:
        """The last day of a date filter given without one: today (:meth:`today`), or
        ``start`` when that is later — a start in the future lists or exports nothing rather
        than failing on an end before it that nobody gave."""
        today = self.today()
        return start if start is not None and start > today else today

    # -- client --------------------------------------------------------------------------------
    @property
    def client(self) -> DingTalkClient:
        """The DingTalk client (built from the settings on first use; ``auth.token_failed``
        when no credentials are configured)."""
        if self._client is None:
            from dingsync.sync.runner import MissingCredentials, build_client

            try:
                if self._corp is not None:
                    self._client = build_corp_client(self._corp, self.engine)
                else:
                    self._client = build_client(self.settings, self.engine)
                metrics.watch_client(self._client)
            except MissingCredentials as exc:
                raise WebError(
                    "auth.token_failed", f"no DingTalk credentials configured (missing {exc})"
                ) from exc
        return self._client

    @property
    def has_client(self) -> bool:
        """Whether a client exists already (or could be built from the settings)."""
        return self._client is not None or self.settings.has_credentials

    async def aclose(self) -> None:
        """Close the client if this context built it (and those of the other companies' contexts
        it made)."""
        children = list(self._corps.values())
        self._corps.clear()
        for child in children:
            await child.aclose()
        if self._client is not None and self.owns_client:
            await self._client.aclose()
            self._client = None

    # -- department tree -----------------------------------------------------------------------
    def tree(self, conn: Connection) -> DepartmentTree:
        """The department tree (cached ``options.tree_cache_s`` seconds)."""
        now = time.monotonic()
        if self._tree is not None and now - self._tree[0] < self.options.tree_cache_s:
            return self._tree[1]
        tree = DepartmentTree.build(repo_contacts.department_tree(conn, self.corp_id))
        self._tree = (now, tree)
        return tree

    def forget_tree(self) -> None:
        """Drop the cached tree and company name (after departments were written)."""
        self._tree = None
        self._company = None

    def company_name(self, conn: Connection) -> str | None:
        """The company's name (cached like the tree)."""
        now = time.monotonic()
        if self._company is not None and now - self._company[0] < self.options.tree_cache_s:
            return self._company[1]
        name = repo_contacts.corp_name(conn, self.corp_id)
        self._company = (now, name)
        return name

    # -- viewer --------------------------------------------------------------------------------
    def viewer(
        self,
        conn: Connection,
        userid: str,
        *,
        user: dict[str, Any] | None = None,
        memberships: list[dict[str, Any]] | None = None,
        admin: tuple[int | None, list[int]] | None = None,
    ) -> Viewer:
        """The rules' :class:`Viewer` for ``userid`` from the store (``user`` row,
        ``memberships`` and ``admin`` — :func:`repo_contacts.admin_info` — when the caller has
        them already)."""
        if user is None:
            user = repo_contacts.get_user(conn, self.corp_id, userid) or {}
        if admin is None:
            admin = repo_contacts.admin_info(conn, self.corp_id, userid)
        level, scope_roots = admin
        if memberships is None:
            memberships = repo_contacts.user_memberships(conn, self.corp_id, userid)
        tree = self.tree(conn)
        sub_scope = tree.subtree(scope_roots) if level == 2 else None
        groups, local_roles = repo_login.viewer_grants(conn, self.corp_id, userid)
        return Viewer(
            userid=userid,
            main_admin=level == 1,
            sub_admin_scope=sub_scope,
            boss=bool(user.get("boss")),
            leader_of=frozenset(m["dept_id"] for m in memberships if m["is_leader"]),
            attendance_groups=frozenset(groups),
            local_roles=frozenset(local_roles),
            disabled=bool(user.get("local_disabled")),
        )
