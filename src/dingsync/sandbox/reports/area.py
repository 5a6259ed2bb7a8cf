"""The reports area of a sandbox: state, handlers and the edit mutation in one object, and the
DingTalk routes it serves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dingsync.sandbox.reports.handlers import ReportHandlers
from dingsync.sandbox.reports.mutations import ReportMutations
from dingsync.sandbox.wire import Family

if TYPE_CHECKING:
    from dingsync.sandbox.app import Route


class ReportsArea(ReportMutations, ReportHandlers):
    """The reports area of a sandbox (registered in ``sandbox/areas.py``)."""

    # -- routes ------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        """The ``/topapi/report/*`` routes."""
        from dingsync.sandbox.app import Route

        t: Family = "topapi"
        return [
            Route("/topapi/report/list", t, "POST", self.report_list),
            Route("/topapi/report/simplelist", t, "POST", self.report_simplelist),
            Route("/topapi/report/receiver/list", t, "POST", self.receiver_list),
            Route("/topapi/report/comment/list", t, "POST", self.comment_list),
            Route("/topapi/report/statistics/listbytype", t, "POST", self.listbytype),
            Route("/topapi/report/statistics", t, "POST", self.statistics),
            Route("/topapi/report/template/listbyuserid", t, "POST", self.template_list),
            Route("/topapi/report/template/getbyname", t, "POST", self.template_get),
            Route("/topapi/report/getunreadcount", t, "POST", self.unread_count),
        ]
