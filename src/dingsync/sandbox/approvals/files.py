"""Approval attachments (审批附件) in the sandbox: the approval drive space's files, DingTalk's
grant and download-link APIs, and the file server the links point at.

DingTalk's recipe (``docs/approvals.md``, "Attachments"; open.dingtalk.com
``download-the-approval-nail-file`` and ``download-an-approval-attachment``):

- ``POST /v1.0/workflow/processInstances/spaces/files/authDownload {userId, fileInfos[{fileId,
  spaceId}]}`` (授权下载审批钉盘文件, at most 10 files) → ``{"success": true, "result": true}``;
  400 ``invalidParameter`` (no ``userId`` or over 10 files), ``userNotExist``,
  ``invalidFileInfos`` (empty list), ``hsfIntegrationErrorCspaceDentryServiceInfo`` (a file not in
  that space).
- ``POST /v1.0/workflow/processInstances/spaces/files/urls/download {processInstanceId, fileId,
  withCommentAttatchment?}`` (下载审批附件) → ``{"result": {"spaceId" (Number), "fileId",
  "downloadUri"}, "success": true}``; the link lives 15 minutes. 400
  ``invalidProcessInstanceId`` / ``invalidFileId`` (empty), ``processInstNotExist`` (unknown
  instance), ``invalidParameter`` (a file the instance does not hold — a comment's file counts
  only with ``withCommentAttatchment: true``), ``hsfIntegrationErrorCspaceDentryServiceGenerate
  DownloadPresignedUrl`` (a 0-byte file: DingTalk gives no link for it).
- ``GET /sandbox/files/approvals/{processInstanceId}/{fileId}?expires=&signature=`` (the
  ``downloadUri``; no access token, like an OSS link): the file's bytes; 403 when the signature
  is wrong or the link expired, 404 when the file is gone.

A file's bytes are :func:`attachment_bytes` — deterministic for the seed and the file id, as
long as its ``fileSize`` — so tests compare what dingsync streams with the truth. Grants are
recorded (``stats()["attachments"]["grants"]``); as DingTalk's own download API grants what it
links, a link does not need one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from dingsync.sandbox.approvals.state import ApprovalsState
from dingsync.sandbox.approvals.world import ApprovalWorld, Instance
from dingsync.sandbox.call import Call, json_object
from dingsync.sandbox.wire import ApiError

if TYPE_CHECKING:
    from fastapi import FastAPI

PATH_AUTHORIZE = "/v1.0/workflow/processInstances/spaces/files/authDownload"
PATH_DOWNLOAD_URL = "/v1.0/workflow/processInstances/spaces/files/urls/download"
FILES_PREFIX = "/sandbox/files/approvals"
#: How long a ``downloadUri`` serves (DingTalk: 15 minutes).
LINK_TTL_MS = 15 * 60_000
#: Files one ``authDownload`` call may grant.
AUTHORIZE_MAX = 10


def attachment_bytes(seed: int, file_id: str, size: int) -> bytes:
    """The content of one sandbox file: ``size`` bytes from SHA-256 blocks of the seed and the
    file id (deterministic, different per file)."""
    out = bytearray()
    block = 0
    while len(out) < size:
        out += hashlib.sha256(f"approval-file:{seed}:{file_id}:{block}".encode()).digest()
        block += 1
    return bytes(out[:size])


def instance_files(inst: Instance) -> list[dict[str, Any]]:
    """Every attachment of ``inst``: ``{file_id, file_name, file_size (int), file_type,
    space_id, comment}`` — the form's ``DDAttachment`` values first (``comment`` False), then
    those of operation records (True), in DingTalk's order."""
    out: list[dict[str, Any]] = []
    for fv in inst.form:
        if fv["component_type"] != "DDAttachment" or not fv["value"]:
            continue
        for f in json.loads(fv["value"]):
            out.append(
                {
                    "file_id": str(f["fileId"]),
                    "file_name": f["fileName"],
                    "file_size": int(f["fileSize"]),
                    "file_type": f["fileType"],
                    "space_id": str(f["spaceId"]),
                    "comment": False,
                }
            )
    for r in inst.records:
        for a in r.get("attachments") or []:
            out.append(
                {
                    "file_id": str(a["file_id"]),
                    "file_name": a["file_name"],
                    "file_size": int(a["file_size"]),
                    "file_type": a["file_type"],
                    "space_id": str(a["space_id"]),
                    "comment": True,
                }
            )
    return out


