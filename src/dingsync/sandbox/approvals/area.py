"""The approvals area of a sandbox: state, handlers and mutations in one object, and the DingTalk
routes it serves.
"""

from __future__ import annotations

from dingsync.sandbox.app import Route
from dingsync.sandbox.approvals.instances import InstanceHandlers
from dingsync.sandbox.approvals.mutations import ApprovalMutations
from dingsync.sandbox.approvals.template_handlers import TemplateHandlers


class ApprovalsArea(ApprovalMutations, InstanceHandlers, TemplateHandlers):
    """The sandbox area ``approvals`` (see ``dingsync.sandbox.areas``)."""

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
        ]
