"""The reports area's live state: knobs, the world (generated on first use) and the truth."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from dingsync.sandbox.reports.generator import generate_reports
from dingsync.sandbox.reports.world import Report, ReportsWorld, submission_truth

if TYPE_CHECKING:
    from dingsync.sandbox.state import SandboxState


def _cursor_base(seed: int) -> int:
    return 2_000_000_000 + (seed * 7_919) % 900_000_000


class ReportsState:
    """Base of :class:`~dingsync.sandbox.reports.area.ReportsArea`: state and truth."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        #: ``report_images``: serve ``images`` on ``report/list`` items that have them (EB-34).
        self.knobs: dict[str, Any] = {"report_images": False}
        self._world: ReportsWorld | None = None
        self._version = 0
        self._stats: tuple[int, dict[str, Any]] | None = None
        self._cache: dict[tuple[Any, ...], list[Report]] = {}
        self.cursor_base = _cursor_base(state.config.seed)
        # Generated now, while the sandbox starts, so that no call (or /sandbox/stats) pays for it.
        self._world = generate_reports(
            state.config.seed, state.company, state.config.days, state.company.anchor_ms
        )

    @property
    def world(self) -> ReportsWorld:
        """The generated world."""
        if self._world is None:
            with self.state.lock:
                if self._world is None:
                    s = self.state
                    self._world = generate_reports(
                        s.config.seed, s.company, s.config.days, s.company.anchor_ms
                    )
        return self._world

    # -- truth -------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Report counts and per-person, per-period submission truth (computed once per
        version of the world: ``/sandbox/stats`` stays cheap)."""
        w = self.world
        with self.state.lock:
            if self._stats is not None and self._stats[0] == self._version:
                return dict(self._stats[1])
            by_tpl = Counter(r.template for r in w.reports)
            stats = {
                "templates": len(w.templates),
                "reports": len(w.reports),
                "reports_by_template": dict(sorted(by_tpl.items())),
                "late_reports": sum(1 for r in w.reports if r.late),
                "edited_reports": sum(1 for r in w.reports if r.modified_time != r.create_time),
                "report_receivers": sum(len(r.receivers) for r in w.reports),
                "report_comments": sum(len(r.comments) for r in w.reports),
                "report_reads": sum(len(r.readers) for r in w.reports),
                "report_likes": sum(len(r.likers) for r in w.reports),
                "window": {"start_ms": w.start_ms, "end_ms": w.end_ms},
                "submissions": submission_truth(w),
            }
            self._stats = (self._version, stats)
            return dict(stats)

    # -- helpers -----------------------------------------------------------------------------
    def item(self, r: Report, *, full: bool) -> dict[str, Any]:
        """A ``data_list`` item of ``report/list`` (``full``) or ``simplelist``."""
        out: dict[str, Any] = {
            "create_time": r.create_time,
            "creator_id": r.creator_id,
            "creator_name": r.creator_name,
            "dept_name": r.dept_name,
            "remark": r.remark,
            "report_id": r.report_id,
            "template_name": r.template,
        }
        if full:
            out["contents"] = [dict(c) for c in r.contents]
            out["modified_time"] = r.modified_time
            if r.images and self.state.area_knobs.get("report_images"):
                out["images"] = list(r.images)
        return out
