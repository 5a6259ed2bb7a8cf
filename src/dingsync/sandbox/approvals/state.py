"""The approvals area's live state: knobs, the world (generated on first use, again when the
density knob moves), listeners and the truth.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from dingsync.sandbox.approvals.generator import generate_approvals, leave_periods
from dingsync.sandbox.approvals.limits import DEFAULT_DENSITY, IDS_PER_LOOP
from dingsync.sandbox.approvals.world import ApprovalListener, ApprovalWorld, Instance
from dingsync.sandbox.wire import ApiError

if TYPE_CHECKING:
    from dingsync.sandbox.state import SandboxState


class ApprovalsState:
    """Base of :class:`~dingsync.sandbox.approvals.area.ApprovalsArea`: state and truth."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        #: Extra config: instances generated per person per day of history.
        #: ``approvals_ids_per_loop``: DingTalk's 10,000-ids-per-loop cap (smaller in tests);
        #: ``approvals_v1_denied``: v1.0 workflow APIs answer 403 AccessTokenPermissionDenied
        #: (an app without the new permission, EB-55).
        self.knobs: dict[str, Any] = {
            "approvals_per_user_day": DEFAULT_DENSITY,
            "approvals_ids_per_loop": IDS_PER_LOOP,
            "approvals_v1_denied": False,
        }
        self._world: ApprovalWorld | None = None
        self._density: float | None = None
        #: Bumped by every mutation (under ``state.lock``): the truth below is computed once
        #: per world and version, so ``GET /sandbox/stats`` stays cheap at 20,000 people.
        self._version = 0
        self._stats: tuple[ApprovalWorld, int, dict[str, Any]] | None = None
        #: Called with ``(event_type, instance, change)`` for every event a mutation causes
        #: (:class:`ApprovalChange`, in the order DingTalk sends them).
        self.listeners: list[ApprovalListener] = []

    # -- the world -------------------------------------------------------------------------
    @property
    def world(self) -> ApprovalWorld:
        """The generated world (generated on first use; again when the density knob moves)."""
        state = self.state
        density = float(state.area_knobs.get("approvals_per_user_day", DEFAULT_DENSITY))
        with state.lock:
            if self._world is None or density != self._density:
                cfg = state.config
                leaves = leave_periods(state.areas.get("attendance"))
                self._world = generate_approvals(
                    state.company,
                    cfg.seed,
                    cfg.days,
                    state.company.anchor_ms,
                    density,
                    leaves=leaves,
                )
                self._density = density
            return self._world

    def stats(self) -> dict[str, Any]:
        """Truth: counts of templates, instances (by template, status, result), form values,
        detail rows, tasks, operation records and cc entries — computed once per world (a new
        one when the density knob moves) and version (every mutation bumps it), as the reports
        area's truth is; each call gets its own copy."""
        w = self.world
        with self.state.lock:
            cached = self._stats
            if cached is None or cached[0] is not w or cached[1] != self._version:
                cached = (w, self._version, self._count(w))
                self._stats = cached
            return {k: dict(v) if isinstance(v, dict) else v for k, v in cached[2].items()}

    @staticmethod
    def _count(w: ApprovalWorld) -> dict[str, Any]:
        """The counts of :meth:`stats` over ``w`` (call under ``state.lock``)."""
        insts = list(w.instances.values())
        names = {t.process_code: t.name for t in w.templates}
        detail_rows = 0
        for inst in insts:
            for fv in inst.form:
                if fv["component_type"] == "TableField" and fv["value"]:
                    detail_rows += len(json.loads(fv["value"]))
        return {
            "templates": len(w.templates),
            "instances": len(insts),
            "by_template": dict(Counter(names[i.process_code] for i in insts)),
            "by_status": dict(Counter(i.status for i in insts)),
            "by_result": dict(Counter(i.result or "" for i in insts)),
            "form_values": sum(len(i.form) for i in insts),
            "detail_rows": detail_rows,
            "tasks": sum(len(i.tasks) for i in insts),
            "operation_records": sum(len(i.records) for i in insts),
            "cc": sum(len(i.cc_userids) for i in insts),
        }

    def _instance(self, pid: str | None) -> Instance | None:
        return self.world.instances.get(pid) if pid else None

    def _cap(self) -> int:
        return int(self.state.area_knobs.get("approvals_ids_per_loop", IDS_PER_LOOP))

    def _v1_allowed(self) -> None:
        if self.state.area_knobs.get("approvals_v1_denied"):
            raise ApiError(
                403,
                "Forbidden.AccessDenied.AccessTokenPermissionDenied",
                "没有调用该接口的权限，接口权限申请参考：Workflow.Instance.Read",
            )
