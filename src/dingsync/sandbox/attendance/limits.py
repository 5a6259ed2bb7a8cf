"""DingTalk's attendance caps and the errcodes the sandbox answers (errors-and-limits.md §6.4,
EB-40..EB-43).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


#: Caps (errors-and-limits.md §6.4) and the errcodes the sandbox answers (EB-40..EB-43).
LIST_MAX_USERS = 50


LIST_MAX_LIMIT = 50


MAX_SPAN_DAYS = 7


COLUMN_MAX_IDS = 20


COLUMN_MAX_DAYS = 31


LEAVE_STATUS_MAX_USERS = 100


LEAVE_STATUS_MAX_SIZE = 100


LEAVE_STATUS_MAX_DAYS = 180


GROUPS_MAX_SIZE = 10


MEMBERS_PAGE = 100


MINIMALISM_PAGE = 100


LISTSCHEDULE_MAX_SIZE = 200


SHIFT_DAYS_MAX_USERS = 20


QUOTA_MAX_SIZE = 50


ERR_SPAN = 41041


ERR_DATE = 41100


ERR_PARAM = 400002


ERR_COLUMN_SPAN = 850012


ERR_COLUMN_IDS = 850015
