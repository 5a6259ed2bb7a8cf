"""The bodies of the contacts mutations (``POST /sandbox/mutate/contacts/<kind>``), validated per
kind, and the mutation kinds.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictInt

from dingsync.sandbox.mutations import (
    BadMutation,
    DeptId,
    MutationBody,
    Name,
    UserId,
)

MUTATION_KINDS = ("hire", "move", "modify", "leave", "rejoin", "create_department")

#: Administrator mutations: routed and accepted by ``random {kinds}``, not in its default pool.
ADMIN_KINDS = ("admin_add", "admin_remove")
ALL_KINDS = MUTATION_KINDS + ADMIN_KINDS


class MutationRefused(BadMutation):
    """A mutation DingTalk itself would refuse (answered 400, e.g. removing the last main
    administrator)."""


class HireBody(MutationBody):
    """``hire``: every field optional (drawn when absent)."""

    userid: UserId | None = None
    dept_id: DeptId | None = None
    name: Name | None = None
    title: Name | None = None


class MoveBody(MutationBody):
    """``move``: a non-leader membership of ``userid`` moves to ``to_dept_id``."""

    userid: UserId | None = None
    to_dept_id: DeptId | None = None


class ModifyBody(MutationBody):
    """``modify``: a new title (and work place) for ``userid``."""

    userid: UserId | None = None
    title: Name | None = None


class UserBody(MutationBody):
    """``leave``, ``rejoin``, ``admin_remove``: who."""

    userid: UserId | None = None


class CreateDepartmentBody(MutationBody):
    """``create_department``: under ``parent_id``, named ``name``."""

    parent_id: DeptId | None = None
    name: Name | None = None


class AdminAddBody(MutationBody):
    """``admin_add``: ``sys_level`` 1 (main) or 2 (sub, the default), a sub-administrator's
    ``dept_ids``."""

    userid: UserId | None = None
    sys_level: Literal[1, 2] | None = None
    dept_ids: Annotated[list[DeptId], Field(min_length=1, max_length=200)] | None = None


#: Most random mutations one ``random`` call makes.
RANDOM_MAX = 1000


class RandomBody(MutationBody):
    """``random``: ``n`` (1..1000) mutations among ``kinds`` (default the contacts kinds)."""

    n: Annotated[StrictInt, Field(ge=1, le=RANDOM_MAX)] = 1
    kinds: (
        Annotated[
            list[
                Literal[
                    "hire",
                    "move",
                    "modify",
                    "leave",
                    "rejoin",
                    "create_department",
                    "admin_add",
                    "admin_remove",
                ]
            ],
            Field(min_length=1),
        ]
        | None
    ) = None


#: The body model of each mutation kind.
BODIES: dict[str, type[MutationBody]] = {
    "hire": HireBody,
    "move": MoveBody,
    "modify": ModifyBody,
    "leave": UserBody,
    "rejoin": UserBody,
    "create_department": CreateDepartmentBody,
    "admin_add": AdminAddBody,
    "admin_remove": UserBody,
}


def json_object_or_empty(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
