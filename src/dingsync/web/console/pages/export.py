"""导出 from the console: ``POST /console/export/{kind}`` — the same audited export as
``POST /api/exports`` (:func:`dingsync.web.routers.exports.export_file`: the same writers, the
same export scope, an audit row with ``client=console``), from an HTML form.

The form carries the CSRF token, ``format`` (``xlsx``/``csv``) and the kind's filters as text
fields named as in the API (``GET /api/exports/kinds``); empty fields are "not given". Text is
converted to the filter's type here (integers, ``true``/``false``), then checked as strictly as
the API checks JSON. A refused export is the console's error page (422 ``request.invalid``: the
answer of a form's POST, not a page with filters) with the message in Chinese.
"""

from __future__ import annotations

import typing
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from dingsync.web.console import params
from dingsync.web.console.session import CSRF_FIELD, CsrfCaller
from dingsync.web.deps import Ctx
from dingsync.web.errors import WebError
from dingsync.web.export_kinds import KINDS
from dingsync.web.routers.exports import export_file

router = APIRouter(prefix="/console", include_in_schema=False)


def _accepts(annotation: Any, kind: type) -> bool:
    """Whether the filter field's type (possibly ``X | None``, ``Annotated[X, …]``) is
    ``kind``."""
    if annotation is kind:
        return True
    return any(_accepts(arg, kind) for arg in typing.get_args(annotation))


def form_filters(kind_name: str, form: dict[str, str]) -> dict[str, Any]:
    """The export filters of ``kind_name`` from form text: empty fields dropped, integers and
    booleans converted (``request.invalid`` when they are not), other fields as text; fields
    the kind does not take are ignored (they are the form's own: ``format``, the CSRF token)."""
    kind = KINDS.get(kind_name)
    if kind is None:
        raise WebError("export.kind_unknown", f"unknown export kind {kind_name!r}")
    out: dict[str, Any] = {}
    for name, info in kind.model.model_fields.items():
        raw = form.get(name)
        if raw is None or raw.strip() == "":
            continue
        raw = raw.strip()
        if _accepts(info.annotation, bool):
            if raw.lower() not in ("true", "false", "1", "0", "on", "off"):
                raise WebError("request.invalid", f"导出条件 {name} 应为 true 或 false：{raw[:32]}")
            out[name] = raw.lower() in ("true", "1", "on")
        elif _accepts(info.annotation, int):
            try:
                out[name] = int(raw)
            except ValueError as exc:
                raise WebError("request.invalid", f"导出条件 {name} 不是数字：{raw[:32]}") from exc
        else:
            out[name] = raw
    return out


@router.post("/export/{kind}", name="console_export")
async def console_export(
    kind: str, request: Request, ctx: Ctx, session: CsrfCaller
) -> FileResponse:
    """Export ``kind`` with the form's filters as a file download (audited, ``client=console``).
    Errors are HTML pages with the API's codes (``export.forbidden``, ``request.invalid`` …)."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    fmt = form.get("format", "xlsx")
    if fmt not in ("xlsx", "csv"):
        raise WebError("request.invalid", f"导出格式应为 xlsx 或 csv：{fmt[:16]}")
    try:
        filters = form_filters(kind, form)
        form.pop(CSRF_FIELD, None)
        return export_file(ctx, session.caller, kind, filters, fmt, client="console")  # type: ignore[arg-type]
    except WebError as exc:
        if exc.code != "request.invalid":
            raise
        # The API's English refusal in the console's words (the error page shows it).
        raise WebError(exc.code, params.zh(exc)) from exc
