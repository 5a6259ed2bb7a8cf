"""The ISV client (``dingtalk/isv.py``): the signature against a worked example, and suite and
company tokens against the sandbox suite over loopback HTTP (both hosts' endpoints, the typed
errors, the cache keys)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dingsync.dingtalk import DingTalkClient, MemoryTokenStore
from dingsync.dingtalk.isv import (
    FixedTicket,
    NotAuthorisedError,
    SignatureError,
    SuiteClient,
    SuiteTicketMissingError,
    SuiteTicketRejectedError,
    parse_auth_info,
    sign,
    signed_query,
    url_encode,
)
from dingsync.sandbox.isv import IsvConfig, IsvSandboxServer

# Worked example, computed outside Python from events.md §4.3 with
#   printf '1700000000000\nTestSuiteTicket' |
#     openssl dgst -sha256 -hmac 'suiteSecretForTheWorkedExample' -binary | base64
WORKED_SECRET = "suiteSecretForTheWorkedExample"
WORKED_TIMESTAMP = 1700000000000
WORKED_TICKET = "TestSuiteTicket"
WORKED_SIGNATURE = "8B+s9uox2aGkj44gqf0PE42nrs37DE8RTlMikH/Uf0k="
WORKED_ENCODED = "8B%2Bs9uox2aGkj44gqf0PE42nrs37DE8RTlMikH%2FUf0k%3D"


def test_signature_matches_the_worked_example() -> None:
    assert sign(WORKED_SECRET, WORKED_TIMESTAMP, WORKED_TICKET) == WORKED_SIGNATURE
    assert sign(WORKED_SECRET, str(WORKED_TIMESTAMP), WORKED_TICKET) == WORKED_SIGNATURE
    assert url_encode(WORKED_SIGNATURE) == WORKED_ENCODED
    query = signed_query("suiteKEY", WORKED_SECRET, WORKED_TICKET, WORKED_TIMESTAMP)
    assert query == (
        f"accessKey=suiteKEY&timestamp={WORKED_TIMESTAMP}&suiteTicket=TestSuiteTicket"
        f"&signature={WORKED_ENCODED}"
    )


def test_url_encoding_follows_javas_encoder_with_the_documented_replacements() -> None:
    # Java's URLEncoder, then + → %20, * → %2A, ~ → %7E, / → %2F (events.md §4.3)
    assert url_encode("a b*c~d/e+f=g") == "a%20b%2Ac%7Ed%2Fe%2Bf%3Dg"
    assert url_encode("AZaz09-_.") == "AZaz09-_."


@pytest.fixture(scope="module")
def suite() -> Iterator[IsvSandboxServer]:
    with IsvSandboxServer(IsvConfig(seed=3, corps=[(41, 25), (42, 35)], days=2)) as sb:
        yield sb


def _ticket(sb: IsvSandboxServer) -> str:
    return str(httpx.get(f"{sb.base_url}/sandbox/isv").json()["suite_ticket"])


def _client(sb: IsvSandboxServer, ticket: str | None, **kw: object) -> SuiteClient:
    source = FixedTicket(ticket) if ticket is not None else FixedTicket("")
    return SuiteClient(
        sb.suite_key,
        sb.suite_secret,
        source,
        oapi_url=sb.base_url,
        api_url=sb.base_url,
        qps_per_api=None,
        max_retries=1,
        backoff_base=0.01,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("suite_ep", ["v1.0", "service"])
@pytest.mark.parametrize("corp_ep", ["v1.0", "service"])
async def test_suite_and_company_tokens_work_on_each_companys_apis(
    suite: IsvSandboxServer, suite_ep: str, corp_ep: str
) -> None:
    store = MemoryTokenStore()
    async with _client(
        suite,
        _ticket(suite),
        token_store=store,
        suite_token_endpoint=suite_ep,
        corp_token_endpoint=corp_ep,
    ) as client:
        assert await client.suite_access_token()
        for corp_id, corp in suite.corps.items():
            company = corp.state.company
            api: DingTalkClient = client.corp_client(corp_id)
            assert client.corp_client(corp_id) is api  # one client (and cache) per company
            count = await api.oapi("POST", "/topapi/user/count", json={"only_active": False})
            assert count["result"]["count"] == len(company.users)
            sub = await api.contacts.list_sub_department_ids(1)
            top = sorted(d.dept_id for d in company.departments.values() if d.parent_id == 1)
            assert sorted(sub) == top
        keys = set(await _keys(store))
        assert keys == {f"isv:{suite.suite_key}:suite"} | {
            f"isv:{suite.suite_key}:corp:{c}" for c in suite.corps
        }
        values = [(await store.get(k)).value for k in keys]  # type: ignore[union-attr]
        assert len(set(values)) == len(values)  # no two keys share a token


async def _keys(store: MemoryTokenStore) -> list[str]:
    return list(store._tokens)


async def test_a_rejected_company_token_is_renewed_once(suite: IsvSandboxServer) -> None:
    corp_id = next(iter(suite.corps))
    async with _client(suite, _ticket(suite)) as client:
        api = client.corp_client(corp_id)
        first = await api.get_access_token()
        suite.corps[corp_id].state.invalidate_tokens()  # DingTalk forgets it
        body = await api.oapi("POST", "/topapi/user/count", json={"only_active": False})
        assert body["result"]["count"] == len(suite.corps[corp_id].state.company.users)
        assert await api.get_access_token() != first


async def test_no_ticket_is_a_typed_error_and_nothing_is_sent(suite: IsvSandboxServer) -> None:
    suite.reset_stats()
    async with _client(suite, None) as client:
        with pytest.raises(SuiteTicketMissingError, match="no suite_ticket received yet"):
            await client.suite_access_token()
        with pytest.raises(SuiteTicketMissingError):
            await client.corp_access_token(next(iter(suite.corps)))
        assert client.http.calls == {}
    assert suite.stats()["total_calls"] == 0


@pytest.mark.parametrize("ep", ["v1.0", "service"])
async def test_an_outdated_ticket_is_refused(suite: IsvSandboxServer, ep: str) -> None:
    old = _ticket(suite)
    await asyncio.to_thread(httpx.post, f"{suite.base_url}/sandbox/isv/push_ticket", json={})
    async with _client(suite, old, suite_token_endpoint=ep, corp_token_endpoint=ep) as client:
        with pytest.raises(SuiteTicketRejectedError) as exc:
            await client.suite_access_token()
        assert exc.value.reason == ("invalidSuiteTicket" if ep == "v1.0" else "40085")
        with pytest.raises(SuiteTicketRejectedError):
            await client.corp_access_token(next(iter(suite.corps)))


def test_an_unencoded_signature_is_853004(suite: IsvSandboxServer) -> None:
    ticket = _ticket(suite)
    corp_id = next(iter(suite.corps))
    for stamp in range(1_700_000_000_000, 1_700_000_000_400):  # one whose base64 has a '+'
        signature = sign(suite.suite_secret, stamp, ticket)
        if "+" in signature:
            break
    raw = (
        f"{suite.base_url}/service/get_corp_token?accessKey={suite.suite_key}&timestamp={stamp}"
        f"&suiteTicket={ticket}&signature="
    )
    bad = httpx.post(raw + signature, json={"auth_corpid": corp_id}).json()
    assert bad["errcode"] == 853004
    good = httpx.post(raw + url_encode(signature), json={"auth_corpid": corp_id}).json()
    assert good["errcode"] == 0 and good["expires_in"] == 7200


async def test_a_wrong_secret_is_a_signature_error(suite: IsvSandboxServer) -> None:
    corp_id = next(iter(suite.corps))
    async with _client(suite, _ticket(suite)) as client:
        client._secret = "not-the-secret"
        with pytest.raises(SignatureError):
            await client.get_auth_info(corp_id, "service")


@pytest.mark.parametrize("ep", ["v1.0", "service"])
async def test_auth_info_of_both_hosts(suite: IsvSandboxServer, ep: str) -> None:
    corp_id, corp = next(iter(suite.corps.items()))
    company = corp.state.company
    async with _client(suite, _ticket(suite)) as client:
        info = await client.get_auth_info(corp_id, ep)  # type: ignore[arg-type]
        assert info.corp_id == corp_id and info.corp_name == company.corp_name
        assert info.agent is not None and str(info.agent.agent_id) == corp.agent_id
        assert info.agent.admin_list == [company.main_admin_userid, *company.sub_admin_userids]
        assert info.auth_user_id == company.main_admin_userid
        with pytest.raises(NotAuthorisedError):
            await client.get_auth_info("ding" + "0" * 32, ep)  # type: ignore[arg-type]


def test_auth_info_parses_the_stream_event_shape(shared_dingtalk: Path) -> None:
    data = {
        "authCorpInfo": {"corpid": "dingabc", "corpName": "甲公司", "authLevel": 1},
        "permanentCode": "pc",
        "authUserInfo": {"userId": "u1"},
        "authScope": {"authOrgScopes": {"authedDept": [1], "authedUser": []}},
        "authInfo": {"agent": [{"agentid": 123, "adminList": ["u1", "u2"], "appid": 9}]},
    }
    info = parse_auth_info(data)
    assert (info.corp_id, info.corp_name, info.permanent_code) == ("dingabc", "甲公司", "pc")
    assert info.agent is not None and info.agent.admin_list == ["u1", "u2"]
    assert info.auth_scope == {"authedDept": [1], "authedUser": []}
    sample = json.loads((shared_dingtalk / "samples/isv/service_get_corp_token.json").read_text())
    assert set(sample) == {"access_token", "expires_in", "errcode", "errmsg"}


async def test_test_suites_accept_any_placeholder_ticket() -> None:
    cfg = IsvConfig(seed=5, corps=[(51, 20)], days=1, test_suite=True)
    with IsvSandboxServer(cfg) as sb:
        async with _client(sb, "TestSuiteTicket", corp_token_endpoint="service") as client:
            assert await client.suite_access_token()
            corp_id = next(iter(sb.corps))
            body = await client.corp_client(corp_id).oapi(
                "POST", "/topapi/user/count", json={"only_active": False}
            )
            assert body["result"]["count"] == 20
