"""Who may see what — DingTalk's own visibility rules (DESIGN.md §7), in one pure module.

No I/O: the caller describes the viewer (:class:`Viewer`) and, for one record, its owner and
participants (:class:`Record`) on plain values, so the rules do not depend on any table. Routers
ask :func:`scope` for the set of records a viewer may list/read/export of a data kind (and turn
it into a query), or :func:`can` for one record; they never re-implement a rule. A record a
viewer may not see is answered as *not found* (404), not *forbidden*.

Roles (a viewer may hold several; their scopes add up):

====================  ======================================================================
role                  where it comes from
====================  ======================================================================
employee              everyone
dept_leader           ``leader_in_dept`` / ``user_departments.is_leader`` (主管)
sub_admin             ``/topapi/user/listadmin`` ``sys_level`` 2, with the departments of
                      ``get_admin_scope`` — sub-departments included (precomputed by the
                      caller: ``DepartmentTree.subtree``)
main_admin            ``sys_level`` 1 (主管理员)
boss                  ``boss`` (老板)
attendance_manager    manager of one or more attendance groups (考勤组负责人)
hr                    local role: reads and exports all attendance and the directory
admin                 local role: may use the admin API and read the export audit
disabled              disabled locally: sees nothing (and cannot log in)
====================  ======================================================================

The table (``✓`` all records; otherwise what is admitted):

=============  ==================================  ==================================
data           list / read                          export
=============  ==================================  ==================================
reports        own + received; main admin all;      main admin all; sub-admin (with a
               sub-admin + scope                    scope) what they list: own + received
                                                    + scope
attendance     own; main admin, boss, hr all;       main admin, boss, hr all; sub-admin
               sub-admin + scope; group manager     (with a scope) and group manager what
               + their groups                       they list: own + scope + groups
approvals      originated + approver/cc; main       main admin all; sub-admin (with a
               admin all; sub-admin + scope         scope) what they list: originated +
                                                    approver/cc + scope
directory      everyone all                         main admin, hr all; sub-admin scope
=============  ==================================  ==================================

Department leaders and the boss see reports and approvals like any employee (DingTalk shows
them only what they created, received or took part in).

Exporting reports and approvals is for administrators (DESIGN.md §7: "the main administrator
sees and exports all; a sub-administrator … sees and exports those of people inside their
scope"); an administrator who may export gets exactly what they may list, so an export never
holds a row the same person could not list with the same filters, and never misses one.
Everyone else may list and read but not export them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, get_args

DataKind = Literal["reports", "attendance", "approvals", "directory"]
Action = Literal["list", "read", "export"]
DATA_KINDS: tuple[DataKind, ...] = get_args(DataKind)
ACTIONS: tuple[Action, ...] = get_args(Action)
#: The data kind whose row of the table rules each data area (:data:`dingsync.areas.AREA_NAMES`):
#: the directory is the contacts area as the web service shows it.
AREA_KINDS: dict[str, DataKind] = {
    "contacts": "directory",
    "reports": "reports",
    "attendance": "attendance",
    "approvals": "approvals",
}

#: Local roles (``web_user_roles.role``).
LOCAL_HR = "hr"
LOCAL_ADMIN = "admin"

ROLES = (
    "employee",
    "dept_leader",
    "sub_admin",
    "main_admin",
    "boss",
    "attendance_manager",
    "hr",
    "admin",
    "disabled",
)


@dataclass(frozen=True)
class Viewer:
    """The person asking.

    - ``sub_admin_scope``: department ids a sub-administrator manages **with all their
      sub-departments**, precomputed by the caller (``WebContext.viewer`` walks the tree with
      :func:`dingsync.store.repo_contacts.subtree`); ``None`` when not a sub-administrator.
    - ``leader_of``: departments the viewer heads (主管).
    - ``attendance_groups``: ids of the attendance groups the viewer manages.
    - ``local_roles``: local roles (``"hr"``, ``"admin"``).
    - ``disabled``: disabled locally — sees nothing.
    """

    userid: str
    main_admin: bool = False
    sub_admin_scope: frozenset[int] | None = None
    boss: bool = False
    leader_of: frozenset[int] = frozenset()
    attendance_groups: frozenset[str] = frozenset()
    local_roles: frozenset[str] = frozenset()
    disabled: bool = False

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles this viewer holds, in :data:`ROLES` order."""
        if self.disabled:
            return ("disabled",)
        held = {"employee"}
        if self.leader_of:
            held.add("dept_leader")
        if self.sub_admin_scope is not None:
            held.add("sub_admin")
        if self.main_admin:
            held.add("main_admin")
        if self.boss:
            held.add("boss")
        if self.attendance_groups:
            held.add("attendance_manager")
        held.update(r for r in self.local_roles if r in (LOCAL_HR, LOCAL_ADMIN))
        return tuple(r for r in ROLES if r in held)


