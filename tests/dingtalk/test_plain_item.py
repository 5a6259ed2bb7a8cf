"""``plain_item``: a wire item as ``Model.model_validate(item).raw()`` gives it — the item itself
when nothing needs converting, otherwise what validation makes of it (or its error) — for the
attendance rows the sync stores (DingTalk's vendored samples, the sandbox's, odd ones)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from dingsync.dingtalk.models._base import plain_item, plain_items
from dingsync.dingtalk.models.attendance import AttendanceRecord, AttendanceResult, ScheduleItem

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "dingtalk" / "samples"


def _sample(name: str, *keys: str) -> list[dict[str, Any]]:
    body: Any = json.loads((SAMPLES / "attendance" / name).read_text())
    for key in keys:
        body = body[key]
    body = body if isinstance(body, list) else [body]
    assert body
    return body


def _reference(model: type[BaseModel], item: Any) -> dict[str, Any]:
    data: dict[str, Any] = model.model_validate(item).model_dump(
        mode="json", by_alias=True, exclude_unset=True
    )
    return data


def _typed(value: dict[str, Any]) -> str:
    """The dict with each value's type: ``65`` and ``65.0`` compare equal, they are not."""
    return json.dumps({k: [type(v).__name__, v] for k, v in value.items()}, sort_keys=True)


CASES: list[tuple[type[BaseModel], dict[str, Any]]] = [
    *((AttendanceResult, i) for i in _sample("attendance_list.json", "recordresult")),
    *((AttendanceResult, i) for i in _sample("attendance_list.real_notsigned_record.json")),
    *((AttendanceRecord, i) for i in _sample("attendance_listRecord.json", "recordresult")),
    *((ScheduleItem, i) for i in _sample("topapi_attendance_schedule_listbyusers.json", "result")),
    # numbers as strings (EB-46), a Python name for an alias, a bool for an int, ints for floats
    (AttendanceResult, {"id": "5", "userId": "u", "workDate": 1, "checkType": "OnDuty"}),
    (AttendanceResult, {"id": 5, "user_id": "u", "workDate": 1, "checkType": "OnDuty"}),
    (AttendanceResult, {"id": 5, "userId": 7, "workDate": True, "checkType": "OnDuty"}),
    (AttendanceRecord, {"id": 5, "userId": "u", "userCheckTime": 1, "userAccuracy": 65}),
    (
        AttendanceRecord,
        {"id": 5, "userId": "u", "userCheckTime": 1, "deviceSN": "a", "deviceSn": 1},
    ),
    (AttendanceRecord, {"id": 5, "userId": "u", "userCheckTime": 1.0, "userLatitude": None}),
    (ScheduleItem, {"userid": "u", "work_date": "2026-12-01 00:00:00", "is_rest": "N", "x": [1]}),
]


@pytest.mark.parametrize(("model", "item"), CASES)
def test_plain_item_is_what_validation_dumps(model: type[BaseModel], item: dict[str, Any]) -> None:
    got = plain_item(model, item)
    assert _typed(got) == _typed(_reference(model, item))


def test_a_plain_item_is_kept_as_it_came() -> None:
    item = _sample("attendance_list.json", "recordresult")[0]
    assert plain_item(AttendanceResult, item) is item


@pytest.mark.parametrize(
    "item",
    [
        {"userId": "u", "workDate": 1, "checkType": "OnDuty"},  # no id
        {"id": None, "userId": "u", "workDate": 1, "checkType": "OnDuty"},
        {"id": "x", "userId": "u", "workDate": 1, "checkType": "OnDuty"},
    ],
)
def test_what_validation_refuses_is_refused(item: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        plain_item(AttendanceResult, item)


def _pages() -> list[tuple[type[BaseModel], list[Any]]]:
    """Pages of each model's cases: all of them, each alone, the plain ones, pairs of
    neighbours (a plain item beside an int in a ``float`` field, an unknown field, a string
    number, a missing field), and items that are no dicts."""
    pages: list[tuple[type[BaseModel], list[Any]]] = []
    for model in (AttendanceResult, AttendanceRecord, ScheduleItem):
        items = [dict(i) for m, i in CASES if m is model]
        pages.append((model, items))
        pages.extend((model, [i]) for i in items)
        pages.extend((model, items[k : k + 2]) for k in range(len(items) - 1))
        pages.append((model, [i for i in items if plain_item(model, i) is i]))
    record = {"id": 5, "userId": "u", "userCheckTime": 1}
    pages.append((AttendanceRecord, [record, {**record, "userAccuracy": 65, "userLatitude": 30}]))
    pages.append((AttendanceRecord, [{**record, "userAccuracy": 65.0}, {**record, "x": 1}]))
    pages.append((AttendanceRecord, [record, {**record, "userLatitude": True}]))
    pages.append((AttendanceRecord, [record, {"id": 6, "userId": "u", "userCheckTime": "7"}]))
    pages.append((AttendanceRecord, [record, AttendanceRecord.model_validate(record)]))
    pages.append((AttendanceRecord, []))
    return pages


@pytest.mark.parametrize(("model", "items"), _pages())
def test_plain_items_is_plain_item_of_each(model: type[BaseModel], items: list[Any]) -> None:
    """A page at once: the same dicts as ``plain_item`` item by item — the very items where it
    returns them, equal copies (same value types) where it converts."""
    expected = [plain_item(model, i) for i in items]
    got = plain_items(model, items)
    assert [_typed(g) for g in got] == [_typed(e) for e in expected]
    assert [g is i for g, i in zip(got, items, strict=True)] == [
        e is i for e, i in zip(expected, items, strict=True)
    ]


def test_plain_items_refuses_what_plain_item_refuses() -> None:
    good = {"id": 5, "userId": "u", "workDate": 1, "checkType": "OnDuty"}
    with pytest.raises(ValidationError):
        plain_items(AttendanceResult, [good, {"id": "x", "userId": "u", "workDate": 1}])
