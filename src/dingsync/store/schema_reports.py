"""Tables for reports (日志), on the shared :data:`dingsync.store.schema.metadata`.

- ``report_templates``: one row per template name (``report/list`` names the template only by
  ``template_name``); ``report_code`` from ``template/listbyuserid``, ``template_id`` from
  ``template/getbyname``.
- ``report_template_fields``: the template's fields in ``sort`` order.
- ``reports``: one row per ``report_id``; times are UTC (DingTalk sends epoch ms).
  ``content_keys``, ``content_values``, ``content_states`` and ``receiver_ids`` (migration
  0029) repeat the report's ``report_contents`` (its keys, its values, by position; the states
  only when one is set) and ``report_receivers`` (userids in code point order) as JSON lists,
  NULL where it has none: written by ``repo_reports`` in the same transaction, read by the
  export (one row per report instead of one per content and receiver).
- ``report_contents``: one row per ``contents[]`` entry in the order sent (``position``); ``key``,
  ``sort``, ``type`` and ``value`` kept as the Strings DingTalk sent.
- ``report_receivers``: who a report was sent to (decides who may see it).
- ``report_comments``: comments in the order sent; ``create_time_text`` is DingTalk's GMT+8
  string, ``created_at`` its UTC value.
- ``report_user_stats``: read (0), comment (1) and like (2) lists.
- ``report_template_keys``: per template, how many stored reports have a content ``key`` at a
  ``position`` (kept by the reports sync with their contents, migration 0028): the export's
  columns beyond the template's fields, without scanning every stored content.

Children are replaced per report and deleted with it (``ON DELETE CASCADE``).

Migration: ``migrations/versions/0002_reports.py``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    Table,
)

from dingsync.store.nul import NulSafeString, NulSafeText
from dingsync.store.schema import UTCDateTime, json_type, metadata, utcnow

_REPORT_FK = (["corp_id", "report_id"], ["reports.corp_id", "reports.report_id"])


def _id(name: str, **kw: object) -> Column[object]:
    return Column(name, NulSafeString(64), **kw)  # type: ignore[arg-type]


report_templates = Table(
    "report_templates",
    metadata,
    _id("corp_id", primary_key=True),
    Column("name", NulSafeString(255), primary_key=True),
    _id("report_code"),
    _id("template_id"),
    Column("icon_url", NulSafeText),
    Column("url", NulSafeText),
    Column("default_receivers", json_type()),
    Column("fields_synced", Boolean, nullable=False, default=False),
    Column("synced_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("raw", json_type()),
)

report_template_fields = Table(
    "report_template_fields",
    metadata,
    _id("corp_id", primary_key=True),
    Column("template_name", NulSafeString(255), primary_key=True),
    Column("sort", Integer, primary_key=True, autoincrement=False),
    Column("field_name", NulSafeString(255), nullable=False),
    Column("type", Integer),
    ForeignKeyConstraint(
        ["corp_id", "template_name"],
        ["report_templates.corp_id", "report_templates.name"],
        ondelete="CASCADE",
    ),
)

#: A template's statistics rules (统计规则) from ``/v1.0/report/statisticalRules/results``;
#: ``userids``: who must submit, from ``/v1.0/report/submitStatisticalResults`` over the synced
#: period (migration 0019).
report_rules = Table(
    "report_rules",
    metadata,
    _id("corp_id", primary_key=True),
    Column("template_name", NulSafeString(255), primary_key=True),
    Column("remind_id", BigInteger, primary_key=True, autoincrement=False),
    _id("template_id"),
    Column("period_type", Integer),
    Column("start_date_time", json_type()),
    Column("end_date_time", json_type()),
    Column("userids", json_type()),
    _id("creator_id"),
    Column("synced_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("raw", json_type()),
    ForeignKeyConstraint(
        ["corp_id", "template_name"],
        ["report_templates.corp_id", "report_templates.name"],
        ondelete="CASCADE",
    ),
)

reports = Table(
    "reports",
    metadata,
    _id("corp_id", primary_key=True),
    _id("report_id", primary_key=True),
    Column("template_name", NulSafeString(255)),
    _id("creator_id"),
    Column("creator_name", NulSafeString(255)),
    Column("dept_name", NulSafeText),
    Column("create_time", UTCDateTime()),
    Column("modified_time", UTCDateTime()),
    Column("remark", NulSafeText),
    Column("images", json_type()),
    Column("latitude", NulSafeString(32)),
    Column("longitude", NulSafeString(32)),
    Column("receivers_synced", Boolean, nullable=False, default=False),
    Column("details_synced_at", UTCDateTime()),
    # report/statistics' counts (or the lists' lengths), with the details (migration 0019)
    Column("read_num", Integer),
    Column("comment_num", Integer),
    Column("comment_user_num", Integer),
    Column("like_num", Integer),
    Column("last_seen_run_id", Integer),
    Column("synced_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("raw", json_type()),
    # The report's contents and receivers on its own row (migration 0029), kept by
    # repo_reports with report_contents / report_receivers: what the export reads, one row per
    # report. content_keys / content_values: the contents' keys and values in position order;
    # content_states: their states when one is not NULL; receiver_ids: the userids in code
    # point order; NULL where the report has none.
    Column("content_keys", json_type()),
    Column("content_values", json_type()),
    Column("content_states", json_type()),
    Column("receiver_ids", json_type()),
    # 日志统计 (migration 0020): reads of a template's creators and of each person's first
    # report per period come from these indexes alone.
    Index(
        "ix_reports_corp_id_template_name_create_time_creator_id",
        "corp_id",
        "template_name",
        "create_time",
        "creator_id",
    ),
    Index("ix_reports_corp_id_template_name_creator_id", "corp_id", "template_name", "creator_id"),
    Index("ix_reports_corp_id_creator_id_create_time", "corp_id", "creator_id", "create_time"),
    Index("ix_reports_corp_id_modified_time", "corp_id", "modified_time"),
    # The list API's (and the console's) newest-first order without a template (migration 0017).
    Index("ix_reports_corp_id_create_time", "corp_id", "create_time"),
)

report_contents = Table(
    "report_contents",
    metadata,
    _id("corp_id", primary_key=True),
    _id("report_id", primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("key", NulSafeString(255)),
    Column("sort", NulSafeString(16)),
    Column("type", NulSafeString(16)),
    Column("value", NulSafeText),
    # NULL: the value as sent; "table": a table field, DingTalk sent only 「[表格]」;
    # "truncated": cut at 1,000 characters and no full text found; "full": completed from
    # /v1.0/report/details (migration 0019).
    Column("state", NulSafeString(16)),
    ForeignKeyConstraint(*_REPORT_FK, ondelete="CASCADE"),
)

report_receivers = Table(
    "report_receivers",
    metadata,
    _id("corp_id", primary_key=True),
    _id("report_id", primary_key=True),
    _id("userid", primary_key=True),
    ForeignKeyConstraint(*_REPORT_FK, ondelete="CASCADE"),
    Index("ix_report_receivers_corp_id_userid", "corp_id", "userid"),
)

report_comments = Table(
    "report_comments",
    metadata,
    _id("corp_id", primary_key=True),
    _id("report_id", primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    _id("userid"),
    Column("content", NulSafeText),
    Column("create_time_text", NulSafeString(32)),
    Column("created_at", UTCDateTime()),
    ForeignKeyConstraint(*_REPORT_FK, ondelete="CASCADE"),
)

report_user_stats = Table(
    "report_user_stats",
    metadata,
    _id("corp_id", primary_key=True),
    _id("report_id", primary_key=True),
    Column("type", SmallInteger, primary_key=True, autoincrement=False),
    _id("userid", primary_key=True),
    ForeignKeyConstraint(*_REPORT_FK, ondelete="CASCADE"),
)

#: Per template, the content keys of its stored reports: ``report_count`` reports (of
#: ``reports.template_name`` = ``template_name``) have ``key`` at ``position`` in
#: ``report_contents``. Kept in the same transaction as the contents
#: (``repo_reports.update_template_keys``); a row whose count drops to 0 is deleted. Not a
#: foreign key to ``report_templates``: a report may name a template whose fields were never
#: synced (migration 0028).
report_template_keys = Table(
    "report_template_keys",
    metadata,
    _id("corp_id", primary_key=True),
    Column("template_name", NulSafeString(255), primary_key=True),
    Column("key", NulSafeString(255), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("report_count", Integer, nullable=False),
)

#: ``report_contents.state`` values.
CONTENT_TABLE, CONTENT_TRUNCATED, CONTENT_FULL = "table", "truncated", "full"

#: ``report_user_stats.type`` values (DingTalk's ``statistics/listbytype`` types).
STAT_READ, STAT_COMMENT, STAT_LIKE = 0, 1, 2

__all__ = [
    "CONTENT_FULL",
    "CONTENT_TABLE",
    "CONTENT_TRUNCATED",
    "STAT_COMMENT",
    "STAT_LIKE",
    "STAT_READ",
    "metadata",
    "report_comments",
    "report_contents",
    "report_receivers",
    "report_rules",
    "report_template_fields",
    "report_template_keys",
    "report_templates",
    "report_user_stats",
    "reports",
]
