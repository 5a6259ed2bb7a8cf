"""``report_template_keys``: each template's content keys, kept at sync time.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07

A report export's columns are the template's fields, then the content keys its stored reports
have that are not fields, by their smallest position. Reading those keys scanned every stored
content of the template on each export (15–25 % of its CPU). The reports sync now keeps, per
``(template, key, position)``, how many stored reports have that key there
(``repo_reports.update_template_keys``, in the transaction that writes the contents); the
export reads the few rows of its template. This revision creates the table and fills it from
the stored ``report_contents`` (the same join and filters the scan used), so an upgraded
database exports the same columns. Written by hand to match ``store/schema_reports.py``;
tests/store/test_migrations.py compares.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | Sequence[str] | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    keys = op.create_table(
        "report_template_keys",
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("template_name", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "corp_id", "template_name", "key", "position", name=op.f("pk_report_template_keys")
        ),
    )
    assert keys is not None
    contents = sa.table(
        "report_contents",
        sa.column("corp_id"),
        sa.column("report_id"),
        sa.column("position"),
        sa.column("key"),
    )
    reports = sa.table(
        "reports", sa.column("corp_id"), sa.column("report_id"), sa.column("template_name")
    )
    counted = (
        sa.select(
            contents.c.corp_id,
            reports.c.template_name,
            contents.c.key,
            contents.c.position,
            sa.func.count(),
        )
        .select_from(
            contents.join(
                reports,
                sa.and_(
                    reports.c.corp_id == contents.c.corp_id,
                    reports.c.report_id == contents.c.report_id,
                ),
            )
        )
        .where(contents.c.key.is_not(None), reports.c.template_name.is_not(None))
        .group_by(contents.c.corp_id, reports.c.template_name, contents.c.key, contents.c.position)
    )
    op.execute(
        keys.insert().from_select(
            ["corp_id", "template_name", "key", "position", "report_count"], counted
        )
    )


def downgrade() -> None:
    op.drop_table("report_template_keys")
