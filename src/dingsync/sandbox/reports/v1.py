"""The new-family (v1.0) report routes: statistics rules, submission statistics and the report
detail (reports.md §11: shapes from DingTalk's official v1.0 SDK; behaviour is the sandbox's
reading, docs/reports.md "Statistics rules").
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from dingsync.sandbox.reports.rules import StatRule, statuses
from dingsync.sandbox.reports.state import ReportsState
from dingsync.sandbox.wire import ApiError
from dingsync.timeutil import WIRE_TZ, local_date

if TYPE_CHECKING:
    from dingsync.sandbox.call import Call

#: ``maxResults`` cap of ``statisticalRules/results`` (EB-38: v1.0 report pages ≤ 20).
RULES_MAX_RESULTS = 20


def _bad(name: str) -> ApiError:
    return ApiError(400, "invalidParameter", f"参数错误: {name}")


def _required(call: Call, *names: str) -> dict[str, str]:
    q = {k: v for k, v in call.query.items() if v != ""}
    for name in names:
        if name not in q:
            raise ApiError(400, "missingParameter", f"缺少参数: {name}")
    return q


def _int(q: dict[str, str], name: str) -> int:
    try:
        return int(q[name])
    except (KeyError, ValueError):
        raise _bad(name) from None


class ReportV1Handlers(ReportsState):
    """``/v1.0/report/statisticalRules/results``, ``/v1.0/report/submitStatisticalResults``
    and ``/v1.0/report/details``."""

    def _user(self, q: dict[str, str]) -> str:
        userid = q["operationUserId"]
        if userid not in self.state.company.users:
            raise ApiError(400, "invalidParameter", "operationUserId 不存在")
        return userid

    def _template_by_id(self, template_id: str) -> str:
        for name, tpl in self.world.templates.items():
            if tpl.report_code == template_id:
                return name
        raise ApiError(400, "invalidParameter", "templateId 不存在")

    def v1_rules(self, call: Call) -> dict[str, Any]:
        """``GET /v1.0/report/statisticalRules/results?templateId=&operationUserId=&nextToken=
        &maxResults=`` → ``{dataList[{remindId, templateId, periodType, startDateTime[],
        endDateTime[], creatorId, modifierId, toGroups[]}], hasMore, nextToken}``."""
        q = _required(call, "templateId", "operationUserId", "nextToken", "maxResults")
        self._user(q)
        name = self._template_by_id(q["templateId"])
        offset, size = _int(q, "nextToken"), _int(q, "maxResults")
        if offset < 0 or not 1 <= size <= RULES_MAX_RESULTS:
            raise _bad("nextToken/maxResults")
        rule = self.world.rules.get(name)
        found = [rule.wire(q["templateId"])] if rule is not None else []
        page = found[offset : offset + size]
        more = offset + size < len(found)
        out: dict[str, Any] = {"dataList": page, "hasMore": more}
        if more:
            out["nextToken"] = offset + size
        return out

    def rule_statistics(self, rule: StatRule, start_ms: int, end_ms: int) -> dict[str, Any]:
        """The submission statistics of ``rule`` for the windows opening in ``[start_ms,
        end_ms]`` (the truth the product's rule compliance is tested against)."""
        w = self.world
        first, last = local_date(start_ms, WIRE_TZ), local_date(end_ms, WIRE_TZ)
        created: dict[str, list[int]] = {}
        for r in w.reports:
            if r.template == rule.template:
                created.setdefault(r.creator_id, []).append(r.create_time)
        company = self.state.company
        status_map: dict[str, dict[str, int]] = {}
        count_map: dict[str, int] = {}
        periods = 0
        for userid in rule.userids:
            hired_text = w.hired_day.get(userid)
            hired = date.fromisoformat(hired_text) if hired_text else None
            per = statuses(rule, created.get(userid, []), first, last, hired=hired)
            status_map[userid] = per
            count_map[userid] = sum(1 for v in per.values() if v)
            periods = max(periods, len(per))
        user_map = {}
        dept_map = {}
        for userid in rule.userids:
            user = company.users[userid]
            dept = user.memberships[0].dept_id if user.memberships else 1
            user_map[userid] = {"userId": userid, "name": user.name, "deptId": str(dept)}
            dept_map[userid] = company.departments[dept].name
        return {
            "shouldRemindTimes": periods,
            "templateName": rule.template,
            "userDeptMap": dept_map,
            "userIdCountMap": count_map,
            "userIdStatusMap": status_map,
            "userIds": list(rule.userids),
            "userMap": user_map,
        }

    def v1_submit_statistics(self, call: Call) -> dict[str, Any]:
        """``GET /v1.0/report/submitStatisticalResults?templateId=&remindId=&startTime=&endTime=
        &operationUserId=`` (times epoch ms) → ``{templateName, userIds (who must submit),
        userMap{userid: {userId, name, deptId}}, userDeptMap{userid: dept name},
        userIdCountMap{userid: periods with a report}, userIdStatusMap{userid: {due day
        "yyyy-MM-dd": 0 missing | 1 on time | 2 late}}, shouldRemindTimes (periods)}``."""
        q = _required(call, "templateId", "remindId", "startTime", "endTime", "operationUserId")
        self._user(q)
        name = self._template_by_id(q["templateId"])
        rule = self.world.rules.get(name)
        if rule is None or rule.remind_id != _int(q, "remindId"):
            raise ApiError(400, "invalidParameter", "remindId 不存在")
        start, end = _int(q, "startTime"), _int(q, "endTime")
        if end < start:
            raise _bad("startTime/endTime")
        return self.rule_statistics(rule, start, end)

    def v1_detail(self, call: Call) -> dict[str, Any]:
        """``GET /v1.0/report/details?reportId=`` → ``{reportId, templateName, creatorId,
        creatorName, deptName, createTime, modifiedTime, remark, content[{key, sort, type,
        value, images[]}]}``: texts in full (``report/list`` cuts them at 1,000 characters);
        table fields still ``[表格]`` (docs/reports.md, "Content DingTalk does not give")."""
        q = _required(call, "reportId")
        report = self.world.by_id.get(q["reportId"])
        if report is None:
            raise ApiError(400, "invalidParameter", "reportId 不存在")
        full = report.full_texts
        return {
            "content": [
                {**c, "value": full.get(c["key"], c["value"]), "images": []}
                for c in report.contents
            ],
            "createTime": report.create_time,
            "creatorId": report.creator_id,
            "creatorName": report.creator_name,
            "deptName": report.dept_name,
            "modifiedTime": report.modified_time,
            "remark": report.remark,
            "reportId": report.report_id,
            "templateName": report.template,
        }
