"""``reports.content_keys``, ``content_values``, ``content_states`` and ``receiver_ids``: a
report's contents and receivers on its own row, for the export.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07

The report export read three streams — the reports, their contents (five to ten rows per
report) and their receivers (several rows per report) — and merged them; the database's
fetch of the two side streams alone was more CPU than a 150 k rows per CPU-second csv export
may take (benchmarks/profiles/README.md). ``repo_reports`` now writes, with the
``report_contents`` and ``report_receivers`` rows and in the same transaction, their copy on
the report's own row as JSON lists: ``content_keys`` and ``content_values`` in position order,
``content_states`` only when a state is set, and ``receiver_ids`` (the userids in code point
order); ``NULL`` where the report has none. Keys and values apart: the keys' text is the same
for most reports of a template, so the export places a report's values by a plan it looks up
once per distinct key list. The normalized tables stay (the web API, the console and the
visibility rules read them).

This revision adds the four columns (JSON; JSONB on PostgreSQL) and fills them from the stored
rows, 1,000 reports at a time (keyset over the primary key; one ``IN`` read of their contents
and one of their receivers, one executemany ``UPDATE``): the JSON text is orjson's
(``store.nul.dumps_json``) of the stored text, i.e. with the store's NUL escape already in
it — the same text ``NulSafeJSON`` writes for the unescaped lists. Written by hand to match
``store/schema_reports.py``; tests/store/test_migrations.py compares, and
tests/store/test_report_lists.py checks the fill.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from dingsync.store.nul import dumps_json

revision: str = "0029"
down_revision: str | Sequence[str] | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("content_keys", "content_values", "content_states", "receiver_ids")
#: Reports filled per round.
FILL_BATCH = 1000


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column("reports", sa.Column(name, _json(), nullable=True))
    fill(op.get_bind())


def fill(bind: sa.Connection) -> int:
    """Fill the four columns of every stored report from
    ``report_contents`` and ``report_receivers`` (see the module). Returns the number of
    reports written."""
    reports = sa.table("reports", sa.column("corp_id"), sa.column("report_id"))
    contents = sa.table(
        "report_contents",
        sa.column("corp_id"),
        sa.column("report_id"),
        sa.column("position"),
        sa.column("key"),
        sa.column("value"),
        sa.column("state"),
    )
    receivers = sa.table(
        "report_receivers", sa.column("corp_id"), sa.column("report_id"), sa.column("userid")
    )
    cast = "CAST({} AS JSONB)" if bind.dialect.name == "postgresql" else "{}"
    update = sa.text(
        "UPDATE reports SET "
        + ", ".join(f"{name} = {cast.format(':' + name)}" for name in COLUMNS)
        + " WHERE corp_id = :corp_id AND report_id = :report_id"
    )
    after: tuple[str, str] | None = None
    written = 0
    while True:
        page = sa.select(reports.c.corp_id, reports.c.report_id)
        if after is not None:
            page = page.where(sa.tuple_(reports.c.corp_id, reports.c.report_id) > sa.tuple_(*after))
        keys = [
            (str(c), str(r))
            for c, r in bind.execute(
                page.order_by(reports.c.corp_id, reports.c.report_id).limit(FILL_BATCH)
            )
        ]
        if not keys:
            return written
        after = keys[-1]
        items: dict[tuple[str, str], list[list[Any]]] = {}
        users: dict[tuple[str, str], list[str]] = {}
        for corp in dict.fromkeys(c for c, _ in keys):
            ids = [r for c, r in keys if c == corp]
            for rid, key, value, state in bind.execute(
                sa.select(contents.c.report_id, contents.c.key, contents.c.value, contents.c.state)
                .where(contents.c.corp_id == corp, contents.c.report_id.in_(ids))
                .order_by(contents.c.report_id, contents.c.position)
            ):
                items.setdefault((corp, rid), []).append([key, value, state])
            for rid, userid in bind.execute(
                sa.select(receivers.c.report_id, receivers.c.userid).where(
                    receivers.c.corp_id == corp, receivers.c.report_id.in_(ids)
                )
            ):
                users.setdefault((corp, rid), []).append(userid)
        rows = []
        for key in keys:
            got, who = items.get(key) or [], users.get(key)
            states = [state for _, _, state in got]
            # The stored text is escaped already: its JSON is NulSafeJSON's text.
            rows.append(
                {
                    "corp_id": key[0],
                    "report_id": key[1],
                    "content_keys": dumps_json([k for k, _, _ in got]) if got else None,
                    "content_values": dumps_json([v for _, v, _ in got]) if got else None,
                    "content_states": (
                        dumps_json(states) if any(x is not None for x in states) else None
                    ),
                    "receiver_ids": None if not who else dumps_json(sorted(who)),
                }
            )
        bind.execute(update, rows)
        written += len(rows)


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
