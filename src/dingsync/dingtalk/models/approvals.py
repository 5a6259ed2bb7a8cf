"""Approvals (审批): templates, form schemas, instances with form values, tasks, records, cc.

One model per concept accepts BOTH hosts' spellings (old snake_case ``/topapi/processinstance/
get``, new camelCase ``GET /v1.0/workflow/processInstances``), so the same instance gives the
same model whichever host served it. Unknown fields are kept (``extra="allow"``).

Times: old hosts send ``yyyy-MM-dd HH:mm:ss`` in GMT+8, v1.0 sends ``yyyy-MM-ddTHH:mmZ``
(minute precision, taken as UTC — EB-56); :func:`parse_approval_time` reads both and the raw
string stays in the model. Form values arrive as strings: :func:`parse_form_value` turns them
into typed values per component type (EB-60: best-effort; the raw ``value`` is always kept).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import AliasChoices, Field, PrivateAttr

from dingsync.dingtalk.models._base import DingTalkModel, LenientList
from dingsync.timeutil import WIRE_TZ

#: DingTalk's wire zone (GMT+8), from the one time module.
GMT8 = WIRE_TZ


def _alias(*names: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(*names))


def _list_alias(*names: str) -> Any:
    return Field(default_factory=list, validation_alias=AliasChoices(*names))


def parse_approval_time(value: str | None) -> datetime | None:
    """``2020-12-21 15:30:26`` (GMT+8) or ``2022-08-31T11:52Z`` (UTC) → aware UTC datetime;
    ``None``/empty/unparseable → ``None``."""
    if not value:
        return None
    text = value.strip()
    try:
        if "T" in text:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
        else:
            parsed = datetime.fromisoformat(text).replace(tzinfo=GMT8)
    except ValueError:
        return None
    return parsed.astimezone(UTC)


# --------------------------------------------------------------------------------------------
# Templates and schemas
# --------------------------------------------------------------------------------------------
class ProcessTemplate(DingTalkModel):
    """A template visible to the app: old ``/topapi/process/listbyuserid`` ``process_list[]``
    or new ``userVisibilities/templates`` ``processList[]``."""

    process_code: str = Field(validation_alias=AliasChoices("process_code", "processCode"))
    name: str | None = None
    icon_url: str | None = _alias("icon_url", "iconUrl")
    url: str | None = None
    dir_id: str | None = _alias("dir_id", "dirId")
    dir_name: str | None = _alias("dir_name", "dirName")


class FormComponent(DingTalkModel):
    """One ``schemaContent.items[]`` entry: ``componentName``, ``props`` (``id``, ``label``,
    ``options`` …) and nested ``children`` (table columns)."""

    component_name: str = Field(validation_alias=AliasChoices("componentName", "component_name"))
    props: dict[str, Any] = Field(default_factory=dict)
    children: list[FormComponent] = Field(default_factory=list)

    @property
    def id(self) -> str | None:
        value = self.props.get("id")
        return None if value is None else str(value)

    @property
    def label(self) -> str | None:
        value = self.props.get("label")
        return None if value is None else str(value)


class FormSchema(DingTalkModel):
    """``GET /v1.0/workflow/forms/schemas/processCodes`` ``result``. ``gmt_create``/
    ``gmt_modified`` are epoch-ms strings."""

    form_code: str | None = _alias("formCode", "form_code")
    form_uuid: str | None = _alias("formUuid", "form_uuid")
    name: str | None = None
    memo: str | None = None
    status: str | None = None
    schema_content: dict[str, Any] = Field(
        default_factory=dict, validation_alias=AliasChoices("schemaContent", "schema_content")
    )
    gmt_create: str | None = _alias("gmtCreate", "gmt_create")
    gmt_modified: str | None = _alias("gmtModified", "gmt_modified")

    @property
    def items(self) -> list[FormComponent]:
        """The top-level form components, in form order."""
        return [FormComponent.model_validate(i) for i in self.schema_content.get("items") or []]


# --------------------------------------------------------------------------------------------
# Instances
# --------------------------------------------------------------------------------------------
class FormComponentValue(DingTalkModel):
    """``form_component_values[]`` / ``formComponentValues[]``: every field a String. ``name``
    may be absent (``TextNote``); ``ext_value`` holds extra data (e.g. table statistics)."""

    id: str | None = None
    name: str | None = None
    value: str | None = None
    ext_value: str | None = _alias("ext_value", "extValue")
    component_type: str | None = _alias("component_type", "componentType")
    biz_alias: str | None = _alias("biz_alias", "bizAlias")

    def parsed(self) -> Any:
        """The value typed per component type (see :func:`parse_form_value`)."""
        return parse_form_value(self.component_type, self.value)


class RecordAttachment(DingTalkModel):
    """An attachment of an operation record (``file_name``/``fileName`` …; ``spaceId`` v1.0)."""

    file_name: str | None = _alias("file_name", "fileName")
    file_size: str | None = _alias("file_size", "fileSize")
    file_id: str | None = _alias("file_id", "fileId")
    file_type: str | None = _alias("file_type", "fileType")
    space_id: str | None = _alias("space_id", "spaceId")


class AttachmentDownload(DingTalkModel):
    """``result`` of ``POST /v1.0/workflow/processInstances/spaces/files/urls/download``:
    ``space_id`` (the approval drive space, a Number), ``file_id`` and ``download_uri`` — a
    signed link valid 15 minutes (keep it out of logs)."""

    space_id: int | None = _alias("spaceId", "space_id")
    file_id: str | None = _alias("fileId", "file_id")
    download_uri: str | None = _alias("downloadUri", "download_uri")


def attachment_files(component_type: str | None, parsed: Any) -> list[dict[str, Any]]:
    """The files of one ``DDAttachment`` form value (parsed by :func:`parse_form_value`): each
    ``{"file_id", "file_name", "file_size" (int | None), "file_type", "space_id"}`` (approvals.md
    §11: ``[{"spaceId", "fileName", "fileSize", "fileType", "fileId"}]``); an entry without a
    ``fileId`` is skipped; any other component → ``[]``."""
    if component_type != "DDAttachment" or not isinstance(parsed, list):
        return []
    out = []
    for f in parsed:
        if not isinstance(f, dict) or not f.get("fileId"):
            continue
        size = parse_number(str(f["fileSize"])) if f.get("fileSize") is not None else None
        out.append(
            {
                "file_id": str(f["fileId"]),
                "file_name": f.get("fileName"),
                "file_size": int(size) if isinstance(size, int | float) else None,
                "file_type": f.get("fileType"),
                "space_id": None if f.get("spaceId") in (None, "") else str(f["spaceId"]),
            }
        )
    return out


class OperationRecord(DingTalkModel):
    """``operation_records[]`` / ``operationRecords[]``: who did what when, with the remark.
    ``operation_type`` e.g. ``EXECUTE_TASK_NORMAL``; ``operation_result`` AGREE/REFUSE/NONE."""

    userid: str | None = _alias("userid", "userId")
    date: str | None = None
    operation_type: str | None = _alias("operation_type", "type")
    operation_result: str | None = _alias("operation_result", "result")
    remark: str | None = None
    attachments: LenientList[RecordAttachment] = Field(default_factory=list)
    images: LenientList[str] = Field(default_factory=list)
    activity_id: str | None = _alias("activity_id", "activityId")
    show_name: str | None = _alias("show_name", "showName")
    cc_userids: LenientList[str] = _list_alias("cc_userids", "ccUserIds")

    @property
    def date_at(self) -> datetime | None:
        return parse_approval_time(self.date)


class ApprovalTask(DingTalkModel):
    """``tasks[]``: ``taskid`` (String old, Number v1.0 — kept as text), ``task_status``
    NEW/RUNNING/PAUSED/CANCELED/COMPLETED/TERMINATED, ``task_result`` AGREE/REFUSE/REDIRECTED;
    ``url`` is the old ``url`` or the v1.0 ``pcUrl``."""

    taskid: str | None = _alias("taskid", "taskId")
    userid: str | None = _alias("userid", "userId")
    task_status: str | None = _alias("task_status", "status")
    task_result: str | None = _alias("task_result", "result")
    create_time: str | None = _alias("create_time", "createTime")
    finish_time: str | None = _alias("finish_time", "finishTime")
    activity_id: str | None = _alias("activity_id", "activityId")
    url: str | None = _alias("url", "pcUrl")
    mobile_url: str | None = _alias("mobile_url", "mobileUrl")
    task_group_name: str | None = _alias("task_group_name", "taskGroupName")

    @property
    def create_at(self) -> datetime | None:
        return parse_approval_time(self.create_time)

    @property
    def finish_at(self) -> datetime | None:
        return parse_approval_time(self.finish_time)


class ProcessInstance(DingTalkModel):
    """One approval instance from either host (``process_instance`` / ``result``).

    ``status``: old NEW/RUNNING/TERMINATED/COMPLETED/CANCELED, v1.0 RUNNING/TERMINATED/COMPLETED
    (EB-57; any string accepted). ``result`` agree/refuse, empty while running (EB-58).
    ``approver_userids`` may be absent (EB-59: derive approvers from ``tasks``).
    ``process_instance_id`` is not in the body: the client sets it; ``source`` says which host
    answered (``"v1.0"`` or ``"legacy"``); :meth:`payload` is the body as sent.
    """

    process_instance_id: str | None = _alias("process_instance_id", "processInstanceId")
    title: str | None = None
    business_id: str | None = _alias("business_id", "businessId")
    originator_userid: str | None = _alias("originator_userid", "originatorUserId")
    originator_dept_id: str | None = _alias("originator_dept_id", "originatorDeptId")
    originator_dept_name: str | None = _alias("originator_dept_name", "originatorDeptName")
    status: str | None = None
    result: str | None = None
    create_time: str | None = _alias("create_time", "createTime")
    finish_time: str | None = _alias("finish_time", "finishTime")
    approver_userids: LenientList[str] | None = _alias("approver_userids", "approverUserIds")
    cc_userids: LenientList[str] = _list_alias("cc_userids", "ccUserIds")
    form_component_values: LenientList[FormComponentValue] = _list_alias(
        "form_component_values", "formComponentValues"
    )
    operation_records: LenientList[OperationRecord] = _list_alias(
        "operation_records", "operationRecords"
    )
    tasks: LenientList[ApprovalTask] = Field(default_factory=list)
    biz_action: str | None = _alias("biz_action", "bizAction")
    biz_data: str | None = _alias("biz_data", "bizData")
    attached_process_instance_ids: LenientList[str] = _list_alias(
        "attached_process_instance_ids", "attachedProcessInstanceIds"
    )
    main_process_instance_id: str | None = _alias(
        "main_process_instance_id", "mainProcessInstanceId"
    )
    source: str | None = None

    _payload: dict[str, Any] = PrivateAttr(default_factory=dict)

    @classmethod
    def from_payload(
        cls, payload: dict[str, Any], process_instance_id: str, source: str
    ) -> ProcessInstance:
        """Validate ``payload`` (either host's shape) and remember it as sent."""
        model = cls.model_validate(
            {**payload, "process_instance_id": process_instance_id, "source": source}
        )
        model._payload = dict(payload)
        return model

    def payload(self) -> dict[str, Any]:
        """The instance body exactly as DingTalk sent it."""
        return dict(self._payload)

    @property
    def create_at(self) -> datetime | None:
        return parse_approval_time(self.create_time)

    @property
    def finish_at(self) -> datetime | None:
        return parse_approval_time(self.finish_time)

    @property
    def approvers(self) -> list[str]:
        """``approver_userids`` when sent, else the task owners in task order (EB-59)."""
        if self.approver_userids:
            return list(self.approver_userids)
        out: list[str] = []
        for task in self.tasks:
            if task.userid and task.userid not in out:
                out.append(task.userid)
        return out


# --------------------------------------------------------------------------------------------
# Form values
# --------------------------------------------------------------------------------------------
NUMBER_COMPONENTS = frozenset({"NumberField", "MoneyField"})
JSON_LIST_COMPONENTS = frozenset(
    {"DDMultiSelectField", "DDDateRangeField", "DDPhotoField", "AddressField"}
)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def parse_number(text: str | None) -> float | int | None:
    """``"1,234.50"`` → 1234.5, ``"3"`` → 3; anything else → ``None``."""
    if text is None:
        return None
    cleaned = str(text).replace(",", "").replace("¥", "").strip()
    if not cleaned:
        return None
    try:
        number = float(cleaned)
    except ValueError:
        return None
    return int(number) if number.is_integer() and "." not in cleaned else number


def parse_table(text: str) -> list[list[dict[str, Any]]] | None:
    """A detail table (明细) given as JSON text: ``[[{"name","value"},…],…]`` (one inner list
    per row), or ``[{"rowValue":[{"label","key","value"},…]},…]`` (``key`` is the column's
    component id, e.g. ``TextField-K2AD4O5W``). Each cell becomes ``{"name": label, "id":
    component id or None, "value"}`` (plus what else it had).

    A row that is not a list of cells (``{"rowValue": null}``) is skipped, and so is a cell that
    is not an object, so one bad row never loses the others; ``None`` only when the text is not
    a list at all (not a table)."""
    data = _json(text) if isinstance(text, str) else text
    if not isinstance(data, list):
        return None
    rows: list[list[dict[str, Any]]] = []
    for row in data:
        cells = row.get("rowValue") if isinstance(row, dict) else row
        if isinstance(cells, str):
            cells = _json(cells)
        if not isinstance(cells, list):
            continue
        out = []
        for cell in cells:
            if not isinstance(cell, dict):
                continue
            name = next((cell[k] for k in ("name", "label") if cell.get(k) is not None), None)
            ident = next((cell[k] for k in ("id", "key", "componentId") if cell.get(k)), None)
            out.append({**cell, "name": name, "id": ident, "value": cell.get("value")})
        rows.append(out)
    return rows


def parse_form_value(component_type: str | None, value: str | None) -> Any:
    """A form value typed per component type (approvals.md §11, EB-60), best-effort:

    - ``NumberField``/``MoneyField`` → number (``None`` when empty);
    - ``TableField`` → rows of ``{"name", "value"}`` cells (:func:`parse_table`);
    - ``DDAttachment`` → list of file dicts (``fileName`` …);
    - ``DDMultiSelectField``, ``DDDateRangeField``, ``DDPhotoField``, ``AddressField`` → list;
    - ``InnerContactField`` → userids; ``DepartmentField`` → department ids (strings);
    - everything else (text, select, date ``yyyy-MM-dd[ HH:mm]``) → the string.

    A value that does not parse as its type comes back as the raw string.
    """
    if value is None:
        return None
    kind = component_type or ""
    if kind in NUMBER_COMPONENTS:
        number = parse_number(value)
        return number if number is not None or not value.strip() else value
    if kind == "TableField":
        table = parse_table(value)
        return table if table is not None else value
    if kind in JSON_LIST_COMPONENTS or kind == "DDAttachment":
        if not value.strip():
            return []
        data = _json(value)
        return data if isinstance(data, list) else value
    if kind == "InnerContactField":
        data = _json(value) if value.strip().startswith("[") else None
        if isinstance(data, list):
            return [str(x) for x in data]
        return [p.strip() for p in value.split(",") if p.strip()]
    if kind == "DepartmentField":
        data = _json(value) if value.strip().startswith("[") else None
        if isinstance(data, list):
            return [str(x) for x in data]
        return [p.strip() for p in value.split(",") if p.strip()]
    return value