@dataclass(frozen=True)
class Record:
    """One record as the rules see it.

    - ``owner``: creator (report), the person (attendance, directory), originator (approval).
    - ``owner_depts``: the owner's departments (direct memberships).
    - ``participants``: report receivers; approval approvers and cc'd people.
    - ``attendance_group``: the attendance group id of an attendance record.
    """

    owner: str | None
    owner_depts: frozenset[int] = frozenset()
    participants: frozenset[str] = frozenset()
    attendance_group: str | None = None


@dataclass(frozen=True)
class Scope:
    """The records a viewer may reach: the union of the parts that are set.

    ``everything``; ``own`` (owner is the viewer); ``participant`` (the viewer is among the
    participants); ``depts`` (the owner belongs to one of these departments); ``groups``
    (attendance records of these groups).
    """

    viewer: str = ""
    everything: bool = False
    own: bool = False
    participant: bool = False
    depts: frozenset[int] = field(default_factory=frozenset)
    groups: frozenset[str] = field(default_factory=frozenset)

    @property
    def nothing(self) -> bool:
        """True when no record at all is admitted."""
        return not (self.everything or self.own or self.participant or self.depts or self.groups)

    def admits(self, record: Record) -> bool:
        """Whether ``record`` is inside this scope."""
        if self.everything:
            return True
        if self.own and record.owner is not None and record.owner == self.viewer:
            return True
        if self.participant and self.viewer in record.participants:
            return True
        if self.depts and not self.depts.isdisjoint(record.owner_depts):
            return True
        return bool(
            self.groups
            and record.attendance_group is not None
            and record.attendance_group in self.groups
        )

    def union(self, other: Scope) -> Scope:
        """Both scopes together."""
        return Scope(
            viewer=self.viewer or other.viewer,
            everything=self.everything or other.everything,
            own=self.own or other.own,
            participant=self.participant or other.participant,
            depts=self.depts | other.depts,
            groups=self.groups | other.groups,
        )


def scope(viewer: Viewer, kind: DataKind, action: Action) -> Scope:
    """What ``viewer`` may ``action`` of ``kind`` (see the module table; each kind's row is its
    function in :data:`RULES`).

    Raises ``ValueError`` for an unknown kind or action.
    """
    if kind not in DATA_KINDS:
        raise ValueError(f"unknown data kind {kind!r}")
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if viewer.disabled:
        return Scope(viewer=viewer.userid)
    return RULES[kind](viewer, action == "export")


def _sub_admin_scope(viewer: Viewer) -> Scope:
    """The departments a sub-administrator manages (nothing for anyone else)."""
    return Scope(viewer=viewer.userid, depts=frozenset(viewer.sub_admin_scope or ()))


def _directory(viewer: Viewer, exporting: bool) -> Scope:
    """Everyone lists the directory; the main administrator and hr export it all, a
    sub-administrator their scope."""
    if not exporting or viewer.main_admin or LOCAL_HR in viewer.local_roles:
        return Scope(viewer=viewer.userid, everything=True)
    return _sub_admin_scope(viewer)


