"""Our tables, defined once (SQLAlchemy 2 Core).

Every stored entity is keyed by DingTalk's own id plus ``corp_id`` (multi-tenant from day one),
has normalised columns for what people filter on, and keeps the payload as DingTalk sent it in
``raw`` (JSON; JSONB on PostgreSQL).

Times: DingTalk sends epoch milliseconds (:func:`from_ms` / :func:`to_ms` convert); every
timestamp column is :class:`UTCDateTime`, which stores UTC and always returns timezone-aware UTC
datetimes, on SQLite and MySQL too. Naive datetimes are refused rather than guessed at.

Text: every string column is :class:`~dingsync.store.nul.NulSafeString` or ``NulSafeText`` and
every JSON column :class:`~dingsync.store.nul.NulSafeJSON`, so a NUL character DingTalk sends is
stored on every backend (PostgreSQL refuses U+0000) and read back exactly; ordinary text is
stored unchanged (:mod:`dingsync.store.nul`).

The Alembic migrations in ``migrations/versions`` are written by hand to match this module; a
test compares the migrated database with :data:`metadata`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Double,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Table,
    false,
    or_,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeDecorator, TypeEngine

import dingsync.timeutil as timeutil
from dingsync.store.nul import NulSafeJSON, NulSafeString, NulSafeText

#: Deterministic constraint and index names on every backend (migrations refer to them).
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

DEPARTMENT_STATUSES = ("active", "removed")
USER_STATUSES = ("active", "left", "inactive")
SYNC_RUN_KINDS = ("full", "incremental")
SYNC_RUN_STATUSES = ("running", "succeeded", "failed", "interrupted")
#: ``corps.mode``: an internal app of ours, or a company that authorised our ISV suite.
CORP_MODES = ("internal", "isv")
#: ``corps.status``: synced and served; relieved (the company removed the app); stopped here.
CORP_STATUSES = ("active", "relieved", "stopped")


# --------------------------------------------------------------------------------------------
# Types
# --------------------------------------------------------------------------------------------
class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL stores ``timestamptz``; SQLite and MySQL (which have no zone) store naive UTC.
    Binding a naive datetime raises ``ValueError``: its zone would be a guess. Results are
    always aware and in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            # Microseconds, which plain DATETIME drops.
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UTCDateTime needs a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: give it a timezone (UTC)")
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        if dialect.name != "postgresql":
            value = value.replace(tzinfo=None)
        return value

    def bind_processor(self, dialect: Dialect) -> Any:
        # :meth:`process_bind_param` as one plain function (no TypeDecorator hop per value).
        inner = self.impl_instance.bind_processor(dialect)
        convert = self.process_bind_param

        def process(value: Any) -> Any:
            if value is not None:
                value = convert(value, dialect)
            return value if inner is None else inner(value)

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def json_type() -> TypeEngine[Any]:
    """JSON (JSONB on PostgreSQL); Python ``None`` is stored as SQL NULL, not JSON ``null``;
    strings holding NUL are escaped (:class:`dingsync.store.nul.NulSafeJSON`)."""
    return NulSafeJSON()


def utcnow() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(UTC)


def from_ms(ms: int | float | str | None) -> datetime | None:
    """DingTalk epoch milliseconds → aware UTC datetime (``None``/``""`` → ``None``);
    :func:`dingsync.timeutil.from_ms` otherwise (numeric strings accepted, bool refused)."""
    if ms is None or ms == "":
        return None
    return timeutil.from_ms(ms)


def to_ms(dt: datetime | None) -> int | None:
    """Aware datetime → DingTalk epoch milliseconds (``None`` → ``None``);
    :func:`dingsync.timeutil.to_ms` otherwise (sub-millisecond part dropped, naive → ValueError)."""
    if dt is None:
        return None
    return timeutil.to_ms(dt)


def _id(name: str, **kw: Any) -> Column[Any]:
    """A string id column (corp ids, userids, unionids): 64 chars covers DingTalk's ids."""
    return Column(name, NulSafeString(64), **kw)


def _corp_id() -> Column[Any]:
    return _id("corp_id", primary_key=True)


def _ts(name: str, nullable: bool = True, **kw: Any) -> Column[Any]:
    return Column(name, UTCDateTime(), nullable=nullable, **kw)


def _raw() -> Column[Any]:
    return Column("raw", json_type(), nullable=True)


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


# --------------------------------------------------------------------------------------------
# Directory
# --------------------------------------------------------------------------------------------
corps = Table(
    "corps",
    metadata,
    _id("corp_id", primary_key=True),
    Column("name", NulSafeString(255)),
    _id("agent_id"),
    Column("app_key", NulSafeString(128)),
    _ts("created_at", nullable=False, default=utcnow),
    _ts("updated_at", nullable=False, default=utcnow),
    _raw(),
    Column(
        "mode",
        NulSafeString(16),
        nullable=False,
        server_default="internal",
        comment="internal: our own 企业内部应用; isv: a company that authorised our suite",
    ),
    Column(
        "status",
        NulSafeString(16),
        nullable=False,
        server_default="active",
        comment="active; relieved (the company removed the app); stopped (disabled here)",
    ),
    Column("timezone", NulSafeString(64), comment="IANA zone of work dates; NULL = the default"),
    _ts(
        "full_sync_requested_at",
        comment="a full sync is due (first sync, scope change) until one succeeds after this",
    ),
    CheckConstraint(_in("mode", CORP_MODES), name="mode"),
    CheckConstraint(_in("status", CORP_STATUSES), name="status"),
    comment="One row per DingTalk organisation (corpId) we sync.",
)

