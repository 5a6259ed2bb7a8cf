"""The text pools generated reports and comments draw from, and the helpers that fill them."""

from __future__ import annotations

import random

TEMPLATES: list[tuple[str, int, bool, list[tuple[str, bool]]]] = [
    ("日报", 20, False, [("今日完成工作", False), ("未完成工作", False), ("需协调工作", False),
                          ("备注", False)]),
    ("周报", 22, True, [("本周完成工作", False), ("本周工作总结", False), ("下周工作计划", False),
                         ("需协调与帮助", False)]),
    ("销售日报", 25, False, [("今日拜访客户数", True), ("新增线索数", True),
                              ("签约金额（元）", True), ("今日工作总结", False),
                              ("明日工作计划", False)]),
    ("项目周报", 16, True, [("项目名称", False), ("本周进展", False), ("完成度（%）", True),
                             ("任务明细", False), ("风险与问题", False), ("下周计划", False)]),
]  # fmt: skip

#: The table (表格) field of 项目周报: its content never reaches the API.
TABLE_FIELD = "任务明细"

_DONE = [
    "完成{m}模块的接口联调，修复了{n}个缺陷",
    "与{c}沟通需求细节，整理会议纪要并同步给团队",
    "编写{m}的单元测试，覆盖率提升到{p}%",
    "拜访{c}，介绍新版产品方案，对方反馈积极",
    "整理本月{m}数据报表，提交给部门主管审核",
    "参加{m}项目周会，跟进上周遗留问题",
    "完成{n}份合同的审核与归档 📄",
    "优化{m}页面加载速度，首屏时间缩短{p}%",
    "处理客户工单{n}个，全部在当天闭环 ✅",
    "组织新人培训，讲解{m}的使用流程",
]

_TODO = [
    "{m}模块的性能测试还未完成，预计明天完成",
    "等待{c}确认报价单",
    "{m}文档还需补充示例",
    "无",
    "部分缺陷需要下个版本修复",
]

_HELP = ["需要测试同事协助回归{m}", "需要财务确认{c}的付款节点", "无", "", "希望协调会议室资源"]

_PLAN = [
    "继续推进{m}开发，完成联调",
    "回访{c}，推动合同签署",
    "准备季度复盘材料",
    "跟进{n}个重点客户的需求",
    "完成{m}的上线准备工作 🚀",
]

_MODULES = [
    "订单",
    "支付",
    "会员",
    "库存",
    "报表",
    "审批",
    "考勤",
    "客户管理",
    "数据看板",
    "消息推送",
]

_CUSTOMERS = [
    "华东区客户",
    "杭州云帆科技",
    "上海明远贸易",
    "深圳恒信电子",
    "北京智联咨询",
    "成都天府物流",
]

_PROJECTS = ["新零售中台", "智慧园区", "供应链升级", "移动办公二期", "数据治理平台"]

COMMENTS = [
    "收到，辛苦了 👍",
    "不错",
    "这个问题明天会上讨论一下",
    "注意风险",
    "好的，继续保持！",
    "已阅",
]


def _variants(pool: list[str]) -> list[str]:
    """Every sentence of ``pool`` filled a few ways (fixed, so generation stays cheap)."""
    rng = random.Random(0)
    return [
        text.format(
            m=rng.choice(_MODULES),
            c=rng.choice(_CUSTOMERS),
            n=rng.randint(1, 9),
            p=rng.randint(5, 60),
        )
        for text in pool
        for _ in range(12)
    ]


_FILLED: dict[int, list[str]] = {}


def _fill(rng: random.Random, pool: list[str]) -> str:
    filled = _FILLED.get(id(pool))
    if filled is None:
        filled = _FILLED[id(pool)] = _variants(pool)
    return filled[int(rng.random() * len(filled))]


def _text(rng: random.Random, pool: list[str], lines: int) -> str:
    count = rng.randint(1, lines)
    if count == 1:
        return _fill(rng, pool)
    return "\n".join(f"{i + 1}. {_fill(rng, pool)}" for i in range(count))


def field_value(rng: random.Random, tpl: str, fname: str) -> str:
    if fname == "今日拜访客户数":
        return str(rng.randint(0, 8))
    if fname == "新增线索数":
        return str(rng.randint(0, 5))
    if fname == "签约金额（元）":
        return "0" if rng.random() < 0.6 else f"{rng.randint(1, 500) * 100}"
    if fname == "完成度（%）":
        return str(rng.randint(10, 100))
    if fname == TABLE_FIELD:
        return "[表格]"  # a table field: report/list gives only this placeholder
    if fname == "项目名称":
        return rng.choice(_PROJECTS)
    if fname in ("未完成工作",):
        return _fill(rng, _TODO)
    if fname in ("需协调工作", "需协调与帮助", "风险与问题"):
        return _fill(rng, _HELP)
    if fname == "备注":
        return rng.choice(["", "", "今天状态不错 😄", "外出半天", "无"])
    if "计划" in fname:
        return _text(rng, _PLAN, 3)
    return _text(rng, _DONE, 4 if tpl in ("周报", "项目周报") else 3)


def long_text(rng: random.Random, length: int) -> str:
    """A numbered list of done items at least ``length`` characters long (a text DingTalk's
    ``report/list`` cuts at 1,000 characters)."""
    lines: list[str] = []
    while sum(len(x) + 1 for x in lines) < length:
        lines.append(f"{len(lines) + 1}. {_fill(rng, _DONE)}")
    return "\n".join(lines)