class FileHandlers(ApprovalsState):
    """The grant and link APIs and the file server."""

    _link_key: bytes | None = None
    _grants: set[tuple[str, str, str]] | None = None
    _links: int = 0
    _served: int = 0
    #: ``(world, version, form, comment)``: the attachments counted for that world's version.
    _file_counts: tuple[ApprovalWorld, int, int, int] | None = None

    # -- truth -------------------------------------------------------------------------------
    def attachment(self, pid: str, file_id: str) -> dict[str, Any] | None:
        """One attachment of instance ``pid`` (:func:`instance_files` shape) or ``None``."""
        inst = self._instance(pid)
        if inst is None:
            return None
        return next((f for f in instance_files(inst) if f["file_id"] == file_id), None)

    def attachment_content(self, pid: str, file_id: str) -> bytes:
        """The bytes the file server gives for that attachment (``KeyError`` when unknown)."""
        found = self.attachment(pid, file_id)
        if found is None:
            raise KeyError((pid, file_id))
        return attachment_bytes(self.state.config.seed, file_id, found["file_size"])

    def file_stats(self) -> dict[str, Any]:
        """Truth and counters: attachments (form / comment; counted once per world and version,
        as :meth:`stats`), grants, links issued, files served (live counters)."""
        w = self.world
        with self.state.lock:
            cached = self._file_counts
            if cached is None or cached[0] is not w or cached[1] != self._version:
                files = [f for i in w.instances.values() for f in instance_files(i)]
                comment = sum(1 for f in files if f["comment"])
                cached = (w, self._version, len(files) - comment, comment)
                self._file_counts = cached
        return {
            "form": cached[2],
            "comment": cached[3],
            "grants": len(self._grants or ()),
            "links": self._links,
            "served": self._served,
        }

    def _key(self) -> bytes:
        if self._link_key is None:
            self._link_key = secrets.token_bytes(32)
        return self._link_key

    def _signature(self, pid: str, file_id: str, expires: int) -> str:
        message = f"{pid}\n{file_id}\n{expires}".encode()
        return hmac.new(self._key(), message, hashlib.sha256).hexdigest()

    # -- DingTalk routes ---------------------------------------------------------------------
    def authorize_download(self, call: Call) -> dict[str, Any]:
        """``POST /v1.0/workflow/processInstances/spaces/files/authDownload`` (module doc)."""
        self._v1_allowed()
        body = json_object(call)
        userid = body.get("userId")
        if not isinstance(userid, str) or not userid:
            raise ApiError(400, "invalidParameter", "授权下载审批钉盘文件参数错误")
        infos = body.get("fileInfos")
        if not isinstance(infos, list) or not infos:
            raise ApiError(
                400, "invalidFileInfos", "授权下载审批钉盘文件，授权的钉盘文件信息列表不能为空"
            )
        if len(infos) > AUTHORIZE_MAX:
            raise ApiError(400, "invalidParameter", "授权下载审批钉盘文件参数错误")
        if userid not in self.state.company.users:
            raise ApiError(400, "userNotExist", "用户不存在")
        known = {
            (f["space_id"], f["file_id"])
            for i in self.world.instances.values()
            for f in instance_files(i)
        }
        wanted = []
        for info in infos:
            if not isinstance(info, dict):
                raise ApiError(400, "invalidParameter", "授权下载审批钉盘文件参数错误")
            pair = (str(info.get("spaceId") or ""), str(info.get("fileId") or ""))
            if pair not in known:
                raise ApiError(
                    400, "hsfIntegrationErrorCspaceDentryServiceInfo", "查看具体文件信息失败"
                )
            wanted.append(pair)
        with self.state.lock:
            grants = self._grants if self._grants is not None else set()
            grants.update((userid, space, file_id) for space, file_id in wanted)
            self._grants = grants
        return {"success": True, "result": True}

    def download_url(self, call: Call) -> dict[str, Any]:
        """``POST /v1.0/workflow/processInstances/spaces/files/urls/download`` (module doc)."""
        self._v1_allowed()
        body = json_object(call)
        pid = body.get("processInstanceId")
        if not isinstance(pid, str) or not pid:
            raise ApiError(400, "invalidProcessInstanceId", "实例id不能为空")
        file_id = body.get("fileId")
        if not isinstance(file_id, str) or not file_id:
            raise ApiError(400, "invalidFileId", "审批附件fileId不能为空")
        if self._instance(pid) is None:
            raise ApiError(400, "processInstNotExist", "审批实例不存在")
        found = self.attachment(pid, file_id)
        with_comments = body.get("withCommentAttatchment") is True
        if found is None or (found["comment"] and not with_comments):
            raise ApiError(400, "invalidParameter", "下载审批附件参数错误")
        if found["file_size"] <= 0:
            raise ApiError(
                400,
                "hsfIntegrationErrorCspaceDentryServiceGenerateDownloadPresignedUrl",
                "产生文件下载的链接失败",
            )
        expires = self.state.clock.now_ms() + LINK_TTL_MS
        signature = self._signature(pid, file_id, expires)
        base = str(call.request.base_url).rstrip("/")
        uri = f"{base}{FILES_PREFIX}/{pid}/{file_id}?expires={expires}&signature={signature}"
        with self.state.lock:
            self._links += 1
        return {
            "result": {"spaceId": int(found["space_id"]), "fileId": file_id, "downloadUri": uri},
            "success": True,
        }

    # -- the file server ---------------------------------------------------------------------
    def file_routes(self, app: FastAPI) -> None:
        """``GET /sandbox/files/approvals/{pid}/{file_id}?expires=&signature=`` (module doc)."""

        async def serve(request: Request) -> Response:
            pid = request.path_params["pid"]
            file_id = request.path_params["file_id"]
            try:
                expires = int(request.query_params.get("expires", ""))
            except ValueError:
                return PlainTextResponse("AccessDenied", status_code=403)
            given = request.query_params.get("signature", "")
            if not hmac.compare_digest(given, self._signature(pid, file_id, expires)):
                return PlainTextResponse("SignatureDoesNotMatch", status_code=403)
            if self.state.clock.now_ms() > expires:
                return PlainTextResponse("Request has expired", status_code=403)
            try:
                content = self.attachment_content(pid, file_id)
            except KeyError:
                return PlainTextResponse("NoSuchKey", status_code=404)
            with self.state.lock:
                self._served += 1
            return Response(content, media_type="application/octet-stream")

        app.add_api_route(f"{FILES_PREFIX}/{{pid}}/{{file_id}}", serve, methods=["GET"])
