"""Tables for approvals (审批).

Defined on the shared :data:`dingsync.store.schema.metadata`.

Migration: ``migrations/versions/0004_approvals.py``.
"""

from __future__ import annotations

from dingsync.store.schema import metadata

__all__ = ["metadata"]
