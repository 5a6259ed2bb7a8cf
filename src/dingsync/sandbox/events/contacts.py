"""Contacts mutations: hire, move, modify, leave, rejoin, create a department, add or remove an
administrator, or a random mix — each changes the company in place and emits its event.
"""

from __future__ import annotations

import uuid
from typing import Any

from dingsync.sandbox.company import (
    ROOT_DEPT_ID,
    Department,
    Leaver,
    LeaverDepartment,
    Membership,
    User,
)
from dingsync.sandbox.events.bodies import ALL_KINDS, BODIES, MUTATION_KINDS, MutationRefused
from dingsync.sandbox.events.dispatch import Dispatcher
from dingsync.sandbox.events.event import SandboxEvent
from dingsync.sandbox.mutations import (
    MutationConflict,
    fields_of,
    unknown,
    validate,
)
from dingsync.timeutil import WIRE_TZ, midnight_ms


class ContactMutations(Dispatcher):
    """Mutate the directory and emit the matching event."""

    def mutate(self, kind: str, data: dict[str, Any] | None = None) -> SandboxEvent:
        """Apply one mutation of ``kind`` (see the module docstring) with the JSON body
        ``data``. Raises :class:`~dingsync.sandbox.mutations.BadMutation` (400) for a malformed
        body, :class:`~dingsync.sandbox.mutations.UnknownEntity` (404, a ``KeyError``) for an
        unknown id, :class:`~dingsync.sandbox.mutations.MutationConflict` (409, a
        ``ValueError``) when it cannot apply, :class:`MutationRefused` (400) when DingTalk
        would refuse it."""
        if kind not in ALL_KINDS:
            raise KeyError(kind)
        fields = fields_of(validate(BODIES[kind], data or {}))
        fn = getattr(self, f"_m_{kind}")
        with self.state.lock:
            ev_fields, event_type = fn(fields)
            self.state.reindex()
        self.counters[f"mutations_{kind}"] += 1
        return self.emit(event_type, ev_fields)

    def mutate_random(self, kinds: list[str] | None = None) -> SandboxEvent | None:
        """One random mutation among ``kinds`` (default the contacts kinds, weighted towards
        moves and edits; the admin kinds only when named)."""
        weights = {
            "hire": 3,
            "move": 4,
            "modify": 4,
            "leave": 2,
            "rejoin": 1,
            "create_department": 1,
            "admin_add": 1,
            "admin_remove": 1,
        }
        pool = [k for k in (kinds or MUTATION_KINDS) if k in weights]
        for _ in range(5):
            kind = self.rng.choices(pool, weights=[weights[k] for k in pool])[0]
            try:
                return self.mutate(kind, {})
            except (ValueError, KeyError):
                continue
        return None

    # -- helpers
    def _company(self) -> Any:
        return self.state.company

    def _non_root_depts(self) -> list[int]:
        return sorted(d for d in self._company().departments if d != ROOT_DEPT_ID)

    def _movable_users(self) -> list[str]:
        """People who can move or leave without touching leader lists, admins or owners."""
        c = self._company()
        owners = {d.org_dept_owner for d in c.departments.values() if d.org_dept_owner}
        managers = {u.manager_userid for u in c.users.values() if u.manager_userid}
        handovers = {lv.handover_userid for lv in c.leavers.values() if lv.handover_userid}
        return sorted(
            u.userid
            for u in c.users.values()
            if u.userid not in c.admins
            and u.userid != c.boss_userid
            and not any(m.leader for m in u.memberships)
            and u.userid not in owners
            and u.userid not in managers
            and u.userid not in handovers
        )

    def _next_order(self, dept_id: int) -> int:
        orders = [
            m.order
            for u in self._company().users.values()
            for m in u.memberships
            if m.dept_id == dept_id
        ]
        return (max(orders) + 1) if orders else 1

    def _user_fields(self, userid: str, event_type: str) -> tuple[dict[str, Any], str]:
        return {"userId": [userid], "optStaffId": self._company().main_admin_userid}, event_type

    def _dept(self, name: str, dept_id: int) -> int:
        """``dept_id`` if the company has it, else :func:`unknown` (404, 60003)."""
        if dept_id not in self._company().departments:
            raise unknown("department", name, dept_id)
        return dept_id

    def _m_hire(self, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        c = self._company()
        if "dept_id" in data:
            dept_id = self._dept("dept_id", data["dept_id"])
        else:
            dept_id = self.rng.choice(self._non_root_depts() or [ROOT_DEPT_ID])
        n = self.counters["mutations_hire"] + 1
        if "userid" in data:
            userid = data["userid"]
            if userid in c.users:
                raise MutationConflict(f"{userid} is already employed")
            if userid in c.leavers:
                raise MutationConflict(f"{userid} left the company: bring them back with rejoin")
        else:
            userid = f"hire{self.state.config.seed}x{n:05d}"
            while userid in c.users or userid in c.leavers:
                n += 1000
                userid = f"hire{self.state.config.seed}x{n:05d}"
        now_ms = self.state.clock.now_ms()
        mobile = f"139{self.rng.randrange(10**8):08d}"
        user = User(
            userid=userid,
            unionid=uuid.UUID(int=self.rng.getrandbits(128)).hex[:28],
            name=data.get("name") or f"新员工{n}",
            avatar="",
            state_code="86",
            mobile=mobile,
            hide_mobile=False,
            job_number=f"H{n:05d}",
            title=data.get("title") or "工程师",
            hired_date=now_ms,
            active=True,
            admin=False,
            boss=False,
            senior=False,
            real_authed=True,
            exclusive_account=False,
            memberships=[Membership(dept_id, self._next_order(dept_id), False)],
        )
        c.users[userid] = user
        return self._user_fields(userid, "user_add_org")

    def _pick_user(self, data: dict[str, Any]) -> str:
        """``data["userid"]`` (an employee, else 404 60121), or a random movable person."""
        c = self._company()
        if "userid" in data:
            userid = str(data["userid"])
            if userid not in c.users:
                raise unknown("user", "userid", userid)
            return userid
        pool = self._movable_users()
        if not pool:
            raise MutationConflict("nobody can be changed")
        return self.rng.choice(pool)

    def _m_move(self, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        c = self._company()
        userid = self._pick_user(data)
        user = c.users[userid]
        current = {m.dept_id for m in user.memberships}
        if "to_dept_id" in data:
            to = self._dept("to_dept_id", data["to_dept_id"])
            if to in current:
                raise MutationConflict(f"{userid} is already a member of department {to}")
        else:
            choices = [d for d in self._non_root_depts() if d not in current]
            if not choices:
                raise MutationConflict("no department to move to")
            to = self.rng.choice(choices)
        movable = [m for m in user.memberships if not m.leader]
        if not movable:
            raise MutationConflict(f"{userid} holds only leader memberships")
        old = self.rng.choice(movable)
        order = self._next_order(to)
        user.memberships = [m for m in user.memberships if m is not old] + [
            Membership(to, order, False)
        ]
        return self._user_fields(userid, "user_modify_org")

    def _m_modify(self, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        c = self._company()
        userid = self._pick_user(data)
        user = c.users[userid]
        user.title = data.get("title") or (
            self.rng.choice(["高级工程师", "产品经理", "设计师", "运营专员", "销售经理", "架构师"])
            + f"·{self.rng.randrange(1000)}"
        )
        user.work_place = self.rng.choice(["上海", "杭州", "北京", "深圳", None])
        return self._user_fields(userid, "user_modify_org")

    def _m_leave(self, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        c = self._company()
        userid = self._pick_user(data)
        if c.admins.get(userid) == 1 and not any(
            lv == 1 for u, lv in c.admins.items() if u != userid
        ):
            raise MutationRefused("the last main administrator cannot leave; hand it over first")
        # Whoever leaves loses an administrator role and its scope with the account.
        c.admins.pop(userid, None)
        c.admin_scopes.pop(userid, None)
        user = c.users.pop(userid)
        now_ms = self.state.clock.now_ms()
        depts = user.dept_id_list or [ROOT_DEPT_ID]
        c.leavers[userid] = Leaver(
            userid=userid,
            name=user.name,
            state_code=user.state_code,
            mobile=user.mobile,
            leave_time=now_ms,
            leave_reason="leave",
            last_work_day=midnight_ms(now_ms, WIRE_TZ),
            dept_list=[LeaverDepartment(d, c.dept_path(d)) for d in depts if d in c.departments],
            main_dept_id=depts[0],
            main_dept_name=c.departments[depts[0]].name,
            reason_type=1,
            reason_memo="家庭原因",
            pre_status=3,
        )
        return self._user_fields(userid, "user_leave_org")

    def _m_rejoin(self, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        c = self._company()
        if "userid" in data:
            userid = str(data["userid"])
            if userid in c.users:
                raise MutationConflict(f"{userid} is employed: only someone who left can rejoin")
            if userid not in c.leavers:
                raise unknown("user", "userid", userid)
        else:
            pool = sorted(u for u in c.leavers if u not in c.users)
            if not pool:
                raise MutationConflict("no leaver to bring back")
            userid = self.rng.choice(pool)
        lv = c.leavers[userid]
        dept_id = lv.main_dept_id if lv.main_dept_id in c.departments else ROOT_DEPT_ID
        taken_mobiles = {u.mobile for u in c.users.values()}
        mobile = (
            lv.mobile if lv.mobile not in taken_mobiles else f"138{self.rng.randrange(10**8):08d}"
        )
        c.users[userid] = User(
            userid=userid,
            unionid=uuid.UUID(int=self.rng.getrandbits(128)).hex[:28],
            name=lv.name,
            avatar="",
            state_code=lv.state_code,
            mobile=mobile,
            hide_mobile=False,
            job_number=None,
            title="返聘",
            hired_date=self.state.clock.now_ms(),
            active=True,
            admin=False,
            boss=False,
            senior=False,
            real_authed=True,
            exclusive_account=False,
            memberships=[Membership(dept_id, self._next_order(dept_id), False)],
        )
        return self._user_fields(userid, "user_add_org")

    def _m_create_department(self, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        c = self._company()
        if "parent_id" in data:
            parent = self._dept("parent_id", data["parent_id"])
        else:
            parent = self.rng.choice(sorted(c.departments))
        dept_id = max(c.departments) + 1
        name = data.get("name") or f"新部门{dept_id}"
        siblings = [d for d in c.departments.values() if d.parent_id == parent]
        if any(d.name == name for d in siblings):
            raise MutationConflict(f"department {parent} already has a sub-department {name}")
        c.departments[dept_id] = Department(
            dept_id=dept_id,
            name=name,
            parent_id=parent,
            order=(max(d.order for d in siblings) + 1) if siblings else 1,
        )
        return {"deptId": [dept_id]}, "org_dept_create"

    def _m_admin_add(self, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """Make ``userid`` an administrator: ``sys_level`` 1 (main, scope ``[1]``) or 2 (sub,
        scope ``dept_ids``: top departments of what they manage). An administrator already is
        given the new level and scope."""
        c = self._company()
        level = int(data.get("sys_level") or 2)
        if "userid" in data:
            userid = str(data["userid"])
            if userid not in c.users:
                raise unknown("user", "userid", userid)
        else:
            pool = sorted(
                u.userid for u in c.users.values() if u.active and u.userid not in c.admins
            )
            if not pool:
                raise MutationConflict("nobody can become an administrator")
            userid = self.rng.choice(pool)
        if level == 1:
            scope = [ROOT_DEPT_ID]
        elif "dept_ids" in data:
            scope = sorted(set(data["dept_ids"]))
            for d in scope:
                self._dept("dept_ids", d)
        else:
            depts = self._non_root_depts()
            scope = sorted(self.rng.sample(depts, min(len(depts), self.rng.randint(1, 3))))
        other_mains = any(lv == 1 for u, lv in c.admins.items() if u != userid)
        if level == 2 and c.admins.get(userid) == 1 and not other_mains:
            raise MutationRefused("the last main administrator cannot become a sub-administrator")
        c.admins[userid] = level
        c.admin_scopes[userid] = scope
        c.users[userid].admin = True
        return {"userId": [userid]}, "org_admin_add"

    def _m_admin_remove(self, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """Take ``userid``'s administrator role (and scope) away; the last main administrator
        cannot be removed (:class:`MutationRefused`)."""
        c = self._company()
        if "userid" in data:
            userid = str(data["userid"])
            if userid not in c.users:
                raise unknown("user", "userid", userid)
            if userid not in c.admins:
                raise MutationConflict(f"{userid} is not an administrator")
        else:
            mains = [u for u, lv in c.admins.items() if lv == 1]
            pool = sorted(u for u, lv in c.admins.items() if lv == 2 or len(mains) > 1)
            if not pool:
                raise MutationConflict("no administrator can be removed")
            userid = self.rng.choice(pool)
        if c.admins[userid] == 1 and not any(lv == 1 for u, lv in c.admins.items() if u != userid):
            raise MutationRefused("the last main administrator cannot be removed")
        del c.admins[userid]
        c.admin_scopes.pop(userid, None)
        c.users[userid].admin = False
        return {"userId": [userid]}, "org_admin_remove"
