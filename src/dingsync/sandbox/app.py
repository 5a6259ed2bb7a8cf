"""The sandbox's HTTP application: both DingTalk hosts' paths and ``/sandbox/*`` on one port.

Every DingTalk route goes through one wrapper (``_Api.endpoint``) that does, in order: the
per-path QPS window (on arrival), latency, fault injection, the HTTP-method check, parameter
parsing, the token check and finally the thin handler (``auth.py``, ``contacts/``, an area's
handlers), which validates like DingTalk and reads the precomputed ``DirectoryIndex``. Handlers
return the business fields; the wrapper adds the envelope (``errcode``/``errmsg``/``request_id``
or the ``x-acs-*`` headers).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from dingsync.sandbox import auth, fallback, login
from dingsync.sandbox.call import NOT_JSON, Call, Handler
from dingsync.sandbox.config import HISTORIC_PATHS, permission_denied
from dingsync.sandbox.contacts import departments, leavers, roles, search, users
from dingsync.sandbox.contacts.role_mutations import ACTIONS as ROLE_ACTIONS
from dingsync.sandbox.contacts.role_mutations import mutate_roles as apply_role_mutation
from dingsync.sandbox.mutations import BadMutation, MutationError, read_body
from dingsync.sandbox.state import SandboxState
from dingsync.sandbox.wire import (
    ApiError,
    Family,
    OapiError,
    Params,
    PlainJSON,
    api_error_response,
    api_response,
    dumps,
    gateway_error_response,
    oapi_response,
)

ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


@dataclass(frozen=True)
class Route:
    """A DingTalk route: path template, host family, allowed method, handler and flags.

    ``auth``: needs an access token; ``token_endpoint``: issues tokens (counted in
    ``token_requests``; exempt from faults unless ``fault_token_endpoints``); ``missing`` /
    ``invalid``: the errcodes for missing / malformed parameters on this API; ``any_method``:
    no HTTP-method check (the catch-alls).
    """

    path: str
    family: Family
    method: str
    handler: Handler
    auth: bool = True
    token_endpoint: bool = False
    missing: int = 400002
    invalid: int = 400002
    any_method: bool = False


class _Api:
    """The DingTalk routes and their shared wrapper, bound to one ``SandboxState``."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    # =========================================================================================
    # The wrapper
    # =========================================================================================
    def endpoint(self, route: Route) -> Callable[[Request], Awaitable[Response]]:
        """The Starlette endpoint for ``route``."""

        async def endpoint(request: Request) -> Response:
            return await self.handle(route, request)

        endpoint.__name__ = "dingtalk_" + route.path.strip("/").replace("/", "_").replace(".", "_")
        return endpoint

    async def handle(self, route: Route, request: Request, path_key: str | None = None) -> Response:
        """Run one call through limits, latency, faults, checks and the handler."""
        state = self.state
        cfg = state.config
        key = path_key or route.path
        host = request.client.host if request.client else ""
        if state.ip_banned(host):  # EB-25: the IP gate comes first, whatever the API
            state.count("rate_limited", key)
            return _ip_ban_response(state)
        if state.global_limited(key):  # EB-20
            state.count("rate_limited", key)
            return self._globally_limited(route, key)
        if not state.limiter.allow(key, cfg.qps_for(key)):
            state.count("rate_limited", key)
            return self._rate_limited(route, key)
        delay = cfg.latency_ms
        if cfg.jitter_ms:
            delay += state.jitter_rng.random() * cfg.jitter_ms
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        if not route.token_endpoint or cfg.fault_token_endpoints:
            fault = self._draw_fault(route)
            if fault is not None:
                state.count("faults", key, fault)
                answer = await self._apply_fault(fault, route, request, key)
                if answer is not None:
                    return answer
        response = await self._serve(route, request, key)
        state.count("calls", key)
        if route.token_endpoint:
            with state.lock:
                state.stats.token_requests += 1
        return response

    async def _serve(self, route: Route, request: Request, key: str | None = None) -> Response:
        state = self.state
        key = key or route.path
        family = route.family
        rid = state.acs_request_id() if family == "api" else state.request_id()
        try:
            if request.method != route.method and not route.any_method:
                if family == "api":
                    raise ApiError(
                        404,
                        "InvalidAction.NotFound",
                        "Specified api is not found, please check your url and method.",
                    )
                raise OapiError(
                    43001 if route.method == "GET" else 43002, f"需要{route.method}请求"
                )
            call = await self._call(route, request)
            if route.auth:
                self._check_token(route, request, call)
            if state.config.historic_permissions_denied and key in HISTORIC_PATHS:  # EB-55
                raise OapiError(60011, "没有调用该接口的权限")
            denied = state.config.denied_permissions
            if denied and not route.any_method and permission_denied(key, denied):
                if family == "api":
                    raise ApiError(
                        403,
                        "Forbidden.AccessDenied.AccessTokenPermissionDenied",
                        "没有调用该接口的权限",
                    )
                raise OapiError(60011, "没有调用该接口的权限")
            if not route.any_method and state.quota_exhausted(key):  # EB-19, EB-27
                if family == "api":
                    raise ApiError(
                        403,
                        "Forbidden.AccessDenied.ApiCountLimitForOrg",
                        "企业调用接口次数超过了本月的限制",
                    )
                raise OapiError(90020, "您的企业调用接口次数超过了本月的限制")
            body = route.handler(call)
        except OapiError as err:
            return oapi_response(err.body(), family, rid)
        except ApiError as err:
            return api_error_response(err, rid)
        except ClientDisconnect:
            # The caller went away before its body came (a client stopped by Ctrl-C): nobody
            # reads an answer, and it is no error of the sandbox's to log.
            return Response(status_code=499)
        state.quota_count(key)  # only successful calls count (errors-and-limits.md §5)
        if family == "api":
            return api_response(body, rid)
        if "errcode" not in body:
            merged = {"errcode": 0, "errmsg": "ok", **body}
            body = PlainJSON(merged) if body.__class__ is PlainJSON else merged
        return oapi_response(body, family, rid)

    async def _call(self, route: Route, request: Request) -> Call:
        query = dict(request.query_params)
        data: dict[str, Any] = dict(query)
        json_body: Any = None
        if request.method == "POST":
            raw = await request.body()
            ctype = request.headers.get("content-type", "").lower()
            if route.family == "api":
                if raw.strip() and "json" in ctype:
                    try:
                        json_body = json.loads(raw)
                    except ValueError:
                        raise ApiError(400, "InvalidParameter", "body is not valid json") from None
                elif raw.strip():
                    json_body = NOT_JSON
            elif raw.strip():
                data.update(await _old_family_body(request, raw, ctype))
        params = Params(data, missing=route.missing, invalid=route.invalid)
        return Call(self.state, request, params, query, dict(request.path_params), json_body)

    def _check_token(self, route: Route, request: Request, call: Call) -> None:
        state = self.state
        cfg = state.config
        if route.family == "api":  # only the x-acs header authenticates (EB-23)
            token = request.headers.get("x-acs-dingtalk-access-token")
            if not token:
                raise ApiError(
                    400,
                    "AuthenticationFailed.MissingParameter",
                    "缺少参数：x-acs-dingtalk-access-token",
                )
            if state.check_token(token) != "ok":
                raise ApiError(400, "InvalidAuthentication", "不合法的access_token")
            return
        token = call.query.get("access_token") or call.params.data.get("access_token")
        status = state.check_token(token if isinstance(token, str) else None)
        if status == "ok":
            return
        topapi = route.family == "topapi"
        if status == "missing":
            if topapi:
                raise OapiError.wrapped("40000", "access_token is blank")
            raise OapiError(41001, "缺少access_token参数")
        code, msg = "40014", "不合法的access_token"
        if status == "expired" and cfg.expired_token_code == "42001":
            code, msg = "42001", "access_token超时"
        if topapi and (code == "40014" or cfg.expired_token_wrapped):
            raise OapiError.wrapped(code, msg)
        raise OapiError(int(code), msg)

    def _rate_limited(self, route: Route, path: str) -> Response:
        state = self.state
        cfg = state.config
        limit = cfg.qps_for(path)
        if route.family == "api":
            rid = state.acs_request_id()
            err = ApiError(
                403,
                "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
                f"应用调用该接口的QPS超过了限制, appKey({state.app.app_key}), api({path}), "
                f"qps({limit:g})"
                if limit
                else "应用调用该接口的QPS超过了限制",
            )
            return api_error_response(err, rid)
        msg = (
            f"您的应用调用钉钉开放平台当前接口的QPS超过了限制, appKey({state.app.app_key}), "
            f"apiPath({path})"
        )
        if route.family == "topapi" and cfg.rate_limit_wrapped:
            err_body = OapiError.wrapped("90018", msg).body()
        else:
            err_body = OapiError(90018, msg).body()
        return oapi_response(err_body, route.family, state.request_id())

    def _globally_limited(self, route: Route, path: str) -> Response:
        """The global per-API limit's answer (EB-20): plain ``90002`` on the old host (never
        wrapped), 403 ``Forbidden.AccessDenied.QpsLimitForApi`` on the new one."""
        state = self.state
        cfg = state.config
        if route.family == "api":
            err = ApiError(
                403, "Forbidden.AccessDenied.QpsLimitForApi", "当前接口的调用QPS超过了全局限制"
            )
            return api_error_response(err, state.acs_request_id())
        msg = (
            f"您的服务器调用钉钉开放平台当前接口的所有请求都被暂时禁用了, apiPath({path}), "
            f"一秒内请求总次数超过了 {cfg.global_qps_limit:g} 次, "
            f"处罚将在 {cfg.global_ban_s:g} 秒后结束."
        )
        return oapi_response(OapiError(90002, msg).body(), route.family, state.request_id())

    def _draw_fault(self, route: Route) -> str | None:
        cfg = self.state.config
        rng = self.state.fault_rng
        chances = (
            ("timeout", cfg.fault_timeout),
            ("drop", cfg.fault_drop),
            ("5xx", cfg.fault_5xx),
            ("rate_limit", cfg.fault_rate_limit),
            ("token_invalidation", cfg.fault_token_invalidation if route.auth else 0.0),
        )
        for kind, p in chances:
            if p > 0 and rng.random() < p:
                return kind
        return None

    async def _apply_fault(
        self, kind: str, route: Route, request: Request, key: str
    ) -> Response | None:
        """The fault's answer, or ``None`` to go on serving the call normally."""
        state = self.state
        cfg = state.config
        if kind == "timeout":
            await asyncio.sleep(cfg.timeout_s)
            if cfg.timeout_action == "drop":
                return _drop(request)
            return None
        if kind == "drop":
            return _drop(request)
        if kind == "5xx":
            status = state.fault_rng.choice((500, 502, 503))
            if status == 500 and route.family == "api":
                return api_error_response(
                    ApiError(500, "systemError", "系统错误"), state.acs_request_id()
                )
            return gateway_error_response(status)
        if kind == "rate_limit":
            return self._rate_limited(route, key)
        if kind == "token_invalidation":
            state.invalidate_tokens()
        return None

    # =========================================================================================
    def routes(self) -> list[Route]:
        """Every DingTalk route: the directory's, then each data area's (sandbox/areas.py)."""
        extra: list[Route] = []
        for area in self.state.areas.values():
            if hasattr(area, "routes"):
                extra.extend(area.routes())
        return self.directory_routes() + extra

    def directory_routes(self) -> list[Route]:
        """Auth and contacts routes."""
        t: Family = "topapi"
        o: Family = "oapi"
        a: Family = "api"
        return [
            Route(
                "/gettoken",
                o,
                "GET",
                auth.gettoken,
                auth=False,
                token_endpoint=True,
                missing=40035,
                invalid=40035,
            ),
            Route(
                "/v1.0/oauth2/accessToken",
                a,
                "POST",
                auth.v1_access_token,
                auth=False,
                token_endpoint=True,
            ),
            Route(
                "/v1.0/oauth2/userAccessToken",
                a,
                "POST",
                auth.v1_user_access_token,
                auth=False,
                token_endpoint=True,
            ),
            Route(
                "/v1.0/oauth2/corpAccessToken",
                a,
                "POST",
                auth.v1_corp_access_token,
                auth=False,
                token_endpoint=True,
            ),
            Route(
                "/v1.0/oauth2/{corpId}/token",
                a,
                "POST",
                auth.v1_corp_token,
                auth=False,
                token_endpoint=True,
            ),
            Route("/topapi/v2/user/getuserinfo", t, "POST", auth.getuserinfo_v2),
            Route("/user/getuserinfo", o, "GET", auth.getuserinfo_old),
            Route("/topapi/v2/user/get", t, "POST", users.user_get_v2),
            Route("/user/get", o, "GET", users.user_get_old),
            Route("/user/get_admin", o, "GET", users.user_get_admin_old),
            Route("/topapi/v2/user/list", t, "POST", users.user_list, missing=40035, invalid=40035),
            Route("/topapi/user/listsimple", t, "POST", users.user_listsimple),
            Route("/topapi/user/listid", t, "POST", users.user_listid),
            Route("/topapi/user/count", t, "POST", users.user_count, invalid=40035),
            Route("/topapi/user/listadmin", t, "POST", users.user_listadmin),
            Route("/topapi/user/get_admin_scope", t, "POST", users.user_get_admin_scope),
            Route("/topapi/v2/user/getbymobile", t, "POST", users.user_getbymobile),
            Route("/topapi/user/getbyunionid", t, "POST", users.user_getbyunionid),
            Route("/auth/scopes", o, "GET", departments.auth_scopes),
            Route("/topapi/v2/department/listsub", t, "POST", departments.dept_listsub),
            Route("/topapi/v2/department/listsubid", t, "POST", departments.dept_listsubid),
            Route("/topapi/v2/department/get", t, "POST", departments.dept_get),
            Route(
                "/topapi/v2/department/listparentbyuser",
                t,
                "POST",
                departments.dept_listparentbyuser,
            ),
            Route(
                "/topapi/v2/department/listparentbydept",
                t,
                "POST",
                departments.dept_listparentbydept,
            ),
            Route("/department/list", o, "GET", departments.dept_list_old),
            Route("/department/get", o, "GET", departments.dept_get_old),
            Route(
                "/department/list_parent_depts", o, "GET", departments.dept_list_parent_depts_old
            ),
            Route("/department/list_ids", o, "GET", departments.dept_list_ids_old),
            Route(
                "/department/list_parent_depts_by_dept",
                o,
                "GET",
                departments.dept_list_parent_depts_by_dept_old,
            ),
            Route("/user/simplelist", o, "GET", users.user_simplelist_old),
            Route("/user/listbypage", o, "GET", users.user_listbypage_old),
            Route("/user/list", o, "GET", users.user_list_old),
            Route("/user/getDeptMember", o, "GET", users.user_get_dept_member_old),
            Route("/user/get_org_user_count", o, "GET", users.user_get_org_user_count_old),
            Route("/user/get_by_mobile", o, "GET", users.user_get_by_mobile_old),
            Route("/user/getUseridByUnionid", o, "GET", users.user_get_userid_by_unionid_old),
            Route("/v1.0/contact/users/search", a, "POST", search.v1_users_search),
            # a *user* token: checked by the handler, not the wrapper's app-token check
            Route("/v1.0/contact/users/{unionId}", a, "GET", search.v1_contact_user, auth=False),
            Route("/v1.0/contact/empLeaveRecords", a, "GET", leavers.emp_leave_records),
            Route(
                "/topapi/smartwork/hrm/employee/querydimission", t, "POST", leavers.querydimission
            ),
            Route("/topapi/smartwork/hrm/employee/listdimission", t, "POST", leavers.listdimission),
            Route("/topapi/role/list", t, "POST", roles.role_list),
            Route("/topapi/role/getrole", t, "POST", roles.role_getrole),
            Route("/topapi/role/simplelist", t, "POST", roles.role_simplelist),
            Route("/get_jsapi_ticket", o, "GET", auth.get_jsapi_ticket),
            Route("/v1.0/oauth2/jsapiTickets", a, "POST", auth.v1_jsapi_ticket),
        ]

    def fallback_routes(self) -> list[Route]:
        """Catch-alls for unknown paths of each family (registered last)."""
        return [
            Route(
                "/topapi/{rest:path}",
                "topapi",
                "POST",
                fallback.topapi_unknown,
                auth=False,
                any_method=True,
            ),
            Route(
                "/v1.0/{rest:path}",
                "api",
                "POST",
                fallback.api_unknown,
                auth=False,
                any_method=True,
            ),
            Route(
                "/{rest:path}",
                "oapi",
                "GET",
                fallback.oapi_unknown,
                auth=False,
                any_method=True,
            ),
        ]


