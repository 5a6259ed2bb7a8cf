"""Extension hook: data areas (reports, attendance, approvals, events …) plug into the sandbox.

An area is a class registered in :data:`AREAS` (``name → "module:Class"``). For each sandbox,
:class:`~dingsync.sandbox.state.SandboxState` builds one instance per area with
``Area(state)`` *after* the directory exists, so it can generate its world from
``state.company``, ``state.config`` (``seed``, ``days``, ``anchor_ms`` …) and ``state.clock``.
Generation must be deterministic for the seed and kept apart from the handlers.

An area may define (all optional):

- ``routes() -> list[Route]``: DingTalk routes (``dingsync.sandbox.app.Route``; handlers take a
  ``Call`` and return the business fields or raise ``OapiError``/``ApiError``), served through
  the same wrapper as the directory (QPS windows, latency, faults, token check, envelopes).
- ``stats() -> dict``: the area's truth, shown under its name in ``GET /sandbox/stats``.
- ``control_routes(app: FastAPI) -> None``: ``/sandbox/...`` endpoints (mutations, truth).
- ``knobs: dict`` of extra config values with defaults, settable through ``configure`` /
  ``POST /sandbox/config`` (stored in ``state.area_knobs``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dingsync.sandbox.state import SandboxState

#: name → "module:Class". Each area adds ONE line here.
AREAS: dict[str, str] = {
    "attendance": "dingsync.sandbox.attendance:AttendanceArea",
    "approvals": "dingsync.sandbox.approvals:ApprovalsArea",
    "reports": "dingsync.sandbox.reports:ReportsArea",
    "events": "dingsync.sandbox.events:EventsArea",
}


def load_areas(state: SandboxState) -> dict[str, Any]:
    """Instantiate every registered area for ``state`` (in registration order)."""
    areas: dict[str, Any] = {}
    for name, target in AREAS.items():
        module, _, cls = target.partition(":")
        areas[name] = getattr(importlib.import_module(module), cls)(state)
    return areas
