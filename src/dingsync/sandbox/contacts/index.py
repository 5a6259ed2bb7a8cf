"""Precomputed directory lookups (:class:`DirectoryIndex`) so that no request scans the whole
company, and the user fields every user answer shares.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from dingsync.sandbox.company import (
    Company,
    Leaver,
    Role,
    RoleGroup,
    User,
)


class DirectoryIndex:
    """Precomputed lookups so that no request scans the whole company.

    ``children[d]``: child ids sorted by ``(order, dept_id)``; ``members[d]``: userids sorted by
    ``(order in d, userid)``; ``ancestors[d]``: ``[d, parent, …, 1]``; ``by_mobile`` and
    ``by_unionid``: userid lookups; ``leavers_by_time``: leavers by ``(leave_time, userid)``.
    Build a new index after changing the company.
    """

    def __init__(self, company: Company) -> None:
        self.company = company
        depts = company.departments
        children: dict[int, list[int]] = {d: [] for d in depts}
        for dept in depts.values():
            if dept.parent_id is not None:
                children[dept.parent_id].append(dept.dept_id)
        for kids in children.values():
            kids.sort(key=lambda d: (depts[d].order, d))
        self.children = children
        self.ancestors: dict[int, list[int]] = {d: company.ancestors(d) for d in depts}
        pairs: dict[int, list[tuple[int, str]]] = {d: [] for d in depts}
        for user in company.users.values():
            for m in user.memberships:
                pairs[m.dept_id].append((m.order, user.userid))
        self.members = {d: [uid for _, uid in sorted(p)] for d, p in pairs.items()}
        self.by_mobile = {u.mobile: u.userid for u in company.users.values()}
        self.by_unionid = {u.unionid: u.userid for u in company.users.values()}
        self.leavers_by_time: list[Leaver] = sorted(
            company.leavers.values(), key=lambda lv: (lv.leave_time, lv.userid)
        )
        self.leave_times = [lv.leave_time for lv in self.leavers_by_time]
        self.leavers_newest_first = self.leavers_by_time[::-1]
        self.active_count = sum(1 for u in company.users.values() if u.active)
        self._user_detail: dict[str, dict[str, Any]] = {}
        self._list_item: dict[str, dict[str, Any]] = {}
        self._roles_of: dict[str, list[dict[str, Any]]] | None = None
        self._roles_by_id: dict[int, tuple[RoleGroup, Role]] | None = None
        self._role_members: dict[int, list[dict[str, Any]]] = {}

    def descendants(self, dept_id: int) -> list[int]:
        """Every department below ``dept_id`` (not itself), breadth first."""
        out: list[int] = []
        queue = deque(self.children[dept_id])
        while queue:
            d = queue.popleft()
            out.append(d)
            queue.extend(self.children[d])
        return out

    def roles(self, user: User) -> list[dict[str, Any]]:
        """``role_list`` of ``/topapi/v2/user/get``: ``[{id, name, group_name}]`` of every role
        the user holds (the 默认 roles from admin, boss and head status, then custom roles)."""
        if self._roles_of is None:
            self._roles_of = {
                uid: [{"id": r.role_id, "name": r.name, "group_name": g.name} for g, r in held]
                for uid, held in self.company.roles_of_users().items()
            }
        return self._roles_of.get(user.userid, [])

    # -- roles (/topapi/role/*) ----------------------------------------------------------------
    def role_group_items(self) -> list[dict[str, Any]]:
        """``/topapi/role/list`` items in order: ``[{groupId, name, roles: [{id, name}]}]``."""
        return [
            {
                "groupId": g.group_id,
                "name": g.name,
                "roles": [{"id": r.role_id, "name": r.name} for r in g.roles],
            }
            for g in self.company.role_groups
        ]

    def role(self, role_id: int) -> tuple[RoleGroup, Role] | None:
        """The role ``role_id`` with its group, or ``None``."""
        if self._roles_by_id is None:
            self._roles_by_id = self.company.roles_by_id()
        return self._roles_by_id.get(role_id)

    def role_member_items(self, role_id: int) -> list[dict[str, Any]]:
        """``/topapi/role/simplelist`` items of a known role (cached): ``[{name, userid,
        manageScopes: [{dept_id, name}]}]`` — ``manageScopes`` is ``[]`` for the whole company."""
        cached = self._role_members.get(role_id)
        if cached is None:
            found = self.role(role_id)
            assert found is not None
            users = self.company.users
            depts = self.company.departments
            cached = [
                {
                    "name": users[m.userid].name,
                    "userid": m.userid,
                    "manageScopes": [
                        {"dept_id": d, "name": depts[d].name} for d in m.manage_scopes
                    ],
                }
                for m in self.company.role_members(found[1])
            ]
            self._role_members[role_id] = cached
        return cached

    def user_detail(self, userid: str) -> dict[str, Any]:
        """The ``result`` of ``/topapi/v2/user/get`` (cached; keys sorted like real answers)."""
        cached = self._user_detail.get(userid)
        if cached is None:
            user = self.company.users[userid]
            body = _common_user_fields(user)
            body["dept_order_list"] = user.dept_order_list
            body["leader_in_dept"] = user.leader_in_dept
            body["real_authed"] = user.real_authed
            body["senior"] = user.senior
            if user.manager_userid:
                body["manager_userid"] = user.manager_userid
            roles = self.roles(user)
            if roles:
                body["role_list"] = roles
            cached = dict(sorted(body.items()))
            self._user_detail[userid] = cached
        return cached

    def list_item(self, userid: str, dept_id: int) -> dict[str, Any]:
        """One ``/topapi/v2/user/list`` item: ``dept_order``/``leader`` relative to ``dept_id``."""
        base = self._list_item.get(userid)
        user = self.company.users[userid]
        if base is None:
            base = _common_user_fields(user)
            self._list_item[userid] = base
        m = user.membership(dept_id)
        item = dict(base)
        item["dept_order"] = m.order if m else 0
        item["leader"] = bool(m and m.leader)
        return item


def _common_user_fields(user: User) -> dict[str, Any]:
    """Fields shared by ``user/get`` and ``user/list`` items; unset optional fields omitted."""
    body: dict[str, Any] = {
        "userid": user.userid,
        "unionid": user.unionid,
        "name": user.name,
        "avatar": user.avatar,
        "state_code": user.state_code,
        "mobile": user.mobile,
        "hide_mobile": user.hide_mobile,
        "dept_id_list": user.dept_id_list,
        "active": user.active,
        "admin": user.admin,
        "boss": user.boss,
        "exclusive_account": user.exclusive_account,
    }
    optional = {
        "telephone": user.telephone,
        "job_number": user.job_number,
        "title": user.title,
        "email": user.email,
        "org_email": user.org_email,
        "work_place": user.work_place,
        "remark": user.remark,
        "extension": user.extension,
        "hired_date": user.hired_date,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return body
