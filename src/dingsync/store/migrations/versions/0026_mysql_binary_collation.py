"""MySQL/MariaDB: every table in ``utf8mb4`` with the binary collation ``utf8mb4_bin``, as the
database's default too. Nothing on SQLite and PostgreSQL.

Why: a database created with the server's usual ``utf8mb4_unicode_ci`` (or ``_general_ci``)
compares ids and names case- and accent-insensitively, ignores trailing blanks, and weighs
every character outside the Basic Multilingual Plane alike — ``'张😀' = '张😃'`` and
``'𠀀' = '𪚥'`` there, so a search for one emoji finds the other, and two DingTalk ids
differing in case collide on a unique key. ``utf8mb4_bin`` compares by code point, as
PostgreSQL's ``=`` and SQLite's do. :func:`dingsync.store.db.migrate` sets the database's
default before the first migration, so a new database creates its tables binary and this
revision converts nothing; it converts the tables of a database migrated before it
(``ALTER TABLE … CONVERT TO``; MariaDB refuses to change a column a foreign key uses, even with
the checks off, so those keys are dropped first and re-created after). Downgrade leaves the
collation (it changes no column's type or content).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | Sequence[str] | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLLATION = "utf8mb4_bin"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name not in ("mysql", "mariadb"):
        return
    op.execute(f"ALTER DATABASE CHARACTER SET utf8mb4 COLLATE {COLLATION}")
    tables = [
        name
        for (name,) in bind.execute(
            sa.text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' "
                "AND table_name <> 'alembic_version' "
                "AND (table_collation IS NULL OR table_collation <> :c)"
            ),
            {"c": COLLATION},
        )
    ]
    if not tables:
        return
    inspector = sa.inspect(bind)
    keys = [
        (table, fk)
        for table in inspector.get_table_names()
        for fk in inspector.get_foreign_keys(table)
        if fk["name"]  # InnoDB names every foreign key
    ]
    for table, fk in keys:
        op.drop_constraint(str(fk["name"]), table, type_="foreignkey")
    for name in sorted(tables):
        op.execute(f"ALTER TABLE `{name}` CONVERT TO CHARACTER SET utf8mb4 COLLATE {COLLATION}")
    for table, fk in keys:
        options = fk.get("options") or {}
        op.create_foreign_key(
            fk["name"],
            table,
            fk["referred_table"],
            fk["constrained_columns"],
            fk["referred_columns"],
            ondelete=options.get("ondelete"),
            onupdate=options.get("onupdate"),
        )


def downgrade() -> None:
    pass
