"""The report mutations: ``POST /sandbox/mutate/reports/edit`` (a field of a report changes and
its ``modified_time`` moves) and ``POST /sandbox/mutate/reports/read {report_id, userid?, like?}``
(someone reads — and likes — a report later; ``modified_time`` stays) and ``POST
/sandbox/mutate/reports/rule`` (an administrator changes a template's statistics rule).
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from dingsync.sandbox.reports.rules import DAILY, MONTHLY, WEEKLY, StatRule, windows
from dingsync.sandbox.reports.state import ReportsState
from dingsync.sandbox.reports.world import Report

if TYPE_CHECKING:
    from fastapi import FastAPI


class ReportMutations(ReportsState):
    """Edit a report; a late read (or like); change a statistics rule."""

    def control_routes(self, app: FastAPI) -> None:
        """``POST /sandbox/mutate/reports/edit {report_id?, key?, value?}``: edit one report's
        content (default: the first field of the newest report) and set ``modified_time`` to the
        sandbox clock (at least 1 s after the old value). Answers the edited report."""
        area = self

        @app.post("/sandbox/mutate/reports/edit")
        async def edit(request: Request) -> JSONResponse:
            try:
                body = await request.json()
            except ValueError:
                body = {}
            if not isinstance(body, dict):
                body = {}
            try:
                report = area.edit(body.get("report_id"), body.get("key"), body.get("value"))
            except KeyError as exc:
                return JSONResponse({"error": f"unknown report {exc}"}, status_code=404)
            return JSONResponse(area.item(report, full=True))

        @app.post("/sandbox/mutate/reports/read")
        async def read(request: Request) -> JSONResponse:
            try:
                body = await request.json()
            except ValueError:
                body = {}
            if not isinstance(body, dict) or not isinstance(body.get("report_id"), str):
                return JSONResponse({"error": "report_id is required"}, status_code=400)
            try:
                report = area.mark_read(
                    body["report_id"], body.get("userid"), bool(body.get("like"))
                )
            except KeyError as exc:
                return JSONResponse({"error": f"unknown {exc}"}, status_code=404)
            return JSONResponse({"readers": report.readers, "likers": report.likers})

        @app.post("/sandbox/mutate/reports/rule")
        async def rule(request: Request) -> JSONResponse:
            try:
                body = await request.json()
            except ValueError:
                body = None
            if not isinstance(body, dict) or not isinstance(body.get("template"), str):
                return JSONResponse({"error": "template is required"}, status_code=400)
            try:
                changed = area.set_rule(body)
            except KeyError as exc:
                return JSONResponse({"error": f"unknown {exc}"}, status_code=404)
            except (TypeError, ValueError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            if changed is None:
                return JSONResponse({"template": body["template"], "rule": None})
            return JSONResponse({"template": changed.template, "rule": changed.wire("")})

    def set_rule(self, body: dict[str, Any]) -> StatRule | None:
        """An administrator changes (or, with ``remove``, deletes) the statistics rule of
        ``template``: ``period_type`` (1 daily, 2 weekly, 3 monthly), ``starts``/``ends``
        (``"<n> HH:mm"`` lists of equal length), ``userids`` (who must submit; default: those
        of the old rule); a template without a rule gets a new one (``remind_id`` new). What is
        not given stays. ``KeyError``: unknown template or userid; ``ValueError``/``TypeError``:
        a malformed field."""
        w = self.world
        name = body["template"]
        with self.state.lock:
            if name not in w.templates:
                raise KeyError(name)
            old = w.rules.get(name)
            if body.get("remove"):
                w.rules.pop(name, None)
                self._version += 1
                self._cache.clear()
                return None
            fields: dict[str, Any] = {}
            if "period_type" in body:
                if body["period_type"] not in (DAILY, WEEKLY, MONTHLY):
                    raise ValueError("period_type must be 1, 2 or 3")
                fields["period_type"] = body["period_type"]
            for key in ("starts", "ends", "userids"):
                if key in body:
                    value = body[key]
                    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                        raise TypeError(f"{key} must be a list of strings")
                    fields[key] = tuple(value)
            for userid in fields.get("userids", ()):
                if userid not in self.state.company.users:
                    raise KeyError(userid)
            if old is None:
                base = StatRule(
                    remind_id=max((r.remind_id for r in w.rules.values()), default=900_000) + 1,
                    template=name,
                    period_type=DAILY,
                    starts=(),
                    ends=(),
                    userids=(),
                    creator_id=self.state.company.main_admin_userid,
                )
            else:
                base = old
            new = dataclasses.replace(base, **fields)
            if len(new.starts) != len(new.ends) or not new.starts:
                raise ValueError("starts and ends must be non-empty lists of equal length")
            windows(new, date(2026, 1, 1), date(2026, 1, 31))  # "<n> HH:mm", else ValueError
            w.rules[name] = new
            self._version += 1
            self._cache.clear()
            return new

    def mark_read(self, report_id: str, userid: str | None, like: bool) -> Report:
        """A receiver reads (and with ``like`` likes) a report later: its lists grow, its
        ``modified_time`` does not (reads are not edits). ``userid`` defaults to the first
        receiver who has not read it; ``KeyError`` for an unknown report or nobody left."""
        w = self.world
        with self.state.lock:
            report = w.by_id[report_id]
            if userid is None:
                unread = [u for u in report.receivers if u not in report.readers]
                if not unread:
                    raise KeyError("unread receiver")
                userid = unread[0]
            if userid not in report.readers:
                report.readers.append(userid)
            if like and userid not in report.likers:
                report.likers.append(userid)
            self._version += 1
            return report

    def edit(self, report_id: str | None, key: str | None, value: str | None) -> Report:
        """Edit a report (see :meth:`control_routes`); ``KeyError`` for an unknown id."""
        w = self.world
        with self.state.lock:
            report = w.by_id[report_id] if report_id else w.reports[-1]
            if not report.contents:
                report.contents.append({"key": "备注", "sort": "0", "type": "1", "value": ""})
            target = report.contents[0]
            if key is not None:
                found = [c for c in report.contents if c["key"] == key]
                if not found:
                    raise KeyError(key)
                target = found[0]
            target["value"] = value if value is not None else target["value"] + "（已修改 ✏️）"
            now_ms = int(self.state.clock.now() * 1000)
            report.modified_time = max(now_ms, report.modified_time + 1000)
            self._version += 1
            self._cache.clear()
            return report
