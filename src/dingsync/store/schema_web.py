"""Tables for the web service (sessions, local roles, export audit).

Defined on the shared :data:`dingsync.store.schema.metadata`.

Migration: ``migrations/versions/0005_web.py``.
"""

from __future__ import annotations

from dingsync.store.schema import metadata

__all__ = ["metadata"]
