"""DingTalk events as one normalised shape, from any of the envelope formats of events.md §2.1.

- Format 1 (legacy HTTP push, decrypted): PascalCase ``EventType``, ``CorpId``, ``TimeStamp``
  (a String of ms for contact events), ``UserId`` [String], ``DeptId`` [Number].
- Format 2 (current-doc HTTP push): ``EventType``, ``EventTime``, ``CorpId``, ``BizId``,
  ``eventId`` and camelCase data fields flattened.
- Format 3 (Stream): frame headers ``eventType``, ``eventId``, ``eventCorpId``,
  ``eventBornTime``; ``data`` a JSON *string* of camelCase fields.
- The failed-push list (``/call_back/get_call_back_failed_result``): ``call_back_tag``,
  ``event_time`` and the data under ``callbackData``/``bpmsCallBackData``/``roleLabelChange``.

Keys are looked up case-insensitively (EB-76, EB-93). An event without a DingTalk id
(``eventId``/``BizId``) gets a stable id from a hash of its canonical JSON, so a retried or
duplicated delivery of the same event has the same id.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

#: Contact (通讯录) events whose data names users (``UserId``) or departments (``DeptId``).
USER_EVENTS = frozenset({"user_add_org", "user_modify_org", "user_leave_org", "user_active_org"})
ADMIN_EVENTS = frozenset({"org_admin_add", "org_admin_remove"})
DEPT_EVENTS = frozenset({"org_dept_create", "org_dept_modify", "org_dept_remove"})
CONTACT_EVENTS = USER_EVENTS | ADMIN_EVENTS | DEPT_EVENTS
APPROVAL_EVENTS = frozenset({"bpms_instance_change", "bpms_task_change"})
#: Documented ``type`` values of the approval events (events.md §2.3). Others (e.g. an
#: instance ``delete``, EB-78) are accepted as they come; handlers log them.
APPROVAL_EVENT_TYPES: dict[str, frozenset[str]] = {
    "bpms_instance_change": frozenset({"start", "finish", "terminate"}),
    "bpms_task_change": frozenset({"start", "finish", "cancel"}),
}
ATTENDANCE_EVENTS = frozenset(
    {
        "attendance_check_record",
        "attendance_schedule_change",
        "attendance_overtime_duration",
        "attend_bossCheck_change",
        "attend_user_daily_summary_refresh",
        "attendance_approve_status_change",
    }
)
#: URL-verification events: answer ``success``, store nothing (events.md §1.6).
CHECK_EVENTS = frozenset({"check_url", "check_create_suite_url", "check_update_suite_url"})

_ENVELOPE_KEYS = {"eventtype", "corpid", "timestamp", "eventtime", "bizid", "eventid"}
_FAILED_DATA_KEYS = ("callbackData", "bpmsCallBackData", "roleLabelChange")


def ci_get(data: dict[str, Any], *names: str, default: Any = None) -> Any:
    """The value of the first of ``names`` present in ``data``, matched case-insensitively."""
    lowered = {k.lower(): v for k, v in data.items()} if data else {}
    for name in names:
        if name in data:
            return data[name]
        value = lowered.get(name.lower())
        if value is not None:
            return value
    return default


def _as_int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except ValueError:
                return [text]
            return parsed if isinstance(parsed, list) else [parsed]
        return [p for p in (s.strip() for s in text.split(",")) if p]
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


#: Epoch-ms bounds of a real event time (2000-01-01 .. 2100-01-01, UTC). DingTalk's own doc
#: samples carry placeholders such as ``"TimeStamp": "43535463645"`` (1971): outside these
#: bounds a time is treated as absent, never as a date in 1970.
PLAUSIBLE_MS = (946_684_800_000, 4_102_444_800_000)


def plausible_ms(value: Any) -> int | None:
    """``value`` as epoch ms when it is a real time (:data:`PLAUSIBLE_MS`), else ``None``
    (missing, zero, not a number, a placeholder)."""
    ms = _as_int(value)
    if ms is None or not PLAUSIBLE_MS[0] <= ms < PLAUSIBLE_MS[1]:
        return None
    return ms


def _valid_userid(value: Any) -> bool:
    """A userid is a non-empty string without surrounding blanks (events.md §2.2: ``UserId``
    [String])."""
    return isinstance(value, str) and value != "" and value.strip() == value


def _valid_dept_id(value: Any) -> int | None:
    """A department id is a positive Number (events.md §2.2: ``DeptId`` [Number]); a string of
    digits is accepted too (failed-list items and doc samples stringify numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value) if int(value) > 0 else None
    return None


