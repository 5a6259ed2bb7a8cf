"""Deterministic generation of approval instances from the company, the seed, ``days`` of history
ending at ``anchor_ms`` and a density (:func:`generate_approvals`); leave instances line up
with the attendance area's leave periods when it offers them.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC
from typing import TYPE_CHECKING, Any

from dingsync.sandbox.approvals.limits import DEFAULT_DENSITY
from dingsync.sandbox.approvals.templates import Template, build_templates
from dingsync.sandbox.approvals.world import (
    MINUTE_MS,
    SECOND_MS,
    STATES,
    ApprovalWorld,
    Instance,
)
from dingsync.timeutil import (
    DAY_MS,
    format_ms,
    midnight_ms,
)

if TYPE_CHECKING:
    from dingsync.sandbox.company import Company


REMARKS = ("同意", "请尽快处理", "已核对", "预算内，同意", "")
REFUSE_REMARKS = ("预算不足", "材料不全，请补充", "时间冲突")
CITIES = ("上海", "北京", "深圳", "杭州", "成都", "武汉")


def approval_space_id(seed: int) -> str:
    """The company's approval DingTalk-drive space (审批钉盘空间) holding every attachment:
    one per seed, a number as DingTalk's ``spaceId`` (sent as a string in form values)."""
    return str(3_996_960_000 + seed % 100_000)


