"""The reports world: templates, reports, comments, the world with its indexes, and the
submission truth (a report's period and whether it was late, docs/reports.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from dingsync.timeutil import (
    DAY_MS,
    WIRE_TZ,
    day_start_ms,
    local_date,
)

if TYPE_CHECKING:
    from dingsync.sandbox.reports.rules import StatRule

HOUR_MS = 3_600_000
#: ``report/list`` cuts content values to this many characters (reports.md §1).
LIST_TEXT_MAX = 1000
#: What ``report/list`` (and ``/v1.0/report/details``) show for a table field.
TABLE_PLACEHOLDER = "[表格]"

#: ``late`` cut-off rule: a report belongs to the period of ``create_time − PERIOD_SHIFT_MS``.
PERIOD_SHIFT_MS = 12 * HOUR_MS


@dataclass(frozen=True)
class TemplateField:
    """One template field: ``field_name``, ``sort`` (0-based order) and ``type`` (1 = text)."""

    field_name: str
    sort: int
    type: int = 1
    numeric: bool = False


@dataclass
class Template:
    """A report template: ``name``, ``report_code`` (= getbyname ``id``), fields in order."""

    name: str
    report_code: str
    icon: int
    fields: list[TemplateField]
    weekly: bool = False


@dataclass
class Comment:
    """A comment: author, text, epoch-ms time (served as a GMT+8 string)."""

    userid: str
    content: str
    create_time: int


@dataclass
class Report:
    """One submitted report as ``report/list`` serves it, plus its per-report lists."""

    report_id: str
    template: str
    creator_id: str
    creator_name: str
    dept_name: str
    create_time: int
    modified_time: int
    contents: list[dict[str, str]]
    remark: str = ""
    images: list[str] = field(default_factory=list)
    receivers: list[str] = field(default_factory=list)
    readers: list[str] = field(default_factory=list)
    likers: list[str] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    period: str = ""
    late: bool = False
    #: Texts ``report/list`` serves cut at :data:`LIST_TEXT_MAX` characters, in full by key.
    full_texts: dict[str, str] = field(default_factory=dict)


@dataclass
class ReportsWorld:
    """Templates, reports (ascending ``create_time``), writers per template and the window."""

    templates: dict[str, Template]
    reports: list[Report]
    writers: dict[str, list[str]]
    start_ms: int
    end_ms: int
    by_id: dict[str, Report] = field(default_factory=dict)
    create_times: list[int] = field(default_factory=list)
    hired_day: dict[str, str] = field(default_factory=dict)
    #: Statistics rules (统计规则) by template name (``sandbox/reports/rules.py``).
    rules: dict[str, StatRule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        """Rebuild lookups (after the report list changed)."""
        self.reports.sort(key=lambda r: (r.create_time, r.report_id))
        self.by_id = {r.report_id: r for r in self.reports}
        self.create_times = [r.create_time for r in self.reports]


def period_of(create_ms: int, weekly: bool) -> tuple[str, bool]:
    """The period a report counts for and whether it is late (the rule in the module doc).

    Daily: ``(YYYY-MM-DD, late)``; weekly: ``(YYYY-MM-DD of that week's Friday, late)``."""
    day = local_date(create_ms - PERIOD_SHIFT_MS, WIRE_TZ)
    if weekly:
        day = day + timedelta(days=4 - day.weekday())
    deadline = day_start_ms(day + timedelta(days=1), WIRE_TZ)
    return day.isoformat(), create_ms >= deadline


def submission_truth(world: ReportsWorld) -> dict[str, dict[str, dict[str, str]]]:
    """``{template: {userid: {period: "submitted"|"late"|"missing"}}}`` for every writer of the
    template and every period (working day, or Friday for weekly templates) since hiring."""
    got: dict[tuple[str, str, str], bool] = {}
    for r in world.reports:
        key = (r.template, r.creator_id, r.period)
        got[key] = got.get(key, True) and r.late
    out: dict[str, dict[str, dict[str, str]]] = {}
    days = [
        local_date(world.start_ms + i * DAY_MS, WIRE_TZ)
        for i in range((world.end_ms - world.start_ms) // DAY_MS)
    ]
    working = [d for d in days if d.weekday() < 5]
    for name, tpl in world.templates.items():
        periods = [d for d in working if not tpl.weekly or d.weekday() == 4]
        per_user: dict[str, dict[str, str]] = {}
        for userid in world.writers[name]:
            first = world.hired_day[userid]
            row: dict[str, str] = {}
            for d in periods:
                iso = d.isoformat()
                if iso < first:
                    continue
                late = got.get((name, userid, iso))
                row[iso] = "missing" if late is None else ("late" if late else "submitted")
            per_user[userid] = row
        out[name] = per_user
    return out
