"""Handlers of approval templates: visible to a user (both hosts), managed templates and form
schemas.
"""

from __future__ import annotations

from typing import Any

from dingsync.sandbox.approvals.limits import TEMPLATE_PAGE_MAX
from dingsync.sandbox.approvals.state import ApprovalsState
from dingsync.sandbox.approvals.templates import Template
from dingsync.sandbox.approvals.wire import int_param, iso_minute, old_time, schema_result
from dingsync.sandbox.call import Call
from dingsync.sandbox.wire import ApiError, OapiError
from dingsync.timeutil import DAY_MS


class TemplateHandlers(ApprovalsState):
    """Templates a user sees or manages, and their schemas."""

    def _templates_for(self, userid: str | None) -> list[Template]:
        if userid and userid not in self.state.company.users:
            raise LookupError(userid)
        return self.world.templates

    def listbyuserid(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/process/listbyuserid {userid?, offset, size ≤ 100}``."""
        p = call.params
        offset = p.integer("offset", required=True, lo=0)
        size = p.integer("size", required=True, lo=1, hi=TEMPLATE_PAGE_MAX)
        assert offset is not None and size is not None
        try:
            tpls = self._templates_for(p.text("userid"))
        except LookupError:
            raise OapiError(60121, "找不到该用户") from None
        page = tpls[offset : offset + size]
        result: dict[str, Any] = {
            "process_list": [
                {
                    "name": t.name,
                    "icon_url": f"https://gw.alicdn.com/{t.icon}.png",
                    "process_code": t.process_code,
                    "url": f"https://aflow.dingtalk.com/dingtalk/mobile/homepage.htm?code={t.process_code}",
                }
                for t in page
            ]
        }
        if offset + size < len(tpls):
            result["next_cursor"] = offset + size
        return {"result": result}

    def visible_templates(self, call: Call) -> dict[str, Any]:
        """``GET /v1.0/workflow/processes/userVisibilities/templates?maxResults&nextToken``."""
        self._v1_allowed()
        q = call.query
        size = int_param(q.get("maxResults"))
        if size is None or not 1 <= size <= TEMPLATE_PAGE_MAX:
            raise ApiError(400, "invalidMaxResults", "maxResults取值范围1~100")
        offset = int_param(q.get("nextToken"))
        if offset is None or offset < 0:
            raise ApiError(400, "invalidNextToken", "nextToken无效")
        try:
            tpls = self._templates_for(q.get("userId"))
        except LookupError:
            raise ApiError(400, "invalidParameter", "userId无效") from None
        page = tpls[offset : offset + size]
        result: dict[str, Any] = {
            "processList": [
                {
                    "name": t.name,
                    "processCode": t.process_code,
                    "iconUrl": f"https://gw.alicdn.com/{t.icon}.png",
                    "url": f"https://aflow.dingtalk.com/dingtalk/mobile/homepage.htm?code={t.process_code}",
                    "dirId": str(12_340_000 + ["人事", "财务", "行政"].index(t.dir_name)),
                    "dirName": t.dir_name,
                }
                for t in page
            ]
        }
        if offset + size < len(tpls):
            result["nextToken"] = offset + size
        return {"result": result}

    def _managed_by(self, userid: str) -> list[Template] | None:
        """The templates ``userid`` manages: every template for the main and sub-administrators
        (who hold the OA-approval permission in the sandbox), ``None`` for anyone else; raises
        ``LookupError`` for someone not in the directory."""
        company = self.state.company
        if userid not in company.users:
            raise LookupError(userid)
        return list(self.world.templates) if userid in company.admins else None

    def manage_get(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/process/template/manage/get {userid}`` (approvals.md §4) → ``result[
        {icon_name, flow_title, process_code, gmt_modified "yyyy-MM-dd HH:mm:ss" GMT+8,
        attendance_type, icon_url, is_new_process}]``, ``success``; unpaged. ``[]`` for someone
        without the OA-approval permission (not an administrator); ``60121`` for an unknown
        userid."""
        userid = call.params.text("userid", required=True)
        assert userid is not None
        try:
            tpls = self._managed_by(userid) or []
        except LookupError:
            raise OapiError(60121, "找不到该用户") from None
        return {
            "result": [
                {
                    "attendance_type": t.attendance_type,
                    "flow_title": t.name,
                    "gmt_modified": old_time(t.gmt_create_ms + DAY_MS),
                    "icon_name": t.icon,
                    "icon_url": f"https://gw.alicdn.com/{t.icon}.png",
                    "is_new_process": True,
                    "process_code": t.process_code,
                }
                for t in tpls
            ],
            "success": True,
        }

    def managed_templates(self, call: Call) -> dict[str, Any]:
        """``GET /v1.0/workflow/processes/managements/templates?userId=`` (approvals.md §7) →
        ``{result: [{iconName, flowTitle, processCode, newProcess, gmtModified
        "yyyy-MM-ddTHH:mmZ", attendanceType, iconUrl}], success: true}``. 400 ``invalidUserId``
        without ``userId``, ``userNotExist`` for an unknown one, ``noPermission`` for someone
        without the OA-approval permission (not an administrator)."""
        self._v1_allowed()
        userid = call.query.get("userId")
        if not userid:
            raise ApiError(400, "invalidUserId", "userId不能为空")
        try:
            tpls = self._managed_by(userid)
        except LookupError:
            raise ApiError(400, "userNotExist", "用户不存在") from None
        if tpls is None:
            raise ApiError(400, "noPermission", "用户没有OA审批管理权限")
        return {
            "result": [
                {
                    "iconName": t.icon,
                    "flowTitle": t.name,
                    "processCode": t.process_code,
                    "newProcess": True,
                    "gmtModified": iso_minute(t.gmt_create_ms + DAY_MS),
                    "attendanceType": t.attendance_type,
                    "iconUrl": f"https://gw.alicdn.com/{t.icon}.png",
                }
                for t in tpls
            ],
            "success": True,
        }

    def form_schema(self, call: Call) -> dict[str, Any]:
        """``GET /v1.0/workflow/forms/schemas/processCodes?processCode=``."""
        code = call.query.get("processCode")
        if not code:
            raise ApiError(400, "invalidProcessCode", "processCode不能为空")
        tpl = self.world.template(code)
        if tpl is None:
            raise ApiError(400, "invalidProcessCode", "审批模板不存在")
        return {"result": schema_result(tpl)}
