"""``users.content_hash``: what the directory last wrote of a person, so a re-sync skips them.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07

A full directory walk writes every person again, though most are unchanged since the last one.
``repo.upsert_users`` stores a digest of the columns it writes (everything but ``synced_at`` and
``last_seen_run_id``); a row whose digest matches only gets those two touched. Every other
write of ``users`` columns clears it. NULL (every row before this migration) means "write".
Written by hand to match ``store/schema.py``; tests/store/test_migrations.py compares.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | Sequence[str] | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMMENT = "digest of the columns the directory sync last wrote (NULL: write next time)"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("content_hash", sa.String(32), nullable=True, comment=COMMENT))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("content_hash")
