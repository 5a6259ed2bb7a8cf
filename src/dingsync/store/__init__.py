"""Our database: schema, migrations, idempotent upserts, the shared token cache (C2).

Knows our tables and nothing of HTTP or DingTalk's client; nothing here imports another
``dingsync`` package.

    from dingsync.store import create_engine_for, migrate, repo

    engine = create_engine_for("sqlite:///.dingsync/dingsync.db")   # or postgresql://…
    migrate(engine)                                                   # alembic upgrade head
    with engine.begin() as conn:
        repo.upsert_users(conn, corp_id, rows)
"""

from dingsync.store import db, repo, schema
from dingsync.store.db import create_engine_for, current_revision, head_revision, migrate
from dingsync.store.repo import (
    count_summary,
    find_resumable_run,
    finish_sync_run,
    get_sync_run,
    get_watermark,
    last_sync_run,
    load_checkpoints,
    load_directory,
    mark_unseen,
    replace_admins,
    replace_department_members,
    save_checkpoint,
    set_watermark,
    start_sync_run,
    upsert,
    upsert_corp,
    upsert_departments,
    upsert_leavers,
    upsert_users,
)
from dingsync.store.schema import UTCDateTime, from_ms, metadata, to_ms
from dingsync.store.tokens import DatabaseTokenStore, StoredToken

__all__ = [
    "DatabaseTokenStore",
    "StoredToken",
    "UTCDateTime",
    "count_summary",
    "create_engine_for",
    "current_revision",
    "db",
    "find_resumable_run",
    "finish_sync_run",
    "from_ms",
    "get_sync_run",
    "get_watermark",
    "head_revision",
    "last_sync_run",
    "load_checkpoints",
    "load_directory",
    "mark_unseen",
    "metadata",
    "migrate",
    "replace_admins",
    "replace_department_members",
    "repo",
    "save_checkpoint",
    "schema",
    "set_watermark",
    "start_sync_run",
    "to_ms",
    "upsert",
    "upsert_corp",
    "upsert_departments",
    "upsert_leavers",
    "upsert_users",
]