def stable_id(event_type: str, data: dict[str, Any]) -> str:
    """``sha256:`` + hex digest of the canonical JSON of (type, data) — the dedupe key of an
    event that carries no DingTalk id."""
    canon = json.dumps(
        [event_type, data], sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return "sha256:" + hashlib.sha256(canon.encode("utf-8")).hexdigest()


@dataclass
class Event:
    """One DingTalk event whatever channel brought it.

    ``event_id``: DingTalk's ``eventId``/``BizId`` or :func:`stable_id`; ``event_type``: the
    ``EventType``; ``corp_id``; ``event_time_ms``: epoch ms (``EventTime``/``eventBornTime``/
    ``TimeStamp``, ``None`` if absent); ``data``: the business fields (camel or Pascal as sent);
    ``raw``: the whole decrypted payload / frame.
    """

    event_id: str
    event_type: str
    corp_id: str | None
    event_time_ms: int | None
    data: dict[str, Any]
    raw: dict[str, Any] = field(default_factory=dict)

    # -- what the event names ------------------------------------------------------------------
    def _raw_user_ids(self) -> list[Any]:
        return _as_list(ci_get(self.data, "UserId", "userid", "UserIdList", "StaffId"))

    @property
    def user_ids(self) -> list[str]:
        """``UserId``/``userId``/``userid`` (a list of Strings; events.md §2.2): the valid ones
        (non-empty strings), in order, without repeats. See :attr:`invalid_user_ids`."""
        return list(dict.fromkeys(v for v in self._raw_user_ids() if _valid_userid(v)))

    @property
    def invalid_user_ids(self) -> list[Any]:
        """The entries of the user id list that are not userids (numbers, ``null``, empty or
        blank-padded strings …): such an entry names nobody and is not acted on."""
        return [v for v in self._raw_user_ids() if not _valid_userid(v)]

    @property
    def dept_ids(self) -> list[int]:
        """``DeptId``/``deptId`` (a list of Numbers) as positive ints, in order, without
        repeats. See :attr:`invalid_dept_ids`."""
        found = (_valid_dept_id(v) for v in _as_list(ci_get(self.data, "DeptId")))
        return list(dict.fromkeys(n for n in found if n is not None))

    @property
    def invalid_dept_ids(self) -> list[Any]:
        """The entries of the department id list that are not department ids."""
        return [v for v in _as_list(ci_get(self.data, "DeptId")) if _valid_dept_id(v) is None]

    @property
    def time_ms(self) -> int | None:
        """:attr:`event_time_ms` when it is a real time (:func:`plausible_ms`), else ``None``:
        the time to date what the event says happened (e.g. a departure)."""
        return plausible_ms(self.event_time_ms)

    @property
    def process_instance_id(self) -> str | None:
        """``processInstanceId`` of an approval event."""
        value = ci_get(self.data, "processInstanceId")
        return str(value) if value else None

    @property
    def approval_type(self) -> str | None:
        """``type`` of an approval event (``start``/``finish``/``terminate``/``cancel``, or
        whatever else DingTalk sends), ``None`` when absent."""
        value = ci_get(self.data, "type")
        return str(value) if value not in (None, "") else None

    @property
    def has_unknown_approval_type(self) -> bool:
        """True for an approval event whose ``type`` is not a documented one (EB-78)."""
        known = APPROVAL_EVENT_TYPES.get(self.event_type)
        return known is not None and self.approval_type not in known

    @property
    def data_list(self) -> list[dict[str, Any]]:
        """``DataList``/``dataList`` items of an attendance event."""
        return [d for d in _as_list(ci_get(self.data, "DataList")) if isinstance(d, dict)]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (the inbox ``payload``)."""
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "corp_id": self.corp_id,
            "event_time_ms": self.event_time_ms,
            "data": self.data,
            "raw": self.raw,
        }

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> Event:
        """Inverse of :meth:`to_json`."""
        return cls(
            event_id=str(payload["event_id"]),
            event_type=str(payload["event_type"]),
            corp_id=payload.get("corp_id"),
            event_time_ms=_as_int(payload.get("event_time_ms")),
            data=dict(payload.get("data") or {}),
            raw=dict(payload.get("raw") or {}),
        )


def event_from_http(payload: dict[str, Any]) -> Event:
    """Normalise a decrypted HTTP push body (formats 1 and 2). Raises ``ValueError`` without
    ``EventType``."""
    event_type = ci_get(payload, "EventType")
    if not isinstance(event_type, str) or not event_type:
        raise ValueError("event has no EventType")
    data = {k: v for k, v in payload.items() if k.lower() not in _ENVELOPE_KEYS}
    ts = _as_int(ci_get(payload, "EventTime", "TimeStamp", "eventBornTime"))
    given = ci_get(payload, "eventId", "BizId")
    return Event(
        event_id=str(given) if given else stable_id(event_type, payload),
        event_type=event_type,
        corp_id=ci_get(payload, "CorpId"),
        event_time_ms=ts,
        data=data,
        raw=payload,
    )


def event_from_stream(frame: dict[str, Any]) -> Event:
    """Normalise a Stream EVENT frame (format 3); ``data`` is JSON text. Raises ``ValueError``
    for a frame without ``eventType`` or with undecodable ``data``."""
    headers = frame.get("headers") or {}
    event_type = headers.get("eventType")
    if not event_type:
        raise ValueError("EVENT frame without headers.eventType")
    raw_data = frame.get("data")
    if isinstance(raw_data, str):
        try:
            data = json.loads(raw_data) if raw_data.strip() else {}
        except ValueError:
            raise ValueError("EVENT frame data is not JSON") from None
    else:
        data = raw_data or {}
    if not isinstance(data, dict):
        raise ValueError("EVENT frame data is not a JSON object")
    given = headers.get("eventId") or headers.get("messageId")
    return Event(
        event_id=str(given) if given else stable_id(event_type, data),
        event_type=str(event_type),
        corp_id=headers.get("eventCorpId"),
        event_time_ms=_as_int(headers.get("eventBornTime") or headers.get("time")),
        data=data,
        raw=frame,
    )


def event_from_failed_item(item: dict[str, Any]) -> Event:
    """Normalise one ``failed_list`` item of ``/call_back/get_call_back_failed_result``."""
    event_type = str(item.get("call_back_tag") or "")
    if not event_type:
        raise ValueError("failed item without call_back_tag")
    data: dict[str, Any] = {}
    for key in _FAILED_DATA_KEYS:
        value = item.get(key)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = None
        if isinstance(value, dict):
            data = dict(value)
            break
    given = ci_get(data, "eventId", "BizId")
    return Event(
        event_id=str(given) if given else stable_id(event_type, {"failed": item}),
        event_type=event_type,
        corp_id=ci_get(data, "corpid"),
        event_time_ms=_as_int(item.get("event_time")),
        data=data,
        raw=item,
    )


__all__ = [
    "ADMIN_EVENTS",
    "APPROVAL_EVENTS",
    "APPROVAL_EVENT_TYPES",
    "ATTENDANCE_EVENTS",
    "CHECK_EVENTS",
    "CONTACT_EVENTS",
    "DEPT_EVENTS",
    "USER_EVENTS",
    "Event",
    "ci_get",
    "event_from_failed_item",
    "event_from_http",
    "event_from_stream",
    "plausible_ms",
    "stable_id",
]
