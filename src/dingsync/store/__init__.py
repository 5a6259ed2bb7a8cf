"""Our database: schema, migrations, idempotent upserts, the shared token cache (C2).

Knows our tables and nothing of HTTP or DingTalk's client; nothing here imports another
``dingsync`` package.

    from dingsync.store import create_engine_for, migrate, repo

    engine = create_engine_for("sqlite:///.dingsync/dingsync.db")   # or postgresql://…
    migrate(engine)                                                   # alembic upgrade head
    with engine.begin() as conn:
        repo.upsert_users(conn, corp_id, rows)
"""

from types import ModuleType

from dingsync.store import (
    db,
    repo,
    repo_approvals,
    repo_attendance,
    repo_reports,
    schema,
    schema_approvals,
    schema_attendance,
    schema_reports,
)
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

#: The repository of each data area (:data:`dingsync.areas.AREA_NAMES`): the functions that
#: write and read its tables (the directory's are in ``repo`` itself).
AREA_REPOS: dict[str, ModuleType] = {
    "contacts": repo,
    "reports": repo_reports,
    "attendance": repo_attendance,
    "approvals": repo_approvals,
}
#: The module defining each data area's tables on :data:`metadata` (``schema`` imports them
#: all; each has an Alembic revision under ``migrations/versions``).
AREA_SCHEMAS: dict[str, ModuleType] = {
    "contacts": schema,
    "reports": schema_reports,
    "attendance": schema_attendance,
    "approvals": schema_approvals,
}

__all__ = [
    "AREA_REPOS",
    "AREA_SCHEMAS",
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
