"""The visibility rules, every cell: roles × data kinds × actions, then per record."""

from __future__ import annotations

import pytest

from dingsync.web import rules
from dingsync.web.rules import Record, Viewer

ME = "me"
SCOPE = frozenset({10, 11, 12})  # a sub-administrator's departments, sub-departments included

VIEWERS: dict[str, Viewer] = {
    "employee": Viewer(ME),
    "dept_leader": Viewer(ME, leader_of=frozenset({10})),
    "sub_admin": Viewer(ME, sub_admin_scope=SCOPE),
    "main_admin": Viewer(ME, main_admin=True),
    "boss": Viewer(ME, boss=True),
    "attendance_manager": Viewer(ME, attendance_groups=frozenset({"g1"})),
    "hr": Viewer(ME, local_roles=frozenset({"hr"})),
    "admin": Viewer(ME, local_roles=frozenset({"admin"})),
    "disabled": Viewer(ME, main_admin=True, local_roles=frozenset({"hr"}), disabled=True),
}

OWN_PART = ["own", "participant"]
OWN_PART_DEPTS = ["own", "participant", "departments"]

# role → kind → (list, read, export), as rules.describe-like summaries.
TABLE: dict[str, dict[str, tuple[object, object, object]]] = {
    "employee": {
        "reports": (OWN_PART, OWN_PART, "none"),
        "attendance": (["own"], ["own"], "none"),
        "approvals": (OWN_PART, OWN_PART, "none"),
        "directory": ("all", "all", "none"),
    },
    "dept_leader": {
        "reports": (OWN_PART, OWN_PART, "none"),
        "attendance": (["own"], ["own"], "none"),
        "approvals": (OWN_PART, OWN_PART, "none"),
        "directory": ("all", "all", "none"),
    },
    "sub_admin": {
        # an administrator exports reports and approvals exactly as they list them
        "reports": (OWN_PART_DEPTS, OWN_PART_DEPTS, OWN_PART_DEPTS),
        "attendance": (["own", "departments"], ["own", "departments"], ["own", "departments"]),
        "approvals": (OWN_PART_DEPTS, OWN_PART_DEPTS, OWN_PART_DEPTS),
        "directory": ("all", "all", ["departments"]),
    },
    "main_admin": {
        "reports": ("all", "all", "all"),
        "attendance": ("all", "all", "all"),
        "approvals": ("all", "all", "all"),
        "directory": ("all", "all", "all"),
    },
    "boss": {
        "reports": (OWN_PART, OWN_PART, "none"),
        "attendance": ("all", "all", "all"),
        "approvals": (OWN_PART, OWN_PART, "none"),
        "directory": ("all", "all", "none"),
    },
    "attendance_manager": {
        "reports": (OWN_PART, OWN_PART, "none"),
        "attendance": (["own", "groups"], ["own", "groups"], ["own", "groups"]),
        "approvals": (OWN_PART, OWN_PART, "none"),
        "directory": ("all", "all", "none"),
    },
    "hr": {
        "reports": (OWN_PART, OWN_PART, "none"),
        "attendance": ("all", "all", "all"),
        "approvals": (OWN_PART, OWN_PART, "none"),
        "directory": ("all", "all", "all"),
    },
    "admin": {
        "reports": (OWN_PART, OWN_PART, "none"),
        "attendance": (["own"], ["own"], "none"),
        "approvals": (OWN_PART, OWN_PART, "none"),
        "directory": ("all", "all", "none"),
    },
    "disabled": {
        kind: ("none", "none", "none")
        for kind in ("reports", "attendance", "approvals", "directory")
    },
}


def summary(scope: rules.Scope) -> object:
    if scope.everything:
        return "all"
    parts = [
        name
        for name, on in (
            ("own", scope.own),
            ("participant", scope.participant),
            ("departments", bool(scope.depts)),
            ("groups", bool(scope.groups)),
        )
        if on
    ]
    return parts or "none"


def test_table_covers_every_role_kind_and_action() -> None:
    assert set(TABLE) == set(rules.ROLES) == set(VIEWERS)
    for row in TABLE.values():
        assert set(row) == set(rules.DATA_KINDS)


@pytest.mark.parametrize("role", rules.ROLES)
@pytest.mark.parametrize("kind", rules.DATA_KINDS)
@pytest.mark.parametrize("action", rules.ACTIONS)
def test_cell(role: str, kind: rules.DataKind, action: rules.Action) -> None:
    viewer = VIEWERS[role]
    expected = TABLE[role][kind][rules.ACTIONS.index(action)]
    scope = rules.scope(viewer, kind, action)
    assert summary(scope) == expected
    assert rules.may(viewer, kind, action) is (expected != "none")
    if scope.depts:
        assert scope.depts == SCOPE
    if scope.groups:
        assert scope.groups == {"g1"}


