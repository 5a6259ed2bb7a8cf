"""Export audit: a hash chain (``prev_hash``, ``row_hash``) so that tampering shows.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

The app's database user owns ``web_export_audit``, so it can drop the append-only triggers of
0005/0007 and rewrite rows unseen. Each row now carries the ``row_hash`` of the row before it
and the SHA-256 of that and its own content (:func:`dingsync.store.repo_audit.row_digest`);
``dingsync audit verify`` walks the chain. Rows already stored are chained here in id order: the
update triggers are dropped for the backfill and created again (SQLite, PostgreSQL, MySQL).
Written by hand to match ``store/schema_web.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dingsync.store.repo_audit import GENESIS, row_digest
from dingsync.store.schema import UTCDateTime, json_type
from dingsync.store.schema_web import AUDIT_TRIGGER_DROP_SQL, AUDIT_TRIGGER_SQL

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "web_export_audit"

#: The table as this revision knows it (the columns a row's hash covers, with their types: a
#: JSON column read untyped would hash its text, not its value).
audit = sa.Table(
    _TABLE,
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("corp_id", sa.String(64)),
    sa.Column("userid", sa.String(64)),
    sa.Column("created_at", UTCDateTime()),
    sa.Column("kind", sa.String(32)),
    sa.Column("format", sa.String(8)),
    sa.Column("filters", json_type()),
    sa.Column("row_count", sa.BigInteger),
    sa.Column("sha256", sa.String(64)),
    sa.Column("byte_size", sa.BigInteger),
    sa.Column("client", sa.Text),
    sa.Column("prev_hash", sa.String(64)),
    sa.Column("row_hash", sa.String(64)),
)


def _dialect() -> str:
    name = op.get_bind().dialect.name
    return "mysql" if name == "mariadb" else name


def _run(statements: Sequence[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    op.add_column(
        _TABLE,
        sa.Column(
            "prev_hash", sa.String(64), nullable=True, comment="row_hash of the row before (chain)"
        ),
    )
    op.add_column(
        _TABLE,
        sa.Column(
            "row_hash", sa.String(64), nullable=True, comment="SHA-256 of prev_hash and this row"
        ),
    )
    bind = op.get_bind()
    rows = list(bind.execute(sa.select(audit).order_by(audit.c.id)).mappings())
    if not rows:
        return
    _run(AUDIT_TRIGGER_DROP_SQL.get(_dialect(), ()))
    prev = GENESIS
    for r in rows:
        digest = row_digest(prev, dict(r))
        bind.execute(
            sa.update(audit).where(audit.c.id == r["id"]).values(prev_hash=prev, row_hash=digest)
        )
        prev = digest
    _run(AUDIT_TRIGGER_SQL.get(_dialect(), ()))


def downgrade() -> None:
    # Not a batch (a SQLite table rebuild would lose the append-only triggers): SQLite ≥ 3.35
    # drops a column in place.
    op.drop_column(_TABLE, "row_hash")
    op.drop_column(_TABLE, "prev_hash")
