"""Permission probes: which of the permission points (权限点) each data area needs an app
really holds in a company.

Each probe makes one cheap call (the first page of a listing, ≤ 1 to 100 rows) of an API the sync
uses and reads DingTalk's answer: a permission refusal (``60011``, 403
``AccessTokenPermissionDenied`` — :class:`~dingsync.dingtalk.errors.PermissionDeniedError`) means
the point must be granted in the developer console (开发者后台 → 权限管理). Names and APIs follow
``auth-contacts.md`` §11, ``reports.md`` §0, ``attendance.md`` §0 and ``approvals.md`` §0.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from dingsync.dingtalk.errors import DingTalkError, PermissionDeniedError

if TYPE_CHECKING:
    from dingsync.dingtalk._base import DingTalkClient

ProbeStatus = Literal["ok", "missing", "failed", "skipped"]


@dataclass
class ProbeState:
    """What earlier probes found that later ones need: a ``userid`` of the company and a
    ``process_code`` of an approval template."""

    userid: str | None = None
    process_code: str | None = None


class Skip(Exception):
    """A probe has nothing to call with (no person, no template): reported as ``skipped``."""


@dataclass(frozen=True)
class PermissionProbe:
    """One permission point of one area: ``permission`` (the name to grant), ``title`` (its
    name in the console), ``api`` (the path called) and ``call``."""

    area: str
    permission: str
    title: str
    api: str
    call: Callable[[DingTalkClient, ProbeState], Awaitable[None]] = field(repr=False)


@dataclass(frozen=True)
class ProbeResult:
    """A probe's outcome: ``status`` ``ok`` | ``missing`` (grant ``permission``) | ``failed``
    (another error, in ``detail``) | ``skipped``."""

    area: str
    permission: str
    title: str
    api: str
    status: ProbeStatus
    detail: str = ""


def _now() -> datetime:
    return datetime.now(UTC)


async def _departments(client: DingTalkClient, state: ProbeState) -> None:
    await client.contacts.list_sub_department_ids(1)


async def _member(client: DingTalkClient, state: ProbeState) -> None:
    userids = await client.contacts.list_user_ids(1)
    state.userid = state.userid or (userids[0] if userids else None)


async def _department_members(client: DingTalkClient, state: ProbeState) -> None:
    pager = client.contacts.iter_department_users(1, size=1)
    page = await pager.page(pager.first)
    if page.items and state.userid is None:
        state.userid = page.items[0].userid


async def _leavers(client: DingTalkClient, state: ProbeState) -> None:
    pager = client.contacts.iter_leave_records(_now() - timedelta(days=1))
    await pager.page(pager.first)


async def _reports(client: DingTalkClient, state: ProbeState) -> None:
    end = _now()
    pager = client.reports.iter_simple_reports(end - timedelta(days=1), end, size=1)
    await pager.page(pager.first)


async def _attendance_data(client: DingTalkClient, state: ProbeState) -> None:
    if state.userid is None:
        raise Skip("no person found to read punches of")
    day = (_now() - timedelta(days=1)).date()
    await client.attendance.list_records([state.userid], day, day)


async def _attendance_groups(client: DingTalkClient, state: ProbeState) -> None:
    pager = client.attendance.iter_groups()
    await pager.page(pager.first)


async def _approval_templates(client: DingTalkClient, state: ProbeState) -> None:
    pager = client.approvals.iter_templates()
    page = await pager.page(pager.first)
    if page.items:
        state.process_code = page.items[0].process_code


async def _approval_instances(client: DingTalkClient, state: ProbeState) -> None:
    if state.process_code is None:
        raise Skip("no approval template found to list instances of")
    end = _now()
    pages = client.approvals.iter_window_pages(state.process_code, end - timedelta(days=1), end)
    async with aclosing(pages):  # type: ignore[type-var]
        async for _page in pages:
            break  # the first page answers the question


#: The probes, in the order they run (later ones use what earlier ones found).
PROBES: tuple[PermissionProbe, ...] = (
    PermissionProbe(
        "contacts",
        "qyapi_get_department_list",
        "通讯录部门信息读权限",
        "/topapi/v2/department/listsubid",
        _departments,
    ),
    PermissionProbe(
        "contacts", "qyapi_get_member", "成员信息读权限", "/topapi/user/listid", _member
    ),
    PermissionProbe(
        "contacts",
        "qyapi_get_department_member",
        "通讯录部门成员读权限",
        "/topapi/v2/user/list",
        _department_members,
    ),
    PermissionProbe(
        "contacts",
        "Contact.Common.Read",
        "通讯录基础信息读权限 (离职记录)",
        "/v1.0/contact/empLeaveRecords",
        _leavers,
    ),
    PermissionProbe(
        "reports",
        "qyapi_report_query",
        "企业员工日志读权限",
        "/topapi/report/simplelist",
        _reports,
    ),
    PermissionProbe(
        "attendance",
        "qyapi_get_attendance_data",
        "考勤数据读权限",
        "/attendance/listRecord",
        _attendance_data,
    ),
    PermissionProbe(
        "attendance",
        "qyapi_base",
        "基础权限 (考勤组)",
        "/topapi/attendance/getsimplegroups",
        _attendance_groups,
    ),
    PermissionProbe(
        "approvals",
        "Workflow.Form.Read",
        "工作流模板读权限",
        "/v1.0/workflow/processes/userVisibilities/templates",
        _approval_templates,
    ),
    PermissionProbe(
        "approvals",
        "Workflow.Instance.Read",
        "工作流实例读权限",
        "/v1.0/workflow/processes/instanceIds/query",
        _approval_instances,
    ),
)


async def probe_permissions(
    client: DingTalkClient, probes: tuple[PermissionProbe, ...] = PROBES
) -> list[ProbeResult]:
    """Run ``probes`` one after another with ``client`` and say, for each, whether the app holds
    the permission point in the client's company. Never raises for DingTalk's answers: a
    refusal is ``missing``, any other DingTalk error (a bad token, the network) ``failed``
    with its message (which carries no secret)."""
    state = ProbeState()
    out: list[ProbeResult] = []
    # The probes ask about the v1.0 permission points: no quiet switch to the legacy endpoint.
    fallback, client.approvals.fallback = client.approvals.fallback, False
    try:
        await _run(client, probes, state, out)
    finally:
        client.approvals.fallback = fallback
    return out


async def _run(
    client: DingTalkClient,
    probes: tuple[PermissionProbe, ...],
    state: ProbeState,
    out: list[ProbeResult],
) -> None:
    for probe in probes:
        status: ProbeStatus = "ok"
        detail = ""
        try:
            await probe.call(client, state)
        except Skip as exc:
            status, detail = "skipped", str(exc)
        except PermissionDeniedError as exc:
            status, detail = "missing", f"{exc.errcode}: {exc.errmsg}"
        except DingTalkError as exc:
            status, detail = "failed", f"{exc.errcode}: {exc.errmsg}"
        out.append(
            ProbeResult(probe.area, probe.permission, probe.title, probe.api, status, detail)
        )


__all__ = ["PROBES", "PermissionProbe", "ProbeResult", "ProbeState", "probe_permissions"]
