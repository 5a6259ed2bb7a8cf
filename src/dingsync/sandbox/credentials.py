"""Credentials the sandbox issues and checks: access tokens, JSAPI tickets, user tokens
(:class:`CredentialStore`) and login codes (:class:`AuthCode`), each with its expiry.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass


@dataclass
class IssuedCredential:
    """An access token or JSAPI ticket: its value, owner app, and epoch-second times."""

    value: str
    app_key: str
    created_at: float
    expires_at: float


class CredentialStore:
    """Tokens (or tickets) per app: asking again while valid returns the same value with its
    life extended (capped at ``created_at + max_life``); after expiry a new value is issued.
    Expired values are remembered so that "expired" can be told from "unknown"."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.by_app: dict[str, IssuedCredential] = {}
        self.by_value: dict[str, IssuedCredential] = {}

    def issue(
        self, app_key: str, now: float, ttl: float, max_life: float | None = None
    ) -> IssuedCredential:
        """Return the app's current value, extended, or a new one."""
        cur = self.by_app.get(app_key)
        if cur is not None and cur.expires_at > now:
            limit = cur.created_at + max_life if max_life else float("inf")
            if now < limit:
                cur.expires_at = min(now + ttl, limit)
                return cur
        cred = IssuedCredential(self.prefix + secrets.token_hex(16), app_key, now, now + ttl)
        if max_life:
            cred.expires_at = min(cred.expires_at, now + max_life)
        if len(self.by_value) > 10_000:
            self.by_value = {v: c for v, c in self.by_value.items() if c.expires_at > now}
        self.by_app[app_key] = cred
        self.by_value[cred.value] = cred
        return cred

    def check(self, value: str, now: float) -> str:
        """``"ok"``, ``"expired"`` or ``"unknown"`` for ``value`` at ``now``."""
        cred = self.by_value.get(value)
        if cred is None:
            return "unknown"
        return "ok" if cred.expires_at > now else "expired"

    def owner(self, value: str) -> str | None:
        """The app key a value was issued to."""
        cred = self.by_value.get(value)
        return cred.app_key if cred else None

    def invalidate_all(self) -> int:
        """Forget every value (they become unknown); returns how many were valid-or-expired."""
        n = len(self.by_value)
        self.by_app.clear()
        self.by_value.clear()
        return n


@dataclass
class AuthCode:
    """A login code: owner, epoch-second expiry, whether it was used, and its ``kind``:
    ``"h5"`` (免登, from ``dd.getAuthCode``; ``getuserinfo`` and ``userAccessToken`` take it)
    or ``"oauth"`` (the browser login page's ``authCode``; only ``userAccessToken`` takes it,
    ``getuserinfo`` answers 40078 as for a code of the wrong kind)."""

    userid: str
    expires_at: float
    used: bool = False
    kind: str = "h5"
