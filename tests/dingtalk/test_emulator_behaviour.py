"""The client against emulator-behaviour.md's client column, row by row (``EB-nn`` in each test's
name), over real loopback HTTP to a sandbox. A recording transport (a real
``httpx.AsyncHTTPTransport`` that keeps each request) shows what the client sends."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from dingsync.dingtalk import (
    AuthCodeError,
    DingTalkClient,
    InvalidArgumentError,
    IPBannedError,
    PermissionDeniedError,
    QuotaExceededError,
)
from dingsync.dingtalk.models.admins import LegacyAdminList
from dingsync.dingtalk.models.events import event_from_http, event_from_stream
from dingsync.sandbox import SandboxConfig, SandboxServer
from helpers.sandboxes import make_client

GMT8 = timezone(timedelta(hours=8))

#: Knobs each test may change; restored afterwards.
RESET: dict[str, Any] = {
    "qps_limit": None,
    "qps_overrides": {},
    "global_qps_limit": None,
    "global_ban_s": 1.0,
    "monthly_quota": None,
    "ip_ban_calls": None,
    "ip_ban_window_s": 20.0,
    "ip_ban_s": 300.0,
    "user_code_error": "invalidParameter",
    "data_scope_dept_ids": None,
    "historic_permissions_denied": False,
}


class Recorder(httpx.AsyncBaseTransport):
    """A real loopback transport that also keeps every request it sends."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def to(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == path]


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=19, users=60, days=7, qps_limit=None)) as server:
        yield server


@pytest.fixture
def sb(sandbox_server: SandboxServer) -> Iterator[SandboxServer]:
    sandbox_server.reset_stats()
    yield sandbox_server
    sandbox_server.configure(**RESET)
    sandbox_server.reset_stats()


@pytest.fixture
async def make(sb: SandboxServer) -> AsyncIterator[Callable[..., tuple[DingTalkClient, Recorder]]]:
    made: list[DingTalkClient] = []

    def factory(**kw: Any) -> tuple[DingTalkClient, Recorder]:
        recorder = Recorder()
        kw.setdefault("rate_limit_pause", 0.01)
        client = make_client(sb, agent_id=sb.app.agent_id, transport=recorder, **kw)
        made.append(client)
        return client, recorder

    yield factory
    for client in made:
        await client.aclose()


# =============================================================================================
async def test_eb04_client_never_sends_corp_id_for_the_app_token(make: Any) -> None:
    for endpoint in ("v1.0", "gettoken"):
        client, rec = make(token_endpoint=endpoint)
        assert await client.get_access_token()
        (sent,) = rec.requests
        assert "corpid" not in str(sent.url.params).lower()
        if endpoint == "v1.0":
            assert json.loads(sent.content) == {
                "appKey": client.app_key,
                "appSecret": client._app_secret,
            }


async def test_eb07_eb22_user_token_any_4xx_is_a_rejected_code(
    make: Any, sb: SandboxServer
) -> None:
    client, rec = make()
    userid = sorted(sb.company.users)[0]
    code = sb.mint_authcode(userid)
    token = await client.auth.get_user_access_token(code)
    assert token.access_token and token.refresh_token
    assert token.expire_in == 7200 and token.corp_id == sb.app.corp_id
    (sent,) = rec.to("/v1.0/oauth2/userAccessToken")
    assert "x-acs-dingtalk-access-token" not in sent.headers  # EB-22: no token header
    assert "access_token" not in sent.url.params
    assert json.loads(sent.content)["grantType"] == "authorization_code"
    assert rec.to("/v1.0/oauth2/accessToken") == []  # no app token was fetched for it

    with pytest.raises(AuthCodeError) as reused:
        await client.auth.get_user_access_token(code)
    assert reused.value.http_status == 400
    for error_code in ("invalid.authCode", "someFutureCode"):  # never matched on the string
        sb.configure(user_code_error=error_code)
        with pytest.raises(AuthCodeError) as other:
            await client.auth.get_user_access_token("never-minted")
        assert other.value.errcode == error_code
    refreshed = await client.auth.refresh_user_access_token(token.refresh_token or "")
    assert refreshed.access_token != token.access_token
    with pytest.raises(AuthCodeError):
        await client.auth.refresh_user_access_token("unknown-refresh-token")
    assert client._app_secret not in repr(token) and token.access_token not in repr(token)


async def test_eb15_legacy_admin_list_accepts_both_keys(make: Any, sb: SandboxServer) -> None:
    client, _ = make()
    legacy = await client.contacts.list_admins_legacy()
    current = await client.contacts.list_admins()
    assert {a.userid: a.sys_level for a in legacy} == {a.userid: a.sys_level for a in current}
    assert {a.userid: a.sys_level for a in legacy} == dict(sb.company.admins)
    sdk_shape = LegacyAdminList.model_validate(
        {"admin_list": [{"userid": "u1", "sys_level": "2", "admin_mobile": "138"}]}
    )
    assert [(a.userid, a.sys_level) for a in sdk_shape.admins] == [("u1", 2)]
    doc_shape = LegacyAdminList.model_validate({"adminList": {"userid": "u2", "sys_level": 1}})
    assert [(a.userid, a.is_main) for a in doc_shape.admins] == [("u2", True)]


