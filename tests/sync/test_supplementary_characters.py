"""Names beyond the Basic Multilingual Plane — emoji and rare CJK ideographs of the supplementary
planes (𠀀 U+20000, 𪚥 U+2A6A5, 😀 U+1F600), four bytes each in UTF-8 — go through the sync into
the store and back out of the web API exactly, on SQLite, PostgreSQL and MariaDB (``utf8mb4``:
MySQL's ``utf8`` holds three bytes at most). A search for one such character finds the names
holding it and not those holding another one (MariaDB's ``utf8mb4_unicode_ci`` weighs every
supplementary character alike)."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import Engine, select

from dingsync.sandbox import SandboxServer
from dingsync.store.schema import departments, users
from dingsync.sync.contacts import ContactsSync
from dingsync.sync.engine import SyncResult, run_sync
from dingsync.web import create_app
from dingsync.web.options import WebOptions
from dingsync.web.server import WebServer
from helpers.sandboxes import SandboxPool, SandboxSpec, make_client, mutate
from sync.test_nul_characters import _settings

#: A small company of the test's own (each backend's run adds the same people).
SPEC = SandboxSpec(seed=5, users=8, days=2, private=True)
SMILE = "张𠀀😀"  # a rare ideograph (Extension B) and an emoji
GRIN = "张𠀀😃"  # differs from SMILE only in its last (4-byte) character
TITLE = "𪚥工程师🚀"
DEPARTMENT = "研发𠀀部😀"


def _sync(sb: SandboxServer, engine: Engine) -> SyncResult:
    async def go() -> SyncResult:
        async with make_client(sb) as client:
            return await run_sync(client, engine, sb.app.corp_id, [ContactsSync()], resume=False)

    return asyncio.run(go())


def test_four_byte_names_round_trip_through_sync_store_and_api(
    sandboxes: SandboxPool, engine: Engine, db_url: str
) -> None:
    with sandboxes.own(SPEC) as sandbox:
        _round_trip(sandbox, engine, db_url)


def _round_trip(sandbox: SandboxServer, engine: Engine, db_url: str) -> None:
    dept = mutate(sandbox, "contacts/create_department", parent_id=1, name=DEPARTMENT)
    dept_id = int(dept["deptId"][0])
    smile = mutate(
        sandbox, "contacts/hire", userid="smile", dept_id=dept_id, name=SMILE, title=TITLE
    )
    mutate(sandbox, "contacts/hire", userid="grin", dept_id=dept_id, name=GRIN)
    assert smile

    result = _sync(sandbox, engine)
    assert result.status == "succeeded", result.error

    corp = sandbox.app.corp_id
    with engine.connect() as conn:
        stored = dict(
            conn.execute(
                select(users.c.userid, users.c.name).where(
                    users.c.corp_id == corp, users.c.userid.in_(["smile", "grin"])
                )
            ).all()
        )
        title = conn.execute(
            select(users.c.title).where(users.c.corp_id == corp, users.c.userid == "smile")
        ).scalar_one()
        dept_name = conn.execute(
            select(departments.c.name).where(
                departments.c.corp_id == corp, departments.c.dept_id == dept_id
            )
        ).scalar_one()
        by_name = conn.execute(
            select(users.c.userid).where(users.c.corp_id == corp, users.c.name == SMILE)
        ).all()
    assert stored == {"smile": SMILE, "grin": GRIN}
    assert (title, dept_name) == (TITLE, DEPARTMENT)
    assert by_name == [("smile",)]  # equality tells 😀 from 😃

    admin = sandbox.company.main_admin_userid
    app = create_app(_settings(sandbox, db_url), engine=engine, options=WebOptions())
    with WebServer(app) as server, httpx.Client(base_url=server.base_url, timeout=30) as http:
        code = httpx.post(f"{sandbox.base_url}/sandbox/authcode", json={"userid": admin})
        login = http.post("/api/auth/dingtalk", json={"authCode": code.json()["code"]})
        assert login.status_code == 200, login.text
        auth = {"Authorization": f"Bearer {login.json()['session']['token']}"}

        one = http.get("/api/users/smile", headers=auth)
        assert one.status_code == 200, one.text
        assert (one.json()["name"], one.json()["title"]) == (SMILE, TITLE)
        members = http.get("/api/users", params={"dept_id": dept_id}, headers=auth)
        assert members.status_code == 200, members.text
        assert {u["userid"]: u["name"] for u in members.json()["items"]} == stored
        for q, expected in (("😀", ["smile"]), ("😃", ["grin"]), ("𠀀", ["grin", "smile"])):
            found = http.get("/api/users", params={"q": q}, headers=auth)
            assert found.status_code == 200, found.text
            assert sorted(u["userid"] for u in found.json()["items"]) == expected, q
        tree = http.get("/api/departments", headers=auth)
        assert tree.status_code == 200, tree.text
        assert DEPARTMENT in _names(tree.json())


def _names(node: object) -> set[str]:
    """Every ``name`` in a JSON tree."""
    if isinstance(node, dict):
        own = {node["name"]} if isinstance(node.get("name"), str) else set()
        return own.union(*(_names(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_names(v) for v in node)) if node else set()
    return set()
