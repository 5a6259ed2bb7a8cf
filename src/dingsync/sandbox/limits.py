"""Rate limits and call counts: per-path QPS windows (:class:`SlidingWindowLimiter`), the APIs
exempt from the monthly quota, and the call statistics (:class:`Stats`).
"""

from __future__ import annotations

import time
from collections import Counter, deque


class SlidingWindowLimiter:
    """At most ``limit`` accepted calls per key in any one-second window (real monotonic time).

    Fractional limits keep the rate: ``floor(limit)`` calls per ``floor(limit)/limit`` seconds
    (at least one call). Rejected calls do not enter the window.
    """

    def __init__(self) -> None:
        self.windows: dict[str, deque[float]] = {}

    def allow(self, key: str, limit: float | None, now: float | None = None) -> bool:
        """Record and allow a call, or refuse it (``False``) when the window is full."""
        if not limit or limit <= 0:
            return True
        now = time.monotonic() if now is None else now
        cap = max(1, int(limit))
        span = cap / limit
        window = self.windows.get(key)
        if window is None:
            window = self.windows[key] = deque()
        cutoff = now - span
        while window and window[0] <= cutoff:
            window.popleft()
        if len(window) >= cap:
            return False
        window.append(now)
        return True


#: Paths of the quota-exempt basic APIs (errors-and-limits.md §5: token, login-free, contacts,
#: smart HR); ``QUOTA_EXEMPT_PREFIXES`` cover whole groups. Every other DingTalk path counts toward
#: ``monthly_quota`` — the archived pages, ``/v1.0/oauth2/{corpId}/token`` and
#: ``/v1.0/contact/users/search`` included (EB-19).
QUOTA_EXEMPT = frozenset(
    {
        "/v1.0/oauth2/accessToken",
        "/v1.0/oauth2/userAccessToken",
        "/v1.0/oauth2/jsapiTickets",
        "/topapi/v2/user/getuserinfo",
        "/v1.0/contact/users/{unionId}",
        "/topapi/v2/user/get",
        "/topapi/v2/user/list",
        "/topapi/user/listsimple",
        "/topapi/user/listid",
        "/topapi/user/count",
        "/topapi/v2/user/getbymobile",
        "/topapi/user/getbyunionid",
        "/topapi/user/listadmin",
        "/topapi/user/get_admin_scope",
        "/v1.0/contact/empLeaveRecords",
    }
)

QUOTA_EXEMPT_PREFIXES = ("/topapi/v2/department/", "/topapi/role/", "/topapi/smartwork/hrm/")


def quota_exempt(path: str) -> bool:
    """True for an API that does not count toward the monthly quota (``path`` is the route's
    path template, e.g. ``/v1.0/oauth2/{corpId}/token``)."""
    return path in QUOTA_EXEMPT or path.startswith(QUOTA_EXEMPT_PREFIXES)


class Stats:
    """Call counters: served calls, rate-limited and faulted calls per path, token requests."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.rate_limited: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.faults_by_kind: Counter[str] = Counter()
        self.token_requests = 0

    def reset(self) -> None:
        """Zero every counter."""
        for counter in (self.calls, self.rate_limited, self.faults, self.faults_by_kind):
            counter.clear()
        self.token_requests = 0
