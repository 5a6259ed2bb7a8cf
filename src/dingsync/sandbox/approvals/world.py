"""The approvals world: instances, the world holding them with its indexes, and the change a
mutation announces (:class:`ApprovalChange`).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dingsync.sandbox.approvals.templates import Template

SECOND_MS = 1_000
MINUTE_MS = 60_000

STATES = (
    ("RUNNING", ""),
    ("COMPLETED", "agree"),
    ("COMPLETED", "refuse"),
    ("TERMINATED", ""),
    ("CANCELED", ""),
)


@dataclass
class Instance:
    """One approval instance, host-neutral. Times are epoch ms (whole seconds: the old host
    shows them all, v1.0 only to the minute, EB-56). ``tasks``: ``{taskid, userid, status,
    result, create_time, finish_time, activity_id}``; ``result`` is ``None`` until the task is
    decided, ``create_time`` ``None`` while it is ``NEW`` (not reached yet)."""

    process_instance_id: str
    process_code: str
    title: str
    business_id: str
    originator_userid: str
    originator_dept_id: str
    originator_dept_name: str
    create_ms: int
    finish_ms: int | None
    status: str
    result: str
    form: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    records: list[dict[str, Any]]
    cc_userids: list[str]
    approver_userids: list[str]
    biz_action: str = "NONE"
    #: Set when the instance was deleted (``POST /sandbox/mutate/approvals/delete``): it is gone
    #: from every list and lookup; listeners hear it once more (EB-78).
    deleted: bool = False


@dataclass
class ApprovalWorld:
    """Templates, instances by id and, per template, ``(create_ms, id)`` sorted ascending."""

    templates: list[Template]
    instances: dict[str, Instance]
    by_template: dict[str, list[tuple[int, str]]]

    def template(self, process_code: str) -> Template | None:
        return next((t for t in self.templates if t.process_code == process_code), None)

    def add(self, inst: Instance) -> None:
        self.instances[inst.process_instance_id] = inst
        bisect.insort(
            self.by_template.setdefault(inst.process_code, []),
            (inst.create_ms, inst.process_instance_id),
        )

    def remove(self, inst: Instance) -> None:
        """Forget ``inst`` (lookups and the per-template index)."""
        self.instances.pop(inst.process_instance_id, None)
        pairs = self.by_template.get(inst.process_code, [])
        key = (inst.create_ms, inst.process_instance_id)
        at = bisect.bisect_left(pairs, key)
        if at < len(pairs) and pairs[at] == key:
            del pairs[at]


@dataclass(frozen=True)
class ApprovalChange:
    """What one approvals mutation announces to :attr:`ApprovalsArea.listeners`, in the terms
    of events.md §2.3.

    ``event_type``: ``bpms_instance_change`` or ``bpms_task_change``; ``type``: ``start``,
    ``finish``, ``terminate`` (instance withdrawn), ``cancel`` (task) or ``delete`` (instance
    deleted, EB-78); ``result``: ``agree``/``refuse`` on a ``finish``, else ``None``; ``task``:
    the task (``taskid``, ``userid`` — the approver, ``create_time``/``finish_time`` epoch ms,
    ``status``, ``result``, ``activity_id``) for a task event, else ``None``; ``remark``: the
    approver's comment on a task ``finish``, if any."""

    event_type: str
    instance: Instance
    type: str
    result: str | None = None
    task: dict[str, Any] | None = None
    remark: str | None = None


#: A listener of approvals mutations: ``(event_type, instance, change)``; it may answer a JSON
#: object (the emitted event), collected under ``events`` in the mutation's answer.
ApprovalListener = Callable[[str, Instance, ApprovalChange], dict[str, Any] | None]
