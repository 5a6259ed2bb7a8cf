"""Which stored records a viewer may reach, as SQL: :class:`Visible` (the store-side form of the
web rules' scope) and the conditions the areas' read queries (:mod:`~dingsync.store.repo_reports`,
:mod:`~dingsync.store.repo_attendance`, :mod:`~dingsync.store.repo_approvals`) build from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import false, or_, select, true, union

from dingsync.store.schema import former_memberships, user_departments, users


@dataclass(frozen=True)
class Visible:
    """Which records a viewer may reach (the store-side form of the web rules' scope): the
    union of ``everything``; records owned by ``owner``; records ``participant`` takes part in;
    records whose owner belongs to one of ``dept_ids``; attendance of ``group_ids``."""

    everything: bool = False
    owner: str | None = None
    participant: str | None = None
    dept_ids: tuple[int, ...] = ()
    group_ids: tuple[int, ...] = ()


def members_in(corp_id: str, dept_ids: Sequence[int]) -> Any:
    """The userids (a subquery) in ``dept_ids``: their members now, and the people no longer
    active who belonged to one when they left (``former_memberships``), so that a leaver's
    attendance, reports and approvals stay in every view picked by department."""
    ud, fm = user_departments, former_memberships
    depts = sorted(dept_ids)
    gone = select(users.c.userid).where(users.c.corp_id == corp_id, users.c.status != "active")
    return union(
        select(ud.c.userid).where(ud.c.corp_id == corp_id, ud.c.dept_id.in_(depts)),
        select(fm.c.userid).where(
            fm.c.corp_id == corp_id, fm.c.dept_id.in_(depts), fm.c.userid.in_(gone)
        ),
    )


def visible_to(
    v: Visible,
    corp_id: str,
    owner_col: Any,
    participant: Callable[[str], Any] | None = None,
    group_col: Any = None,
) -> Any:
    """The SQL condition of ``v`` (``false`` when nothing is visible)."""
    if v.everything:
        return true()
    parts: list[Any] = []
    if v.owner is not None:
        parts.append(owner_col == v.owner)
    if v.participant is not None and participant is not None:
        parts.append(participant(v.participant))
    if v.dept_ids:
        parts.append(owner_col.in_(members_in(corp_id, v.dept_ids)))
    if v.group_ids and group_col is not None:
        parts.append(group_col.in_(sorted(v.group_ids)))
    return or_(*parts) if parts else false()


def created_by(
    corp_id: str,
    time_col: Any,
    person_col: Any,
    start: datetime | None,
    end: datetime | None,
    person: str | None,
    dept_ids: Sequence[int] | None,
) -> list[Any]:
    """The filters reports and approvals share: ``time_col`` in ``[start, end)``,
    ``person_col`` (creator/originator) is ``person`` or a member of one of ``dept_ids``."""
    cond: list[Any] = []
    if start is not None:
        cond.append(time_col >= start)
    if end is not None:
        cond.append(time_col < end)
    if person is not None:
        cond.append(person_col == person)
    if dept_ids is not None:
        cond.append(person_col.in_(members_in(corp_id, dept_ids)))
    return cond


__all__ = ["Visible", "created_by", "members_in", "visible_to"]
