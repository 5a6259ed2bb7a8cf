"""Tables for attendance (考勤).

Defined on the shared :data:`dingsync.store.schema.metadata`.

Migration: ``migrations/versions/0003_attendance.py``.
"""

from __future__ import annotations

from dingsync.store.schema import metadata

__all__ = ["metadata"]
