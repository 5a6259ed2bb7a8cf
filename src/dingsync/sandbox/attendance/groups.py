"""Handlers of attendance groups (考勤组): simple groups, members, minimalism list, query, search,
a person's group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dingsync.sandbox.attendance.limits import (
    ERR_PARAM,
    GROUPS_MAX_SIZE,
    MEMBERS_PAGE,
    MINIMALISM_PAGE,
)
from dingsync.sandbox.attendance.state import AttendanceState
from dingsync.sandbox.attendance.wire import class_json, punch_place
from dingsync.sandbox.attendance.world import Group
from dingsync.sandbox.wire import OapiError

if TYPE_CHECKING:
    from dingsync.sandbox.call import Call


class GroupHandlers(AttendanceState):
    """Attendance groups and their members."""

    # -- groups ----------------------------------------------------------------------------------
    def getsimplegroups(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/getsimplegroups {offset, size ≤ 10}``."""
        p = call.params
        offset = p.integer("offset", lo=0, default=0)
        size = p.integer("size", lo=1, hi=GROUPS_MAX_SIZE, default=GROUPS_MAX_SIZE)
        assert offset is not None and size is not None
        return {
            "result": {
                "groups": self.simple_groups(offset, size),
                "has_more": offset + size < len(self.world.groups),
            }
        }

    def simple_groups(self, offset: int, size: int) -> list[dict[str, Any]]:
        """The ``getsimplegroups`` group records (snake_case) of ``groups[offset:offset+size]``."""
        admin = self.state.company.main_admin_userid
        out = []
        for g in self.world.groups[offset : offset + size]:
            s = g.shift
            work = [str(s.class_id)] * 7
            work[0] = work[6] = "0"
            on = f"{s.on_minute // 60:02d}:{s.on_minute % 60:02d}"
            off = f"{s.off_minute // 60:02d}:{s.off_minute % 60:02d}"
            off_text = f"次日{off}" if s.across else off
            out.append(
                {
                    "classes_list": [
                        f"周一、二、三、四、五 {s.name} {on}-{off_text} ",
                        "周六、日 休息",
                    ],
                    "default_class_id": s.class_id,
                    "dept_name_list": [],
                    "group_id": g.group_id,
                    "group_name": g.name,
                    "is_default": g.group_id == 600001,
                    "manager_list": list(g.managers),
                    "member_count": len(g.members),
                    "owner_user_id": admin,
                    "selected_class": [class_json(s)],
                    "type": "FIXED",
                    "work_day_list": work,
                    "enable_emp_select_class": False,
                    "disable_check_without_schedule": False,
                    "disable_check_when_rest": True,
                }
            )
        return out

    def group_members(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/group/memberusers/list {op_user_id, group_id, cursor}``."""
        p = call.params
        p.text("op_user_id", required=True)
        group_id = p.integer("group_id", required=True)
        cursor = p.integer("cursor", lo=0, default=0)
        assert cursor is not None
        group = self.world.groups_by_id.get(int(group_id or 0))
        if group is None:
            raise OapiError(ERR_PARAM, "考勤组不存在")
        page = group.members[cursor : cursor + MEMBERS_PAGE]
        more = cursor + MEMBERS_PAGE < len(group.members)
        result: dict[str, Any] = {"has_more": more, "result": page}
        if more:
            result["cursor"] = cursor + MEMBERS_PAGE
        return {"result": result, "success": True}

    # -- groups, schedules and holidays beyond the sync's needs (attendance.md §4.1, §6–§8) -------
    def _group_for(self, userid: str) -> Group | None:
        """The person's attendance group without side effects (``None``: in no group)."""
        for day in self.world.by_user.get(userid, {}).values():
            return day.group
        for g in self.world.groups:
            if userid in g.members:
                return g
        return None

    def _group_or_error(self, group_id: int | None) -> Group:
        group = self.world.groups_by_id.get(int(group_id or 0))
        if group is None:
            raise OapiError(ERR_PARAM, "考勤组不存在")
        return group

    def group_minimalism(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/group/minimalism/list {op_user_id, cursor?}``: group
        summaries ``result.result[{id, name}]`` in group-id order, 100 a page; ``cursor`` is the
        last id of the page (as in the sample), the next page starts after it."""
        p = call.params
        p.text("op_user_id", required=True)
        cursor = p.integer("cursor", lo=0, default=0)
        assert cursor is not None
        ordered = sorted(self.world.groups, key=lambda g: g.group_id)
        rest = [g for g in ordered if g.group_id > cursor] if cursor else ordered
        page = rest[:MINIMALISM_PAGE]
        result: dict[str, Any] = {
            "has_more": len(rest) > MINIMALISM_PAGE,
            "result": [{"id": g.group_id, "name": g.name} for g in page],
        }
        if page:
            result["cursor"] = page[-1].group_id
        return {"result": result, "success": True}

    def group_query(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/group/query {op_user_id, group_id}``: one group —
        ``result{id, name, type, member_count, manager_list (comma-separated userids),
        owner_user_id, shift_ids[], work_day_list[7 numbers, Sunday..Saturday, 0 = rest, else
        the class id], address_list[], wifis[]}``. Unknown group → 400002."""
        p = call.params
        p.text("op_user_id", required=True)
        group = self._group_or_error(p.integer("group_id", required=True))
        s = group.shift
        work = [s.class_id] * 7
        work[0] = work[6] = 0
        return {
            "result": {
                "id": group.group_id,
                "name": group.name,
                "type": "FIXED",
                "member_count": len(group.members),
                "manager_list": ",".join(group.managers),
                "owner_user_id": self.state.company.main_admin_userid,
                "shift_ids": [s.class_id],
                "work_day_list": work,
                "address_list": [punch_place("Normal")[0]],
                "wifis": [],
            },
            "success": True,
        }

    def group_search(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/group/search {op_user_id, group_name}``: groups whose name
        contains ``group_name``, ``result[{id, name}]`` (empty list when none)."""
        p = call.params
        p.text("op_user_id", required=True)
        name = p.text("group_name", required=True) or ""
        found = [
            {"id": g.group_id, "name": g.name}
            for g in sorted(self.world.groups, key=lambda g: g.group_id)
            if name in g.name
        ]
        return {"result": found, "success": True}

    def getusergroup(self, call: Call) -> dict[str, Any]:
        """``POST /topapi/attendance/getusergroup {userid}``: the person's group with its
        classes ``result{group_id, name, type, classes[{class_id, name, sections[].times[]
        {across, check_time "1970-01-01 HH:mm:ss", check_type}, setting{}}]}`` (the sample has
        no ``success``). Out of the data scope → 50002; not in the company → 60121; a person in
        no group (not activated) → ``type`` ``NONE`` with no classes."""
        userid = call.params.text("userid", required=True)
        assert userid is not None
        self.state.require_data_scope(userid)
        if userid not in self.state.company.users:
            raise OapiError(60121, "找不到该用户")
        group = self._group_for(userid)
        if group is None:
            return {"result": {"classes": [], "group_id": 0, "name": "", "type": "NONE"}}
        klass = class_json(group.shift)
        return {
            "result": {
                "classes": [
                    {
                        "class_id": klass["class_id"],
                        "name": klass["class_name"],
                        "sections": klass["sections"],
                        "setting": {},
                    }
                ],
                "group_id": group.group_id,
                "name": group.name,
                "type": "FIXED",
            }
        }
