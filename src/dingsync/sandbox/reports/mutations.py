"""The report mutation: ``POST /sandbox/mutate/reports/edit`` (a field of a report changes and
its ``modified_time`` moves).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse

from dingsync.sandbox.reports.state import ReportsState
from dingsync.sandbox.reports.world import Report

if TYPE_CHECKING:
    from fastapi import FastAPI


class ReportMutations(ReportsState):
    """Edit a report."""

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
