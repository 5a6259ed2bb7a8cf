"""The reports area of a sandbox: state, handlers and the edit mutation in one object, and the
DingTalk routes it serves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dingsync.sandbox.reports.handlers import ReportHandlers
from dingsync.sandbox.reports.mutations import ReportMutations
from dingsync.sandbox.reports.v1 import ReportV1Handlers
from dingsync.sandbox.wire import Family

if TYPE_CHECKING:
    from dingsync.sandbox.app import Route


class ReportsArea(ReportMutations, ReportV1Handlers, ReportHandlers):
    """The reports area of a sandbox (registered in ``sandbox/areas.py``)."""

    # -- routes ------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        """The ``/topapi/report/*`` routes and the v1.0 ones (rules, statistics, detail)."""
        from dingsync.sandbox.app import Route

        t: Family = "topapi"
        a: Family = "api"
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
            Route("/v1.0/report/statisticalRules/results", a, "GET", self.v1_rules),
            Route("/v1.0/report/submitStatisticalResults", a, "GET", self.v1_submit_statistics),
            Route("/v1.0/report/details", a, "GET", self.v1_detail),
        ]
