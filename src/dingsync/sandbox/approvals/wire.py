"""Approvals on the wire: an instance rendered in each host's shape (old ``topapi`` snake_case,
GMT+8 strings; new ``v1.0`` camelCase, UTC minutes), a template's form schema, and the integer
parameters the handlers read.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from dingsync.sandbox.approvals.templates import Template
from dingsync.sandbox.approvals.world import Instance
from dingsync.timeutil import (
    DAY_MS,
    format_ms,
)


def iso_minute(ms: int) -> str:
    return format_ms(ms, tz=UTC, fmt="%Y-%m-%dT%H:%MZ")


def old_time(ms: int) -> str:
    return format_ms(ms, "%Y-%m-%d %H:%M:%S")


def render_old(inst: Instance) -> dict[str, Any]:
    """``process_instance`` of ``POST /topapi/processinstance/get`` (snake_case, GMT+8). A task
    carries ``task_result`` only once decided (``AGREE``/``REFUSE``/``REDIRECTED``,
    approvals.md §10) and ``create_time`` only once reached (a ``NEW`` task has neither)."""
    body: dict[str, Any] = {
        "title": inst.title,
        "create_time": old_time(inst.create_ms),
        "originator_userid": inst.originator_userid,
        "originator_dept_id": inst.originator_dept_id,
        "originator_dept_name": inst.originator_dept_name,
        "status": inst.status,
        "result": inst.result,
        "business_id": inst.business_id,
        "approver_userids": list(inst.approver_userids),
        "cc_userids": list(inst.cc_userids),
        "biz_action": inst.biz_action,
        "attached_process_instance_ids": [],
        "form_component_values": [
            {k: v for k, v in fv.items() if v is not None} for fv in inst.form
        ],
        "operation_records": [
            {
                "userid": r["userid"],
                "date": old_time(r["date"]),
                "operation_type": r["type"],
                "operation_result": r["result"],
                **({"remark": r["remark"]} if "remark" in r else {}),
                **(
                    {  # the old shape has no space id (approvals.md §2)
                        "attachments": [
                            {k: v for k, v in a.items() if k != "space_id"}
                            for a in r["attachments"]
                        ]
                    }
                    if "attachments" in r
                    else {}
                ),
            }
            for r in inst.records
        ],
        "tasks": [
            {
                "taskid": str(t["taskid"]),
                "userid": t["userid"],
                "task_status": t["status"],
                **({"task_result": t["result"]} if t.get("result") else {}),
                **({"create_time": old_time(t["create_time"])} if t.get("create_time") else {}),
                **({"finish_time": old_time(t["finish_time"])} if t.get("finish_time") else {}),
                "activity_id": t["activity_id"],
                "url": f"https://aflow.dingtalk.com/dingtalk/web/query/pchomepage.htm?procInsId={inst.process_instance_id}&taskId={t['taskid']}",
            }
            for t in inst.tasks
        ],
    }
    if inst.finish_ms is not None:
        body["finish_time"] = old_time(inst.finish_ms)
    return body


def render_new(inst: Instance) -> dict[str, Any]:
    """``result`` of ``GET /v1.0/workflow/processInstances`` (camelCase, UTC minutes; tasks as
    in :func:`render_old`)."""
    body: dict[str, Any] = {
        "title": inst.title,
        "createTime": iso_minute(inst.create_ms),
        "originatorUserId": inst.originator_userid,
        "originatorDeptId": inst.originator_dept_id,
        "originatorDeptName": inst.originator_dept_name,
        "status": "TERMINATED" if inst.status == "CANCELED" else inst.status,
        "result": inst.result,
        "businessId": inst.business_id,
        "approverUserIds": list(inst.approver_userids),
        "ccUserIds": list(inst.cc_userids),
        "bizAction": inst.biz_action,
        "attachedProcessInstanceIds": [],
        "formComponentValues": [
            {
                "id": fv["id"],
                **({"name": fv["name"]} if fv.get("name") is not None else {}),
                "value": fv["value"],
                **({"extValue": fv["ext_value"]} if fv.get("ext_value") is not None else {}),
                "componentType": fv["component_type"],
            }
            for fv in inst.form
        ],
        "operationRecords": [
            {
                "userId": r["userid"],
                "date": iso_minute(r["date"]),
                "type": r["type"],
                "result": r["result"],
                **({"remark": r["remark"]} if "remark" in r else {}),
                **(
                    {
                        "attachments": [
                            {
                                "fileName": a["file_name"],
                                "fileSize": a["file_size"],
                                "fileId": a["file_id"],
                                "fileType": a["file_type"],
                                "spaceId": a["space_id"],
                            }
                            for a in r["attachments"]
                        ]
                    }
                    if "attachments" in r
                    else {}
                ),
                **({"activityId": r["activity_id"]} if "activity_id" in r else {}),
                "showName": "审批人" if r["type"].startswith("EXECUTE") else "发起人",
            }
            for r in inst.records
        ],
        "tasks": [
            {
                "taskId": int(t["taskid"]),
                "userId": t["userid"],
                "status": t["status"],
                **({"result": t["result"]} if t.get("result") else {}),
                **({"createTime": iso_minute(t["create_time"])} if t.get("create_time") else {}),
                **({"finishTime": iso_minute(t["finish_time"])} if t.get("finish_time") else {}),
                "activityId": t["activity_id"],
                "processInstanceId": inst.process_instance_id,
                "pcUrl": f"https://aflow.dingtalk.com/dingtalk/web/query/pchomepage.htm?procInsId={inst.process_instance_id}&taskId={t['taskid']}",
                "mobileUrl": f"https://aflow.dingtalk.com/dingtalk/mobile/homepage.htm?procInsId={inst.process_instance_id}",
            }
            for t in inst.tasks
        ],
    }
    if inst.finish_ms is not None:
        body["finishTime"] = iso_minute(inst.finish_ms)
    return body


def schema_result(tpl: Template) -> dict[str, Any]:
    """``result`` of ``GET /v1.0/workflow/forms/schemas/processCodes``."""
    return {
        "creatorUserId": "manager0",
        "appUuid": "",
        "formCode": tpl.process_code,
        "formUuid": "FORM-" + tpl.process_code[5:],
        "name": tpl.name,
        "memo": "",
        "ownerIdType": "orgId",
        "schemaContent": {
            "title": tpl.name,
            "icon": tpl.icon,
            "items": [c.schema() for c in tpl.components],
        },
        "icon": tpl.icon,
        "appType": 0,
        "bizType": "",
        "engineType": 0,
        "status": "PUBLISHED",
        "listOrder": 1,
        "procType": "inner",
        "visibleRange": "PUBLIC",
        "gmtCreate": str(tpl.gmt_create_ms),
        "gmtModified": str(tpl.gmt_create_ms + DAY_MS),
    }


def render_status_new(inst: Instance) -> str:
    """The status v1.0 shows (``CANCELED`` → ``TERMINATED``, EB-57)."""
    return "TERMINATED" if inst.status == "CANCELED" else inst.status


def int_param(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None
