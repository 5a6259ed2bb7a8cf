"""Tables for reports (日志).

Defined on the shared :data:`dingsync.store.schema.metadata`.

Migration: ``migrations/versions/0002_reports.py``.
"""

from __future__ import annotations

from dingsync.store.schema import metadata

__all__ = ["metadata"]
