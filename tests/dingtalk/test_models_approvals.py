"""Approval models and form-value parsing (no network): both hosts' shapes, the samples."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dingsync.dingtalk.approvals import split_windows
from dingsync.dingtalk.models.approvals import (
    FormSchema,
    ProcessInstance,
    ProcessTemplate,
    parse_approval_time,
    parse_form_value,
    parse_table,
)


def test_detail_table_given_as_json_text_inside_a_string() -> None:
    rows = [
        [{"name": "费用类型", "value": "交通"}, {"name": "金额", "value": "12.50"}],
        [{"name": "费用类型", "value": "餐饮"}, {"name": "金额", "value": "30"}],
    ]
    text = json.dumps(rows, ensure_ascii=False)
    parsed = parse_form_value("TableField", text)
    assert [[(c["name"], c["value"]) for c in r] for r in parsed] == [
        [("费用类型", "交通"), ("金额", "12.50")],
        [("费用类型", "餐饮"), ("金额", "30")],
    ]
    # The rowValue/label shape seen in real answers reads the same.
    other = json.dumps(
        [
            {
                "rowValue": [
                    {"label": "费用类型", "value": "交通"},
                    {"label": "金额", "value": "12.50"},
                ]
            }
        ],
        ensure_ascii=False,
    )
    assert parse_table(other) is not None
    assert [(c["name"], c["value"]) for c in parse_table(other)[0]] == [  # type: ignore[index]
        ("费用类型", "交通"),
        ("金额", "12.50"),
    ]
    # Not a table: the raw string comes back, never an exception.
    assert parse_form_value("TableField", "not json") == "not json"


def test_values_per_component_type() -> None:
    assert parse_form_value("MoneyField", "1,234.50") == 1234.5
    assert parse_form_value("NumberField", "3") == 3
    assert parse_form_value("NumberField", "") is None
    assert parse_form_value("NumberField", "abc") == "abc"
    assert parse_form_value("DDPhotoField", '["https://a/1.jpg","https://a/2.jpg"]') == [
        "https://a/1.jpg",
        "https://a/2.jpg",
    ]
    files = parse_form_value(
        "DDAttachment", '[{"spaceId":"1","fileName":"发票.pdf","fileSize":"10","fileId":"9"}]'
    )
    assert files == [{"spaceId": "1", "fileName": "发票.pdf", "fileSize": "10", "fileId": "9"}]
    assert parse_form_value("DDAttachment", "") == []
    assert parse_form_value("DDMultiSelectField", '["1","2"]') == ["1", "2"]
    assert parse_form_value("DDDateRangeField", '["2025-05-27","2025-05-28"]') == [
        "2025-05-27",
        "2025-05-28",
    ]
    assert parse_form_value("InnerContactField", '["u1","u2"]') == ["u1", "u2"]
    assert parse_form_value("DepartmentField", "1,2") == ["1", "2"]
    assert parse_form_value("DDDateField", "2025-05-27 10:00") == "2025-05-27 10:00"
    assert parse_form_value("TextField", None) is None


def test_times_of_both_hosts() -> None:
    old = parse_approval_time("2020-12-21 15:30:26")  # GMT+8
    assert old == datetime(2020, 12, 21, 7, 30, 26, tzinfo=UTC)
    assert parse_approval_time("2022-08-31T11:52Z") == datetime(2022, 8, 31, 11, 52, tzinfo=UTC)
    assert parse_approval_time("") is None
    assert parse_approval_time("yesterday") is None


def test_split_windows_300_days_gives_3() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    windows = split_windows(start, start + timedelta(days=300))
    assert len(windows) == 3
    assert [round((b - a).total_seconds() / 86400) for a, b in windows] == [120, 120, 60]
    for (_, end), (nxt, _) in itertools.pairwise(windows):
        assert nxt - end == timedelta(milliseconds=1)  # no gap, no overlap
    assert windows[0][0] == start and windows[-1][1] == start + timedelta(days=300)
    assert split_windows(start, start) == [(start, start)]
    assert split_windows(start, start - timedelta(days=1)) == []


def test_published_samples_parse(shared_dingtalk: Path) -> None:
    samples = shared_dingtalk / "samples" / "approvals"
    old = json.loads((samples / "topapi_processinstance_get.json").read_text())
    inst = ProcessInstance.from_payload(old["process_instance"], "pid-1", "legacy")
    assert inst.status == "COMPLETED" and inst.result == "agree"
    assert inst.cc_userids == ["user456"]
    assert inst.form_component_values[0].component_type == "TextField"
    assert inst.tasks[0].taskid == "66738" and inst.tasks[0].task_result == "AGREE"
    assert inst.operation_records[0].operation_type == "START_PROCESS_INSTANCE"
    assert inst.approvers == ["user456"]  # derived from tasks (EB-59)
    assert inst.payload() == old["process_instance"]

    new = json.loads((samples / "v1_workflow_processInstances.json").read_text())
    v1 = ProcessInstance.from_payload(new["result"], "pid-2", "v1.0")
    assert v1.originator_userid == "manager1" and v1.biz_data == '{"mykey": "myData"}'
    assert v1.tasks[0].taskid == "111" and v1.tasks[0].url == "https://www.xxxx.com"
    assert v1.operation_records[0].attachments[0].file_name == "学历证明"
    assert v1.operation_records[0].attachments[0].space_id == "12345"
    assert v1.form_component_values[0].ext_value == "示例值"
    assert v1.form_component_values[0].biz_alias == "TextField-bizAlias"
    assert v1.finish_at == datetime(2022, 8, 31, 11, 52, tzinfo=UTC)

    schema = json.loads((samples / "v1_workflow_forms_schemas_processCodes.json").read_text())
    form = FormSchema.model_validate(schema["result"])
    assert form.items[0].component_name == "TextField"
    assert form.items[0].children[0].label == "姓名"
    assert form.model_extra and "creatorUserId" in form.model_extra  # unknown fields kept

    visible = json.loads(
        (samples / "v1_workflow_processes_userVisibilities_templates.json").read_text()
    )
    tpl = ProcessTemplate.model_validate(visible["result"]["processList"][0])
    assert tpl.process_code == "PROC-YMLA1-xxxx-11WFJ-1" and tpl.dir_name == "财务管理"


def test_unknown_fields_are_kept() -> None:
    inst = ProcessInstance.from_payload({"title": "t", "brandNew": {"x": 1}}, "p", "v1.0")
    assert inst.model_extra == {"brandNew": {"x": 1}}
    assert inst.payload() == {"title": "t", "brandNew": {"x": 1}}


def test_detail_table_null_row_skipped_alone_and_cells_name_their_id() -> None:
    text = json.dumps(
        [
            {"rowValue": [{"label": "", "key": "T-1", "value": "a"}, {"label": "", "value": "b"}]},
            {"rowValue": None},
            [{"name": "", "value": "c"}, {"name": "", "value": "d"}],
        ]
    )
    rows = parse_table(text)
    # the null row is skipped alone; each cell names its label and its component id (the key)
    assert rows is not None
    assert [[(c["name"], c["id"], c["value"]) for c in r] for r in rows] == [
        [("", "T-1", "a"), ("", None, "b")],
        [("", None, "c"), ("", None, "d")],
    ]


def test_attachment_samples_and_rows(shared_dingtalk: Path) -> None:
    """The attachment APIs' published bodies parse; the sync's attachment rows of the v1.0
    instance sample (a file on an operation record) and of a ``DDAttachment`` form value
    (approvals.md §11's encoding: sizes as strings) carry name, size in bytes, type, ids."""
    from dingsync.dingtalk.models.approvals import AttachmentDownload, attachment_files
    from dingsync.sync.approvals import attachment_rows

    samples = shared_dingtalk / "samples" / "approvals"
    link = json.loads(
        (samples / "v1_workflow_processInstances_spaces_files_urls_download.json").read_text()
    )
    got = AttachmentDownload.model_validate(link["result"])
    assert (got.space_id, got.file_id) == (3996960664, "26748422566")
    assert got.download_uri and got.download_uri.startswith("http://lippi-space")
    grant = json.loads(
        (samples / "v1_workflow_processInstances_spaces_files_authDownload.json").read_text()
    )
    assert grant == {"success": True, "result": True}

    new = json.loads((samples / "v1_workflow_processInstances.json").read_text())
    payload = dict(new["result"])
    value = json.dumps(
        [
            {"spaceId": "12345", "fileName": "合同.pdf", "fileSize": "2048", "fileType": "pdf"}
            | {"fileId": "F1"},
            {"fileName": "无ID"},  # no file id: never downloadable, left out
        ],
        ensure_ascii=False,
    )
    payload["formComponentValues"] = [
        {"id": "DDAttachment_1", "name": "附件", "value": value, "componentType": "DDAttachment"}
    ]
    inst = ProcessInstance.from_payload(payload, "pid-3", "v1.0")
    assert attachment_files("DDAttachment", inst.form_component_values[0].parsed()) == [
        {
            "file_id": "F1",
            "file_name": "合同.pdf",
            "file_size": 2048,
            "file_type": "pdf",
            "space_id": "12345",
        }
    ]
    rows = attachment_rows(inst)
    assert [(r["seq"], r["source"], r["file_id"], r["file_size"], r["userid"]) for r in rows] == [
        (0, "form", "F1", 2048, "manager1"),
        (1, "comment", "111", 1024, "manager1"),
    ]
    assert rows[1]["file_name"] == "学历证明" and rows[1]["record_seq"] == 0
    assert rows[0]["component_id"] == "DDAttachment_1" and rows[1]["space_id"] == "12345"