async def test_eb16_legacy_jsapi_ticket_is_fetched_without_type(make: Any) -> None:
    client, rec = make(jsapi_ticket_endpoint="legacy")
    assert await client.auth.get_jsapi_ticket()
    (sent,) = rec.to("/get_jsapi_ticket")
    assert set(sent.url.params) == {"access_token"}


async def test_eb17_eb18_dd_config_passes_the_sandbox_check(make: Any, sb: SandboxServer) -> None:
    client, _ = make()
    url = "http://127.0.0.1:8000/page?x=%E4%B8%AD&y=a+b#/deep"
    for algorithm in ("sha256", "sha1"):
        cfg = await client.auth.jsapi_config(url, algorithm=algorithm)
        assert cfg.time_stamp.isdigit() and len(cfg.time_stamp) == 13  # epoch ms (EB-18)
        async with httpx.AsyncClient(base_url=sb.base_url) as http:
            r = await http.post(
                "/sandbox/jsapi/verify",
                json={
                    "agentId": cfg.agent_id,
                    "corpId": cfg.corp_id,
                    "timeStamp": cfg.time_stamp,
                    "nonceStr": cfg.nonce_str,
                    "signature": cfg.signature,
                    "url": url,
                },
            )
        assert r.status_code == 200 and r.json()["algorithm"] == algorithm, r.text


async def test_eb19_eb27_quota_exhausted_is_not_retried(make: Any, sb: SandboxServer) -> None:
    client, _ = make()
    await client.get_access_token()
    sb.reset_stats()
    sb.configure(monthly_quota=0)
    with pytest.raises(QuotaExceededError) as old:
        await client.oapi("POST", "/topapi/report/template/listbyuserid", json={})
    assert old.value.reason == "90020"
    path = "/v1.0/workflow/processes/userVisibilities/templates"
    with pytest.raises(QuotaExceededError) as new:
        await client.api("GET", path, params={"maxResults": 10, "nextToken": 0})
    assert new.value.http_status == 403
    assert client.calls["/topapi/report/template/listbyuserid"] == 1 and client.calls[path] == 1
    assert len(await client.contacts.list_admins()) >= 1  # contacts stay exempt


async def test_eb20_global_limit_is_retried_until_the_ban_ends(
    make: Any, sb: SandboxServer
) -> None:
    client, _ = make(rate_limit_pause=0.3)  # DingTalk says: wait about a second, go on
    await client.get_access_token()
    sb.configure(global_qps_limit=1, global_ban_s=0.2)
    answers = await asyncio.gather(*(client.contacts.list_admins() for _ in range(3)))
    assert all(answers)
    assert client.retries["/topapi/user/listadmin"] >= 1
    assert sb.stats()["rate_limited"]["/topapi/user/listadmin"] >= 1


async def test_eb25_ip_ban_stops_every_call(make: Any, sb: SandboxServer) -> None:
    client, rec = make()
    await client.get_access_token()
    sb.configure(ip_ban_calls=1)
    assert await client.contacts.list_admins()
    with pytest.raises(IPBannedError):
        await client.contacts.list_admins()
    sent = len(rec.requests)
    with pytest.raises(IPBannedError):
        await client.contacts.count_users()  # fails fast: nothing is sent during the ban
    assert len(rec.requests) == sent


async def test_eb39_invalid_offset_is_an_invalid_argument(make: Any) -> None:
    client, _ = make()
    with pytest.raises(InvalidArgumentError) as exc:
        await client.oapi(
            "POST",
            "/topapi/smartwork/hrm/employee/querydimission",
            json={"offset": -1, "size": 10},
        )
    assert exc.value.reason == "40068"


async def test_eb26_errors_are_classified_by_number_not_text(make: Any) -> None:
    client, _ = make()
    with pytest.raises(AuthCodeError) as exc:
        await client.auth.get_userinfo_by_code("no-such-code")
    assert exc.value.reason == "40078" and exc.value.errmsg == "不存在的临时授权码"


async def test_eb31_eb55_refusals_are_permission_errors(make: Any, sb: SandboxServer) -> None:
    client, _ = make()
    world = sb.state.areas["approvals"].world
    pid = next(iter(world.instances))
    report_id = sb.state.areas["reports"].world.reports[-1].report_id
    sb.configure(historic_permissions_denied=True)
    with pytest.raises(PermissionDeniedError) as stats:
        await client.reports.get_statistics(report_id)
    assert stats.value.reason == "60011"
    inst = await client.approvals.get_instance(pid)  # v1.0 is still granted
    assert inst.process_instance_id == pid
    sb.configure(historic_permissions_denied=False, data_scope_dept_ids=[])
    outsider = sorted(sb.company.users)[0]
    with pytest.raises(PermissionDeniedError) as scope:
        await client.oapi(
            "POST",
            "/topapi/report/template/getbyname",
            json={"userid": outsider, "template_name": "日报"},
        )
    assert scope.value.reason == "50002"


