"""The role APIs through the client against the sandbox over loopback HTTP: typed models,
offset paging on ``hasMore`` within DingTalk's caps, the mixed casing and the errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from dingsync.dingtalk import DingTalkClient, NotFoundError, PermissionDeniedError
from dingsync.dingtalk.models import RoleDetail, RoleGroup, RoleMember
from dingsync.sandbox import SandboxConfig, SandboxServer
from dingsync.sandbox.company import DEFAULT_ROLE_GROUP_ID, ROLE_HEAD_ID
from helpers.sandboxes import make_client


@pytest.fixture(scope="module")
def sb() -> Iterator[SandboxServer]:
    # 600 people: the 主管 (department heads) and 内训师 roles need several pages of 20.
    with SandboxServer(SandboxConfig(seed=8, users=600, qps_limit=None)) as server:
        yield server


@pytest.fixture
async def client(sb: SandboxServer) -> AsyncIterator[DingTalkClient]:
    sb.configure(denied_permissions=[])
    async with make_client(sb) as c:
        yield c
    sb.configure(denied_permissions=[])


def _truth(sb: SandboxServer) -> list[dict[str, Any]]:
    return sb.company.roles_truth()


async def test_iter_roles_pages_and_equals_the_truth(
    client: DingTalkClient, sb: SandboxServer
) -> None:
    truth = _truth(sb)
    groups = await client.contacts.iter_roles().to_list()
    assert all(isinstance(g, RoleGroup) for g in groups)
    assert [(g.group_id, g.name, [(r.id, r.name) for r in g.roles]) for g in groups] == [
        (g["group_id"], g["name"], [(r["role_id"], r["name"]) for r in g["roles"]]) for g in truth
    ]
    assert client.calls["/topapi/role/list"] == 1

    one_by_one = await client.contacts.iter_roles(size=1).to_list()
    assert [g.group_id for g in one_by_one] == [g.group_id for g in groups]
    # one page per group; the last answers hasMore false
    assert client.calls["/topapi/role/list"] == 1 + len(groups)
    # asking for more than DingTalk's 200 is clamped, not refused
    assert len(await client.contacts.iter_roles(size=5000).to_list()) == len(groups)


async def test_iter_role_members_pages_within_the_cap(
    client: DingTalkClient, sb: SandboxServer
) -> None:
    roles = [r for g in _truth(sb) for r in g["roles"]]
    big = max(roles, key=lambda r: len(r["members"]))
    assert len(big["members"]) > 20
    members = await client.contacts.iter_role_members(big["role_id"]).to_list()
    assert all(isinstance(m, RoleMember) for m in members)
    assert [
        (m.userid, m.name, [(s.dept_id, s.name) for s in m.manage_scopes]) for m in members
    ] == [
        (m["userid"], m["name"], [(s["dept_id"], s["name"]) for s in m["manage_scopes"]])
        for m in big["members"]
    ]
    assert client.calls["/topapi/role/simplelist"] == 1  # 100 per page

    before = client.calls["/topapi/role/simplelist"]
    small = await client.contacts.iter_role_members(big["role_id"], size=9).to_list()
    assert [m.userid for m in small] == [m.userid for m in members]
    assert client.calls["/topapi/role/simplelist"] - before == -(-len(members) // 9)
    capped = await client.contacts.iter_role_members(big["role_id"], size=1000).to_list()
    assert len(capped) == len(members)

    for role in roles:  # every role, the empty one included
        got = await client.contacts.iter_role_members(role["role_id"]).to_list()
        assert [m.userid for m in got] == [m["userid"] for m in role["members"]]
    raw = members[0].raw()
    assert set(raw) == {"userid", "name", "manageScopes"}


async def test_get_role_and_unknown_roles(client: DingTalkClient, sb: SandboxServer) -> None:
    head = await client.contacts.get_role(ROLE_HEAD_ID)
    assert isinstance(head, RoleDetail)
    assert (head.name, head.group_id) == ("主管", DEFAULT_ROLE_GROUP_ID)
    custom = _truth(sb)[1]
    detail = await client.contacts.get_role(custom["roles"][0]["role_id"])
    assert (detail.name, detail.group_id) == (custom["roles"][0]["name"], custom["group_id"])

    with pytest.raises(NotFoundError) as info:
        await client.contacts.get_role(99)
    assert info.value.errcode == 33011
    with pytest.raises(NotFoundError):
        await client.contacts.iter_role_members(99).to_list()


async def test_permission_errors_are_typed(client: DingTalkClient, sb: SandboxServer) -> None:
    sb.configure(denied_permissions=["qyapi_get_department_list"])
    with pytest.raises(PermissionDeniedError):
        await client.contacts.iter_roles().to_list()
    sb.configure(denied_permissions=["qyapi_get_department_member"])
    with pytest.raises(PermissionDeniedError):
        await client.contacts.iter_role_members(ROLE_HEAD_ID).to_list()
    with pytest.raises(PermissionDeniedError):
        await client.contacts.get_role(ROLE_HEAD_ID)