async def _old_family_body(request: Request, raw: bytes, ctype: str) -> dict[str, Any]:
    """Parse an old-family POST body: JSON or form (urlencoded or multipart)."""
    if "json" in ctype or ("form" not in ctype and raw.lstrip()[:1] == b"{"):
        try:
            body = json.loads(raw)
        except ValueError:
            raise OapiError(40035, "不合法的参数: 请求体不是合法的JSON") from None
        if not isinstance(body, dict):
            raise OapiError(40035, "不合法的参数: 请求体应为JSON对象")
        return body
    if "multipart" in ctype:
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


def _ip_ban_response(state: SandboxState) -> Response:
    """The IP-ban answer (EB-25): HTTP 200 with ``{"status":1111,"wait":5,"source":"x5",
    "punish":"deny","uuid":…}`` instead of DingTalk's envelope, from the gateway."""
    body = {
        "status": 1111,
        "wait": 5,
        "source": "x5",
        "punish": "deny",
        "uuid": state.acs_request_id().lower(),
    }
    return Response(dumps(body), headers={"Server": "Tengine", "Content-Type": "application/json"})


def _drop(request: Request) -> Response:
    """Mark the call so that the outer ASGI wrapper closes the connection unanswered."""
    request.scope["sandbox.drop"] = True
    return Response(b"", status_code=200)


