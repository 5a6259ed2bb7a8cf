"""The approvals area of a sandbox: state, handlers and mutations in one object, and the DingTalk
routes it serves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dingsync.sandbox.app import Route
from dingsync.sandbox.approvals.files import PATH_AUTHORIZE, PATH_DOWNLOAD_URL, FileHandlers
from dingsync.sandbox.approvals.instances import InstanceHandlers
from dingsync.sandbox.approvals.mutations import ApprovalMutations
from dingsync.sandbox.approvals.state import ApprovalsState
from dingsync.sandbox.approvals.template_handlers import TemplateHandlers

if TYPE_CHECKING:
    from fastapi import FastAPI


class ApprovalsArea(ApprovalMutations, InstanceHandlers, TemplateHandlers, FileHandlers):
    """The sandbox area ``approvals`` (see ``dingsync.sandbox.areas``)."""

    def control_routes(self, app: FastAPI) -> None:
        """The mutations (``/sandbox/mutate/approvals/...``) and the attachments' file server
        (``/sandbox/files/approvals/...``)."""
        ApprovalMutations.control_routes(self, app)
        self.file_routes(app)

    def stats(self) -> dict[str, Any]:
        """The truth of :meth:`ApprovalsState.stats` plus ``attachments`` (form and comment
        files; grants, links and files served)."""
        return {**ApprovalsState.stats(self), "attachments": self.file_stats()}

    # -- DingTalk routes -------------------------------------------------------------------
    def routes(self) -> list[Route]:
        return [
            Route("/topapi/processinstance/listids", "topapi", "POST", self.listids),
            Route("/topapi/processinstance/get", "topapi", "POST", self.get_old),
            Route("/topapi/process/listbyuserid", "topapi", "POST", self.listbyuserid),
            Route("/v1.0/workflow/processes/instanceIds/query", "api", "POST", self.ids_query),
            Route("/v1.0/workflow/processInstances", "api", "GET", self.get_new),
            Route(
                "/v1.0/workflow/processes/userVisibilities/templates",
                "api",
                "GET",
                self.visible_templates,
            ),
            Route("/v1.0/workflow/forms/schemas/processCodes", "api", "GET", self.form_schema),
            Route("/topapi/process/template/manage/get", "topapi", "POST", self.manage_get),
            Route(
                "/v1.0/workflow/processes/managements/templates",
                "api",
                "GET",
                self.managed_templates,
            ),
            Route(PATH_AUTHORIZE, "api", "POST", self.authorize_download),
            Route(PATH_DOWNLOAD_URL, "api", "POST", self.download_url),
        ]