def test_eb78_undocumented_approval_types_are_accepted_and_flagged() -> None:
    delete = event_from_http(
        {
            "EventType": "bpms_instance_change",
            "corpId": "dingcorp",
            "processInstanceId": "p1",
            "type": "delete",
        }
    )
    assert delete.approval_type == "delete" and delete.has_unknown_approval_type
    assert delete.process_instance_id == "p1"
    terminate = event_from_stream(
        {
            "headers": {"eventType": "bpms_instance_change", "eventId": "e1"},
            "data": json.dumps({"processInstanceId": "p2", "type": "terminate"}),
        }
    )
    assert terminate.approval_type == "terminate" and not terminate.has_unknown_approval_type
    task = event_from_http({"EventType": "bpms_task_change", "type": "cancel", "taskId": 3})
    assert not task.has_unknown_approval_type
    contact = event_from_http({"EventType": "user_add_org", "UserId": ["u"], "TimeStamp": "1"})
    assert not contact.has_unknown_approval_type


async def test_eb78_an_undocumented_type_is_logged_and_the_instance_re_read(
    make: Any, sb: SandboxServer, caplog: pytest.LogCaptureFixture, tmp_path: Any
) -> None:
    from dingsync.store import db
    from dingsync.sync.events import EventProcessor

    engine = db.create_engine_for(f"sqlite:///{tmp_path / 'eb78.db'}")
    db.migrate(engine)
    client, rec = make()
    processor = EventProcessor(client, engine, sb.app.corp_id)
    try:
        async with httpx.AsyncClient(base_url=sb.base_url) as http:
            pid = (await http.post("/sandbox/mutate/approvals/submit", json={})).json()[
                "process_instance_id"
            ]

            def event(kind: str) -> Any:
                return event_from_http(
                    {"EventType": "bpms_instance_change", "processInstanceId": pid, "type": kind}
                )

            with caplog.at_level(logging.INFO, logger="dingsync.sync.events"):
                assert await processor.handle(event("start")) == "processed"
                assert not any("undocumented" in r.getMessage() for r in caplog.records)
                assert await processor.handle(event("archive")) == "processed"  # re-read
                deleted = await http.post(
                    "/sandbox/mutate/approvals/delete", json={"process_instance_id": pid}
                )
                assert deleted.status_code == 200
                assert await processor.handle(event("delete")) == "skipped"  # gone upstream
        messages = [r.getMessage() for r in caplog.records]
        assert any("undocumented type 'archive'" in m for m in messages)
        assert any("undocumented type 'delete'" in m for m in messages)
        assert len(rec.to("/v1.0/workflow/processInstances")) >= 3
    finally:
        await processor.aclose()
        engine.dispose()


async def test_eb79_a_schedule_change_is_accepted_and_its_days_re_read(
    make: Any, sb: SandboxServer, tmp_path: Any
) -> None:
    from dingsync.store import db
    from dingsync.sync.events import EventProcessor

    engine = db.create_engine_for(f"sqlite:///{tmp_path / 'eb79.db'}")
    db.migrate(engine)
    client, rec = make()
    processor = EventProcessor(client, engine, sb.app.corp_id)
    area = sb.state.areas["attendance"]
    userid = sorted(u for g in area.world.groups for u in g.members)[0]
    first = area.world.dates[-3]
    begin_ms = int(datetime(first.year, first.month, first.day, tzinfo=GMT8).timestamp() * 1000)
    legacy = {
        "EventType": "attendance_schedule_change",
        "CorpId": sb.app.corp_id,
        "DataList": [
            {
                "workDateBegin": begin_ms,
                "workDateEnd": begin_ms + 2 * 86_400_000,
                "corpId": sb.app.corp_id,
                "userIds": [userid],
                "type": "modify",
            }
        ],
    }
    try:
        assert await processor.handle(event_from_http(legacy)) == "processed"
        listed = rec.to("/attendance/list")
        assert listed and userid in json.loads(listed[0].content)["userIdList"]
    finally:
        await processor.aclose()
        engine.dispose()


def test_eb92_legacy_isv_time_stamp_number_or_string() -> None:
    as_number = event_from_http(
        {
            "TimeStamp": 1553709079062,
            "AuthCode": "code",
            "AuthCorpId": "dingcorp",
            "EventType": "tmp_auth_code",
            "SuiteKey": "suitekey",
        }
    )
    as_text = event_from_http(
        {
            "EventType": "suite_relieve",
            "SuiteKey": "suitekey",
            "TimeStamp": "12351458245",
            "AuthCorpId": "dingcorp",
        }
    )
    assert as_number.event_time_ms == 1553709079062
    assert as_text.event_time_ms == 12351458245
