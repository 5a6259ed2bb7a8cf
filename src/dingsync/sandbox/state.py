"""Mutable sandbox state behind the HTTP handlers: the directory index (``contacts/index.py``),
tokens, JSAPI tickets and login codes (``credentials.py``), rate-limit windows and call statistics
(``limits.py``), the fault RNG.

The handlers run on the server's event-loop thread while ``SandboxServer`` methods (stats,
configure, mint_authcode) run on the caller's thread; shared mutable parts take ``self.lock``.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import json
import random
import secrets
import string
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from dingsync.sandbox.clock import Clock
from dingsync.sandbox.company import (
    ROOT_DEPT_ID,
    Company,
    Leaver,
    generate_company,
)
from dingsync.sandbox.config import ACTIONS, AppCredentials, SandboxConfig
from dingsync.sandbox.contacts.index import DirectoryIndex
from dingsync.sandbox.credentials import AuthCode, CredentialStore, IssuedCredential
from dingsync.sandbox.limits import SlidingWindowLimiter, Stats, quota_exempt
from dingsync.sandbox.wire import OapiError
from dingsync.timeutil import format_ms

_RID_CHARS = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class OAuthClient:
    """Another client id a company's browser login and ``userAccessToken`` accept besides its
    own app's: a third-party suite (its key → ``secret``); ``allowed()`` says whether the
    company authorises it now (not relieved, the app not stopped or removed)."""

    secret: str
    allowed: Callable[[], bool]


class SandboxState:
    """All state of one sandbox: config, clock, company (+ index), credentials, counters."""

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        clock: Clock | None = None,
        company: Company | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        self.clock = clock or Clock()
        self.company = company or generate_company(
            self.config.seed,
            self.config.users,
            corp_name=self.config.corp_name,
            anchor_ms=self.config.anchor_ms,
        )
        self.index = DirectoryIndex(self.company)
        self._company_json: bytes | None = None
        self.app: AppCredentials = self.config.credentials(self.company.corp_name)
        self.lock = threading.RLock()
        self.tokens = CredentialStore()
        self.tickets = CredentialStore()
        self.authcodes: dict[str, AuthCode] = {}
        self.limiter = SlidingWindowLimiter()
        #: Global per-API limit (EB-20): its windows and, per path, the ban's end (monotonic s).
        self.global_limiter = SlidingWindowLimiter()
        self.global_bans: dict[str, float] = {}
        #: Monthly quota (EB-19): the month (``YYYY-MM``, Asia/Shanghai) and its counted calls.
        self.quota_month = ""
        self.quota_used = 0
        #: IP ban (EB-25): per caller host, recent call times and the ban's end (sandbox clock).
        self.ip_calls: dict[str, deque[float]] = {}
        self.ip_banned_until: dict[str, float] = {}
        #: Data scope (EB-31): ``(dept ids, userids in scope)`` for the current knob value.
        self._scope: tuple[tuple[int, ...], frozenset[str]] | None = None
        #: User tokens of ``/v1.0/oauth2/userAccessToken``: value → (userid, expires_at).
        self.user_tokens: dict[str, tuple[str, float]] = {}
        self.refresh_tokens: dict[str, tuple[str, float]] = {}
        #: Other OAuth clients the browser login accepts besides the app (a third-party suite
        #: this company may authorise, ``sandbox/isv``): client id → :class:`OAuthClient`.
        self.oauth_clients: dict[str, OAuthClient] = {}
        self.stats = Stats()
        self.fault_rng = random.Random(
            self.config.fault_seed if self.config.fault_seed is not None else self.config.seed
        )
        self.jitter_rng = random.Random(self.config.seed + 1)
        self._rid_rng = random.Random()
        from dingsync.sandbox.areas import load_areas  # areas import app, which imports us

        #: Extra knobs of the data areas (``name → value``), settable through ``configure``.
        self.area_knobs: dict[str, Any] = {}
        #: Data areas (reports, attendance, …) by name; see ``dingsync.sandbox.areas``.
        self.areas: dict[str, Any] = {}
        self.areas = load_areas(self)
        for area in self.areas.values():
            self.area_knobs.update(getattr(area, "knobs", {}) or {})

    def reindex(self) -> None:
        """Rebuild the lookups after the company was changed in place."""
        self.index = DirectoryIndex(self.company)
        self._company_json = None
        self._scope = None

    def company_json(self) -> bytes:
        """``GET /sandbox/company``'s body (cached until ``reindex``)."""
        if self._company_json is None:
            data = self.company.to_dict()
            self._company_json = json.dumps(data, ensure_ascii=False).encode("utf-8")
        return self._company_json

    # -- knobs -------------------------------------------------------------------------------
    def configure(self, knobs: dict[str, Any]) -> dict[str, Any]:
        """Apply knobs and one-shot actions (``invalidate_tokens``, ``clock_advance_s``,
        ``clock_set``, ``reset_stats``); returns the new config as a dict.

        Raises ``ValueError`` (unknown knob, fixed field, invalid value) without changing
        anything.
        """
        knobs = dict(knobs)
        knobs.pop("clock_now", None)  # read-only, echoed by config_dict(); allows round trips
        actions = {k: knobs.pop(k) for k in list(knobs) if k in ACTIONS}
        area_knobs = {k: knobs.pop(k) for k in list(knobs) if k in self.area_knobs}
        new = self.config.with_knobs(knobs) if knobs else self.config
        with self.lock:
            if "fault_seed" in knobs and new.fault_seed is not None:
                self.fault_rng.seed(new.fault_seed)
            if (new.qps_limit, new.qps_overrides) != (
                self.config.qps_limit,
                self.config.qps_overrides,
            ):
                self.limiter.windows.clear()  # a new limit starts with empty windows
            if (new.global_qps_limit, new.global_ban_s) != (
                self.config.global_qps_limit,
                self.config.global_ban_s,
            ):
                self.global_limiter.windows.clear()
                self.global_bans.clear()
            if (new.ip_ban_calls, new.ip_ban_window_s, new.ip_ban_s) != (
                self.config.ip_ban_calls,
                self.config.ip_ban_window_s,
                self.config.ip_ban_s,
            ):
                self.ip_calls.clear()
                self.ip_banned_until.clear()
            self.config = new
            if actions.get("invalidate_tokens"):
                self.tokens.invalidate_all()
            if actions.get("clock_set") is not None:
                self.clock.set(float(actions["clock_set"]))
            if actions.get("clock_advance_s"):
                self.clock.advance(float(actions["clock_advance_s"]))
            if actions.get("reset_stats"):
                self.stats.reset()
                self.quota_used = 0
            self.area_knobs.update(area_knobs)
        return self.config_dict()

    def config_dict(self) -> dict[str, Any]:
        """The config as JSON-ready dict, plus the clock's current time."""
        data = self.config.model_dump()
        data.update(self.area_knobs)
        data["clock_now"] = self.clock.now()
        return data

    # -- stats -------------------------------------------------------------------------------
    def stats_snapshot(self) -> dict[str, Any]:
        """Company truth counts plus the call counters (what ``GET /sandbox/stats`` returns)."""
        with self.lock:
            s = self.stats
            counters = {
                "calls": dict(sorted(s.calls.items())),
                "rate_limited": dict(sorted(s.rate_limited.items())),
                "faults": dict(sorted(s.faults.items())),
                "faults_by_kind": dict(sorted(s.faults_by_kind.items())),
                "token_requests": s.token_requests,
                "total_calls": sum(s.calls.values()),
                "quota_used": self.quota_used,
            }
        areas = {name: area.stats() for name, area in self.areas.items() if hasattr(area, "stats")}
        return {**self.company.truth_counts(), **counters, **areas}

    def reset_stats(self) -> None:
        """Zero the call counters and this month's quota count (the company counts are truth,
        not counters)."""
        with self.lock:
            self.stats.reset()
            self.quota_used = 0

    def count(self, counter: str, path: str, kind: str | None = None) -> None:
        """Add one to ``calls``/``rate_limited``/``faults`` for ``path``."""
        with self.lock:
            getattr(self.stats, counter)[path] += 1
            if kind:
                self.stats.faults_by_kind[kind] += 1

    # -- data scope (EB-31) -----------------------------------------------------------------
    def data_scope(self) -> frozenset[str] | None:
        """Userids whose reports, attendance and approvals the app may read (people in the
        ``data_scope_dept_ids`` departments and below), or ``None`` for the whole org."""
        depts = self.config.data_scope_dept_ids
        if depts is None:
            return None
        key = tuple(sorted(set(depts)))
        cached = self._scope
        if cached is not None and cached[0] == key:
            return cached[1]
        allowed = self.subtrees(key)
        users = frozenset(
            u.userid
            for u in self.company.users.values()
            if any(m.dept_id in allowed for m in u.memberships)
        )
        self._scope = (key, users)
        return users

    def in_data_scope(self, userid: str) -> bool:
        """True when the app may read ``userid``'s data (always, without a scope)."""
        scope = self.data_scope()
        return scope is None or userid in scope

    def require_data_scope(self, userid: str) -> None:
        """Raise ``50002`` for a single-user call about someone outside the data scope."""
        if not self.in_data_scope(userid):
            raise OapiError(50002, "请求的员工userid不在授权范围内")

    # -- contacts scope (通讯录权限范围) --------------------------------------------------------
    def contacts_scope(self) -> frozenset[int] | None:
        """Department ids the app's contacts scope covers (``contacts_scope_dept_ids`` and
        everything below them), or ``None`` for the whole directory."""
        roots = self.config.contacts_scope_dept_ids
        return None if roots is None else self.subtrees(roots)

    def subtrees(self, roots: Iterable[int]) -> frozenset[int]:
        """The departments of ``roots`` that exist and everything below them."""
        index = self.index
        depts: set[int] = set()
        for d in roots:
            if d in self.company.departments:
                depts.add(d)
                depts.update(index.descendants(d))
        return frozenset(depts)

    def in_contacts_scope(self, userid: str) -> bool:
        """True when the app may read ``userid`` in the directory (always, without a scope):
        a member of a department in scope, or named in ``contacts_scope_userids``."""
        depts = self.contacts_scope()
        if depts is None or userid in self.config.contacts_scope_userids:
            return True
        user = self.company.users.get(userid)
        return user is not None and any(m.dept_id in depts for m in user.memberships)

    # -- limits DingTalk does not publish (EB-19, EB-20, EB-25) ------------------------------
    def ip_banned(self, host: str) -> bool:
        """Record a call from ``host``; True while the host is banned (``ip_ban_calls`` calls
        within ``ip_ban_window_s`` seconds ban it for ``ip_ban_s``, by the sandbox clock)."""
        cfg = self.config
        if not cfg.ip_ban_calls:
            return False
        now = self.clock.now()
        with self.lock:
            if self.ip_banned_until.get(host, 0.0) > now:
                return True
            window = self.ip_calls.setdefault(host, deque())
            while window and window[0] <= now - cfg.ip_ban_window_s:
                window.popleft()
            window.append(now)
            if len(window) > cfg.ip_ban_calls:
                window.clear()
                self.ip_banned_until[host] = now + cfg.ip_ban_s
                return True
            return False

    def global_limited(self, path: str) -> bool:
        """Record a call of ``path`` against the global per-API limit; True when it is over the
        limit or inside the ban that followed (``global_ban_s``, real time)."""
        cfg = self.config
        if not cfg.global_qps_limit:
            return False
        now = time.monotonic()
        with self.lock:
            if self.global_bans.get(path, 0.0) > now:
                return True
            if self.global_limiter.allow(path, cfg.global_qps_limit, now):
                return False
            self.global_bans[path] = now + cfg.global_ban_s
            return True

    def _quota_month_now(self) -> str:
        return format_ms(self.clock.now() * 1000, "%Y-%m")

    def quota_exhausted(self, path: str) -> bool:
        """True when ``path`` counts toward ``monthly_quota`` and this month's quota is used up."""
        quota = self.config.monthly_quota
        if quota is None or quota_exempt(path):
            return False
        month = self._quota_month_now()
        with self.lock:
            if month != self.quota_month:
                self.quota_month, self.quota_used = month, 0
            return self.quota_used >= quota

    def quota_count(self, path: str) -> None:
        """Count one successful call of ``path`` toward this month's quota (always counted, so
        turning the knob on mid-month sees the calls already made; exempt paths never count)."""
        if quota_exempt(path):
            return
        month = self._quota_month_now()
        with self.lock:
            if month != self.quota_month:
                self.quota_month, self.quota_used = month, 0
            self.quota_used += 1

    # -- credentials -------------------------------------------------------------------------
    def issue_token(self, app_key: str) -> IssuedCredential:
        """The app's access token (same value while valid, life extended)."""
        with self.lock:
            return self.tokens.issue(app_key, self.clock.now(), self.config.token_ttl_s)

    def check_token(self, value: str | None) -> str:
        """``"missing"``, ``"ok"``, ``"expired"`` or ``"unknown"``."""
        if not value:
            return "missing"
        with self.lock:
            return self.tokens.check(value, self.clock.now())

    def issue_ticket(self, app_key: str) -> IssuedCredential:
        """The app's JSAPI ticket (extended while valid, at most ``jsapi_ticket_max_s`` old)."""
        cfg = self.config
        with self.lock:
            return self.tickets.issue(
                app_key, self.clock.now(), cfg.jsapi_ticket_ttl_s, cfg.jsapi_ticket_max_s
            )

    def invalidate_tokens(self) -> None:
        """Forget every access token: the next call with one gets the invalid-token error."""
        with self.lock:
            self.tokens.invalidate_all()

    def forget_user_tokens(self) -> None:
        """Forget every user access token and refresh token (a suite relieved or stopped)."""
        with self.lock:
            self.user_tokens.clear()
            self.refresh_tokens.clear()

    def issue_user_token(self, userid: str) -> tuple[str, str]:
        """A new user access token and refresh token for ``userid`` (``user_token_ttl_s`` /
        ``refresh_token_ttl_s`` by the sandbox clock)."""
        now = self.clock.now()
        access, refresh = secrets.token_hex(16), secrets.token_hex(16)
        with self.lock:
            if len(self.user_tokens) > 10_000:
                self.user_tokens = {k: v for k, v in self.user_tokens.items() if v[1] > now}
                self.refresh_tokens = {k: v for k, v in self.refresh_tokens.items() if v[1] > now}
            self.user_tokens[access] = (userid, now + self.config.user_token_ttl_s)
            self.refresh_tokens[refresh] = (userid, now + self.config.refresh_token_ttl_s)
        return access, refresh

    def user_of_refresh_token(self, value: str) -> str | None:
        """The userid of a valid refresh token, else ``None``."""
        with self.lock:
            entry = self.refresh_tokens.get(value)
        if entry is None or entry[1] <= self.clock.now():
            return None
        return entry[0]

    def verify_dd_config(self, params: dict[str, Any]) -> tuple[bool, str]:
        """Check a ``dd.config`` the way DingTalk's container does (auth-contacts.md §10):
        ``agentId``/``corpId`` (when given) must be the app's, the signature must be over the
        app's current JSAPI ticket, ``nonceStr``, ``timeStamp`` (opaque, EB-18) and ``url``
        (the fragment dropped; the query as given or URL-decoded). SHA-256 (64 hex) or SHA-1
        (40 hex) by length, SHA-1 refused under ``jsapi_reject_sha1`` (EB-17).

        Returns ``(True, algorithm)`` or ``(False, DingTalk's message)``."""
        app = self.app
        agent_id = params.get("agentId")
        if agent_id not in (None, "") and str(agent_id) != app.agent_id:
            return False, "权限校验失败 Code:52013 - Message: 无效的agent_id"
        corp_id = params.get("corpId")
        if corp_id not in (None, "") and str(corp_id) != app.corp_id:
            return False, "权限校验失败 Code:52013 - Message: jsapi ticket读取失败"
        nonce = str(params.get("nonceStr") or "")
        stamp = str(params.get("timeStamp") or params.get("timestamp") or "")
        url = str(params.get("url") or "").partition("#")[0]
        signature = str(params.get("signature") or "").lower()
        failed = (
            f"权限校验失败 Code:52013 - Message: 签名校验失败,nonce:[{nonce}],"
            f"timestamp:[{stamp}],url:[{url}]"
        )
        algorithm = {64: "sha256", 40: "sha1"}.get(len(signature))
        if algorithm is None or (algorithm == "sha1" and self.config.jsapi_reject_sha1):
            return False, failed
        now = self.clock.now()
        with self.lock:
            current = self.tickets.by_app.get(app.app_key)
            ticket = current.value if current is not None and current.expires_at > now else None
        if ticket is None:
            return False, failed
        head, sep, query = url.partition("?")
        urls = {url, f"{head}{sep}{unquote_plus(query)}"}
        for candidate in urls:
            plain = f"jsapi_ticket={ticket}&noncestr={nonce}&timestamp={stamp}&url={candidate}"
            digest = hashlib.new(algorithm, plain.encode("utf-8")).hexdigest()
            if hmac.compare_digest(digest, signature):
                return True, algorithm
        return False, failed

    def mint_authcode(self, userid: str, kind: str = "h5") -> str:
        """A single-use login code for ``userid`` valid ``authcode_ttl_s`` by the clock.

        ``kind`` ``"h5"`` (免登, ``POST /sandbox/authcode``) needs someone in the directory;
        ``"oauth"`` (the browser login page's ``authCode``) and ``"login"`` (a test's login
        code for that page, ``POST /sandbox/oauth/logincode``) also someone who left, who still
        has a DingTalk account. Raises ``KeyError`` for anyone else.
        """
        if userid not in self.company.users and not (
            kind in ("oauth", "login") and userid in self.company.leavers
        ):
            raise KeyError(userid)
        now = self.clock.now()
        code = secrets.token_hex(16)
        with self.lock:
            if len(self.authcodes) > 10_000:
                self.authcodes = {
                    c: a for c, a in self.authcodes.items() if a.expires_at > now and not a.used
                }
            self.authcodes[code] = AuthCode(userid, now + self.config.authcode_ttl_s, kind=kind)
        return code

    def consume_authcode(self, code: str, kinds: tuple[str, ...] = ("h5",)) -> str | None:
        """The userid of a valid unused code of one of ``kinds`` (marking it used), else
        ``None``."""
        with self.lock:
            entry = self.authcodes.get(code)
            if (
                entry is None
                or entry.used
                or entry.kind not in kinds
                or entry.expires_at <= self.clock.now()
            ):
                return None
            entry.used = True
            return entry.userid

    def has_account(self, userid: str) -> bool:
        """Whether ``userid`` has a DingTalk account the sandbox knows: in the directory, or
        someone who left (they can still sign in to DingTalk, not to the organisation)."""
        return userid in self.company.users or userid in self.company.leavers

    def account_unionid(self, userid: str) -> str:
        """The unionid of a DingTalk account: the person's own, or for someone who left a
        stable one derived from the seed (the generated leavers carry none; 26 characters
        like DingTalk's, not in the directory's unionid index)."""
        user = self.company.users.get(userid)
        if user is not None:
            return user.unionid
        digest = hashlib.sha256(f"{self.config.seed}:{userid}:unionid".encode()).hexdigest()
        return digest[:22] + "iEiE"

    # -- small helpers -----------------------------------------------------------------------
    def request_id(self) -> str:
        """A ``/topapi`` request id: 13 lower-case alphanumerics."""
        return "".join(self._rid_rng.choices(_RID_CHARS, k=13))

    def acs_request_id(self) -> str:
        """A new-family request id like ``01A08FE7-CD6B-79BB-8B2E-35D8768AD457``."""
        h = f"{self._rid_rng.getrandbits(128):032X}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def device_id(self, userid: str) -> str:
        """A stable device id for the login APIs."""
        return hashlib.md5(f"{self.app.corp_id}:{userid}".encode()).hexdigest()

    def leavers_between(self, start_ms: int, end_ms: int) -> list[Leaver]:
        """Leavers with ``start_ms <= leave_time <= end_ms``, oldest first."""
        idx = self.index
        lo = bisect.bisect_left(idx.leave_times, start_ms)
        hi = bisect.bisect_right(idx.leave_times, end_ms)
        return idx.leavers_by_time[lo:hi]

    @property
    def root_id(self) -> int:
        """The root department id (1)."""
        return ROOT_DEPT_ID
