"""The punch mutation: ``POST /sandbox/mutate/attendance/punch`` and
:meth:`AttendanceMutations.punch` (see the package docstring for the rules).
"""

from __future__ import annotations

import bisect
from datetime import date, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, StringConstraints
from starlette.requests import Request
from starlette.responses import JSONResponse

from dingsync.sandbox.attendance.state import AttendanceState
from dingsync.sandbox.attendance.wire import punch_place
from dingsync.sandbox.attendance.world import (
    HOUR_MS,
    MINUTE_MS,
    CheckPoint,
    FreePunch,
    Group,
    PersonDay,
    ShiftClass,
)
from dingsync.sandbox.mutations import (
    BadMutation,
    MutationBody,
    MutationConflict,
    MutationError,
    UserId,
    fields_of,
    read_body,
    unknown,
    validate,
)
from dingsync.sandbox.workdays import is_rest_day
from dingsync.timeutil import (
    WIRE_TZ,
    from_ms,
    local_date,
)

if TYPE_CHECKING:
    from fastapi import FastAPI


class PunchBody(MutationBody):
    """``POST /sandbox/mutate/attendance/punch``: every field optional. ``check_time`` epoch ms
    (a JSON integer or a string of digits)."""

    userid: UserId | None = None
    check_time: (
        Annotated[StrictInt, Field(ge=0)]
        | Annotated[StrictStr, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,16}$")]
        | None
    ) = None
    check_type: Literal["OnDuty", "OffDuty"] | None = None
    location_result: Literal["Normal", "Outside"] | None = None
    location_method: Literal["MAP", "WIFI", "ATM"] | None = None
    device_sn: Annotated[StrictStr, StringConstraints(max_length=64)] | None = None
    check_by_user: StrictBool | None = None


