"""Directory handlers of departments: ``/topapi/v2/department/*`` and the archived
``/department/*`` family.
"""

from __future__ import annotations

from typing import Any

from dingsync.sandbox.call import Call
from dingsync.sandbox.company import ROOT_DEPT_ID
from dingsync.sandbox.contacts.lookup import dept_or_60003, user_or_60121
from dingsync.sandbox.state import SandboxState
from dingsync.sandbox.wire import OapiError


def _dept_brief(state: SandboxState, dept_id: int) -> dict[str, Any]:
    d = state.company.departments[dept_id]
    return {
        "auto_add_user": d.auto_add_user,
        "create_dept_group": d.create_dept_group,
        "dept_id": d.dept_id,
        "name": d.name,
        "parent_id": d.parent_id,
    }


def dept_listsub(call: Call) -> dict[str, Any]:
    """``POST /topapi/v2/department/listsub {dept_id}`` — ``result`` is an array (EB-09:
    a missing ``dept_id`` means the root)."""
    dept_id = call.params.integer("dept_id", default=ROOT_DEPT_ID)
    dept_id = dept_or_60003(call, dept_id)
    return {"result": [_dept_brief(call.state, d) for d in call.state.index.children[dept_id]]}


def dept_listsubid(call: Call) -> dict[str, Any]:
    """``POST /topapi/v2/department/listsubid {dept_id}`` — not limited by the contacts scope
    (auth-contacts.md §5.2); the root also lists the ``odd_departments`` ids that are not
    departments of the company."""
    dept_id = dept_or_60003(call, call.params.integer("dept_id", required=True), scoped=False)
    ids = list(call.state.index.children[dept_id])
    if dept_id == ROOT_DEPT_ID:
        known = call.state.company.departments
        ids += [d for d in call.state.config.odd_departments if d not in known]
    return {"result": {"dept_id_list": ids}}


def auth_scopes(call: Call) -> dict[str, Any]:
    """``GET /auth/scopes`` — the app's contacts scope at top level: ``auth_org_scopes
    {authed_dept, authed_user}`` (``[1]`` and ``[]`` for the whole company, knobs
    ``contacts_scope_dept_ids``/``contacts_scope_userids``), the readable user fields."""
    config = call.state.config
    depts = config.contacts_scope_dept_ids
    return {
        "auth_user_field": list(AUTH_USER_FIELDS),
        "condition_field": [],
        "auth_org_scopes": {
            "authed_dept": [ROOT_DEPT_ID] if depts is None else list(depts),
            "authed_user": list(config.contacts_scope_userids),
        },
    }


#: The user fields an internal app with the contacts read permissions may read.
AUTH_USER_FIELDS = ("name", "email", "mobile", "jobnumber", "position", "avatar", "tel", "dept")


def dept_get(call: Call) -> dict[str, Any]:
    """``POST /topapi/v2/department/get {dept_id}`` — every field, empty permit lists as
    ``[]`` (EB-11); no ``parent_id`` on the root."""
    dept_id = dept_or_60003(call, call.params.integer("dept_id", required=True))
    call.params.text("language", max_len=6)
    d = call.state.company.departments[dept_id]
    result: dict[str, Any] = {
        "auto_add_user": d.auto_add_user,
        "auto_approve_apply": d.auto_approve_apply,
        "brief": d.brief,
        "create_dept_group": d.create_dept_group,
        "dept_id": d.dept_id,
        "dept_manager_userid_list": list(d.dept_manager_userid_list),
        "dept_permits": list(d.dept_permits),
        "from_union_org": False,
        "group_contain_sub_dept": d.group_contain_sub_dept,
        "hide_dept": d.hide_dept,
        "name": d.name,
        "order": d.order,
        "outer_dept": d.outer_dept,
        "outer_permit_depts": list(d.outer_permit_depts),
        "outer_permit_users": list(d.outer_permit_users),
        "user_permits": list(d.user_permits),
    }
    optional = {
        "parent_id": d.parent_id,
        "dept_group_chat_id": d.dept_group_chat_id,
        "org_dept_owner": d.org_dept_owner,
        "source_identifier": d.source_identifier,
    }
    result.update({k: v for k, v in optional.items() if v is not None})
    return {"result": dict(sorted(result.items()))}


