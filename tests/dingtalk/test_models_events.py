"""Normalising DingTalk's envelope formats (events.md §2.1) with the published samples."""

from __future__ import annotations

import json
from pathlib import Path

from dingsync.dingtalk.models.events import (
    event_from_failed_item,
    event_from_http,
    event_from_stream,
    stable_id,
)
from dingsync.dingtalk.stream import event_ack, parse_frame, system_ack


def _sample(shared: Path, name: str) -> dict:  # type: ignore[type-arg]
    return dict(json.loads((shared / "samples" / "events" / name).read_text(encoding="utf-8")))


def test_legacy_http_sample_has_no_id_so_its_hash_is_the_key(shared_dingtalk: Path) -> None:
    body = _sample(shared_dingtalk, "user_add_org.json")
    ev = event_from_http(body)
    assert ev.event_type == "user_add_org" and ev.user_ids == ["user1", "user2"]
    assert ev.event_id == stable_id("user_add_org", body) == event_from_http(dict(body)).event_id
    assert ev.corp_id and ev.event_time_ms == 43535463645


def test_current_format_uses_its_event_id_and_camel_case_keys() -> None:
    ev = event_from_http(
        {
            "EventType": "org_dept_create",
            "EventTime": 1700000000000,
            "CorpId": "ding1",
            "BizId": "b-1",
            "eventId": "e-1",
            "deptId": [5, "6"],
        }
    )
    assert ev.event_id == "e-1" and ev.dept_ids == [5, 6] and ev.event_time_ms == 1700000000000


def test_approval_sample_lower_case_corp_id(shared_dingtalk: Path) -> None:
    ev = event_from_http(_sample(shared_dingtalk, "bpms_instance_change.json"))
    assert ev.process_instance_id == "60406628-…" and ev.corp_id == "dingc7c5…"


def test_stream_frame_sample(shared_dingtalk: Path) -> None:
    frame = _sample(shared_dingtalk, "stream_event_frame.user_add_org.json")
    ev = event_from_stream(frame)
    assert ev.event_id == "c7c7120f2c07419***ebdba0318c8"
    assert ev.user_ids == ["015xxxx227"] and ev.event_time_ms == 1683533823336
    parsed = parse_frame(json.dumps(frame))
    assert parsed.message_id == "213d841d_972_1898bb26334_70a7" and parsed.topic == "*"
    ack = json.loads(event_ack(parsed.message_id))
    assert ack["code"] == 200 and json.loads(ack["data"])["status"] == "SUCCESS"
    later = json.loads(event_ack(parsed.message_id, success=False))
    assert later["code"] == 500 and json.loads(later["data"])["status"] == "LATER"


def test_ping_is_echoed(shared_dingtalk: Path) -> None:
    ping = parse_frame(json.dumps(_sample(shared_dingtalk, "stream_system_ping.json")))
    ack = json.loads(system_ack(ping))
    assert ack["code"] == 200 and ack["data"] == '{"opaque":"123-dsfs"}'
    assert ack["headers"]["messageId"] == ping.message_id


def test_failed_list_item() -> None:
    item = {
        "call_back_tag": "user_leave_org",
        "event_time": 1606126433000,
        "callbackData": {"corpid": "ding1", "userid": ["u9"]},
    }
    ev = event_from_failed_item(item)
    assert ev.event_type == "user_leave_org" and ev.user_ids == ["u9"]
    assert ev.event_time_ms == 1606126433000 and ev.corp_id == "ding1"
