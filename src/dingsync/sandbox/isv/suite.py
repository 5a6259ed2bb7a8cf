"""The state of a sandbox suite: tickets, suite tokens, and the companies that authorise it.

Each company (:class:`IsvCorp`) is a whole :class:`~dingsync.sandbox.state.SandboxState` of its
own (own generated company, directory, areas, tokens and limits) on the host's clock. A corp
token the suite hands out is issued by that company's state, so the company's ordinary APIs
(contacts, reports, attendance, approvals …) accept it as they accept an internal app's token.
Relieving the suite forgets the company's tokens (user tokens of the browser login too): calls
answer the invalid-token error and a new corp token is refused with ``41030``. Each company's
browser login accepts the suite key as ``client_id`` while it authorises the suite
(``SandboxState.oauth_clients``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import random
import secrets
import string
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dingsync.sandbox.config import SandboxConfig
from dingsync.sandbox.credentials import CredentialStore
from dingsync.sandbox.isv.config import IsvConfig
from dingsync.sandbox.isv.events import IsvEvent
from dingsync.sandbox.state import OAuthClient, SandboxState

if TYPE_CHECKING:
    from dingsync.sandbox.app import SandboxASGI

#: Authorisation states of a company.
UNAUTHORISED, AUTHORISED, RELIEVED = "unauthorised", "authorised", "relieved"


@dataclass
class IsvCorp:
    """A company that may authorise the suite: its sandbox ``state`` (and ``asgi``), the suite
    app's ``agent_id`` there, the authorisation ``status``, the ``permanent_code`` of the
    current authorisation, whether the legacy flow ``activated`` it, the app's ``app_status``
    (``active``/``stopped``/``removed``) and the authorising user (the main administrator)."""

    corp_id: str
    state: SandboxState
    asgi: SandboxASGI
    agent_id: str
    status: str = UNAUTHORISED
    permanent_code: str = ""
    activated: bool = False
    app_status: str = "active"
    auth_user: str = ""
    scope_dept_ids: list[int] | None = None
    history: list[str] = field(default_factory=list)

    @property
    def authorised(self) -> bool:
        return self.status == AUTHORISED and self.app_status != "removed"


def sign_ticket(secret: str, timestamp: str, ticket: str) -> str:
    """Base64 HMAC-SHA256 of ``timestamp + "\\n" + ticket`` keyed by ``secret`` (events.md
    §4.3), not URL-encoded (the query parser already decoded what the caller sent)."""
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp}\n{ticket}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


class IsvSuite:
    """Suite credentials, the current ``suite_ticket``, suite tokens and the companies."""

    def __init__(self, config: IsvConfig, host: SandboxState) -> None:
        from dingsync.sandbox.app import asgi_app

        self.config = config
        self.host = host
        assert config.suite_key and config.suite_secret and config.suite_id
        self.suite_key: str = config.suite_key
        self.suite_secret: str = config.suite_secret
        self.suite_id: str = config.suite_id
        self.lock = threading.RLock()
        self.rng = random.Random(f"isv-tickets:{config.seed}")
        self.suite_tokens = CredentialStore("suite")
        self.ticket = ""
        self.ticket_issued_at = 0.0
        self.previous_tickets: list[str] = []
        self.next_ticket_at = host.clock.now()
        self.tmp_codes: dict[str, str] = {}  # tmp_auth_code → corp_id (single use)
        self.corps: dict[str, IsvCorp] = {}
        self.counters: dict[str, int] = {"tickets_pushed": 0, "auth_events": 0}
        base = host.config
        for seed, users in config.corps:
            cfg = SandboxConfig(
                seed=seed,
                users=users,
                days=config.days,
                qps_limit=base.qps_limit,
                latency_ms=base.latency_ms,
                anchor_ms=base.anchor_ms,
            )
            state = SandboxState(cfg, clock=host.clock)
            corp = IsvCorp(
                state.app.corp_id,
                state,
                asgi_app(state),
                state.app.agent_id,
                auth_user=state.company.main_admin_userid,
            )
            self.corps[corp.corp_id] = corp
            # the browser login (/oauth2/auth, userAccessToken) takes the suite key as
            # client_id in this company while it authorises the suite
            state.oauth_clients[self.suite_key] = OAuthClient(
                self.suite_secret, functools.partial(self.token_allowed, corp)
            )
            self._forward_events(corp)
        self.new_ticket()

    def _forward_events(self, corp: IsvCorp) -> None:
        """A company's own events (its contacts, approvals … mutations) go out on the suite's
        channels while it authorises the suite, ``eventCorpId`` naming it (events.md §3.2: one
        suite connection receives every authorising company's events); none otherwise."""
        events = corp.state.areas["events"]
        host_publish = self.host.areas["events"].publish
        own_publish = events.publish

        def publish(ev: Any) -> Any:
            if corp.authorised and corp.app_status == "active":
                return host_publish(ev)
            own_publish(ev)  # kept in the company's own list, never pushed to the suite
            return ev

        events.publish = publish

    # -- tickets -----------------------------------------------------------------------------
    def new_ticket(self) -> str:
        """Issue a new ``suite_ticket`` (the previous one stops working) and schedule the next
        one ``ticket_interval_s`` later on the sandbox clock."""
        with self.lock:
            if self.ticket:
                self.previous_tickets = [*self.previous_tickets, self.ticket][-10:]
            alphabet = string.ascii_letters + string.digits
            self.ticket = "".join(self.rng.choices(alphabet, k=32))
            now = self.host.clock.now()
            self.ticket_issued_at = now
            self.next_ticket_at = now + self.config.ticket_interval_s
            return self.ticket

    def ticket_ok(self, ticket: str | None) -> bool:
        """The current ticket (or, for a test suite, any non-empty one)."""
        if not ticket:
            return False
        if self.config.test_suite:
            return True
        return hmac.compare_digest(ticket, self.ticket)

    def push_ticket(self, *, renew: bool = True) -> IsvEvent:
        """Push ``suite_ticket`` (a new one unless ``renew`` is false) over the suite's
        channels."""
        ticket = self.new_ticket() if renew else self.ticket
        self.counters["tickets_pushed"] += 1
        return self.emit(
            "suite_ticket",
            self.host.app.corp_id,
            {"suiteTicket": ticket},
            {"SuiteTicket": ticket},
        )

    def due(self) -> bool:
        """True when the next ticket push is due by the sandbox clock."""
        return self.host.clock.now() >= self.next_ticket_at

    # -- suite tokens ------------------------------------------------------------------------
    def issue_suite_token(self) -> tuple[str, int]:
        """The suite access token (same value while valid, extended) and its lifetime (s)."""
        ttl = self.host.config.token_ttl_s
        with self.lock:
            cred = self.suite_tokens.issue(self.suite_key, self.host.clock.now(), ttl)
        return cred.value, int(ttl)

    def suite_token_ok(self, value: str | None) -> bool:
        if not value:
            return False
        with self.lock:
            return self.suite_tokens.check(value, self.host.clock.now()) == "ok"

    def issue_corp_token(self, corp: IsvCorp) -> tuple[str, int]:
        """A corp access token, issued by the company's own state (so its APIs accept it)."""
        cred = corp.state.issue_token(self.suite_key)
        return cred.value, int(corp.state.config.token_ttl_s)

    def corp_of_token(self, token: str | None) -> IsvCorp | None:
        """The company whose state issued ``token`` (an access token, valid or expired, or a
        user token of the browser login), else ``None``."""
        if not token:
            return None
        for corp in self.corps.values():
            if token in corp.state.tokens.by_value or token in corp.state.user_tokens:
                return corp
        return None

    def corp_of_login_code(self, code: str | None, refresh_token: str | None) -> IsvCorp | None:
        """The company whose browser login minted ``code`` (an ``authCode``, used or not) or
        issued ``refresh_token``, else ``None`` (``userAccessToken`` with the suite key)."""
        for corp in self.corps.values():
            if (code and code in corp.state.authcodes) or (
                refresh_token and refresh_token in corp.state.refresh_tokens
            ):
                return corp
        return None

    # -- authorisation -----------------------------------------------------------------------
    def authorise(self, corp: IsvCorp, scope_dept_ids: list[int] | None = None) -> IsvEvent:
        """The company authorises the suite (again): new permanent code, contacts scope
        ``scope_dept_ids`` (``None`` = the whole company); pushes ``org_suite_auth`` (or
        ``org_suite_change`` when it was already authorised) — ``tmp_auth_code`` in the legacy
        flow."""
        with self.lock:
            again = corp.status == AUTHORISED
            corp.status = AUTHORISED
            corp.app_status = "active"
            corp.permanent_code = secrets.token_hex(20)
            corp.activated = self.config.flow != "legacy"
            corp.scope_dept_ids = scope_dept_ids
            corp.history.append("change" if again else "auth")
        corp.state.configure({"contacts_scope_dept_ids": scope_dept_ids})
        if self.config.flow == "legacy":
            code = secrets.token_hex(16)
            with self.lock:
                self.tmp_codes[code] = corp.corp_id
            return self.emit(
                "tmp_auth_code",
                corp.corp_id,
                {"authCode": code, "authCorpId": corp.corp_id},
                {"AuthCode": code, "AuthCorpId": corp.corp_id},
            )
        kind = "org_suite_change" if again else "org_suite_auth"
        return self.emit(kind, corp.corp_id, self.auth_event_data(corp), {})

    def change_scope(self, corp: IsvCorp, scope_dept_ids: list[int] | None) -> IsvEvent:
        """The company changes the contacts scope it grants (``org_suite_change`` /
        legacy ``change_auth``)."""
        with self.lock:
            corp.scope_dept_ids = scope_dept_ids
            corp.history.append("change_scope")
        corp.state.configure({"contacts_scope_dept_ids": scope_dept_ids})
        if self.config.flow == "legacy":
            return self.emit("change_auth", corp.corp_id, {"authCorpId": corp.corp_id},
                             {"AuthCorpId": corp.corp_id})  # fmt: skip
        return self.emit("org_suite_change", corp.corp_id, self.auth_event_data(corp), {})

    def relieve(self, corp: IsvCorp) -> IsvEvent:
        """The company removes the suite: its corp tokens die, new ones answer ``41030``."""
        with self.lock:
            corp.status = RELIEVED
            corp.permanent_code = ""
            corp.history.append("relieve")
        corp.state.invalidate_tokens()
        corp.state.forget_user_tokens()
        if self.config.flow == "legacy":
            return self.emit("suite_relieve", corp.corp_id, {"authCorpId": corp.corp_id},
                             {"AuthCorpId": corp.corp_id})  # fmt: skip
        return self.emit("org_suite_relieve", corp.corp_id, {}, {})

    def app_action(self, corp: IsvCorp, action: str) -> IsvEvent:
        """``stop`` / ``restore`` / ``remove`` the app in the company (its administrator did, in
        DingTalk's admin console): ``org_micro_app_stop|restore|remove``. A stopped or removed
        app gets no corp token (``41030``)."""
        status = {"stop": "stopped", "restore": "active", "remove": "removed"}[action]
        with self.lock:
            corp.app_status = status
            corp.history.append(f"app_{action}")
        if status != "active":
            corp.state.invalidate_tokens()
            corp.state.forget_user_tokens()
        fields = {"agentId": corp.agent_id, "syncAction": f"org_micro_app_{action}",
                  "authCorpId": corp.corp_id}  # fmt: skip
        legacy = {"AgentId": corp.agent_id, "AppId": corp.agent_id, "AuthCorpId": corp.corp_id}
        return self.emit(f"org_micro_app_{action}", corp.corp_id, fields, legacy)

    def token_allowed(self, corp: IsvCorp) -> bool:
        """A corp token may be issued: authorised and the app not stopped or removed."""
        return corp.authorised and corp.app_status == "active"

    # -- what the APIs and events say about a company ---------------------------------------
    def auth_scope(self, corp: IsvCorp) -> dict[str, Any]:
        depts = [1] if corp.scope_dept_ids is None else list(corp.scope_dept_ids)
        return {"errcode": 0, "errmsg": "ok", "authUserField": ["name", "mobile", "avatar"],
                "authOrgScopes": {"authedDept": depts, "authedUser": []}}  # fmt: skip

    def admin_list(self, corp: IsvCorp) -> list[str]:
        company = corp.state.company
        return [company.main_admin_userid, *company.sub_admin_userids]

    def corp_info(self, corp: IsvCorp) -> dict[str, Any]:
        """``auth_corp_info`` of ``get_auth_info`` (snake_case)."""
        name = corp.state.company.corp_name
        return {
            "corpid": corp.corp_id,
            "corp_name": name,
            "full_corp_name": name,
            "industry": "互联网",
            "invite_code": "",
            "license_code": "",
            "auth_channel": "",
            "auth_channel_type": "",
            "is_authenticated": True,
            "auth_level": 1,
            "invite_url": "",
            "corp_logo_url": "",
        }

    def agent(self, corp: IsvCorp) -> dict[str, Any]:
        """``auth_info.agent[0]`` of ``get_auth_info`` (snake_case)."""
        return {
            "agentid": int(corp.agent_id),
            "agent_name": "dingsync",
            "logo_url": "",
            "appid": int(self.suite_id),
            "admin_list": self.admin_list(corp),
        }

    def auth_event_data(self, corp: IsvCorp) -> dict[str, Any]:
        """Stream ``org_suite_auth``/``org_suite_change`` data (camelCase, events.md §4.5)."""
        info = self.corp_info(corp)
        return {
            "authCorpInfo": {
                "authChannel": "", "corpid": corp.corp_id, "corpType": 0,
                "fullCorpName": info["full_corp_name"], "corpTypeV2": 0, "industry": "互联网",
                "corpName": info["corp_name"], "isAuthenticated": True, "licenseCode": "",
                "corpLogoUrl": "", "inviteUrl": "", "inviteCode": "",
                "isEcologicalCorp": False, "authLevel": 1, "authChannelType": "",
            },
            "permanentCode": corp.permanent_code,
            "authUserInfo": {"userId": corp.auth_user},
            "authScope": self.auth_scope(corp),
            "authInfo": {"agent": [{"agentid": int(corp.agent_id),
                                    "adminList": self.admin_list(corp),
                                    "appid": int(self.suite_id), "agentName": "dingsync",
                                    "logoUrl": ""}]},
        }  # fmt: skip

    # -- pushing -----------------------------------------------------------------------------
    def emit(
        self, kind: str, corp_id: str, fields: dict[str, Any], legacy: dict[str, Any]
    ) -> IsvEvent:
        """Queue an ISV event on the host's (the suite's) HTTP and Stream channels."""
        events = self.host.areas["events"]
        ev = IsvEvent(
            secrets.token_hex(16),
            kind,
            events._born_ms(),
            corp_id,
            fields,
            suite_key=self.suite_key,
            legacy_fields=legacy,
        )
        if kind != "suite_ticket":
            self.counters["auth_events"] += 1
        events.publish(ev)
        return ev

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "suite_key": self.suite_key,
                **self.counters,
                "corps": {
                    c.corp_id: {
                        "status": c.status,
                        "app_status": c.app_status,
                        "activated": c.activated,
                        "users": len(c.state.company.users),
                        "corp_name": c.state.company.corp_name,
                    }
                    for c in self.corps.values()
                },
            }