def _created_or_received(viewer: Viewer, exporting: bool) -> Scope:
    """Reports and approvals: own and received / taken part in, plus a sub-administrator's
    scope; the main administrator all; exports only for administrators with a scope."""
    me = viewer.userid
    if viewer.main_admin:
        return Scope(viewer=me, everything=True)
    in_scope = _sub_admin_scope(viewer)
    if exporting and in_scope.nothing:  # exports are for administrators with a scope
        return Scope(viewer=me)
    return Scope(viewer=me, own=True, participant=True).union(in_scope)


def _attendance(viewer: Viewer, exporting: bool) -> Scope:
    """Own; main administrator, boss and hr all; a sub-administrator's scope; an attendance
    group manager their groups. Exports are for those with a scope or groups (DESIGN.md §7),
    and they export what they list — their own row included (everyone sees their own), so an
    export never misses a person its exporter's 月度汇总 page shows."""
    me = viewer.userid
    if viewer.main_admin or viewer.boss or LOCAL_HR in viewer.local_roles:
        return Scope(viewer=me, everything=True)
    groups = Scope(viewer=me, groups=frozenset(viewer.attendance_groups))
    managed = _sub_admin_scope(viewer).union(groups)
    if exporting and managed.nothing:  # exports are for administrators and group managers
        return Scope(viewer=me)
    return Scope(viewer=me, own=True).union(managed)


#: The rule of each data kind: ``(viewer, exporting) → Scope`` for a viewer not disabled.
RULES: dict[DataKind, Callable[[Viewer, bool], Scope]] = {
    "reports": _created_or_received,
    "attendance": _attendance,
    "approvals": _created_or_received,
    "directory": _directory,
}


def can(viewer: Viewer, kind: DataKind, action: Action, record: Record) -> bool:
    """Whether ``viewer`` may ``action`` this one ``record`` of ``kind``."""
    return scope(viewer, kind, action).admits(record)


def may(viewer: Viewer, kind: DataKind, action: Action) -> bool:
    """Whether ``viewer`` may ``action`` any record of ``kind`` at all (e.g. use an export)."""
    return not scope(viewer, kind, action).nothing


def mobile_scope(viewer: Viewer) -> Scope:
    """Whose *hidden* mobile numbers (DingTalk's 号码隐藏, ``hide_mobile``) ``viewer`` sees:
    their own, and those of the people whose directory they may export (the main
    administrator and ``hr`` everyone, a sub-administrator their scope) — as DingTalk shows
    a hidden number to administrators only. A number not hidden is seen by every member."""
    if viewer.disabled:
        return Scope(viewer=viewer.userid)
    return scope(viewer, "directory", "export").union(Scope(viewer=viewer.userid, own=True))


def can_see_mobile(viewer: Viewer, record: Record, hidden: bool) -> bool:
    """Whether ``viewer`` sees the mobile number of the person ``record`` (its ``owner``, with
    their departments) whose number is ``hidden`` or not (:func:`mobile_scope`)."""
    if viewer.disabled:
        return False
    return not hidden or mobile_scope(viewer).admits(record)


def can_administer(viewer: Viewer) -> bool:
    """Whether ``viewer`` may use the admin API (local accounts, roles, export audit): the main
    administrator and holders of the local ``admin`` role, unless disabled."""
    return not viewer.disabled and (viewer.main_admin or LOCAL_ADMIN in viewer.local_roles)


__all__ = [
    "ACTIONS",
    "AREA_KINDS",
    "DATA_KINDS",
    "LOCAL_ADMIN",
    "LOCAL_HR",
    "ROLES",
    "RULES",
    "Action",
    "DataKind",
    "Record",
    "Scope",
    "Viewer",
    "can",
    "can_administer",
    "can_see_mobile",
    "may",
    "mobile_scope",
    "scope",
]
