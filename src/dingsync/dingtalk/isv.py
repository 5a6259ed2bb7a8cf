"""Third-party enterprise apps (ISV, 第三方企业应用): the suite's tokens and each company's.

A suite (suite key/secret) is authorised by many companies (``corp_id``). DingTalk pushes a
``suite_ticket`` about every 5 hours; every token call carries the latest one (events.md §4).
This module knows the wire protocol only; the ticket comes from a :class:`SuiteTicketSource`
(``dingsync.store.isv.SuiteTicketStore`` keeps it in our database) and tokens go through the
same :class:`~dingsync.dingtalk.tokens.TokenCache` machinery (and shared ``TokenStore``) as an
internal app's, under their own keys:

- ``isv:<suiteKey>:suite`` — the suite access token (``/v1.0/oauth2/suiteAccessToken`` or
  ``POST /service/get_suite_token``);
- ``isv:<suiteKey>:corp:<corpId>`` — a company's access token (``/v1.0/oauth2/corpAccessToken``
  or the signed ``POST /service/get_corp_token``), the one a company's
  :class:`~dingsync.dingtalk.DingTalkClient` (:meth:`SuiteClient.corp_client`) sends on every
  ordinary API (contacts, reports …). A token DingTalk rejects is renewed once per generation
  (single flight), as for an internal app.

Errors: :class:`SuiteTicketMissingError` (no ticket stored yet: nothing is sent to DingTalk),
:class:`SuiteTicketRejectedError` (``40085`` / 400 ``invalidSuiteTicket``),
:class:`SignatureError` (``853004``), :class:`NotAuthorisedError` (``41030`` / 400
``invalidAuthInfo``: the company has not authorised the suite, or relieved it), besides the
client's own :class:`~dingsync.dingtalk.errors.DingTalkError` tree.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any, Literal, Protocol
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from dingsync.dingtalk._base import DEFAULT_API_URL, DEFAULT_OAPI_URL, DingTalkClient
from dingsync.dingtalk.errors import DingTalkError, TokenError
from dingsync.dingtalk.tokens import TokenStore

PATH_SUITE_TOKEN_V1 = "/v1.0/oauth2/suiteAccessToken"
PATH_SUITE_TOKEN = "/service/get_suite_token"
PATH_CORP_TOKEN_V1 = "/v1.0/oauth2/corpAccessToken"
PATH_CORP_TOKEN = "/service/get_corp_token"
PATH_AUTH_INFO = "/service/get_auth_info"
PATH_AUTH_INFO_V1 = "/v1.0/oauth2/apps/authInfo"
PATH_PERMANENT_CODE = "/service/get_permanent_code"
PATH_ACTIVATE_SUITE = "/service/activate_suite"
PATH_UNACTIVE_CORP = "/service/get_unactive_corp"

#: ISV event types (events.md §4.5): what a suite's receiver handles itself.
SUITE_TICKET_EVENTS = frozenset({"suite_ticket"})
AUTH_EVENTS = frozenset({"org_suite_auth", "org_suite_change", "change_auth", "tmp_auth_code"})
RELIEVE_EVENTS = frozenset({"org_suite_relieve", "suite_relieve"})
APP_EVENTS = frozenset(
    {"org_micro_app_stop", "org_micro_app_restore", "org_micro_app_remove",
     "org_micro_app_scope_update"}
)  # fmt: skip
SYNC_HTTP_EVENTS = frozenset({"SYNC_HTTP_PUSH_HIGH", "SYNC_HTTP_PUSH_MEDIUM"})
ISV_EVENTS = SUITE_TICKET_EVENTS | AUTH_EVENTS | RELIEVE_EVENTS | APP_EVENTS | SYNC_HTTP_EVENTS

Endpoint = Literal["v1.0", "service"]
#: How a company token is fetched: ``v1.0`` (``corpAccessToken``), ``service`` (signed
#: ``get_corp_token``) or ``permanent`` (``get_corp_token?suite_access_token=`` with the
#: company's permanent code — older suites).
CorpEndpoint = Literal["v1.0", "service", "permanent"]


# -- errors ------------------------------------------------------------------------------------
class SuiteTicketMissingError(DingTalkError):
    """No ``suite_ticket`` has been received for the suite yet: DingTalk pushes one about every
    5 hours (over Stream, SyncHTTP or the HTTP callback); until then no suite or company token
    can be fetched, and nothing is sent with an empty ticket."""

    def __init__(self, suite_key: str) -> None:
        super().__init__(
            "no_suite_ticket",
            f"no suite_ticket received yet for suite {suite_key}: DingTalk pushes one about "
            "every 5 hours to the suite's Stream connection or callback URL — check that the "
            "receiver runs and is subscribed, then wait for the next push",
        )
        self.suite_key = suite_key


class SuiteTicketRejectedError(DingTalkError):
    """DingTalk refused the ticket (``40085`` / 400 ``invalidSuiteTicket``): a newer one was
    pushed and not yet stored, or the stored one is wrong."""


class SignatureError(DingTalkError):
    """``853004``: the ``get_corp_token``/``get_auth_info`` signature did not match."""


class NotAuthorisedError(DingTalkError):
    """``41030`` / 400 ``invalidAuthInfo``: the company has not authorised the suite (or has
    relieved it, or stopped the app)."""


_REASONS: dict[str, type[DingTalkError]] = {
    "40085": SuiteTicketRejectedError,
    "invalidSuiteTicket": SuiteTicketRejectedError,
    "853004": SignatureError,
    "41030": NotAuthorisedError,
    "invalidAuthInfo": NotAuthorisedError,
}


def _specific(err: DingTalkError) -> DingTalkError:
    cls = _REASONS.get(err.reason)
    if cls is None:
        return err
    return cls(
        err.errcode,
        err.errmsg,
        sub_code=err.sub_code,
        api=err.api,
        request_id=err.request_id,
        http_status=err.http_status,
    )


# -- the signature (events.md §4.3) ------------------------------------------------------------
def sign(secret: str, timestamp_ms: int | str, suite_ticket: str) -> str:
    """``base64(HmacSHA256(key=secret, message=timestamp + "\\n" + suiteTicket))`` (UTF-8), not
    yet URL-encoded. ``secret``: the suite secret (or customKey's secret)."""
    message = f"{timestamp_ms}\n{suite_ticket}".encode()
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def url_encode(value: str) -> str:
    """Java's ``URLEncoder`` plus ``+``→``%20``, ``*``→``%2A``, ``~``→``%7E``, ``/``→``%2F``
    (events.md §4.3): every character but letters, digits, ``-``, ``_`` and ``.``
    percent-encoded."""
    return quote(value, safe="-_.").replace("~", "%7E")  # quote always keeps "~"


def signed_query(suite_key: str, secret: str, suite_ticket: str, timestamp_ms: int) -> str:
    """The query string of a signed call: ``accessKey=…&timestamp=…&suiteTicket=…&signature=…``
    with every value URL-encoded."""
    signature = sign(secret, timestamp_ms, suite_ticket)
    return (
        f"accessKey={url_encode(suite_key)}&timestamp={timestamp_ms}"
        f"&suiteTicket={url_encode(suite_ticket)}&signature={url_encode(signature)}"
    )


# -- models ------------------------------------------------------------------------------------
class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class AuthAgent(_Model):
    """The suite's app in a company: ``agent_id``, ``agent_name``, ``app_id``, ``admin_list``
    (userids of the administrators who may manage it)."""

    agent_id: int | None = None
    agent_name: str | None = None
    app_id: int | None = None
    admin_list: list[str] = Field(default_factory=list)


class AuthInfo(_Model):
    """A company's authorisation (``get_auth_info`` / ``apps/authInfo`` / an
    ``org_suite_auth`` event): ``corp_id``, ``corp_name``, ``agents``, ``auth_user_id`` (who
    authorised), ``auth_level``, ``is_authenticated``, ``permanent_code`` (events only),
    ``auth_scope`` (``{authedDept: [dept_id], authedUser: [userid]}`` when known) and ``raw``."""

    corp_id: str
    corp_name: str | None = None
    agents: list[AuthAgent] = Field(default_factory=list)
    auth_user_id: str | None = None
    auth_level: int | None = None
    is_authenticated: bool | None = None
    permanent_code: str | None = None
    auth_scope: dict[str, list[Any]] | None = None
    raw: dict[str, Any] = Field(default_factory=dict)

    @property
    def agent(self) -> AuthAgent | None:
        return self.agents[0] if self.agents else None


def _ci(data: dict[str, Any], *names: str) -> Any:
    lowered = {k.lower().replace("_", ""): v for k, v in data.items()}
    for name in names:
        value = lowered.get(name.lower().replace("_", ""))
        if value is not None:
            return value
    return None


def parse_auth_info(data: dict[str, Any], corp_id: str | None = None) -> AuthInfo:
    """An :class:`AuthInfo` from any of DingTalk's shapes — ``get_auth_info`` (snake_case:
    ``auth_corp_info``, ``auth_info.agent``), ``/v1.0/oauth2/apps/authInfo`` (camelCase:
    ``authCorpInfo``, ``authAppInfo.agentList``), or an ``org_suite_auth`` /
    ``org_suite_change`` event's data (``authCorpInfo``, ``authInfo.agent``, ``authScope``,
    ``permanentCode``; SyncHTTP's snake_case too). Keys are matched case- and
    underscore-insensitively."""
    corp = _ci(data, "authCorpInfo") or {}
    app_info = _ci(data, "authAppInfo") or _ci(data, "authInfo") or {}
    raw_agents = _ci(app_info, "agentList", "agent") or []
    agents = [
        AuthAgent(
            agent_id=_int(_ci(a, "agentId")),
            agent_name=_ci(a, "agentName"),
            app_id=_int(_ci(a, "appId")),
            admin_list=[str(u) for u in (_ci(a, "adminList") or [])],
        )
        for a in raw_agents
        if isinstance(a, dict)
    ]
    user = _ci(data, "authUserInfo") or {}
    scope = _ci(data, "authScope") or {}
    org_scopes = _ci(scope, "authOrgScopes") if isinstance(scope, dict) else None
    auth_scope = None
    if isinstance(org_scopes, dict):
        auth_scope = {
            "authedDept": [_int(d) for d in (_ci(org_scopes, "authedDept") or [])],
            "authedUser": [str(u) for u in (_ci(org_scopes, "authedUser") or [])],
        }
    found = _ci(corp, "corpId") or corp_id
    if not found:
        raise ValueError("auth info without a corpId")
    return AuthInfo(
        corp_id=str(found),
        corp_name=_ci(corp, "corpName"),
        agents=agents,
        auth_user_id=_ci(user, "userId"),
        auth_level=_int(_ci(corp, "authLevel")),
        is_authenticated=_ci(corp, "isAuthenticated"),
        permanent_code=_ci(data, "permanentCode"),
        auth_scope=auth_scope,
        raw=data,
    )


def _int(value: Any) -> int | None:
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None


# -- the ticket source -------------------------------------------------------------------------
class SuiteTicketSource(Protocol):
    """Where the latest ``suite_ticket`` is kept (``dingsync.store.isv.SuiteTicketStore``)."""

    async def current(self, suite_key: str) -> str | None:
        """The latest ticket received for ``suite_key``, or ``None``."""
        ...


class PermanentCodeSource(Protocol):
    """Where legacy suites keep each company's permanent code
    (``dingsync.store.isv.PermanentCodeStore``)."""

    async def permanent_code(self, suite_key: str, corp_id: str) -> str | None:
        """The permanent code of ``corp_id``'s authorisation, or ``None``."""
        ...


class FixedTicket:
    """A constant ticket: test and customised apps accept any placeholder (events.md §4.1)."""

    def __init__(self, ticket: str = "TestSuiteTicket") -> None:
        self.ticket = ticket

    async def current(self, suite_key: str) -> str | None:
        return self.ticket


# -- the suite client --------------------------------------------------------------------------
class _SuiteOwnedClient(DingTalkClient):
    """A company's client that owns its :class:`SuiteClient` (``corp_client(closes_suite=True)``):
    closing it closes the suite's own connections too."""

    suite: SuiteClient | None = None

    async def aclose(self) -> None:
        await super().aclose()
        if self.suite is not None:
            await self.suite.aclose()


class SuiteClient:
    """One third-party suite: its token, the companies' tokens and clients, auth info and the
    legacy activation. Use as ``async with``; :meth:`aclose` closes every company client.

    ``tickets``: the ticket source; ``token_store``: the shared cache (``DatabaseTokenStore``)
    for the suite token and every company token; ``suite_token_endpoint`` /
    ``corp_token_endpoint``: ``"v1.0"`` (new host, default) or ``"service"`` (old host;
    ``get_corp_token`` signed), and for the company token also ``"permanent"`` (older suites:
    ``?suite_access_token=`` with the permanent code from ``permanent_codes``); ``clock``:
    epoch seconds (the signature's timestamp and token expiry). Other keywords go to every
    :class:`DingTalkClient` built (limits, retries …).
    """

    def __init__(
        self,
        suite_key: str,
        suite_secret: str,
        tickets: SuiteTicketSource,
        *,
        oapi_url: str = DEFAULT_OAPI_URL,
        api_url: str = DEFAULT_API_URL,
        token_store: TokenStore | None = None,
        suite_token_endpoint: Endpoint = "v1.0",
        corp_token_endpoint: CorpEndpoint = "v1.0",
        permanent_codes: PermanentCodeSource | None = None,
        clock: Callable[[], float] = time.time,
        **client_kw: Any,
    ) -> None:
        if not suite_key or not suite_secret:
            raise ValueError("SuiteClient needs a suite key and a suite secret")
        self.suite_key = suite_key
        self._secret = suite_secret
        self.tickets = tickets
        self.suite_token_endpoint: Endpoint = suite_token_endpoint
        self.corp_token_endpoint: CorpEndpoint = corp_token_endpoint
        self.permanent_codes = permanent_codes
        self._clock = clock
        self._client_kw = dict(client_kw)
        self._client_kw.update(
            oapi_url=oapi_url, api_url=api_url, token_store=token_store, token_clock=clock
        )
        #: The transport for the suite's own calls; its access token is the suite token.
        self.http = DingTalkClient(
            suite_key,
            suite_secret,
            token_key=f"isv:{suite_key}:suite",
            token_fetcher=self._fetch_suite_token,
            **self._client_kw,
        )
        self._corps: dict[str, DingTalkClient] = {}

    def __repr__(self) -> str:
        return f"SuiteClient(suite_key={self.suite_key!r})"

    async def __aenter__(self) -> SuiteClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for client in self._corps.values():
            await client.aclose()
        self._corps.clear()
        await self.http.aclose()

    # -- tickets and tokens ----------------------------------------------------------------
    async def ticket(self) -> str:
        """The latest ``suite_ticket``; :class:`SuiteTicketMissingError` when there is none."""
        value = await self.tickets.current(self.suite_key)
        if not value:
            raise SuiteTicketMissingError(self.suite_key)
        return value

    async def suite_access_token(self) -> str:
        """The suite access token (cached under ``isv:<suiteKey>:suite``, single flight)."""
        return await self.http.get_access_token()

    async def _fetch_suite_token(self) -> tuple[str, float]:
        ticket = await self.ticket()
        try:
            if self.suite_token_endpoint == "service":
                body = await self.http.oapi(
                    "POST",
                    PATH_SUITE_TOKEN,
                    json={
                        "suite_key": self.suite_key,
                        "suite_secret": self._secret,
                        "suite_ticket": ticket,
                    },
                    auth=False,
                )
                return str(body["suite_access_token"]), float(body.get("expires_in") or 7200)
            body = await self.http.api(
                "POST",
                PATH_SUITE_TOKEN_V1,
                json={
                    "suiteKey": self.suite_key,
                    "suiteSecret": self._secret,
                    "suiteTicket": ticket,
                },
                auth=False,
            )
        except DingTalkError as err:
            raise _specific(err) from None
        return str(body["accessToken"]), float(body.get("expireIn") or 7200)

    def corp_client(
        self, corp_id: str, *, closes_suite: bool = False, **client_kw: Any
    ) -> DingTalkClient:
        """The :class:`DingTalkClient` of company ``corp_id`` (one per company, kept): every
        area API works with it; its token is the company token, cached under
        ``isv:<suiteKey>:corp:<corpId>``; its rate limiter's budget is the (suite, company)
        pair's, as DingTalk counts its limits per app per company.

        ``closes_suite``: a client of its own (not kept) whose ``aclose`` closes this suite's
        connections too — for a caller that owns the client and not the suite (the registry's
        ``corps.build_corp_client``). ``client_kw`` (``agent_id``, ``login_url`` …) go to that
        client beside the suite's keywords.
        """
        client = None if closes_suite else self._corps.get(corp_id)
        if client is None:

            async def fetch() -> tuple[str, float]:
                return await self._fetch_corp_token(corp_id)

            kw = {**self._client_kw, **client_kw}
            cls = _SuiteOwnedClient if closes_suite else DingTalkClient
            client = cls(
                self.suite_key,
                self._secret,
                corp_id=corp_id,
                token_key=f"isv:{self.suite_key}:corp:{corp_id}",
                token_fetcher=fetch,
                **kw,
            )
            if isinstance(client, _SuiteOwnedClient):
                client.suite = self
            else:
                self._corps[corp_id] = client
        return client

    async def corp_access_token(self, corp_id: str) -> str:
        """Company ``corp_id``'s access token (cached, single flight, shared store)."""
        return await self.corp_client(corp_id).get_access_token()

    async def _fetch_corp_token(self, corp_id: str) -> tuple[str, float]:
        if self.corp_token_endpoint == "permanent":
            return await self._corp_token_by_permanent_code(corp_id)
        ticket = await self.ticket()
        try:
            if self.corp_token_endpoint == "service":
                body = await self._signed(PATH_CORP_TOKEN, {"auth_corpid": corp_id}, ticket)
                return str(body["access_token"]), float(body.get("expires_in") or 7200)
            body = await self.http.api(
                "POST",
                PATH_CORP_TOKEN_V1,
                json={
                    "suiteKey": self.suite_key,
                    "suiteSecret": self._secret,
                    "authCorpId": corp_id,
                    "suiteTicket": ticket,
                },
                auth=False,
            )
        except DingTalkError as err:
            raise _specific(err) from None
        return str(body["accessToken"]), float(body.get("expireIn") or 7200)

    async def _corp_token_by_permanent_code(self, corp_id: str) -> tuple[str, float]:
        """``POST /service/get_corp_token?suite_access_token= {auth_corpid, permanent_code}``
        (older suites). Raises :class:`NotAuthorisedError` without a stored permanent code."""
        code = (
            await self.permanent_codes.permanent_code(self.suite_key, corp_id)
            if self.permanent_codes is not None
            else None
        )
        if not code:
            raise NotAuthorisedError(
                "no_permanent_code", f"no permanent code stored for {corp_id}", api=PATH_CORP_TOKEN
            )

        async def call(token: str) -> dict[str, Any]:
            return await self.http.oapi(
                "POST",
                PATH_CORP_TOKEN,
                params={"suite_access_token": token},
                json={"auth_corpid": corp_id, "permanent_code": code},
                auth=False,
            )

        try:
            body = await self._with_suite_token(call)
        except DingTalkError as err:
            raise _specific(err) from None
        return str(body["access_token"]), float(body.get("expires_in") or 7200)

    async def _signed(self, path: str, body: dict[str, Any], ticket: str) -> dict[str, Any]:
        """POST ``path`` with the signed query of §4.3 (httpx URL-encodes the base64
        signature exactly as :func:`url_encode` does)."""
        stamp = int(self._clock() * 1000)
        params = {
            "accessKey": self.suite_key,
            "timestamp": str(stamp),
            "suiteTicket": ticket,
            "signature": sign(self._secret, stamp, ticket),
        }
        return await self.http.oapi("POST", path, params=params, json=body, auth=False)

    async def _with_suite_token(self, call: Callable[[str], Any]) -> dict[str, Any]:
        """Run ``call(suite_token)`` (an old-host call with ``?suite_access_token=``); a
        rejected token is renewed once."""
        token = await self.suite_access_token()
        try:
            return dict(await call(token))
        except TokenError:
            newer, _ = await self.http._tokens.renew(token)
            return dict(await call(newer))

    # -- authorisation -----------------------------------------------------------------------
    async def get_auth_info(self, corp_id: str, endpoint: Endpoint = "v1.0") -> AuthInfo:
        """Company ``corp_id``'s authorisation: ``GET /v1.0/oauth2/apps/authInfo?authCorpId=``
        (suite token) or the signed ``POST /service/get_auth_info {auth_corpid}``.
        Raises :class:`NotAuthorisedError` when it has not authorised the suite."""
        try:
            if endpoint == "service":
                ticket = await self.ticket()
                body = await self._signed(PATH_AUTH_INFO, {"auth_corpid": corp_id}, ticket)
            else:
                body = await self.http.api("GET", PATH_AUTH_INFO_V1, params={"authCorpId": corp_id})
        except DingTalkError as err:
            raise _specific(err) from None
        return parse_auth_info(body, corp_id)

    async def get_permanent_code(self, tmp_auth_code: str) -> AuthInfo:
        """Legacy activation, step 1: ``POST /service/get_permanent_code?suite_access_token=
        {tmp_auth_code}`` (the code is single use) → ``permanent_code`` and the company."""

        async def call(token: str) -> dict[str, Any]:
            return await self.http.oapi(
                "POST",
                PATH_PERMANENT_CODE,
                params={"suite_access_token": token},
                json={"tmp_auth_code": tmp_auth_code},
                auth=False,
            )

        try:
            body = await self._with_suite_token(call)
        except DingTalkError as err:
            raise _specific(err) from None
        return parse_auth_info(body)

    async def activate_suite(self, corp_id: str, permanent_code: str) -> None:
        """Legacy activation, step 2: ``POST /service/activate_suite?suite_access_token=
        {suite_key, auth_corpid, permanent_code}``."""

        async def call(token: str) -> dict[str, Any]:
            return await self.http.oapi(
                "POST",
                PATH_ACTIVATE_SUITE,
                params={"suite_access_token": token},
                json={
                    "suite_key": self.suite_key,
                    "auth_corpid": corp_id,
                    "permanent_code": permanent_code,
                },
                auth=False,
            )

        try:
            await self._with_suite_token(call)
        except DingTalkError as err:
            raise _specific(err) from None

    async def get_unactive_corps(self, app_id: int | str) -> tuple[list[str], bool]:
        """The companies that authorised the suite but are not activated yet (legacy flow:
        ``activate_suite`` not called): ``POST /service/get_unactive_corp?suite_access_token=
        {app_id}`` (the suite's app id, 应用ID in the developer console) → ``(corp_list,
        has_more)``; the request takes no cursor, so ``has_more`` is reported, not followed.
        Raises ``DingTalkError`` (``SuiteTicketMissingError`` before the first ticket)."""

        async def call(token: str) -> dict[str, Any]:
            return await self.http.oapi(
                "POST",
                PATH_UNACTIVE_CORP,
                params={"suite_access_token": token},
                json={"app_id": int(app_id)},
                auth=False,
            )

        try:
            body = await self._with_suite_token(call)
        except DingTalkError as err:
            raise _specific(err) from None
        found: list[str] = []
        for corp in body.get("corp_list") or []:
            corp_id = corp.get("corpid") if isinstance(corp, dict) else corp
            if corp_id and str(corp_id) not in found:
                found.append(str(corp_id))
        return found, bool(body.get("has_more"))

    async def auth_scopes(self, corp_id: str) -> dict[str, list[Any]]:
        """The contacts scope the company granted: ``GET /auth/scopes`` with its token →
        ``{authedDept: [dept_id], authedUser: [userid]}`` (``[1]`` = the whole company)."""
        body = await self.corp_client(corp_id).oapi("GET", "/auth/scopes")
        scopes = body.get("auth_org_scopes") or {}
        return {
            "authedDept": [int(d) for d in scopes.get("authed_dept") or []],
            "authedUser": [str(u) for u in scopes.get("authed_user") or []],
        }


__all__ = [
    "ISV_EVENTS",
    "AuthAgent",
    "AuthInfo",
    "FixedTicket",
    "NotAuthorisedError",
    "PermanentCodeSource",
    "SignatureError",
    "SuiteClient",
    "SuiteTicketMissingError",
    "SuiteTicketRejectedError",
    "SuiteTicketSource",
    "parse_auth_info",
    "sign",
    "signed_query",
    "url_encode",
]
