"""DingTalk's approval caps (approvals.md §1/§5, EB-50..EB-53) and the default density."""

from __future__ import annotations

from dingsync.timeutil import DAY_MS

WINDOW_MAX_MS = 120 * DAY_MS
HISTORY_MAX_MS = 365 * DAY_MS
IDS_PER_LOOP = 10_000
PAGE_MAX = 20
TEMPLATE_PAGE_MAX = 100

#: ``statuses`` values of ``instanceIds/query`` (approvals.md §5); others are ``invalidParameter``.
V1_STATUSES = frozenset({"RUNNING", "TERMINATED", "COMPLETED"})
DEFAULT_DENSITY = 0.005
