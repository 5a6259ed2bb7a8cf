"""Approval templates (审批模板) and their form components, and the fixed set the sandbox builds
from the seed (:func:`build_templates`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from dingsync.timeutil import DAY_MS


@dataclass
class Component:
    """One form component: ``componentName``, ``props.id``, ``props.label``, children (tables)."""

    component_name: str
    id: str
    label: str | None
    required: bool = False
    options: list[str] = field(default_factory=list)
    children: list[Component] = field(default_factory=list)

    def schema(self) -> dict[str, Any]:
        props: dict[str, Any] = {"id": self.id, "required": self.required}
        if self.label is not None:
            props["label"] = self.label
        if self.options:
            props["options"] = list(self.options)
        out: dict[str, Any] = {"componentName": self.component_name, "props": props}
        if self.children:
            out["children"] = [c.schema() for c in self.children]
        return out


@dataclass
class Template:
    """An approval template (审批模板): ``process_code``, ``name``, form components."""

    process_code: str
    name: str
    kind: str
    components: list[Component]
    icon: str = "common"
    dir_name: str = "人事"
    attendance_type: int = 0
    gmt_create_ms: int = 0


def _c(name: str, cid: str, label: str | None, **kw: Any) -> Component:
    return Component(name, cid, label, **kw)


def build_templates(seed: int, anchor_ms: int) -> list[Template]:
    """The five templates (leave, expense, business trip, purchase, overtime), deterministic."""
    rng = random.Random(f"approvals-templates:{seed}")

    def code() -> str:
        h = f"{rng.getrandbits(128):032X}"
        return f"PROC-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    created = anchor_ms - 400 * DAY_MS
    return [
        Template(
            code(),
            "请假",
            "leave",
            [
                _c(
                    "DDSelectField",
                    "DDSelectField_LEAVETYPE",
                    "请假类型",
                    required=True,
                    options=["年假", "事假", "病假", "调休"],
                ),
                _c("DDDateField", "DDDateField_START", "开始时间", required=True),
                _c("DDDateField", "DDDateField_END", "结束时间", required=True),
                _c("NumberField", "NumberField_DAYS", "时长（天）", required=True),
                _c("TextareaField", "TextareaField_REASON", "请假事由"),
            ],
            icon="leave",
            attendance_type=2,
            gmt_create_ms=created,
        ),
        Template(
            code(),
            "报销",
            "expense",
            [
                _c("MoneyField", "MoneyField_TOTAL", "报销总额（元）", required=True),
                _c(
                    "TableField",
                    "TableField_DETAIL",
                    "报销明细",
                    children=[
                        _c(
                            "DDSelectField",
                            "DDSelectField_FEETYPE",
                            "费用类型",
                            options=["交通", "餐饮", "住宿", "办公"],
                        ),
                        _c("MoneyField", "MoneyField_AMOUNT", "金额（元）"),
                        _c("DDDateField", "DDDateField_FEEDATE", "日期"),
                    ],
                ),
                _c("TextNote", "TextNote_HINT", None),
                _c("DDPhotoField", "DDPhotoField_RECEIPT", "票据照片"),
                _c("DDAttachment", "DDAttachment_FILES", "附件"),
            ],
            icon="expense",
            dir_name="财务",
            gmt_create_ms=created,
        ),
        Template(
            code(),
            "出差",
            "trip",
            [
                _c("TextField", "TextField_CITY", "出差地点", required=True),
                _c("DDDateRangeField", "DDDateRangeField_TRIP", '["开始时间","结束时间"]'),
                _c("NumberField", "NumberField_TRIPDAYS", "出差天数"),
                _c("InnerContactField", "InnerContactField_PEERS", "同行人"),
                _c("TextareaField", "TextareaField_PURPOSE", "出差事由"),
            ],
            icon="trip",
            gmt_create_ms=created,
        ),
        Template(
            code(),
            "采购",
            "purchase",
            [
                _c("TextField", "TextField_SUBJECT", "采购事由", required=True),
                _c(
                    "DDSelectField",
                    "DDSelectField_PTYPE",
                    "采购类型",
                    options=["办公用品", "设备", "软件服务"],
                ),
                _c(
                    "TableField",
                    "TableField_ITEMS",
                    "采购明细",
                    children=[
                        _c("TextField", "TextField_ITEM", "名称"),
                        _c("NumberField", "NumberField_QTY", "数量"),
                        _c("MoneyField", "MoneyField_PRICE", "单价（元）"),
                    ],
                ),
                _c("MoneyField", "MoneyField_PTOTAL", "总价（元）"),
                _c("DDDateField", "DDDateField_DELIVERY", "期望交付日期"),
            ],
            icon="procurement",
            dir_name="行政",
            gmt_create_ms=created,
        ),
        Template(
            code(),
            "加班",
            "overtime",
            [
                _c("DDDateField", "DDDateField_OTSTART", "开始时间", required=True),
                _c("DDDateField", "DDDateField_OTEND", "结束时间", required=True),
                _c("NumberField", "NumberField_HOURS", "时长（小时）"),
                _c("TextareaField", "TextareaField_OTREASON", "加班原因"),
            ],
            icon="overtime",
            gmt_create_ms=created,
        ),
    ]
