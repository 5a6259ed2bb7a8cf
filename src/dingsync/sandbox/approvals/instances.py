"""Handlers of approval instances on both hosts: ids by window (``listids``,
``instanceIds/query``) and one instance (``processinstance/get``, ``processInstances``).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import Any

from dingsync.sandbox.approvals.limits import HISTORY_MAX_MS, PAGE_MAX, V1_STATUSES, WINDOW_MAX_MS
from dingsync.sandbox.approvals.state import ApprovalsState
from dingsync.sandbox.approvals.wire import int_param, render_new, render_old, render_status_new
from dingsync.sandbox.call import Call, json_object
from dingsync.sandbox.wire import ApiError, OapiError


class InstanceHandlers(ApprovalsState):
    """Instance ids and instances."""

    def _window(
        self,
        code: str,
        start: int,
        end: int,
        userids: Iterable[str] | None,
        statuses: Iterable[str] | None,
    ) -> list[str]:
        pairs = self.world.by_template.get(code, [])
        lo = bisect.bisect_left(pairs, (start, ""))
        hi = bisect.bisect_right(pairs, (end, "\uffff"))
        ids = [pid for _, pid in pairs[lo:hi]]
        insts = self.world.instances
        # EB-54: every instance of the org; EB-31: out-of-scope originators left out silently
        scope = self.state.data_scope()
        if scope is not None:
            ids = [i for i in ids if insts[i].originator_userid in scope]
        if userids:
            wanted = set(userids)
            ids = [i for i in ids if insts[i].originator_userid in wanted]
        if statuses:
            st = set(statuses)
            ids = [i for i in ids if render_status_new(insts[i]) in st]
        return ids

    def listids(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/processinstance/listids`` (EB-50..53: 400002 for windows; size ≤ 20,
        default 10; ``userid_list`` ≤ 20; ``next_cursor`` absent on the last page)."""
        p = call.params
        code = p.text("process_code", required=True)
        start = p.integer("start_time", required=True, lo=0)
        end = p.integer("end_time", lo=0)
        size = p.integer("size", lo=1, hi=PAGE_MAX, default=10)
        cursor = p.integer("cursor", lo=0, default=0)
        users = p.text_list("userid_list")
        assert code is not None and start is not None and size is not None and cursor is not None
        if self.world.template(code) is None:
            raise OapiError(820001, "processCode值不正确")
        if users is not None and len(users) > 20:
            raise OapiError(400002, "无效的参数: userid_list 最多20个")
        now = self.state.clock.now_ms()
        if end is None:
            if start < now - WINDOW_MAX_MS:
                raise OapiError(400002, "无效的参数: start_time 只能查询120天内")
            end = now
        if end < start or end - start > WINDOW_MAX_MS:
            raise OapiError(400002, "无效的参数: 时间跨度不能超过120天")
        if start < now - HISTORY_MAX_MS:
            raise OapiError(400002, "无效的参数: start_time 不能早于365天前")
        ids = self._window(code, start, end, users, None)[: self._cap()]
        page = ids[cursor : cursor + size]
        result: dict[str, Any] = {"list": page}
        if cursor + size < len(ids):
            result["next_cursor"] = cursor + size
        return {"result": result}

    def ids_query(self, call: Call) -> dict[str, Any]:
        """``POST /v1.0/workflow/processes/instanceIds/query`` (approvals.md §5; ``statuses``
        other than ``RUNNING``/``TERMINATED``/``COMPLETED`` → 400 ``invalidParameter``)."""
        self._v1_allowed()
        body = json_object(call)
        code = body.get("processCode")
        if not code or not isinstance(code, str):
            raise ApiError(400, "invalidProcessCode", "processCode不能为空")
        if self.world.template(code) is None:
            raise ApiError(400, "invalidProcessCode", "processCode不存在")
        start = int_param(body.get("startTime"))
        if start is None:
            raise ApiError(400, "invalidInstanceListIdsStartTime", "startTime不能为空")
        token = body.get("nextToken")
        if token is None or token == "":
            raise ApiError(400, "invalidNextToken", "nextToken不能为空")
        offset = int_param(token)
        if offset is None or offset < 0:
            raise ApiError(400, "invalidNextToken", "nextToken无效")
        size = int_param(body.get("maxResults"))
        if size is None or not 1 <= size <= PAGE_MAX:
            raise ApiError(400, "invalidMaxResults", "maxResults不能超过20")
        users = body.get("userIds")
        if users is not None and (not isinstance(users, list) or len(users) > 10):
            raise ApiError(400, "invalidUserIds", "userIds最多10个")
        statuses = body.get("statuses")
        if statuses is not None and (
            not isinstance(statuses, list) or not set(statuses) <= V1_STATUSES
        ):
            raise ApiError(400, "invalidParameter", "statuses取值为RUNNING、TERMINATED、COMPLETED")
        now = self.state.clock.now_ms()
        end = int_param(body.get("endTime"))
        if end is None:
            end = now
        if end < start or end - start > WINDOW_MAX_MS:
            raise ApiError(400, "invalidEndTime", "结束时间不能早于开始时间，且跨度不能超过120天")
        if start < now - HISTORY_MAX_MS:
            raise ApiError(400, "invalidParameter", "startTime不能早于365天前")
        ids = self._window(code, start, end, users, statuses)[: self._cap()]
        page = ids[offset : offset + size]
        result: dict[str, Any] = {"list": page}
        if offset + size < len(ids):
            result["nextToken"] = str(offset + size)
        return {"result": result, "success": True}

    def get_old(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/processinstance/get {process_instance_id}`` (820005 when unknown)."""
        pid = call.params.text("process_instance_id", required=True)
        inst = self._instance(pid)
        if inst is None:
            raise OapiError(820005, "审批单状态异常")
        return {"process_instance": render_old(inst)}

    def get_new(self, call: Call) -> dict[str, Any]:
        """``GET /v1.0/workflow/processInstances?processInstanceId=``."""
        self._v1_allowed()
        pid = call.query.get("processInstanceId")
        if not pid:
            raise ApiError(400, "processInstanceIdError", "processInstanceId参数无效")
        inst = self._instance(pid)
        if inst is None:
            raise ApiError(400, "processInstanceNotExist", "审批实例不存在")
        return {"result": render_new(inst), "success": "true"}
