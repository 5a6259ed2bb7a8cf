"""The companies registry records a due full sync: ``corps.full_sync_requested_at``.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07

A newly authorised ISV company (or one whose scope changed) needs a full sync; the request is
kept in the registry until a full sync of the company that started after it succeeds, so a
failed first sync is retried in full by ``dingsync sync --all``/``--every`` and the workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0024"
down_revision: str | Sequence[str] | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMMENT = "a full sync is due (first sync, scope change) until one succeeds after this"


def _ts() -> sa.types.TypeEngine[Any]:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    with op.batch_alter_table("corps") as batch:
        batch.add_column(sa.Column("full_sync_requested_at", _ts(), comment=COMMENT))


def downgrade() -> None:
    with op.batch_alter_table("corps") as batch:
        batch.drop_column("full_sync_requested_at")
