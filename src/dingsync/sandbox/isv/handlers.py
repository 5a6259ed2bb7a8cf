"""The ISV endpoints of a sandbox suite (events.md §4.2–§4.4), served through the sandbox's
shared wrapper (limits, latency, faults, envelopes) like every DingTalk route.

Old host: ``POST /service/get_suite_token`` (form or JSON), signed ``POST
/service/get_corp_token`` and ``POST /service/get_auth_info`` (query ``accessKey``,
``timestamp``, ``suiteTicket``, ``signature``), ``POST /service/get_permanent_code`` and
``POST /service/activate_suite`` and ``POST /service/get_unactive_corp`` (query
``suite_access_token``). New host: ``POST
/v1.0/oauth2/suiteAccessToken``, ``POST /v1.0/oauth2/corpAccessToken``, ``GET
/v1.0/oauth2/apps/authInfo`` (suite token in ``x-acs-dingtalk-access-token``).

Errors: ``40088`` bad suite key/secret, ``40085`` no (or an outdated) ticket, ``853004`` bad
signature, ``41030`` the company has not authorised the suite (or relieved it, or stopped the
app), ``40014`` bad suite token, ``40078`` unknown or used ``tmp_auth_code``; new host HTTP 400
``invalidClientIdOrSecret``/``invalidSuiteKey``, ``invalidSuiteTicket``, ``invalidAuthInfo``,
``InvalidAuthentication``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from dingsync.sandbox.app import Route
from dingsync.sandbox.call import Call, json_object
from dingsync.sandbox.isv.suite import IsvCorp, IsvSuite, sign_ticket
from dingsync.sandbox.wire import ApiError, OapiError

#: Every path the suite serves (the ISV ASGI sends these to the suite, not to a company).
ISV_PATHS = frozenset(
    {
        "/service/get_suite_token",
        "/service/get_corp_token",
        "/service/get_auth_info",
        "/service/get_permanent_code",
        "/service/activate_suite",
        "/service/get_unactive_corp",
        "/v1.0/oauth2/suiteAccessToken",
        "/v1.0/oauth2/corpAccessToken",
        "/v1.0/oauth2/apps/authInfo",
    }
)


class IsvHandlers:
    """Route handlers bound to one :class:`IsvSuite`."""

    def __init__(self, suite: IsvSuite) -> None:
        self.suite = suite

    def unified_token_route(self) -> Route:
        """``POST /v1.0/oauth2/{corpId}/token`` for an authorising company (the unified app
        token, events.md §4.2: ``client_id`` = the suite key, ``corpId`` = the company)."""
        return Route(
            "/v1.0/oauth2/{corpId}/token",
            "api",
            "POST",
            self.v1_unified_token,
            auth=False,
            token_endpoint=True,
        )

    def routes(self) -> list[Route]:
        h: list[tuple[str, str, str, Callable[[Call], dict[str, Any]], bool]] = [
            ("/service/get_suite_token", "oapi", "POST", self.get_suite_token, True),
            ("/service/get_corp_token", "oapi", "POST", self.get_corp_token, True),
            ("/service/get_auth_info", "oapi", "POST", self.get_auth_info, False),
            ("/service/get_permanent_code", "oapi", "POST", self.get_permanent_code, False),
            ("/service/activate_suite", "oapi", "POST", self.activate_suite, False),
            ("/service/get_unactive_corp", "oapi", "POST", self.get_unactive_corp, False),
            ("/v1.0/oauth2/suiteAccessToken", "api", "POST", self.v1_suite_token, True),
            ("/v1.0/oauth2/corpAccessToken", "api", "POST", self.v1_corp_token, True),
            ("/v1.0/oauth2/apps/authInfo", "api", "GET", self.v1_auth_info, False),
        ]
        return [
            Route(path, family, method, fn, auth=False, token_endpoint=tok)  # type: ignore[arg-type]
            for path, family, method, fn, tok in h
        ]

    # -- shared checks -----------------------------------------------------------------------
    def _ticket(self, ticket: Any) -> None:
        if not isinstance(ticket, str) or not self.suite.ticket_ok(ticket):
            raise OapiError(40085, "不存在的suite ticket")

    def _signed(self, call: Call) -> None:
        """The ``accessKey``/``timestamp``/``suiteTicket``/``signature`` query of §4.3."""
        q = call.query
        key, stamp, ticket, signature = (
            q.get("accessKey"), q.get("timestamp"), q.get("suiteTicket"), q.get("signature")
        )  # fmt: skip
        if not key or not stamp or not signature:
            raise OapiError(853004, "签名校验失败: accessKey、timestamp、signature 不能为空")
        if key != self.suite.suite_key:
            raise OapiError(40088, "不合法的suiteKey或suiteSecret")
        self._ticket(ticket)
        expected = sign_ticket(self.suite.suite_secret, stamp, str(ticket))
        if not hmac.compare_digest(expected, signature):
            raise OapiError(853004, "签名校验失败, 请检查签名是否已URL编码")

    def _corp(self, corp_id: Any, *, api: bool = False, token: bool = False) -> IsvCorp:
        corp = self.suite.corps.get(str(corp_id or ""))
        ok = corp is not None and (
            self.suite.token_allowed(corp) if token else corp.status == "authorised"
        )
        if not ok:
            if api:
                raise ApiError(400, "invalidAuthInfo", "授权关系不存在")
            raise OapiError(41030, "企业未对该套件授权")
        assert corp is not None
        return corp

    def _suite_token(self, call: Call) -> None:
        token = call.query.get("suite_access_token")
        if not token:
            raise OapiError(41001, "缺少suite_access_token参数")
        if not self.suite.suite_token_ok(token):
            raise OapiError(40014, "不合法的suite_access_token")

    # -- old host ----------------------------------------------------------------------------
    def get_suite_token(self, call: Call) -> dict[str, Any]:
        """``POST /service/get_suite_token`` (form fields or JSON: ``suite_key``,
        ``suite_secret``, ``suite_ticket``) → ``{suite_access_token, expires_in}``."""
        data = call.params.data
        if (
            data.get("suite_key") != self.suite.suite_key
            or data.get("suite_secret") != self.suite.suite_secret
        ):
            raise OapiError(40088, "不合法的suiteKey或suiteSecret")
        self._ticket(data.get("suite_ticket"))
        value, ttl = self.suite.issue_suite_token()
        return {"suite_access_token": value, "expires_in": ttl}

    def get_corp_token(self, call: Call) -> dict[str, Any]:
        """Signed ``POST /service/get_corp_token {auth_corpid}`` → ``{access_token,
        expires_in}``; or the older form ``?suite_access_token=`` with ``{auth_corpid,
        permanent_code}`` (a wrong permanent code: ``41030``)."""
        if "suite_access_token" in call.query:
            self._suite_token(call)
            corp = self._corp(call.params.data.get("auth_corpid"), token=True)
            code = str(call.params.data.get("permanent_code") or "")
            if not code or not hmac.compare_digest(code, corp.permanent_code):
                raise OapiError(41030, "永久授权码不正确")
            value, ttl = self.suite.issue_corp_token(corp)
            return {"access_token": value, "expires_in": ttl}
        self._signed(call)
        corp = self._corp(call.params.data.get("auth_corpid"), token=True)
        value, ttl = self.suite.issue_corp_token(corp)
        return {"access_token": value, "expires_in": ttl}

    def get_auth_info(self, call: Call) -> dict[str, Any]:
        """Signed ``POST /service/get_auth_info {auth_corpid}`` → ``auth_corp_info``,
        ``auth_info.agent``, ``auth_user_info``, ``channel_auth_info``."""
        self._signed(call)
        corp = self._corp(call.params.data.get("auth_corpid"))
        return {
            "auth_corp_info": self.suite.corp_info(corp),
            "auth_info": {"agent": [self.suite.agent(corp)]},
            "auth_user_info": {"userId": corp.auth_user},
            "channel_auth_info": {},
        }

    def get_permanent_code(self, call: Call) -> dict[str, Any]:
        """``POST /service/get_permanent_code?suite_access_token= {tmp_auth_code}`` (single
        use) → ``{permanent_code, auth_corp_info{corpid, corp_name}}``."""
        self._suite_token(call)
        code = call.params.data.get("tmp_auth_code")
        with self.suite.lock:
            corp_id = self.suite.tmp_codes.pop(str(code or ""), None)
        if corp_id is None:
            raise OapiError(40078, "不存在的临时授权码")
        corp = self._corp(corp_id)
        return {
            "permanent_code": corp.permanent_code,
            "auth_corp_info": {"corpid": corp.corp_id, "corp_name": corp.state.company.corp_name},
        }

    def activate_suite(self, call: Call) -> dict[str, Any]:
        """``POST /service/activate_suite?suite_access_token= {suite_key, auth_corpid,
        permanent_code}``."""
        self._suite_token(call)
        data = call.params.data
        if data.get("suite_key") != self.suite.suite_key:
            raise OapiError(40088, "不合法的suiteKey或suiteSecret")
        corp = self._corp(data.get("auth_corpid"))
        code = str(data.get("permanent_code") or "")
        if not code or not hmac.compare_digest(code, corp.permanent_code):
            raise OapiError(41030, "永久授权码不正确")
        corp.activated = True
        return {}

    def get_unactive_corp(self, call: Call) -> dict[str, Any]:
        """``POST /service/get_unactive_corp?suite_access_token= {app_id}`` → ``{app_id,
        corp_list: [corpId], has_more}``: the companies that authorised the suite but whose
        activation (``activate_suite``) has not happened (legacy flow). ``40035`` when
        ``app_id`` is not the suite's."""
        self._suite_token(call)
        app_id = str(call.params.data.get("app_id") or "")
        if app_id != str(self.suite.suite_id):
            raise OapiError(40035, "不合法的参数: app_id")
        with self.suite.lock:
            ids = sorted(
                c.corp_id for c in self.suite.corps.values() if c.authorised and not c.activated
            )
        return {"app_id": int(app_id), "corp_list": ids, "has_more": False}

    # -- new host ----------------------------------------------------------------------------
    def _v1_suite(self, body: dict[str, Any], secret: bool = True) -> None:
        for name in ("suiteKey", "suiteSecret", "suiteTicket"):
            if not body.get(name):
                raise ApiError(400, f"Missing{name}", f"{name} is mandatory for this action.")
        if body["suiteKey"] != self.suite.suite_key:
            raise ApiError(400, "invalidSuiteKey", "无效的suiteKey")
        if secret and body["suiteSecret"] != self.suite.suite_secret:
            raise ApiError(400, "invalidClientIdOrSecret", "无效的suiteKey或suiteSecret")
        if not self.suite.ticket_ok(str(body["suiteTicket"])):
            raise ApiError(400, "invalidSuiteTicket", "无效的suiteTicket")

    def v1_suite_token(self, call: Call) -> dict[str, Any]:
        """``POST /v1.0/oauth2/suiteAccessToken {suiteKey, suiteSecret, suiteTicket}`` →
        ``{accessToken, expireIn}``."""
        self._v1_suite(json_object(call))
        value, ttl = self.suite.issue_suite_token()
        return {"accessToken": value, "expireIn": ttl}

    def v1_corp_token(self, call: Call) -> dict[str, Any]:
        """``POST /v1.0/oauth2/corpAccessToken {suiteKey, suiteSecret, authCorpId,
        suiteTicket}`` → ``{accessToken, expireIn}``."""
        body = json_object(call)
        if not body.get("authCorpId"):
            raise ApiError(400, "MissingauthCorpId", "authCorpId is mandatory for this action.")
        self._v1_suite(body)
        corp = self._corp(body["authCorpId"], api=True, token=True)
        value, ttl = self.suite.issue_corp_token(corp)
        return {"accessToken": value, "expireIn": ttl}

    def v1_unified_token(self, call: Call) -> dict[str, Any]:
        """``POST /v1.0/oauth2/{corpId}/token {client_id, client_secret, grant_type:
        client_credentials}`` → ``{access_token, expires_in}``; a company that has not
        authorised the suite: 400 ``invalidAuthInfo``."""
        body = json_object(call)
        for name in ("client_id", "client_secret", "grant_type"):
            if not body.get(name):
                raise ApiError(400, f"Missing{name}", f"{name} is mandatory for this action.")
        if body["grant_type"] != "client_credentials":
            raise ApiError(400, "unsupported.grant.type", "不支持的grant_type")
        if body["client_id"] != self.suite.suite_key or body["client_secret"] != (
            self.suite.suite_secret
        ):
            raise ApiError(400, "invalid.client", "无效的clientId或者clientSecret")
        corp = self._corp(call.path_params.get("corpId"), api=True, token=True)
        value, ttl = self.suite.issue_corp_token(corp)
        return {"access_token": value, "expires_in": ttl}

    def v1_auth_info(self, call: Call) -> dict[str, Any]:
        """``GET /v1.0/oauth2/apps/authInfo?authCorpId=`` (suite token header) →
        ``authAppInfo.agentList``, ``authCorpInfo``, ``authUserInfo``."""
        token = call.request.headers.get("x-acs-dingtalk-access-token")
        if not token:
            missing = "缺少参数：x-acs-dingtalk-access-token"
            raise ApiError(400, "AuthenticationFailed.MissingParameter", missing)
        if not self.suite.suite_token_ok(token):
            raise ApiError(400, "InvalidAuthentication", "不合法的access_token")
        corp = self._corp(call.query.get("authCorpId"), api=True)
        info = self.suite.corp_info(corp)
        agent = self.suite.agent(corp)
        return {
            "authCorpInfo": {
                "corpId": corp.corp_id, "corpName": info["corp_name"],
                "fullCorpName": info["full_corp_name"], "industry": info["industry"],
                "isAuthenticated": True, "authLevel": 1, "licenseCode": "", "inviteUrl": "",
                "corpLogoUrl": "", "authChannel": "", "authChannelType": "",
            },
            "authAppInfo": {"agentList": [{
                "agentId": agent["agentid"], "agentName": agent["agent_name"],
                "appId": agent["appid"], "adminList": agent["admin_list"],
            }]},
            "authUserInfo": {"userId": corp.auth_user},
        }  # fmt: skip
