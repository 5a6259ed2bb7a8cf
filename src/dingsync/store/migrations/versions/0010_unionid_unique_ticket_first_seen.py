"""A unionid is unique per company; JSAPI tickets keep their first-seen time.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

- ``users.unionid_conflict`` (new, nullable): when a row of another userid arrives with a
  unionid this row holds, the newer row keeps ``unionid`` and this one has it moved here
  (``unionid`` set NULL), so the conflict stays visible and nothing is silently duplicated
  (``dingsync.store.repo.release_unionids``).
- ``ix_users_corp_id_unionid`` becomes UNIQUE. Duplicates already stored are resolved first the
  same way: per ``(corp_id, unionid)`` the row synced last keeps it (ties: the greatest
  userid), the others have it moved to ``unionid_conflict``. NULLs may repeat in a unique
  index on SQLite, PostgreSQL and MySQL/MariaDB alike.
- ``token_cache.first_seen`` (new, nullable, epoch seconds): when any process first fetched
  this value; a JSAPI ticket is trusted at most 24 h from it.

Downgrade gives the moved unionids back, makes the index plain again and drops both columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_users_corp_id_unionid"
UNIONID_COMMENT = "unique per company (NULL for a row that lost a unionid conflict)"
CONFLICT_COMMENT = "the unionid this row held until a newer row of another userid arrived with it"
FIRST_SEEN_COMMENT = (
    "epoch seconds: first fetch of this value by any process (JSAPI ticket 24 h cap)"
)

_users = sa.table(
    "users",
    sa.column("corp_id", sa.String(64)),
    sa.column("userid", sa.String(64)),
    sa.column("unionid", sa.String(64)),
    sa.column("unionid_conflict", sa.String(64)),
    sa.column("synced_at", sa.DateTime()),
)


def _resolve_duplicates(conn: sa.Connection) -> None:
    """Keep each duplicated unionid on the row synced last; move it off the others."""
    dupes = conn.execute(
        sa.select(_users.c.corp_id, _users.c.unionid)
        .where(_users.c.unionid.is_not(None))
        .group_by(_users.c.corp_id, _users.c.unionid)
        .having(sa.func.count() > 1)
    ).all()
    for corp_id, unionid in dupes:
        rows = conn.execute(
            sa.select(_users.c.userid)
            .where(_users.c.corp_id == corp_id, _users.c.unionid == unionid)
            .order_by(_users.c.synced_at.desc(), _users.c.userid.desc())
        ).scalars()
        losers = list(rows)[1:]
        conn.execute(
            sa.update(_users)
            .where(_users.c.corp_id == corp_id, _users.c.userid.in_(losers))
            .values(unionid=None, unionid_conflict=unionid)
        )


def upgrade() -> None:
    op.add_column("users", sa.Column("unionid_conflict", sa.String(64), comment=CONFLICT_COMMENT))
    op.add_column("token_cache", sa.Column("first_seen", sa.Double(), comment=FIRST_SEEN_COMMENT))
    _resolve_duplicates(op.get_bind())
    with op.batch_alter_table("users") as batch:
        batch.alter_column(
            "unionid", existing_type=sa.String(64), existing_nullable=True, comment=UNIONID_COMMENT
        )
        batch.drop_index(INDEX)
        batch.create_index(INDEX, ["corp_id", "unionid"], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="users")
    op.get_bind().execute(
        sa.update(_users)
        .where(_users.c.unionid.is_(None), _users.c.unionid_conflict.is_not(None))
        .values(unionid=_users.c.unionid_conflict)
    )
    op.create_index(INDEX, "users", ["corp_id", "unionid"], unique=False)
    with op.batch_alter_table("users") as batch:
        batch.alter_column(
            "unionid",
            existing_type=sa.String(64),
            existing_nullable=True,
            comment=None,
            existing_comment=UNIONID_COMMENT,
        )
        batch.drop_column("unionid_conflict")
    with op.batch_alter_table("token_cache") as batch:
        batch.drop_column("first_seen")
