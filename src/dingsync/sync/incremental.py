"""One incremental shape for every synced entity (dlt's ``incremental`` is the model).

An entity that reads a range of time subclasses :class:`IncrementalEntity` and declares:

- its **cursor** — ``"ms"`` (epoch ms: report modification, approval listing time) or
  ``"date"`` (a work date in the company's zone); the watermark is the last cursor value a
  finished run covered, stored as ``{"cursor": <ms int | "YYYY-MM-DD">}``;
- its **overlap** (in cursor units: ms, or days): an incremental run starts at
  ``min(watermark, end) − overlap``, so late-indexed rows and corrections are re-read;
- its range: :meth:`~IncrementalEntity.range_end` (from the run's frozen ``now``) and
  :meth:`~IncrementalEntity.full_start` (how far a full run reaches back), optionally
  :meth:`~IncrementalEntity.earliest` (DingTalk's retention, clamping both modes);
- its **units** in :meth:`~IncrementalEntity.run_units`: windows, pages or id batches, each run
  through :meth:`SyncContext.unit <dingsync.sync.engine.SyncContext.unit>` (fetch → rows and
  checkpoint in one transaction).

The engine owns the rest: :meth:`SyncContext.plan <dingsync.sync.engine.SyncContext.plan>`
freezes a :class:`Plan` (mode, the run's ``now``, start and end) as the first checkpoint of the
entity in the run, so a resumed run — even one resumed after midnight — reads it back and builds
exactly the same unit keys; the watermark advances (never backwards) only once every unit is
committed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from dingsync.sync.engine import SyncContext

Mode = Literal["full", "incremental"]
CursorKind = Literal["ms", "date"]
Cursor = int | date

#: Checkpoint key of an entity's frozen plan (unit keys never start with ``@``).
PLAN_KEY = "@plan"
#: Checkpoint key recording that the entity's watermark was advanced in this run.
WATERMARK_KEY = "@watermark"
#: Watermark keys of the shapes before the one incremental shape (still read, never written).
LEGACY_KEYS = ("until_ms", "listed_to_ms", "end")


def encode_cursor(value: Cursor) -> int | str:
    """A cursor as JSON: epoch ms stay an ``int``, a date becomes ``"YYYY-MM-DD"``."""
    return value.isoformat() if isinstance(value, date) else int(value)


def decode_cursor(kind: CursorKind, value: Any) -> Cursor:
    """The JSON form of a cursor of ``kind`` back to an ``int`` (ms) or a ``date``.
    Raises ``ValueError`` for a value of the wrong shape."""
    if kind == "date":
        return date.fromisoformat(str(value))
    return int(value)


def shift(value: Cursor, by: int) -> Cursor:
    """``value`` moved by ``by`` cursor units (ms for an ``int``, days for a ``date``)."""
    if isinstance(value, date):
        return value + timedelta(days=by)
    return value + by


def read_watermark(kind: CursorKind, stored: Any) -> Cursor | None:
    """The cursor in a stored watermark: ``{"cursor": …}``, or one of the older shapes
    (reports ``{"until_ms"}``, approvals ``{"listed_to_ms"}``, attendance ``{"end"}``);
    ``None`` when nothing usable is stored."""
    if not isinstance(stored, dict):
        return None
    for key in ("cursor", *LEGACY_KEYS):
        if stored.get(key) not in (None, ""):
            try:
                return decode_cursor(kind, stored[key])
            except (TypeError, ValueError):
                return None
    return None


@dataclass(frozen=True)
class Plan:
    """The frozen plan of one entity in one run.

    ``mode``: ``full`` or ``incremental`` (incremental only when a watermark exists);
    ``now_ms``: the run's clock when the plan was made (epoch ms) — units derive every time
    from it, never from the wall clock of a resume; ``start``/``end``: the cursor range,
    inclusive; ``watermark``: the cursor the plan started from (``None`` on a full run).
    """

    mode: Mode
    now_ms: int
    start: Cursor
    end: Cursor
    watermark: Cursor | None = None

    @property
    def ms(self) -> tuple[int, int]:
        """``(start, end)`` of an ``ms`` cursor."""
        assert isinstance(self.start, int) and isinstance(self.end, int)
        return self.start, self.end

    @property
    def dates(self) -> tuple[date, date]:
        """``(start, end)`` of a ``date`` cursor (work dates, inclusive)."""
        assert isinstance(self.start, date) and isinstance(self.end, date)
        return self.start, self.end

    @property
    def incremental(self) -> bool:
        """True for an incremental plan."""
        return self.mode == "incremental"

    def to_json(self) -> dict[str, Any]:
        """The checkpoint state that stores the plan."""
        return {
            "mode": self.mode,
            "now_ms": self.now_ms,
            "start": encode_cursor(self.start),
            "end": encode_cursor(self.end),
            "watermark": None if self.watermark is None else encode_cursor(self.watermark),
        }

    @classmethod
    def from_json(cls, kind: CursorKind, data: dict[str, Any]) -> Plan:
        """The plan stored by :meth:`to_json`."""
        mark = data.get("watermark")
        return cls(
            mode="incremental" if data.get("mode") == "incremental" else "full",
            now_ms=int(data["now_ms"]),
            start=decode_cursor(kind, data["start"]),
            end=decode_cursor(kind, data["end"]),
            watermark=None if mark is None else decode_cursor(kind, mark),
        )


class IncrementalEntity(ABC):
    """Base of every entity that syncs a range: declare the cursor, overlap and range; fill in
    :meth:`run_units`. ``run`` (what the engine calls) plans, runs the units, then advances
    the watermark — no entity writes its own plan, checkpoint or watermark code.

    ``mode``: force ``"full"``/``"incremental"``; ``None`` follows the run's kind.
    """

    name: str
    cursor: CursorKind = "ms"
    #: Re-read margin before the watermark, in cursor units (ms or days).
    overlap: int = 0
    mode: Mode | None = None

    def range_end(self, now_ms: int, tz: tzinfo) -> Cursor:
        """Last cursor value of a run planned at ``now_ms`` (default: ``now_ms`` itself)."""
        return now_ms

    @abstractmethod
    def full_start(self, end: Cursor, now_ms: int, tz: tzinfo) -> Cursor:
        """First cursor value of a full run ending at ``end``."""

    def earliest(self, end: Cursor) -> Cursor | None:
        """The oldest cursor value DingTalk still serves for a range ending at ``end``
        (clamps both modes), or ``None``."""
        return None

    def make_plan(self, kind: str, stored_watermark: Any, now_ms: int, tz: tzinfo) -> Plan:
        """The plan of a run of ``kind`` started at ``now_ms`` (pure: the engine freezes it)."""
        end = self.range_end(now_ms, tz)
        start = self.full_start(end, now_ms, tz)
        wanted = self.mode or ("incremental" if kind == "incremental" else "full")
        mark = read_watermark(self.cursor, stored_watermark)
        mode: Mode = "full"
        if wanted == "incremental" and mark is not None:
            mode = "incremental"
            start = self.incremental_start(start, shift(min(mark, end), -self.overlap))  # type: ignore[type-var,unused-ignore]
        floor = self.earliest(end)
        if floor is not None:
            start = max(start, floor)  # type: ignore[type-var,unused-ignore]
        return Plan(mode, now_ms, start, end, mark if mode == "incremental" else None)

    def incremental_start(self, full_start: Cursor, from_watermark: Cursor) -> Cursor:
        """Where an incremental run starts, given the full run's start and the watermark minus
        the overlap (default: the latter)."""
        return from_watermark

    async def run(self, ctx: SyncContext) -> None:
        """Freeze (or read back) the plan, run every unit, then advance the watermark."""
        plan = await ctx.plan(self)
        await self.run_units(ctx, plan)
        await ctx.advance_watermark(self, plan)

    @abstractmethod
    async def run_units(self, ctx: SyncContext, plan: Plan) -> None:
        """Run the entity's units for ``plan`` through ``ctx.unit``."""
