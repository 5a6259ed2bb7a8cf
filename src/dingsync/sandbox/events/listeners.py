"""Events for other areas' changes: approval instance and task changes (``bpms_*``) and
attendance punches (``attendance_check_record``).
"""

from __future__ import annotations

from typing import Any

from dingsync.sandbox.events.dispatch import Dispatcher
from dingsync.sandbox.events.event import event_answer


class AreaListeners(Dispatcher):
    """Hook the approvals and attendance areas and emit their events."""

    def _hook_areas(self) -> None:
        """Listen to the approvals area's mutations (areas exist only after every area was
        built, so this runs when the app asks for routes)."""
        if self._hooked:
            return
        self._hooked = True
        approvals = self.state.areas.get("approvals")
        if approvals is not None and hasattr(approvals, "listeners"):
            approvals.listeners.append(self._on_approval)
        # An attendance area that announces punches as ``(event_type, data_item)`` (a
        # ``DataList`` item: userId, checkTime, …) gets them pushed as attendance events.
        attendance = self.state.areas.get("attendance")
        if attendance is not None and hasattr(attendance, "listeners"):
            attendance.listeners.append(self._on_attendance)

    # -- approvals (heard from the approvals area) ------------------------------------------------
    def _on_approval(self, event_type: str, inst: Any, change: Any) -> dict[str, Any] | None:
        """An approvals change (:class:`~dingsync.sandbox.approvals.ApprovalChange`) → one
        event of events.md §2.3; answers the emitted event (``None`` when not announced).

        Both kinds carry ``processInstanceId``, ``processCode``, ``title``, ``url``,
        ``businessId``, ``bizCategoryId`` (``""``), ``createTime``, ``type`` and ``staffId``.
        ``bpms_instance_change``: ``staffId`` the originator, ``type`` ``start``, ``finish``
        (with ``result`` and ``finishTime``) or ``terminate`` (``finishTime``, no ``result``).
        ``bpms_task_change``: ``staffId`` the approver, ``taskId`` (Number), ``createTime`` the
        task's; ``finish`` adds ``result``, ``finishTime`` and the approver's ``remark`` if any.
        A deleted instance is announced only when the ``events_bpms_delete`` knob is on, as
        ``type`` ``delete`` (unconfirmed in DingTalk's docs, EB-78)."""
        kind = str(getattr(change, "type", "") or "")
        if kind == "delete" and not self.knob("events_bpms_delete"):
            self.counters["approval_deletes_unannounced"] += 1
            return None
        now = self.state.clock.now_ms()
        pid = inst.process_instance_id
        fields: dict[str, Any] = {
            "processInstanceId": pid,
            "processCode": inst.process_code,
            "title": inst.title,
            "url": f"https://aflow.dingtalk.com/dingtalk/mobile/homepage.htm?procInsId={pid}",
            "businessId": inst.business_id,
            "bizCategoryId": "",
            "createTime": inst.create_ms,
            "type": kind,
            "staffId": inst.originator_userid,
        }
        task = getattr(change, "task", None)
        if event_type == "bpms_task_change" and task is not None:
            fields["url"] += f"&taskId={task['taskid']}"
            fields["createTime"] = (
                task.get("create_time") or now
            )  # the task's, never the instance's
            fields["staffId"] = task["userid"]
            fields["taskId"] = int(task["taskid"])
            if kind == "finish":
                fields["result"] = change.result or ""
                fields["finishTime"] = task.get("finish_time") or now
                if change.remark:
                    fields["remark"] = change.remark
        elif kind == "finish":
            fields["result"] = change.result or inst.result or ""
            fields["finishTime"] = inst.finish_ms or now
        elif kind == "terminate":
            fields["finishTime"] = inst.finish_ms or now
        self.counters["approval_events"] += 1
        return event_answer(self.emit(event_type, fields))

    def _on_attendance(self, event_type: str, item: dict[str, Any]) -> dict[str, Any]:
        """A punch of the attendance area → one event with a one-item ``dataList`` (legacy
        ``DataList``); answers the mutation's JSON."""
        data = {"corpId": self.state.app.corp_id, **item}
        self.counters["attendance_events"] += 1
        return event_answer(self.emit(event_type, {"dataList": [data]}))
