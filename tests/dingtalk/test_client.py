"""The client against the sandbox (DingTalk emulator) over real loopback HTTP.

The generated company's departments hold at most ~30 direct members, so one department is
given 150 extra members here to exercise paging past DingTalk's 100-per-page cap.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dingsync.dingtalk import (
    AuthCodeError,
    CredentialsError,
    DingTalkClient,
    NotFoundError,
    sign_jsapi,
)

sandbox = pytest.importorskip("dingsync.sandbox")
SandboxConfig = sandbox.SandboxConfig
SandboxServer = sandbox.SandboxServer

SEED = 5
BIG_EXTRA = 150

#: Knob values restored before each test.
DEFAULT_KNOBS: dict[str, Any] = {
    "qps_limit": 20.0,
    "qps_overrides": {},
    "rate_limit_wrapped": False,
    "expired_token_code": "40014",
    "expired_token_wrapped": True,
    "token_ttl_s": 7200.0,
    "authcode_ttl_s": 300.0,
    "fault_5xx": 0.0,
    "fault_timeout": 0.0,
    "fault_drop": 0.0,
    "fault_rate_limit": 0.0,
    "fault_token_invalidation": 0.0,
    "latency_ms": 0.0,
    "jitter_ms": 0.0,
}


def _company_with_a_big_department() -> tuple[Any, int]:
    company = sandbox.generate_company(seed=SEED, users=300)
    leaves = [d for d in company.departments if d != 1]
    big = leaves[-1]
    added = 0
    for user in company.users.values():
        if added >= BIG_EXTRA:
            break
        if big not in user.dept_id_list:
            user.memberships.append(sandbox.Membership(dept_id=big, order=1000 + added))
            added += 1
    return company, big


@pytest.fixture(scope="module")
def sb_and_big() -> Iterator[tuple[Any, int]]:
    company, big = _company_with_a_big_department()
    with SandboxServer(SandboxConfig(seed=SEED, users=300), company=company) as sb:
        yield sb, big


@pytest.fixture
def sb(sb_and_big: tuple[Any, int]) -> Iterator[Any]:
    server = sb_and_big[0]
    offset = server.clock.offset
    server.configure(**DEFAULT_KNOBS)
    server.invalidate_tokens()
    server.reset_stats()
    yield server
    server.configure(**DEFAULT_KNOBS)
    server.clock.advance(offset - server.clock.offset)


@pytest.fixture
def big_dept(sb_and_big: tuple[Any, int]) -> int:
    return sb_and_big[1]


@pytest.fixture
async def make_client(sb: Any) -> AsyncIterator[Callable[..., DingTalkClient]]:
    made: list[DingTalkClient] = []

    def factory(**overrides: Any) -> DingTalkClient:
        kwargs: dict[str, Any] = {
            "corp_id": sb.app.corp_id,
            "agent_id": sb.app.agent_id,
            "oapi_url": sb.base_url,
            "api_url": sb.base_url,
            "backoff_base": 0.02,
            "backoff_max": 0.2,
            "rate_limit_pause": 0.05,
            "timeout": 5.0,
            **overrides,
        }
        secret = kwargs.pop("app_secret", sb.app.app_secret)
        client = DingTalkClient(sb.app.app_key, secret, **kwargs)
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.aclose()


def members_of(sb: Any, dept_id: int) -> list[str]:
    pairs = []
    for user in sb.company.users.values():
        m = user.membership(dept_id)
        if m is not None:
            pairs.append(((m.order, user.userid), user.userid))
    return [u for _, u in sorted(pairs)]


# -- tokens ----------------------------------------------------------------------------------
async def test_cold_cache_50_concurrent_calls_one_token_request(
    sb: Any, make_client: Callable[..., DingTalkClient]
) -> None:
    sb.configure(qps_limit=None)
    client = make_client(qps_per_api=None)
    counts = await asyncio.gather(*(client.contacts.count_users() for _ in range(50)))
    assert set(counts) == {len(sb.company.users)}
    stats = sb.stats()
    assert stats["token_requests"] == 1
    assert stats["calls"]["/topapi/user/count"] == 50


async def test_invalidated_token_one_refresh_then_success(
    sb: Any, make_client: Callable[..., DingTalkClient]
) -> None:
    client = make_client()
    user = next(iter(sb.company.users))
    assert (await client.contacts.get_user(user)).userid == user
    sb.configure(invalidate_tokens=True)  # the knob (one-shot action)
    assert (await client.contacts.get_user(user)).userid == user
    assert sb.stats()["token_requests"] == 2
    assert client.calls["/topapi/v2/user/get"] == 3  # ok, 88/40014, retried ok


async def test_wrapped_88_and_bare_token_errors_both_refresh(
    sb: Any, make_client: Callable[..., DingTalkClient]
) -> None:
    client = make_client()
    user = next(iter(sb.company.users))
    await client.contacts.get_user(user)
    # /topapi: 88 + sub_code "40014"
    sb.invalidate_tokens()
    await client.contacts.get_user(user)
    # archived /user/get: a bare 40014
    sb.invalidate_tokens()
    await client.contacts.get_user_legacy(user)
    # an expired token answered with a bare 42001 on /topapi (EB-02 knobs)
    sb.configure(expired_token_code="42001", expired_token_wrapped=False)
    sb.clock.advance(7300)
    await client.contacts.get_user(user)
    assert sb.stats()["token_requests"] == 4
    assert client.calls["/topapi/v2/user/get"] == 5
    assert client.calls["/user/get"] == 2


async def test_wrong_secret_never_appears_in_errors(
    sb: Any, make_client: Callable[..., DingTalkClient]
) -> None:
    secret = "definitely-not-the-secret-" + "x" * 20
    for endpoint in ("v1.0", "gettoken"):
        client = make_client(app_secret=secret, token_endpoint=endpoint)
        with pytest.raises(CredentialsError) as info:
            await client.contacts.count_users()
        err = info.value
        for text in (str(err), repr(err), str(err.args), err.errmsg):
            assert secret not in text
            assert sb.app.app_secret not in text


# -- paging and rate limits ------------------------------------------------------------------
async def test_department_over_100_users_each_once(
    sb: Any, big_dept: int, make_client: Callable[..., DingTalkClient]
) -> None:
    expected = members_of(sb, big_dept)
    assert len(expected) > 100
    client = make_client()
    users = [u async for u in client.contacts.iter_department_users(big_dept)]
    assert [u.userid for u in users] == expected
    assert client.calls["/topapi/v2/user/list"] == -(-len(expected) // 100)
    leaders = {u.userid for u in users if u.leader}
    truth = {u for u in expected if sb.company.users[u].membership(big_dept).leader}
    assert leaders == truth
    simple = await client.contacts.iter_department_users_simple(big_dept).to_list()
    assert [u.userid for u in simple] == expected


async def test_30_percent_rate_limit_replies_every_page_once(
    sb: Any, big_dept: int, make_client: Callable[..., DingTalkClient]
) -> None:
    sb.configure(fault_rate_limit=0.3)
    client = make_client(max_retries=12)
    depts = [1, big_dept, *list(sb.company.departments)[:8]]
    for dept_id in depts:
        users = await client.contacts.iter_department_users(dept_id, size=10).to_list()
        ids = [u.userid for u in users]
        assert ids == members_of(sb, dept_id)
        assert len(ids) == len(set(ids))
    stats = sb.stats()
    assert stats["faults_by_kind"].get("rate_limit", 0) > 0
    # every refused answer was retried: the injected ones, and real refusals caused by the
    # previous test's calls still in the sandbox's one-second window
    refused = stats["faults"]["/topapi/v2/user/list"]
    refused += stats["rate_limited"].get("/topapi/v2/user/list", 0)
    assert client.retries["/topapi/v2/user/list"] == refused


async def test_wrapped_rate_limit_is_retried(
    sb: Any, big_dept: int, make_client: Callable[..., DingTalkClient]
) -> None:
    sb.configure(fault_rate_limit=0.3, rate_limit_wrapped=True)
    client = make_client(max_retries=12)
    users = await client.contacts.iter_department_users(big_dept, size=20).to_list()
    assert [u.userid for u in users] == members_of(sb, big_dept)


async def test_faults_5xx_drops_and_timeouts_lose_nothing(
    sb: Any, big_dept: int, make_client: Callable[..., DingTalkClient]
) -> None:
    sb.configure(fault_5xx=0.15, fault_drop=0.1, fault_timeout=0.05, timeout_s=1.0)
    client = make_client(max_retries=12, timeout=0.5)
    users = await client.contacts.iter_department_users(big_dept, size=25).to_list()
    assert [u.userid for u in users] == members_of(sb, big_dept)
    assert sum(sb.stats()["faults"].values()) > 0


async def test_limiter_keeps_the_sandbox_below_its_limit(
    sb: Any, make_client: Callable[..., DingTalkClient]
) -> None:
    qps, calls = 20, 90
    sb.configure(qps_limit=qps, latency_ms=5, jitter_ms=10)
    client = make_client(qps_per_api=qps)
    await client.get_access_token()
    await asyncio.sleep(1.1)  # let earlier tests' calls leave the sandbox's window
    await asyncio.gather(*(client.contacts.count_users() for _ in range(calls)))
    stats = sb.stats()
    # never over the limit, nothing refused; how close to the limit it runs is measured by
    # benchmarks/bench_directory (wall time vs calls/QPS), not timed here
    assert stats["rate_limited"] == {}
    assert stats["calls"]["/topapi/user/count"] == calls


# -- login and JSAPI -------------------------------------------------------------------------
async def test_login_code_single_use_and_expiry(
    sb: Any, make_client: Callable[..., DingTalkClient]
) -> None:
    client = make_client()
    userid = sb.company.main_admin_userid
    code = sb.mint_authcode(userid)
    info = await client.auth.get_userinfo_by_code(code)
    assert info.userid == userid and info.sys_level == 1 and info.sys is True
    with pytest.raises(AuthCodeError) as used:
        await client.auth.get_userinfo_by_code(code)
    assert used.value.errcode == 40078
    expired = sb.mint_authcode(userid)
    sb.clock.advance(301)
    with pytest.raises(AuthCodeError):
        await client.auth.get_userinfo_by_code(expired)
    # the archived GET form behaves the same
    legacy = sb.mint_authcode(userid)
    old = await client.auth.get_userinfo_by_code_legacy(legacy)
    assert old.userid == userid and old.to_login_user_info().sys_level == 1
    with pytest.raises(AuthCodeError):
        await client.auth.get_userinfo_by_code_legacy(legacy)


async def test_jsapi_ticket_cached_and_signature(
    sb: Any, make_client: Callable[..., DingTalkClient]
) -> None:
    client = make_client()
    tickets = await asyncio.gather(*(client.auth.get_jsapi_ticket() for _ in range(10)))
    assert len(set(tickets)) == 1
    assert client.calls["/v1.0/oauth2/jsapiTickets"] == 1
    config = await client.auth.jsapi_config(
        "http://h5.example.com/app?a=%E4%B8%AD#/x", nonce_str="n1", timestamp=123
    )
    assert config.agent_id == sb.app.agent_id and config.corp_id == sb.app.corp_id
    assert config.url == "http://h5.example.com/app?a=中"
    assert config.signature == sign_jsapi(tickets[0], "n1", "123", "http://h5.example.com/app?a=中")
    assert config.raw()["timeStamp"] == "123" and config.raw()["nonceStr"] == "n1"
    legacy = make_client(jsapi_ticket_endpoint="legacy")
    assert await legacy.auth.get_jsapi_ticket() == tickets[0]  # one ticket per appKey
    assert legacy.calls["/get_jsapi_ticket"] == 1


# -- contacts against the generated truth ----------------------------------------------------
async def test_department_tree_walk_matches_truth(
    sb: Any, make_client: Callable[..., DingTalkClient]
) -> None:
    client = make_client()
    seen: dict[int, Any] = {}

    async def visit(dept_id: int) -> None:
        detail, children = await asyncio.gather(
            client.contacts.get_department(dept_id),
            client.contacts.list_sub_department_ids(dept_id),
        )
        seen[dept_id] = detail
        await asyncio.gather(*(visit(c) for c in children))

    await visit(1)
    assert set(seen) == set(sb.company.departments)
    for dept_id, detail in seen.items():
        truth = sb.company.departments[dept_id]
        assert detail.name == truth.name and detail.parent_id == truth.parent_id
        assert detail.dept_manager_userid_list == truth.dept_manager_userid_list
    subs = await client.contacts.list_sub_departments(1)
    assert {d.dept_id for d in subs} == {
        d for d, t in sb.company.departments.items() if t.parent_id == 1
    }
    legacy = await client.contacts.list_departments_legacy(1, fetch_child=True)
    assert {d.id for d in legacy} == set(sb.company.departments) - {1}
    some = next(d for d in sb.company.departments if d != 1)
    old = (await client.contacts.get_department_legacy(some)).to_department()
    assert old.dept_id == some and old.name == sb.company.departments[some].name
    path = await client.contacts.list_parent_departments_by_dept(some)
    assert path[0] == some and path[-1] == 1


async def test_users_admins_and_parents(
    sb: Any, make_client: Callable[..., DingTalkClient]
) -> None:
    client = make_client()
    userid = next(u for u, t in sb.company.users.items() if len(t.memberships) > 1)
    truth = sb.company.users[userid]
    user = await client.contacts.get_user(userid)
    assert user.name == truth.name and user.dept_id_list == truth.dept_id_list
    assert [o.model_dump() for o in user.dept_order_list] == truth.dept_order_list
    legacy = (await client.contacts.get_user_legacy(userid)).to_user()
    for field in ("userid", "name", "dept_id_list", "dept_order_list", "leader_in_dept", "title"):
        assert getattr(legacy, field) == getattr(user, field), field
    paths = await client.contacts.list_parent_departments_by_user(userid)
    assert sorted(p[0] for p in paths) == sorted(truth.dept_id_list)
    assert all(p[-1] == 1 for p in paths)
    ids = await client.contacts.list_user_ids(truth.dept_id_list[0])
    assert set(ids) == set(members_of(sb, truth.dept_id_list[0]))
    admins = await client.contacts.list_admins()
    assert {a.userid: a.sys_level for a in admins} == sb.company.admins
    for admin in admins:
        scope = await client.contacts.get_admin_scope(admin.userid)
        assert scope == sb.company.admin_scopes.get(admin.userid, [])
    with pytest.raises(NotFoundError):
        await client.contacts.get_user("no-such-user")
    assert await client.contacts.count_users() == len(sb.company.users)


async def test_leavers_match_truth(sb: Any, make_client: Callable[..., DingTalkClient]) -> None:
    client = make_client()
    since = datetime.now(UTC) - timedelta(days=365)
    records = await client.contacts.iter_leave_records(since).to_list()
    now_ms = int(time.time() * 1000)
    expected = {
        u for u, lv in sb.company.leavers.items() if lv.leave_time >= now_ms - 365 * 86_400_000
    }
    assert {r.user_id for r in records} == expected
    # a span over 365 days is split, nothing lost or doubled
    long_ago = datetime.now(UTC) - timedelta(days=800)
    spanning = await client.contacts.iter_leave_records(long_ago).to_list()
    ids = [r.user_id for r in spanning]
    assert len(ids) == len(set(ids))
    assert set(ids) >= expected
    dimission_ids = await client.contacts.iter_dimission_userids().to_list()
    assert set(dimission_ids) == set(sb.company.leavers)
    infos = await client.contacts.list_dimission_infos(dimission_ids)
    assert {i.userid for i in infos} == set(sb.company.leavers)