departments = Table(
    "departments",
    metadata,
    _corp_id(),
    Column("dept_id", BigInteger, primary_key=True, autoincrement=False),
    Column("parent_id", BigInteger, comment="NULL for the root department (dept_id 1)"),
    Column("name", NulSafeString(255)),
    Column("dept_order", BigInteger, comment="DingTalk's `order` among siblings"),
    Column("source_identifier", NulSafeString(255)),
    Column("create_dept_group", Boolean),
    Column("auto_add_user", Boolean),
    Column("hide_dept", Boolean),
    Column("outer_dept", Boolean),
    _id("org_dept_owner", comment="userid of the department group owner (not its head)"),
    Column("dept_manager_userid_list", json_type(), comment="userids of the department heads"),
    Column("status", NulSafeString(16), nullable=False, default="active"),
    Column("last_seen_run_id", Integer),
    _ts("synced_at", nullable=False, default=utcnow),
    _raw(),
    CheckConstraint(_in("status", DEPARTMENT_STATUSES), name="status"),
    Index("ix_departments_corp_id_parent_id", "corp_id", "parent_id"),
)

users = Table(
    "users",
    metadata,
    _corp_id(),
    _id("userid", primary_key=True),
    _id("unionid", comment="unique per company (NULL for a row that lost a unionid conflict)"),
    _id(
        "unionid_conflict",
        comment="the unionid this row held until a newer row of another userid arrived with it",
    ),
    Column("name", NulSafeString(255)),
    Column("avatar", NulSafeText),
    Column("state_code", NulSafeString(16)),
    Column("mobile", NulSafeString(32)),
    Column("hide_mobile", Boolean),
    Column("telephone", NulSafeString(64)),
    Column("job_number", NulSafeString(64)),
    Column("title", NulSafeString(255)),
    Column("email", NulSafeString(255)),
    Column("org_email", NulSafeString(255)),
    Column("work_place", NulSafeString(255)),
    Column("remark", NulSafeText),
    _id("manager_userid"),
    _ts("hired_date"),
    Column("active", Boolean),
    Column("admin", Boolean),
    Column("boss", Boolean),
    Column("senior", Boolean),
    Column("real_authed", Boolean),
    Column("exclusive_account", Boolean),
    Column("extension", NulSafeText, comment="DingTalk's extension attributes, JSON text as sent"),
    Column("status", NulSafeString(16), nullable=False, default="active"),
    _ts("left_at"),
    Column("leave_reason", NulSafeString(64)),
    Column("last_seen_run_id", Integer),
    _ts("synced_at", nullable=False, default=utcnow),
    Column(
        "local_disabled",
        Boolean,
        nullable=False,
        default=False,
        server_default=false(),
        comment="disabled locally: may not log in whatever DingTalk says",
    ),
    _raw(),
    Column(
        "content_hash",
        NulSafeString(32),
        comment="digest of the columns the directory sync last wrote (NULL: write next time)",
    ),
    CheckConstraint(_in("status", USER_STATUSES), name="status"),
    Index("ix_users_corp_id_unionid", "corp_id", "unionid", unique=True),
    Index("ix_users_corp_id_status", "corp_id", "status"),
)


def synced_user() -> Any:
    """The condition on ``users`` of a person of the synced directory (a row DingTalk sent:
    ``raw`` or ``name`` set). A userid disabled locally before it was ever synced gets a stub
    row (``status='inactive'``, neither; :func:`dingsync.store.repo_local_access.
    set_local_disabled`) so the block holds when the person arrives: it is nobody in the
    directory, and no count or list of people may show it."""
    return or_(users.c.raw.is_not(None), users.c.name.is_not(None))


user_departments = Table(
    "user_departments",
    metadata,
    _corp_id(),
    _id("userid", primary_key=True),
    Column("dept_id", BigInteger, primary_key=True, autoincrement=False),
    Column("dept_order", BigInteger, comment="the user's order inside this department"),
    Column("is_leader", Boolean, nullable=False, default=False),
    _ts("synced_at", nullable=False, default=utcnow),
    ForeignKeyConstraint(
        ["corp_id", "userid"], ["users.corp_id", "users.userid"], ondelete="CASCADE"
    ),
    Index("ix_user_departments_corp_id_dept_id", "corp_id", "dept_id"),
)