class InstanceGenerator:
    """Instance generator (one RNG; every choice goes through it, in a fixed order)."""

    def __init__(self, company: Company, seed: int) -> None:
        self.company = company
        self.rng = random.Random(f"approvals:{seed}")
        #: The seconds of every generated time: a stream of its own, so they vary (as real
        #: times do) without moving any other choice of the seed's world.
        self.seconds_rng = random.Random(f"approvals-seconds:{seed}")
        self.userids = sorted(company.users)
        self.serial = 0
        self.space_id = approval_space_id(seed)

    def second(self) -> int:
        """A random second of a minute, in ms (0 … 59,000)."""
        return self.seconds_rng.randrange(60) * SECOND_MS

    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def dept_of(self, userid: str) -> tuple[str, str]:
        user = self.company.users.get(userid)
        if user is None or not user.memberships:
            return "-1", self.company.corp_name
        dept_id = user.memberships[0].dept_id
        if dept_id == 1:
            return "-1", self.company.corp_name
        return str(dept_id), self.company.departments[dept_id].name

    def approvers_for(self, userid: str) -> list[str]:
        out: list[str] = []
        user = self.company.users.get(userid)
        if user is not None:
            for m in user.memberships:
                for head in self.company.departments[m.dept_id].dept_manager_userid_list:
                    if head != userid and head not in out:
                        out.append(head)
        extra = self.rng.randint(1, 2)
        while len(out) < extra:
            cand = self.rng.choice(self.userids)
            if cand != userid and cand not in out:
                out.append(cand)
        return out[:3]

    # -- form values -----------------------------------------------------------------------
    def form(
        self, tpl: Template, create_ms: int, leave: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        rng = self.rng
        values: dict[str, str] = {}
        ext: dict[str, str] = {}
        day = format_ms(create_ms, "%Y-%m-%d")
        if tpl.kind == "leave":
            if leave is not None:
                start, end = leave["start_ms"], leave["end_ms"]
                kind = leave.get("type") or "事假"
            else:
                start = create_ms + rng.randint(1, 10) * DAY_MS
                start = midnight_ms(start, UTC) + 1 * 3_600_000  # 09:00 GMT+8
                end = start + rng.randint(1, 3) * 9 * 3_600_000
                kind = rng.choice(tpl.components[0].options)
            hours = leave.get("hours") if leave is not None else None
            if hours:
                days = max(0.5, round(hours / 8 * 2) / 2)
            else:
                days = max(0.5, round((end - start) / DAY_MS * 2) / 2)
            values = {
                "DDSelectField_LEAVETYPE": kind,
                "DDDateField_START": format_ms(start, "%Y-%m-%d %H:%M"),
                "DDDateField_END": format_ms(end, "%Y-%m-%d %H:%M"),
                "NumberField_DAYS": f"{days:g}",
                "TextareaField_REASON": rng.choice(("家中有事", "身体不适", "回老家", "")),
            }
        elif tpl.kind == "expense":
            rows = []
            total = 0.0
            for _ in range(rng.randint(1, 4)):
                amount = round(rng.uniform(10, 2000), 2)
                total += amount
                rows.append(
                    [
                        {"name": "费用类型", "value": rng.choice(("交通", "餐饮", "住宿", "办公"))},
                        {"name": "金额（元）", "value": f"{amount:.2f}"},
                        {"name": "日期", "value": day},
                    ]
                )
            photos = [
                f"https://static.dingtalk.com/media/receipt_{self.rng.getrandbits(32):08x}.jpg"
                for _ in range(rng.randint(0, 2))
            ]
            files = [
                {
                    "spaceId": self.space_id,
                    "fileName": f"发票{i + 1}.pdf",
                    "fileSize": str(rng.randint(10_000, 900_000)),
                    "fileType": "pdf",
                    "fileId": str(rng.randint(10**9, 10**10)),
                }
                for i in range(rng.randint(0, 2))
            ]
            values = {
                "MoneyField_TOTAL": f"{total:.2f}",
                "TableField_DETAIL": json.dumps(rows, ensure_ascii=False),
                "TextNote_HINT": "",
                "DDPhotoField_RECEIPT": json.dumps(photos),
                "DDAttachment_FILES": json.dumps(files, ensure_ascii=False),
            }
            ext["TableField_DETAIL"] = json.dumps(
                {"statValue": [{"label": "金额（元）", "num": f"{total:.2f}"}]},
                ensure_ascii=False,
            )
        elif tpl.kind == "trip":
            start = create_ms + rng.randint(1, 7) * DAY_MS
            n = rng.randint(1, 5)
            peers = sorted(rng.sample(self.userids, k=min(len(self.userids), rng.randint(0, 2))))
            values = {
                "TextField_CITY": rng.choice(CITIES),
                "DDDateRangeField_TRIP": json.dumps(
                    [format_ms(start, "%Y-%m-%d"), format_ms(start + (n - 1) * DAY_MS, "%Y-%m-%d")]
                ),
                "NumberField_TRIPDAYS": str(n),
                "InnerContactField_PEERS": json.dumps(peers),
                "TextareaField_PURPOSE": rng.choice(("拜访客户", "参加会议", "项目实施")),
            }
        elif tpl.kind == "purchase":
            rows = []
            total = 0.0
            for _ in range(rng.randint(1, 3)):
                qty = rng.randint(1, 20)
                price = round(rng.uniform(5, 3000), 2)
                total += qty * price
                rows.append(
                    [
                        {"name": "名称", "value": rng.choice(("显示器", "键盘", "笔记本", "A4纸"))},
                        {"name": "数量", "value": str(qty)},
                        {"name": "单价（元）", "value": f"{price:.2f}"},
                    ]
                )
            values = {
                "TextField_SUBJECT": rng.choice(("部门办公用品", "新员工设备", "年度订阅")),
                "DDSelectField_PTYPE": rng.choice(("办公用品", "设备", "软件服务")),
                "TableField_ITEMS": json.dumps(rows, ensure_ascii=False),
                "MoneyField_PTOTAL": f"{total:.2f}",
                "DDDateField_DELIVERY": format_ms(
                    create_ms + rng.randint(3, 30) * DAY_MS, "%Y-%m-%d"
                ),
            }
        else:  # overtime
            start = midnight_ms(create_ms, UTC) + 10 * 3_600_000  # 18:00 GMT+8
            hours = rng.randint(1, 4)
            values = {
                "DDDateField_OTSTART": format_ms(start, "%Y-%m-%d %H:%M"),
                "DDDateField_OTEND": format_ms(start + hours * 3_600_000, "%Y-%m-%d %H:%M"),
                "NumberField_HOURS": str(hours),
                "TextareaField_OTREASON": rng.choice(("版本发布", "客户支持", "赶工期")),
            }
        out = []
        for comp in tpl.components:
            item: dict[str, Any] = {
                "id": comp.id,
                "name": comp.label,
                "value": values.get(comp.id, ""),
                "component_type": comp.component_name,
            }
            if comp.id in ext:
                item["ext_value"] = ext[comp.id]
            out.append(item)
        return out

    # -- one instance ----------------------------------------------------------------------
    def new_task(
        self, tpl: Template, userid: str, i: int, status: str, create_ms: int | None
    ) -> dict[str, Any]:
        """Approver ``i``'s task: ``result`` ``None`` until decided (DingTalk sends a result
        only for a decided task, approvals.md §10), ``create_time`` ``None`` until reached."""
        return {
            "taskid": 60_000_000 + self.serial * 10 + i,
            "userid": userid,
            "create_time": create_ms,
            "activity_id": f"node_{tpl.kind}_{i + 1}",
            "status": status,
            "result": None,
        }

    def instance(
        self,
        tpl: Template,
        originator: str,
        create_ms: int,
        state: tuple[str, str],
        now_ms: int,
        leave: dict[str, Any] | None = None,
    ) -> Instance:
        rng = self.rng
        status, result = state
        dept_id, dept_name = self.dept_of(originator)
        approvers = self.approvers_for(originator)
        cc = sorted({rng.choice(self.userids) for _ in range(rng.randint(0, 2))} - {originator})
        self.serial += 1
        pid = self.uuid()
        t = create_ms
        tasks: list[dict[str, Any]] = []
        records: list[dict[str, Any]] = [
            {"userid": originator, "date": t, "type": "START_PROCESS_INSTANCE", "result": "NONE"}
        ]
        finish: int | None = None
        if status == "RUNNING":
            done = rng.randint(0, len(approvers) - 1)
        elif status == "COMPLETED":
            done = len(approvers) if result == "agree" else rng.randint(1, len(approvers))
        else:
            done = rng.randint(0, len(approvers) - 1)
        for i, userid in enumerate(approvers):
            if i > done or (i == done and status == "COMPLETED"):
                if status == "RUNNING":  # not reached yet: NEW, no time, no result
                    tasks.append(self.new_task(tpl, userid, i, "NEW", None))
                continue  # a finished instance never created the tasks it did not reach
            task = self.new_task(tpl, userid, i, "RUNNING", t)
            if i < done:
                t += rng.randint(5, 24 * 60) * MINUTE_MS + self.second()
                refuse = status == "COMPLETED" and result == "refuse" and i == done - 1
                task.update(
                    status="COMPLETED", result="REFUSE" if refuse else "AGREE", finish_time=t
                )
                remark = rng.choice(REFUSE_REMARKS) if refuse else rng.choice(REMARKS)
                rec: dict[str, Any] = {
                    "userid": userid,
                    "date": t,
                    "type": "EXECUTE_TASK_NORMAL",
                    "result": "REFUSE" if refuse else "AGREE",
                    "activity_id": task["activity_id"],
                }
                if remark:
                    rec["remark"] = remark
                if rng.random() < 0.1:
                    rec["attachments"] = [
                        {
                            "file_name": "说明.docx",
                            "file_size": "20480",
                            "file_id": str(rng.randint(10**9, 10**10)),
                            "file_type": "docx",
                            "space_id": self.space_id,
                        }
                    ]
                records.append(rec)
                if refuse:
                    finish = t
            elif status == "RUNNING":  # the approver it waits for
                if rng.random() < 0.3:
                    records.append(
                        {
                            "userid": originator,
                            "date": t + 10 * MINUTE_MS + self.second(),
                            "type": "ADD_REMARK",
                            "result": "NONE",
                            "remark": "麻烦尽快审批，谢谢",
                        }
                    )
            tasks.append(task)
        if status == "COMPLETED" and result == "agree":
            finish = t
        if status in ("TERMINATED", "CANCELED"):
            t += rng.randint(5, 600) * MINUTE_MS + self.second()
            finish = t
            tasks[-1].update(status="CANCELED", finish_time=t)  # withdrawn while it waited
            records.append(
                {
                    "userid": originator,
                    "date": t,
                    "type": "TERMINATE_PROCESS_INSTANCE",
                    "result": "NONE",
                    "remark": "撤销",
                }
            )
        if finish is not None and cc and status == "COMPLETED":
            records.append(
                {"userid": originator, "date": finish, "type": "PROCESS_CC", "result": "NONE"}
            )
        _not_after(now_ms - now_ms % SECOND_MS, records, tasks)
        if finish is not None:  # a finish in the future is not yet a finish
            finish = min(finish, now_ms - now_ms % SECOND_MS)
        name = (
            self.company.users[originator].name if originator in self.company.users else originator
        )
        return Instance(
            process_instance_id=pid,
            process_code=tpl.process_code,
            title=f"{name}提交的{tpl.name}",
            business_id=format_ms(create_ms, "%Y%m%d%H%M") + f"{self.serial % 1_000_000:06d}",
            originator_userid=originator,
            originator_dept_id=dept_id,
            originator_dept_name=dept_name,
            create_ms=create_ms,
            finish_ms=finish,
            status=status,
            result=result,
            form=self.form(tpl, create_ms, leave),
            tasks=tasks,
            records=records,
            cc_userids=cc,
            approver_userids=list(approvers),
        )


def _not_after(cap: int, records: list[dict[str, Any]], tasks: list[dict[str, Any]]) -> None:
    """Pull every record date and task time later than ``cap`` (now) back to ``cap``."""
    for r in records:
        r["date"] = min(r["date"], cap)
    for tk in tasks:
        for key in ("create_time", "finish_time"):
            if tk.get(key) is not None:
                tk[key] = min(tk[key], cap)


def _pick_state(rng: random.Random, create_ms: int, anchor_ms: int) -> tuple[str, str]:
    recent = anchor_ms - create_ms < 3 * DAY_MS
    x = rng.random()
    if recent and x < 0.5:
        return STATES[0]
    x = rng.random()
    if x < 0.70:
        return STATES[1]
    if x < 0.82:
        return STATES[2]
    if x < 0.90:
        return STATES[3]
    if x < 0.95:
        return STATES[4]
    return STATES[0]


def leave_periods(attendance: Any) -> list[dict[str, Any]] | None:
    """Leave periods offered by the attendance area (``leaves``), as ``{userid, start_ms,
    end_ms, type}``; ``None`` when there is none. Accepts objects or dicts with common names."""
    leaves = getattr(attendance, "leaves", None) if attendance is not None else None
    if leaves is None:
        return None
    if isinstance(leaves, dict):
        leaves = [x for v in leaves.values() for x in (v if isinstance(v, list) else [v])]

    def get(item: Any, *names: str) -> Any:
        for n in names:
            v = item.get(n) if isinstance(item, dict) else getattr(item, n, None)
            if v is not None:
                return v
        return None

    out = []
    for item in leaves:
        userid = get(item, "userid", "user_id", "userId")
        start = get(item, "start_ms", "start_time", "begin_ms", "start")
        end = get(item, "end_ms", "end_time", "finish_ms", "end")
        if userid is None or start is None or end is None:
            continue
        try:
            start_ms, end_ms = int(start), int(end)
        except (TypeError, ValueError):
            continue
        kind = get(item, "leave_type", "leave_name", "type", "name")
        pid = get(item, "proc_inst_id", "process_instance_id", "procInstId")
        hours = get(item, "hours", "duration_hours")
        out.append(
            {
                "userid": str(userid),
                "start_ms": start_ms,
                "end_ms": end_ms,
                "type": str(kind) if kind else None,
                "pid": str(pid) if pid else None,
                "hours": float(hours) if hours is not None else None,
            }
        )
    return out


def generate_approvals(
    company: Company,
    seed: int,
    days: int,
    anchor_ms: int,
    per_user_day: float = DEFAULT_DENSITY,
    *,
    leaves: list[dict[str, Any]] | None = None,
) -> ApprovalWorld:
    """Generate the approval world: about ``users × days × per_user_day`` instances started in
    the ``days`` before ``anchor_ms``, spread over the five templates, each in one of the states
    (the first five of each template cover every state). With ``leaves`` (from attendance),
    every leave period becomes an approved leave instance started a day or two before it."""
    templates = build_templates(seed, anchor_ms)
    gen = InstanceGenerator(company, seed)
    rng = gen.rng
    world = ApprovalWorld(templates, {}, {t.process_code: [] for t in templates})
    if not gen.userids:
        return world
    start_ms = anchor_ms - days * DAY_MS
    start_ms -= start_ms % MINUTE_MS
    total = max(len(templates) * len(STATES), round(len(gen.userids) * days * per_user_day))
    weights = {"leave": 0.25, "expense": 0.3, "trip": 0.15, "purchase": 0.1, "overtime": 0.2}
    if leaves is not None:
        weights["leave"] = 0.05
    made: Counter[str] = Counter()
    for n in range(total):
        tpl = (
            templates[n % len(templates)]
            if n < len(templates) * len(STATES)
            else rng.choices(templates, [weights[t.kind] for t in templates])[0]
        )
        k = made[tpl.kind]
        made[tpl.kind] += 1
        create = start_ms + rng.randrange(0, days * DAY_MS // MINUTE_MS) * MINUTE_MS + gen.second()
        state = STATES[k] if k < len(STATES) else _pick_state(rng, create, anchor_ms)
        originator = rng.choice(gen.userids)
        world.add(gen.instance(tpl, originator, create, state, anchor_ms))
    if leaves:
        leave_tpl = templates[0]
        for period in sorted(leaves, key=lambda p: (p["start_ms"], p["userid"])):
            if period["userid"] not in company.users:
                continue
            create = period["start_ms"] - rng.randint(1, 2) * DAY_MS
            create = max(create - create % MINUTE_MS + gen.second(), start_ms)
            inst = gen.instance(
                leave_tpl, period["userid"], create, STATES[1], anchor_ms, leave=period
            )
            if period.get("pid") and period["pid"] not in world.instances:
                inst.process_instance_id = period["pid"]  # the id attendance shows
            world.add(inst)
    return world
