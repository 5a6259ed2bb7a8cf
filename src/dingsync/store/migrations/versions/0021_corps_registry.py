"""The companies registry: ``corps.mode``, ``corps.status`` and ``corps.timezone``.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06

One deployment serves several companies (issue 15): internal apps listed in ``dingsync.toml``
(``mode='internal'``) and, later, companies that authorised our ISV suite (``mode='isv'``).
``status`` is ``active``, ``relieved`` (the company removed the app) or ``stopped`` (disabled on
our side); a company that is not active is neither synced nor logged into, its data is kept.
Rows already stored are internal and active.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MODE_COMMENT = "internal: our own 企业内部应用; isv: a company that authorised our suite"
STATUS_COMMENT = "active; relieved (the company removed the app); stopped (disabled here)"
TIMEZONE_COMMENT = "IANA zone of work dates; NULL = the default"


def upgrade() -> None:
    with op.batch_alter_table("corps") as batch:
        batch.add_column(
            sa.Column(
                "mode",
                sa.String(16),
                nullable=False,
                server_default="internal",
                comment=MODE_COMMENT,
            )
        )
        batch.add_column(
            sa.Column(
                "status",
                sa.String(16),
                nullable=False,
                server_default="active",
                comment=STATUS_COMMENT,
            )
        )
        batch.add_column(sa.Column("timezone", sa.String(64), comment=TIMEZONE_COMMENT))
        batch.create_check_constraint(op.f("ck_corps_mode"), "mode IN ('internal', 'isv')")
        batch.create_check_constraint(
            op.f("ck_corps_status"), "status IN ('active', 'relieved', 'stopped')"
        )


def downgrade() -> None:
    with op.batch_alter_table("corps") as batch:
        batch.drop_constraint(op.f("ck_corps_status"), type_="check")
        batch.drop_constraint(op.f("ck_corps_mode"), type_="check")
        batch.drop_column("timezone")
        batch.drop_column("status")
        batch.drop_column("mode")
