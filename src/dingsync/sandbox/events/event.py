"""An event the sandbox pushes (:class:`SandboxEvent`) in both formats, and which event types
DingTalk knows (for ``register_call_back``'s ``call_back_tag``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

USER_TAGS = ("user_add_org", "user_modify_org", "user_leave_org", "user_active_org")
DEPT_TAGS = ("org_dept_create", "org_dept_modify", "org_dept_remove")
MAX_KEPT = 20_000


@dataclass
class SandboxEvent:
    """One emitted event: id, type, born time (ms), corp, and its business fields in camelCase
    (``userId``/``deptId``/approval fields)."""

    event_id: str
    event_type: str
    born_ms: int
    corp_id: str
    fields: dict[str, Any]

    def legacy(self) -> dict[str, Any]:
        """Format 1 (legacy HTTP, PascalCase envelope, no id)."""
        body: dict[str, Any] = {"EventType": self.event_type, "CorpId": self.corp_id}
        if "userId" in self.fields:
            body["UserId"] = list(self.fields["userId"])
            if "optStaffId" in self.fields:
                body["OptStaffId"] = self.fields["optStaffId"]
        if "deptId" in self.fields:
            body["DeptId"] = list(self.fields["deptId"])
        if self.event_type.startswith("bpms_"):
            body = {"EventType": self.event_type, "corpId": self.corp_id}
            body.update({k: v for k, v in self.fields.items()})
            return body
        if "dataList" in self.fields:  # attendance: legacy ``DataList``
            body["DataList"] = self.fields["dataList"]
        body["TimeStamp"] = str(self.born_ms)
        return body

    def current(self) -> dict[str, Any]:
        """Format 2 (current-doc HTTP push with ``EventTime``/``BizId``/``eventId``)."""
        body: dict[str, Any] = {
            "EventType": self.event_type,
            "EventTime": self.born_ms,
            "CorpId": self.corp_id,
            "BizId": self.event_id,
            "eventId": self.event_id,
            "timeStamp": str(self.born_ms),
        }
        body.update(self.fields)
        return body

    def stream_data(self) -> dict[str, Any]:
        """The ``data`` object of a Stream EVENT frame (camelCase)."""
        data = dict(self.fields)
        if not self.event_type.startswith("bpms_"):
            data["timeStamp"] = str(self.born_ms)
        return data

    def failed_item(self) -> dict[str, Any]:
        """An item of ``get_call_back_failed_result``'s ``failed_list``."""
        data: dict[str, Any] = {"corpid": self.corp_id}
        if "userId" in self.fields:
            data["userid"] = list(self.fields["userId"])
        if "deptId" in self.fields:
            data["deptId"] = list(self.fields["deptId"])
        if "dataList" in self.fields:
            data["dataList"] = self.fields["dataList"]
        key = "callbackData"
        if self.event_type.startswith("bpms_"):
            key = "bpmsCallBackData"
            data.update(self.fields)
        return {"call_back_tag": self.event_type, "event_time": self.born_ms, key: data}


def event_answer(ev: SandboxEvent) -> dict[str, Any]:
    """The JSON a mutation answers: the emitted event's id, type, born time and fields."""
    return {
        "event_id": ev.event_id,
        "event_type": ev.event_type,
        "born_ms": ev.born_ms,
        **ev.fields,
    }


#: Event types ``call_back_tag`` may name (events.md §2), and prefixes of the groups listed by
#: name only (§2.4 ``leave_*``, §2.7); anything else is ``71008``.
KNOWN_EVENT_TYPES = frozenset(
    {
        "user_add_org", "user_modify_org", "user_leave_org", "user_active_org",
        "org_admin_add", "org_admin_remove", "org_dept_create", "org_dept_modify",
        "org_dept_remove", "label_user_change", "label_conf_add", "label_conf_del",
        "label_conf_modify", "org_change", "org_remove", "bpms_instance_change",
        "bpms_task_change", "attendance_check_record", "attendance_schedule_change",
        "attendance_overtime_duration", "attend_group_change", "attend_shift_change",
        "attend_bossCheck_change", "attendance_approve_status_change",
        "attend_user_daily_summary_refresh", "watermark_check_in",
        "attendance_report_column_change", "check_in", "chat_add_member",
        "chat_remove_member", "chat_quit", "chat_update_owner", "chat_update_title",
        "chat_disband", "meetingroom_book", "meetingroom_room_info", "calendar_event_change",
        "todo_task_create", "todo_task_update", "todo_task_delete", "robot_msg_recall",
        "robot_msg_read", "market_service_open", "market_service_close",
    }
)  # fmt: skip

KNOWN_EVENT_PREFIXES = ("leave_", "storage_dentry_", "live_", "edu_", "market_order", "inner_app_")


def known_event_type(tag: str) -> bool:
    return tag in KNOWN_EVENT_TYPES or tag.startswith(KNOWN_EVENT_PREFIXES)