former_memberships = Table(
    "former_memberships",
    metadata,
    _corp_id(),
    _id("userid", primary_key=True),
    Column("dept_id", BigInteger, primary_key=True, autoincrement=False),
    Column("dept_order", BigInteger, comment="the user's order inside this department"),
    Column("is_leader", Boolean, nullable=False, default=False),
    _ts("removed_at", nullable=False, default=utcnow),
    ForeignKeyConstraint(
        ["corp_id", "userid"], ["users.corp_id", "users.userid"], ondelete="CASCADE"
    ),
    Index("ix_former_memberships_corp_id_dept_id", "corp_id", "dept_id"),
    comment="Memberships taken out of user_departments: a leaver's count in department views",
)

admins = Table(
    "admins",
    metadata,
    _corp_id(),
    _id("userid", primary_key=True),
    Column("sys_level", Integer, nullable=False, comment="1 main administrator, 2 sub-admin"),
    _ts("synced_at", nullable=False, default=utcnow),
    _raw(),
)

admin_scopes = Table(
    "admin_scopes",
    metadata,
    _corp_id(),
    _id("userid", primary_key=True),
    Column("dept_id", BigInteger, primary_key=True, autoincrement=False),
    ForeignKeyConstraint(
        ["corp_id", "userid"], ["admins.corp_id", "admins.userid"], ondelete="CASCADE"
    ),
    comment="Departments a sub-administrator manages (sub-departments implied).",
)

leavers = Table(
    "leavers",
    metadata,
    _corp_id(),
    _id("userid", primary_key=True),
    Column("name", NulSafeString(255)),
    Column("state_code", NulSafeString(16)),
    Column("mobile", NulSafeString(32)),
    _ts("leave_time"),
    Column("leave_reason", NulSafeString(64), comment="oapi | cancel | leave | unknown | delete"),
    _ts("last_work_day"),
    Column("main_dept_id", BigInteger),
    Column("main_dept_name", NulSafeString(255)),
    Column("dept_list", json_type()),
    Column("status", Integer, comment="1 leaving, 2 left, 3 not leaving, 4 in approval, 5 void"),
    Column("pre_status", Integer, comment="1 pending onboarding, 2 probation, 3 regular"),
    _id("handover_userid"),
    Column("reason_type", Integer),
    Column("reason_memo", NulSafeText),
    _ts("synced_at", nullable=False, default=utcnow),
    _raw(),
    comment="Departure records (empLeaveRecords and 智能人事 dimission details).",
)

# --------------------------------------------------------------------------------------------
# Sync bookkeeping
# --------------------------------------------------------------------------------------------
sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _id("corp_id", nullable=False),
    Column("kind", NulSafeString(32), nullable=False, comment="full | incremental"),
    Column("entities", json_type(), nullable=False),
    Column("status", NulSafeString(16), nullable=False),
    _ts("started_at", nullable=False, default=utcnow),
    _ts("finished_at"),
    Column("wall_ms", BigInteger),
    Column("counts", json_type()),
    Column("api_calls", json_type(), comment="HTTP requests per DingTalk path"),
    Column("error", NulSafeText),
    CheckConstraint(_in("status", SYNC_RUN_STATUSES), name="status"),
    Index("ix_sync_runs_corp_id_id", "corp_id", "id"),
)

sync_checkpoints = Table(
    "sync_checkpoints",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=False),
    Column("entity", NulSafeString(64), primary_key=True),
    Column("key", NulSafeString(255), primary_key=True),
    Column("state", json_type()),
    _ts("updated_at", nullable=False, default=utcnow),
    ForeignKeyConstraint(["run_id"], ["sync_runs.id"], ondelete="CASCADE"),
)

sync_watermarks = Table(
    "sync_watermarks",
    metadata,
    _corp_id(),
    Column("entity", NulSafeString(64), primary_key=True),
    Column("value", json_type()),
    _ts("updated_at", nullable=False, default=utcnow),
)

token_cache = Table(
    "token_cache",
    metadata,
    Column("cache_key", NulSafeString(255), primary_key=True),
    Column("token", NulSafeText, nullable=False),
    Column("expires_at", Double, nullable=False, comment="epoch seconds"),
    Column(
        "first_seen",
        Double,
        nullable=True,
        comment="epoch seconds: first fetch of this value by any process (JSAPI ticket 24 h cap)",
    ),
    _ts("updated_at", nullable=False, default=utcnow),
)

__all__ = [
    "CORP_MODES",
    "CORP_STATUSES",
    "DEPARTMENT_STATUSES",
    "NAMING_CONVENTION",
    "SYNC_RUN_KINDS",
    "SYNC_RUN_STATUSES",
    "USER_STATUSES",
    "UTCDateTime",
    "admin_scopes",
    "admins",
    "corps",
    "departments",
    "former_memberships",
    "from_ms",
    "json_type",
    "leavers",
    "metadata",
    "sync_checkpoints",
    "sync_runs",
    "sync_watermarks",
    "synced_user",
    "to_ms",
    "token_cache",
    "user_departments",
    "users",
    "utcnow",
]

# Tables of later areas live in their own modules on the same metadata; importing them here makes
# ``metadata`` complete whichever module is imported first.
from dingsync.store import (  # noqa: E402, F401
    schema_approvals,
    schema_attendance,
    schema_events,
    schema_isv,
    schema_reports,
    schema_roles,
    schema_web,
)
