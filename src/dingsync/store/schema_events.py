"""Tables for events (inbox, callback registrations).

Defined on the shared :data:`dingsync.store.schema.metadata`.

Migration: ``migrations/versions/0006_events.py``.
"""

from __future__ import annotations

from dingsync.store.schema import metadata

__all__ = ["metadata"]
