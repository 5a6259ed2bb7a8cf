"""Export audit: refuse ``REPLACE`` on SQLite too.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

SQLite's ``INSERT OR REPLACE`` / ``REPLACE INTO`` (and the ``OR REPLACE`` conflict clause)
delete the conflicting row *without* firing ``DELETE`` triggers (unless ``recursive_triggers``
is on), so the append-only triggers of 0005 did not stop a row from being overwritten. A
``BEFORE INSERT`` trigger now refuses an insert whose ``id`` exists already; it runs before the
conflict is resolved, so ``REPLACE`` and ``INSERT … ON CONFLICT DO UPDATE`` are refused as
well (the latter also meets the ``BEFORE UPDATE`` trigger). PostgreSQL has no ``REPLACE``: a
duplicate ``id`` is refused by the primary key and ``ON CONFLICT DO UPDATE`` by the 0005
``BEFORE UPDATE`` trigger; MySQL fires its ``DELETE`` triggers on ``REPLACE``. Written by hand;
no table changes (tests/store/test_migrations.py compares the metadata).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MESSAGE = "web_export_audit is append-only"

_SQLITE_UP = (
    "CREATE TRIGGER web_export_audit_no_replace BEFORE INSERT ON web_export_audit "
    "WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM web_export_audit WHERE id = NEW.id) "
    f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
)
_SQLITE_DOWN = "DROP TRIGGER IF EXISTS web_export_audit_no_replace"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(_SQLITE_UP)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(_SQLITE_DOWN)
