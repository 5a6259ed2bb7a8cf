"""Helpers of the approvals tests: a sandbox with a denser approval world, a client on it."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from dingsync.sandbox import SandboxServer
from helpers.sandboxes import SandboxSpec, make_client

__all__ = [
    "EDITED_TABLE",
    "PRIVATE_SANDBOX",
    "SANDBOX",
    "edited_instance_payload",
    "make_client",
    "make_sandbox",
]

USERS = 80
DENSITY = 0.03  # about 70 instances over 30 days (plus attendance's leaves)


#: The approvals company the modules share (read-only).
SANDBOX = SandboxSpec(seed=11, users=USERS, knobs=(("approvals_per_user_day", DENSITY),))
#: The same company for a module that mutates it (its own sandbox).
PRIVATE_SANDBOX = replace(SANDBOX, private=True)


def make_sandbox(**knobs: Any) -> SandboxServer:
    """A sandbox of ``SANDBOX`` with ``knobs`` set too, not started (use ``with``)."""
    sb = SANDBOX.server()
    if knobs:
        sb.configure(**knobs)
    return sb


#: An expense instance shaped like a real ``processinstance/get`` answer after the template was
#: edited: detail cells keyed by component id with empty labels, one ``{"rowValue": null}`` row,
#: and a value of a component the template no longer has.
EDITED_TABLE = [
    {
        "rowValue": [
            {"label": "", "key": "TextField-REMARK1", "value": "第一条备注"},
            {"label": "", "key": "TextField-REMARK2", "value": "第二条备注"},
            {"label": "金额", "key": "MoneyField-AMOUNT", "value": "12.50"},
        ],
        "rowNumber": "TableField_DETAIL_1",
    },
    {"rowValue": None},
    {
        "rowValue": [
            {"label": "", "key": "TextField-REMARK1", "value": "三"},
            {"label": "", "key": "TextField-REMARK2", "value": "四"},
            {"label": "金额", "key": "MoneyField-AMOUNT", "value": "30"},
            {"label": "旧列", "key": "TextField-GONE", "value": "老数据"},
        ]
    },
]


def edited_instance_payload() -> dict[str, Any]:
    """The old host's ``process_instance`` body of :data:`EDITED_TABLE`'s instance."""
    return {
        "title": "张三提交的报销",
        "business_id": "202601011200000001",
        "originator_userid": "u1",
        "status": "COMPLETED",
        "result": "agree",
        "create_time": "2026-01-01 12:00:07",
        "finish_time": "2026-01-01 15:31:44",
        "form_component_values": [
            {
                "id": "TableField_DETAIL",
                "name": "报销明细",
                "component_type": "TableField",
                "value": json.dumps(EDITED_TABLE, ensure_ascii=False),
            },
            {
                "id": "TextField_OLD",
                "name": "旧字段",
                "component_type": "TextField",
                "value": "模板改版前的值",
            },
        ],
    }
