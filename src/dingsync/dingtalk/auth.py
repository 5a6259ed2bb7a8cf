"""Login-free (免登) code exchange and JSAPI tickets — ``client.auth``.

A login-free authCode lives 5 minutes and works once; a reused, expired or unknown code raises
:class:`~dingsync.dingtalk.errors.AuthCodeError` (40078) — a 4xx for the user, not a 500.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from dingsync.dingtalk.errors import (
    AuthCodeError,
    CredentialsError,
    DingTalkError,
    InvalidArgumentError,
    IPBannedError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
)
from dingsync.dingtalk.jsapi import JsapiAlgorithm, normalize_jsapi_url, sign_jsapi
from dingsync.dingtalk.models.auth import (
    JsapiConfig,
    JsapiTicket,
    LegacyLoginUserInfo,
    LoginUserInfo,
    UserAccessToken,
)

if TYPE_CHECKING:
    from dingsync.dingtalk._base import DingTalkClient

JSAPI_TICKET_PATH_V1 = "/v1.0/oauth2/jsapiTickets"
JSAPI_TICKET_PATH_LEGACY = "/get_jsapi_ticket"
USER_TOKEN_PATH = "/v1.0/oauth2/userAccessToken"
#: DingTalk's browser login page, on the login host (auth-contacts.md §3.1).
AUTHORIZE_PATH = "/oauth2/auth"
#: A ticket dies 24 h after creation however often it is extended (auth-contacts.md §10.3).
JSAPI_TICKET_MAX_AGE = 24 * 3600.0


class AuthAPI:
    """``client.auth``: ``/topapi/v2/user/getuserinfo``, ``/user/getuserinfo``, the browser
    login (``{login}/oauth2/auth`` → ``/v1.0/oauth2/userAccessToken``), JSAPI tickets."""

    def __init__(self, client: DingTalkClient) -> None:
        self._client = client
        # The 24 h cap counts from the first fetch by any process sharing the token store.
        self._ticket_cache = client._make_cache(
            f"{client.token_key}:jsapi_ticket", self._fetch, max_age=JSAPI_TICKET_MAX_AGE
        )

    async def get_userinfo_by_code(self, code: str) -> LoginUserInfo:
        """Who a login-free code (from ``dd.requestAuthCode``/``dd.getAuthCode``) belongs to.
        ``POST /topapi/v2/user/getuserinfo``. Raises ``AuthCodeError`` (40078: unknown, expired
        after 5 minutes or already used; 41026/40091: missing)."""
        body = await self._client.oapi("POST", "/topapi/v2/user/getuserinfo", json={"code": code})
        result = body.get("result")
        return LoginUserInfo.model_validate(result if isinstance(result, dict) else {})

    async def get_userinfo_by_code_legacy(self, code: str) -> LegacyLoginUserInfo:
        """Archived ``GET /user/getuserinfo?code=`` (top-level fields; ``sys_level`` Number or
        String). Raises ``AuthCodeError`` like :meth:`get_userinfo_by_code`."""
        body = await self._client.oapi("GET", "/user/getuserinfo", params={"code": code})
        return LegacyLoginUserInfo.model_validate(
            {k: v for k, v in body.items() if k not in ("errcode", "errmsg", "request_id")}
        )

    def authorize_url(
        self,
        redirect_uri: str,
        state: str,
        *,
        scope: str = "openid",
        corp_id: str | None = None,
        org_type: str | None = None,
    ) -> str:
        """The URL of DingTalk's browser login page, ``GET {login_url}/oauth2/auth`` with
        ``redirect_uri`` (registered in the developer console), ``response_type=code``,
        ``client_id`` (the AppKey), ``scope`` (``openid``, or ``openid corpid``), ``state``
        (echoed back) and ``prompt=consent``; ``corpId``/``org_type`` when given. DingTalk then
        sends the browser to ``redirect_uri?authCode=<code>&code=<code>&state=<state>`` (or
        ``?error=<reason>&state=``); exchange the code with :meth:`get_user_access_token`.
        Pure: no request is made."""
        query = {
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "client_id": self._client.app_key,
            "scope": scope,
            "state": state,
            "prompt": "consent",
        }
        if corp_id:
            query["corpId"] = corp_id
        if org_type:
            query["org_type"] = org_type
        return f"{self._client.login_url}{AUTHORIZE_PATH}?{urlencode(query)}"

    async def get_user_access_token(self, code: str) -> UserAccessToken:
        """A *user* token for the person who signed in through DingTalk's OAuth2 page
        (``authCode``). ``POST /v1.0/oauth2/userAccessToken`` with ``clientId``,
        ``clientSecret``, ``code`` and ``grantType`` ``authorization_code``; no app-token header
        is sent (EB-22). Returns ``accessToken``, ``refreshToken``, ``expireIn`` (seconds, 7200)
        and ``corpId`` (the organisation chosen at login). Raises
        :class:`~dingsync.dingtalk.errors.CredentialsError` for a wrong AppKey/AppSecret (400
        ``invalidClientIdOrSecret``/``invalid.client``) and
        :class:`~dingsync.dingtalk.errors.AuthCodeError` for **any** other 4xx answer — a bad,
        expired or reused code whatever ``code`` string DingTalk sends (EB-07)."""
        return await self._user_token({"code": code, "grantType": "authorization_code"})

    async def refresh_user_access_token(self, refresh_token: str) -> UserAccessToken:
        """A new user token from a refresh token (valid 30 days). ``POST
        /v1.0/oauth2/userAccessToken`` with ``grantType`` ``refresh_token``. Raises
        ``AuthCodeError`` for any 4xx answer (a refresh token DingTalk no longer accepts)."""
        return await self._user_token({"refreshToken": refresh_token, "grantType": "refresh_token"})

    async def _user_token(self, fields: dict[str, str]) -> UserAccessToken:
        client = self._client
        payload = {"clientId": client.app_key, "clientSecret": client._app_secret, **fields}
        try:
            body = await client.api("POST", USER_TOKEN_PATH, json=payload, auth=False)
        except (RateLimitError, QuotaExceededError, IPBannedError, CredentialsError):
            raise
        except DingTalkError as err:
            status = err.http_status
            if status is not None and 400 <= status < 500:
                raise AuthCodeError(
                    err.errcode,
                    err.errmsg,
                    api=err.api,
                    request_id=err.request_id,
                    http_status=status,
                ) from None
            raise
        return UserAccessToken.model_validate(body)

    async def get_jsapi_ticket(self) -> str:
        """The app's JSAPI ticket, cached per appKey until shortly before expiry (and shared
        through the token store). ``POST /v1.0/oauth2/jsapiTickets``, or ``GET
        /get_jsapi_ticket`` when the client is configured so — or as a fallback when the v1.0
        call is refused (not found, no permission, bad argument)."""
        return await self._ticket_cache.get()

    async def invalidate_jsapi_ticket(self, ticket: str) -> None:
        """Drop a ticket DingTalk rejected (a ``dd.config`` 52013), so the next call fetches."""
        await self._ticket_cache.invalidate(ticket)

    async def jsapi_config(
        self,
        url: str,
        *,
        nonce_str: str | None = None,
        timestamp: str | int | None = None,
        algorithm: JsapiAlgorithm = "sha256",
    ) -> JsapiConfig:
        """Everything ``dd.config`` needs for the page at ``url``: ``agentId``, ``corpId``,
        ``timeStamp`` (epoch ms as a String unless given, EB-18), ``nonceStr`` (random unless
        given) and ``signature`` (SHA-256 by default)."""
        ticket = await self.get_jsapi_ticket()
        nonce = nonce_str or secrets.token_urlsafe(12)
        stamp = str(timestamp if timestamp is not None else int(time.time() * 1000))
        return JsapiConfig(
            agent_id=self._client.agent_id,
            corp_id=self._client.corp_id,
            time_stamp=stamp,
            nonce_str=nonce,
            signature=sign_jsapi(ticket, nonce, stamp, url, algorithm),
            url=normalize_jsapi_url(url),
            algorithm=algorithm,
        )

    async def _fetch(self) -> tuple[str, float]:
        client = self._client
        if client.jsapi_ticket_endpoint == "legacy":
            body = await client.oapi("GET", JSAPI_TICKET_PATH_LEGACY)
        else:
            try:
                body = await client.api("POST", JSAPI_TICKET_PATH_V1)
            except (NotFoundError, PermissionDeniedError, InvalidArgumentError):
                if not client.jsapi_ticket_fallback:
                    raise
                body = await client.oapi("GET", JSAPI_TICKET_PATH_LEGACY)
        ticket = JsapiTicket.model_validate(body)
        return ticket.ticket, float(ticket.expires_in)
