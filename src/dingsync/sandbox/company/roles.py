"""Generation of the custom roles (岗位, 职务 …) and their members beside the built-in 默认
roles."""

from __future__ import annotations

import random

from dingsync.sandbox.company.model import (
    BUILTIN_ROLES,
    DEFAULT_ROLE_GROUP_ID,
    DEFAULT_ROLE_GROUP_NAME,
    ROOT_DEPT_ID,
    Department,
    Role,
    RoleGroup,
    RoleMember,
    User,
)

#: Custom role groups: group name → role name → the titles whose holders get the role (an empty
#: tuple: 1–3 people drawn at random; ``("*",)``: about 8 % of everyone, so that
#: ``/topapi/role/simplelist`` needs several pages; ``None``: nobody — a role without members).
_CUSTOM_ROLES: dict[str, dict[str, tuple[str, ...] | None]] = {
    "职务": {
        "财务": ("会计", "财务经理", "税务专员", "审计专员"),
        "人事": ("HRBP", "人事专员", "招聘专员", "薪酬专员", "培训专员"),
        "出纳": ("出纳",),
        "行政": ("行政专员", "前台", "采购专员"),
    },
    "岗位": {
        "销售": ("销售代表", "销售经理", "客户经理", "大客户经理", "渠道经理", "销售助理"),
        "技术负责人": ("架构师", "技术专家"),
        "项目经理": (),
        "质检": ("质检员",),
        "内训师": ("*",),
    },
    "外部协作": {"外包对接人": None},
}

#: Most members a title-matched custom role gets (销售 excepted: all sales staff hold it).
_ROLE_MEMBER_CAP = 8


def make_roles(
    seed: int, people: list[User], departments: dict[int, Department]
) -> list[RoleGroup]:
    """The built-in 默认 group and the custom groups, from their own RNG (so adding roles left
    every other generated value as it was). About 40 % of custom-role members get a scope of
    1–2 departments (the first 人事 member always manages two); the others manage the whole
    company (no scope)."""
    rng = random.Random(f"dingsync-roles:{seed}")
    builtin_ids = {DEFAULT_ROLE_GROUP_ID} | {rid for rid, _, _ in BUILTIN_ROLES}
    n_ids = 1 + sum(1 + len(roles) for roles in _CUSTOM_ROLES.values())
    ids = rng.sample(range(1_500_000_000, 1_999_999_999), n_ids + len(builtin_ids))
    ids = [i for i in ids if i not in builtin_ids]
    default = RoleGroup(DEFAULT_ROLE_GROUP_ID, DEFAULT_ROLE_GROUP_NAME)
    default.roles = [
        Role(rid, name, DEFAULT_ROLE_GROUP_ID, kind) for rid, name, kind in BUILTIN_ROLES
    ]
    groups = [default]
    non_root = sorted(d for d in departments if d != ROOT_DEPT_ID)
    everyone = [u.userid for u in people]
    for group_name, roles in _CUSTOM_ROLES.items():
        group = RoleGroup(ids.pop(), group_name)
        for role_name, titles in roles.items():
            role = Role(ids.pop(), role_name, group.group_id)
            if titles == ("*",):
                holders = rng.sample(everyone, max(1, round(len(everyone) * 0.08)))
            elif titles is not None:
                holders = [u.userid for u in people if titles and u.title in titles]
                if role_name != "销售":
                    holders = holders[:_ROLE_MEMBER_CAP]
                if not holders and everyone:
                    holders = rng.sample(everyone, min(len(everyone), rng.randint(1, 3)))
            else:
                holders = []
            for k, userid in enumerate(holders):
                scope: list[int] = []
                if non_root and (rng.random() < 0.4 or (role_name == "人事" and k == 0)):
                    n = 2 if role_name == "人事" and k == 0 else rng.randint(1, 2)
                    scope = sorted(rng.sample(non_root, min(n, len(non_root))))
                role.members.append(RoleMember(userid, scope))
            group.roles.append(role)
        groups.append(group)
    return groups