# =============================================================================================
# The app
# =============================================================================================
def create_app(state: SandboxState) -> FastAPI:
    """The FastAPI application serving both DingTalk hosts and ``/sandbox/*`` for ``state``.

    Serve it through ``asgi_app(state)``: that adds the fast path for fixed DingTalk paths and
    lets the dropped-connection fault close sockets.
    """
    app = FastAPI(title="dingsync sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sandbox = state
    api = _Api(state)
    for route in api.routes():
        app.add_api_route(
            route.path, api.endpoint(route), methods=["GET", "POST"], include_in_schema=False
        )
    _add_sandbox_routes(app, state)
    login.add_login_routes(app, state)  # the login host and the dd emulator, before catch-alls
    for area in state.areas.values():
        if hasattr(area, "control_routes"):
            area.control_routes(app)
    for route in api.fallback_routes():
        app.add_api_route(
            route.path,
            _fallback_endpoint(api, route),
            methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
            include_in_schema=False,
        )
    return app


def _fallback_endpoint(api: _Api, route: Route) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        if request.url.path.startswith("/sandbox/"):  # the control API is not DingTalk's
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        return await api.handle(route, request, path_key=request.url.path)

    endpoint.__name__ = "dingtalk_unknown_" + route.family
    return endpoint


def _add_sandbox_routes(app: FastAPI, state: SandboxState) -> None:
    @app.get("/sandbox/app")
    async def sandbox_app() -> JSONResponse:
        a = state.app
        return JSONResponse(
            {
                "corp_id": a.corp_id,
                "agent_id": a.agent_id,
                "app_key": a.app_key,
                "app_secret": a.app_secret,
                "corp_name": a.corp_name,
            }
        )

    @app.get("/sandbox/config")
    async def get_config() -> JSONResponse:
        return JSONResponse(state.config_dict())

    @app.post("/sandbox/config")
    async def post_config(request: Request) -> JSONResponse:
        try:
            knobs = await request.json()
        except ValueError:
            return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
        if not isinstance(knobs, dict):
            return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
        try:
            return JSONResponse(state.configure(knobs))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    @app.get("/sandbox/stats")
    async def get_stats() -> JSONResponse:
        return JSONResponse(state.stats_snapshot())

    @app.post("/sandbox/stats/reset")
    async def reset_stats() -> JSONResponse:
        state.reset_stats()
        return JSONResponse(state.stats_snapshot())

    @app.post("/sandbox/authcode")
    async def authcode(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        userid = body.get("userid") if isinstance(body, dict) else None
        if not isinstance(userid, str) or not userid:
            return JSONResponse({"error": "userid is required"}, status_code=400)
        try:
            code = state.mint_authcode(userid)
        except KeyError:
            return JSONResponse(
                {"error": "unknown userid (not in the directory)", "userid": userid},
                status_code=404,
            )
        return JSONResponse(
            {
                "code": code,
                "authCode": code,
                "userid": userid,
                "expires_in": int(state.config.authcode_ttl_s),
            }
        )

    @app.post("/sandbox/jsapi/verify")
    async def jsapi_verify(request: Request) -> JSONResponse:
        """The ``dd.config`` check of DingTalk's container (EB-17/EB-18): body ``{agentId,
        corpId, timeStamp, nonceStr, signature, url}`` → 200 ``{"ok": true, "algorithm"}`` or
        400 ``{"ok": false, "errorCode": 3, "message": "权限校验失败 Code:52013 …"}``."""
        try:
            body = await request.json()
        except ValueError:
            body = None
        ok, detail = state.verify_dd_config(body if isinstance(body, dict) else {})
        if ok:
            return JSONResponse({"ok": True, "algorithm": detail})
        return JSONResponse({"ok": False, "errorCode": 3, "message": detail}, status_code=400)

    @app.get("/sandbox/company")
    async def company() -> Response:
        return Response(state.company_json(), media_type="application/json")

    @app.post("/sandbox/mutate/roles/{action}")
    async def mutate_roles(action: str, request: Request) -> JSONResponse:
        """Custom-role mutations (``sandbox/contacts/role_mutations.py``): 400 for an unknown
        action or a malformed body, 404 for an unknown role or userid, 409 for a change that
        cannot apply (bodies as in ``dingsync.sandbox.mutations``)."""
        try:
            if action not in ROLE_ACTIONS:
                raise BadMutation(f"unknown action {action!r}")
            data = await read_body(request)
            return JSONResponse(apply_role_mutation(state, action, data))
        except MutationError as exc:
            return exc.response()


class SandboxASGI:
    """The ASGI callable that is served: a fast path for DingTalk's fixed paths, FastAPI for the
    rest (templated and unknown paths, ``/sandbox/*``), and dropped connections.

    The fast path skips FastAPI's routing and dependency machinery (about half the cost of a
    call) — the same ``_Api.handle`` serves the call either way. A call marked
    ``sandbox.drop`` has its connection closed without an answer (under uvicorn the transport
    is closed before any byte is written).
    """

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.fastapi = create_app(state)
        self._api = _Api(state)
        self._exact = {r.path: r for r in self._api.routes() if "{" not in r.path}

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.fastapi(scope, receive, send)
            return

        async def guarded_send(message: Any) -> None:
            if scope.get("sandbox.drop"):
                if message["type"] == "http.response.start":
                    _close_transport(send)
                return
            await send(message)

        route = self._exact.get(scope["path"])
        if route is not None:
            response = await self._api.handle(route, Request(scope, receive))
            await response(scope, receive, guarded_send)
        else:
            await self.fastapi(scope, receive, guarded_send)
        if scope.get("sandbox.drop") and not _close_transport(send):
            raise ConnectionAbortedError("sandbox dropped the connection")


def _close_transport(send: Any) -> bool:
    """Close the socket behind uvicorn's ``send`` (its RequestResponseCycle); False if unknown."""
    cycle: Any = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        return False
    if not transport.is_closing():
        transport.close()
    if hasattr(cycle, "disconnected"):
        cycle.disconnected = True
    return True


def asgi_app(state: SandboxState) -> SandboxASGI:
    """The ASGI callable to serve for ``state`` (``SandboxASGI``; ``.fastapi`` is the app)."""
    return SandboxASGI(state)
