"""The one registry of data areas: every layer that serves, syncs or shows an area reads this list.

A *data area* is one kind of DingTalk data dingsync carries end to end: the directory (contacts,
with admins and roles), reports (日志), attendance (考勤) and approvals (审批). Each layer keeps a
static mapping from these names to its own piece (client attribute, sandbox area, sync entity,
store repository, export writer, web router, visibility rule, CLI command group), and
``tests/test_areas.py`` fails when any layer misses an area. ``docs/CONTRACTS.md`` has the
checklist for adding one.

This module imports nothing of dingsync's, so every package may use it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AREAS", "AREA_NAMES", "Area", "area"]


@dataclass(frozen=True, slots=True)
class Area:
    """One data area: ``name`` (the key every layer uses), ``title`` (DingTalk's Chinese term)
    and ``exportable`` (whether it has an audited export)."""

    name: str
    title: str
    exportable: bool = True


#: The data areas, in the order a full sync runs them (the directory first: the others need
#: its people and departments).
AREAS: tuple[Area, ...] = (
    Area("contacts", "通讯录", exportable=False),
    Area("reports", "日志"),
    Area("attendance", "考勤"),
    Area("approvals", "审批"),
)
#: Their names, in order.
AREA_NAMES: tuple[str, ...] = tuple(a.name for a in AREAS)


def area(name: str) -> Area:
    """The area called ``name``; ``KeyError`` naming the known ones otherwise."""
    for candidate in AREAS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"unknown data area {name!r}; known: {', '.join(AREA_NAMES)}")