# Records: what each part of a scope admits and refuses.
MINE = Record(owner=ME, owner_depts=frozenset({99}))
RECEIVED = Record(owner="x", owner_depts=frozenset({99}), participants=frozenset({ME}))
IN_SCOPE = Record(owner="x", owner_depts=frozenset({11, 99}))
IN_GROUP = Record(owner="x", owner_depts=frozenset({99}), attendance_group="g1")
STRANGER = Record(owner="x", owner_depts=frozenset({99}), attendance_group="g2")
RECORDS = {
    "mine": MINE,
    "received": RECEIVED,
    "in_scope": IN_SCOPE,
    "in_group": IN_GROUP,
    "stranger": STRANGER,
}
ADMITTED_BY = {
    "own": {"mine"},
    "participant": {"received"},
    "departments": {"in_scope"},
    "groups": {"in_group"},
}


@pytest.mark.parametrize("role", rules.ROLES)
@pytest.mark.parametrize("kind", rules.DATA_KINDS)
@pytest.mark.parametrize("action", rules.ACTIONS)
def test_records_follow_the_cell(role: str, kind: rules.DataKind, action: rules.Action) -> None:
    expected = TABLE[role][kind][rules.ACTIONS.index(action)]
    if expected == "all":
        admitted = set(RECORDS)
    elif expected == "none":
        admitted = set()
    else:
        assert isinstance(expected, list)
        admitted = set().union(*(ADMITTED_BY[p] for p in expected))
    for name, record in RECORDS.items():
        assert rules.can(VIEWERS[role], kind, action, record) is (name in admitted), name


@pytest.mark.parametrize("role", rules.ROLES)
@pytest.mark.parametrize("kind", ["reports", "approvals"])
def test_who_exports_reports_and_approvals_exports_what_they_list(
    role: str, kind: rules.DataKind
) -> None:
    viewer = VIEWERS[role]
    exported = rules.scope(viewer, kind, "export")
    if role in ("main_admin", "sub_admin"):
        assert exported == rules.scope(viewer, kind, "list") == rules.scope(viewer, kind, "read")
        for name, record in RECORDS.items():
            listed = rules.can(viewer, kind, "list", record)
            assert rules.can(viewer, kind, "export", record) is listed, name
    else:  # DESIGN.md §7: exporting them is for administrators
        assert exported.nothing and not rules.may(viewer, kind, "export")


@pytest.mark.parametrize("kind", ["reports", "approvals"])
def test_a_sub_admin_without_scope_exports_nothing(kind: rules.DataKind) -> None:
    viewer = Viewer(ME, sub_admin_scope=frozenset())
    assert viewer.roles == ("employee", "sub_admin")
    assert summary(rules.scope(viewer, kind, "list")) == OWN_PART
    assert summary(rules.scope(viewer, kind, "export")) == "none"
    assert not rules.may(viewer, kind, "export")


def test_roles_of_a_viewer() -> None:
    assert VIEWERS["employee"].roles == ("employee",)
    assert VIEWERS["disabled"].roles == ("disabled",)
    many = Viewer(ME, main_admin=True, boss=True, local_roles=frozenset({"hr", "x"}))
    assert many.roles == ("employee", "main_admin", "boss", "hr")


def test_can_administer() -> None:
    allowed = {r for r, v in VIEWERS.items() if rules.can_administer(v)}
    assert allowed == {"main_admin", "admin"}


def test_unknown_kind_or_action() -> None:
    with pytest.raises(ValueError):
        rules.scope(VIEWERS["employee"], "salaries", "list")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        rules.scope(VIEWERS["employee"], "reports", "delete")  # type: ignore[arg-type]


def _every_viewer_shape() -> list[Viewer]:
    """Viewers of every combination of flags, roles and (empty or not) scopes, each in two
    versions with different userids, departments and groups."""
    import itertools

    out = []
    for disabled, main, boss, scope, groups, leader, roles in itertools.product(
        (False, True),
        (False, True),
        (False, True),
        (None, frozenset(), "some"),
        (False, True),
        (False, True),
        (frozenset(), frozenset({"hr"}), frozenset({"admin"}), frozenset({"hr", "admin", "x"})),
    ):
        for n, (userid, depts, group) in enumerate((("u1", {10, 11}, "g1"), ("u2", {99}, "g7"))):
            out.append(
                Viewer(
                    userid,
                    main_admin=main,
                    sub_admin_scope=frozenset(depts) if scope == "some" else scope,
                    boss=boss,
                    leader_of=frozenset({10 + n}) if leader else frozenset(),
                    attendance_groups=frozenset({group}) if groups else frozenset(),
                    local_roles=roles,
                    disabled=disabled,
                )
            )
    return out


def test_profile_permissions_remembered_per_shape_equal_the_rules() -> None:
    """The profile's ``permissions`` are remembered per viewer shape (login.py): for every
    shape, whichever viewer came first, each viewer gets what the rules give for *them*, as
    a copy of its own."""
    from dingsync.web import login

    login._PERMISSIONS.clear()
    viewers = _every_viewer_shape()
    for viewer in [*viewers, *reversed(viewers)]:
        got = login.permissions(viewer)
        assert got == login._permissions(viewer), viewer
    assert 0 < len(login._PERMISSIONS) < len(viewers)  # shapes were shared
    first = login.permissions(viewers[0])
    first["reports"]["list"].append("tampered")
    first["admin"] = "tampered"
    assert login.permissions(viewers[0]) == login._permissions(viewers[0])
