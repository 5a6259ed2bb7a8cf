"""Sandbox area ``events``: a mutation API that changes the company, and DingTalk's two ways of
pushing the matching events — encrypted HTTP callbacks and Stream mode (events.md §1, §3, §5).

Mutations (``POST /sandbox/mutate/contacts/<kind>``, a JSON object, every field optional —
missing ones are drawn from a seeded RNG; validated per kind by the ``*Body`` models):
``hire {userid, dept_id, name, title}``, ``move {userid, to_dept_id}``, ``modify {userid,
title}``, ``leave {userid}`` (the departure dated now, its last work day the Asia/Shanghai
midnight before), ``rejoin {userid}`` (a leaver comes back; the departure record stays as
history), ``create_department {parent_id, name}``, ``admin_add {userid, sys_level (1 main, 2
sub — the default), dept_ids (a sub-administrator's scope; default 1–3 random departments, the
main administrator's is ``[1]``)}``, ``admin_remove {userid}`` (default a random
sub-administrator; removing the last main administrator is refused with 400), and ``random {n
(1..1000), kinds}`` (``n`` random ones among the contacts kinds, or among ``kinds``, which may
name the admin kinds too; the event loop runs between them). Each changes ``state.company`` in
place, calls ``state.reindex()`` and emits one event (``user_add_org``, ``user_modify_org``,
``user_leave_org``, ``org_dept_create``, ``org_admin_add``, ``org_admin_remove`` — the admin
events carry only ``UserId``/``userId``, events.md §2.2). Errors as every mutation endpoint
answers them (``dingsync.sandbox.mutations``): 400 ``errcode`` 400002 for a malformed body, 404
``60121``/``60003`` for an unknown user/department, 409 when the change cannot apply (e.g.
``rejoin`` of someone employed). Approval mutations of the ``approvals`` area
(``/sandbox/mutate/approvals/...``) are heard through its ``listeners`` as
:class:`~dingsync.sandbox.approvals.ApprovalChange` and emitted as ``bpms_instance_change`` /
``bpms_task_change`` (events.md §2.3: the task events name the approver and ``taskId``); so are
the attendance area's punches (``POST /sandbox/mutate/attendance/punch``, see
``sandbox/attendance/mutations.py``), emitted as ``attendance_check_record`` with a ``DataList``
(legacy) / ``dataList`` (current, Stream) of one item.

HTTP push: ``/call_back/register_call_back`` (and ``update``/``get``/``delete``) through the
shared wrapper — registering sends ``check_url`` and requires the encrypted ``success``; such a
registration encrypts with the **corpId** as receiver id. ``POST /sandbox/events/callback
{url, token, aes_key, receiver: "app_key"|"corp_id"}`` plays a console subscription (AppKey).
Every event is POSTed with ``?signature&msg_signature&timestamp&nonce`` and ``{"encrypt"}``; the
reply must be the encrypted ``success`` within ``events_http_timeout_ms``. A failed push is
retried 10 s and then 30 s later **by the sandbox clock**, then listed (after
``events_failed_list_delay_s``) in ``/call_back/get_call_back_failed_result`` (reading removes
items, EB-77).

Stream: ``POST /v1.0/gateway/connections/open`` (AppKey/AppSecret) → ``{endpoint, ticket}``
(single use, 90 s); WebSocket ``/connect?ticket=`` on the same port; EVENT frames with String
``time``/``eventBornTime`` and String ``data``; SYSTEM ping every ``events_stream_ping_s``;
redelivery when not acknowledged within ``events_stream_redeliver_s`` (sandbox clock) up to
``events_stream_max_redeliveries`` times, or on ``LATER``/non-200 (EB-82); events produced while
no client is connected are kept and sent on connect (EB-87). ``POST
/sandbox/events/stream/disconnect`` sends SYSTEM ``disconnect`` and closes
``events_stream_close_after_s`` later, answering no close handshake before then unless
``events_stream_close_handshake`` is set; ``POST /sandbox/events/stream/blackhole`` makes every
open connection silently dead (nothing sent, the socket left open but no longer read: frames and
WebSocket pings go unanswered, as from a dead peer).

Knobs (``configure``): ``events_format`` (``legacy`` = format 1 PascalCase without ids,
``current`` = format 2 with ``BizId``/``eventId``), ``events_drop`` / ``events_duplicate`` /
``events_reorder`` (probabilities per event and channel: lost entirely, sent twice, held back up
to ``events_reorder_ms``), ``events_delay_ms``, ``events_bpms_delete`` (announce a deleted
approval instance as ``bpms_instance_change`` ``type`` ``delete``; off by default — DingTalk
documents no such type, EB-78), plus the timing knobs named above. Defaults follow
emulator-behaviour.md: HTTP reply deadline 1500 ms (EB-74), Stream redelivery after 60 s up to
3 times (EB-83), ping every 60 s (EB-84); ``attendance_schedule_change`` is never emitted
(EB-79), nor are report events (EB-80), bot CALLBACK frames (EB-89) or ISV events.

Modules: ``event`` (what is pushed), ``channels`` (HTTP registrations, Stream connections),
``state``, ``http_push``, ``stream``, ``dispatch``, ``handlers`` (DingTalk routes), ``bodies`` and
``contacts`` (the contacts mutations), ``listeners`` (other areas' changes) and ``area``.
"""

from dingsync.sandbox.events.area import EventsArea
from dingsync.sandbox.events.channels import Registration
from dingsync.sandbox.events.event import SandboxEvent

__all__ = ["EventsArea", "Registration", "SandboxEvent"]
