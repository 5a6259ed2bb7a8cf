"""Tables for approvals (审批): templates with their form schemas, instances, form values,
detail-table rows, tasks, operation records and cc.

Defined on the shared :data:`dingsync.store.schema.metadata`. Keys are DingTalk's ids
(``process_code``, ``process_instance_id``) plus ``corp_id``; the children of an instance are
keyed by their position (``seq``) in DingTalk's answer and replaced whenever the instance is
stored again. Times are aware UTC (``create_time``/``finish_time`` parsed from either host's
format; the raw strings stay in ``raw``).

Migrations: ``migrations/versions/0004_approvals.py``; ``approval_attachments``:
``0014_approval_attachments.py``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKeyConstraint, Index, Integer, Table

from dingsync.store.nul import NulSafeString, NulSafeText
from dingsync.store.schema import UTCDateTime, json_type, metadata, utcnow


def _id(name: str, **kw: Any) -> Column[Any]:
    return Column(name, NulSafeString(64), **kw)


def _ts(name: str, nullable: bool = True, **kw: Any) -> Column[Any]:
    return Column(name, UTCDateTime(), nullable=nullable, **kw)


def _instance_key() -> list[Any]:
    return [
        _id("corp_id", primary_key=True),
        _id("process_instance_id", primary_key=True),
    ]


def _instance_fk(table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["corp_id", "process_instance_id"],
        ["approval_instances.corp_id", "approval_instances.process_instance_id"],
        ondelete="CASCADE",
        name=f"fk_{table}_instance",
    )


approval_templates = Table(
    "approval_templates",
    metadata,
    _id("corp_id", primary_key=True),
    _id("process_code", primary_key=True),
    Column("name", NulSafeString(255)),
    Column("icon_url", NulSafeText),
    Column("url", NulSafeText),
    Column("dir_name", NulSafeString(255)),
    Column("form_uuid", NulSafeString(64)),
    Column("schema_status", NulSafeString(32)),
    Column("fields", json_type()),
    _ts("gmt_modified"),
    _ts("synced_at", nullable=False, default=utcnow),
    Column("raw", json_type()),
)

approval_instances = Table(
    "approval_instances",
    metadata,
    *_instance_key(),
    _id("process_code", nullable=False),
    Column("title", NulSafeString(255)),
    Column("business_id", NulSafeString(64)),
    _id("originator_userid"),
    _id("originator_dept_id"),
    Column("originator_dept_name", NulSafeString(255)),
    Column("status", NulSafeString(32)),
    Column("result", NulSafeString(32)),
    _ts("create_time"),
    _ts("finish_time"),
    Column("biz_action", NulSafeString(32)),
    _id("main_process_instance_id"),
    Column("attached_process_instance_ids", json_type()),
    Column("approver_userids", json_type()),
    Column("source", NulSafeString(16)),
    _ts("synced_at", nullable=False, default=utcnow),
    Column("raw", json_type()),
    Index("ix_approval_instances_code_create", "corp_id", "process_code", "create_time"),
    Index("ix_approval_instances_status", "corp_id", "status"),
)

approval_form_values = Table(
    "approval_form_values",
    metadata,
    *_instance_key(),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("component_id", NulSafeString(128)),
    Column("name", NulSafeString(255)),
    Column("component_type", NulSafeString(64)),
    Column("value", NulSafeText),
    Column("ext_value", NulSafeText),
    Column("parsed", json_type()),
    _instance_fk("approval_form_values"),
)

approval_detail_rows = Table(
    "approval_detail_rows",
    metadata,
    *_instance_key(),
    Column("field_seq", Integer, primary_key=True, autoincrement=False),
    Column("row_no", Integer, primary_key=True, autoincrement=False),
    Column("component_id", NulSafeString(128)),
    Column("field_name", NulSafeString(255)),
    Column("cells", json_type()),
    _instance_fk("approval_detail_rows"),
)

approval_tasks = Table(
    "approval_tasks",
    metadata,
    *_instance_key(),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    _id("taskid"),
    _id("userid"),
    Column("task_status", NulSafeString(32)),
    Column("task_result", NulSafeString(32)),
    _ts("create_time"),
    _ts("finish_time"),
    Column("activity_id", NulSafeString(128)),
    Column("url", NulSafeText),
    _instance_fk("approval_tasks"),
)

approval_operation_records = Table(
    "approval_operation_records",
    metadata,
    *_instance_key(),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    _id("userid"),
    _ts("date"),
    Column("operation_type", NulSafeString(64)),
    Column("operation_result", NulSafeString(32)),
    Column("remark", NulSafeText),
    Column("attachments", json_type()),
    _instance_fk("approval_operation_records"),
)

approval_cc = Table(
    "approval_cc",
    metadata,
    *_instance_key(),
    _id("userid", primary_key=True),
    _instance_fk("approval_cc"),
)

#: One row per attachment of an instance (审批附件): files of the form's ``DDAttachment``
#: components (``source`` ``form``, ``component_id`` set, ``userid`` the originator) first,
#: then those of operation records / comments (``comment``, ``record_seq`` the record's ``seq``,
#: ``userid`` who attached it), in DingTalk's order. ``file_size`` in bytes; ``space_id`` the
#: approval drive space (v1.0 only for comments). The files themselves stay at DingTalk:
#: ``GET /api/approvals/{id}/attachments/{file_id}`` fetches one on demand.
approval_attachments = Table(
    "approval_attachments",
    metadata,
    *_instance_key(),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("file_id", NulSafeString(128), nullable=False),
    Column("file_name", NulSafeText),
    Column("file_size", BigInteger),
    Column("file_type", NulSafeString(64)),
    _id("space_id"),
    Column("source", NulSafeString(16), nullable=False),
    Column("component_id", NulSafeString(128)),
    Column("record_seq", Integer),
    _id("userid"),
    _instance_fk("approval_attachments"),
    Index("ix_approval_attachments_file", "corp_id", "process_instance_id", "file_id"),
)

INSTANCE_CHILDREN = (
    approval_form_values,
    approval_detail_rows,
    approval_tasks,
    approval_operation_records,
    approval_cc,
    approval_attachments,
)

__all__ = [
    "INSTANCE_CHILDREN",
    "approval_attachments",
    "approval_cc",
    "approval_detail_rows",
    "approval_form_values",
    "approval_instances",
    "approval_operation_records",
    "approval_tasks",
    "approval_templates",
    "metadata",
]
