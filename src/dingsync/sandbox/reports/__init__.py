"""Sandbox area: reports (日志) — templates, generated reports and the ``/topapi/report/*`` APIs.

Generation (:func:`generate_reports`) is pure and deterministic for ``(seed, company, days,
anchor_ms)``; the handlers of :class:`ReportsArea` only read (and, for the mutation route, edit)
the generated :class:`ReportsWorld`.

The world: four templates (日报, 周报, 销售日报 with numeric fields, 项目周报). Every activated
person writes one daily template (销售日报 for people in sales/market departments and one in ten
others, 日报 for the rest) for each working day of the sandbox's calendar
(``sandbox/workdays.py``: Monday–Friday except the public holiday the attendance area rests
on, Asia/Shanghai) of the ``days`` days before ``anchor_ms`` since they were hired, and a 周报
each Friday; about one in six also writes a 项目周报.
About 8 % are habitual skippers (they miss ~40 % of their days), the rest miss ~3 %; ~8 % of
reports are late (written the next morning), ~5 % were edited later (``modified_time`` after
``create_time``), ~5 % carry images. Receivers are the department head(s) and a few peers;
receivers read most reports, some comment and like.

Submission truth (``stats()["reports"]["submissions"]``) uses the rule documented in
docs/reports.md: a report's period is the Shanghai date (daily templates) or ISO week (weekly
templates, named ``…周报``) of ``create_time − 12 h``; it is late when created after the end of
that day (for weeks: after the end of the week's Friday).

DingTalk behaviour reproduced (reports.md, EB-30/33/34/35/37/39): ``report/list`` and
``simplelist`` page with an opaque ``next_cursor`` (a large number, present on the last page too;
a cursor that was not handed out — e.g. the sum of two — reads past the end, so a client that adds
cursors skips reports), ``size`` ≤ 20 and windows ≤ 180 days (else ``400002``), ascending
creation time, no retention cap on how far back a window may lie (EB-32), the app's data scope
left to the ``data_scope_dept_ids`` knob (EB-31); ``contents[].sort/type`` are Strings
(``"1"``); ``images`` only when the ``report_images`` knob is on (JSON-text strings
``{"image": url}``); comment times are ``yyyy-MM-dd HH:mm:ss`` (GMT+8) strings.

Modules: ``world`` (the model and its truth), ``texts`` and ``generator``, ``state`` (the area's
live state), ``handlers``, ``mutations`` and ``area`` (:class:`ReportsArea`).
"""

from dingsync.sandbox.reports.area import ReportsArea
from dingsync.sandbox.reports.generator import generate_reports
from dingsync.sandbox.reports.world import Report, ReportsWorld, period_of, submission_truth

__all__ = [
    "Report",
    "ReportsArea",
    "ReportsWorld",
    "generate_reports",
    "period_of",
    "submission_truth",
]
