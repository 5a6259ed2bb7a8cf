"""Approvals (审批 / OA审批): templates, form schemas, instance ids and instances.

``client.approvals`` — one method per endpoint, each through the client core (token, per-API
rate limit, retries). By default the new host is used (``processes/instanceIds/query`` and
``GET processInstances``); the old ``/topapi/processinstance/listids`` and ``/get`` serve when
``instances_endpoint="legacy"``, or as a fallback (``fallback=True``) when v1.0 answers with a
permission or not-found error (EB-55). Both hosts give the same :class:`ProcessInstance`.

Caps split here, never by callers (errors-and-limits.md §6.5): id windows of at most 120 days
whose start lies within ``history_days`` (365) of now; 20 ids per page; a window that reaches
DingTalk's 10,000-ids-per-loop cap is halved and read again (ids de-duplicated).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from dingsync.dingtalk.errors import NotFoundError, PermissionDeniedError
from dingsync.dingtalk.models.approvals import (
    AttachmentDownload,
    FormSchema,
    ProcessInstance,
    ProcessTemplate,
)
from dingsync.dingtalk.paging import Marker, Pager, cursor_pager, next_token_pager
from dingsync.timeutil import split_datetimes, to_ms

if TYPE_CHECKING:
    from dingsync.dingtalk._base import DingTalkClient

log = logging.getLogger(__name__)

#: Ids per page on both hosts.
IDS_PAGE_MAX = 20
#: Templates per page (``listbyuserid`` ``size``, ``userVisibilities`` ``maxResults``).
TEMPLATES_PAGE_MAX = 100
#: One id query spans at most this much (start time of the instances).
WINDOW = timedelta(days=120)
#: Ids one loop over a window can return.
IDS_PER_LOOP = 10_000
#: How far back DingTalk lets a window start (OA premium: 5 years, set ``history_days``).
HISTORY = timedelta(days=365)
#: Windows closer than this to the 365-day edge start a little later (clock skew).
HISTORY_MARGIN = timedelta(minutes=10)

Endpoint = Literal["v1.0", "legacy"]

PATH_IDS_V1 = "/v1.0/workflow/processes/instanceIds/query"
PATH_GET_V1 = "/v1.0/workflow/processInstances"
PATH_IDS_OLD = "/topapi/processinstance/listids"
PATH_GET_OLD = "/topapi/processinstance/get"
PATH_TEMPLATES_V1 = "/v1.0/workflow/processes/userVisibilities/templates"
PATH_TEMPLATES_OLD = "/topapi/process/listbyuserid"
PATH_SCHEMA_V1 = "/v1.0/workflow/forms/schemas/processCodes"
PATH_AUTHORIZE_DOWNLOAD = "/v1.0/workflow/processInstances/spaces/files/authDownload"
PATH_DOWNLOAD_URL = "/v1.0/workflow/processInstances/spaces/files/urls/download"
#: Files one ``authDownload`` call grants at most.
AUTHORIZE_MAX = 10


def split_windows(
    start: datetime, end: datetime, span: timedelta = WINDOW
) -> list[tuple[datetime, datetime]]:
    """``[start, end]`` cut into consecutive inclusive windows covering less than ``span`` each
    (:func:`dingsync.timeutil.split_datetimes`): each window ends 1 ms before the next one
    starts, so every instant belongs to exactly one window. A 300-day range gives 3 windows
    (120 + 120 + 60 days); a reversed range none. Naive datetimes raise ``ValueError``."""
    return split_datetimes(start, end, span)


class ApprovalsAPI:
    """``client.approvals``: approvals.md §1–§9.

    ``instances_endpoint``: ``"v1.0"`` (default) or ``"legacy"``; ``fallback``: on a v1.0
    permission/not-found error use the legacy endpoint for that call and the rest of the
    client's life; ``history_days``: how far back windows may start (365; 1825 for OA
    premium); ``ids_per_loop``: DingTalk's ids-per-loop cap (a window that returns this many is
    split).
    """

    def __init__(
        self,
        client: DingTalkClient,
        *,
        instances_endpoint: Endpoint = "v1.0",
        fallback: bool = True,
        history_days: int = 365,
        ids_per_loop: int = IDS_PER_LOOP,
    ) -> None:
        self._client = client
        self.instances_endpoint: Endpoint = instances_endpoint
        self.fallback = fallback
        self.history_days = history_days
        self.ids_per_loop = ids_per_loop

    def _fall_back(self, exc: Exception) -> bool:
        if self.instances_endpoint == "v1.0" and self.fallback:
            log.warning("v1.0 approvals API refused (%s); using the legacy endpoint", exc)
            self.instances_endpoint = "legacy"
            return True
        return False

    # -- templates -----------------------------------------------------------------------------
    def iter_templates(self, userid: str | None = None) -> Pager[ProcessTemplate]:
        """Templates visible to ``userid`` (``None`` = all templates of the org).
        v1.0 ``GET /v1.0/workflow/processes/userVisibilities/templates`` (nextToken, 100 per
        page) or legacy ``POST /topapi/process/listbyuserid`` (offset, 100 per page)."""
        if self.instances_endpoint == "legacy":

            async def call_old(cursor: Marker) -> dict[str, Any]:
                body: dict[str, Any] = {"offset": int(cursor), "size": TEMPLATES_PAGE_MAX}
                if userid:
                    body["userid"] = userid
                return await self._client.oapi("POST", PATH_TEMPLATES_OLD, json=body)

            return cursor_pager(
                call_old,
                ProcessTemplate.model_validate,
                list_key="process_list",
                has_more_key=None,
            )

        async def call_new(token: Marker) -> dict[str, Any]:
            params: dict[str, Any] = {"maxResults": TEMPLATES_PAGE_MAX, "nextToken": token}
            if userid:
                params["userId"] = userid
            return await self._client.api("GET", PATH_TEMPLATES_V1, params=params)

        return next_token_pager(
            call_new,
            ProcessTemplate.model_validate,
            result_key="result",
            list_key="processList",
            first=0,
        )

    async def list_templates(self, userid: str | None = None) -> list[ProcessTemplate]:
        """Every template (see :meth:`iter_templates`); falls back to the legacy listing."""
        try:
            return await self.iter_templates(userid).to_list()
        except (PermissionDeniedError, NotFoundError) as exc:
            if not self._fall_back(exc):
                raise
            return await self.iter_templates(userid).to_list()

    async def get_form_schema(self, process_code: str) -> FormSchema:
        """The form schema of a template. ``GET /v1.0/workflow/forms/schemas/processCodes``.
        Raises ``InvalidArgumentError`` (``invalidProcessCode``) for an unknown code."""
        body = await self._client.api("GET", PATH_SCHEMA_V1, params={"processCode": process_code})
        result = body.get("result")
        return FormSchema.model_validate(result if isinstance(result, dict) else {})

    # -- instance ids --------------------------------------------------------------------------
    def _id_pager(
        self,
        process_code: str,
        start_ms: int,
        end_ms: int,
        userids: Sequence[str] | None,
        statuses: Sequence[str] | None,
    ) -> Pager[str]:
        if self.instances_endpoint == "legacy":

            async def call_old(cursor: Marker) -> dict[str, Any]:
                body: dict[str, Any] = {
                    "process_code": process_code,
                    "start_time": start_ms,
                    "end_time": end_ms,
                    "size": IDS_PAGE_MAX,
                    "cursor": int(cursor),
                }
                if userids:
                    body["userid_list"] = ",".join(userids)
                return await self._client.oapi("POST", PATH_IDS_OLD, json=body)

            return cursor_pager(call_old, str, has_more_key=None)

        async def call_new(token: Marker) -> dict[str, Any]:
            body: dict[str, Any] = {
                "processCode": process_code,
                "startTime": start_ms,
                "endTime": end_ms,
                "nextToken": int(token),
                "maxResults": IDS_PAGE_MAX,
            }
            if userids:
                body["userIds"] = list(userids)
            if statuses:
                body["statuses"] = list(statuses)
            return await self._client.api("POST", PATH_IDS_V1, json=body)

        return next_token_pager(call_new, str, result_key="result", first=0)

    async def iter_window_pages(
        self,
        process_code: str,
        start: datetime,
        end: datetime,
        *,
        userids: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
    ) -> AsyncIterator[list[str]]:
        """The instance ids of ``process_code`` started within ONE window ``[start, end]`` (≤ 120
        days), page by page as DingTalk gives them (≤ 20 each, ids not seen before in this
        window only). A window that reaches the ids-per-loop cap is halved and each half read
        again. ``userids``: originators (≤ 10); ``statuses`` (v1.0 only): RUNNING/TERMINATED/
        COMPLETED. Raises ``InvalidArgumentError`` for a window DingTalk refuses."""
        if userids is not None and len(userids) > 10:
            raise ValueError("DingTalk takes at most 10 originators per id query")
        seen: set[str] = set()
        async for page in self._window_pages(process_code, start, end, userids, statuses, seen):
            yield page

    async def _window_pages(
        self,
        process_code: str,
        start: datetime,
        end: datetime,
        userids: Sequence[str] | None,
        statuses: Sequence[str] | None,
        seen: set[str],
    ) -> AsyncIterator[list[str]]:
        start_ms, end_ms = to_ms(start), to_ms(end)
        listed = 0
        first = True
        while True:
            try:
                pager = self._id_pager(process_code, start_ms, end_ms, userids, statuses)
                async for page in pager.pages():
                    first = False
                    listed += len(page.items)
                    fresh = [str(i) for i in page.items if i not in seen]
                    seen.update(fresh)
                    if fresh:
                        yield fresh
                break
            except (PermissionDeniedError, NotFoundError) as exc:
                if not first or not self._fall_back(exc):
                    raise
        if listed >= self.ids_per_loop and end_ms - start_ms > 1:
            mid = start + (end - start) / 2
            halves = ((start, mid), (mid + timedelta(milliseconds=1), end))
            for lo, hi in halves:
                async for ids in self._window_pages(process_code, lo, hi, userids, statuses, seen):
                    yield ids

    async def list_window_ids(
        self,
        process_code: str,
        start: datetime,
        end: datetime,
        *,
        userids: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
    ) -> list[str]:
        """Every instance id of ONE window (see :meth:`iter_window_pages`), each once."""
        out: list[str] = []
        async for page in self.iter_window_pages(
            process_code, start, end, userids=userids, statuses=statuses
        ):
            out.extend(page)
        return out

    def windows(
        self, start: datetime, end: datetime | None = None, *, now: datetime | None = None
    ) -> list[tuple[datetime, datetime]]:
        """The windows :meth:`iter_instance_ids` queries for ``[start, end]`` (end default now):
        a start older than ``history_days`` is moved up to that limit (DingTalk has nothing
        older to give), then the range is cut into ≤ 120-day windows."""
        now = now or datetime.now(UTC)
        end = end or now
        oldest = now - timedelta(days=self.history_days) + HISTORY_MARGIN
        if start < oldest:
            log.warning(
                "approvals: start %s is older than %d days; using %s",
                start,
                self.history_days,
                oldest,
            )
            start = oldest
        return split_windows(start, end)

    async def iter_instance_ids(
        self,
        process_code: str,
        start: datetime,
        end: datetime | None = None,
        *,
        userids: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
    ) -> AsyncIterator[tuple[tuple[datetime, datetime], list[str]]]:
        """Yield ``(window, ids)`` for each ≤ 120-day window of ``[start, end]`` in order (see
        :meth:`windows`); each id appears once. DingTalk path: ``POST /v1.0/workflow/processes/
        instanceIds/query`` (or ``/topapi/processinstance/listids``)."""
        seen: set[str] = set()
        for window in self.windows(start, end):
            ids = await self.list_window_ids(
                process_code, window[0], window[1], userids=userids, statuses=statuses
            )
            fresh = [i for i in ids if i not in seen]
            seen.update(fresh)
            yield window, fresh

    async def list_instance_ids(
        self,
        process_code: str,
        start: datetime,
        end: datetime | None = None,
        *,
        userids: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
    ) -> list[str]:
        """Every instance id of ``process_code`` started in ``[start, end]`` (windows split)."""
        out: list[str] = []
        async for _, ids in self.iter_instance_ids(
            process_code, start, end, userids=userids, statuses=statuses
        ):
            out.extend(ids)
        return out

    # -- one instance --------------------------------------------------------------------------
    async def get_instance(self, process_instance_id: str) -> ProcessInstance:
        """One instance with form values, tasks, operation records and cc.
        ``GET /v1.0/workflow/processInstances?processInstanceId=`` or legacy
        ``POST /topapi/processinstance/get``. Raises ``NotFoundError``
        (``processInstanceNotExist``) / ``InvalidArgumentError`` (820005) for an unknown id."""
        if self.instances_endpoint == "v1.0":
            try:
                body = await self._client.api(
                    "GET", PATH_GET_V1, params={"processInstanceId": process_instance_id}
                )
            except PermissionDeniedError as exc:
                if not self._fall_back(exc):
                    raise
            else:
                result = body.get("result")
                return ProcessInstance.from_payload(
                    result if isinstance(result, dict) else {}, process_instance_id, "v1.0"
                )
        body = await self._client.oapi(
            "POST", PATH_GET_OLD, json={"process_instance_id": process_instance_id}
        )
        inst = body.get("process_instance")
        return ProcessInstance.from_payload(
            inst if isinstance(inst, dict) else {}, process_instance_id, "legacy"
        )

    # -- attachments ---------------------------------------------------------------------------
    async def authorize_download(self, userid: str, files: Sequence[tuple[str, str | int]]) -> bool:
        """Grant ``userid`` the download of approval drive files (授权下载审批钉盘文件):
        ``POST /v1.0/workflow/processInstances/spaces/files/authDownload {userId, fileInfos:
        [{fileId, spaceId (Number)}]}`` — ``files`` are ``(file id, space id)`` pairs, sent 10
        per call (DingTalk's cap, split here). Permission ``Workflow.Instance.Write``. Returns
        whether every call answered ``result: true``. Raises ``NotFoundError``
        (``userNotExist``), ``InvalidArgumentError`` (``invalidFileInfos``,
        ``invalidParameter``), ``PermissionDeniedError`` (``noPermission``), ``DingTalkError``
        (``hsfIntegrationErrorCspace…``: the drive refused, e.g. a file not in that space)."""
        granted = True
        pairs = list(files)
        for at in range(0, len(pairs), AUTHORIZE_MAX):
            infos = [
                {"fileId": str(f), "spaceId": int(space)}
                for f, space in pairs[at : at + AUTHORIZE_MAX]
            ]
            body = await self._client.api(
                "POST", PATH_AUTHORIZE_DOWNLOAD, json={"userId": userid, "fileInfos": infos}
            )
            granted = granted and body.get("result") is True
        return granted

    async def get_download_url(
        self, process_instance_id: str, file_id: str, *, with_comment_attachment: bool = False
    ) -> AttachmentDownload:
        """A download link of one attachment of an instance (下载审批附件): ``POST
        /v1.0/workflow/processInstances/spaces/files/urls/download {processInstanceId, fileId,
        withCommentAttatchment}`` (DingTalk's spelling) → :class:`AttachmentDownload`
        (``download_uri`` valid 15 minutes; never log it). ``with_comment_attachment``: the
        file is attached to a comment / operation record, not to the form. A 0-byte file has
        no link. Raises ``NotFoundError`` (``processInstNotExist``), ``InvalidArgumentError``
        (``invalidParameter``: the instance has no such file; ``invalidFileId``),
        ``PermissionDeniedError`` (``noPermission``), ``DingTalkError`` (``hsfIntegration…``)."""
        body: dict[str, Any] = {"processInstanceId": process_instance_id, "fileId": file_id}
        if with_comment_attachment:
            body["withCommentAttatchment"] = True
        answer = await self._client.api("POST", PATH_DOWNLOAD_URL, json=body)
        result = answer.get("result")
        return AttachmentDownload.model_validate(result if isinstance(result, dict) else {})
