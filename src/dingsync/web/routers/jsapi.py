"""``/api/jsapi/config``: the ``dd.config`` signature for a page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from dingsync.web.deps import Ctx, CurrentCaller
from dingsync.web.errors import COMMON_ERRORS, responses
from dingsync.web.login import jsapi_config
from dingsync.web.models import TYPED, JsapiConfig

router = APIRouter(prefix="/api/jsapi", tags=["jsapi"], responses=responses(*COMMON_ERRORS))


@router.get(
    "/config",
    summary="dd.config values for a page URL",
    responses=responses(
        "session.missing", "session.invalid", "jsapi.url_invalid", "jsapi.unavailable"
    ),
    response_model=JsapiConfig,
    **TYPED,
)
async def config(
    ctx: Ctx,
    caller: CurrentCaller,
    url: Annotated[str, Query(max_length=4096, description="the page URL as the browser shows it")],
) -> dict[str, Any]:
    """``agentId``, ``corpId``, ``timeStamp`` (epoch ms, a String), ``nonceStr``, ``signature``
    (SHA-256 by default, SHA-1 by setting) over the URL with its ``#fragment`` dropped and its
    query decoded; the ticket is cached per app."""
    return await jsapi_config(ctx, url)
