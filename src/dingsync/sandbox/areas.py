"""The sandbox's areas, wired statically and keyed by ``dingsync.areas.AREA_NAMES``.

The directory (``contacts``) is built in: ``app.py`` serves it from ``state.company`` through
``contacts/``. Every other data area of ``dingsync.areas`` is a class in :data:`DATA_AREAS`;
:data:`EXTRA_AREAS` holds the sandbox-only ``events`` area (it pushes what the others change).
``tests/sandbox/test_areas.py`` fails when a name of ``AREA_NAMES`` is not served.

For each sandbox, :class:`~dingsync.sandbox.state.SandboxState` builds one instance per area
with ``Area(state)`` *after* the directory exists, so it can generate its world from
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

Adding a data area: its name goes into ``dingsync.areas``, its package into ``sandbox/<name>/``
and its class into :data:`DATA_AREAS` here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dingsync.areas import AREA_NAMES
from dingsync.sandbox.approvals import ApprovalsArea
from dingsync.sandbox.attendance import AttendanceArea
from dingsync.sandbox.events import EventsArea
from dingsync.sandbox.reports import ReportsArea

if TYPE_CHECKING:
    from dingsync.sandbox.state import SandboxState

#: Areas of ``dingsync.areas.AREA_NAMES`` the sandbox serves without an area class.
BUILT_IN: tuple[str, ...] = ("contacts",)

#: The data areas (names from ``dingsync.areas.AREA_NAMES``) → their sandbox class, in the order
#: they are built (attendance before approvals: leave instances line up with its leave).
DATA_AREAS: dict[str, type[Any]] = {
    "attendance": AttendanceArea,
    "approvals": ApprovalsArea,
    "reports": ReportsArea,
}

#: Sandbox-only areas (not data areas of dingsync), built after the data areas.
EXTRA_AREAS: dict[str, type[Any]] = {"events": EventsArea}


def unserved() -> list[str]:
    """Names of ``dingsync.areas.AREA_NAMES`` the sandbox serves neither built in nor through
    :data:`DATA_AREAS` (empty when every data area is wired)."""
    return [name for name in AREA_NAMES if name not in BUILT_IN and name not in DATA_AREAS]


def load_areas(state: SandboxState) -> dict[str, Any]:
    """One instance per area for ``state``: the data areas, then the extra ones (name → area)."""
    return {name: cls(state) for name, cls in {**DATA_AREAS, **EXTRA_AREAS}.items()}
