"""The generated company: departments, people, leaders, administrators and leavers.

Pure data and pure generation — no HTTP, no clock. ``generate_company(seed, users)`` is
deterministic for ``(seed, users, corp_name, anchor_ms)``; the handlers in ``app.py`` serve this
structure and tests compare what a client synced against it field by field.

Field names follow DingTalk's own vocabulary (``/topapi/v2/department/get``,
``/topapi/v2/user/get``, the 智能人事 dimission APIs), so ``Department.order`` is the wire
``order``, ``User.hired_date`` the wire ``hired_date`` (epoch **ms**) and so on. Optional fields
that DingTalk omits when unset are ``None`` here.

Modules: ``model`` (the dataclasses and :class:`Company`), ``generator`` with its ``names`` and
``roles``.
"""

from dingsync.sandbox.company.generator import default_anchor_ms, generate_company
from dingsync.sandbox.company.model import (
    BUILTIN_ROLES,
    DEFAULT_ROLE_GROUP_ID,
    DEFAULT_ROLE_GROUP_NAME,
    LEAVE_REASONS,
    ROLE_HEAD_ID,
    ROLE_MAIN_ADMIN_ID,
    ROLE_OWNER_ID,
    ROLE_SUB_ADMIN_ID,
    ROOT_DEPT_ID,
    Company,
    Department,
    Leaver,
    LeaverDepartment,
    Membership,
    Role,
    RoleGroup,
    RoleMember,
    User,
)

__all__ = [
    "BUILTIN_ROLES",
    "DEFAULT_ROLE_GROUP_ID",
    "DEFAULT_ROLE_GROUP_NAME",
    "LEAVE_REASONS",
    "ROLE_HEAD_ID",
    "ROLE_MAIN_ADMIN_ID",
    "ROLE_OWNER_ID",
    "ROLE_SUB_ADMIN_ID",
    "ROOT_DEPT_ID",
    "Company",
    "Department",
    "Leaver",
    "LeaverDepartment",
    "Membership",
    "Role",
    "RoleGroup",
    "RoleMember",
    "User",
    "default_anchor_ms",
    "generate_company",
]