def _judge(shift: ShiftClass, check_type: str, base_ms: int, user_ms: int) -> tuple[str, int]:
    """``(timeResult, minutes)`` of a punch at ``user_ms`` for a check point at ``base_ms``
    (epoch ms): on duty ``Normal`` up to the class's permitted lateness, then ``Late``, and
    ``SeriousLate`` from its serious minutes on; off duty ``Early`` before the base time.
    Minutes are whole minutes rounded up, counted from the base time (as generation does)."""
    if check_type == "OnDuty":
        late_ms = user_ms - base_ms
        if late_ms <= shift.permit_late_minutes * MINUTE_MS:
            return "Normal", 0
        minutes = -(-late_ms // MINUTE_MS)
        return ("Late" if minutes < shift.serious_late_minutes else "SeriousLate"), minutes
    early_ms = base_ms - user_ms
    if early_ms <= 0:
        return "Normal", 0
    return "Early", -(-early_ms // MINUTE_MS)


class AttendanceMutations(AttendanceState):
    """The punch mutation and its control route."""

    # -- the punch mutation ----------------------------------------------------------------------
    def punch(
        self,
        userid: str | None = None,
        check_time: int | None = None,
        check_type: str | None = None,
        location_result: str | None = None,
        location_method: str | None = None,
        device_sn: str | None = None,
        check_by_user: bool = True,
    ) -> dict[str, Any]:
        """Record a punch of ``userid`` at ``check_time`` (epoch ms; default the sandbox clock)
        and announce it to :attr:`listeners` (see the module docstring for where it lands).

        Returns ``{"punch": {...}, "item": {...}, "answers": [...]}``: ``punch`` names the
        userid, ``work_date`` (``yyyy-MM-dd``, Asia/Shanghai), ``check_type``, ``time_result``,
        ``minutes``, ``record_id``, ``result_id`` (``None`` when it decides no check point),
        ``decides`` (it is now the result's punch), ``check_time``, ``biz_id``; ``item`` is the
        event's ``DataList`` item; ``answers`` what the listeners returned. Raises ``KeyError``
        (``"userid"``) for a person the company does not have (leavers included) and
        ``ValueError`` for a bad field or a person who has not activated DingTalk."""
        if check_type not in (None, "OnDuty", "OffDuty"):
            raise ValueError("check_type must be OnDuty or OffDuty")
        location = location_result or "Normal"
        if location not in ("Normal", "Outside"):
            raise ValueError("location_result must be Normal or Outside")
        method = location_method or "MAP"
        if method not in ("MAP", "WIFI", "ATM"):
            raise ValueError("location_method must be MAP, WIFI or ATM")
        if check_time is not None and (isinstance(check_time, bool) or check_time < 0):
            raise ValueError("check_time must be epoch milliseconds")
        with self.state.lock:
            company = self.state.company
            if userid is None:
                pool = sorted(u for g in self.world.groups for u in g.members if u in company.users)
                if not pool:
                    raise MutationConflict("nobody can punch")
                userid = self.rng.choice(pool)
            user = company.users.get(userid)
            if user is None:
                raise unknown("user", "userid", userid)
            if not user.active:
                raise MutationConflict(f"{userid} has not activated DingTalk and cannot punch")
            at_ms = self.state.clock.now_ms() if check_time is None else int(check_time)
            group = self._group_of(userid)
            day, index = self._locate(userid, group, at_ms, check_type)
            record_id = self._next_id("record")
            biz_id = f"{self.rng.getrandbits(48):012X}"
            decides = False
            result_id: int | None = None
            minutes = 0
            item: CheckPoint | FreePunch
            if index is None:
                hour = from_ms(at_ms).astimezone(WIRE_TZ).hour
                kind = check_type or ("OnDuty" if hour < 12 else "OffDuty")
                item = FreePunch(record_id, at_ms, kind, location, biz_id, method, device_sn)
                time_result = "Normal"
                day.extra.append(item)
            else:
                point = day.points[index]
                time_result, minutes = _judge(group.shift, point.check_type, point.base_ms, at_ms)
                kind = point.check_type
                item = CheckPoint(
                    point.result_id,
                    point.plan_id,
                    kind,
                    point.base_ms,
                    at_ms,
                    time_result,
                    location,
                    "USER",
                    record_id,
                    minutes,
                    biz_id=biz_id,
                    location_method=method,
                    device_sn=device_sn,
                )
                if point.source_type == "SYSTEM" or (
                    point.source_type == "USER"
                    and point.user_ms is not None
                    and (at_ms < point.user_ms if kind == "OnDuty" else at_ms > point.user_ms)
                ):
                    decides = True
                    result_id = point.result_id
                    day.points[index] = item
                    if point.source_type == "USER":
                        day.extra.append(point)  # the superseded punch stays a punch
                else:
                    day.extra.append(item)
            self.world.by_user.setdefault(userid, {})[day.work_date] = day
            self.world.add_punch(day, item)
            day._rows = None
            self.forget_windows()
            self._truth = None
            address, latitude, longitude = punch_place(location)
            data_item: dict[str, Any] = {
                "address": address,
                "checkTime": at_ms,
                "corpId": self.corp_id,
                "groupId": group.group_id,
                "latitude": latitude,
                "longitude": longitude,
                "bizId": biz_id,
                "locationMethod": method,
                "userId": userid,
                "deviceSN": device_sn or "",
                "locationResult": location,
                "checkByUser": bool(check_by_user),
            }
        answers = [
            answer
            for listener in list(self.listeners)
            if (answer := listener("attendance_check_record", dict(data_item))) is not None
        ]
        return {
            "punch": {
                "userid": userid,
                "work_date": day.work_date.isoformat(),
                "check_type": kind,
                "time_result": time_result,
                "minutes": minutes,
                "record_id": record_id,
                "result_id": result_id,
                "decides": decides,
                "check_time": at_ms,
                "biz_id": biz_id,
            },
            "item": data_item,
            "answers": answers,
        }

    def _next_id(self, kind: str) -> int:
        """A fresh id of ``kind`` (``result``, ``record``, ``plan``, ``schedule``) above every
        generated one."""
        if self._ids is None:
            ids = {"result": 0, "record": 0, "plan": 0, "schedule": 0}
            for per in self.world.by_user.values():
                for d in per.values():
                    ids["schedule"] = max(ids["schedule"], d.schedule_id)
                    for pt in d.points:
                        ids["result"] = max(ids["result"], pt.result_id)
                        ids["plan"] = max(ids["plan"], pt.plan_id)
                        ids["record"] = max(ids["record"], pt.record_id or 0)
                    for ip in d.invalid:
                        ids["record"] = max(ids["record"], ip.record_id)
                    for ex in d.extra:  # rest-day and superseded punches have ids too
                        ids["record"] = max(ids["record"], ex.record_id or 0)
            self._ids = ids
        self._ids[kind] += 1
        return self._ids[kind]

    def _group_of(self, userid: str) -> Group:
        """The person's attendance group; someone in none joins the default group."""
        for day in self.world.by_user.get(userid, {}).values():
            return day.group
        for g in self.world.groups:
            if userid in g.members:
                return g
        default = self.world.groups_by_id.get(600001) or self.world.groups[0]
        bisect.insort(default.members, userid)
        return default

    def _day_for(self, userid: str, group: Group, day: date) -> PersonDay:
        """The stored person-day, or a new one scheduled like generation (weekends and the
        generated holidays rest; working days get ``NotSigned`` check points). Not stored."""
        known = self.world.by_user.get(userid, {}).get(day)
        if known is not None:
            return known
        holiday = day in self.world.holidays
        rest = is_rest_day(day, self.world.holidays)
        pd = PersonDay(userid, day, group, rest, holiday, self._next_id("schedule"))
        if not rest:
            shift = group.shift
            on_base, off_base = shift.check_times(day)
            pd.points = [
                CheckPoint.not_signed(self._next_id("result"), self._next_id("plan"), check, base)
                for check, base in (("OnDuty", on_base), ("OffDuty", off_base))
            ]
        return pd

    def _locate(
        self, userid: str, group: Group, at_ms: int, check_type: str | None
    ) -> tuple[PersonDay, int | None]:
        """The person-day and the index of the check point a punch at ``at_ms`` belongs to:
        the nearest scheduled point (of ``check_type`` if given) within 12 hours on the punch's
        calendar date or the day before; ``None`` (a free punch on the calendar date) else."""
        calendar = local_date(at_ms, WIRE_TZ)
        best: tuple[int, PersonDay, int] | None = None
        for d in (calendar - timedelta(days=1), calendar):
            day = self._day_for(userid, group, d)
            if day.is_rest:
                continue
            for i, pt in enumerate(day.points):
                if check_type is not None and pt.check_type != check_type:
                    continue
                distance = abs(at_ms - pt.base_ms)
                if distance <= 12 * HOUR_MS and (best is None or distance < best[0]):
                    best = (distance, day, i)
        if best is not None:
            return best[1], best[2]
        return self._day_for(userid, group, calendar), None

    def control_routes(self, app: FastAPI) -> None:
        """``POST /sandbox/mutate/attendance/punch`` (see the module docstring): answers the
        emitted event like the contacts mutations, plus ``punch``; without an events area
        ``{"punch": …, "item": …}``. 400 ``{"errcode": 400002, …}`` for a malformed body or
        field, 404 ``{"errcode": 60121, …}`` for an unknown userid, 409 for a person who
        cannot punch (not activated) — see ``dingsync.sandbox.mutations``."""

        async def punch(request: Request) -> JSONResponse:
            try:
                body = validate(PunchBody, await read_body(request))
                kwargs = fields_of(body)
                if "check_time" in kwargs:
                    kwargs["check_time"] = int(kwargs["check_time"])
                outcome = self.punch(**kwargs)
            except MutationError as exc:
                return exc.response()
            except (ValueError, TypeError) as exc:
                return BadMutation(str(exc)).response()
            answer: dict[str, Any] = dict(outcome["answers"][0]) if outcome["answers"] else {}
            if not answer:
                answer["item"] = outcome["item"]
            answer["punch"] = outcome["punch"]
            return JSONResponse(answer)

        app.add_api_route("/sandbox/mutate/attendance/punch", punch, methods=["POST"])