def dept_listparentbyuser(call: Call) -> dict[str, Any]:
    """``POST /topapi/v2/department/listparentbyuser {userid}`` — one path per membership
    (EB-12), each from the department up to 1; ``33012`` 无效的USERID for an unknown userid."""
    userid = call.params.text("userid", required=True)
    assert userid is not None
    user = call.state.company.users.get(userid)
    if user is None:  # auth-contacts.md §5.4 lists 33012, not 60121
        raise OapiError(33012, "无效的USERID")
    ancestors = call.state.index.ancestors
    return {
        "result": {
            "parent_list": [
                {"parent_dept_id_list": list(ancestors[m.dept_id])} for m in user.memberships
            ]
        }
    }


def dept_listparentbydept(call: Call) -> dict[str, Any]:
    """``POST /topapi/v2/department/listparentbydept {dept_id}`` — ``[self, …, 1]``."""
    dept_id = dept_or_60003(call, call.params.integer("dept_id", required=True))
    return {"result": {"parent_id_list": list(call.state.index.ancestors[dept_id])}}


def dept_list_old(call: Call) -> dict[str, Any]:
    """``GET /department/list?id=&fetch_child=`` — archived; recursive listing is sorted by
    id, so children may come before their parents."""
    p = call.params
    dept_id = dept_or_60003(call, p.integer("id", default=ROOT_DEPT_ID))
    fetch_child = p.boolean("fetch_child", default=True)
    index = call.state.index
    ids = sorted(index.descendants(dept_id)) if fetch_child else index.children[dept_id]
    depts = call.state.company.departments
    out = []
    for d in ids:
        dept = depts[d]
        item: dict[str, Any] = {
            "id": dept.dept_id,
            "name": dept.name,
            "parentid": dept.parent_id,
            "createDeptGroup": dept.create_dept_group,
            "autoAddUser": dept.auto_add_user,
        }
        if dept.source_identifier:
            item["sourceIdentifier"] = dept.source_identifier
        out.append(item)
    return {"department": out}


def dept_list_parent_depts_old(call: Call) -> dict[str, Any]:
    """``GET /department/list_parent_depts?userId=`` — archived; ``department`` is a flat
    ``[dept, …, 1]`` for someone in one department and a list of such lists (one per
    membership) for someone in several (EB-13)."""
    userid = call.params.text("userId", required=True)
    assert userid is not None
    user = user_or_60121(call, userid)
    ancestors = call.state.index.ancestors
    paths = [list(ancestors[m.dept_id]) for m in user.memberships]
    return {"department": paths[0] if len(paths) == 1 else paths}


def dept_get_old(call: Call) -> dict[str, Any]:
    """``GET /department/get?id=`` — archived camelCase shape, lists joined with ``|``."""
    dept_id = dept_or_60003(call, call.params.integer("id", required=True))
    d = call.state.company.departments[dept_id]
    body: dict[str, Any] = {
        "id": d.dept_id,
        "name": d.name,
        "order": d.order,
        "createDeptGroup": d.create_dept_group,
        "autoAddUser": d.auto_add_user,
        "autoApproveApply": d.auto_approve_apply,
        "groupContainSubDept": d.group_contain_sub_dept,
        "deptManagerUseridList": "|".join(d.dept_manager_userid_list),
        "outerDept": d.outer_dept,
        "deptHiding": d.hide_dept,
    }
    optional: dict[str, Any] = {
        "parentid": d.parent_id,
        "orgDeptOwner": d.org_dept_owner,
        "deptGroupChatId": d.dept_group_chat_id,
        "sourceIdentifier": d.source_identifier,
        "outerPermitUsers": "|".join(d.outer_permit_users) or None,
        "outerPermitDepts": "|".join(map(str, d.outer_permit_depts)) or None,
        "deptPermits": "|".join(map(str, d.dept_permits)) or None,
        "userPermits": "|".join(d.user_permits) or None,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


def dept_list_ids_old(call: Call) -> dict[str, Any]:
    """``GET /department/list_ids?id=`` — archived; direct children as ``sub_dept_id_list``."""
    dept_id = dept_or_60003(call, call.params.integer("id", required=True))
    return {"sub_dept_id_list": list(call.state.index.children[dept_id])}


def dept_list_parent_depts_by_dept_old(call: Call) -> dict[str, Any]:
    """``GET /department/list_parent_depts_by_dept?id=`` — archived; ``parentIds`` from the
    department itself up to root 1."""
    dept_id = dept_or_60003(call, call.params.integer("id", required=True))
    return {"parentIds": list(call.state.index.ancestors[dept_id])}
