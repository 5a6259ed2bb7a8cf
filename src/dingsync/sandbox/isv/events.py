"""ISV events the sandbox pushes through the suite's channels (events.md §4.1, §4.5).

:class:`IsvEvent` renders like DingTalk's: the legacy HTTP body is PascalCase with ``SuiteKey``
and ``TimeStamp`` (a Number for ``suite_ticket``/``tmp_auth_code``, a String for the relieve and
app events, EB-92); the Stream ``data`` is camelCase (``{"suiteTicket": …}``,
``org_suite_auth``'s ``authCorpInfo``/``authInfo``/``authScope``/``permanentCode``, relieve
``{}``). The Stream headers carry ``eventCorpId`` = the authorising company (the suite's own
corp for ``suite_ticket``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dingsync.sandbox.events.event import SandboxEvent

#: Legacy events whose ``TimeStamp`` DingTalk sends as a String (EB-92).
_STRING_TIMESTAMP = frozenset(
    {"suite_relieve", "change_auth", "org_micro_app_stop", "org_micro_app_restore",
     "org_micro_app_remove"}
)  # fmt: skip


@dataclass
class IsvEvent(SandboxEvent):
    """An ISV event: ``legacy_fields`` (PascalCase, HTTP) besides the camelCase ``fields``."""

    suite_key: str = ""
    legacy_fields: dict[str, Any] = field(default_factory=dict)

    def legacy(self) -> dict[str, Any]:
        stamp: int | str = self.born_ms
        if self.event_type in _STRING_TIMESTAMP:
            stamp = str(self.born_ms)
        body: dict[str, Any] = {
            "EventType": self.event_type,
            "SuiteKey": self.suite_key,
            "TimeStamp": stamp,
        }
        body.update(self.legacy_fields)
        return body

    def current(self) -> dict[str, Any]:
        body = self.legacy()
        body.update({"EventTime": self.born_ms, "BizId": self.event_id, "eventId": self.event_id})
        return body

    def stream_data(self) -> dict[str, Any]:
        return dict(self.fields)

    def failed_item(self) -> dict[str, Any]:
        return {"call_back_tag": self.event_type, "event_time": self.born_ms,
                "callbackData": self.legacy()}  # fmt: skip
