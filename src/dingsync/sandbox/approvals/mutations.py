"""Approval mutations: ``POST /sandbox/mutate/approvals/{submit,approve,refuse,terminate,delete}``
and the methods behind them; listeners hear each change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from dingsync.sandbox.approvals.generator import InstanceGenerator
from dingsync.sandbox.approvals.state import ApprovalsState
from dingsync.sandbox.approvals.wire import render_old
from dingsync.sandbox.approvals.world import SECOND_MS, ApprovalChange, Instance
from dingsync.sandbox.mutations import (
    BadMutation,
    Code,
    MutationBody,
    MutationConflict,
    MutationError,
    Text,
    UserId,
    read_body,
    unknown,
    validate,
)

if TYPE_CHECKING:
    from fastapi import FastAPI


class SubmitBody(MutationBody):
    """``submit``: the template (default the second one), the originator (default the first
    userid) and ``form_values``: values of the form's components by name (e.g. text with a
    NUL character, as DingTalk may send), replacing the generated ones."""

    process_code: Code | None = None
    originator_userid: UserId | None = None
    form_values: dict[Code, Text] | None = None


class ActBody(MutationBody):
    """``approve``, ``refuse``, ``terminate``: which instance, and an optional remark."""

    process_instance_id: Code
    remark: Text | None = None


class DeleteBody(MutationBody):
    """``delete``: which instance."""

    process_instance_id: Code


class ApprovalMutations(ApprovalsState):
    """Submit, approve, refuse, terminate and delete instances."""

    # -- mutations -------------------------------------------------------------------------
    def control_routes(self, app: FastAPI) -> None:
        """``POST /sandbox/mutate/approvals/submit {process_code?, originator_userid?,
        form_values?}``,
        ``…/approve`` and ``…/refuse`` ``{process_instance_id, remark?}`` (the current task),
        ``…/terminate {process_instance_id, remark?}`` (the originator withdraws a running
        instance) and ``…/delete {process_instance_id}`` (the instance disappears, EB-78).
        200 answers the instance and the ``events`` the listeners emitted; 400 (400002) for a
        malformed body, 404 for an unknown instance (820005), template (830001) or originator
        (60121), 409 (820005 审批单状态异常) when the instance is not running (see
        ``dingsync.sandbox.mutations``)."""
        for action in ("submit", "approve", "refuse", "terminate", "delete"):
            app.add_api_route(
                f"/sandbox/mutate/approvals/{action}", self._act_endpoint(action), methods=["POST"]
            )

    def _act_endpoint(self, action: str) -> Callable[[Request], Any]:
        async def act(request: Request) -> JSONResponse:
            try:
                data = await read_body(request)
                if action == "submit":
                    sub = validate(SubmitBody, data)
                    inst, events = self._submit(
                        sub.process_code, sub.originator_userid, sub.form_values
                    )
                elif action == "delete":
                    pid = validate(DeleteBody, data).process_instance_id
                    inst, events = self._delete(pid)
                else:
                    body = validate(ActBody, data)
                    pid, remark = body.process_instance_id, body.remark
                    if action == "terminate":
                        inst, events = self._terminate(pid, remark)
                    else:
                        inst, events = self._act(pid, action, remark)
            except MutationError as exc:
                return exc.response()
            return JSONResponse({**self._mutation_answer(inst), "events": events})

        act.__name__ = f"sandbox_approvals_{action}"
        return act

    def _mutation_answer(self, inst: Instance) -> dict[str, Any]:
        return {
            "process_instance_id": inst.process_instance_id,
            "process_code": inst.process_code,
            "status": inst.status,
            "result": inst.result,
            "deleted": inst.deleted,
            "process_instance": render_old(inst),
        }

    def _notify(self, changes: list[ApprovalChange]) -> list[dict[str, Any]]:
        """Tell every listener about each change, in order; what they answer, in order."""
        answers: list[dict[str, Any]] = []
        for change in changes:
            for listener in list(self.listeners):
                answer = listener(change.event_type, change.instance, change)
                if isinstance(answer, dict):
                    answers.append(answer)
        return answers

    def _running(self, pid: str | None) -> Instance:
        """The instance ``pid`` (404 820005 when unknown)."""
        inst = self._instance(str(pid) if pid else None)
        if inst is None:
            raise unknown("process_instance", "process_instance_id", pid)
        return inst

    @staticmethod
    def _not_running(inst: Instance) -> MutationConflict:
        return MutationConflict(
            f"instance is {inst.status}, not RUNNING", errcode=820005, errmsg="审批单状态异常"
        )

    def submit(self, process_code: Any, originator: Any) -> Instance:
        """Start a new RUNNING instance now (by the sandbox clock): listeners hear
        ``bpms_instance_change`` ``start`` and ``bpms_task_change`` ``start`` for the first
        approver's task. ``KeyError`` (:class:`~dingsync.sandbox.mutations.UnknownEntity`) for
        an unknown template or person."""
        return self._submit(process_code, originator)[0]

    def _submit(
        self, process_code: Any, originator: Any, form_values: dict[str, str] | None = None
    ) -> tuple[Instance, list[Any]]:
        world = self.world
        tpl = world.template(str(process_code)) if process_code else world.templates[1]
        if tpl is None:
            raise unknown("process_code", "process_code", process_code)
        company = self.state.company
        userid = str(originator) if originator else sorted(company.users)[0]
        if userid not in company.users:
            raise unknown("user", "originator_userid", userid)
        now = self.state.clock.now_ms()
        now -= now % SECOND_MS
        with self.state.lock:
            gen = InstanceGenerator(company, self.state.config.seed + len(world.instances))
            gen.serial = len(world.instances) + 1
            inst = gen.instance(tpl, userid, now, ("RUNNING", ""), now)
            inst.tasks = [
                gen.new_task(tpl, a, i, "NEW", None) for i, a in enumerate(inst.approver_userids)
            ]
            inst.tasks[0].update(status="RUNNING", create_time=now)
            inst.records = inst.records[:1]
            for name, value in (form_values or {}).items():
                component = next((c for c in inst.form if c.get("name") == name), None)
                if component is None:
                    names = [c.get("name") for c in inst.form]
                    raise BadMutation(f"form_values: no component {name!r} in {names}")
                component["value"] = value
            world.add(inst)
            self._version += 1
        changes = [ApprovalChange("bpms_instance_change", inst, "start")] + [
            ApprovalChange("bpms_task_change", inst, "start", task=dict(t))
            for t in inst.tasks
            if t["status"] == "RUNNING"
        ]
        return inst, self._notify(changes)

    def act(self, pid: Any, action: str, remark: Any = None) -> Instance:
        """Approve (``approve``) or refuse (``refuse``) the current (RUNNING) task of a running
        instance. Listeners hear ``bpms_task_change`` ``finish`` (``result`` agree/refuse,
        ``remark``) for that approver, then ``bpms_task_change`` ``start`` for the next approver
        — or, after the last approval or a refusal, ``bpms_instance_change`` ``finish`` with the
        result. ``KeyError`` for an unknown instance, ``ValueError``
        (:class:`~dingsync.sandbox.mutations.MutationConflict`) when it is not running."""
        return self._act(pid, action, remark)[0]

    def _act(self, pid: Any, action: str, remark: Any = None) -> tuple[Instance, list[Any]]:
        inst = self._running(pid)
        now = self.state.clock.now_ms()
        now -= now % SECOND_MS
        note = str(remark) if remark else None
        with self.state.lock:
            if inst.status != "RUNNING":
                raise self._not_running(inst)
            current = next((t for t in inst.tasks if t["status"] in ("RUNNING", "NEW")), None)
            if current is None:
                raise MutationConflict("no open task", errcode=820005, errmsg="审批单状态异常")
            agree = action == "approve"
            current.update(
                status="COMPLETED", result="AGREE" if agree else "REFUSE", finish_time=now
            )
            rec: dict[str, Any] = {
                "userid": current["userid"],
                "date": now,
                "type": "EXECUTE_TASK_NORMAL",
                "result": "AGREE" if agree else "REFUSE",
                "activity_id": current["activity_id"],
            }
            if note:
                rec["remark"] = note
            inst.records.append(rec)
            changes = [
                ApprovalChange(
                    "bpms_task_change",
                    inst,
                    "finish",
                    "agree" if agree else "refuse",
                    task=dict(current),
                    remark=note,
                )
            ]
            following = [t for t in inst.tasks if t["status"] in ("RUNNING", "NEW")]
            if agree and following:
                following[0].update(status="RUNNING", create_time=now)
                changes.append(
                    ApprovalChange("bpms_task_change", inst, "start", task=dict(following[0]))
                )
            else:  # the instance ends: tasks it never reached are never created
                inst.tasks = [t for t in inst.tasks if t["status"] != "NEW"]
                inst.status, inst.result, inst.finish_ms = (
                    "COMPLETED",
                    "agree" if agree else "refuse",
                    now,
                )
                changes.append(ApprovalChange("bpms_instance_change", inst, "finish", inst.result))
            self._version += 1
        return inst, self._notify(changes)

    def terminate(self, pid: Any, remark: Any = None) -> Instance:
        """The originator withdraws (撤销) a running instance: status ``TERMINATED``, result
        ``""``, the waiting task ``CANCELED`` (tasks not reached dropped); listeners hear
        ``bpms_instance_change`` ``terminate``.
        ``KeyError`` for an unknown instance, ``ValueError`` when it is not running."""
        return self._terminate(pid, remark)[0]

    def _terminate(self, pid: Any, remark: Any = None) -> tuple[Instance, list[Any]]:
        inst = self._running(pid)
        now = self.state.clock.now_ms()
        now -= now % SECOND_MS
        with self.state.lock:
            if inst.status != "RUNNING":
                raise self._not_running(inst)
            for t in inst.tasks:
                if t["status"] == "RUNNING":  # the task it waited on
                    t.update(status="CANCELED", finish_time=now)
            inst.tasks = [t for t in inst.tasks if t["status"] != "NEW"]
            inst.records.append(
                {
                    "userid": inst.originator_userid,
                    "date": now,
                    "type": "TERMINATE_PROCESS_INSTANCE",
                    "result": "NONE",
                    "remark": str(remark) if remark else "撤销",
                }
            )
            inst.status, inst.result, inst.finish_ms = "TERMINATED", "", now
            self._version += 1
        return inst, self._notify([ApprovalChange("bpms_instance_change", inst, "terminate")])

    def delete(self, pid: Any) -> Instance:
        """Delete an instance (any status): it leaves ``listids``/``instanceIds/query`` and both
        ``get`` APIs answer not-found; listeners hear ``bpms_instance_change`` ``delete`` with
        ``inst.deleted`` set (whether it is pushed is the events area's knob, EB-78).
        ``KeyError`` for an unknown instance."""
        return self._delete(pid)[0]

    def _delete(self, pid: Any) -> tuple[Instance, list[Any]]:
        inst = self._running(pid)
        with self.state.lock:
            self.world.remove(inst)
            inst.deleted = True
            self._version += 1
        return inst, self._notify([ApprovalChange("bpms_instance_change", inst, "delete")])
