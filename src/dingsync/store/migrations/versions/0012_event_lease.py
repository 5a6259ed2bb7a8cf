"""Events: a processing lease on ``event_inbox`` (``lease_until``).

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-06

A row is ``processing`` only until ``lease_until`` (UTC); after that the worker is taken to have
died and the row goes back to ``pending`` (``repo_events.requeue_expired``). Rows left
``processing`` before this migration have no lease and are requeued at once. Written by hand to
match ``store/schema_events.py``; tests/store/test_migrations.py compares.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMMENT = "processing: the claim expires then and the row goes back to pending"


def upgrade() -> None:
    ts = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    with op.batch_alter_table("event_inbox") as batch:
        batch.add_column(sa.Column("lease_until", ts, nullable=True, comment=COMMENT))


def downgrade() -> None:
    with op.batch_alter_table("event_inbox") as batch:
        batch.drop_column("lease_until")
