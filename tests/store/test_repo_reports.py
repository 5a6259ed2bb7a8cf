"""Report contents round-trip through the model and the store unchanged (SQLite and
PostgreSQL): missing keys and fields, empty values, Chinese, emoji, newlines, long text."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from dingsync.dingtalk.models.reports import Report
from dingsync.store import repo_reports
from dingsync.sync.reports import report_row

CORP = "dingcorp"

ODD_CONTENTS: list[dict[str, Any]] = [
    {"key": "今日完成工作", "sort": "0", "type": "1", "value": "完成了✅ 接口联调\n2. 修复缺陷 🐛"},
    {"key": "未完成工作", "sort": "1", "type": "1", "value": ""},
    {"sort": "2", "type": "1", "value": "没有 key 的内容"},
    {"key": "备注", "sort": "3", "type": "0", "value": "👨‍👩‍👧‍👦 家庭日 " + "长" * 990},
    {"key": "空格", "sort": "4", "type": "1", "value": "  前后空格  "},
]


def test_contents_round_trip_unchanged(engine: Engine) -> None:
    payload = {
        "report_id": "r-odd",
        "template_name": "日报",
        "creator_id": "u1",
        "creator_name": "张三",
        "dept_name": "开放平台,市场部",
        "create_time": 1605680704000,
        "modified_time": 1605680705123,
        "remark": "",
        "contents": ODD_CONTENTS,
        "new_field": {"nested": [1, "二"]},
    }
    report = Report.model_validate(payload)
    contents = [c.model_dump(include={"key", "sort", "type", "value"}) for c in report.contents]
    with engine.begin() as conn:
        repo_reports.upsert_reports(
            conn, CORP, [report_row(CORP, None, report)], {report.report_id: contents}
        )
        repo_reports.replace_receivers(conn, CORP, {report.report_id: ["u2", "u3"]})
    with engine.connect() as conn:
        stored = repo_reports.load_reports(conn, CORP)["r-odd"]
    expected = [{"key": None, **c} if "key" not in c else c for c in ODD_CONTENTS]
    assert stored["contents"] == expected
    assert stored["raw"]["new_field"] == {"nested": [1, "二"]}  # unknown fields kept
    assert "contents" not in stored["raw"]
    assert stored["dept_name"] == "开放平台,市场部"
    assert stored["receivers"] == ["u2", "u3"]
    assert int(stored["modified_time"].timestamp() * 1000) == 1605680705123

    # An edit that drops a field and changes another replaces the contents as a whole.
    edited = Report.model_validate(
        {**payload, "contents": [ODD_CONTENTS[0] | {"value": "改了"}], "modified_time": 1}
    )
    with engine.begin() as conn:
        repo_reports.upsert_reports(
            conn,
            CORP,
            [report_row(CORP, None, edited)],
            {
                "r-odd": [
                    c.model_dump(include={"key", "sort", "type", "value"}) for c in edited.contents
                ]
            },
        )
    with engine.connect() as conn:
        again = repo_reports.load_reports(conn, CORP)["r-odd"]
    assert again["contents"] == [ODD_CONTENTS[0] | {"value": "改了"}]
    assert again["receivers"] == ["u2", "u3"]


def _report(rid: str) -> dict[str, Any]:
    return {"report_id": rid, "template_name": "日报", "creator_id": "u1", "raw": {}}


def test_receivers_and_comments_replaced_per_report(engine: Engine) -> None:
    """The lists go through ``repo.delete_in`` / ``repo.insert_rows``: more reports than one
    ``IN`` list or one ``executemany`` chunk holds are replaced as a whole, the reports not
    given keep theirs, duplicates of a userid are written once."""
    ids = [f"r{i:04d}" for i in range(1_050)]
    with engine.begin() as conn:
        repo_reports.upsert_reports(conn, CORP, [_report(r) for r in [*ids, "other"]])
        written = repo_reports.replace_receivers(
            conn, CORP, {**{r: ["u1", "u2", "u1"] for r in ids}, "other": ["u7"]}
        )
        assert written == 2 * len(ids) + 1
        repo_reports.replace_comments(
            conn,
            CORP,
            {"r0001": [{"userid": "u1", "content": "好\x00", "create_time_text": "t"}]},
        )
    with engine.begin() as conn:
        repo_reports.replace_receivers(conn, CORP, {r: ["u3"] for r in ids})
        repo_reports.replace_comments(conn, CORP, {"r0001": [{"userid": "u2", "content": "再"}]})
    with engine.connect() as conn:
        stored = repo_reports.load_reports(conn, CORP)
    assert {tuple(stored[r]["receivers"]) for r in ids} == {("u3",)}
    assert stored["other"]["receivers"] == ["u7"]
    assert [(c["userid"], c["content"]) for c in stored["r0001"]["comments"]] == [("u2", "再")]
    assert stored["r0002"]["comments"] == []


def test_a_naive_comment_time_raises_statement_error(engine: Engine) -> None:
    """A value a column's processor refuses raises ``StatementError`` (the sync quarantines
    the unit), as it did through SQLAlchemy's own ``execute``."""
    with engine.begin() as conn:
        repo_reports.upsert_reports(conn, CORP, [_report("r1")])
    bad = [{"userid": "u1", "content": "x", "created_at": datetime(2024, 5, 1, 9)}]
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), engine.begin() as conn:
        repo_reports.replace_comments(conn, CORP, {"r1": bad})
