"""Paging: every item once, in order, whatever the style; never a silently dropped page."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from dingsync.dingtalk import DingTalkClient, DingTalkError

from .fake_dingtalk import FakeDingTalk, Req

ClientFactory = Callable[..., DingTalkClient]


def user_list_handler(
    members: list[str], *, rate_limit_share: float = 0.0, seed: int = 1
) -> tuple[Callable[[Req], Any], Counter[int]]:
    """``/topapi/v2/user/list`` over ``members``: opaque cursors, absent on the last page."""
    rng = random.Random(seed)
    served: Counter[int] = Counter()

    def handler(r: Req) -> Any:
        body = r.body
        assert isinstance(body, dict)
        if rate_limit_share and rng.random() < rate_limit_share:
            return {"errcode": 90018, "errmsg": "qps", "request_id": "rl"}
        size = int(body["size"])
        assert 1 <= size <= 100
        cursor = int(body["cursor"])
        start = 0 if cursor == 0 else cursor - 7_000  # opaque: not the offset itself
        chunk = members[start : start + size]
        served[start] += 1
        result: dict[str, Any] = {
            "has_more": start + size < len(members),
            "list": [
                {"userid": u, "name": f"name {u}", "dept_order": i, "leader": i == 0}
                for i, u in enumerate(chunk, start)
            ],
        }
        if result["has_more"]:
            result["next_cursor"] = start + size + 7_000
        return {"errcode": 0, "errmsg": "ok", "result": result, "request_id": "p"}

    return handler, served


async def test_department_over_100_users_each_once(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    members = [f"u{i:04d}" for i in range(257)]
    handler, _ = user_list_handler(members)
    fake.route("POST", "/topapi/v2/user/list", handler)
    client = make_client()
    users = [u async for u in client.contacts.iter_department_users(5)]
    assert [u.userid for u in users] == members
    assert client.calls["/topapi/v2/user/list"] == 3  # 100 + 100 + 57
    sent = [r.body for r in fake.requests if r.path == "/topapi/v2/user/list"]
    assert [b["cursor"] for b in sent] == [0, 7_100, 7_200]  # next_cursor passed back as given
    assert all(b["dept_id"] == 5 and b["size"] == 100 for b in sent)


async def test_rate_limited_pages_all_arrive_once(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    """30 % of answers are 90018: every page still arrives, none twice."""
    members = [f"u{i:04d}" for i in range(1234)]
    handler, served = user_list_handler(members, rate_limit_share=0.3, seed=7)
    fake.route("POST", "/topapi/v2/user/list", handler)
    client = make_client(max_retries=10)
    users = await client.contacts.iter_department_users(1).to_list()
    assert [u.userid for u in users] == members
    assert set(served.values()) == {1}  # each page served (successfully) exactly once
    assert client.retries["/topapi/v2/user/list"] > 0


async def test_has_more_without_cursor_is_an_error(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    fake.route(
        "POST",
        "/topapi/user/listsimple",
        lambda r: {"errcode": 0, "result": {"has_more": True, "list": [{"userid": "a"}]}},
    )
    client = make_client()
    with pytest.raises(DingTalkError):
        await client.contacts.iter_department_users_simple(1).to_list()


async def test_cursor_present_on_last_page_stops_on_has_more(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    """EB-37 style: ``next_cursor`` present with ``has_more: false`` ends the paging."""
    fake.route(
        "POST",
        "/topapi/user/listsimple",
        lambda r: {
            "errcode": 0,
            "result": {"has_more": False, "next_cursor": 99999, "list": [{"userid": "a"}]},
        },
    )
    client = make_client()
    users = await client.contacts.iter_department_users_simple(1).to_list()
    assert [u.userid for u in users] == ["a"]
    assert client.calls["/topapi/user/listsimple"] == 1


async def test_offset_pager_advances_by_items_received(
    fake: FakeDingTalk, make_client: ClientFactory
) -> None:
    roles = list(range(450))

    def handler(r: Req) -> Any:
        body = r.body
        assert isinstance(body, dict)
        offset, size = int(body["offset"]), int(body["size"])
        size = min(size, 150)  # a server cap below the size we asked for must not skip items
        chunk = roles[offset : offset + size]
        return {
            "errcode": 0,
            "result": {
                "hasMore": offset + size < len(roles),
                "list": [{"groupId": g, "name": f"g{g}", "roles": []} for g in chunk],
            },
        }

    fake.route("POST", "/topapi/role/list", handler)
    client = make_client()
    groups = await client.contacts.iter_roles().to_list()
    assert [g.group_id for g in groups] == roles
    assert client.calls["/topapi/role/list"] == 3


async def test_pages_iterator(fake: FakeDingTalk, make_client: ClientFactory) -> None:
    members = [f"u{i}" for i in range(250)]
    handler, _ = user_list_handler(members)
    fake.route("POST", "/topapi/v2/user/list", handler)
    client = make_client()
    sizes = [len(p.items) async for p in client.contacts.iter_department_users(1).pages()]
    assert sizes == [100, 100, 50]


async def test_size_is_capped(fake: FakeDingTalk, make_client: ClientFactory) -> None:
    members = [f"u{i}" for i in range(10)]
    handler, _ = user_list_handler(members)
    fake.route("POST", "/topapi/v2/user/list", handler)
    client = make_client()
    await client.contacts.iter_department_users(1, size=500).to_list()
    assert fake.requests[-1].body["size"] == 100
