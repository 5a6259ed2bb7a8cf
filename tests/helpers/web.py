"""Helpers of the web API tests: picking a plain user of the sandbox company and reading an
error reply."""

from __future__ import annotations

import httpx

from dingsync.sandbox.company import Company

__all__ = ["_error", "_plain_user"]


def _plain_user(company: Company, n: int = 0) -> str:
    """The n-th active person who is no administrator and not the boss."""
    found = [
        u.userid
        for u in sorted(company.users.values(), key=lambda u: u.userid)
        if u.active and u.userid not in company.admins and u.userid != company.boss_userid
    ]
    return found[n]


def _error(r: httpx.Response) -> tuple[int, str]:
    """``(HTTP status, error code)`` of an API error reply (``{"error": {"code": …}}``)."""
    return r.status_code, r.json()["error"]["code"]
